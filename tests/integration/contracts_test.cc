// End-to-end tests of contracts and prepaid money against a real tollgated:
// scope, status, expiry, recharge, balance, ledger, ID, HOLD/SETTLE, admin socket, CLI.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>

#include "integration/daemon_harness.h"

namespace tollgate::testing {
namespace {

const std::string kConfig = R"(
timezone: Asia/Shanghai
pricing:
  standard:
    - { prepay_from: 15000000, unit_price: 80 }
    - { prepay_from: 10000000, unit_price: 90 }
    - { prepay_from: 0,        unit_price: 100 }
contracts:
  acme:
    channels: [pc, wireless]
    purposes: [credit-score]
    pricing: standard
    limits:
      - { name: inflight, type: concurrency, limit: 2 }
      - { name: daily, type: quota, limit: 1000000, period: day }
  metered:
    pricing: standard
  held:
    pricing: standard
    hold_timeout: commit
  expired:
    expires: 2020-01-01T00:00:00+08:00
  future:
    starts: 2099-01-01T00:00:00Z
  frozen:
    status: suspended
  free:
    limits:
      - { name: q, type: quota, limit: 5, period: day }
)";

struct Check {
  long long allowed;
  std::string code;
  std::string limit;
  long long remaining, retry, reset, balance;
};

Check check(redisContext* c, std::vector<std::string> args) {
  args.insert(args.begin(), "CHECK");
  Reply r = command(c, args);
  EXPECT_TRUE(r && r->type == REDIS_REPLY_ARRAY && r->elements == 7) << (r && r->type == REDIS_REPLY_ERROR ? r->str : "");
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 7) return {};
  return {r->element[0]->integer,
          r->element[1]->str,
          std::string(r->element[2]->str, r->element[2]->len),
          r->element[3]->integer,
          r->element[4]->integer,
          r->element[5]->integer,
          r->element[6]->integer};
}

std::map<std::string, std::string> fields(const Reply& r) {
  std::map<std::string, std::string> out;
  EXPECT_EQ(r->type, REDIS_REPLY_ARRAY) << (r->type == REDIS_REPLY_ERROR ? r->str : "");
  for (size_t i = 0; i + 1 < r->elements; i += 2) out[r->element[i]->str] = r->element[i + 1]->str;
  return out;
}

std::vector<long long> ints(const Reply& r) {
  std::vector<long long> v;
  EXPECT_EQ(r->type, REDIS_REPLY_ARRAY) << (r->type == REDIS_REPLY_ERROR ? r->str : "");
  for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; ++i) v.push_back(r->element[i]->integer);
  return v;
}

// Σ ledger amounts of a contract (recharges minus net debits).
long long ledger_sum(redisContext* admin, const std::string& key) {
  Reply r = command(admin, {"LEDGER", key});
  long long sum = 0;
  for (size_t i = 0; i < r->elements; ++i) {
    const redisReply* e = r->element[i];
    for (size_t j = 0; j + 1 < e->elements; j += 2)
      if (std::string(e->element[j]->str) == "amount") sum += std::stoll(e->element[j + 1]->str);
  }
  return sum;
}

class ContractsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = std::make_unique<Daemon>(kConfig);
    ASSERT_TRUE(daemon_->wait_ready()) << daemon_->log();
    data_ = daemon_->connect();
    admin_ = daemon_->connect_admin();
    ASSERT_TRUE(admin_ && !admin_->err);
  }
  std::unique_ptr<Daemon> daemon_;
  Client data_, admin_;
};

// Verifies the seed price-ladder cases: 150,000.00 → 187,500 calls at 0.80; 100,000.00 → 111,111 at 0.90, 0.10 left.
TEST_F(ContractsTest, RechargeSeedCases) {
  EXPECT_EQ(ints(command(admin_.get(), {"RECHARGE", "metered", "15000000", "pay-150k"})),
            (std::vector<long long>{187500, 80, 15000000}));
  EXPECT_EQ(ints(command(admin_.get(), {"RECHARGE", "held", "10000000", "pay-100k"})),
            (std::vector<long long>{111111, 90, 10000000}));
  auto f = fields(command(admin_.get(), {"CONTRACT", "held"}));
  EXPECT_EQ(f["credits"], "111111");
  EXPECT_EQ(f["wallet"], "10");
  EXPECT_EQ(f["balance"], "10000000");
}

