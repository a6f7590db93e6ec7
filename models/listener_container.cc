// Spring AMQP's dynamic concurrency (SimpleMessageListenerContainer: the consumer main loop's
// consecutiveMessages / consecutiveIdles counters, considerAddingAConsumer and
// considerStoppingAConsumer), in virtual time.
#include "models/listener_container.h"

#include <algorithm>
#include <utility>

namespace mqlab::models {

listener_container::listener_container(sim::simulator& sim, const consumer_group_spec& group, std::vector<int> members,
                                       std::function<void(int)> start, std::function<void(int)> stop)
    : sim_(sim), group_(group), rules_(*group.elastic), start_(std::move(start)), stop_(std::move(stop)) {
  for (const int c : members) members_.push_back({.consumer = c, .running = static_cast<int>(members_.size()) < rules_.min});
  max_running_ = running_count();
}

listener_container::member& listener_container::slot(int consumer) {
  return *std::find_if(members_.begin(), members_.end(), [&](const member& m) { return m.consumer == consumer; });
}

const listener_container::member& listener_container::slot(int consumer) const {
  return *std::find_if(members_.begin(), members_.end(), [&](const member& m) { return m.consumer == consumer; });
}

int listener_container::running_count() const {
  return static_cast<int>(std::count_if(members_.begin(), members_.end(), [](const member& m) { return m.running; }));
}

void listener_container::received(int consumer) {
  member& m = slot(consumer);
  if (!m.running) return;
  ++m.wait;
  m.consecutive_idles = 0;
  // Spring compares before counting (consecutiveMessages++ > consecutiveActiveTrigger).
  if (m.consecutive_messages++ > rules_.consecutive_active_trigger) {
    consider_adding();
    m.consecutive_messages = 0;
  }
}

void listener_container::waiting(int consumer) {
  member& m = slot(consumer);
  if (!m.running) return;
  const std::uint64_t wait = ++m.wait;
  sim_.after(rules_.receive_timeout, [this, consumer, wait] {
    member& w = slot(consumer);
    if (!w.running || w.wait != wait) return;  // a message came, or it stopped
    timed_out(w);
    if (w.running) waiting(consumer);  // the loop receives again
  });
}

void listener_container::timed_out(member& m) {
  m.consecutive_messages = 0;
  if (m.consecutive_idles++ > rules_.consecutive_idle_trigger) {
    consider_stopping(m);
    m.consecutive_idles = 0;
  }
}

void listener_container::killed(int consumer) {
  member& m = slot(consumer);
  m.running = false;
  m.dead = true;
  ++m.wait;
}

void listener_container::consider_adding() {
  if (running_count() >= group_.count) return;
  if (last_started_ && *last_started_ + rules_.start_consumer_min_interval >= sim_.now()) return;
  const auto next = std::find_if(members_.begin(), members_.end(), [](const member& m) { return !m.running && !m.dead; });
  if (next == members_.end()) return;
  last_started_ = sim_.now();
  next->running = true;
  next->consecutive_messages = next->consecutive_idles = 0;
  ++started_;
  max_running_ = std::max(max_running_, running_count());
  start_(next->consumer);
}

void listener_container::consider_stopping(member& m) {
  if (running_count() <= rules_.min) return;
  if (last_stopped_ && *last_stopped_ + rules_.stop_consumer_min_interval >= sim_.now()) return;
  last_stopped_ = sim_.now();
  m.running = false;
  ++m.wait;
  ++stopped_;
  stop_(m.consumer);
}

}  // namespace mqlab::models
