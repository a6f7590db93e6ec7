// STOMP server transport: the accept loop, a reading coroutine and a timer per client, one write
// in flight per socket, and a timer at the JMS core's next deadline.
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include "net/stomp/server.h"

#include <chrono>
#include <unordered_map>

#include <boost/asio.hpp>

#include "net/log.h"
#include "net/stomp/connection.h"
#include "net/tcp.h"

namespace mqlab::net::stomp {

namespace asio = boost::asio;
using asio::ip::tcp;
using clock = std::chrono::system_clock;  // JMSTimestamp and STOMP's expires are wall-clock ms

namespace {

broker::instant now() {
  return {std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now().time_since_epoch()).count()};
}

clock::time_point when(broker::instant at) {
  return at == broker::instant::never() ? clock::time_point::max()
                                        : clock::time_point(std::chrono::duration_cast<clock::duration>(std::chrono::nanoseconds(at.ns)));
}

constexpr std::size_t read_chunk = 256 * 1024;
/// How long a finished connection may take to receive its last frames (an ERROR) before it is cut.
constexpr std::chrono::seconds linger{5};

}  // namespace

struct peer {
  peer(tcp::socket s, service& svc, bool loopback)
      : socket(std::move(s)), conn(svc, loopback, now()), timer(socket.get_executor()), room(socket.get_executor()) {}
  tcp::socket socket;
  connection conn;
  outbox out;
  asio::system_timer timer;  // heart-beats, the connect timeout, the linger of a finished connection
  broker::instant timer_at = broker::instant::never();
  asio::steady_timer room;   // while too much output waits: until a write completes
  bool closed = false;
  std::string name;
};

struct server::impl {
  impl(asio::io_context& io_, service& svc_, listen_options listen_)
      : io(io_), svc(svc_), listen(std::move(listen_)), deadline(io_) {}

  asio::io_context& io;
  service& svc;
  listen_options listen;
  std::shared_ptr<tcp::acceptor> acceptor;
  std::uint16_t bound_port = 0;
  asio::system_timer deadline;
  broker::instant deadline_at = broker::instant::never();
  std::unordered_map<const connection*, std::shared_ptr<peer>> peers;
  bool stopping = false;
  std::vector<char> read_buffer = std::vector<char>(read_chunk);  // shared by every connection (read_ready)

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> read_loop(std::shared_ptr<peer> p);
  asio::awaitable<void> timer_loop(std::shared_ptr<peer> p);
  asio::awaitable<void> deadline_loop();
  /// After anything changed the connections or the core: writes what they have, re-arms timers.
  void settle(const std::shared_ptr<peer>& p);
  void flush(const std::shared_ptr<peer>& p);
  void flush_touched();
  void close(const std::shared_ptr<peer>& p);
};

asio::awaitable<void> server::impl::accept_loop() {
  co_await accept_connections(*acceptor, "STOMP listener", [this] { return stopping; }, [this](tcp::socket socket) {
    boost::system::error_code ec;
    const auto remote = socket.remote_endpoint(ec);
    if (ec) return;
    auto p = std::make_shared<peer>(std::move(socket), svc, remote.address().is_loopback());
    p->name = fmt::format("{}:{}", remote.address().to_string(), remote.port());
    peers[&p->conn] = p;
    log(log_level::debug, "accepting STOMP connection {}", p->name);
    asio::co_spawn(io, read_loop(p), log_escaped{"STOMP connection " + p->name});
    asio::co_spawn(io, timer_loop(p), log_escaped{"STOMP connection timer " + p->name});
  });
}

asio::awaitable<void> server::impl::read_loop(std::shared_ptr<peer> p) {
  std::string failure;
  try {
    while (!p->closed && !p->conn.done()) {
      while (p->out.busy() && p->conn.output().size() > listen.max_unsent_bytes && !p->closed) {
        boost::system::error_code ignored;  // not read from until the client takes some of its output
        p->room.expires_after(std::chrono::seconds(1));
        co_await p->room.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
      }
      boost::system::error_code ec;
      const std::size_t n = co_await read_ready(p->socket, read_buffer, ec);
      if (ec || p->closed) break;
      p->conn.receive({read_buffer.data(), n}, now());
      settle(p);
    }
  } catch (const std::exception& e) {
    failure = e.what();
  }
  if (!failure.empty()) {
    log(log_level::error, "closing STOMP connection {}: internal error: {}", p->name, failure);
    close(p);
  } else if (p->conn.done()) {
    if (!p->conn.end_reason().empty()) log(log_level::warn, "closing STOMP connection {}: {}", p->name, p->conn.end_reason());
    flush(p);  // the last frames (an ERROR, a RECEIPT) go out, then it closes
  } else if (!p->closed) {
    log(log_level::debug, "STOMP connection {} closed by the client", p->name);
    close(p);
  }
}

