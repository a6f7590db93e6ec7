// Kafka server transport: one acceptor per broker, a reading coroutine per client, one write
// in flight per socket, and a timer at the service's next deadline (group sessions, long polls).
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include "net/kafka/server.h"

#include <chrono>
#include <map>
#include <set>
#include <unordered_map>

#include <boost/asio.hpp>

#include "net/byte_order.h"
#include "net/kafka/connection.h"
#include "net/kafka/log_store.h"
#include "net/kafka/record_batch.h"
#include "net/kafka/replica_fetch.h"
#include "net/log.h"
#include "net/storage/flusher.h"
#include "net/tcp.h"

namespace mqlab::net::kafka {

namespace asio = boost::asio;
using asio::ip::tcp;
using clock = std::chrono::system_clock;  // record timestamps and sessions are wall-clock ms

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock::now().time_since_epoch()).count();
}

constexpr std::size_t read_chunk = 256 * 1024;

}  // namespace

struct peer {
  peer(tcp::socket s, service& svc, std::uint64_t id, std::int32_t node)
      : socket(std::move(s)), conn(svc, id, node), room(socket.get_executor()) {}
  tcp::socket socket;
  connection conn;
  outbox out;
  storage::held_output held;  // replies waiting for an fsync
  bool closed = false;
  bool vetted = false;  // whether it is one of our own followers' links was checked
  std::size_t reserved = 0;  // queued.max.request.bytes held for the request under way
  asio::steady_timer room;   // while muted: waits for a finished request to free some
  tcp::endpoint remote;
  std::string name;
};

struct server::impl {
  impl(asio::io_context& io_, service& svc_, listen_options listen_)
      : io(io_), svc(svc_), listen(std::move(listen_)), deadline(io_), idle_sweep(io_) {}

  asio::io_context& io;
  service& svc;
  listen_options listen;
  node_listeners listeners;  // by broker
  asio::system_timer deadline;
  std::int64_t deadline_at = INT64_MAX;
  asio::steady_timer idle_sweep;
  std::unordered_map<std::uint64_t, std::shared_ptr<peer>> peers;
  std::uint64_t next_id = 1;
  bool stopping = false;
  std::vector<char> read_buffer = std::vector<char>(read_chunk);  // shared by every connection (read_ready)
  std::map<std::int32_t, std::uint64_t> queued;  // queued.max.request.bytes reserved, by broker
  std::set<std::shared_ptr<peer>> muted;          // connections waiting for room
  /// Reserves what the connection's request under way needs; false if there is no room yet.
  bool reserve(peer& p);
  void release(peer& p);
  log_store* store = nullptr;
  storage::flusher* flusher = nullptr;
  /// Writes what the requests changed; a failure is logged (the data stays in memory).
  void persist();

  asio::awaitable<void> accept_loop(std::int32_t node);
  asio::awaitable<void> read_loop(std::shared_ptr<peer> p);
  asio::awaitable<void> deadline_loop();
  /// Closes connections idle past connections.max.idle.ms, looking a tenth of it apart.
  asio::awaitable<void> idle_loop();
  /// What `follower` copies from `leader`, fetch after fetch (or round after round).
  asio::awaitable<void> replica_fetcher(std::int32_t follower, std::int32_t leader);
  enum class fetched { records_or_none, nothing_to_follow, failed };
  /// One fetch round trip from `follower` to `leader` over their link; `response` is the
  /// fetcher's own buffer, kept from one fetch to the next.
  asio::awaitable<fetched> fetch_from(std::int32_t follower, std::int32_t leader, std::int32_t correlation,
                                      std::vector<char>& response);
  /// Waits on the pair's timer for `ms` (max: until fetch_round(), kill() or restart() wake it).
  asio::awaitable<void> pause_fetcher(std::int32_t follower, std::int32_t leader, std::int64_t ms);
  void wake_fetchers();
  bool rounds() const { return listen.followers == listen_options::replication::rounds; }
  void drop_link(std::int32_t follower, std::int32_t leader);
  /// Before its first request: a connection whose far end is one of our own followers' link
  /// sockets may fetch as a replica; the operating system vouches that the port is ours.
  void vet(peer& p);
  // Each (follower, leader) fetcher's pause: between rounds, after a failure, with nothing to follow.
  std::map<std::pair<std::int32_t, std::int32_t>, std::unique_ptr<asio::steady_timer>> fetch_timers;
  // Followers' connections to their leaders, [follower][leader]; closed when either side is killed.
  std::map<std::pair<std::int32_t, std::int32_t>, std::shared_ptr<tcp::socket>> links;
  void route_completions();
  void flush(const std::shared_ptr<peer>& p);
  void close(const std::shared_ptr<peer>& p);
};

