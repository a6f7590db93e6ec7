// AMQP server transport: accept loop, one reading coroutine per client, one write in flight per
// socket, timers for heartbeats, message expiry and shutdown.
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include "net/amqp/server.h"

#include <chrono>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include <boost/asio.hpp>

#include <fmt/format.h>

#include "net/amqp/message_store.h"
#include "net/amqp/upstream.h"
#include "net/log.h"
#include "net/memory_alarm.h"
#include "net/storage/flusher.h"
#include "net/tcp.h"

namespace mqlab::net::amqp {

namespace asio = boost::asio;
using asio::ip::tcp;
using clock = std::chrono::steady_clock;

namespace {

instant now() {
  return {std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now().time_since_epoch()).count()};
}

clock::time_point to_time_point(instant t) {
  return t == instant::never() ? clock::time_point::max() : clock::time_point(std::chrono::nanoseconds(t.ns));
}

constexpr auto housekeeping_period = std::chrono::milliseconds(100);
constexpr auto shutdown_grace = std::chrono::seconds(1);
constexpr std::size_t read_chunk = 64 * 1024;
constexpr auto coalesce_window = std::chrono::microseconds(100);
constexpr std::size_t coalesce_bytes = 32 * 1024;

}  // namespace

/// A client socket and its protocol state; shared by its reader coroutine and write handlers.
struct peer {
  peer(tcp::socket s, broker::amqp::broker& core, const server_options& options, bool loopback, std::uint32_t node)
      : socket(std::move(s)), conn(core, options, loopback, broker::node_id{node}), resume(socket.get_executor()),
        coalesce(socket.get_executor()) {}
  tcp::socket socket;
  connection conn;
  outbox out;
  bool closed = false, coalescing = false;
  asio::steady_timer resume;    // the reader waits on it while the memory alarm or credit flow pauses it
  asio::steady_timer coalesce;  // holds back a small write that follows another closely
  clock::time_point last_write{};
  std::optional<broker::amqp::connection_id> registered;
  std::string name;
  std::unique_ptr<cluster_link> link;  // member mode only
  std::uint32_t held = 0;  // metadata changes the other nodes have not applied yet: output waits
  bool owed_durability = false;     // a confirm went into the output while writes wait for an fsync
  storage::held_output disk_held;   // output waiting for the fsync its confirms promise
};

struct server::impl {
  impl(asio::io_context& io_, broker::amqp::broker& core_, server_options options_, listen_options listen_)
      : io(io_), core(core_), options(std::move(options_)), listen(std::move(listen_)),
        housekeeping(io_), expiry(io_) {}

  asio::io_context& io;
  broker::amqp::broker& core;
  server_options options;
  listen_options listen;
  node_listeners listeners;  // the one listener, from start(); it keeps its port across a restart
  asio::steady_timer housekeeping, expiry;
  instant expiry_at = instant::never();
  std::unordered_set<std::shared_ptr<peer>> peers;
  std::unordered_map<broker::amqp::connection_id, std::shared_ptr<peer>> by_id;
  std::vector<std::shared_ptr<peer>> dirty;
  memory_alarm alarm{listen.memory_high_watermark};
  bool stopping = false, blocked = false, flush_posted = false;
  bool crashing = false;  // kill() is closing every socket: no goodbyes
  message_store* store = nullptr;
  storage::flusher* flusher = nullptr;
  /// Writes what the core journaled; a failure is logged (the messages stay in memory).
  void persist();
  /// The bytes a connection may send now: its output, behind what waits for the disk.
  std::string& sendable(const std::shared_ptr<peer>& p);

