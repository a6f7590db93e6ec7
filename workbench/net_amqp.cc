// The real AMQP side: the broker's nodes on threads of their own (one core each, talking over
// TCP), and clients on an io_context that the simulation thread runs while it waits for the wall
// clock. What the clients receive is queued and handed to the model at pump(), when the model's
// clock has caught up with the wall.
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include "workbench/net_amqp.h"

#include <deque>
#include <functional>
#include <map>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <fmt/format.h>

#include "models/amqp_model.h"
#include "models/measured_cpu.h"
#include "net/amqp/client.h"
#include "net/amqp/cluster.h"

namespace mqlab::workbench {
namespace {

namespace amqp = broker::amqp;
using models::delivery_ref;

/// The broker's nodes, each an event loop on a thread of its own with its own core.
class broker_nodes {
 public:
  explicit broker_nodes(const models::system_spec& spec)
      : cluster_(net::amqp::cluster_options{
            .shape = spec.broker.cluster, .port = 0,
            .define = [&spec](amqp::broker& core) { models::declare_topology(core, spec.broker); }}) {
    if (auto ok = cluster_.start(); !ok) throw std::runtime_error("net mode: AMQP server: " + ok.error());
  }

  net::amqp::cluster& cluster() { return cluster_; }
  const net::amqp::cluster& cluster() const { return cluster_; }
  std::uint16_t port(std::uint32_t node) const { return cluster_.ports().at(node % cluster_.size()); }
  void stop() { cluster_.stop(); }

  /// Calls f(node, core) for every node, each on its own thread.
  void each(const std::function<void(std::uint32_t, const amqp::broker&)>& f) const {
    for (std::uint32_t i = 0; i < cluster_.size(); ++i) cluster_.inspect(i, [&](const amqp::broker& core) { f(i, core); });
  }

 private:
  net::amqp::cluster cluster_;
};

class net_amqp final : public models::amqp_side {
 public:
  net_amqp(sim::simulator& sim, const models::system_spec& spec)
      : spec_(spec),
        server_(spec),
        guard_(io_.get_executor()),
        subscribers_(models::per_consumer<subscriber>(spec.consumers)),
        retry_(sim, subscribers_.size(), [this](int i) { subscribe(i); }) {}
  ~net_amqp() override {
    producer_.reset();
    for (auto& s : subscribers_) s.conn.reset();
    server_.stop();
  }

  void start(listener l) override {
    listener_ = std::move(l);
    connect_producer();
    for (std::size_t i = 0; i < subscribers_.size(); ++i) {
      const models::consumer_slot& slot = subscribers_[i].slot;
      if (slot.index < slot.group->initial_count()) subscribe(static_cast<int>(i));
      else retry_.kill(static_cast<int>(i));  // an elastic group's consumer not started yet
    }
  }

  void publish(const std::string& exchange, const std::string& routing_key,
               const std::shared_ptr<const amqp::basic_properties>& properties, std::string body, bool confirm,
               answer_fn answered) override {
    if (!confirm) {
      // Without confirms the publish is done once it is written to the socket, as a client
      // library's publish call returns.
      producer_->publish(producer_channel_, exchange, routing_key, true, *properties, body,
                         [this, answered = std::move(answered)] { inbox_.push_back([answered] { answered(true); }); });
      return;
    }
    producer_->publish(confirm_channel_, exchange, routing_key, true, *properties, body);
    awaiting_confirm_.emplace(++confirm_sequence_, std::move(answered));
  }

  void ack(int consumer, delivery_ref ref, bool multiple) override {
    if (auto* conn = holder(consumer, ref)) conn->ack(ref.channel_number(), ref.tag, multiple);
  }
  void get(int consumer) override {
    subscriber& s = subscribers_[static_cast<std::size_t>(consumer)];
    if (retry_.alive(consumer) && s.conn && s.conn->alive() && s.channel != 0) {
      s.conn->get(s.channel, s.slot.group->queue, s.slot.group->auto_ack);
    } else {
      inbox_.push_back([this, consumer] { listener_.empty(consumer); });  // no channel yet: ask again later
    }
  }

  void reject(int consumer, delivery_ref ref, bool requeue) override {
    if (auto* conn = holder(consumer, ref)) conn->reject(ref.channel_number(), ref.tag, requeue);
  }

  void kill(int consumer) override {
    subscriber& s = subscribers_[static_cast<std::size_t>(consumer)];
    retry_.kill(consumer);
    if (s.conn) s.conn->abort();
  }

  void start_consumer(int consumer) override {
    retry_.revive(consumer);
    subscribe(consumer);
  }