asio::awaitable<void> server::impl::accept_loop(std::int32_t node) {
  const std::shared_ptr<tcp::acceptor> listening = listeners.acceptor(static_cast<std::size_t>(node));
  co_await accept_connections(*listening, fmt::format("Kafka broker {} listener", node), [this] { return stopping; },
                              [this, node](tcp::socket socket) {
                                boost::system::error_code ec;
                                const auto remote = socket.remote_endpoint(ec);
                                if (ec) return;
                                auto p = std::make_shared<peer>(std::move(socket), svc, next_id++, node);
                                p->remote = remote;
                                p->name = fmt::format("{}:{} (broker {})", remote.address().to_string(), remote.port(), node);
                                p->conn.accepted(now_ms());
                                peers[p->conn.id()] = p;
                                log(log_level::debug, "accepting Kafka connection {}", p->name);
                                asio::co_spawn(io, read_loop(p), log_escaped{"Kafka connection " + p->name});
                              });
}

asio::awaitable<void> server::impl::read_loop(std::shared_ptr<peer> p) {
  std::string failure;
  try {
    while (!p->closed && !p->conn.done()) {
      boost::system::error_code ec;
      const std::size_t n = co_await read_ready(p->socket, read_buffer, ec);
      if (ec) break;
      if (!p->vetted) vet(*p);
      p->conn.receive({read_buffer.data(), n}, now_ms());
      while (!reserve(*p) && !p->closed && !stopping) {
        boost::system::error_code ignored;  // not read from until a finished request frees room
        muted.insert(p);
        p->room.expires_after(std::chrono::seconds(1));
        co_await p->room.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
        muted.erase(p);
      }
      persist();
      route_completions();
      flush(p);
    }
  } catch (const std::exception& e) {
    failure = e.what();
  }
  if (!failure.empty()) {
    // One place ends a connection whatever stopped it: logged, its waiting requests forgotten, closed.
    log(log_level::error, "closing Kafka connection {}: internal error: {}", p->name, failure);
    close(p);
  } else if (p->conn.done() && !p->conn.end_reason().empty()) {
    log(log_level::warn, "closing Kafka connection {}: {}", p->name, p->conn.end_reason());
  } else if (!p->closed) {
    log(log_level::debug, "Kafka connection {} closed by the client", p->name);
    close(p);
  }
}

void server::impl::route_completions() {
  for (auto& c : svc.take_completions()) {
    auto it = peers.find(c.to.connection);
    if (it == peers.end()) continue;
    it->second->conn.complete(c.to.slot, std::move(c.body));
    flush(it->second);
  }
  // A new long poll or group session may end sooner than the timer is set for.
  if (svc.next_deadline() < deadline_at) deadline.cancel();
}

void server::impl::persist() {
  if (store == nullptr) return;
  if (auto ok = store->persist(); !ok) log(log_level::error, "cannot write the Kafka logs: {}", ok.error());
}

