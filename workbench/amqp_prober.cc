// One io_context per probe, driven on the calling thread one handler at a time (or 1 ms of
// nothing) until what is awaited has happened, the broker has failed the probe, or the wait
// has lasted longer than it may.
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include "workbench/amqp_prober.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <fmt/format.h>

namespace mqlab::workbench {

namespace asio = boost::asio;
using net::amqp::client;
using clock = std::chrono::steady_clock;

namespace {

constexpr const char* prefix = "mqlab.calibrate";
// A publisher stops this far ahead of the socket, its confirms or its consumer: enough to keep
// the broker busy, little enough that the counts at a checkpoint are what the broker did.
constexpr std::uint64_t unwritten_window = 256, unsettled_window = 1000;

/// Connections to the broker and the loop that drives them.
struct session {
  explicit session(const amqp_endpoint& at, clock::duration answer) : at(at), answer(answer) {}
  ~session() {
    over = true;
    clients.clear();
  }

  /// A logged-in connection to node `node` with channel 1 open; its failures fail the session.
  client& connect(net::amqp::client_handlers h, std::uint32_t node = 0) {
    h.closed = [this](std::string_view reason) {
      if (!over && failure.empty()) failure = fmt::format("the connection ended: {}", reason);
    };
    h.channel_closed = [this](std::uint16_t, std::string_view text) {
      if (!over && failure.empty()) failure = fmt::format("the broker closed a channel: {}", text);
    };
    clients.push_back(std::make_unique<client>(io, std::move(h)));
    net::amqp::client_login login = at.login;
    login.host = at.nodes.at(node).host;
    clients.back()->connect(at.nodes.at(node).port, login);
    clients.back()->open_channel(1);
    return *clients.back();
  }

  /// Runs the loop until `done`; `awaited` names it in the error when the broker stays silent.
  std::expected<void, std::string> until(const std::function<bool()>& done, std::string_view awaited,
                                         clock::duration longest) {
    const auto deadline = clock::now() + longest;
    while (!done()) {
      if (!failure.empty()) return std::unexpected(failure);
      if (clock::now() > deadline) {
        return std::unexpected(fmt::format("no answer from the broker within {} ms while waiting for {}",
                                           std::chrono::duration_cast<std::chrono::milliseconds>(longest).count(), awaited));
      }
      if (io.stopped()) io.restart();
      io.run_one_for(std::chrono::milliseconds(1));
    }
    return {};
  }
  std::expected<void, std::string> until(const std::function<bool()>& done, std::string_view awaited) {
    return until(done, awaited, answer);
  }
  std::expected<void, std::string> sleep_until(clock::time_point t) {
    return until([t] { return clock::now() >= t; }, "the clock", t - clock::now() + answer);
  }

  const amqp_endpoint& at;
  clock::duration answer;
  asio::io_context io;
  std::vector<std::unique_ptr<client>> clients;
  std::string failure;
  bool over = false;
};

/// The admin connection: declares a probe's topology and deletes it again, waiting for the
/// broker's answers (queue.declare-ok and queue.delete-ok; what is declared before them on the
/// same channel is done when they come).
class topology_admin {
 public:
  topology_admin(session& s, const probe_topology& t)
      : s_(s), t_(t),
        c_(s.connect({.declared = [this](std::uint16_t, std::string_view, std::uint32_t, std::uint32_t) { ++declared_; },
                      .deleted = [this](std::uint16_t, std::uint32_t) { ++deleted_; }})) {}

  std::expected<void, std::string> declare() {
    c_.declare_exchange(1, t_.exchange, t_.exchange_type);
    for (const auto& q : t_.queues) c_.declare_queue(1, q, t_.durable, t_.queue_arguments);
    for (const auto& b : t_.bindings) c_.bind_queue(1, b.queue, t_.exchange, b.routing_key, b.arguments);
    c_.inspect_queue(1, t_.queues.front());  // answered once the bindings before it are made
    const std::uint64_t want = declared_ + t_.queues.size() + 1;
    return s_.until([&] { return declared_ >= want; }, "the probe's queues and bindings to be declared");
  }
  /// One passive queue.declare, waited for.
  std::expected<void, std::string> round_trip() {
    c_.inspect_queue(1, t_.queues.front());
    const std::uint64_t want = declared_ + 1;
    return s_.until([&] { return declared_ >= want; }, "a passive queue.declare");
  }
  std::expected<void, std::string> remove() {
    c_.delete_exchange(1, t_.exchange);
    for (const auto& q : t_.queues) c_.delete_queue(1, q);
    const std::uint64_t want = deleted_ + t_.queues.size();
    return s_.until([&] { return deleted_ >= want; }, "the probe's queues to be deleted");
  }

 private:
  session& s_;
  const probe_topology& t_;
  std::uint64_t declared_ = 0, deleted_ = 0;
  client& c_;
};

/// The probe's publishers and the consumer of its queues, with their counts.
struct probe_traffic {
  probe_traffic(session& s, const amqp_probe& p, const probe_topology& t) : p(p), t(t) {
    consumer = &s.connect({.delivered = [this](net::amqp::client_message m) {
      if (this->p.acks && ++unacked == this->p.ack_every) {
        consumer->ack(1, m.delivery_tag, this->p.ack_every > 1);
        unacked = 0;
      }
      ++consumed;
      pump();
    }}, p.consumer_node);
    if (p.acks) consumer->qos(1, probe_prefetch);
    if (p.backlog == 0) start_consuming();
    const int n = std::max(p.publishers, 1);
    unconfirmed.assign(static_cast<std::size_t>(n), 0);
    tags.assign(static_cast<std::size_t>(n), 0);
    for (int i = 0; i < n; ++i) {
      publishers.push_back(&s.connect({.confirmed = [this, i](std::uint16_t, std::uint64_t tag, bool multiple, bool) {
        const std::uint64_t settled = multiple ? tag - acknowledged_tag(i) : 1;
        unconfirmed[i] -= std::min(unconfirmed[i], settled);
        confirmed += settled;
        pump();
      }}, p.publisher_node));
      if (p.confirms) publishers.back()->select_confirms(1);
    }
  }

