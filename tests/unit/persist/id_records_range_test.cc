// Remembered CHECK ... ID replies read back from the journal or a snapshot
// (found by tests/fuzz/store_recovery_fuzz.cc).
#include <gtest/gtest.h>

#include <vector>

#include "persist/state_codec.h"

namespace tollgate::persist {
namespace {

// Verifies a remembered reply no CHECK could have given is refused by the
// decoder. Before, it was restored as it was and replayed to the client:
// after recovering a record with reset_after_ms -4687209273116065792, a
// retried CHECK ... ID answered that value (the fuzzer's property: every
// decision has reset_after_ms >= 0).
TEST(IdRecordsRange, RefusesRepliesNoCheckCouldGive) {
  std::vector<DedupTable::Record> records(1);
  records[0] = {42, 1'000, {5, -4'687'209'273'116'065'792, 9'700, 2}};
  EXPECT_FALSE(decode_id_records(encode_id_records(records)).has_value());
  records[0] = {42, 1'000, {5, 60'000, 9'700, -2}};
  EXPECT_FALSE(decode_id_records(encode_id_records(records)).has_value());
  records[0] = {42, 1'000, {5, 0, -1, -1}};
  EXPECT_TRUE(decode_id_records(encode_id_records(records)).has_value());
}

}  // namespace
}  // namespace tollgate::persist
