// Listening TCP sockets for the fronts that gateways reach over TCP
// (server.http's "host:port" entries). Only the addresses configured are
// bound; there is no wildcard default.
// Thread-safety: plain functions, no shared state.
#pragma once

#include <expected>
#include <string>

namespace tollgate {

struct TcpAddress {
  std::string host;  // an IPv4 or IPv6 literal, or "localhost"
  int port = 0;      // 0: any free port (tests)
};

// Splits "127.0.0.1:8080", "[::1]:8080" or "localhost:8080"; the error says
// what is wrong.
std::expected<TcpAddress, std::string> parse_tcp_address(const std::string& text);

// Binds and listens (SO_REUSEADDR, TCP_NODELAY inherited by accepted
// sockets). Returns the non-blocking fd and, in `bound`, "host:port" with the
// port actually bound.
std::expected<int, std::string> listen_tcp(const TcpAddress& address, std::string& bound, int backlog = 1024);

}  // namespace tollgate
