// The runtime of a simulated system: requests walk pipelines as tokens (a token per request,
// per parallel branch and per consumed message); stations serve tokens; publish steps hand
// messages to the AMQP side, whose deliveries start consumer work.
#include "models/system_model.h"

#include <charconv>
#include <chrono>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>

#include "broker/amqp/broker.h"
#include "models/amqp_model.h"
#include "models/coordination_model.h"
#include "models/jms_model.h"
#include "models/kafka_model.h"
#include "models/listener_container.h"
#include "models/measured_cpu.h"
#include "models/precise_sleeps.h"
#include "models/record_ledger.h"
#include "models/station.h"
#include "sim/simulator.h"

namespace mqlab::models {
namespace {

namespace amqp = broker::amqp;

constexpr std::int64_t no_parent = -1;
// A message body starts with a stamp: creation time (8 bytes), flags (1: it counts, 2: keyed,
// 4: an id without a key), the e2e tag, and for a keyed publish its key and sequence within the
// key (4 + 4 bytes), for a retrying unkeyed one -1 and its id.
constexpr std::size_t stamp_bytes = 18;
constexpr char counts_flag = 1, keyed_flag = 2, identified_flag = 4;

struct token {
  const pipeline* steps = nullptr;
  std::size_t next = 0;
  std::int64_t parent = no_parent;
  sim::sim_time created;   // when the request (or the consumed message) was created
  std::uint32_t pending = 0;
  int consumer = -1;       // >= 0: the work of that consumer on one message
  delivery_ref delivery;   // the consumed message, for the ack
  std::uint64_t consumer_epoch = 0;
  bool measured = false;
  bool live = false;
  std::uint8_t tag = 0;  // 1 + index into the publish tags, 0 = none
  std::int32_t key = -1;     // the consumed message's key (keyed publishes), -1 = none
  std::uint32_t in_key = 0;  // and its sequence within the key, or its id when `identified`
  bool identified = false;   // no key, but an id: a retrying publish may send it twice
  bool fails = false;        // the consumer's work on the message fails (decided at delivery)
};

/// A delivered message a consumer holds: its ack handle and the stamp the publisher wrote.
struct held_message {
  delivery_ref ref;
  sim::sim_time created;
  bool measured = false;
  std::uint8_t tag = 0;
  std::int32_t key = -1;
  std::uint32_t in_key = 0;
  bool identified = false;
  bool fails = false;
};

/// A confirming publish that may fail and be tried again: what it sends, the request waiting
/// for it, and which try is out (an answer to an earlier one comes too late and is ignored).
struct publish_attempt {
  const publish_step* step = nullptr;
  std::int64_t token = 0;
  std::string routing_key, body;
  int tries = 0;         // sent so far
  bool waiting = false;  // for the answer to the last one
  bool measured = false;
};

struct consumer_rt {
  const consumer_group_spec* group = nullptr;
  int index = 0;
  std::deque<held_message> buffer;  // delivered (prefetched), not yet worked on
  bool busy = false;
  std::uint16_t done_unacked = 0;  // finished since its last (multiple) ack
  bool alive = true;         // false once killed by a fault: it never comes back
  std::uint64_t epoch = 0;   // bumped when its connection is lost: work of an old epoch is void
  std::uint64_t delivered = 0, failed = 0;
  sim::rng fail_rng;         // the group's `fail` probability
  listener_container* container = nullptr;  // an elastic group's: it says whether this one runs
  bool asking = false;       // a pulling consumer's basic.get is out
  bool ever_ran = true;      // elastic: started at some point (never-started slots are not consumers)
};

class system_model {
 public:
  system_model(const system_spec& spec, std::uint64_t seed, const run_environment& environment);
  run_metrics run(const run_progress& progress, const std::atomic<bool>* cancel, const run_snapshot& snapshot);

 private:
  // Requests and tokens.
  void arrive();
  /// Whether the run must stop now (too many pending events, or the environment's budget);
  /// if so, says why in stopped_ and stops the simulator.
  bool over_budget();
  std::int64_t new_token(const pipeline* steps, std::int64_t parent, sim::sim_time created, bool measured);
  void advance(std::int64_t id);
  /// Runs `step` after a step's client-side `cost`: at once when there is none, which saves
  /// an event per message.
  template <typename F>
  void after_cost(sim::duration cost, F&& step) {
    if (cost.ns() == 0) step();
    else sim_.after(cost, std::forward<F>(step));
  }
  void finish(std::int64_t id);
  /// Publishes for token `id`, which goes on when the publish is written, or confirmed, or
  /// (retrying) given up.
  void publish(const publish_step& step, std::int64_t id);
  /// The stamped body of a message published for `t`.
  std::string stamped_body(const publish_step& step, const token& t);
  const std::shared_ptr<const amqp::basic_properties>& properties_of(const publish_step& step);
  void try_publish(std::uint64_t attempt);
  enum class publish_outcome { acked, nacked, timed_out };
  void settle(std::uint64_t attempt, int tries, publish_outcome outcome);
  /// Whether a publish step of the request or of a consumer's work waits for confirms.
  bool uses_confirms() const;
  // Consumers.
  void on_delivery(int consumer, delivery_ref ref, std::string_view body);
  void drop_in_flight(int consumer);
  void start_next(int c);
  /// A pulling consumer with nothing to do asks for its next message (basic.get).
  void ask(int c);
  void on_empty(int c);
  /// The listener container of an elastic group, which starts and stops its consumers.
  void add_container(const consumer_group_spec& group);
  /// 1 + the index of a publish tag (registered on first use), or 0 for no tag.
  std::uint8_t tag_index(const std::string& tag);
  // Faults and sampling.
  void schedule_faults();
  void apply(const fault_spec& f);
  void sample();
  void start_measuring();
  void run_paced_until(sim::sim_time end, const std::atomic<bool>* cancel);
  run_metrics collect();

