#include "integration/daemon_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace tollgate::testing {
namespace {
// A daemon may close a connection the test is still writing to (refused
// peers, protocol errors): that must be an error value, not a dead test.
const bool kIgnoreSigpipe = [] {
  ::signal(SIGPIPE, SIG_IGN);
  return true;
}();
}  // namespace

TempDir::TempDir() {
  // Short base: Unix socket paths are limited to 107 bytes.
  std::string tmpl = "/tmp/tgtest.XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

Reply command(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  return Reply(static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(args.size()), argv.data(), lens.data())));
}

Daemon::Daemon(const std::string& yaml_body, const std::string& server_extra) {
  socket_ = dir_.file("tg.sock");
  config_ = dir_.file("tollgate.yaml");
  log_path_ = dir_.file("tollgated.log");
  std::ofstream(config_) << "server:\n  socket: " << socket_ << "\n  admin_socket: " << dir_.file("admin.sock")
                         << "\n  " << server_extra << "\nstorage:\n  mode: memory\n  dir: " << dir_.file("var")
                         << "\n"
                         << yaml_body;
  launch();
}

Daemon::Daemon(const std::string& yaml_body, const EmbeddedStorage& storage, const std::string& server_extra) {
  socket_ = dir_.file("tg.sock");
  config_ = dir_.file("tollgate.yaml");
  log_path_ = dir_.file("tollgated.log");
  std::ofstream(config_) << "server:\n  socket: " << socket_ << "\n  admin_socket: " << dir_.file("admin.sock")
                         << "\n  " << server_extra << "\nstorage:\n  mode: embedded\n  dir: " << storage.dir
                         << "\n  checkpoint_ms: " << storage.checkpoint_ms << "\n"
                         << (storage.extra.empty() ? "" : "  " + storage.extra + "\n") << yaml_body;
  args_ = storage.args;
  launch();
}

Daemon::Daemon(const std::string& yaml_body, const RedisStorage& storage, const std::string& server_extra) {
  socket_ = dir_.file("tg.sock");
  config_ = dir_.file("tollgate.yaml");
  log_path_ = dir_.file("tollgated.log");
  std::ofstream out(config_);
  out << "server:\n  socket: " << socket_ << "\n  admin_socket: " << dir_.file("admin.sock") << "\n  " << server_extra
      << "\nstorage:\n  mode: redis\n  checkpoint_ms: " << storage.checkpoint_ms << "\n  redis:\n";
  if (!storage.socket.empty()) out << "    socket: " << storage.socket << "\n";
  if (!storage.password.empty()) out << "    password: " << storage.password << "\n";
  if (!storage.prefix.empty()) out << "    prefix: \"" << storage.prefix << "\"\n";
  if (!storage.extra.empty()) out << "    " << storage.extra << "\n";
  out << yaml_body;
  out.close();
  launch();
}

void Daemon::rewrite_config(const std::string& yaml_body, const std::string& server_extra) const {
  std::string tmp = config_ + ".tmp";
  std::ofstream(tmp) << "server:\n  socket: " << socket_ << "\n  admin_socket: " << dir_.file("admin.sock")
                     << "\n  " << server_extra << "\nstorage:\n  mode: memory\n  dir: " << dir_.file("var") << "\n"
                     << yaml_body;
  std::filesystem::rename(tmp, config_);  // a reload never sees a half-written file
}

void Daemon::launch() {
  pid_ = ::fork();
  if (pid_ == 0) {
    int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> argv = {const_cast<char*>(TOLLGATED_PATH), const_cast<char*>("--config"), config_.data()};
    for (std::string& a : args_) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(TOLLGATED_PATH, argv.data());
    ::_exit(127);
  }
}

