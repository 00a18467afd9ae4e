// The admin socket's service (commands/admin_service.h) in front of the
// control plane's ContractAdmin: admin commands reach ContractAdmin through
// it, each plane refuses the other's commands with a clear error, RELOAD's
// reply, and the text of ContractAdmin's typed errors.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "commands/admin_service.h"
#include "commands/data_service.h"
#include "control/contract_admin.h"
#include "engine/engine.h"
#include "unit/commands/service_harness.h"
#include "unit/engine/limit_specs.h"

namespace tollgate {
namespace {

constexpr Nanos kStart = testing::kTestStart;

EngineOptions prepaid_acme() {
  EngineOptions o;
  PolicySpec acme;
  acme.name = "acme";
  acme.limits = {testing::quota("daily", 1000)};
  ContractRules rules;
  rules.pricing = PriceLadder::flat(100);
  acme.rules = rules;
  o.contracts.push_back(acme);
  return o;
}

// Contract "acme" (prepaid at 100 per call, 1000 calls a day), a data
// service and an admin service over one engine, as the daemon wires them.
struct Planes : testing::EngineHarness {
  explicit Planes(AdminService::Reload reload = {}) : EngineHarness(prepaid_acme(), kStart) {
    contracts = std::make_unique<ContractAdmin>([this]() -> Engine& { return *engine; }, state);
    data = std::make_unique<DataService>(*engine, clock, reclaimer, 1, ServiceInfo{});
    admin = std::make_unique<AdminService>(*engine, clock, reclaimer, *contracts, std::move(reload), ServiceInfo{});
    admin_session.admin = true;
  }
  std::string on_admin(std::vector<std::string_view> args) {
    return testing::run_command(*admin, admin_session, std::move(args));
  }
  std::string on_data(std::vector<std::string_view> args) {
    return testing::run_command(*data, data_session, std::move(args));
  }
  int64_t balance() { return state.find("acme")->account()->balance(); }

