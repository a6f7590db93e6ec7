// The ready messages of one queue: FIFO per priority level (x-max-priority), highest level
// first, with requeued messages put back at their original position as RabbitMQ does, and
// head-of-queue expiry.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include "broker/amqp/message.h"
#include "broker/common.h"

namespace mqlab::broker::amqp {

/// A message inside a queue.
struct queued_message {
  message_ptr msg;
  std::uint64_t sequence = 0;               // enqueue order within the queue
  instant expires_at = instant::never();    // from x-message-ttl / expiration at enqueue
  std::uint32_t deliveries = 0;             // > 0 means the next delivery is a redelivery
};

class queue_store {
 public:
  /// `max_priority` 0 means no priorities (one FIFO).
  explicit queue_store(std::uint8_t max_priority = 0) : levels_(max_priority + 1u) {}

  void push_back(queued_message m);
  /// Puts a message back where its sequence number says it belongs.
  void requeue(queued_message m);
  bool empty() const { return count_ == 0; }
  std::size_t size() const { return count_; }
  std::uint64_t bytes() const { return bytes_; }

  /// The next message to deliver. REQUIRES: !empty().
  queued_message& front();
  queued_message pop_front();
  /// The oldest message of the lowest level, the one drop-head overflow removes first.
  queued_message pop_oldest_lowest();
  /// Earliest expiry among the heads of the levels.
  instant next_expiry() const;
  /// Removes one expired head message if any level has one expired at `now`.
  bool pop_expired(instant now, queued_message& out);
  /// The message with this sequence number, if present (a mirror following its owner).
  queued_message* find(std::uint64_t sequence);
  /// Removes the message with this sequence number, if present.
  bool erase(std::uint64_t sequence);
  /// Calls f(const queued_message&) for every message, level by level.
  template <typename F>
  void for_each(F&& f) const {
    for (const auto& level : levels_) {
      for (const auto& m : level) f(m);
    }
  }
  /// Removes everything; returns how many messages there were.
  std::size_t clear();

 private:
  std::size_t level_of(const queued_message& m) const;
  std::deque<queued_message>& top_level();
  queued_message take_front(std::deque<queued_message>& level);
  /// Where a sequence number is in its level, or nullopt.
  std::optional<std::pair<std::deque<queued_message>*, std::deque<queued_message>::iterator>> locate(std::uint64_t sequence);

  std::vector<std::deque<queued_message>> levels_;
  std::size_t count_ = 0;
  std::uint64_t bytes_ = 0;
};

}  // namespace mqlab::broker::amqp
