// Cluster nodes: a thread, a core and a server each, and one-way peer links between every pair.
// Faults are applied node by node on each node's own thread, so a core is only ever touched by
// its loop: the victim first (its sockets close), then every other node learns of it.
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include "net/amqp/cluster.h"

#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <string_view>

#include <boost/asio.hpp>
#include <fmt/format.h>

#include "net/amqp/credit_flow.h"
#include "net/amqp/message_store.h"
#include "net/amqp/peer_protocol.h"
#include "net/amqp/server.h"
#include "net/log.h"
#include "net/loop_thread.h"
#include "net/tcp.h"

namespace mqlab::net::amqp {

namespace asio = boost::asio;
namespace core = broker::amqp;
using asio::ip::tcp;

namespace {

/// 32 random hex digits: the secret of a cluster nobody named one for.
std::string random_secret() {
  std::random_device device;
  std::string out;
  for (int i = 0; i < 4; ++i) out += fmt::format("{:08x}", device());
  return out;
}

/// Compares in time independent of where the strings differ, so the answer's timing does not
/// give the secret away a byte at a time.
bool same_secret(std::string_view given, std::string_view expected) {
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) diff |= static_cast<unsigned char>(expected[i] ^ (i < given.size() ? given[i] : 0));
  return diff == 0;
}

// How long a client's metadata change waits for a node that neither answers nor is known lost.
constexpr auto barrier_timeout = std::chrono::seconds(5);

broker::instant now() {
  return {std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
              .count()};
}

/// Applies a metadata change another node's client made, on a channel standing for that node.
core::result<void> apply(core::broker& b, core::channel_ref ch, method& m, broker::instant t) {
  return std::visit(
      [&](auto& x) -> core::result<void> {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, exchange_declare>) {
          return b.exchange_declare(ch, core_args(x));
        } else if constexpr (std::is_same_v<T, exchange_delete>) {
          return b.exchange_delete(ch, x.exchange, x.if_unused);
        } else if constexpr (std::is_same_v<T, exchange_bind>) {
          return b.exchange_bind(ch, x.destination, x.source, x.routing_key, x.arguments);
        } else if constexpr (std::is_same_v<T, exchange_unbind>) {
          return b.exchange_unbind(ch, x.destination, x.source, x.routing_key, x.arguments);
        } else if constexpr (std::is_same_v<T, queue_declare>) {
          auto r = b.queue_declare(ch, core_args(x), t);  // only non-passive declares are replicated
          if (!r) return std::unexpected(r.error());
          return {};
        } else if constexpr (std::is_same_v<T, queue_bind>) {
          return b.queue_bind(ch, x.queue, x.exchange, x.routing_key, x.arguments);
        } else if constexpr (std::is_same_v<T, queue_unbind>) {
          return b.queue_unbind(ch, x.queue, x.exchange, x.routing_key, x.arguments);
        } else {
          return std::unexpected(core::error{core::reply_code::command_invalid, "not a metadata change", {}});
        }
      },
      m);
}

}  // namespace

/// One TCP connection of a link. Handlers hold it, so a write that was in flight when the link
/// went down finishes on its own socket and outbox, never on a newer connection's.
struct wire {
  explicit wire(asio::io_context& io) : socket(io) {}
  tcp::socket socket;
  outbox box;
  bool connected = false;
};

/// A one-way link to another node: what this node writes there, kept while the link is down.
struct link {
  std::shared_ptr<wire> live;
  std::string pending;
  bool cut = false;
};

struct cluster::member : loop_thread {
  member(std::uint32_t id_, const cluster_options& o)
      : id(id_), core([&] {
          auto shape = o.shape;
          shape.self = broker::node_id{id_};
          return shape;
        }()),
        credit(o.shape.nodes) {}

  std::uint32_t id;
  core::broker core;
  std::optional<storage::flusher> flusher;  // with the store, when the cluster keeps data on disk
  std::unique_ptr<message_store> store;
  std::unique_ptr<server> srv;
  std::shared_ptr<tcp::acceptor> peer_acceptor;
  std::uint16_t peer_port = 0;
  std::vector<link> links;  // by node; this node's own entry stays unused
  std::vector<std::shared_ptr<tcp::socket>> inbound;
  std::map<std::pair<std::uint32_t, std::string>, core::channel_ref> appliers;  // by (origin, vhost)
  /// Metadata changes sent to the other nodes and the nodes yet to apply them, by barrier.
  struct barrier {
    std::vector<std::uint32_t> waiting;
    std::function<void()> applied;
    std::shared_ptr<asio::steady_timer> deadline;
  };
  std::map<std::uint64_t, barrier> barriers;
  std::uint64_t next_barrier = 1;
  credit_flow credit;
  bool up = true;
};