// Verifies recharge idempotency: same id replays the first reply; same id with another amount or contract is an error.
TEST_F(ContractsTest, RechargeIdempotent) {
  auto first = ints(command(admin_.get(), {"RECHARGE", "metered", "1000", "p-1"}));
  EXPECT_EQ(first, (std::vector<long long>{10, 100, 1000}));
  EXPECT_EQ(ints(command(admin_.get(), {"RECHARGE", "metered", "1000", "p-1"})), first);
  EXPECT_EQ(command(admin_.get(), {"RECHARGE", "metered", "2000", "p-1"})->type, REDIS_REPLY_ERROR);
  EXPECT_EQ(command(admin_.get(), {"RECHARGE", "held", "1000", "p-1"})->type, REDIS_REPLY_ERROR);
  EXPECT_EQ(fields(command(admin_.get(), {"CONTRACT", "metered"}))["balance"], "1000");
}

// Verifies bad admin input gets clear errors: negative/overflow amounts, unknown contracts, bad ids.
TEST_F(ContractsTest, BadAdminInput) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"RECHARGE", "metered", "-5", "p"},
           {"RECHARGE", "metered", "99999999999999999999999", "p"},
           {"RECHARGE", "metered", "12.5", "p"},
           {"RECHARGE", "nobody", "100", "p"},
           {"RECHARGE", "free", "100", "p"},  // no pricing
           {"RECHARGE", "metered", "100", std::string(500, 'x')},
           {"CONTRACT", "nobody"},
           {"LEDGER", "metered", "abc"},
           {"RESET", "acme", "nolimit"}}) {
    Reply r = command(admin_.get(), args);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->type, REDIS_REPLY_ERROR) << args[0] << " " << args[1];
  }
  EXPECT_EQ(command(admin_.get(), {"PING"})->type, REDIS_REPLY_STATUS);
}

// Verifies admin commands are refused on the data socket and data commands on the admin socket.
TEST_F(ContractsTest, SocketsSeparateCommands) {
  Reply r = command(data_.get(), {"RECHARGE", "metered", "100", "p"});
  ASSERT_EQ(r->type, REDIS_REPLY_ERROR);
  EXPECT_NE(std::string(r->str).find("admin socket"), std::string::npos);
  r = command(admin_.get(), {"CHECK", "metered"});
  ASSERT_EQ(r->type, REDIS_REPLY_ERROR);
  EXPECT_NE(std::string(r->str).find("data socket"), std::string::npos);
}

// Verifies channel and purpose scope, including a call that names none.
TEST_F(ContractsTest, Scope) {
  command(admin_.get(), {"RECHARGE", "acme", "100000", "p-acme"});
  EXPECT_EQ(check(data_.get(), {"acme", "CHANNEL", "pc", "PURPOSE", "credit-score"}).code, "OK");
  Check c = check(data_.get(), {"acme", "CHANNEL", "fax", "PURPOSE", "credit-score"});
  EXPECT_EQ(c.code, "CHANNEL");
  EXPECT_EQ(c.retry, -1);
  EXPECT_EQ(check(data_.get(), {"acme", "PURPOSE", "credit-score"}).code, "CHANNEL");
  EXPECT_EQ(check(data_.get(), {"acme", "CHANNEL", "pc", "PURPOSE", "marketing"}).code, "PURPOSE");
  EXPECT_EQ(check(data_.get(), {"acme", "CHANNEL", "pc"}).code, "PURPOSE");
}

