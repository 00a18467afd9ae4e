// A blocking connection to one tollgated socket for the `tollgate` CLI, over
// hiredis' sync API. Turns connection trouble into operator sentences
// (cli/error_messages.h) and replies into cli::Value.
// Not thread-safe; owns its socket.
#pragma once

#include <hiredis/hiredis.h>

#include <expected>
#include <memory>
#include <string>

#include "cli/reply_value.h"
#include "cli/requests.h"

namespace tollgate::cli {

class Client {
 public:
  // Connects to the Unix socket at `path`. `admin` says it is the admin
  // socket, whose refusals are worded for the operator (`uid` is ours).
  [[nodiscard]] static std::expected<Client, std::string> connect(const std::string& path, bool admin,
                                                                  unsigned uid);

  // Sends one command and waits for its reply (an error reply is a Value,
  // not a failure). Fails with a printable sentence when the connection breaks.
  [[nodiscard]] std::expected<Value, std::string> call(const Arguments& arguments);
  // Waits, without a time limit, for the next reply the daemon pushes
  // (EVENTS FOLLOW). Fails with a printable sentence when the connection ends.
  [[nodiscard]] std::expected<Value, std::string> next_push();

 private:
  struct Free {
    void operator()(redisContext* context) const { redisFree(context); }
  };
  Client(redisContext* context, std::string path, bool admin, unsigned uid)
      : context_(context), path_(std::move(path)), admin_(admin), uid_(uid) {}

  // A reply the daemon sent before we asked (the admin socket's refusal).
  std::expected<Value, std::string> read_unsolicited_error();
  std::string broken_connection_message();

  std::unique_ptr<redisContext, Free> context_;
  std::string path_;
  bool admin_ = false;
  unsigned uid_ = 0;
};

}  // namespace tollgate::cli