  const system_spec& spec_;
  sim::simulator sim_;
  sim::random_streams streams_;
  sim::rng arrival_rng_, delay_rng_, routing_rng_, key_rng_;
  std::vector<std::uint32_t> next_in_key_;       // keyed publishes: the next sequence of each key
  std::map<std::string, record_ledger> order_;  // per consumer group: keyed messages' order and duplicates
  sim::arrival_process arrivals_;
  std::map<std::string, std::unique_ptr<station>> stations_;
  bool real_time_;
  std::function<std::optional<std::string>()> over_budget_;
  std::uint64_t arrivals_seen_ = 0;
  std::string stopped_;
  std::unique_ptr<cpu_pool> host_;  // before the sides: their nodes and clients run on it
  cpu_window process_cpu_;          // net mode: this process on the real host
  std::unique_ptr<amqp_side> amqp_;
  std::unique_ptr<kafka_side> kafka_;
  std::unique_ptr<jms_side> jms_;
  coordination_model zk_;
  std::vector<token> tokens_;
  std::vector<std::int64_t> free_tokens_;
  std::vector<consumer_rt> consumers_;
  std::vector<std::unique_ptr<listener_container>> containers_;  // one per elastic group
  std::map<const publish_step*, std::shared_ptr<const amqp::basic_properties>> publish_props_;
  std::unordered_map<std::uint64_t, publish_attempt> attempts_;
  std::uint64_t next_attempt_ = 0;
  std::uint32_t next_message_id_ = 0;  // of unkeyed retrying publishes
  std::optional<std::chrono::steady_clock::time_point> wall_start_;  // real time: when sim time 0 was

