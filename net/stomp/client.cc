// The STOMP client's socket work: connect, batched writes, reads with poll() deadlines.
#include "net/stomp/client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

namespace mqlab::net::stomp {

std::expected<std::unique_ptr<client>, std::string> client::connect(std::uint16_t port, std::vector<header> extra) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::unexpected("cannot open a socket");
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::unique_ptr<client> c(new client(fd));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    return std::unexpected(fmt::format("cannot connect to 127.0.0.1:{}", port));
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  frame hello{"CONNECT", {{"accept-version", "1.2"}, {"host", "localhost"}, {"login", "guest"}, {"passcode", "guest"}}, {}};
  for (auto& h : extra) hello.headers.push_back(std::move(h));
  c->queue(hello);
  if (!c->flush()) return std::unexpected("the broker closed the connection");
  auto reply = c->next(std::chrono::seconds(10));
  if (!reply) return std::unexpected(reply.error());
  if (!*reply) return std::unexpected("no CONNECTED within 10 s");
  if ((*reply)->command != "CONNECTED") {
    return std::unexpected(fmt::format("{}: {}", (*reply)->command, (*reply)->get("message").value_or("")));
  }
  c->in_.set_version(version::v1_2);
  return c;
}

client::~client() { abort(); }

void client::abort() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool client::flush() {
  for (std::size_t at = 0; at < out_.size();) {
    const ssize_t n = fd_ < 0 ? -1 : ::send(fd_, out_.data() + at, out_.size() - at, MSG_NOSIGNAL);
    if (n <= 0) return false;
    at += static_cast<std::size_t>(n);
  }
  out_.clear();
  return true;
}

std::expected<std::optional<frame>, std::string> client::next(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto f = in_.next();
    if (!f) return std::unexpected("malformed frame: " + f.error().text);
    if (*f) return std::move(*f);
    if (fd_ < 0) return std::unexpected("the connection is closed");
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
    if (ready == 0) return std::optional<frame>{};
    buffer_.resize(256 * 1024);  // a large read keeps a fast consumer to few system calls
    const ssize_t n = ready < 0 ? -1 : ::recv(fd_, buffer_.data(), buffer_.size(), 0);
    if (n <= 0) return std::unexpected("the broker closed the connection");
    in_.feed({buffer_.data(), static_cast<std::size_t>(n)});
  }
}

}  // namespace mqlab::net::stomp