// Verifies expiry, start and configured suspension, with their retry_after values.
TEST_F(ContractsTest, StatusAndTime) {
  Check c = check(data_.get(), {"expired"});
  EXPECT_EQ(c.code, "EXPIRED");
  EXPECT_EQ(c.retry, -1);
  c = check(data_.get(), {"future"});
  EXPECT_EQ(c.code, "NOT_STARTED");
  EXPECT_GT(c.retry, 1000LL * 3600 * 24 * 365);
  EXPECT_EQ(check(data_.get(), {"frozen"}).code, "SUSPENDED");
}

// Verifies SUSPEND/RESUME/TERMINATE from the admin socket, TERMINATE being final, and the ledger recording them.
TEST_F(ContractsTest, AdminStatusChanges) {
  EXPECT_EQ(check(data_.get(), {"free"}).code, "OK");
  EXPECT_STREQ(command(admin_.get(), {"SUSPEND", "free", "unpaid", "invoice"})->str, "OK");
  EXPECT_EQ(check(data_.get(), {"free"}).code, "SUSPENDED");
  auto f = fields(command(admin_.get(), {"CONTRACT", "free"}));
  EXPECT_EQ(f["status"], "suspended");
  EXPECT_EQ(f["status_reason"], "unpaid invoice");
  EXPECT_STREQ(command(admin_.get(), {"RESUME", "free"})->str, "OK");
  EXPECT_EQ(check(data_.get(), {"free"}).code, "OK");
  EXPECT_STREQ(command(admin_.get(), {"RESUME", "frozen"})->str, "OK");  // overrides the config status
  EXPECT_EQ(check(data_.get(), {"frozen"}).code, "OK");
  EXPECT_STREQ(command(admin_.get(), {"TERMINATE", "free"})->str, "OK");
  EXPECT_EQ(check(data_.get(), {"free"}).code, "TERMINATED");
  EXPECT_EQ(command(admin_.get(), {"RESUME", "free"})->type, REDIS_REPLY_ERROR);
  Reply ledger = command(admin_.get(), {"LEDGER", "free"});
  EXPECT_EQ(ledger->elements, 3u);  // suspend, resume, terminate: admin entries with amount 0
  Reply events = command(admin_.get(), {"EVENTS"});
  EXPECT_GE(events->elements, 4u);
}

// Verifies debits: the balance field falls by the unit price, a call spans two lots, and no credits means BALANCE.
TEST_F(ContractsTest, BalanceAndLots) {
  EXPECT_EQ(check(data_.get(), {"metered"}).code, "BALANCE");
  command(admin_.get(), {"RECHARGE", "metered", "250", "lot-a"});  // 2 credits at 100, wallet 50
  command(admin_.get(), {"RECHARGE", "metered", "150", "lot-b"});  // (150+50)/100 = 2 credits, wallet 0
  Check c = check(data_.get(), {"metered"});
  EXPECT_EQ(c.code, "OK");
  EXPECT_EQ(c.balance, 300);
  c = check(data_.get(), {"metered", "COST", "2"});  // one credit from each lot
  EXPECT_EQ(c.balance, 100);
  c = check(data_.get(), {"metered", "COST", "2"});
  EXPECT_EQ(c.code, "BALANCE");
  EXPECT_EQ(c.retry, -1);
  EXPECT_EQ(c.balance, 100);
  EXPECT_EQ(check(data_.get(), {"metered"}).balance, 0);
  EXPECT_EQ(ledger_sum(admin_.get(), "metered"), 0);
  EXPECT_EQ(check(data_.get(), {"free"}).balance, -1);  // no pricing: not charged
}

