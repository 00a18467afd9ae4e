// The Envoy Rate Limit Service end to end: a real tollgated with
// server.grpc, asked by a C++ gRPC client (the generated stubs Envoy's own
// client speaks to): descriptor mapping, hits_addend, several descriptors
// all or nothing, unknown domain, missing entries, malformed requests,
// deadlines, health, reload, INFO, shutdown.
#include <gtest/gtest.h>
#include <grpcpp/generic/generic_stub.h>

#include <atomic>
#include <csignal>
#include <thread>

#include "grpc/rls_client.h"
#include "config/config_loader.h"
#include "replay/replay.h"

namespace tollgate::testing {
namespace {

constexpr const char* kConfig = R"(
contracts:
  acme:
    channels: [web]
    limits:
      - {name: per_minute, type: sliding_window, limit: 10, window: 1m}
  tiny:
    limits:
      - {name: per_minute, type: sliding_window, limit: 2, window: 1m}
  daily:
    limits:
      - {name: per_day, type: quota, limit: 1000, period: day}
  closed:
    status: suspended
    limits:
      - {name: per_day, type: quota, limit: 1000, period: day}
envoy:
  unknown_domain: ok
  domains:
    - domain: api
      key: contract
      channel: channel
      purpose: purpose
      subject: user
      unmatched: ok
    - domain: strict
      key: contract
      unmatched: over_limit
)";

class RlsServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = std::make_unique<Daemon>(kConfig, grpc_server_extra());
    ASSERT_TRUE(daemon_->wait_ready()) << daemon_->log();
    ASSERT_NE(info_envoy(*daemon_, "grpc_port"), "") << daemon_->log();
    channel_ = grpc_channel(*daemon_);
    stub_ = rls::RateLimitService::NewStub(channel_);
  }
  // Units `key` has left now (PEEK reports what would be left after one more).
  int64_t left(const std::string& key, const std::string& channel = "web") {
    Client c = daemon_->connect();
    Reply r = command(c.get(), {"PEEK", key, "CHANNEL", channel});
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 4) return -100;
    if (r->element[0]->integer == 0) return 0;  // not even one left
    return r->element[3]->integer + 1;
  }
  rls::RateLimitResponse ask(const std::string& domain, const std::vector<Descriptor>& ds, uint32_t hits = 0,
                             grpc::Status* status = nullptr) {
    return should_rate_limit(*stub_, rls_request(domain, ds, hits), status);
  }

  std::unique_ptr<Daemon> daemon_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<rls::RateLimitService::Stub> stub_;
};