  // Measurements.
  sim::histogram response_, e2e_, interval_response_;
  std::uint64_t requests_ = 0, completed_ = 0, rejected_ = 0, consumed_ = 0, unroutable_ = 0, lost_in_flight_ = 0;
  // Confirming publishers (measured requests only); a message given up after a nack is lost.
  std::uint64_t nacked_ = 0, timeouts_ = 0, retries_ = 0, gave_up_ = 0, lost_given_up_ = 0;
  std::uint64_t interval_completed_ = 0, interval_consumed_ = 0;
  std::map<std::string, std::vector<double>> series_;
  std::map<std::string, double> max_depth_;
  std::vector<std::pair<std::string, sim::histogram>> tagged_e2e_;
  broker::amqp::queue_stats at_warmup_;
  broker::amqp::cluster_traffic traffic_at_warmup_;
};

system_model::system_model(const system_spec& spec, std::uint64_t seed, const run_environment& environment)
    : spec_(spec),
      streams_(seed),
      arrival_rng_(streams_.stream("arrivals")),
      delay_rng_(streams_.stream("delays")),
      routing_rng_(streams_.stream("routing")),
      key_rng_(streams_.stream("publish-keys")),
      arrivals_(*spec.arrivals),
      real_time_(environment.real_time),
      over_budget_(environment.over_budget),
      // Real sides run on the real machine: only the simulated ones need a host.
      host_(spec.costs.host_cores > 0 && !environment.real_time ? std::make_unique<cpu_pool>(sim_, spec.costs.host_cores)
                                                                 : nullptr),
      amqp_(environment.amqp ? environment.amqp(sim_, spec) : std::make_unique<amqp_model>(sim_, spec, streams_, host_.get())),
      kafka_(environment.kafka ? environment.kafka(sim_, spec, streams_)
                               : std::make_unique<kafka_model>(sim_, spec.kafka, spec.costs, streams_, host_.get())),
      jms_(environment.jms ? environment.jms(sim_, spec, streams_)
                           : std::make_unique<jms_model>(sim_, spec.jms, spec.costs, streams_, host_.get())),
      zk_(sim_, spec.zookeeper) {
  for (const auto& [name, st] : spec_.stations) {
    auto s = std::make_unique<station>(sim_, station_config{name, st.servers, st.service, st.capacity},
                                       streams_.stream("station-" + name));
    s->on_departure([this](const job& j) { advance(static_cast<std::int64_t>(j.id)); });
    stations_.emplace(name, std::move(s));
  }
  for (const auto& slot : consumer_slots(spec_.consumers)) {
    consumers_.push_back({.group = slot.group, .index = slot.index,
                          .fail_rng = streams_.stream(fmt::format("fail-{}-{}", slot.group->name, slot.index)),
                          .ever_ran = slot.index < slot.group->initial_count()});
  }
  for (const auto& group : spec_.consumers) {
    if (group.elastic) add_container(group);
  }
}

// --- requests ---------------------------------------------------------------------------------

std::int64_t system_model::new_token(const pipeline* steps, std::int64_t parent, sim::sim_time created,
                                     bool measured) {
  std::int64_t id;
  if (free_tokens_.empty()) {
    id = static_cast<std::int64_t>(tokens_.size());
    tokens_.emplace_back();
  } else {
    id = free_tokens_.back();
    free_tokens_.pop_back();
  }
  tokens_[static_cast<std::size_t>(id)] = token{steps, 0, parent, created, 0, -1, {}, 0, measured, true};
  return id;
}

bool system_model::over_budget() {
  // Beyond this many pending events the event queue could not take more (it holds 16.7 M).
  constexpr std::size_t max_pending = 12'000'000;
  std::optional<std::string> reason;
  if (sim_.pending() > max_pending) {
    reason = fmt::format("more than {} events were pending: the offered load outgrows what one run can hold", max_pending);
  } else if (over_budget_) {
    reason = over_budget_();
  }
  if (!reason) return false;
  stopped_ = fmt::format("stopped at t={}: {}", sim::format_duration(sim_.now() - sim::sim_time()), *reason);
  sim_.stop();
  return true;
}

void system_model::arrive() {
  if ((++arrivals_seen_ & 4095) == 0 && over_budget()) return;
  const bool measured = sim_.now() >= sim::sim_time() + spec_.warmup;
  requests_ += measured;
  advance(new_token(&spec_.request, no_parent, sim_.now(), measured));
  const sim::sim_time next = arrivals_.next(arrival_rng_);
  if (next < sim::sim_time() + spec_.duration) sim_.at(next, [this] { arrive(); });
}

void system_model::advance(std::int64_t id) {
  token& t = tokens_[static_cast<std::size_t>(id)];
  if (t.next == t.steps->size()) {
    finish(id);
    return;
  }
  const pipeline_step& step = (*t.steps)[t.next++];
  if (const auto* s = std::get_if<station_step>(&step.step)) {
    if (!stations_.at(s->station)->arrive(job{static_cast<std::uint64_t>(id), t.created, {}, {}, t.measured})) {
      rejected_ += t.measured;  // a full station turns the request away
      tokens_[static_cast<std::size_t>(id)].next = tokens_[static_cast<std::size_t>(id)].steps->size();
      finish(id);
    }
  } else if (const auto* p = std::get_if<parallel_step>(&step.step)) {
    t.pending = static_cast<std::uint32_t>(p->branches.size());
    const auto created = t.created;
    const bool measured = t.measured;
    for (const auto& branch : p->branches) advance(new_token(&branch, id, created, measured));
    if (p->branches.empty()) advance(id);
  } else if (const auto* pub = std::get_if<publish_step>(&step.step)) {
    after_cost(pub->cost, [this, id, pub] { publish(*pub, id); });
  } else if (const auto* prod = std::get_if<produce_step>(&step.step)) {
    after_cost(prod->cost, [this, id, prod] {
      const token& tk = tokens_[static_cast<std::size_t>(id)];
      kafka_->produce(*prod, tk.created, tk.measured, [this, id] { advance(id); });
    });
  } else if (const auto* snd = std::get_if<send_step>(&step.step)) {
    after_cost(snd->cost, [this, id, snd] {
      const token& tk = tokens_[static_cast<std::size_t>(id)];
      jms_->send(*snd, tk.created, tk.measured, [this, id] { advance(id); });
    });
  } else {
    const auto& d = std::get<delay_step>(step.step);
    sim_.after(sim::duration::from_seconds(d.time.sample(delay_rng_)), [this, id] { advance(id); });
  }
}

void system_model::finish(std::int64_t id) {
  const token t = tokens_[static_cast<std::size_t>(id)];
  tokens_[static_cast<std::size_t>(id)].live = false;
  free_tokens_.push_back(id);
  if (t.parent != no_parent) {
    if (--tokens_[static_cast<std::size_t>(t.parent)].pending == 0) advance(t.parent);
    return;
  }
  const sim::duration took = sim_.now() - t.created;
  if (t.consumer < 0) {
    if (t.measured) {
      ++completed_;
      response_.record(took);
    }
    ++interval_completed_;
    interval_response_.record(took);
    return;
  }
  consumer_rt& c = consumers_[static_cast<std::size_t>(t.consumer)];
  if (c.epoch != t.consumer_epoch || !c.alive) return;  // the consumer died meanwhile
  c.busy = false;
  if (t.fails) {
    // The listener threw: the message goes back (requeued or dead-lettered), or with auto-ack,
    // which the broker forgot at delivery, it is gone.
    ++c.failed;
    if (c.group->auto_ack) ++lost_in_flight_;
    else amqp_->reject(t.consumer, t.delivery, c.group->requeue_rejected);
    start_next(t.consumer);
    return;
  }
  // The ledger checks order and duplicates only: latency is recorded below, once.
  if (t.key >= 0) order_[c.group->name].finish({t.created.ns(), t.key, t.in_key, 0}, sim_.now().ns());
  else if (t.identified) order_[c.group->name].finish_unkeyed(t.in_key);
  if (t.measured) {
    ++consumed_;
    e2e_.record(took);
    if (t.tag > 0) tagged_e2e_[static_cast<std::size_t>(t.tag - 1)].second.record(took);
  }
  ++interval_consumed_;
  if (!c.group->auto_ack && ++c.done_unacked == c.group->ack_every) {
    c.done_unacked = 0;
    amqp_->ack(t.consumer, t.delivery, c.group->ack_every > 1);
  }
  start_next(t.consumer);
}

const std::shared_ptr<const amqp::basic_properties>& system_model::properties_of(const publish_step& step) {
  auto& props = publish_props_[&step];
  if (!props) {
    auto p = std::make_shared<amqp::basic_properties>();
    if (step.priority) p->priority = step.priority;
    if (step.expiration_ms) p->expiration = std::to_string(*step.expiration_ms);
    if (step.persistent) p->delivery_mode = 2;
    p->headers = step.headers;
    props = std::move(p);
  }
  return props;
}

std::string system_model::stamped_body(const publish_step& step, const token& t) {
  // The body carries the creation time and whether it counts, for end-to-end latency; a keyed
  // publish's key and its sequence within the key, for per-key order; a retrying unkeyed
  // publish's id, for duplicates.
  const bool identified = step.keys == 0 && step.retry;
  std::string body(std::max<std::size_t>(step.message_bytes, step.keys > 0 || identified ? stamp_bytes : 10), '\0');
  const std::int64_t created = t.created.ns();
  std::memcpy(body.data(), &created, sizeof created);
  body[8] = static_cast<char>((t.measured ? counts_flag : 0) | (step.keys > 0 ? keyed_flag : 0) |
                              (identified ? identified_flag : 0));
  body[9] = static_cast<char>(tag_index(step.tag));
  std::int32_t key = -1;
  std::uint32_t in_key = 0;
  if (step.keys > 0) {
    key = static_cast<std::int32_t>(key_rng_.below(static_cast<std::uint64_t>(step.keys)));
    if (next_in_key_.size() <= static_cast<std::size_t>(key)) next_in_key_.resize(static_cast<std::size_t>(key) + 1);
    in_key = next_in_key_[static_cast<std::size_t>(key)]++;
  } else if (identified) {
    in_key = next_message_id_++;
  }
  if (step.keys > 0 || identified) {
    std::memcpy(body.data() + 10, &key, sizeof key);
    std::memcpy(body.data() + 14, &in_key, sizeof in_key);
  }
  return body;
}

void system_model::publish(const publish_step& step, std::int64_t id) {
  const token& t = tokens_[static_cast<std::size_t>(id)];
  std::string body = stamped_body(step, t);
  const std::string& key = step.routing_keys.empty()
                               ? step.routing_key
                               : step.routing_keys[routing_rng_.below(step.routing_keys.size())];
  if (step.confirm && (step.retry || step.confirm_timeout)) {
    const std::uint64_t attempt = next_attempt_++;
    attempts_.emplace(attempt, publish_attempt{&step, id, key, std::move(body), 0, false, t.measured});
    try_publish(attempt);
    return;
  }
  const bool measured = t.measured;
  amqp_->publish(step.exchange, key, properties_of(step), std::move(body), step.confirm, [this, id, measured](bool acked) {
    if (!acked && measured) {
      ++nacked_;
      ++gave_up_;
      ++lost_given_up_;
    }
    advance(id);
  });
}

void system_model::try_publish(std::uint64_t attempt) {
  publish_attempt& a = attempts_.at(attempt);
  const int tries = ++a.tries;
  a.waiting = true;
  const publish_step& step = *a.step;
  amqp_->publish(step.exchange, a.routing_key, properties_of(step), a.body, true, [this, attempt, tries](bool acked) {
    settle(attempt, tries, acked ? publish_outcome::acked : publish_outcome::nacked);
  });
  if (step.confirm_timeout) {
    sim_.after(*step.confirm_timeout, [this, attempt, tries] { settle(attempt, tries, publish_outcome::timed_out); });
  }
}

void system_model::settle(std::uint64_t attempt, int tries, publish_outcome outcome) {
  auto it = attempts_.find(attempt);
  // An answer to an earlier try, or one after its timeout, comes too late.
  if (it == attempts_.end() || !it->second.waiting || it->second.tries != tries) return;
  publish_attempt& a = it->second;
  a.waiting = false;
  if (outcome != publish_outcome::acked) {
    if (a.measured) ++(outcome == publish_outcome::nacked ? nacked_ : timeouts_);
    if (a.step->retry && tries < a.step->retry->max_attempts) {
      retries_ += a.measured;
      sim_.after(a.step->retry->backoff(tries), [this, attempt] { try_publish(attempt); });
      return;
    }
    if (a.measured) {
      ++gave_up_;
      lost_given_up_ += outcome == publish_outcome::nacked;
    }
  }
  const std::int64_t id = a.token;
  attempts_.erase(it);
  advance(id);
}

bool system_model::uses_confirms() const {
  return std::ranges::any_of(steps_of<publish_step>(spec_), [](const publish_step& p) { return p.confirm; });
}

// --- broker -------------------------------------------------------------------------------------

std::uint8_t system_model::tag_index(const std::string& tag) {
  if (tag.empty()) return 0;
  for (std::size_t i = 0; i < tagged_e2e_.size(); ++i) {
    if (tagged_e2e_[i].first == tag) return static_cast<std::uint8_t>(i + 1);
  }
  tagged_e2e_.emplace_back(tag, sim::histogram());
  return static_cast<std::uint8_t>(tagged_e2e_.size());
}

void system_model::drop_in_flight(int index) {
  consumer_rt& c = consumers_[static_cast<std::size_t>(index)];
  // With auto-ack the broker forgot these at delivery: they die with the consumer. With manual
  // ack the broker requeues them.
  if (c.group->auto_ack) lost_in_flight_ += c.buffer.size() + (c.busy ? 1 : 0);
  c.buffer.clear();
  c.busy = false;
  c.done_unacked = 0;  // the broker requeued them with the connection
  ++c.epoch;
  if (c.group->pull && c.asking) {
    // Its get went with the connection: it polls again once the connection is back.
    c.asking = false;
    sim_.after(c.group->poll_interval, [this, index] { ask(index); });
  }
}

void system_model::ask(int index) {
  consumer_rt& c = consumers_[static_cast<std::size_t>(index)];
  if (!c.alive || c.asking || c.busy || !c.buffer.empty()) return;
  c.asking = true;
  amqp_->get(index);
}

void system_model::on_empty(int index) {
  consumer_rt& c = consumers_[static_cast<std::size_t>(index)];
  c.asking = false;
  sim_.after(c.group->poll_interval, [this, index] { ask(index); });
}

void system_model::on_delivery(int consumer, delivery_ref ref, std::string_view body) {
  consumer_rt& c = consumers_[static_cast<std::size_t>(consumer)];
  if (!c.alive || (c.container && !c.container->running(consumer))) return;
  c.asking = false;
  // The body starts with the creation time, whether it counts, its e2e tag and (keyed) its key.
  std::int64_t created = 0;
  std::memcpy(&created, body.data(), sizeof created);
  held_message m{ref, sim::sim_time(created), (body[8] & counts_flag) != 0, static_cast<std::uint8_t>(body[9])};
  if ((body[8] & (keyed_flag | identified_flag)) != 0 && body.size() >= stamp_bytes) {
    std::memcpy(&m.key, body.data() + 10, sizeof m.key);
    std::memcpy(&m.in_key, body.data() + 14, sizeof m.in_key);
    m.identified = (body[8] & identified_flag) != 0;
  }
  m.fails = c.group->failure.any() && c.group->failure.fails(body.substr(0, stamp_bytes), c.fail_rng);
  c.buffer.push_back(m);
  start_next(consumer);
}

void system_model::start_next(int index) {
  consumer_rt& c = consumers_[static_cast<std::size_t>(index)];
  if (c.busy) return;
  if (c.buffer.empty()) {
    if (c.container) c.container->waiting(index);
    if (c.group->pull) ask(index);
    return;
  }
  if (c.container) c.container->received(index);
  const held_message m = c.buffer.front();
  c.buffer.pop_front();
  c.busy = true;
  ++c.delivered;
  const std::int64_t id = new_token(&c.group->work, no_parent, m.created, m.measured);
  token& t = tokens_[static_cast<std::size_t>(id)];
  t.consumer = index;
  t.delivery = m.ref;
  t.consumer_epoch = c.epoch;
  t.tag = m.tag;
  t.key = m.key;
  t.in_key = m.in_key;
  t.identified = m.identified;
  t.fails = m.fails;
  advance(id);
}

void system_model::add_container(const consumer_group_spec& group) {
  std::vector<int> members;
  for (std::size_t i = 0; i < consumers_.size(); ++i) {
    if (consumers_[i].group == &group) members.push_back(static_cast<int>(i));
  }
  auto start = [this](int i) {
    consumers_[static_cast<std::size_t>(i)].ever_ran = true;
    amqp_->start_consumer(i);
    start_next(i);  // its receive waits for the first message
  };
  auto stop = [this](int i) { amqp_->stop_consumer(i); };
  containers_.push_back(std::make_unique<listener_container>(sim_, group, members, std::move(start), std::move(stop)));
  for (const int i : members) consumers_[static_cast<std::size_t>(i)].container = containers_.back().get();
}

// --- faults, sampling, results -------------------------------------------------------------------

broker::node_id parse_node(const std::string& name) {
  // Validation resolved every target; an unknown one here would be a bug, and node 0 is harmless.
  return broker::node_id{amqp_node_named(name).value_or(0)};
}

void system_model::schedule_faults() {
  for (const auto& f : spec_.faults) {
    sim_.at(sim::sim_time() + f.at, [this, &f] { apply(f); });
  }
}

void system_model::apply(const fault_spec& f) {
  switch (f.kind) {
    case fault_kind::crash_node:
      if (!kafka_->crash(f.target)) amqp_->crash(parse_node(f.target));
      break;
    case fault_kind::restart_node:
      if (!kafka_->restart(f.target)) amqp_->restart(parse_node(f.target));
      break;
    case fault_kind::stop_station: stations_.at(f.target)->pause(); break;
    case fault_kind::resume_station: stations_.at(f.target)->resume(); break;
    case fault_kind::partition: amqp_->partition(parse_node(f.target), parse_node(f.other)); break;
    case fault_kind::heal: amqp_->heal(parse_node(f.target), parse_node(f.other)); break;
    case fault_kind::resources:
      if (!kafka_->fault_resources(f.target, f.resources)) amqp_->fault_resources(parse_node(f.target), f.resources);
      break;
    case fault_kind::disconnect: zk_.disconnect(f.target, f.index, f.length); break;
    case fault_kind::kill_consumer: {
      if (kafka_->kill(f.target, f.index) || zk_.kill(f.target, f.index)) break;
      int seen = 0;
      for (std::size_t i = 0; i < consumers_.size(); ++i) {
        consumer_rt& c = consumers_[i];
        if (c.group->name != f.target || seen++ != f.index) continue;
        drop_in_flight(static_cast<int>(i));
        c.alive = false;
        if (c.container) c.container->killed(static_cast<int>(i));
        amqp_->kill(static_cast<int>(i));
      }
      break;
    }
  }
}

void system_model::sample() {
  const double secs = spec_.sample_interval.seconds();
  series_["throughput"].push_back(static_cast<double>(interval_completed_) / secs);
  series_["consumed"].push_back(static_cast<double>(interval_consumed_) / secs);
  series_["response.p50"].push_back(interval_response_.percentile(50) * 1e-9);
  series_["response.p99"].push_back(interval_response_.percentile(99) * 1e-9);
  interval_completed_ = interval_consumed_ = 0;
  interval_response_.reset();
  for (const auto& q : spec_.broker.queues) {
    const double depth = static_cast<double>(amqp_->queue_depth(q.name).value_or(0));
    series_["queue." + q.name + ".depth"].push_back(depth);
    auto& peak = max_depth_[q.name];
    peak = std::max(peak, depth);
  }
  for (const auto& container : containers_) {
    series_["consumer." + container->group().name + ".running"].push_back(container->running_count());
  }
  if (kafka_->enabled()) series_["kafka.lag"].push_back(static_cast<double>(kafka_->lag()));
  if (jms_->enabled()) series_["jms.backlog"].push_back(static_cast<double>(jms_->backlog()));
  for (const auto& [name, st] : stations_) {
    series_["station." + name + ".queue"].push_back(static_cast<double>(st->queue_length()));
    series_["station." + name + ".busy"].push_back(static_cast<double>(st->busy_servers()));
  }
}

void system_model::start_measuring() {
  for (auto& [name, st] : stations_) st->start_measuring();
  at_warmup_ = amqp_->totals();
  amqp_->start_measuring();
  traffic_at_warmup_ = amqp_->traffic();
  kafka_->start_measuring();
  jms_->start_measuring();
  if (host_) host_->start_measuring();
  if (real_time_) process_cpu_.start({process_cpu_seconds()});
}

run_metrics system_model::run(const run_progress& progress, const std::atomic<bool>* cancel,
                               const run_snapshot& snapshot) {
  // In real time a late wake-up is a late publish (net mode's response p50 fell from 28 us to
  // 12 us with precise sleeps, and its paced loop kept up with 790 000 msg/s, not 640 000).
  std::optional<precise_sleeps> sleeps;
  if (real_time_) sleeps.emplace();
  const sim::sim_time end = sim::sim_time() + spec_.duration;
  const sim::sim_time first = arrivals_.next(arrival_rng_);
  if (first < end) sim_.at(first, [this] { arrive(); });
  schedule_faults();
  amqp_->start({.delivered = [this](int c, delivery_ref ref, std::string_view body) { on_delivery(c, ref, body); },
                .reset = [this](int c) { drop_in_flight(c); },
                .returned = [this](std::string_view body) { unroutable_ += body.size() > 8 && (body[8] & counts_flag) != 0; },
                .empty = [this](int c) { on_empty(c); }});
  for (std::size_t i = 0; i < consumers_.size(); ++i) start_next(static_cast<int>(i));  // elastic ones start waiting
  kafka_->start();
  jms_->start();
  zk_.start();
  sim_.at(sim::sim_time() + spec_.warmup, [this] { start_measuring(); });
  for (sim::sim_time t = sim::sim_time() + spec_.sample_interval; t <= end; t += spec_.sample_interval) {
    sim_.at(t, [this] { sample(); });
  }
  constexpr int steps = 100;
  for (int i = 1; i <= steps; ++i) {
    const sim::sim_time step_end = i == steps ? end : sim::sim_time(spec_.duration.ns() / steps * i);
    if (real_time_) run_paced_until(step_end, cancel);
    else sim_.run_until(step_end);
    if (progress) progress(static_cast<double>(i) / steps);
    if (snapshot && i < steps) {
      run_metrics partial;
      partial.series = series_;
      partial.response = response_;
      partial.e2e = e2e_;
      snapshot(partial);
    }
    if ((cancel && cancel->load()) || !stopped_.empty()) break;
  }
  return collect();
}

void system_model::run_paced_until(sim::sim_time end, const std::atomic<bool>* cancel) {
  // Each event fires once the wall clock reaches its time; in between, the real sides hand
  // over what arrived. The AMQP side's wait ends early when its clients receive something;
  // waits are capped so Kafka's delivery reports never sit long either. A loop that has
  // fallen behind catches up a slice at a time and hands over what arrived in between: its
  // clients go on reading deliveries and acknowledging them while it publishes what was due,
  // as a producer and consumers in processes of their own would.
  using clock = std::chrono::steady_clock;
  constexpr sim::duration max_nap = sim::duration::milliseconds(1);
  constexpr sim::duration catch_up_slice = sim::duration::microseconds(100);
  if (!wall_start_) wall_start_ = clock::now() - std::chrono::nanoseconds(sim_.now().ns());
  while (sim_.now() < end && !(cancel && cancel->load())) {
    const sim::sim_time wall(std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - *wall_start_).count());
    const sim::sim_time due = std::min(wall, end), next = sim_.next_time();  // next: max() when none is pending
    sim_.run_until(next < due ? std::min(due, next + catch_up_slice) : due);
    kafka_->pump();
    jms_->pump();
    amqp_->pump();
    // librdkafka's reports wake nothing here: while one is due, look again soon, so a
    // produce's response is measured to 50 us rather than to the nap.
    const sim::duration nap = kafka_->awaiting() ? sim::duration::microseconds(50) : max_nap;
    const sim::sim_time wake = std::min({sim_.next_time(), end, wall + nap});
    amqp_->wait_until(*wall_start_ + std::chrono::nanoseconds(wake.ns()));
  }
}

run_metrics system_model::collect() {
  run_metrics m;
  auto& v = m.values;
  const double window = (spec_.duration - spec_.warmup).seconds();
  put_latency(v, "response", response_);
  for (const auto& [tag, h] : tagged_e2e_) put_latency(v, "e2e." + tag, h);
  v["requests"] = static_cast<double>(requests_);
  v["completed"] = static_cast<double>(completed_);
  v["rejected"] = static_cast<double>(rejected_);
  v["throughput"] = static_cast<double>(completed_) / window;
  v["consumed"] = static_cast<double>(consumed_);
  v["consume_rate"] = static_cast<double>(consumed_) / window;
  if (host_) v["host.cpu"] = host_->utilization();
  // Net mode: every thread of this process (the servers, the clients, the paced loop) on the machine's cores.
  if (process_cpu_.started()) {
    v["host.cpu"] = process_cpu_.cores(std::vector{process_cpu_seconds()}).at(0) / std::max(1U, std::thread::hardware_concurrency());
  }
  const auto t = amqp_->totals();
  const auto& w = at_warmup_;
  v["published"] = static_cast<double>(t.published - w.published);
  v["delivered"] = static_cast<double>(t.delivered - w.delivered);
  // The broker's own rates in the window, whenever the messages were created: under overload
  // consume_rate (messages created in the window) lags them by the backlog.
  v["publish_rate"] = static_cast<double>(t.published - w.published) / window;
  v["deliver_rate"] = static_cast<double>(t.delivered - w.delivered) / window;
  v["redelivered"] = static_cast<double>(t.redelivered - w.redelivered);
  v["acked"] = static_cast<double>(t.acked - w.acked);
  v["dead_lettered"] = static_cast<double>(t.dead_lettered - w.dead_lettered);
  v["dropped"] = static_cast<double>(t.dropped - w.dropped);
  v["expired"] = static_cast<double>(t.expired - w.expired);
  v["rejected_publishes"] = static_cast<double>(t.rejected_publishes - w.rejected_publishes);
  v["unroutable"] = static_cast<double>(unroutable_);
  v["refused_publishes"] = static_cast<double>(t.refused - w.refused);
  v["lost"] = static_cast<double>(t.lost - w.lost + unroutable_ + lost_in_flight_ + lost_given_up_);
  if (uses_confirms()) {
    v["publish.nacked"] = static_cast<double>(nacked_);
    v["publish.timeouts"] = static_cast<double>(timeouts_);
    v["publish.retries"] = static_cast<double>(retries_);
    v["publish.gave_up"] = static_cast<double>(gave_up_);
  }
  const auto traffic = amqp_->traffic();
  v["inter_node.messages"] = static_cast<double>(traffic.messages - traffic_at_warmup_.messages);
  v["inter_node.bytes"] = static_cast<double>(traffic.bytes - traffic_at_warmup_.bytes);
  v["inter_node.mirror_copies"] = static_cast<double>(traffic.mirror_copies - traffic_at_warmup_.mirror_copies);
  amqp_->resource_metrics(v);
  for (const auto& [name, st] : stations_) {
    v["station." + name + ".utilization"] = st->utilization();
    v["station." + name + ".wait.mean"] = st->wait_tally().mean();
    v["station." + name + ".rejected"] = static_cast<double>(st->blocked());
  }
  for (const auto& q : spec_.broker.queues) {
    v["queue." + q.name + ".max_depth"] = max_depth_[q.name];
    v["queue." + q.name + ".final_depth"] = static_cast<double>(amqp_->queue_depth(q.name).value_or(0));
  }
  double idle = 0;
  for (const auto& c : consumers_) {
    const std::string base = "consumer." + c.group->name;
    v[base + ".delivered"] += static_cast<double>(c.delivered);
    v[fmt::format("{}.{}.delivered", base, c.index)] = static_cast<double>(c.delivered);
    if (c.group->failure.any()) v[base + ".failed"] += static_cast<double>(c.failed);
    idle += c.ever_ran && c.delivered == 0;
  }
  v["idle_consumers"] = idle;
  for (const auto& container : containers_) {
    const std::string base = "consumer." + container->group().name;
    v[base + ".started"] = static_cast<double>(container->started());
    v[base + ".stopped"] = static_cast<double>(container->stopped());
    v[base + ".running"] = container->running_count();
    v[base + ".max_running"] = container->max_running();
  }
  for (const auto& [group, ledger] : order_) {
    v["consumer." + group + ".order_violations"] = static_cast<double>(ledger.order_violations());
    v["consumer." + group + ".duplicates"] = static_cast<double>(ledger.duplicates());
  }
  kafka_->collect(v, e2e_);  // Kafka's and JMS's end-to-end latencies join the AMQP consumers' ones
  jms_->collect(v, e2e_);
  zk_.collect(v);
  put_latency(v, "e2e", e2e_);
  m.series = std::move(series_);
  m.response = response_;
  m.e2e = e2e_;
  m.events = sim_.events_fired();
  m.stopped = stopped_;
  return m;
}

}  // namespace