  asio::awaitable<void> accept_loop();
  /// Serves one connection and ends it in one place, whatever stopped it: logged, the socket
  /// closed, its unacked messages requeued.
  asio::awaitable<void> read_loop(std::shared_ptr<peer> p);
  asio::awaitable<void> read_until_closed(const std::shared_ptr<peer>& p);
  std::vector<char> read_buffer = std::vector<char>(read_chunk);  // shared by every connection (read_ready)
  asio::awaitable<void> housekeeping_loop();
  asio::awaitable<void> expiry_loop();
  void after_input(const std::shared_ptr<peer>& p);
  void dispatch_events();
  void flush_dirty();
  void check_memory();
  void flush(const std::shared_ptr<peer>& p);
  void close(const std::shared_ptr<peer>& p);
  /// Marks a connection's output for the next flush.
  void touch(const std::shared_ptr<peer>& p);
  void schedule_flush();
  std::uint32_t self() const { return listen.member ? listen.member->self.value : 0; }
  bool in_flow(const peer& p) const {
    return p.registered && listen.member && listen.member->in_flow && listen.member->in_flow(*p.registered);
  }
  class relay_link;
};

/// Member mode: one client connection's way to the other nodes. Channels handed over to a node
/// share one upstream AMQP connection there; what comes back goes straight to the client.
class server::impl::relay_link final : public cluster_link {
 public:
  relay_link(server::impl& s, const std::shared_ptr<peer>& p) : s_(s), peer_(p) {}
  /// A crashing node's upstreams vanish; otherwise they say goodbye, so the owners close them
  /// as cleanly as the client closed here (unacked deliveries go back either way).
  ~relay_link() override {
    for (auto& [node, up] : upstreams_) {
      if (s_.crashing) up->close();
      else up->finish();
    }
  }

  std::optional<broker::node_id> elsewhere(std::string_view vhost, std::string_view queue) override {
    const auto owner = s_.core.owner_of(vhost, queue);
    const broker::node_id self = s_.listen.member->self;
    if (!owner || *owner == self || !s_.core.reaches(self, *owner)) return std::nullopt;
    return owner;
  }

  void relay(broker::node_id to, std::uint16_t channel, std::string frames, std::uint32_t replies) override {
    auto it = upstreams_.find(to.value);
    if (it == upstreams_.end()) it = upstreams_.emplace(to.value, open(to)).first;
    it->second->send(channel, frames, replies);
  }

  /// The client hears nothing more (its -ok included) until every node has the change.
  void replicate(std::string_view vhost, const method& change) override {
    auto p = peer_.lock();
    ++p->held;
    s_.listen.member->replicate(vhost, change, [this, weak = peer_] {
      auto p = weak.lock();
      if (!p || p->held == 0) return;
      if (--p->held == 0) s_.touch(p);
    });
  }

  /// Node `node` is out of reach: its upstream closes, and the client's channels relayed there.
  void lose(broker::node_id node) {
    auto it = upstreams_.find(node.value);
    auto p = peer_.lock();
    if (it == upstreams_.end() || !p) return;
    it->second->close();
    upstreams_.erase(it);
    p->conn.relay_lost(node);
    s_.touch(p);
  }

 private:
  std::unique_ptr<upstream> open(broker::node_id to) {
    std::weak_ptr<peer> weak = peer_;
    auto up = std::make_unique<upstream>(s_.io, upstream_handlers{
        .frames = [this, weak](std::string_view frames) {
          if (auto p = weak.lock(); p && !p->closed) {
            p->conn.output().append(frames);
            s_.touch(p);
          }
        },
        .lost = [this, weak, to] {
          // Runs from the upstream's own handler: the connection forgets it after the handler
          // returns. This link lives as long as its peer is open.
          asio::post(s_.io, [this, weak, to] {
            if (auto p = weak.lock(); p && !p->closed) lose(to);
          });
        }});
    const auto& user = s_.options.users.front();
    const auto p = peer_.lock();
    up->open(s_.listen.member->amqp_port(to),
             upstream_login{s_.listen.member->host, user.name, user.password, p->conn.vhost(), p->conn.frame_max(),
                            s_.listen.member->self});
    return up;
  }

  server::impl& s_;
  std::weak_ptr<peer> peer_;
  std::map<std::uint32_t, std::unique_ptr<upstream>> upstreams_;
};

void server::impl::touch(const std::shared_ptr<peer>& p) {
  dirty.push_back(p);
  schedule_flush();
}