  std::unique_ptr<ContractAdmin> contracts;
  std::unique_ptr<DataService> data;
  std::unique_ptr<AdminService> admin;
  Session data_session;
  Session admin_session;
};

// Verifies RECHARGE and SUSPEND on the admin service reach ContractAdmin:
// the lot is added (reply [credits, unit_price, balance]) and the status
// changes, and both appear in the ledger and events.
TEST(AdminService, AdminCommandsReachContractAdmin) {
  Planes p;
  EXPECT_EQ(p.on_admin({"RECHARGE", "acme", "5000", "pay-1"}), "*3\r\n:50\r\n:100\r\n:5000\r\n");
  EXPECT_EQ(p.balance(), 5000);
  EXPECT_EQ(p.on_admin({"SUSPEND", "acme", "unpaid", "invoice"}), "+OK\r\n");
  EXPECT_EQ(p.state.find("acme")->status(), ContractStatus::kSuspended);
  EXPECT_EQ(p.state.find("acme")->reason(), "unpaid invoice");
  EXPECT_EQ(p.state.ledger().entries("acme").size(), 2u);
  // The data plane sees the admin's change at once.
  EXPECT_NE(p.on_data({"CHECK", "acme"}).find("+SUSPENDED\r\n"), std::string::npos);
}

// Verifies a data command on the admin service is refused with a pointer to
// the data socket, counted as a client error, and charges nothing.
TEST(AdminService, DataCommandOnTheAdminSocketIsRefused) {
  Planes p;
  ASSERT_TRUE(p.contracts->recharge("acme", "1000", "pay-1", 0, kStart).has_value());
  for (std::string_view name : {"CHECK", "PEEK"})
    EXPECT_EQ(p.on_admin({name, "acme"}),
              "-ERR '" + std::string(name) + "' is a data command; send it to the data socket\r\n");
  EXPECT_EQ(p.on_admin({"SETTLE", "acme", "id", "COMMIT"}),
            "-ERR 'SETTLE' is a data command; send it to the data socket\r\n");
  EXPECT_EQ(p.admin->total(&WorkerMetrics::client_errors), 3u);
  EXPECT_EQ(p.balance(), 1000);
  EXPECT_EQ(p.admin->total(&WorkerMetrics::checks), 0u);
  // Commands of both planes still answer there.
  EXPECT_EQ(p.on_admin({"PING"}), "+PONG\r\n");
}

// Verifies an admin command on the data service is refused with a pointer
// to the admin socket and changes nothing.
TEST(AdminService, AdminCommandOnTheDataSocketIsRefused) {
  Planes p;
  EXPECT_EQ(p.on_data({"RECHARGE", "acme", "5000", "pay-1"}),
            "-ERR 'RECHARGE' is an admin command; send it to the admin socket\r\n");
  EXPECT_EQ(p.on_data({"TERMINATE", "acme"}), "-ERR 'TERMINATE' is an admin command; send it to the admin socket\r\n");
  EXPECT_EQ(p.on_data({"RELOAD"}), "-ERR 'RELOAD' is an admin command; send it to the admin socket\r\n");
  EXPECT_EQ(p.balance(), 0);
  EXPECT_EQ(p.state.find("acme")->status(), ContractStatus::kActive);
  EXPECT_EQ(p.data->total(&WorkerMetrics::client_errors), 3u);
}

// Verifies ContractAdmin's refusals reach the client as the documented text.
TEST(AdminService, RefusalsAnswerTheirText) {
  Planes p;
  EXPECT_EQ(p.on_admin({"RECHARGE", "nobody", "5000", "pay-1"}), "-ERR no such contract 'nobody'\r\n");
  EXPECT_EQ(p.on_admin({"RECHARGE", "acme", "-5", "pay-1"}),
            "-ERR amount must be a positive integer number of minor units (e.g. 15000000 for 150,000.00)\r\n");
  EXPECT_EQ(p.on_admin({"RECHARGE", "acme", "5000", "pay 1"}),
            "-ERR payment id must be printable ASCII without spaces\r\n");
  ASSERT_EQ(p.on_admin({"RECHARGE", "acme", "5000", "pay-1"}), "*3\r\n:50\r\n:100\r\n:5000\r\n");
  EXPECT_EQ(p.on_admin({"RECHARGE", "acme", "6000", "pay-1"}), "-ERR payment id pay-1 was used with amount 5000\r\n");
  EXPECT_EQ(p.on_admin({"RESET", "acme", "hourly"}), "-ERR key 'acme' has no counter limit 'hourly'\r\n");
  EXPECT_EQ(p.on_admin({"SNAPSHOT"}), "-ERR storage.mode is memory: there is nothing to snapshot\r\n");
  EXPECT_EQ(p.on_admin({"TERMINATE", "acme"}), "+OK\r\n");
  EXPECT_EQ(p.on_admin({"RESUME", "acme"}),
            "-ERR contract 'acme' is terminated; resume is not possible (terminate is final)\r\n");
  EXPECT_EQ(p.balance(), 5000);
}

// Verifies the text of each AdminError code that carries names or values.
TEST(AdminService, AdminErrorText) {
  using Code = AdminError::Code;
  EXPECT_EQ(admin_error_text({Code::kNoSuchContract, std::string(200, 'k'), ""}),
            "ERR no such contract '" + std::string(128, 'k') + "'");
  EXPECT_EQ(admin_error_text({Code::kPaymentIdOtherContract, "pay-9", "beta"}),
            "ERR payment id pay-9 was used for contract beta");
  EXPECT_EQ(admin_error_text({Code::kBadPaymentIdLength, "acme", ""}), "ERR payment id must be 1 to 128 bytes");
  EXPECT_EQ(admin_error_text({Code::kNotDurable, "acme", "disk full"}),
            "ERR cannot make the change durable, nothing was changed: disk full");
  EXPECT_EQ(admin_error_text({Code::kSnapshotFailed, "", "EIO"}), "ERR snapshot failed: EIO");
  EXPECT_EQ(admin_error_text({Code::kRechargeRefused, "acme", "too many lots"}), "ERR too many lots");
  EXPECT_EQ(admin_error_text({Code::kNoSuchKey, "ip:1", ""}), "ERR no such key 'ip:1'");
}

// Verifies RELOAD on the admin service: a rejected reload lists every
// problem in one error, an accepted one answers what changed then what needs
// a restart, and without a reloader RELOAD says it is not available.
TEST(AdminService, ReloadReply) {
  ReloadResult next;
  Planes p([&next] { return next; });
  next.errors = {"tollgate.yaml:3: bad limit", "tollgate.yaml:9: unknown key"};
  EXPECT_EQ(p.on_admin({"RELOAD"}),
            "-ERR config rejected, the running config is unchanged: tollgate.yaml:3: bad limit; "
            "tollgate.yaml:9: unknown key;\r\n");
  next = ReloadResult{};
  next.ok = true;
  next.changes = {"contract acme: limit daily changed"};
  next.warnings = {"server.threads changed: takes effect after a restart"};
  EXPECT_EQ(p.on_admin({"RELOAD"}),
            "*2\r\n$34\r\ncontract acme: limit daily changed\r\n"
            "$52\r\nserver.threads changed: takes effect after a restart\r\n");

  Planes without;
  EXPECT_EQ(without.on_admin({"RELOAD"}), "-ERR RELOAD is not available on this socket\r\n");
}

// Verifies the admin service never expires holds (the data workers own
// them), while the data service asks to when a hold is open.
TEST(AdminService, OnlyTheDataServiceServesHolds) {
  Planes p;
  ASSERT_TRUE(p.contracts->recharge("acme", "1000", "pay-1", 0, kStart).has_value());
  ASSERT_NE(p.on_data({"CHECK", "acme", "ID", "h1", "HOLD", "1000"}).find(":1\r\n+OK"), std::string::npos);
  EXPECT_LE(p.data->next_deadline(0), kStart + 1000 * kNanosPerMilli);
  EXPECT_EQ(p.admin->next_deadline(0), INT64_MAX);
  EXPECT_EQ(p.admin->plane(), kOnAdmin);
  EXPECT_EQ(p.data->plane(), kOnData);
}

}  // namespace
}  // namespace tollgate
