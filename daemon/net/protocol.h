// A protocol other than RESP served on the same data-plane workers (the HTTP
// front, fronts/http/): a listener with a Protocol hands each accepted
// socket to it on the worker thread that will serve it, instead of opening a
// RESP Connection. The worker keeps such connections on a list of their own
// so that stop() drains them too and, with durability strict, wakes the
// ones holding a reply for a commit ticket (see Session::commit_ticket).
// Thread-safety: a Protocol is shared by all workers (open() runs on each
// worker's thread); a ProtocolConnection belongs to its worker's thread.
#pragma once

#include "net/connection_count.h"
#include "net/service.h"

namespace tollgate {

class Worker;

class ProtocolConnection {
 public:
  virtual ~ProtocolConnection() = default;
  // Stops reading, sends what is queued, then closes (worker stop).
  virtual void shutdown() = 0;
  // A commit ticket became durable: send what it released.
  virtual void on_commit() {}

  ProtocolConnection* next = nullptr;  // the worker's intrusive list
  ProtocolConnection* prev = nullptr;
  bool waiting_commit = false;         // on the worker's commit-wait list
};

class Protocol {
 public:
  virtual ~Protocol() = default;
  // Serves the connected socket `fd` on `worker`'s loop (called on that
  // thread). Owns `fd` and `slot` in every case: on failure it closes the fd.
  virtual void open(Worker& worker, int fd, Session session, ConnectionSlot slot) = 0;
};

}  // namespace tollgate
