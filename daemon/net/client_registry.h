// The live RESP connections of the whole server, across worker threads, for
// CLIENT LIST and CLIENT KILL (the admin socket's view of who is connected).
//
// Each connection has one ClientRecord, shared (shared_ptr) between the
// registry and the connection's Session:
// - add()/remove() take the registry's mutex: once per connection, at open
//   and when it starts closing, before its socket is closed (the owning
//   worker thread), so a peer that saw EOF is no longer listed.
// - the per-batch facts (last command time, command name, buffer sizes) are
//   relaxed atomics the owning worker stores once per read batch: no lock on
//   the hot path; a lister may see one batch stale, never torn.
// - the name and library facts change only on CLIENT SETNAME / SETINFO /
//   HELLO … SETNAME: they sit behind the record's own small mutex, taken by
//   those commands and by a lister, never per command.
// Why a lister's read is safe while the connection closes on another
// thread: snapshot() copies the shared_ptrs under the registry mutex, so a
// record it reads stays alive even after remove() and the Connection's
// delete; it never touches the Connection itself.
// Kill: kill() picks matching records under the mutex and asks each owning
// Worker to close that id (Worker::kill_client, the same cross-thread
// request as the input budget's drops: queued under the worker's mutex,
// done on its loop; a no-op if the connection closed meanwhile). Workers
// outlive every connection (the Server joins them before it is destroyed).
// Thread-safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace tollgate {

class Worker;

struct ClientRecord {
  // Fixed at open (read without a lock: written before the record is published).
  uint64_t id = 0;
  bool admin = false;
  int fd = -1;
  std::string addr;   // peer, Redis's form: "host:port", or "<socket path>:0" on a Unix socket
  std::string laddr;  // local end, same form
  uint64_t created_ms = 0;  // monotonic milliseconds (uv_hrtime based)
  Worker* owner = nullptr;

  // Stored by the owning worker once per read batch (relaxed).
  std::atomic<uint64_t> last_command_ms{0};
  std::atomic<const char*> last_command{nullptr};  // a static string: the command table's name
  std::atomic<uint64_t> qbuf{0};   // input bytes buffered, unparsed
  std::atomic<uint64_t> obl{0};    // reply bytes not yet taken by the kernel
  std::atomic<uint64_t> omem{0};   // reply buffer capacity
  std::atomic<uint64_t> imem{0};   // input buffer capacity
  std::atomic<int> protocol{2};    // HELLO 3 sets 3
  std::atomic<int64_t> multi{-1};  // commands queued in MULTI; -1: none

  // Changed by CLIENT SETNAME / SETINFO / HELLO SETNAME (owning worker).
  void set_name(std::string_view name);
  void set_lib(std::string_view lib_name, std::string_view lib_ver);
  std::string name() const;
  std::pair<std::string, std::string> lib() const;

 private:
  mutable std::mutex mutex_;  // guards name_, lib_name_, lib_ver_
  std::string name_;
  std::string lib_name_;
  std::string lib_ver_;
};

// Milliseconds of the monotonic clock libuv's loops use (uv_now is this, cached per loop iteration).
uint64_t monotonic_ms();

// What CLIENT KILL matches (all given filters must hold).
struct ClientFilter {
  uint64_t id = 0;         // 0: any
  std::string addr;        // empty: any
  std::string laddr;       // empty: any
  bool user_default = false;  // USER default: everyone (the only user); a USER that is not "default" matches nobody
  bool user_none = false;
  uint64_t skip_id = 0;    // SKIPME yes: the caller's id
  int admin = -1;          // -1: any; 0: data clients; 1: admin clients
};

class ClientRegistry {
 public:
  // Publishes `record` (its fixed fields set). Returns it for chaining.
  std::shared_ptr<ClientRecord> add(std::shared_ptr<ClientRecord> record);
  void remove(uint64_t id);
  // The live records, by id (a copy: read them without the registry lock).
  std::vector<std::shared_ptr<ClientRecord>> snapshot() const;
  std::shared_ptr<ClientRecord> find(uint64_t id) const;
  // Asks the owner of every record matching `filter` to close it. Returns
  // how many were asked (the close itself happens on their workers).
  size_t kill(const ClientFilter& filter);
  size_t size() const;

  // One CLIENT LIST / CLIENT INFO line (no trailing newline), at monotonic time `now_ms`.
  static std::string format(const ClientRecord& record, uint64_t now_ms);

 private:
  mutable std::mutex mutex_;  // guards records_
  std::map<uint64_t, std::shared_ptr<ClientRecord>> records_;
};

}  // namespace tollgate
