#include <gtest/gtest.h>

#include <filesystem>

// Verifies the daemon binary the integration tests start was built.
TEST(IntegrationSmoke, DaemonBinaryExists) { EXPECT_TRUE(std::filesystem::exists(TOLLGATED_PATH)); }