  void crash(broker::node_id node) override { (void)server_.cluster().kill(node.value); }
  void restart(broker::node_id node) override { (void)server_.cluster().restart(node.value); }
  void partition(broker::node_id a, broker::node_id b) override { server_.cluster().partition(a.value, b.value); }
  void heal(broker::node_id a, broker::node_id b) override { server_.cluster().heal(a.value, b.value); }

  /// The depth in the owner's core: every node knows the queue, only its owner holds it (also
  /// while down, as a durable queue's messages wait on its disk).
  std::optional<std::uint64_t> queue_depth(const std::string& queue) const override {
    std::optional<std::uint64_t> depth;
    server_.each([&](std::uint32_t node, const amqp::broker& core) {
      const auto info = core.inspect_queue("/", queue);
      if (info && info->owner.value == node) depth = models::queue_depth(core, queue);
    });
    return depth;
  }
  // Each node counts what happened on it, so the cluster's counters are the nodes' sums.
  amqp::queue_stats totals() const override {
    amqp::queue_stats total;
    server_.each([&](std::uint32_t, const amqp::broker& core) { total += core.totals(); });
    return total;
  }
  void start_measuring() override { cpu_.start(server_.cluster().cpu_seconds()); }

  /// Each node's thread, measured: node.N.cpu is the share of its one core.
  void resource_metrics(std::map<std::string, double>& v) const override {
    const auto cores = cpu_.cores(server_.cluster().cpu_seconds());
    for (std::size_t n = 0; n < cores.size(); ++n) {
      v[fmt::format("node.{}.cpu", n)] = cores[n];
      v["servers.cpu"] += cores[n];
    }
  }

  amqp::cluster_traffic traffic() const override {
    amqp::cluster_traffic total;
    server_.each([&](std::uint32_t, const amqp::broker& core) { total += core.traffic(); });
    return total;
  }

  void pump() override {
    io_.poll();
    while (!inbox_.empty()) {
      auto next = std::move(inbox_.front());
      inbox_.pop_front();
      next();
    }
  }

  // Asio's wait rounds its timeout to whole milliseconds (epoll_wait's unit), which would make
  // every event up to a millisecond late and add that to what net mode measures: it waits on
  // the sockets until a millisecond before `t`, then looks at them every 50 us.
  void wait_until(std::chrono::steady_clock::time_point t) override {
    using namespace std::chrono_literals;
    if (io_.poll_one() > 0) return;
    if (t - std::chrono::steady_clock::now() > 1ms) {
      io_.run_one_until(t - 1ms);
      return;
    }
    while (std::chrono::steady_clock::now() < t) {
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(50us, t - std::chrono::steady_clock::now()));
      if (io_.poll_one() > 0) return;
    }
  }

 private:
  struct subscriber {
    models::consumer_slot slot;
    std::unique_ptr<net::amqp::client> conn;
    std::uint16_t channel = 0;
    std::uint64_t generation = 0;  // connections opened so far
    std::uint32_t attempt = 0;     // failed connections in a row: each tries the next node
  };

  /// The connection that can settle `ref`: none for a delivery of an earlier connection, which
  /// the broker requeued when that one went.
  net::amqp::client* holder(int consumer, delivery_ref ref) {
    subscriber& s = subscribers_[static_cast<std::size_t>(consumer)];
    if (!retry_.alive(consumer) || !s.conn || ref.connection() != s.generation) return nullptr;
    return s.conn.get();
  }

  void connect_producer() {
    producer_ = std::make_unique<net::amqp::client>(io_, net::amqp::client_handlers{
        .returned = [this](net::amqp::client_message m) {
          inbox_.push_back([this, body = std::move(m.body)] { listener_.returned(body); });
        },
        .confirmed = [this](std::uint16_t channel, std::uint64_t tag, bool multiple, bool ack) {
          inbox_.push_back([this, generation = confirm_generation_, channel, tag, multiple, ack] {
            if (generation == confirm_generation_ && channel == confirm_channel_) on_confirm(tag, multiple, ack);
          });
        },
        .channel_closed = [this](std::uint16_t channel, std::string_view) {
          // A refused publish closes the channel (e.g. a missing exchange): go on on a fresh one.
          if (channel == confirm_channel_) open_confirm_channel();
          else producer_->open_channel(producer_channel_ = next_channel_++);
        },
        .closed = [this](std::string_view) {
          ++producer_attempt_;
          inbox_.push_back([this] { connect_producer(); });
        }});
    producer_->connect(server_.port(spec_.producer_node + producer_attempt_));
    next_channel_ = 1;
    producer_->open_channel(producer_channel_ = next_channel_++);
    open_confirm_channel();
  }