struct cluster::impl {
  explicit impl(cluster_options o) : options(std::move(o)) {}

  cluster_options options;
  std::vector<std::unique_ptr<member>> members;
  std::vector<std::uint16_t> amqp_ports, peer_ports;  // fixed once started
  asio::ip::address peer_host;  // where the nodes reach each other: the bind address, or loopback for a wildcard
  std::atomic<std::uint64_t> link_bytes{0};
  bool started = false;

  std::uint32_t n() const { return static_cast<std::uint32_t>(members.size()); }

  // --- on a node's own thread ---------------------------------------------------------------
  void send(member& m, std::uint32_t to, const peer::frame& f) {
    peer::write(m.links[to].pending, f);
    flush(m, to);
  }

  void flush(member& m, std::uint32_t to) {
    link& l = m.links[to];
    if (!l.live || !l.live->connected) return;
    const std::size_t bytes = l.pending.size();
    if (l.live->box.send(l.live->socket, l.pending, [this, &m, to, w = l.live](boost::system::error_code ec) {
          if (m.links[to].live != w) return;  // this connection is over
          if (ec) return disconnect(m, to);
          flush(m, to);
        })) {
      link_bytes += bytes;
    }
  }

  void connect(member& m, std::uint32_t to) {
    link& l = m.links[to];
    if (l.live || l.cut || to == m.id) return;
    l.live = std::make_shared<wire>(m.io());
    l.live->socket.async_connect(tcp::endpoint(peer_host, peer_ports[to]),
                                 [this, &m, to, w = l.live](boost::system::error_code ec) {
                                   link& l = m.links[to];
                                   if (l.live != w) return;  // superseded
                                   if (ec) {
                                     log(log_level::warn, "node {}: no link to node {}: {}", m.id, to, ec.message());
                                     l.live.reset();
                                     return;
                                   }
                                   boost::system::error_code ignored;
                                   w->socket.set_option(tcp::no_delay(true), ignored);
                                   std::string hello;
                                   peer::write(hello, peer::hello{m.id, options.secret});
                                   l.pending.insert(0, hello);
                                   w->connected = true;
                                   flush(m, to);
                                 });
  }

  void disconnect(member& m, std::uint32_t to) {
    link& l = m.links[to];
    if (l.live) close_socket(l.live->socket);
    l.live.reset();
    resume(m, m.credit.lost(to));
  }

  asio::awaitable<void> accept_loop(member& m, std::shared_ptr<tcp::acceptor> acceptor) {
    co_await accept_connections(*acceptor, fmt::format("node {} peer listener", m.id), [] { return false; },
                                [this, &m](tcp::socket accepted) {
                                  auto socket = std::make_shared<tcp::socket>(std::move(accepted));
                                  m.inbound.push_back(socket);
                                  asio::co_spawn(m.io(), read_loop(m, socket), log_escaped{fmt::format("node {} peer link", m.id)});
                                });
  }

  /// Reads one peer link until it ends, then closes it in one place whatever ended it.
  asio::awaitable<void> read_loop(member& m, std::shared_ptr<tcp::socket> socket) {
    try {
      co_await read_peer_frames(m, *socket);
    } catch (const std::exception& e) {
      log(log_level::error, "node {}: closing a peer link: internal error: {}", m.id, e.what());
    }
    close_socket(*socket);
    std::erase(m.inbound, socket);
  }