  void start_consuming() {
    for (const auto& q : t.queues) consumer->consume(1, q, !p.acks);
    consuming = true;
  }

  /// Publishes while the windows allow: round the publishers, each up to its own window. A
  /// backlog probe's consumer starts once the backlog is written, and the backlog stays.
  void pump() {
    if (!consuming && written >= p.backlog) start_consuming();
    const std::uint64_t own_window = p.one_at_a_time ? 1 : unsettled_window;
    for (std::size_t i = 0; i < publishers.size(); ++i) {
      while (running && published < limit && published - written < unwritten_window &&
             published - consumed / t.queues.size() < unsettled_window + p.backlog &&
             (!p.confirms || unconfirmed[i] < own_window)) {
        ++published;
        ++unconfirmed[i];
        ++tags[i];
        publishers[i]->publish(1, t.exchange, t.routing_key, false, t.properties, t.body, [this] {
          ++written;
          pump();
        });
      }
    }
  }

  /// The delivery tag publisher `i`'s confirms have reached before this one.
  std::uint64_t acknowledged_tag(std::size_t i) const { return tags[i] - unconfirmed[i]; }

  const amqp_probe& p;
  const probe_topology& t;
  std::vector<client*> publishers;
  client* consumer = nullptr;
  bool running = true;
  bool consuming = false;
  // A saturating probe is bounded by its time; confirm_latencies lets one publish out at a time.
  std::uint64_t limit = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t published = 0, written = 0, confirmed = 0, consumed = 0;
  std::uint16_t unacked = 0;               // deliveries since the consumer's last ack
  std::vector<std::uint64_t> unconfirmed;  // per publisher
  std::vector<std::uint64_t> tags;         // per publisher: its last delivery tag
};

}  // namespace

std::expected<void, std::string> amqp_prober::check() {
  session s(at_, timing_.answer);
  const probe_topology t = topology_of({.name = "login"}, prefix);
  topology_admin admin(s, t);
  if (auto ok = admin.declare(); !ok) return ok;
  return admin.remove();
}

std::expected<probe_measurement, std::string> amqp_prober::saturate(const amqp_probe& p) {
  session s(at_, timing_.answer);
  const probe_topology t = topology_of(p, prefix);
  topology_admin admin(s, t);
  if (auto ok = admin.declare(); !ok) return std::unexpected(ok.error());
  probe_traffic traffic(s, p, t);
  const auto start = clock::now();
  traffic.pump();
  std::uint64_t at[2] = {};
  clock::time_point when[2];
  double cpu[2] = {}, broker_cpu[2] = {};
  for (int i = 0; i < 2; ++i) {
    if (auto ok = s.sleep_until(start + timing_.warmup + i * timing_.measure); !ok) return std::unexpected(ok.error());
    at[i] = traffic.consumed / t.queues.size();  // messages published, each consumed from every queue
    when[i] = clock::now();
    cpu[i] = thread_cpu_seconds();
    broker_cpu[i] = broker_.read();
  }
  traffic.running = false;
  for (client* c : traffic.publishers) c->abort();
  traffic.consumer->abort();
  if (auto ok = admin.remove(); !ok) return std::unexpected(ok.error());
  return probe_measurement{at[1] - at[0], std::chrono::duration<double>(when[1] - when[0]).count(), cpu[1] - cpu[0],
                           broker_cpu[1] - broker_cpu[0]};
}

std::expected<std::vector<double>, std::string> amqp_prober::round_trips(int n) {
  session s(at_, timing_.answer);
  const probe_topology t = topology_of({.name = "round-trip"}, prefix);
  topology_admin admin(s, t);
  if (auto ok = admin.declare(); !ok) return std::unexpected(ok.error());
  std::vector<double> seconds;
  for (int i = 0; i < n; ++i) {
    const auto sent = clock::now();
    if (auto ok = admin.round_trip(); !ok) return std::unexpected(ok.error());
    seconds.push_back(std::chrono::duration<double>(clock::now() - sent).count());
  }
  if (auto ok = admin.remove(); !ok) return std::unexpected(ok.error());
  return seconds;
}

std::expected<std::vector<double>, std::string> amqp_prober::confirm_latencies(const amqp_probe& p, int n) {
  session s(at_, timing_.answer);
  amqp_probe confirmed = p;
  confirmed.confirms = true;
  const probe_topology t = topology_of(confirmed, prefix);
  topology_admin admin(s, t);
  if (auto ok = admin.declare(); !ok) return std::unexpected(ok.error());
  probe_traffic traffic(s, confirmed, t);
  std::vector<double> seconds;
  for (int i = 0; i < n; ++i) {
    const auto sent = clock::now();
    traffic.limit = traffic.published + 1;
    traffic.pump();
    if (auto ok = s.until([&] { return traffic.confirmed >= traffic.limit; }, "a publisher confirm"); !ok) {
      return std::unexpected(ok.error());
    }
    seconds.push_back(std::chrono::duration<double>(clock::now() - sent).count());
  }
  traffic.running = false;
  if (auto ok = admin.remove(); !ok) return std::unexpected(ok.error());
  return seconds;
}

}  // namespace mqlab::workbench