// Verifies CHECK ... ID: a retry returns the first allowed reply and charges once; denied calls are not remembered.
TEST_F(ContractsTest, IdempotentCheck) {
  command(admin_.get(), {"RECHARGE", "metered", "300", "p-id"});
  Check first = check(data_.get(), {"metered", "ID", "req-1"});
  Check again = check(data_.get(), {"metered", "ID", "req-1"});
  EXPECT_EQ(first.balance, 200);
  EXPECT_EQ(again.balance, 200);
  EXPECT_EQ(again.code, "OK");
  EXPECT_EQ(fields(command(admin_.get(), {"CONTRACT", "metered"}))["credits"], "2");
  check(data_.get(), {"metered", "COST", "2"});
  EXPECT_EQ(check(data_.get(), {"metered", "ID", "req-2"}).code, "BALANCE");
  command(admin_.get(), {"RECHARGE", "metered", "100", "p-id2"});
  EXPECT_EQ(check(data_.get(), {"metered", "ID", "req-2"}).code, "OK");  // decided afresh
}

// Verifies HOLD/SETTLE with concurrency: slots, CONCURRENCY without HOLD, COMMIT keeps and CANCEL refunds.
TEST_F(ContractsTest, HoldsAndConcurrency) {
  command(admin_.get(), {"RECHARGE", "acme", "1000", "p-h"});  // 10 credits at 100
  auto call = [&](std::vector<std::string> extra) {
    std::vector<std::string> a{"acme", "CHANNEL", "pc", "PURPOSE", "credit-score"};
    a.insert(a.end(), extra.begin(), extra.end());
    return check(data_.get(), a);
  };
  EXPECT_EQ(call({"ID", "h1", "HOLD", "60000"}).code, "OK");
  EXPECT_EQ(call({"ID", "h2", "HOLD", "60000"}).balance, 800);
  Check full = call({"ID", "h3", "HOLD", "60000"});
  EXPECT_EQ(full.code, "CONCURRENCY");
  EXPECT_EQ(full.limit, "inflight");
  EXPECT_EQ(call({}).code, "CONCURRENCY");  // no HOLD: denied, occupies nothing
  EXPECT_EQ(command(data_.get(), {"SETTLE", "acme", "h1", "COMMIT"})->integer, 1);
  EXPECT_EQ(command(data_.get(), {"SETTLE", "acme", "h2", "CANCEL"})->integer, 1);
  EXPECT_EQ(command(data_.get(), {"SETTLE", "acme", "h2", "CANCEL"})->integer, 0);
  EXPECT_EQ(command(data_.get(), {"SETTLE", "acme", "nope", "COMMIT"})->integer, 0);
  EXPECT_EQ(command(data_.get(), {"SETTLE", "acme", "h1", "MAYBE"})->type, REDIS_REPLY_ERROR);
  auto f = fields(command(admin_.get(), {"CONTRACT", "acme"}));
  EXPECT_EQ(f["open_holds"], "0");
  EXPECT_EQ(f["credits"], "9");  // h1 committed, h2 given back
  EXPECT_EQ(f["limit.daily.remaining"], "999999");
  EXPECT_EQ(ledger_sum(admin_.get(), "acme"), 900);
}

