// AMQP 0-9-1 reply codes (spec §1.9 "Constants") as the core's error vocabulary, so the network
// layer maps an error to channel.close / connection.close one-for-one.
#pragma once

#include <cstdint>
#include <string>

namespace mqlab::broker::amqp {

enum class reply_code : std::uint16_t {
  success = 200,
  content_too_large = 311,
  no_route = 312,
  no_consumers = 313,
  connection_forced = 320,
  invalid_path = 402,
  access_refused = 403,
  not_found = 404,
  resource_locked = 405,
  precondition_failed = 406,
  frame_error = 501,
  syntax_error = 502,
  command_invalid = 503,
  channel_error = 504,
  unexpected_frame = 505,
  resource_error = 506,
  not_allowed = 530,
  not_implemented = 540,
  internal_error = 541,
};

/// Hard errors close the connection; soft errors close only the channel (spec §1.9).
constexpr bool closes_connection(reply_code c) {
  switch (c) {
    case reply_code::content_too_large: case reply_code::no_route: case reply_code::no_consumers:
    case reply_code::access_refused: case reply_code::not_found: case reply_code::resource_locked:
    case reply_code::precondition_failed:
      return false;
    default:
      return true;
  }
}

/// AMQP class and method ids of the call that failed, carried on channel.close/connection.close.
struct method_ref {
  std::uint16_t class_id = 0;
  std::uint16_t method_id = 0;
};

namespace methods {
inline constexpr method_ref channel_open{20, 10};
inline constexpr method_ref exchange_declare{40, 10}, exchange_delete{40, 20}, exchange_bind{40, 30},
    exchange_unbind{40, 40};
inline constexpr method_ref queue_declare{50, 10}, queue_bind{50, 20}, queue_purge{50, 30}, queue_delete{50, 40},
    queue_unbind{50, 50};
inline constexpr method_ref basic_qos{60, 10}, basic_consume{60, 20}, basic_cancel{60, 30}, basic_publish{60, 40},
    basic_get{60, 70}, basic_ack{60, 80}, basic_reject{60, 90}, basic_recover{60, 110}, basic_nack{60, 120};
inline constexpr method_ref confirm_select{85, 10};
inline constexpr method_ref tx_select{90, 10}, tx_commit{90, 20}, tx_rollback{90, 30};
}  // namespace methods

/// An error as RabbitMQ reports it: code, text ("NOT_FOUND - no queue 'q' in vhost '/'"),
/// the failing method and whether it closes the connection or only the channel.
struct error {
  reply_code code = reply_code::internal_error;
  std::string text;
  method_ref method;
  bool connection_level() const { return closes_connection(code); }
};

/// RabbitMQ's upper-case name of a reply code, the prefix of its reply texts.
const char* reply_name(reply_code c);

}  // namespace mqlab::broker::amqp
