#include "integration/ops_support.h"

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "integration/daemon_harness.h"

namespace tollgate::testing {

OpsDaemon::OpsDaemon(const std::string& config, const std::string& cwd, const std::string& log_path,
                     const std::vector<std::string>& env)
    : log_path_(log_path) {
  pid_ = ::fork();
  if (pid_ == 0) {
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    for (const std::string& e : env) ::putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> argv = {const_cast<char*>(TOLLGATED_PATH), const_cast<char*>("--config"),
                               const_cast<char*>(config.c_str()), nullptr};
    ::execv(TOLLGATED_PATH, argv.data());
    ::_exit(127);
  }
}

OpsDaemon::~OpsDaemon() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

bool OpsDaemon::running() {
  if (status_ >= 0 || pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

bool OpsDaemon::wait_ping(const std::string& socket, int timeout_ms) {
  return eventually(
      [&] {
        if (!running()) return true;  // stop waiting; checked below
        timeval tv{1, 0};
        Client c(redisConnectUnixWithTimeout(socket.c_str(), tv));
        if (!c || c->err) return false;
        Reply r = command(c.get(), {"PING"});
        return r && r->type == REDIS_REPLY_STATUS;
      },
      timeout_ms) &&
         running();
}

int OpsDaemon::wait_exit(int timeout_ms) {
  if (!eventually([&] { return !running(); }, timeout_ms)) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    status_ = 128 + SIGKILL;
  }
  return status_;
}

int OpsDaemon::stop(int signal, int timeout_ms) {
  if (running()) ::kill(pid_, signal);
  return wait_exit(timeout_ms);
}

std::string OpsDaemon::log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace tollgate::testing
