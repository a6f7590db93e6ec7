// A STOMP 1.2 client over a loopback TCP socket, for net mode's producers and consumers and the
// side-by-side benchmark: frames queued and written in batches, frames read waiting up to a
// deadline (0: only what the socket already has). Plain POSIX sockets: the callers own their
// loops and threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/stomp/frame.h"

namespace mqlab::net::stomp {

class client {
 public:
  /// Connects to 127.0.0.1:port and logs in as guest, with `extra` CONNECT headers (client-id);
  /// an ERROR in reply or no CONNECTED within 10 s is the error.
  static std::expected<std::unique_ptr<client>, std::string> connect(std::uint16_t port, std::vector<header> extra = {});
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  void queue(const frame& f) { encode(f, version::v1_2, out_); }
  /// Writes everything queued; false once the connection is gone.
  bool flush();
  /// The next frame from the broker, waiting up to `timeout`; nullopt when none came in time;
  /// an error when the connection closed or sent something unreadable.
  std::expected<std::optional<frame>, std::string> next(std::chrono::milliseconds timeout);
  /// Closes the socket without DISCONNECT, as a crashed client would.
  void abort();

 private:
  explicit client(int fd) : fd_(fd) {}
  int fd_ = -1;
  decoder in_;
  std::string out_;
  std::vector<char> buffer_;
};

}  // namespace mqlab::net::stomp