asio::awaitable<void> server::impl::timer_loop(std::shared_ptr<peer> p) {
  while (!p->closed) {
    const broker::instant next = p->conn.tick(now());
    flush_touched();
    if (p->conn.done()) {
      flush(p);
      p->timer.expires_after(linger);  // a client that does not read its ERROR is cut after this
      boost::system::error_code ignored;
      co_await p->timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
      if (!p->closed) log(log_level::warn, "closing STOMP connection {}: {}", p->name, p->conn.end_reason());
      close(p);
      break;
    }
    p->timer_at = next;
    p->timer.expires_at(when(next));
    boost::system::error_code ignored;
    co_await p->timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
}

asio::awaitable<void> server::impl::deadline_loop() {
  while (!stopping) {
    deadline_at = svc.core().next_deadline();
    deadline.expires_at(when(deadline_at));
    boost::system::error_code ignored;
    co_await deadline.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    if (stopping) break;
    svc.advance(now());
    flush_touched();
  }
}

void server::impl::settle(const std::shared_ptr<peer>& p) {
  flush_touched();
  // CONNECT may have started heart-beats sooner than the connect timeout the timer waits for.
  if (p->conn.done() || p->conn.tick(now()) < p->timer_at) p->timer.cancel();
  if (svc.core().next_deadline() < deadline_at) deadline.cancel();
}

void server::impl::flush_touched() {
  for (connection* c : svc.take_touched()) {
    if (auto it = peers.find(c); it != peers.end()) {
      const std::shared_ptr<peer> p = it->second;  // a copy: flush() may close it and erase the map's
      flush(p);
    }
  }
}

void server::impl::flush(const std::shared_ptr<peer>& p) {
  if (p->out.busy() || p->closed) return;
  if (!p->conn.output().empty()) p->conn.output_taken(now());
  const bool started = p->out.send(p->socket, p->conn.output(), [this, p](boost::system::error_code ec) {
    if (ec) return close(p);
    p->room.cancel();
    p->conn.output_written(now());  // automatic acknowledgements: may bring more deliveries
    flush_touched();
    flush(p);
  });
  if (!started && p->conn.done()) close(p);
}

void server::impl::close(const std::shared_ptr<peer>& caller) {
  const std::shared_ptr<peer> p = caller;  // the caller's may be the map's, erased below
  if (p->closed) return;
  p->closed = true;
  close_socket(p->socket);
  p->timer.cancel();
  p->room.cancel();
  p->conn.closed(now());  // the core takes back what it held
  peers.erase(&p->conn);
  svc.forget(p->conn);
  flush_touched();
}

server::server(asio::io_context& io, service& s, listen_options listen)
    : impl_(std::make_unique<impl>(io, s, std::move(listen))) {}

server::~server() = default;

std::expected<void, std::string> server::start() {
  auto& s = *impl_;
  auto acceptor = open_listener(s.io, s.listen.bind, s.listen.port);
  if (!acceptor) return std::unexpected(acceptor.error());
  s.acceptor = *acceptor;
  s.bound_port = s.acceptor->local_endpoint().port();
  log(log_level::info, "STOMP listening on {}:{}", s.listen.bind, s.bound_port);
  asio::co_spawn(s.io, s.accept_loop(), asio::detached);
  asio::co_spawn(s.io, s.deadline_loop(), asio::detached);
  return {};
}

std::uint16_t server::port() const { return impl_->bound_port; }

void server::stop() {
  auto& s = *impl_;
  s.stopping = true;
  if (s.acceptor) {
    boost::system::error_code ignored;
    s.acceptor->close(ignored);
  }
  s.deadline.cancel();
  std::vector<std::shared_ptr<peer>> all;
  for (const auto& [c, p] : s.peers) all.push_back(p);
  for (const auto& p : all) s.close(p);
}

std::size_t server::connection_count() const { return impl_->peers.size(); }

}  // namespace mqlab::net::stomp
