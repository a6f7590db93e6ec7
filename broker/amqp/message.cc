// Message construction.
#include "broker/amqp/message.h"

namespace mqlab::broker::amqp {

message_ptr make_message(std::string exchange, std::string routing_key, std::string body,
                         std::shared_ptr<const basic_properties> properties) {
  static const auto none = std::make_shared<const basic_properties>();
  return std::make_shared<const message>(
      message{std::move(exchange), std::move(routing_key), properties ? std::move(properties) : none, std::move(body)});
}

}  // namespace mqlab::broker::amqp