void server::impl::schedule_flush() {
  if (dirty.empty() || flush_posted) return;
  flush_posted = true;
  asio::post(io, [this] { flush_dirty(); });
}

asio::awaitable<void> server::impl::accept_loop() {
  const std::shared_ptr<tcp::acceptor> acceptor = listeners.acceptor(0);
  co_await accept_connections(*acceptor, "AMQP listener", [this] { return stopping; }, [this](tcp::socket socket) {
    boost::system::error_code ec;
    const auto remote = socket.remote_endpoint(ec);
    if (ec) return;
    auto p = std::make_shared<peer>(std::move(socket), core, options, remote.address().is_loopback(), self());
    p->name = remote.address().to_string() + ":" + std::to_string(remote.port());
    if (listen.member) {
      p->name += " (node " + std::to_string(self()) + ")";
      p->link = std::make_unique<relay_link>(*this, p);
      p->conn.set_cluster_link(p->link.get());
    }
    p->conn.set_blocked(blocked);
    p->conn.accepted(now());
    peers.insert(p);
    log(log_level::debug, "accepting AMQP connection {}", p->name);
    asio::co_spawn(io, read_loop(p), log_escaped{"AMQP connection " + p->name});
  });
}

asio::awaitable<void> server::impl::read_loop(std::shared_ptr<peer> p) {
  std::string failure;
  try {
    co_await read_until_closed(p);
  } catch (const std::exception& e) {
    failure = e.what();
  }
  if (!failure.empty() || (!p->closed && !p->conn.done())) {
    // A failure of ours, or the client vanished without connection.close: either way the
    // connection ends here and its unacked messages go back to their queues.
    // A client we had already sent connection.close to (a refused login) often just hangs up:
    // the reason is ours.
    const std::string why = !failure.empty()               ? "internal error: " + failure
                            : !p->conn.end_reason().empty() ? p->conn.end_reason() + " (no close-ok)"
                                                            : "client unexpectedly closed TCP connection";
    log(failure.empty() ? log_level::warn : log_level::error, "closing AMQP connection {}: {}", p->name, why);
    p->conn.peer_gone(now());
    after_input(p);
    if (!failure.empty()) close(p);
    co_return;
  }
  if (p->closed) p->conn.peer_gone(now());  // we closed it (its node was killed, or it ended), and the core knows
  if (!p->conn.end_reason().empty()) log(log_level::warn, "closing AMQP connection {}: {}", p->name, p->conn.end_reason());
}

asio::awaitable<void> server::impl::read_until_closed(const std::shared_ptr<peer>& p) {
  while (!p->closed && !p->conn.done()) {
    if (p->conn.paused() || in_flow(*p)) {
      boost::system::error_code ignored;
      p->resume.expires_at(clock::time_point::max());
      co_await p->resume.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
      continue;
    }
    boost::system::error_code ec;
    const std::size_t n = co_await read_ready(p->socket, read_buffer, ec);
    if (ec) break;
    p->conn.receive({read_buffer.data(), n}, now());
    after_input(p);
  }
}

void server::impl::after_input(const std::shared_ptr<peer>& p) {
  const auto id = p->conn.broker_id();
  if (id != p->registered) {
    if (p->registered) by_id.erase(*p->registered);
    if (id) by_id[*id] = p;
    p->registered = id;
  }
  dirty.push_back(p);
  dispatch_events();
}

void server::impl::persist() {
  if (store == nullptr) return;
  if (auto ok = store->persist(); !ok) log(log_level::error, "cannot write the message store: {}", ok.error());
}