void put_latency(std::map<std::string, double>& v, const std::string& prefix, const sim::histogram& h) {
  v[prefix + ".count"] = static_cast<double>(h.count());
  if (h.count() == 0) return;
  v[prefix + ".mean"] = h.mean() * 1e-9;
  v[prefix + ".stddev"] = h.stddev() * 1e-9;
  for (auto [name, p] : {std::pair{"p50", 50.0}, std::pair{"p90", 90.0}, std::pair{"p95", 95.0}, std::pair{"p99", 99.0},
                         std::pair{"p99.9", 99.9}, std::pair{"p99.99", 99.99}}) {
    v[prefix + "." + name] = h.percentile(p) * 1e-9;
  }
  v[prefix + ".max"] = h.max() * 1e-9;
}

sim::duration retry_policy::backoff(int attempt) const {
  // ExponentialBackOffPolicy: initial, initial x multiplier, ... capped at max_interval.
  double wait = static_cast<double>(initial_interval.ns());
  for (int i = 1; i < attempt && wait < static_cast<double>(max_interval.ns()); ++i) wait *= multiplier;
  return sim::duration(static_cast<std::int64_t>(std::min(wait, static_cast<double>(max_interval.ns()))));
}

bool failure_spec::fails(std::string_view stamp, sim::rng& rng) const {
  if (poison_every > 0) {
    // FNV-1a over the stamp, then a splitmix64 finaliser: a fixed, well-spread choice per message.
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (const char c : stamp) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
    if ((h ^ (h >> 31)) % poison_every == 0) return true;
  }
  return probability > 0 && rng.uniform01() < probability;
}

std::optional<std::uint32_t> amqp_node_named(const std::string& name) {
  const std::string_view digits = std::string_view(name).substr(name.starts_with("node-") ? 5 : 0);
  std::uint32_t n = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size()) return std::nullopt;
  return n;
}

run_metrics run_system(const system_spec& spec, std::uint64_t seed, const run_progress& progress,
                       const std::atomic<bool>* cancel, const run_snapshot& snapshot,
                       const run_environment& environment) {
  system_model model(spec, seed, environment);
  return model.run(progress, cancel, snapshot);
}

}  // namespace mqlab::models
