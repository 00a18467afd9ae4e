// The command layer's per-connection state beyond the transport's Session:
// a MULTI transaction's queue and what CLIENT SETINFO recorded. Created on
// first use (client_state()); a connection that never uses them pays nothing.
// Thread-safety: owned by the connection's Session, touched only by the
// worker thread that serves the connection.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "net/service.h"

namespace tollgate {

// MULTI … EXEC: the commands queued so far, copied (the input buffer they
// came from is reused), and whether one was refused while queueing.
class TransactionQueue {
 public:
  // Bounds of one transaction: beyond them the command is refused and the
  // transaction is marked failed (EXEC answers EXECABORT), so a client never
  // has part of what it sent executed.
  static constexpr size_t kMaxCommands = 1024;
  static constexpr size_t kMaxBytes = 256 * 1024;

  bool active() const { return active_; }
  bool failed() const { return failed_; }
  size_t size() const { return commands_.size(); }
  size_t bytes() const { return bytes_; }
  // MULTI: starts an empty transaction.
  void begin();
  // Marks the transaction failed: EXEC will discard it.
  void fail() { failed_ = true; }
  // Queues a copy of `args`; false (nothing queued) past kMaxCommands or kMaxBytes.
  [[nodiscard]] bool add(std::span<const std::string_view> args);
  // EXEC/DISCARD: ends the transaction, handing its commands over.
  std::vector<std::vector<std::string>> take();

 private:
  bool active_ = false;
  bool failed_ = false;
  size_t bytes_ = 0;
  std::vector<std::vector<std::string>> commands_;
};

struct ClientState {
  TransactionQueue transaction;
  std::string lib_name;  // CLIENT SETINFO LIB-NAME
  std::string lib_ver;   // CLIENT SETINFO LIB-VER
  // EVENTS FOLLOW (with Session::pushes): the seq of the last event this
  // connection was sent; AdminService::push sends the ones after it.
  uint64_t events_followed = 0;
};

// The connection's ClientState, created when first asked for.
inline ClientState& client_state(Session& session) {
  if (!session.client) session.client = std::make_shared<ClientState>();
  return *session.client;
}

// True while the connection is between MULTI and EXEC/DISCARD.
inline bool in_transaction(const Session& session) {
  return session.client != nullptr && session.client->transaction.active();
}

}  // namespace tollgate