void server::impl::dispatch_events() {
  persist();
  const bool holding = flusher != nullptr && flusher->holding();
  for (const auto& e : core.take_events()) {
    if (const auto* note = std::get_if<std::shared_ptr<const broker::amqp::peer_message>>(&e)) {
      if (!listen.member) continue;
      // A settlement releases a confirm on another node: it waits for the disk as a confirm does.
      if (holding && (*note)->what == broker::amqp::peer_message::kind::settled) {
        flusher->after_durable([this, n = *note] { listen.member->to_peers(n); });
      } else {
        listen.member->to_peers(*note);
      }
      continue;
    }
    const auto it = by_id.find(broker::amqp::target_of(e));
    if (it == by_id.end()) continue;
    it->second->conn.on_event(e);
    if (holding && std::holds_alternative<broker::amqp::confirm>(e)) it->second->owed_durability = true;
    dirty.push_back(it->second);
  }
  check_memory();
  // A message published with a shorter TTL than any queued one moves the expiry timer forward.
  if (core.next_deadline() < expiry_at) expiry.cancel();
  // Writes wait until the handlers that are ready now have run: reads that arrived together
  // then leave in one write per socket, which saves the consumers' reads as much as ours.
  schedule_flush();
}

void server::impl::flush_dirty() {
  flush_posted = false;
  auto batch = std::move(dirty);
  dirty.clear();
  for (const auto& p : batch) flush(p);
}

void server::impl::check_memory() {
  const bool over = alarm.over();
  if (over == blocked) return;
  blocked = over;
  log(log_level::warn, "memory alarm {}: the process holds {} bytes, high watermark {}", over ? "set" : "cleared",
      alarm.held(), alarm.watermark());
  for (const auto& p : peers) {
    p->conn.set_blocked(over);
    if (!over) p->resume.cancel();
    dirty.push_back(p);
  }
}

std::string& server::impl::sendable(const std::shared_ptr<peer>& p) {
  if (flusher == nullptr) return p->conn.output();
  const bool owed = std::exchange(p->owed_durability, false);
  return p->disk_held.sendable(p->conn.output(), *flusher, owed, [this, p] { flush(p); });
}

void server::impl::flush(const std::shared_ptr<peer>& p) {
  if (p->out.busy() || p->closed || p->coalescing || p->held > 0) return;
  std::string& output = sendable(p);
  if (output.empty()) {
    if (p->conn.done() && p->disk_held.empty()) close(p);
    return;
  }
  // Under load, small writes wait a moment for company: one write of many deliveries costs the
  // consumer one read instead of many. A socket that has been quiet is written at once.
  const auto t = clock::now();
  if (t - p->last_write < coalesce_window && output.size() < coalesce_bytes && !p->conn.done()) {
    p->coalescing = true;
    p->coalesce.expires_at(p->last_write + coalesce_window);
    p->coalesce.async_wait([this, p](boost::system::error_code) {
      p->coalescing = false;
      flush(p);
    });
    return;
  }
  p->last_write = t;
  p->out.send(p->socket, output, [this, p](boost::system::error_code ec) {
    if (ec) {
      if (!p->conn.done()) p->conn.peer_gone(now());
      after_input(p);
      close(p);
      return;
    }
    flush(p);
  });
}

void server::impl::close(const std::shared_ptr<peer>& p) {
  if (p->closed) return;
  p->closed = true;
  p->link.reset();  // its upstreams close: the owners requeue what the client had not acknowledged
  if (p->registered) by_id.erase(*p->registered);
  p->registered.reset();
  close_socket(p->socket);
  p->resume.cancel();
  p->coalesce.cancel();
  peers.erase(p);
}

asio::awaitable<void> server::impl::housekeeping_loop() {
  while (!stopping) {
    boost::system::error_code ignored;
    housekeeping.expires_after(housekeeping_period);
    co_await housekeeping.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    const instant t = now();
    // Memory freed while nothing happens (a consumer's last ack) still clears the alarm.
    check_memory();
    const std::vector<std::shared_ptr<peer>> all(peers.begin(), peers.end());
    for (const auto& p : all) {
      if (p->conn.next_tick() > t) continue;
      p->conn.tick(t);
      after_input(p);
    }
  }
}

asio::awaitable<void> server::impl::expiry_loop() {
  while (!stopping) {
    expiry_at = core.next_deadline();
    expiry.expires_at(to_time_point(expiry_at));
    boost::system::error_code ec;
    co_await expiry.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec || stopping) continue;
    core.advance(now());
    dispatch_events();
  }
}

