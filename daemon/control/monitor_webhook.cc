#include "control/monitor_webhook.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

namespace tollgate {
namespace {

constexpr uint64_t kPollMs = 50;
constexpr uint64_t kFirstBackoffMs = 1000;
constexpr uint64_t kMaxBackoffMs = 60'000;

size_t discard(char*, size_t size, size_t n, void*) { return size * n; }

}  // namespace

MonitorWebhook::MonitorWebhook(MonitorCounters& counters) : counters_(counters) {
  curl_global_init(CURL_GLOBAL_DEFAULT);  // before any worker thread (constructed in main)
  multi_ = curl_multi_init();
  headers_ = curl_slist_append(nullptr, "Content-Type: application/json");
}

MonitorWebhook::~MonitorWebhook() {
  if (easy_ != nullptr) {
    curl_multi_remove_handle(static_cast<CURLM*>(multi_), static_cast<CURL*>(easy_));
    curl_easy_cleanup(static_cast<CURL*>(easy_));
  }
  curl_multi_cleanup(static_cast<CURLM*>(multi_));
  curl_slist_free_all(static_cast<curl_slist*>(headers_));
}

void MonitorWebhook::configure(const MonitorEventsConfig& config) {
  url_ = config.webhook;
  timeout_ms_ = static_cast<long>(config.webhook_timeout / kNanosPerMilli);
  retries_ = config.webhook_retries;
  if (url_.empty()) queue_.clear();
}

void MonitorWebhook::start(uv_loop_t* loop) {
  loop_ = loop;
  uv_timer_init(loop, &timer_);
  timer_.data = this;
  uv_timer_start(&timer_, on_timer, kPollMs, kPollMs);
  started_ = true;
}

void MonitorWebhook::close() {
  if (!started_) return;
  started_ = false;
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
}

void MonitorWebhook::post(std::string json) {
  if (url_.empty()) return;
  if (queue_.size() >= kMaxQueued) {
    // The head may be in flight: drop the oldest one waiting behind it.
    queue_.erase(queue_.begin() + (easy_ != nullptr ? 1 : 0));
    counters_.webhook_dropped.fetch_add(1, std::memory_order_relaxed);
  }
  queue_.push_back(std::move(json));
  if (started_) pump();
}

void MonitorWebhook::on_timer(uv_timer_t* timer) { static_cast<MonitorWebhook*>(timer->data)->pump(); }

void MonitorWebhook::begin() {
  CURL* easy = curl_easy_init();
  if (easy == nullptr) return;
  curl_easy_setopt(easy, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(easy, CURLOPT_POST, 1L);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, queue_.front().c_str());
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(queue_.front().size()));
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(headers_));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms_);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
  curl_multi_add_handle(static_cast<CURLM*>(multi_), easy);
  easy_ = easy;
}

void MonitorWebhook::finish(bool ok) {
  CURL* easy = static_cast<CURL*>(easy_);
  curl_multi_remove_handle(static_cast<CURLM*>(multi_), easy);
  curl_easy_cleanup(easy);
  easy_ = nullptr;
  if (ok) {
    counters_.webhook_delivered.fetch_add(1, std::memory_order_relaxed);
    queue_.pop_front();
    attempt_ = 0;
    next_at_ms_ = 0;
    return;
  }
  counters_.webhook_failed.fetch_add(1, std::memory_order_relaxed);
  if (attempt_ >= retries_) {
    spdlog::warn("monitor_events.webhook: an event was dropped after {} attempts", attempt_ + 1);
    counters_.webhook_dropped.fetch_add(1, std::memory_order_relaxed);
    queue_.pop_front();
    attempt_ = 0;
    next_at_ms_ = 0;
    return;
  }
  const uint64_t backoff = std::min<uint64_t>(kMaxBackoffMs, kFirstBackoffMs << std::min(attempt_, 16));
  ++attempt_;
  next_at_ms_ = uv_now(loop_) + backoff;
}

// One non-blocking step: start the head's attempt when due, let curl move
// bytes, and settle a finished attempt.
void MonitorWebhook::pump() {
  if (easy_ == nullptr) {
    if (queue_.empty() || url_.empty() || uv_now(loop_) < next_at_ms_) return;
    begin();
    if (easy_ == nullptr) return;
  }
  int running = 0;
  curl_multi_perform(static_cast<CURLM*>(multi_), &running);
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(static_cast<CURLM*>(multi_), &left)) {
    if (msg->msg != CURLMSG_DONE || msg->easy_handle != easy_) continue;
    long status = 0;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
    finish(msg->data.result == CURLE_OK && status >= 200 && status < 300);
    return;
  }
}

}  // namespace tollgate
