// The one interface between the transport (net/, resp/) and what the commands
// mean. The transport knows nothing about limits: it parses frames, calls
// Service::execute once per command and writes whatever it was given.
// Thread-safety: a Service is shared by all workers; each call happens on the
// worker thread that owns the connection.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "resp/reply_writer.h"
#include "tollgate/time.h"

namespace tollgate {

// The command layer's own per-connection state (MULTI queue, client library
// facts): defined in commands/client_state.h, opaque to the transport.
struct ClientState;
// The connection's entry in the server's CLIENT LIST (net/client_registry.h).
struct ClientRecord;
class ClientRegistry;

// Per-connection facts a command may read or change. Owned by the connection.
struct Session {
  uint64_t id = 0;
  int worker = 0;            // index of the worker thread serving it
  bool admin = false;        // arrived on the admin socket
  int64_t peer_uid = -1;     // SO_PEERCRED
  int64_t peer_gid = -1;
  int64_t peer_pid = -1;
  std::string name;          // CLIENT SETNAME
  int protocol = 2;          // HELLO 3: replies in RESP3
  bool authenticated = false;  // AUTH passed (checked only while server.requirepass is set)
  std::shared_ptr<ClientState> client;  // created by the command layer on first use
  // Set when the connection opens, if the server keeps a registry: this
  // connection's record (the command layer mirrors SETNAME/SETINFO into it)
  // and the registry (CLIENT LIST / KILL). See net/client_registry.h.
  std::shared_ptr<ClientRecord> record;
  ClientRegistry* clients = nullptr;
  bool close_after_reply = false;  // QUIT: close once the replies so far are written
  Nanos now = 0;             // the batch's time, set by Service::begin_batch
  // Set by a command whose reply must not be sent before this instant (a
  // paced CHECK … WAIT). The connection holds that reply, and every later
  // one, until then, and resets the field to 0 after each command. Values
  // not after `now` mean "send at once".
  Nanos release_at = 0;
  // Set by a command whose reply must wait until a checkpoint holds its
  // charge (durability: strict): the commit ticket (control/commit_gate.h).
  // The connection holds that reply, and every later one, until the
  // service's durable_through() reaches it; reset to 0 after each command.
  uint64_t commit_ticket = 0;
  // Set by a command that wants unsolicited replies on this connection
  // (EVENTS FOLLOW): when the worker is woken for pushes
  // (Worker::wake_pushes), the connection calls Service::push and writes
  // what it gives, under the same output bounds as replies.
  bool pushes = false;
};

class Service {
 public:
  virtual ~Service() = default;
  // Called on the worker thread before each read batch's commands (e.g. read
  // the clock once, enter the reclaimer) and after them.
  virtual void begin_batch(int worker) = 0;
  virtual void end_batch(int worker) = 0;
  // Runs one command and writes exactly one reply.
  virtual void execute(std::span<const std::string_view> args, Session& session,
                       resp::ReplyWriter& out) = 0;
  // The time a batch runs at (what begin_batch read).
  virtual Nanos batch_now(int worker) const = 0;
  // The next instant the worker must call on_deadline (INT64_MAX: none).
  // Asked after every batch; the worker arms one loop timer for it.
  virtual Nanos next_deadline(int /*worker*/) { return INT64_MAX; }
  // Advisory: a whole read batch before it is parsed, so the service can
  // prefetch what its commands will touch (their memory misses overlap
  // instead of queueing one per command). Must not change anything.
  virtual void prefetch(std::string_view /*input*/) {}
  // Timer work (e.g. expiring holds); runs between begin_batch and end_batch.
  virtual void on_deadline(int /*worker*/) {}
  // The highest commit ticket that is durable (see Session::commit_ticket).
  // Workers are woken (Worker::wake_commits) when it rises.
  virtual uint64_t durable_through() const { return UINT64_MAX; }
  // Unsolicited replies due to a connection whose Session::pushes is set
  // (worker thread, outside any read batch). Writes zero or more whole replies.
  virtual void push(Session& /*session*/, resp::ReplyWriter& /*out*/) {}
};

}  // namespace tollgate