// Verifies the named descriptor entries reach the engine: key and CHANNEL decide, and the status carries the limit.
TEST_F(RlsServiceTest, DescriptorMapping) {
  grpc::Status status;
  auto r = ask("api", {{{"contract", "acme"}, {"channel", "web"}, {"path", "/v1/x"}}}, 0, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(r.overall_code(), rls::RateLimitResponse::OK);
  ASSERT_EQ(r.statuses_size(), 1);
  EXPECT_EQ(r.statuses(0).code(), rls::RateLimitResponse::OK);
  EXPECT_EQ(r.statuses(0).limit_remaining(), 9u);
  EXPECT_EQ(r.statuses(0).current_limit().requests_per_unit(), 10u);
  EXPECT_EQ(r.statuses(0).current_limit().unit(), rls::RateLimitResponse::RateLimit::MINUTE);
  EXPECT_EQ(r.statuses(0).current_limit().name(), "per_minute");
  EXPECT_TRUE(r.statuses(0).has_duration_until_reset());
  EXPECT_EQ(header(r, "tollgate-code"), "OK");
  EXPECT_NE(header(r, "ratelimit-policy"), "(absent)");
  EXPECT_EQ(left("acme"), 9);

  // The channel entry is CHANNEL: acme is web-only.
  r = ask("api", {{{"contract", "acme"}, {"channel", "mobile"}}});
  EXPECT_EQ(r.overall_code(), rls::RateLimitResponse::OVER_LIMIT);
  EXPECT_EQ(header(r, "tollgate-code"), "CHANNEL");
  EXPECT_EQ(header(r, "retry-after"), "(absent)");
  // A suspended contract: OVER_LIMIT with its code.
  r = ask("api", {{{"contract", "closed"}}});
  EXPECT_EQ(r.overall_code(), rls::RateLimitResponse::OVER_LIMIT);
  EXPECT_EQ(header(r, "tollgate-code"), "SUSPENDED");
  EXPECT_EQ(left("acme"), 9);
}

// Verifies hits_addend is COST, and a call over the limit is OVER_LIMIT with Retry-After and nothing charged.
TEST_F(RlsServiceTest, HitsAddend) {
  auto r = ask("api", {{{"contract", "acme"}, {"channel", "web"}}}, 7);
  EXPECT_EQ(r.overall_code(), rls::RateLimitResponse::OK);
  EXPECT_EQ(r.statuses(0).limit_remaining(), 3u);
  r = ask("api", {{{"contract", "acme"}, {"channel", "web"}}}, 4);
  EXPECT_EQ(r.overall_code(), rls::RateLimitResponse::OVER_LIMIT);
  EXPECT_EQ(r.statuses(0).code(), rls::RateLimitResponse::OVER_LIMIT);
  EXPECT_EQ(header(r, "tollgate-code"), "WINDOW");
  EXPECT_NE(header(r, "retry-after"), "(absent)");
  EXPECT_EQ(left("acme"), 3);
  r = ask("api", {{{"contract", "acme"}, {"channel", "web"}}}, 3);
  EXPECT_EQ(r.overall_code(), rls::RateLimitResponse::OK);
  EXPECT_EQ(left("acme"), 0);
}

// Verifies several descriptors are decided all or nothing: one denied, none charged; all allowed, all charged.
TEST_F(RlsServiceTest, SeveralDescriptorsAllOrNothing) {
  ASSERT_EQ(ask("api", {{{"contract", "tiny"}}}, 2).overall_code(), rls::RateLimitResponse::OK);  // tiny spent
  auto r = ask("api", {{{"contract", "daily"}}, {{"contract", "acme"}, {"channel", "web"}}, {{"contract", "tiny"}}});
  EXPECT_EQ(r.overall_code(), rls::RateLimitResponse::OVER_LIMIT);
  ASSERT_EQ(r.statuses_size(), 3);
  EXPECT_EQ(r.statuses(0).code(), rls::RateLimitResponse::OK);
  EXPECT_EQ(r.statuses(1).code(), rls::RateLimitResponse::OK);
  EXPECT_EQ(r.statuses(2).code(), rls::RateLimitResponse::OVER_LIMIT);
  EXPECT_EQ(left("daily"), 1000);
  EXPECT_EQ(left("acme"), 10);

  r = ask("api", {{{"contract", "daily"}}, {{"contract", "acme"}, {"channel", "web"}}});
  EXPECT_EQ(r.overall_code(), rls::RateLimitResponse::OK);
  EXPECT_EQ(left("daily"), 999);
  EXPECT_EQ(left("acme"), 9);
}

// Verifies concurrent two-descriptor calls charge both contracts or neither: their usage stays equal.
TEST_F(RlsServiceTest, AllOrNothingUnderConcurrency) {
  // acme has 10 per minute; daily 1000: every OK charged both once, every OVER_LIMIT neither.
  std::atomic<int> oks{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        grpc::Status status;
        auto r = ask("api", {{{"contract", "acme"}, {"channel", "web"}}, {{"contract", "daily"}}}, 0, &status);
        if (status.ok() && r.overall_code() == rls::RateLimitResponse::OK) oks.fetch_add(1);
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(oks.load(), 10);
  EXPECT_EQ(left("acme"), 0);
  EXPECT_EQ(left("daily"), 1000 - 10);
}

// Verifies an unknown domain is answered per envoy.unknown_domain (ok), charges nothing, and is counted in INFO.
TEST_F(RlsServiceTest, UnknownDomain) {
  auto r = ask("nobody", {{{"contract", "daily"}}, {{"contract", "tiny"}}});
  EXPECT_EQ(r.overall_code(), rls::RateLimitResponse::OK);
  ASSERT_EQ(r.statuses_size(), 2);
  EXPECT_EQ(r.statuses(1).code(), rls::RateLimitResponse::OK);
  EXPECT_EQ(left("daily"), 1000);
  EXPECT_EQ(info_envoy(*daemon_, "envoy_unknown_domains"), "1");
}

// Verifies descriptors without the key entry: `unmatched: ok` lets them pass, `over_limit` denies the call; both counted.
TEST_F(RlsServiceTest, MissingEntries) {
  auto r = ask("api", {{{"path", "/v1/x"}}, {{"contract", "daily"}}});
  EXPECT_EQ(r.overall_code(), rls::RateLimitResponse::OK);
  EXPECT_EQ(r.statuses(0).code(), rls::RateLimitResponse::OK);
  EXPECT_EQ(left("daily"), 999);

  r = ask("strict", {{{"contract", "daily"}}, {{"user", "u1"}}});
  EXPECT_EQ(r.overall_code(), rls::RateLimitResponse::OVER_LIMIT);
  EXPECT_EQ(r.statuses(1).code(), rls::RateLimitResponse::OVER_LIMIT);
  EXPECT_EQ(left("daily"), 999);  // nothing charged
  EXPECT_EQ(info_envoy(*daemon_, "envoy_unmatched_descriptors"), "2");
}

// Verifies malformed requests get INVALID_ARGUMENT / a decoding error with a clear text, and the daemon keeps serving.
TEST_F(RlsServiceTest, MalformedRequest) {
  grpc::Status status;
  ask("", {{{"contract", "daily"}}}, 0, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "domain is empty");
  ask("api", {}, 0, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "no descriptors");
  ask("api", {{{"", "daily"}}}, 0, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ask("api", {{{"contract", std::string(513, 'k')}}}, 0, &status);  // longer than server.max_key
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  std::vector<Descriptor> many(65, Descriptor{{"contract", "daily"}});
  ask("api", many, 0, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // Bytes that are not a RateLimitRequest at all (a truncated length-delimited field).
  grpc::GenericStub generic(channel_);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  const char garbage[] = "\x0a\xff\xff\xff\x0f" "abc";
  grpc::Slice slice(garbage, sizeof garbage - 1);
  grpc::ByteBuffer request(&slice, 1), reply;
  grpc::CompletionQueue cq;
  auto call = generic.PrepareUnaryCall(&ctx, "/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit", request,
                                       &cq);
  call->StartCall();
  grpc::Status raw_status;
  call->Finish(&reply, &raw_status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  ASSERT_TRUE(cq.Next(&tag, &ok));
  EXPECT_NE(raw_status.error_code(), grpc::StatusCode::OK);
  EXPECT_EQ(left("daily"), 1000);
  EXPECT_EQ(info_envoy(*daemon_, "envoy_invalid_requests"), "5");

  grpc::Status after;
  auto r = ask("api", {{{"contract", "daily"}}}, 0, &after);
  EXPECT_TRUE(after.ok());
  EXPECT_EQ(r.overall_code(), rls::RateLimitResponse::OK);
}

// Verifies a call whose deadline has passed is DEADLINE_EXCEEDED, charges nothing, and the next call is served.
TEST_F(RlsServiceTest, DeadlineExceeded) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() - std::chrono::milliseconds(1));
  rls::RateLimitResponse resp;
  grpc::Status status = stub_->ShouldRateLimit(&ctx, rls_request("api", {{{"contract", "daily"}}}, 5), &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(left("daily"), 1000);
  grpc::Status next;
  EXPECT_EQ(ask("api", {{{"contract", "daily"}}}, 0, &next).overall_code(), rls::RateLimitResponse::OK);
  EXPECT_TRUE(next.ok());
}

// Verifies calls the clients abandon (tiny deadlines, far more than the call slots a thread keeps) do not use the slots up.
TEST_F(RlsServiceTest, AbandonedCallsFreeTheirSlots) {
  const auto req = rls_request("api", {{{"contract", "daily"}}});
  grpc::CompletionQueue cq;
  constexpr int kCalls = 600;  // > 2 threads × RlsServer::kCallsPerThread
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<rls::RateLimitResponse> responses(kCalls);
  std::vector<grpc::Status> statuses(kCalls);
  std::vector<std::unique_ptr<grpc::ClientAsyncResponseReader<rls::RateLimitResponse>>> readers;
  for (int i = 0; i < kCalls; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    contexts.back()->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(1 + i % 3));
    readers.push_back(stub_->PrepareAsyncShouldRateLimit(contexts.back().get(), req, &cq));
    readers.back()->StartCall();
    readers.back()->Finish(&responses[i], &statuses[i], reinterpret_cast<void*>(static_cast<intptr_t>(i)));
    if (i % 2 == 0) contexts.back()->TryCancel();
  }
  for (int i = 0; i < kCalls; ++i) {
    void* tag = nullptr;
    bool ok = false;
    ASSERT_TRUE(cq.Next(&tag, &ok));
  }
  for (int i = 0; i < 20; ++i) {
    grpc::Status status;
    auto r = ask("api", {{{"contract", "tiny"}}}, 0, &status);
    ASSERT_TRUE(status.ok()) << i << ": " << status.error_message();
  }
}

// Verifies grpc.health.v1.Health/Check answers SERVING once the daemon is up (recovered), for the
// server ("") and the rate limit service by name, NOT_FOUND for another name; Watch is UNIMPLEMENTED.
TEST_F(RlsServiceTest, HealthCheck) {
  auto health = ::grpc::health::v1::Health::NewStub(channel_);
  auto check = [&](const std::string& service, grpc::Status& status) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    ::grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    ::grpc::health::v1::HealthCheckResponse resp;
    status = health->Check(&ctx, req, &resp);
    return resp.status();
  };
  grpc::Status status;
  EXPECT_EQ(check("", status), ::grpc::health::v1::HealthCheckResponse::SERVING);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(check("envoy.service.ratelimit.v3.RateLimitService", status),
            ::grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_TRUE(status.ok()) << status.error_message();
  check("no.such.Service", status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);

  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  ::grpc::health::v1::HealthCheckRequest req;
  auto watch = health->Watch(&ctx, req);
  ::grpc::health::v1::HealthCheckResponse resp;
  EXPECT_FALSE(watch->Read(&resp));
  EXPECT_EQ(watch->Finish().error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

// Verifies a reload picks up a changed envoy: mapping (a new domain) while calls run, and INFO counts the calls.
TEST_F(RlsServiceTest, ReloadPicksUpTheMapping) {
  auto r = ask("edge", {{{"remote_address", "daily"}}});
  EXPECT_EQ(r.overall_code(), rls::RateLimitResponse::OK);
  EXPECT_EQ(left("daily"), 1000);  // unknown domain: nothing charged

  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::thread hammer([&] {
    while (!stop.load()) {
      grpc::Status status;
      ask("api", {{{"contract", "tiny"}}}, 0, &status);
      if (!status.ok()) failures.fetch_add(1);
    }
  });
  std::string config = kConfig;
  config += "    - domain: edge\n      key: remote_address\n";
  daemon_->rewrite_config(config, grpc_server_extra());
  for (int i = 0; i < 5; ++i) {
    Client admin = daemon_->connect_admin();
    Reply reply = command(admin.get(), {"RELOAD"});
    ASSERT_TRUE(reply && reply->type != REDIS_REPLY_ERROR) << (reply ? reply->str : "no reply") << daemon_->log();
  }
  stop.store(true);
  hammer.join();
  EXPECT_EQ(failures.load(), 0);

  r = ask("edge", {{{"remote_address", "daily"}}});
  EXPECT_EQ(r.overall_code(), rls::RateLimitResponse::OK);
  EXPECT_EQ(left("daily"), 999);
  EXPECT_NE(info_envoy(*daemon_, "envoy_requests"), "0");
  EXPECT_EQ(daemon_->stop(SIGTERM), 0) << daemon_->log();
}

// Verifies server.grpc.listen on a Unix socket: decisions and health over it, INFO shows the address.
TEST(RlsServiceStart, UnixSocketListener) {
  TempDir dir;
  const std::string path = dir.file("grpc.sock");
  Daemon d(kConfig, "threads: 2\n  grpc: { listen: \"unix:" + path + "\", threads: 1 }");
  ASSERT_TRUE(d.wait_ready()) << d.log();
  EXPECT_EQ(info_envoy(d, "grpc_listen"), "unix:" + path);
  EXPECT_EQ(info_envoy(d, "grpc_threads"), "1");
  auto channel = grpc::CreateChannel("unix:" + path, grpc::InsecureChannelCredentials());
  auto stub = rls::RateLimitService::NewStub(channel);
  grpc::Status status;
  auto r = should_rate_limit(*stub, rls_request("api", {{{"contract", "daily"}}}), &status);
  ASSERT_TRUE(status.ok()) << status.error_message() << d.log();
  EXPECT_EQ(r.overall_code(), rls::RateLimitResponse::OK);
  EXPECT_EQ(r.statuses(0).limit_remaining(), 999u);
}

// Verifies a taken port is a clear start-up error, not a second listener on it (no SO_REUSEPORT).
TEST(RlsServiceStart, PortInUseIsRefused) {
  Daemon first(kConfig, grpc_server_extra());
  ASSERT_TRUE(first.wait_ready()) << first.log();
  const std::string port = info_envoy(first, "grpc_port");
  Daemon second(kConfig, "threads: 2\n  grpc: { listen: \"127.0.0.1:" + port + "\" }");
  EXPECT_FALSE(second.wait_ready(5000));
  EXPECT_EQ(second.stop(), 1);
  EXPECT_NE(second.log().find("cannot listen on server.grpc.listen"), std::string::npos) << second.log();
}

// Verifies a call's descriptors are logged as one group of CHECKs
// (README, "Groups of CHECKs"): two calls of daily and tiny pass, the third
// is refused whole (tiny spent, daily ABORTED). Replayed following the
// recorded config every decision comes back; a candidate giving tiny 3 a
// minute lets the third call through whole: its 2 CHECKs flip to allowed.
TEST(RlsServiceCallLog, DescriptorsAreOneGroupInTheCallLog) {
  const std::string config = std::string(kConfig) + "call_log:\n  dir: calls\n  flush_interval: 20ms\n";
  Daemon d(config, grpc_server_extra());
  ASSERT_TRUE(d.wait_ready()) << d.log();
  auto channel = grpc_channel(d);
  auto stub = rls::RateLimitService::NewStub(channel);
  const std::vector<Descriptor> both = {{{"contract", "daily"}}, {{"contract", "tiny"}}};
  EXPECT_EQ(should_rate_limit(*stub, rls_request("api", both)).overall_code(), rls::RateLimitResponse::OK);
  EXPECT_EQ(should_rate_limit(*stub, rls_request("api", both)).overall_code(), rls::RateLimitResponse::OK);
  auto refused = should_rate_limit(*stub, rls_request("api", both));
  EXPECT_EQ(refused.overall_code(), rls::RateLimitResponse::OVER_LIMIT);
  ASSERT_EQ(d.stop(), 0);

  replay::ReplayOptions options;
  options.log_dir = d.dir().file("calls");
  auto live = replay::replay_log_live(options);
  ASSERT_TRUE(live.has_value()) << live.error();
  EXPECT_EQ(live->calls, 6u);
  EXPECT_EQ(live->groups, 3u);
  EXPECT_EQ(live->allowed_to_denied(), 0u);
  EXPECT_EQ(live->denied_to_allowed(), 0u);
  EXPECT_TRUE(live->problems.empty());

  std::string looser = kConfig;
  const std::string tiny = "limit: 2, window: 1m";
  ASSERT_NE(looser.find(tiny), std::string::npos);
  looser.replace(looser.find(tiny), tiny.size(), "limit: 3, window: 1m");
  auto candidate = parse_config(looser, d.dir().file("looser.yaml"));
  ASSERT_TRUE(candidate.has_value());
  auto j = replay::replay_log(*candidate, options);
  ASSERT_TRUE(j.has_value()) << j.error();
  EXPECT_EQ(j->groups, 3u);
  EXPECT_EQ(j->allowed_to_denied(), 0u);
  EXPECT_EQ(j->denied_to_allowed(), 2u);
  EXPECT_EQ(j->contracts.at("daily").flips.denied_to_allowed, 1u);
  EXPECT_EQ(j->contracts.at("tiny").flips.denied_to_allowed, 1u);
}

}  // namespace
}  // namespace tollgate::testing