server::server(asio::io_context& io, broker::amqp::broker& broker, server_options options, listen_options listen)
    : impl_(std::make_unique<impl>(io, broker, std::move(options), std::move(listen))) {}

server::~server() = default;

void server::keep_on_disk(message_store& store, storage::flusher& flusher) {
  impl_->store = &store;
  impl_->flusher = &flusher;
}

std::expected<void, std::string> server::start() {
  auto& s = *impl_;
  if (auto ok = s.listeners.open(s.io, s.listen.bind, 0, s.listen.port); !ok) return ok;
  log(log_level::info, "AMQP 0-9-1 {}listening on {}:{}", s.listen.member ? fmt::format("node {} ", s.self()) : "",
      s.listen.bind, port());
  asio::co_spawn(s.io, s.accept_loop(), asio::detached);
  asio::co_spawn(s.io, s.housekeeping_loop(), asio::detached);
  asio::co_spawn(s.io, s.expiry_loop(), asio::detached);
  return {};
}

std::uint16_t server::port() const {
  const auto& all = impl_->listeners.ports();
  return all.empty() ? 0 : all.front();
}

bool server::kill(std::uint32_t node) {
  auto& s = *impl_;
  if (node != s.self() || !s.core.node_up(broker::node_id{node})) return false;
  log(log_level::warn, "killing AMQP node {}", node);
  s.listeners.close(0);
  // Every connection goes down with the node, also those other nodes relayed here.
  const std::vector<std::shared_ptr<peer>> victims(s.peers.begin(), s.peers.end());
  // Their deliveries go back to the queues before the crash decides what survives it; the
  // sockets go without a goodbye.
  const instant t = now();
  for (const auto& p : victims) p->conn.peer_gone(t);
  s.core.crash_node(broker::node_id{node}, t);
  s.crashing = true;
  for (const auto& p : victims) s.close(p);
  s.crashing = false;
  s.dispatch_events();
  return true;
}

std::expected<void, std::string> server::restart(std::uint32_t node) {
  auto& s = *impl_;
  if (node != s.self()) return std::unexpected(fmt::format("there is no node {}", node));
  if (s.core.node_up(broker::node_id{node})) return std::unexpected(fmt::format("node {} is running", node));
  if (auto ok = s.listeners.open(s.io, s.listen.bind, 0, port()); !ok) return ok;
  s.core.restart_node(broker::node_id{node}, now());
  asio::co_spawn(s.io, s.accept_loop(), asio::detached);
  s.dispatch_events();
  log(log_level::info, "AMQP node {} restarted on {}:{}", node, s.listen.bind, port());
  return {};
}

void server::administer(const std::function<void(broker::amqp::broker&, broker::instant now)>& change) {
  change(impl_->core, now());
  impl_->dispatch_events();
}

void server::resume_reading(broker::amqp::connection_id conn) {
  if (auto it = impl_->by_id.find(conn); it != impl_->by_id.end()) it->second->resume.cancel();
}

void server::relays_lost(broker::node_id node) {
  auto& s = *impl_;
  for (const auto& p : s.peers) {
    if (p->link) static_cast<impl::relay_link*>(p->link.get())->lose(node);
  }
}

void server::stop() {
  auto& s = *impl_;
  if (s.stopping) return;
  s.stopping = true;
  s.listeners.close_all();
  s.housekeeping.cancel();
  s.expiry.cancel();
  for (const auto& p : s.peers) {
    p->conn.shutdown();
    s.dirty.push_back(p);
  }
  s.dispatch_events();
  // Clients get a second to read their connection.close; then the sockets go regardless.
  auto grace = std::make_shared<asio::steady_timer>(s.io, shutdown_grace);
  grace->async_wait([&s, grace](boost::system::error_code) {
    auto remaining = s.peers;
    for (const auto& p : remaining) s.close(p);
  });
}

std::size_t server::connection_count() const { return impl_->peers.size(); }

}  // namespace mqlab::net::amqp
