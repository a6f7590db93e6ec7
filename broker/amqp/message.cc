// Message construction.
#include "broker/amqp/message.h"

#include <cstring>
#include <new>
#include <stdexcept>

namespace mqlab::broker::amqp {

std::size_t message::name_size(int which) const {
  std::uint16_t size;
  std::memcpy(&size, sizes() + 2 * which, sizeof size);
  return size;
}

void intrusive_ptr_add_ref(const message* m) { m->references_.fetch_add(1, std::memory_order_relaxed); }

void intrusive_ptr_release(const message* m) {
  if (m->references_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  m->~message();
  ::operator delete(const_cast<message*>(m));
}

message_ptr make_message(std::string_view exchange, std::string_view routing_key, std::string_view body,
                         std::shared_ptr<const basic_properties> properties) {
  static const auto none = std::make_shared<const basic_properties>();
  if (exchange.size() > 255 || routing_key.size() > 255 || body.size() > UINT32_MAX) {
    throw std::length_error("message: an exchange or routing key over 255 bytes, or a body over 4 GiB");
  }
  void* block = ::operator new(sizeof(message) + 4 + exchange.size() + routing_key.size() + body.size());
  auto* m = new (block) message(properties ? std::move(properties) : none, static_cast<std::uint32_t>(body.size()));
  char* at = static_cast<char*>(block) + sizeof(message);
  const std::uint16_t sizes[2] = {static_cast<std::uint16_t>(exchange.size()), static_cast<std::uint16_t>(routing_key.size())};
  std::memcpy(at, sizes, sizeof sizes);
  at += sizeof sizes;
  for (const std::string_view part : {exchange, routing_key, body}) {
    if (!part.empty()) std::memcpy(at, part.data(), part.size());
    at += part.size();
  }
  return message_ptr(m);
}

}  // namespace mqlab::broker::amqp
static_assert(sizeof(mqlab::broker::amqp::message) == 24, "a message head is 24 bytes");