Daemon::~Daemon() {
  if (pid_ > 0 && exit_status_ < 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

bool Daemon::running() {
  if (exit_status_ >= 0) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

// Readiness is polled (bounded): the daemon's start-up is real time, not
// simulated time, so there is nothing to inject here.
bool Daemon::wait_ready(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!running()) return false;
    if (Client c = connect(); c && !c->err) {
      Reply r = command(c.get(), {"PING"});
      if (r && r->type == REDIS_REPLY_STATUS) return true;
      // With server.requirepass the daemon answers, refusing: ready too.
      if (r && r->type == REDIS_REPLY_ERROR && std::string_view(r->str).starts_with("NOAUTH")) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

int Daemon::stop(int signal) {
  if (exit_status_ >= 0) return exit_status_;
  ::kill(pid_, signal);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return exit_status_;
}

std::string Daemon::log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Client Daemon::connect() const {
  timeval tv{10, 0};
  Client c(redisConnectUnixWithTimeout(socket_.c_str(), tv));
  if (c && !c->err) redisSetTimeout(c.get(), tv);
  return c;
}

Client Daemon::connect_admin() const {
  timeval tv{10, 0};
  Client c(redisConnectUnixWithTimeout(admin_socket().c_str(), tv));
  if (c && !c->err) redisSetTimeout(c.get(), tv);
  return c;
}

int free_local_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

RedisServer::RedisServer(std::string password, bool tcp)
    : socket_(dir_.file("redis.sock")), password_(std::move(password)), port_(tcp ? free_local_port() : 0) {}

RedisServer::~RedisServer() { kill(); }

bool RedisServer::start(int timeout_ms) {
  if (pid_ > 0) return true;
  const std::string log = dir_.file("redis.log");
  pid_ = ::fork();
  if (pid_ == 0) {
    std::vector<std::string> args{"redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1", "--unixsocket", socket_, "--unixsocketperm",
                                  "700",          "--save",      "",   "--appendonly", "no",    "--dir",
                                  dir_.path(),    "--logfile",   log,  "--daemonize",  "no"};
    if (!password_.empty()) {
      args.push_back("--requirepass");
      args.push_back(password_);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp("redis-server", argv.data());
    ::_exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    if (Client c = connect(); c && !c->err) {
      Reply r = command(c.get(), {"PING"});
      if (r && r->type == REDIS_REPLY_STATUS) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

void RedisServer::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  ::unlink(socket_.c_str());
}

void RedisServer::pause() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void RedisServer::resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

Client RedisServer::connect() const {
  timeval tv{10, 0};
  Client c(redisConnectUnixWithTimeout(socket_.c_str(), tv));
  if (c && !c->err) {
    redisSetTimeout(c.get(), tv);
    if (!password_.empty()) command(c.get(), {"AUTH", password_});
  }
  return c;
}

std::map<std::string, std::string> fields(redisContext* c, const std::vector<std::string>& args) {
  std::map<std::string, std::string> out;
  Reply r = command(c, args);
  if (!r || r->type != REDIS_REPLY_ARRAY) {
    ADD_FAILURE() << args[0] << " failed: " << (r && r->type == REDIS_REPLY_ERROR ? r->str : "no reply");
    return out;
  }
  for (size_t i = 0; i + 1 < r->elements; i += 2)
    out[std::string(r->element[i]->str, r->element[i]->len)] = std::string(r->element[i + 1]->str, r->element[i + 1]->len);
  return out;
}

int64_t info_number(redisContext* c, const std::string& section, const std::string& name) {
  Reply r = command(c, {"INFO", section});
  if (!r || r->type != REDIS_REPLY_STRING) return -1;
  const std::string text(r->str, r->len);
  const size_t at = text.find("\n" + name + ":");
  if (at == std::string::npos) return -1;
  return std::stoll(text.substr(at + name.size() + 2));
}

LedgerView ledger(redisContext* c, const std::string& key) {
  LedgerView v;
  Reply r = command(c, {"LEDGER", key});
  if (!r || r->type != REDIS_REPLY_ARRAY) {
    ADD_FAILURE() << "LEDGER failed";
    return v;
  }
  for (size_t i = 0; i < r->elements; ++i) {
    std::map<std::string, std::string> e;
    const redisReply* entry = r->element[i];
    for (size_t j = 0; j + 1 < entry->elements; j += 2) e[entry->element[j]->str] = entry->element[j + 1]->str;
    const int64_t amount = std::stoll(e["amount"]);
    v.sum += amount;
    ++v.entries;
    if (e["kind"] == "recharge") {
      v.recharged += amount;
      v.payment_ids.insert(e["id"]);
    }
    if (e["kind"] == "expire") {
      v.expired += amount;
      ++v.expire_entries;
    }
  }
  return v;
}

int Daemon::run_tool(const std::vector<std::string>& args, std::string& output) {
  int pipefd[2];
  if (::pipe(pipefd) != 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipefd[0]);
    ::dup2(pipefd[1], 1);
    ::dup2(pipefd[1], 2);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(pipefd[1]);
  char buf[4096];
  ssize_t n;
  output.clear();
  while ((n = ::read(pipefd[0], buf, sizeof(buf))) > 0) output.append(buf, static_cast<size_t>(n));
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace tollgate::testing