  asio::awaitable<void> read_peer_frames(member& m, tcp::socket& socket) {
    std::string in;
    std::vector<char> buffer(64 * 1024);
    std::optional<std::uint32_t> origin;
    while (true) {
      boost::system::error_code ec;
      const std::size_t got = co_await socket.async_read_some(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      in.append(buffer.data(), got);
      std::size_t pos = 0;
      bool bad = false;
      m.srv->administer([&](core::broker&, broker::instant) {
        while (true) {
          auto f = peer::read(std::string_view(in).substr(pos));
          if (!f) {
            log(log_level::error, "node {}: bad peer frame: {}", m.id, f.error().text);
            bad = true;
            return;
          }
          if (!*f) return;
          pos += (*f)->second;
          if (const auto* h = std::get_if<peer::hello>(&(*f)->first)) {
            if (!same_secret(h->secret, options.secret)) {
              log(log_level::error, "node {}: refused a peer link claiming to be node {}: wrong cluster secret", m.id, h->node);
              bad = true;
              return;
            }
            origin = h->node;
            if (*origin < n()) m.credit.link_began(*origin);
          } else if (!origin) {
            log(log_level::error, "node {}: refused a peer link that did not begin with hello", m.id);
            bad = true;
            return;
          } else if (*origin < n() && m.core.node_up(broker::node_id{*origin})) {
            receive(m, *origin, (*f)->first);
          }
        }
      });
      in.erase(0, pos);
      if (bad) co_return;
    }
  }

  /// Runs inside the server's administer(), so the events it causes reach clients and peers.
  void receive(member& m, std::uint32_t origin, peer::frame& f) {
    const broker::instant t = now();
    if (auto* change = std::get_if<peer::metadata>(&f)) {
      if (const auto ch = applier(m, origin, change->vhost, t)) {
        if (auto r = apply(m.core, *ch, change->change, t); !r) {
          // The nodes disagree (two clients raced); this node keeps its view.
          log(log_level::warn, "node {}: change from node {} refused: {}", m.id, origin, r.error().text);
          m.appliers.erase({origin, change->vhost});
        }
      }
      if (change->barrier != 0) send(m, origin, peer::applied{change->barrier});
      return;
    }
    if (const auto* a = std::get_if<peer::applied>(&f)) return applied_by(m, a->barrier, origin);
    if (const auto* c = std::get_if<peer::credit>(&f)) return resume(m, m.credit.granted(origin, c->count));
    const auto& note = std::get<peer::note>(f);
    m.core.receive(note, broker::node_id{origin}, t);
    if (note.what != core::peer_message::kind::forward) return;
    if (const std::uint32_t more = m.credit.handled(origin)) send(m, origin, peer::credit{more});
  }

  std::optional<core::channel_ref> applier(member& m, std::uint32_t origin, const std::string& vhost, broker::instant t) {
    const auto key = std::pair{origin, vhost};
    if (auto it = m.appliers.find(key); it != m.appliers.end()) return it->second;
    auto conn = m.core.open_connection(vhost, t, broker::node_id{origin});
    if (!conn) return std::nullopt;
    const core::channel_ref ch{*conn, 1};
    if (!m.core.channel_open(ch)) return std::nullopt;
    m.appliers[key] = ch;
    return ch;
  }

  void to_peers(member& m, const std::shared_ptr<const core::peer_message>& note) {
    for (broker::node_id to : note->to) {
      if (to.value >= n() || to.value == m.id) continue;
      if (note->what == core::peer_message::kind::forward) {
        m.credit.forwarded(to.value, note->publish.node.value == m.id ? note->publish.channel.conn : 0);
      }
      send(m, to.value, *note);
    }
  }

  void resume(member& m, const std::vector<std::uint32_t>& connections) {
    for (std::uint32_t conn : connections) m.srv->resume_reading(conn);
  }

  /// Node `gone` is out of reach (its core already knows): the link closes, relayed channels too,
  /// and no change waits for it any longer.
  void lose(member& m, std::uint32_t gone) {
    disconnect(m, gone);
    m.srv->relays_lost(broker::node_id{gone});
    std::vector<std::uint64_t> all;
    for (const auto& [id, b] : m.barriers) all.push_back(id);
    for (std::uint64_t id : all) applied_by(m, id, gone);
  }

  /// Sends a client's metadata change to every node this one reaches; `applied` runs once they
  /// all have applied it, or after a bounded wait if one never answers.
  void replicate(member& m, std::string_view vhost, const method& change, std::function<void()> applied) {
    const std::uint64_t id = m.next_barrier++;
    member::barrier b{.waiting = {}, .applied = std::move(applied),
                      .deadline = std::make_shared<asio::steady_timer>(m.io(), barrier_timeout)};
    for (std::uint32_t j = 0; j < n(); ++j) {
      if (j == m.id) continue;
      send(m, j, peer::metadata{std::string(vhost), change, id});
      if (m.core.reaches(broker::node_id{m.id}, broker::node_id{j})) b.waiting.push_back(j);
    }
    if (b.waiting.empty()) return b.applied();
    b.deadline->async_wait([this, &m, id](boost::system::error_code ec) {
      if (ec) return;
      log(log_level::warn, "node {}: a metadata change was not confirmed by every node in time", m.id);
      finish_barrier(m, id);
    });
    m.barriers.emplace(id, std::move(b));
  }

  void applied_by(member& m, std::uint64_t id, std::uint32_t node) {
    auto it = m.barriers.find(id);
    if (it == m.barriers.end()) return;
    std::erase(it->second.waiting, node);
    if (it->second.waiting.empty()) finish_barrier(m, id);
  }

  void finish_barrier(member& m, std::uint64_t id) {
    auto it = m.barriers.find(id);
    if (it == m.barriers.end()) return;
    auto done = std::move(it->second.applied);
    it->second.deadline->cancel();
    m.barriers.erase(it);
    done();
  }

  std::expected<void, std::string> open_peer_listener(member& m) {
    auto acceptor = open_listener(m.io(), options.bind, m.peer_port);
    if (!acceptor) return std::unexpected(acceptor.error());
    m.peer_acceptor = *acceptor;
    m.peer_port = m.peer_acceptor->local_endpoint().port();
    asio::co_spawn(m.io(), accept_loop(m, m.peer_acceptor), asio::detached);
    return {};
  }

  /// Closes the node's peer listener and every link, both ways.
  void close_links(member& m) {
    boost::system::error_code ignored;
    m.peer_acceptor->close(ignored);
    for (std::uint32_t j = 0; j < n(); ++j) disconnect(m, j);
    for (auto& s : std::vector(m.inbound)) close_socket(*s);
  }

  /// The node's files, restored into its core before its listener opens.
  std::expected<void, std::string> open_store(member& m) {
    m.flusher.emplace(options.fsync, [mp = &m](std::function<void()> f) { asio::post(mp->io(), std::move(f)); });
    const auto dir = *options.data_dir / fmt::format("node-{}", m.id);
    message_recovery report;
    auto store = message_store::open({.dir = dir}, m.core, *m.flusher, now(), report);
    if (!store) return std::unexpected(store.error());
    if (!report.corruption.empty()) return std::unexpected(fmt::format("node {}: {}", m.id, report.corruption));
    log(log_level::info, "AMQP node {} recovered {} queues and {} messages from {} ({} torn bytes dropped)", m.id,
        report.queues, report.messages, dir.string(), report.torn_bytes);
    m.store = std::move(*store);
    m.srv->keep_on_disk(*m.store, *m.flusher);
    return {};
  }

  void go_down(member& m) {
    m.srv->kill(m.id);
    close_links(m);
    for (auto& l : m.links) l.pending.clear();  // what it had not sent dies with it
    m.appliers.clear();
    for (auto& [id, b] : m.barriers) b.deadline->cancel();
    m.barriers.clear();  // its clients are gone
    m.credit = credit_flow(n());  // what it had sent and counted dies with it
    m.up = false;
  }
};

cluster::cluster(cluster_options options) : impl_(std::make_unique<impl>(std::move(options))) {
  if (impl_->options.secret.empty()) impl_->options.secret = random_secret();
  const std::uint32_t nodes = std::max(impl_->options.shape.nodes, 1u);
  impl_->options.shape.nodes = nodes;
  for (std::uint32_t i = 0; i < nodes; ++i) impl_->members.push_back(std::make_unique<member>(i, impl_->options));
}

cluster::~cluster() { stop(); }

std::expected<void, std::string> cluster::start() {
  auto& s = *impl_;
  boost::system::error_code bad;
  s.peer_host = asio::ip::make_address(s.options.bind, bad);
  if (bad) return std::unexpected(fmt::format("cannot listen on {}: {}", s.options.bind, bad.message()));
  if (s.peer_host.is_unspecified()) s.peer_host = asio::ip::make_address_v4("127.0.0.1");
  for (auto& m : s.members) {
    if (s.options.define) s.options.define(m->core);
    m->links.resize(s.n());
    if (auto ok = s.open_peer_listener(*m); !ok) return ok;
    member_hooks hooks{
        .self = broker::node_id{m->id},
        .host = s.peer_host.to_string(),
        .amqp_port = [&s](broker::node_id to) { return s.amqp_ports.at(to.value); },
        .to_peers = [&s, mp = m.get()](const std::shared_ptr<const core::peer_message>& note) { s.to_peers(*mp, note); },
        .replicate = [&s, mp = m.get()](std::string_view vhost, const method& change, std::function<void()> applied) {
          s.replicate(*mp, vhost, change, std::move(applied));
        },
        .in_flow = [mp = m.get()](core::connection_id conn) { return mp->credit.in_flow(conn); }};
    const auto port = static_cast<std::uint16_t>(s.options.port == 0 ? 0 : s.options.port + m->id);
    m->srv = std::make_unique<server>(m->io(), m->core, s.options.server,
                                      listen_options{.bind = s.options.bind, .port = port,
                                                     .memory_high_watermark = s.options.memory_high_watermark,
                                                     .member = std::move(hooks)});
    if (s.options.data_dir) {
      if (auto ok = s.open_store(*m); !ok) return ok;
    }
    if (auto ok = m->srv->start(); !ok) return ok;
    s.amqp_ports.push_back(m->srv->port());
    s.peer_ports.push_back(m->peer_port);
  }
  for (auto& m : s.members) {
    m->start();
    m->post([&s, mp = m.get()] {
      for (std::uint32_t j = 0; j < s.n(); ++j) s.connect(*mp, j);
    });
  }
  s.started = true;
  return {};
}

std::uint32_t cluster::size() const { return impl_->n(); }

std::vector<std::uint16_t> cluster::ports() const { return impl_->amqp_ports; }

std::vector<std::uint16_t> cluster::peer_ports() const { return impl_->peer_ports; }

bool cluster::kill(std::uint32_t node) {
  auto& s = *impl_;
  if (node >= s.n() || !s.members[node]->call([&] { return s.members[node]->up; })) return false;
  log(log_level::warn, "killing AMQP cluster node {}", node);
  s.members[node]->call([&] { s.go_down(*s.members[node]); });
  for (auto& m : s.members) {
    if (m->id == node) continue;
    m->call([&] {
      m->srv->administer([&](core::broker& b, broker::instant t) { b.crash_node(broker::node_id{node}, t); });
      std::erase_if(m->appliers, [&](const auto& a) { return a.first.first == node; });
      s.lose(*m, node);
    });
  }
  return true;
}

std::expected<void, std::string> cluster::restart(std::uint32_t node) {
  auto& s = *impl_;
  if (node >= s.n()) return std::unexpected(fmt::format("there is no node {}", node));
  member& back = *s.members[node];
  auto ok = back.call([&]() -> std::expected<void, std::string> {
    if (back.up) return std::unexpected(fmt::format("node {} is running", node));
    if (auto r = back.srv->restart(node); !r) return r;
    if (auto r = s.open_peer_listener(back); !r) return r;
    back.up = true;
    return {};
  });
  if (!ok) return ok;
  // The others first take it back into their cores (syncing mirrors), then reconnect to it.
  for (auto& m : s.members) {
    if (m->id == node) continue;
    m->call([&] {
      m->srv->administer([&](core::broker& b, broker::instant t) { b.restart_node(broker::node_id{node}, t); });
      s.connect(*m, node);
    });
  }
  back.call([&] {
    for (std::uint32_t j = 0; j < s.n(); ++j) s.connect(back, j);
  });
  log(log_level::info, "AMQP cluster node {} restarted", node);
  return {};
}

void cluster::partition(std::uint32_t a, std::uint32_t b) {
  auto& s = *impl_;
  if (a >= s.n() || b >= s.n() || a == b) return;
  for (auto& m : s.members) {
    m->call([&] {
      m->srv->administer([&](core::broker& core, broker::instant) { core.partition(broker::node_id{a}, broker::node_id{b}); });
      if (m->id != a && m->id != b) return;
      const std::uint32_t other = m->id == a ? b : a;
      m->links[other].cut = true;
      s.lose(*m, other);
    });
  }
}

void cluster::heal(std::uint32_t a, std::uint32_t b) {
  auto& s = *impl_;
  if (a >= s.n() || b >= s.n() || a == b) return;
  for (auto& m : s.members) {
    m->call([&] {
      m->srv->administer([&](core::broker& core, broker::instant t) { core.heal(broker::node_id{a}, broker::node_id{b}, t); });
      if (m->id != a && m->id != b) return;
      const std::uint32_t other = m->id == a ? b : a;
      m->links[other].cut = false;
      s.connect(*m, other);
    });
  }
}

void cluster::stop() {
  auto& s = *impl_;
  if (!s.started) return;
  s.started = false;
  for (auto& m : s.members) {
    m->stop([&s, mp = m.get()] {
      mp->srv->stop();
      s.close_links(*mp);
    });
  }
}

void cluster::inspect(std::uint32_t node, const std::function<void(const core::broker&)>& f) const {
  member& m = *impl_->members.at(node);
  if (!impl_->started) return f(m.core);
  m.call([&] { f(m.core); });
}

std::uint64_t cluster::link_bytes() const { return impl_->link_bytes.load(); }

std::vector<double> cluster::cpu_seconds() const {
  std::vector<double> out;
  for (const auto& m : impl_->members) out.push_back(m->cpu_seconds());
  return out;
}

}  // namespace mqlab::net::amqp