void server::impl::flush(const std::shared_ptr<peer>& p) {
  if (p->out.busy() || p->closed) return;
  // Any reply may acknowledge records not yet synced: under `always` all of them wait.
  std::string& output = flusher == nullptr ? p->conn.output()
                                           : p->held.sendable(p->conn.output(), *flusher, flusher->holding(),
                                                              [this, p] { flush(p); });
  const bool started = p->out.send(p->socket, output, [this, p](boost::system::error_code ec) {
    if (ec) close(p);
    else flush(p);
  });
  if (!started && p->conn.done() && p->held.empty()) close(p);
}

bool server::impl::reserve(peer& p) {
  const std::size_t need = p.conn.partial_request_size();
  if (need == p.reserved) return true;
  release(p);
  std::uint64_t& used = queued[p.conn.node()];
  if (need > 0 && used + need > listen.queued_max_request_bytes) return false;
  used += need;
  p.reserved = need;
  return true;
}

void server::impl::release(peer& p) {
  if (p.reserved == 0) return;
  queued[p.conn.node()] -= p.reserved;
  p.reserved = 0;
  for (const auto& m : muted) m->room.cancel();  // they look again
}

void server::impl::close(const std::shared_ptr<peer>& p) {
  if (p->closed) return;
  p->closed = true;
  release(*p);
  p->room.cancel();
  svc.forget(p->conn.id());
  close_socket(p->socket);
  peers.erase(p->conn.id());
}

asio::awaitable<void> server::impl::deadline_loop() {
  while (!stopping) {
    deadline_at = svc.next_deadline();
    deadline.expires_at(deadline_at == INT64_MAX ? clock::time_point::max()
                                                 : clock::time_point(std::chrono::milliseconds(deadline_at)));
    boost::system::error_code ec;
    co_await deadline.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopping) break;
    svc.advance(now_ms());
    persist();
    route_completions();
  }
}

asio::awaitable<void> server::impl::idle_loop() {
  const std::int64_t max_idle = listen.connections_max_idle_ms;
  while (!stopping) {
    idle_sweep.expires_after(std::chrono::milliseconds(std::max<std::int64_t>(max_idle / 10, 1)));
    boost::system::error_code ec;
    co_await idle_sweep.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopping) break;
    std::vector<std::shared_ptr<peer>> expired;
    for (const auto& [id, p] : peers) {
      p->conn.expire_if_idle(now_ms(), max_idle);
      if (p->conn.done()) expired.push_back(p);
    }
    for (const auto& p : expired) flush(p);  // closes it; its read loop logs the reason
  }
}

void server::impl::vet(peer& p) {
  p.vetted = true;
  for (const auto& [ends, socket] : links) {
    boost::system::error_code ec;
    if (socket->local_endpoint(ec) == p.remote && !ec) svc.trust_replica_link(p.conn.id());
  }
}

void server::impl::drop_link(std::int32_t follower, std::int32_t leader) {
  auto it = links.find({follower, leader});
  if (it == links.end()) return;
  close_socket(*it->second);
  links.erase(it);
}

