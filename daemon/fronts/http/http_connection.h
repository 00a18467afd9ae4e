// One HTTP/1.1 client connection on a data-plane worker loop: keep-alive and
// pipelining, parsed by Debian's libhttp-parser (http_parser.h), answered by
// HttpFront::answer in request order.
//
// Bounds: the input buffer is allocated once at max_header_bytes +
// max_body_bytes + a little; a request line and headers longer than
// max_header_bytes (or more than kMaxHeaders fields) get 431, a body longer
// than max_body_bytes 413, chunked bodies 411, anything the parser refuses
// 400 — each with a one-line reason, then the connection closes. A request
// begun but not whole within request_timeout gets 408 and is closed (slow
// clients hold a descriptor for that long at most); an idle keep-alive
// connection closes after keepalive_timeout, and so does one whose peer
// stopped reading its answers (reading pauses once kPauseOutput bytes are
// unwritten, so a pipelining client that never reads cannot grow them).
// With durability strict an allowed CHECK's answer (and all after it) waits
// until its commit ticket is durable (net/output_barriers.h), as on RESP.
// Thread-safety: owned by its worker thread; freed in the close callback of
// the last of its two handles.
#pragma once

#include <http_parser.h>
#include <uv.h>

#include <string>
#include <utility>
#include <vector>

#include "fronts/http/http_front.h"
#include "net/output_barriers.h"
#include "net/protocol.h"

namespace tollgate {
class Worker;
}

namespace tollgate::fronts {

class HttpConnection final : public ProtocolConnection {
 public:
  static constexpr size_t kMaxHeaders = 64;
  static constexpr size_t kPauseOutput = 64 * 1024;

  HttpConnection(Worker& worker, HttpFront& front, Session session, ConnectionSlot slot);
  ~HttpConnection() override;
  // Takes `fd` and starts reading; false (fd closed, caller deletes) if the
  // handles could not be set up.
  bool open(int fd);
  void shutdown() override;
  void on_commit() override;

 private:
  static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_close(uv_handle_t* h);
  static void on_timer(uv_timer_t* t);
  // http_parser callbacks.
  static int on_message_begin(http_parser* p);
  static int on_url(http_parser* p, const char* at, size_t length);
  static int on_header_field(http_parser* p, const char* at, size_t length);
  static int on_header_value(http_parser* p, const char* at, size_t length);
  static int on_headers_complete(http_parser* p);
  static int on_body(http_parser* p, const char* at, size_t length);
  static int on_message_complete(http_parser* p);

  void process();
  // Answers the request the parser completed; false when the connection stops reading.
  bool handle_request();
  // Answers a bad request with `status` and closes once it is written.
  void fail(int status, std::string_view why);
  void flush();
  void close();
  void arm_timer();
  void stop_reading();
  size_t unwritten() const { return out_.size() + writing_.size(); }

  uv_pipe_t handle_;
  uv_timer_t timer_;
  uv_write_t write_req_;
  Worker& worker_;
  HttpFront& front_;
  Session session_;
  ConnectionSlot slot_;
  http_parser parser_;
  std::string in_;        // fixed size; [0, in_len_) read, [0, parsed_) parsed
  size_t in_len_ = 0;
  size_t parsed_ = 0;
  size_t message_start_ = 0;  // where the request being parsed begins (within a batch)
  std::string out_;       // answers not yet handed to the kernel
  std::string writing_;   // answers in the in-flight uv_write
  OutputBarriers barriers_;
  // The request being parsed (views into in_, stable until it is answered).
  std::string_view url_;
  std::vector<std::pair<std::string_view, std::string_view>> headers_;
  bool in_value_ = false;
  std::string_view body_;
  bool headers_done_ = false;
  bool message_done_ = false;
  int pending_error_ = 0;  // set by a callback that stopped the parser (413, 411, 431)
  uint64_t partial_since_ms_ = 0;  // loop time the unanswered bytes started arriving (0: none)
  bool reading_ = false;
  bool write_in_flight_ = false;
  bool close_when_flushed_ = false;
  bool closing_ = false;
  int open_handles_ = 0;
};

}  // namespace tollgate::fronts