// Verifies an expired hold is settled by the contract's hold_timeout (commit here) on the daemon's timer.
TEST_F(ContractsTest, HoldExpiresByPolicy) {
  command(admin_.get(), {"RECHARGE", "held", "500", "p-exp"});
  EXPECT_EQ(check(data_.get(), {"held", "ID", "x", "HOLD", "1"}).code, "OK");
  // The hold's timer is real time in a real daemon: poll, bounded.
  std::string open = "1";
  for (int i = 0; i < 500 && open != "0"; ++i) {
    open = fields(command(admin_.get(), {"CONTRACT", "held"}))["open_holds"];
    if (open != "0") std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(open, "0");
  EXPECT_EQ(fields(command(admin_.get(), {"CONTRACT", "held"}))["credits"], "4");  // committed
}

// Verifies all workers and many connections debiting one contract of exactly N credits admit exactly N,
// with HOLD/CANCEL interleaved, leaving balance 0 and the ledger consistent.
TEST_F(ContractsTest, ConcurrentDebitsExact) {
  ASSERT_EQ(ints(command(admin_.get(), {"RECHARGE", "metered", "50000", "p-n"}))[0], 500);
  std::atomic<int> allowed{0}, held{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      Client c = daemon_->connect();
      for (int i = 0; i < 100; ++i) {
        std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        if (i % 4 == 0) {
          Check h = check(c.get(), {"metered", "ID", id, "HOLD", "60000"});
          if (h.allowed) {
            ++held;
            command(c.get(), {"SETTLE", "metered", id, "CANCEL"});
          }
        }
        if (check(c.get(), {"metered"}).allowed) ++allowed;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(allowed.load(), 500);
  EXPECT_GT(held.load(), 0);
  auto f = fields(command(admin_.get(), {"CONTRACT", "metered"}));
  EXPECT_EQ(f["balance"], "0");
  EXPECT_EQ(f["credits"], "0");
  EXPECT_EQ(ledger_sum(admin_.get(), "metered"), 0);
}

// Verifies peers not in admin.allow_uids are refused on the admin socket with
// a clear error (admit_owner: false, so that the test's own uid is such a peer).
TEST(AdminSocket, RefusesOtherUids) {
  Daemon d("admin:\n  allow_uids: [54321]\n  admit_owner: false\ncontracts:\n  c: {}\n");
  ASSERT_TRUE(d.wait_ready()) << d.log();
  Client c = d.connect_admin();
  ASSERT_TRUE(c);
  Reply r = command(c.get(), {"PING"});
  ASSERT_TRUE(r == nullptr || r->type == REDIS_REPLY_ERROR);
  if (r) {
    EXPECT_NE(std::string(r->str).find("permission denied"), std::string::npos);
  }
  Client ok = d.connect();
  EXPECT_STREQ(command(ok.get(), {"PING"})->str, "PONG");
  Reply info = command(ok.get(), {"INFO", "clients"});
  EXPECT_NE(std::string(info->str).find("rejected_connections_peer:1"), std::string::npos) << info->str;
}

// Verifies the tollgate CLI end to end: recharge with a decimal amount, contract, check, JSON, and daemon-down errors.
TEST_F(ContractsTest, Cli) {
  auto cli = [&](std::vector<std::string> args, std::string& out) {
    args.insert(args.begin(), {TOLLGATE_CLI_PATH, "--socket", daemon_->socket(), "--admin-socket", daemon_->admin_socket()});
    return Daemon::run_tool(args, out);
  };
  std::string out;
  EXPECT_EQ(cli({"recharge", "metered", "150000.00", "--payment-id", "cli-1"}, out), 0) << out;
  EXPECT_NE(out.find("187,500"), std::string::npos) << out;
  EXPECT_EQ(cli({"check", "metered"}, out), 0) << out;
  EXPECT_NE(out.find("ALLOWED"), std::string::npos) << out;
  EXPECT_EQ(cli({"--json", "contract", "metered"}, out), 0) << out;
  EXPECT_NE(out.find("\"credits\""), std::string::npos) << out;
  EXPECT_EQ(cli({"check", "frozen"}, out), 1) << out;  // denied
  EXPECT_EQ(cli({"suspend", "nobody"}, out), 2) << out;
  std::string down;
  EXPECT_EQ(Daemon::run_tool({TOLLGATE_CLI_PATH, "--admin-socket", daemon_->dir().file("none.sock"), "ping"}, down), 2);
  EXPECT_NE(down.find("not running"), std::string::npos) << down;
}

// Verifies `tollgate check --cost -1` (and other out-of-range costs) fails
// with one short line stating COST's real bounds, without contacting a daemon.
TEST(CliArguments, CostOutOfRangeIsAClearError) {
  for (const char* bad : {"-1", "1000000000001", "1.5"}) {
    std::string out;
    EXPECT_EQ(Daemon::run_tool({TOLLGATE_CLI_PATH, "--socket", "/nonexistent.sock", "check", "k", "--cost", bad}, out), 2)
        << out;
    EXPECT_NE(out.find("--cost: must be a whole number from 0 to 1000000000000"), std::string::npos) << out;
    EXPECT_LT(out.size(), 300u) << out;
  }
}

}  // namespace
}  // namespace tollgate::testing