asio::awaitable<server::impl::fetched> server::impl::fetch_from(std::int32_t follower, std::int32_t leader,
                                                                std::int32_t correlation, std::vector<char>& response) {
  const auto positions = svc.follower_positions(follower, leader);
  if (positions.empty()) co_return fetched::nothing_to_follow;
  boost::system::error_code ec;
  // A local owner: kill() may erase the map's entry while this coroutine waits on the socket.
  std::shared_ptr<tcp::socket> socket = links[{follower, leader}];
  if (!socket) {
    socket = links[{follower, leader}] = std::make_shared<tcp::socket>(io);
    const auto& to = svc.address(leader);
    co_await socket->async_connect({asio::ip::make_address(to.host), to.port}, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return fetched::failed;
    socket->set_option(tcp::no_delay(true), ec);
  }
  const auto wait_ms = rounds() ? 0 : svc.options().replica_fetch_wait_max_ms;
  const std::string request = replica_fetch_request(follower, correlation, positions, static_cast<std::int32_t>(wait_ms));
  co_await asio::async_write(*socket, asio::buffer(request), asio::redirect_error(asio::use_awaitable, ec));
  char size_bytes[4];
  if (!ec) co_await asio::async_read(*socket, asio::buffer(size_bytes), asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return fetched::failed;
  const auto size = load_be<std::int32_t>(size_bytes);
  if (size < 4 || size > max_request_size) co_return fetched::failed;
  // A buffer of its own per fetch would be zeroed, and one this large mapped afresh and given
  // back each time: page faults for every byte a follower copies.
  if (response.size() < static_cast<std::size_t>(size)) response.resize(static_cast<std::size_t>(size));
  co_await asio::async_read(*socket, asio::buffer(response.data(), static_cast<std::size_t>(size)),
                            asio::redirect_error(asio::use_awaitable, ec));
  if (ec || stopping || !svc.core().broker_up(follower)) co_return fetched::failed;
  const std::string_view body(response.data(), static_cast<std::size_t>(size));
  try {
    for (const auto& part : read_fetch_response(body.substr(4))) {
      if (part.error != broker::kafka::error_code::none || part.records.empty()) continue;
      auto records = decode_record_set(part.records, now_ms());
      if (records) svc.replicated(follower, part.topic, part.partition, std::move(*records), now_ms());
    }
    persist();
  } catch (const wire_error& e) {
    log(log_level::warn, "broker {} replicating from broker {}: malformed fetch response: {}", follower, leader, e.text);
    co_return fetched::failed;
  }
  route_completions();
  co_return fetched::records_or_none;
}

asio::awaitable<void> server::impl::pause_fetcher(std::int32_t follower, std::int32_t leader, std::int64_t ms) {
  if (stopping) co_return;  // a pause now would keep the event loop running after stop()
  asio::steady_timer& pause = *fetch_timers.at({follower, leader});
  if (ms == INT64_MAX) pause.expires_at(asio::steady_timer::time_point::max());
  else pause.expires_after(std::chrono::milliseconds(ms));
  boost::system::error_code ignored;
  co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
}

void server::impl::wake_fetchers() {
  for (auto& [pair, timer] : fetch_timers) timer->cancel();
}

asio::awaitable<void> server::impl::replica_fetcher(std::int32_t follower, std::int32_t leader) {
  const auto& o = svc.options();
  std::int32_t correlation = 0;
  std::vector<char> response;  // at most max_request_size
  while (!stopping) {
    if (rounds()) co_await pause_fetcher(follower, leader, INT64_MAX);
    if (stopping) break;
    if (!svc.core().broker_up(follower) || !svc.core().broker_up(leader)) {
      drop_link(follower, leader);
      if (!rounds()) co_await pause_fetcher(follower, leader, INT64_MAX);  // until a restart
      continue;
    }
    const fetched f = co_await fetch_from(follower, leader, ++correlation, response);
    if (f == fetched::failed) drop_link(follower, leader);
    if (rounds() || f == fetched::records_or_none) continue;
    // Kafka's fetcher backs off after an error; one following nothing here waits for a
    // leadership change (a kill or a restart wakes it) or looks again after a fetch's wait.
    co_await pause_fetcher(follower, leader, f == fetched::failed ? o.replica_fetch_backoff_ms : o.replica_fetch_wait_max_ms);
  }
}

server::server(asio::io_context& io, service& s, listen_options listen)
    : impl_(std::make_unique<impl>(io, s, std::move(listen))) {}

server::~server() = default;

std::expected<void, std::string> server::start() {
  auto& s = *impl_;
  for (std::int32_t node = 0; node < s.listen.brokers; ++node) {
    const auto port = static_cast<std::uint16_t>(s.listen.first_port == 0 ? 0 : s.listen.first_port + node);
    if (auto ok = s.listeners.open(s.io, s.listen.bind, static_cast<std::size_t>(node), port); !ok) return ok;
    const auto n = static_cast<std::size_t>(node);
    const auto [host, advertised_port] =
        n < s.listen.advertised.size() ? s.listen.advertised[n] : std::pair{s.listen.bind, ports()[n]};
    s.svc.advertise({node, host, advertised_port});
    log(log_level::info, "Kafka broker {} listening on {}:{}, advertised as {}:{}", node, s.listen.bind, ports()[n], host,
        advertised_port);
  }
  for (std::int32_t node = 0; node < s.listen.brokers; ++node) asio::co_spawn(s.io, s.accept_loop(node), asio::detached);
  asio::co_spawn(s.io, s.deadline_loop(), asio::detached);
  asio::co_spawn(s.io, s.idle_loop(), asio::detached);
  if (s.listen.brokers > 1) {
    // Followers copy from their leaders as Kafka's do: Fetch requests over TCP, to the leader's port.
    s.svc.replicate_over_network();
    for (std::int32_t follower = 0; follower < s.listen.brokers; ++follower) {
      for (std::int32_t leader = 0; leader < s.listen.brokers; ++leader) {
        if (leader == follower) continue;
        s.fetch_timers[{follower, leader}] = std::make_unique<asio::steady_timer>(s.io);
        asio::co_spawn(s.io, s.replica_fetcher(follower, leader), asio::detached);
      }
    }
  }
  return {};
}

void server::keep_on_disk(log_store& store, storage::flusher& flusher) {
  impl_->store = &store;
  impl_->flusher = &flusher;
}

std::vector<std::uint16_t> server::ports() const { return impl_->listeners.ports(); }

bool server::kill(std::int32_t node) {
  auto& s = *impl_;
  if (node < 0 || node >= static_cast<std::int32_t>(s.listeners.size()) || !s.svc.core().broker_up(node)) return false;
  log(log_level::warn, "killing Kafka broker {}", node);
  s.listeners.close(static_cast<std::size_t>(node));
  std::vector<std::shared_ptr<peer>> victims;
  for (const auto& [id, p] : s.peers) {
    if (p->conn.node() == node) victims.push_back(p);
  }
  for (const auto& p : victims) s.close(p);
  for (std::int32_t other = 0; other < s.listen.brokers; ++other) s.drop_link(node, other);
  s.svc.crash(node, now_ms());
  s.persist();
  s.route_completions();
  if (!s.rounds()) s.wake_fetchers();  // leaders moved
  return true;
}

std::expected<void, std::string> server::restart(std::int32_t node) {
  auto& s = *impl_;
  if (node < 0 || node >= static_cast<std::int32_t>(s.listeners.size())) {
    return std::unexpected(fmt::format("there is no broker {}", node));
  }
  if (s.svc.core().broker_up(node)) return std::unexpected(fmt::format("broker {} is running", node));
  const auto& address = s.svc.address(node);
  if (auto ok = s.listeners.open(s.io, s.listen.bind, static_cast<std::size_t>(node), address.port); !ok) return ok;
  s.svc.restart(node, now_ms());
  s.persist();
  asio::co_spawn(s.io, s.accept_loop(node), asio::detached);
  if (!s.rounds()) s.wake_fetchers();
  log(log_level::info, "Kafka broker {} restarted on {}:{}", node, address.host, address.port);
  return {};
}

void server::fetch_round() { impl_->wake_fetchers(); }

void server::stop() {
  auto& s = *impl_;
  if (s.stopping) return;
  s.stopping = true;
  s.listeners.close_all();
  s.deadline.cancel();
  s.idle_sweep.cancel();
  s.wake_fetchers();
  std::vector<std::shared_ptr<peer>> all;
  for (const auto& [id, p] : s.peers) all.push_back(p);
  for (const auto& p : all) s.close(p);
  while (!s.links.empty()) s.drop_link(s.links.begin()->first.first, s.links.begin()->first.second);
}

std::size_t server::connection_count() const { return impl_->peers.size(); }

}  // namespace mqlab::net::kafka
