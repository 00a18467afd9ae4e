// A minimal HTTP/1.1 test client over Unix or TCP sockets: raw requests in,
// parsed responses out (status, lower-cased headers, body by Content-Length).
// Hermetic and blocking with a receive timeout. Not thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace tollgate::testing {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  bool has(const std::string& name) const { return headers.count(name) != 0; }
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

class HttpClient {
 public:
  // "unix:/path" or "host:port". Receive timeout in ms for every read.
  explicit HttpClient(const std::string& address, int timeout_ms = 5000);
  ~HttpClient();
  bool connected() const { return fd_ >= 0; }
  bool send(const std::string& bytes);
  // Reads one response (false on EOF, timeout or garbage). `head`: no body follows.
  bool read(HttpResponse& out, bool head = false);
  // True when the peer closed the connection (EOF) within the timeout.
  bool closed_by_peer();
  // One GET with the given extra header lines ("Name: value\r\n" each).
  HttpResponse get(const std::string& target, const std::string& headers = "");
  HttpResponse post(const std::string& target, const std::string& body);

 private:
  int fd_ = -1;
  std::string buffer_;
};

// A free loopback TCP port (bound to 0 then released: the caller binds it next).
int free_tcp_port();

}  // namespace tollgate::testing
