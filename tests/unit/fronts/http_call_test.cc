// The HTTP front's call fields: headers, query, JSON, and the JSON answer.
#include "fronts/http/http_call.h"

#include <gtest/gtest.h>

#include <string>

#include "fronts/http/metrics_page.h"

namespace tollgate::fronts {
namespace {

// Verifies header names match case-insensitively, a repeat is reported, and
// other headers are not ours.
TEST(HttpCall, HeadersByName) {
  HttpCall call;
  EXPECT_EQ(set_from_header(call, "tollgate-KEY", "contract:acme"), SetResult::kSet);
  EXPECT_EQ(set_from_header(call, "Tollgate-Cost", "3"), SetResult::kSet);
  EXPECT_EQ(set_from_header(call, "Tollgate-Key", "other"), SetResult::kTwice);
  EXPECT_EQ(set_from_header(call, "Tollgate-Unknown", "x"), SetResult::kNotOurs);
  EXPECT_EQ(set_from_header(call, "Host", "x"), SetResult::kNotOurs);
  auto req = to_check_request(call, 512);
  ASSERT_TRUE(req) << req.error();
  EXPECT_EQ(req->key, "contract:acme");
  EXPECT_EQ(req->cost, 3);
}

// Verifies query decoding (percent, '+'), and clear refusals.
TEST(HttpCall, QueryParameters) {
  std::string q = "key=ip%3A203.0.113.7&channel=web+app&cost=2&&subject=u%2F1";
  HttpCall call;
  ASSERT_TRUE(read_query(std::span<char>(q.data(), q.size()), call));
  auto req = to_check_request(call, 512);
  ASSERT_TRUE(req) << req.error();
  EXPECT_EQ(req->key, "ip:203.0.113.7");
  EXPECT_EQ(req->channel, "web app");
  EXPECT_EQ(req->subject, "u/1");
  EXPECT_EQ(req->cost, 2);
  for (std::string bad : {"key=%zz", "chanel=web", "key=a&key=b", "key=%4"}) {
    HttpCall c;
    EXPECT_FALSE(read_query(std::span<char>(bad.data(), bad.size()), c)) << bad;
  }
}

// Verifies the JSON body: strings or integers, nothing else, no unknown fields.
TEST(HttpCall, JsonBody) {
  std::array<std::string, HttpCall::kFieldCount> storage;
  HttpCall call;
  ASSERT_TRUE(read_json(R"({"key":"contract:acme","cost":4,"id":"r-1","purpose":"x"})", call, storage));
  auto req = to_check_request(call, 512);
  ASSERT_TRUE(req) << req.error();
  EXPECT_EQ(req->cost, 4);
  EXPECT_EQ(req->id, "r-1");
  for (const char* bad : {"{", "[]", R"({"key": 1.5})", R"({"key": ["a"]})", R"({"key":"a","nope":1})", "null"}) {
    HttpCall c;
    std::array<std::string, HttpCall::kFieldCount> s;
    EXPECT_FALSE(read_json(bad, c, s)) << bad;
  }
}

// Verifies the same validation as RESP CHECK, with the RESP prefix dropped.
TEST(HttpCall, ValidatedLikeRespCheck) {
  HttpCall call;
  EXPECT_FALSE(to_check_request(call, 512));  // no key
  set_from_header(call, "Tollgate-Key", "k");
  set_from_header(call, "Tollgate-Cost", "-1");
  auto req = to_check_request(call, 512);
  ASSERT_FALSE(req);
  EXPECT_EQ(req.error().rfind("COST must be an integer", 0), 0u) << req.error();
  HttpCall long_key;
  std::string key(600, 'k');
  set_from_header(long_key, "Tollgate-Key", key);
  ASSERT_FALSE(to_check_request(long_key, 512));
  EXPECT_NE(to_check_request(long_key, 512).error().find("server.max_key"), std::string::npos);
}

// Verifies the JSON answer names the 7 fields and escapes text.
TEST(HttpCall, JsonDecision) {
  Decision d;
  d.allowed = false;
  d.code = Code::kQuota;
  d.limit = "da\"ily";
  d.remaining = 0;
  d.retry_after_ms = 1500;
  d.reset_after_ms = 3600000;
  d.balance = 12;
  std::string out;
  append_json_decision(out, d);
  EXPECT_EQ(out, R"({"allowed":false,"code":"QUOTA","limit":"da\"ily","remaining":0,"retry_after_ms":1500,)"
                 R"("reset_after_ms":3600000,"balance":12})");
}

// Verifies Prometheus label escaping.
TEST(MetricsPage, EscapesLabelValues) {
  EXPECT_EQ(MetricsPage::escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

}  // namespace
}  // namespace tollgate::fronts
