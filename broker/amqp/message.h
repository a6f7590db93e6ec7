// A published message: the basic-class content properties (AMQP 0-9-1 §4.2.6, class basic),
// the body, and where it was published. Messages are immutable and shared: fan-out to many
// queues copies a pointer (reference-counted in the message itself), never the body.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/smart_ptr/intrusive_ptr.hpp>

#include "broker/amqp/field_table.h"

namespace mqlab::broker::amqp {

/// Content properties. Shared between messages that carry the same ones (a simulated producer
/// sends thousands of messages with one properties object).
struct basic_properties {
  std::optional<std::string> content_type, content_encoding;
  field_table headers;
  std::optional<std::uint8_t> delivery_mode;  // 1 transient, 2 persistent
  std::optional<std::uint8_t> priority;
  std::optional<std::string> correlation_id, reply_to;
  std::optional<std::string> expiration;  // per-message TTL in milliseconds, as a decimal string
  std::optional<std::string> message_id;
  std::optional<std::uint64_t> timestamp;
  std::optional<std::string> type, user_id, app_id, cluster_id;

  bool persistent() const { return delivery_mode == 2; }
};

class message;
void intrusive_ptr_add_ref(const message* m);
void intrusive_ptr_release(const message* m);

/// A message is one allocation: a 24-byte head (properties, reference count, body size), then
/// the sizes of the exchange and routing key names and the bytes of both and of the body. A
/// queued 100-byte message thus costs one heap block of about 150 bytes and an 8-byte pointer,
/// where strings and a shared_ptr control block took three blocks.
class message {
 public:
  message(const message&) = delete;
  message& operator=(const message&) = delete;

  /// Where it was published (the default exchange is "").
  std::string_view exchange() const { return {names(), name_size(0)}; }
  std::string_view routing_key() const { return {names() + name_size(0), name_size(1)}; }
  std::string_view body() const { return {names() + name_size(0) + name_size(1), body_size_}; }
  std::size_t body_size() const { return body_size_; }
  /// Never null.
  const std::shared_ptr<const basic_properties>& properties() const { return properties_; }
  std::uint8_t priority() const { return properties_->priority.value_or(0); }

 private:
  friend boost::intrusive_ptr<const message> make_message(std::string_view, std::string_view, std::string_view,
                                                          std::shared_ptr<const basic_properties>);
  friend void intrusive_ptr_add_ref(const message* m);
  friend void intrusive_ptr_release(const message* m);
  message(std::shared_ptr<const basic_properties> properties, std::uint32_t body_size)
      : properties_(std::move(properties)), body_size_(body_size) {}
  ~message() = default;
  /// The two name sizes (u16 each), then the names and the body, right after the head.
  const char* sizes() const { return reinterpret_cast<const char*>(this + 1); }
  std::size_t name_size(int which) const;
  const char* names() const { return sizes() + 4; }

  std::shared_ptr<const basic_properties> properties_;
  mutable std::atomic<std::uint32_t> references_{0};
  std::uint32_t body_size_;
};

using message_ptr = boost::intrusive_ptr<const message>;

/// Builds a message; `properties` may be null for "no properties". Exchange and routing key
/// are AMQP short strings (at most 255 bytes), a body at most 4 GiB: longer ones throw
/// std::length_error, which only a caller that skipped its own checks can meet.
message_ptr make_message(std::string_view exchange, std::string_view routing_key, std::string_view body,
                         std::shared_ptr<const basic_properties> properties = nullptr);

}  // namespace mqlab::broker::amqp