  /// A fresh channel in confirm mode; the confirms still awaited on the old one fail, as a
  /// client library fails them when their channel closes.
  void open_confirm_channel() {
    producer_->open_channel(confirm_channel_ = next_channel_++);
    producer_->select_confirms(confirm_channel_);
    ++confirm_generation_;
    confirm_sequence_ = 0;
    inbox_.push_back([this, failed = std::exchange(awaiting_confirm_, {})]() mutable {
      for (auto& [sequence, answered] : failed) answered(false);
    });
  }

  void on_confirm(std::uint64_t tag, bool multiple, bool ack) {
    const auto last = awaiting_confirm_.upper_bound(tag);
    auto first = multiple ? awaiting_confirm_.begin() : awaiting_confirm_.find(tag);
    if (first == awaiting_confirm_.end()) return;
    std::vector<answer_fn> answered;
    for (auto it = first; it != last; ++it) answered.push_back(std::move(it->second));
    awaiting_confirm_.erase(first, last);
    for (auto& a : answered) a(ack);
  }

  void subscribe(int index) {
    subscriber& s = subscribers_[static_cast<std::size_t>(index)];
    if (!retry_.alive(index)) return;
    if (!s.conn || !s.conn->alive()) connect(index);
    const auto& group = *s.slot.group;
    s.conn->open_channel(++s.channel);
    if (group.pull) return;  // a poller asks with basic.get
    if (group.prefetch) s.conn->qos(s.channel, group.prefetch);
    s.conn->consume(s.channel, group.queue, group.auto_ack);
  }

  void connect(int index) {
    subscriber& s = subscribers_[static_cast<std::size_t>(index)];
    const std::uint64_t generation = ++s.generation;
    // Everything a connection reports is queued with its generation: a late report of an old
    // connection changes nothing.
    auto later = [this, index, generation](std::function<void(subscriber&)> f) {
      inbox_.push_back([this, index, generation, f = std::move(f)] {
        subscriber& target = subscribers_[static_cast<std::size_t>(index)];
        if (retry_.alive(index) && target.generation == generation) f(target);
      });
    };
    s.conn = std::make_unique<net::amqp::client>(io_, net::amqp::client_handlers{
        .delivered = [this, index, generation, later](net::amqp::client_message m) {
          later([this, index, generation, m = std::move(m)](subscriber& target) {
            target.attempt = 0;
            // The client's connection count is the connection part of the channel id.
            listener_.delivered(index, {delivery_ref::channel_on(generation, m.channel), m.delivery_tag}, m.body);
          });
        },
        .empty = [this, index, later](std::uint16_t) { later([this, index](subscriber&) { listener_.empty(index); }); },
        .cancelled = [this, index, later](std::uint16_t) { later([this, index](subscriber&) { retry_.later(index); }); },
        .channel_closed = [this, index, later](std::uint16_t, std::string_view) {
          later([this, index](subscriber& target) {
            if (target.slot.group->pull) listener_.empty(index);  // its basic.get will not be answered
            retry_.later(index);  // the queue is missing or down
          });
        },
        .closed = [this, index, later](std::string_view) {
          later([this, index](subscriber& target) {
            ++target.attempt;
            listener_.reset(index);
            retry_.later(index);
          });
        }});
    s.channel = 0;
    s.conn->connect(server_.port(s.slot.group->node + s.attempt));
  }

  const models::system_spec& spec_;
  mutable broker_nodes server_;
  boost::asio::io_context io_;  // the clients'; run by the simulation thread
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::unique_ptr<net::amqp::client> producer_;
  std::uint16_t producer_channel_ = 1, confirm_channel_ = 2, next_channel_ = 3;
  std::uint64_t confirm_sequence_ = 0, confirm_generation_ = 0;  // generation: of the confirm channel
  std::map<std::uint64_t, answer_fn> awaiting_confirm_;          // by publish sequence
  std::uint32_t producer_attempt_ = 0;
  std::vector<subscriber> subscribers_;
  models::resubscriptions retry_;
  std::deque<std::function<void()>> inbox_;
  listener listener_;
  models::cpu_window cpu_;  // the nodes' threads
};

}  // namespace

std::unique_ptr<models::amqp_side> make_net_amqp(sim::simulator& sim, const models::system_spec& spec) {
  if (!models::uses_step<models::publish_step>(spec.request) && spec.consumers.empty() && spec.broker.queues.empty()) {
    return std::make_unique<models::amqp_model>(sim, spec, sim::random_streams(0));  // nothing to drive
  }
  return std::make_unique<net_amqp>(sim, spec);
}

}  // namespace mqlab::workbench
