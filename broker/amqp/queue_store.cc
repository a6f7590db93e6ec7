// Priority levels as separate deques; requeue by binary search on the sequence number.
#include "broker/amqp/queue_store.h"

#include <algorithm>
#include <cassert>

namespace mqlab::broker::amqp {

std::size_t queue_store::level_of(const queued_message& m) const {
  // Priorities above the maximum count as the maximum (RabbitMQ).
  return std::min<std::size_t>(m.msg->priority(), levels_.size() - 1);
}

void queue_store::push_back(queued_message m) {
  bytes_ += m.msg->body_size();
  ++count_;
  levels_[level_of(m)].push_back(std::move(m));
}

void queue_store::requeue(queued_message m) {
  bytes_ += m.msg->body_size();
  ++count_;
  auto& level = levels_[level_of(m)];
  const auto at = std::upper_bound(level.begin(), level.end(), m.sequence,
                                   [](std::uint64_t seq, const queued_message& q) { return seq < q.sequence; });
  level.insert(at, std::move(m));
}

std::optional<std::pair<std::deque<queued_message>*, std::deque<queued_message>::iterator>> queue_store::locate(
    std::uint64_t sequence) {
  for (auto& level : levels_) {
    const auto at = std::lower_bound(level.begin(), level.end(), sequence,
                                     [](const queued_message& q, std::uint64_t seq) { return q.sequence < seq; });
    if (at != level.end() && at->sequence == sequence) return std::pair{&level, at};
  }
  return std::nullopt;
}

queued_message* queue_store::find(std::uint64_t sequence) {
  const auto where = locate(sequence);
  return where ? &*where->second : nullptr;
}

bool queue_store::erase(std::uint64_t sequence) {
  const auto where = locate(sequence);
  if (!where) return false;
  --count_;
  bytes_ -= where->second->msg->body_size();
  where->first->erase(where->second);
  return true;
}

std::deque<queued_message>& queue_store::top_level() {
  for (auto it = levels_.rbegin(); it != levels_.rend(); ++it) {
    if (!it->empty()) return *it;
  }
  assert(false && "queue_store is empty");
  return levels_.front();
}

queued_message& queue_store::front() { return top_level().front(); }

queued_message queue_store::take_front(std::deque<queued_message>& level) {
  queued_message m = std::move(level.front());
  level.pop_front();
  --count_;
  bytes_ -= m.msg->body_size();
  return m;
}

queued_message queue_store::pop_front() { return take_front(top_level()); }

queued_message queue_store::pop_oldest_lowest() {
  for (auto& level : levels_) {
    if (!level.empty()) return take_front(level);
  }
  assert(false && "queue_store is empty");
  return {};
}

instant queue_store::next_expiry() const {
  instant earliest = instant::never();
  for (const auto& level : levels_) {
    if (!level.empty()) earliest = std::min(earliest, level.front().expires_at);
  }
  return earliest;
}

bool queue_store::pop_expired(instant now, queued_message& out) {
  for (auto& level : levels_) {
    if (!level.empty() && level.front().expires_at <= now) {
      out = take_front(level);
      return true;
    }
  }
  return false;
}

std::size_t queue_store::clear() {
  const std::size_t n = count_;
  for (auto& level : levels_) level.clear();
  count_ = 0;
  bytes_ = 0;
  return n;
}

}  // namespace mqlab::broker::amqp
