// The AMQP 0-9-1 methods (spec §1, classes connection, channel, exchange, queue, basic, confirm,
// tx) as plain structs listing their fields in wire order. Strings are views into the frame they
// were decoded from (or into the caller's data when encoding), so decoding copies nothing but
// field tables. One generic codec reads and writes every method through fields().
#pragma once

#include <cstdint>
#include <string_view>
#include <tuple>
#include <variant>

#include "net/amqp/wire.h"

namespace mqlab::net::amqp {

template <std::uint16_t Class, std::uint16_t Method>
struct method_id {
  static constexpr std::uint16_t class_id = Class;
  static constexpr std::uint16_t method_id_v = Method;
};

// Lists a method's fields once, for both reading (mutable) and writing (const).
#define MQLAB_AMQP_FIELDS(...)                             \
  auto fields() { return std::tie(__VA_ARGS__); }          \
  auto fields() const { return std::tie(__VA_ARGS__); }
#define MQLAB_AMQP_NO_FIELDS                               \
  std::tuple<> fields() const { return {}; }

using shortstr = std::string_view;

struct connection_start : method_id<10, 10> {
  std::uint8_t version_major = 0, version_minor = 9;
  field_table server_properties;
  longstr mechanisms, locales;
  MQLAB_AMQP_FIELDS(version_major, version_minor, server_properties, mechanisms, locales)
};
struct connection_start_ok : method_id<10, 11> {
  field_table client_properties;
  shortstr mechanism;
  longstr response;
  shortstr locale;
  MQLAB_AMQP_FIELDS(client_properties, mechanism, response, locale)
};
struct connection_secure : method_id<10, 20> { longstr challenge; MQLAB_AMQP_FIELDS(challenge) };
struct connection_secure_ok : method_id<10, 21> { longstr response; MQLAB_AMQP_FIELDS(response) };
/// connection.tune and tune-ok carry the same fields.
template <std::uint16_t Method>
struct tuning : method_id<10, Method> {
  std::uint16_t channel_max = 0;
  std::uint32_t frame_max = 0;
  std::uint16_t heartbeat = 0;
  MQLAB_AMQP_FIELDS(channel_max, frame_max, heartbeat)
};
using connection_tune = tuning<30>;
using connection_tune_ok = tuning<31>;
struct connection_open : method_id<10, 40> {
  shortstr virtual_host, capabilities;
  bool insist = false;
  MQLAB_AMQP_FIELDS(virtual_host, capabilities, insist)
};
struct connection_open_ok : method_id<10, 41> { shortstr known_hosts; MQLAB_AMQP_FIELDS(known_hosts) };
/// connection.close and channel.close carry the same fields.
template <std::uint16_t Class, std::uint16_t Method>
struct closing : method_id<Class, Method> {
  std::uint16_t reply_code = 0;
  shortstr reply_text;
  std::uint16_t class_id_ = 0, method_id_ = 0;
  MQLAB_AMQP_FIELDS(reply_code, reply_text, class_id_, method_id_)
};
using connection_close = closing<10, 50>;
struct connection_close_ok : method_id<10, 51> { MQLAB_AMQP_NO_FIELDS };
struct connection_blocked : method_id<10, 60> { shortstr reason; MQLAB_AMQP_FIELDS(reason) };
struct connection_unblocked : method_id<10, 61> { MQLAB_AMQP_NO_FIELDS };

struct channel_open : method_id<20, 10> { shortstr out_of_band; MQLAB_AMQP_FIELDS(out_of_band) };
struct channel_open_ok : method_id<20, 11> { longstr channel_id; MQLAB_AMQP_FIELDS(channel_id) };
struct channel_flow : method_id<20, 20> { bool active = true; MQLAB_AMQP_FIELDS(active) };
struct channel_flow_ok : method_id<20, 21> { bool active = true; MQLAB_AMQP_FIELDS(active) };
using channel_close = closing<20, 40>;
struct channel_close_ok : method_id<20, 41> { MQLAB_AMQP_NO_FIELDS };

struct exchange_declare : method_id<40, 10> {
  std::uint16_t ticket = 0;
  shortstr exchange, type;
  bool passive = false, durable = false, auto_delete = false, internal = false, no_wait = false;
  field_table arguments;
  MQLAB_AMQP_FIELDS(ticket, exchange, type, passive, durable, auto_delete, internal, no_wait, arguments)
};
struct exchange_declare_ok : method_id<40, 11> { MQLAB_AMQP_NO_FIELDS };
struct exchange_delete : method_id<40, 20> {
  std::uint16_t ticket = 0;
  shortstr exchange;
  bool if_unused = false, no_wait = false;
  MQLAB_AMQP_FIELDS(ticket, exchange, if_unused, no_wait)
};
struct exchange_delete_ok : method_id<40, 21> { MQLAB_AMQP_NO_FIELDS };
/// exchange.bind and exchange.unbind carry the same fields.
template <std::uint16_t Method>
struct exchange_binding : method_id<40, Method> {
  std::uint16_t ticket = 0;
  shortstr destination, source, routing_key;
  bool no_wait = false;
  field_table arguments;
  MQLAB_AMQP_FIELDS(ticket, destination, source, routing_key, no_wait, arguments)
};
using exchange_bind = exchange_binding<30>;
struct exchange_bind_ok : method_id<40, 31> { MQLAB_AMQP_NO_FIELDS };
using exchange_unbind = exchange_binding<40>;
struct exchange_unbind_ok : method_id<40, 51> { MQLAB_AMQP_NO_FIELDS };

struct queue_declare : method_id<50, 10> {
  std::uint16_t ticket = 0;
  shortstr queue;
  bool passive = false, durable = false, exclusive = false, auto_delete = false, no_wait = false;
  field_table arguments;
  MQLAB_AMQP_FIELDS(ticket, queue, passive, durable, exclusive, auto_delete, no_wait, arguments)
};
struct queue_declare_ok : method_id<50, 11> {
  shortstr queue;
  std::uint32_t message_count = 0, consumer_count = 0;
  MQLAB_AMQP_FIELDS(queue, message_count, consumer_count)
};
struct queue_bind : method_id<50, 20> {
  std::uint16_t ticket = 0;
  shortstr queue, exchange, routing_key;
  bool no_wait = false;
  field_table arguments;
  MQLAB_AMQP_FIELDS(ticket, queue, exchange, routing_key, no_wait, arguments)
};
struct queue_bind_ok : method_id<50, 21> { MQLAB_AMQP_NO_FIELDS };
struct queue_purge : method_id<50, 30> {
  std::uint16_t ticket = 0;
  shortstr queue;
  bool no_wait = false;
  MQLAB_AMQP_FIELDS(ticket, queue, no_wait)
};
struct queue_purge_ok : method_id<50, 31> { std::uint32_t message_count = 0; MQLAB_AMQP_FIELDS(message_count) };
struct queue_delete : method_id<50, 40> {
  std::uint16_t ticket = 0;
  shortstr queue;
  bool if_unused = false, if_empty = false, no_wait = false;
  MQLAB_AMQP_FIELDS(ticket, queue, if_unused, if_empty, no_wait)
};
struct queue_delete_ok : method_id<50, 41> { std::uint32_t message_count = 0; MQLAB_AMQP_FIELDS(message_count) };
struct queue_unbind : method_id<50, 50> {
  std::uint16_t ticket = 0;
  shortstr queue, exchange, routing_key;
  field_table arguments;
  MQLAB_AMQP_FIELDS(ticket, queue, exchange, routing_key, arguments)
};
struct queue_unbind_ok : method_id<50, 51> { MQLAB_AMQP_NO_FIELDS };

struct basic_qos : method_id<60, 10> {
  std::uint32_t prefetch_size = 0;
  std::uint16_t prefetch_count = 0;
  bool global = false;
  MQLAB_AMQP_FIELDS(prefetch_size, prefetch_count, global)
};
struct basic_qos_ok : method_id<60, 11> { MQLAB_AMQP_NO_FIELDS };
struct basic_consume : method_id<60, 20> {
  std::uint16_t ticket = 0;
  shortstr queue, consumer_tag;
  bool no_local = false, no_ack = false, exclusive = false, no_wait = false;
  field_table arguments;
  MQLAB_AMQP_FIELDS(ticket, queue, consumer_tag, no_local, no_ack, exclusive, no_wait, arguments)
};
struct basic_consume_ok : method_id<60, 21> { shortstr consumer_tag; MQLAB_AMQP_FIELDS(consumer_tag) };
struct basic_cancel : method_id<60, 30> {
  shortstr consumer_tag;
  bool no_wait = false;
  MQLAB_AMQP_FIELDS(consumer_tag, no_wait)
};
struct basic_cancel_ok : method_id<60, 31> { shortstr consumer_tag; MQLAB_AMQP_FIELDS(consumer_tag) };
struct basic_publish : method_id<60, 40> {
  std::uint16_t ticket = 0;
  shortstr exchange, routing_key;
  bool mandatory = false, immediate = false;
  MQLAB_AMQP_FIELDS(ticket, exchange, routing_key, mandatory, immediate)
};
struct basic_return : method_id<60, 50> {
  std::uint16_t reply_code = 0;
  shortstr reply_text, exchange, routing_key;
  MQLAB_AMQP_FIELDS(reply_code, reply_text, exchange, routing_key)
};
struct basic_deliver : method_id<60, 60> {
  shortstr consumer_tag;
  std::uint64_t delivery_tag = 0;
  bool redelivered = false;
  shortstr exchange, routing_key;
  MQLAB_AMQP_FIELDS(consumer_tag, delivery_tag, redelivered, exchange, routing_key)
};
struct basic_get : method_id<60, 70> {
  std::uint16_t ticket = 0;
  shortstr queue;
  bool no_ack = false;
  MQLAB_AMQP_FIELDS(ticket, queue, no_ack)
};
struct basic_get_ok : method_id<60, 71> {
  std::uint64_t delivery_tag = 0;
  bool redelivered = false;
  shortstr exchange, routing_key;
  std::uint32_t message_count = 0;
  MQLAB_AMQP_FIELDS(delivery_tag, redelivered, exchange, routing_key, message_count)
};
struct basic_get_empty : method_id<60, 72> { shortstr cluster_id; MQLAB_AMQP_FIELDS(cluster_id) };
struct basic_ack : method_id<60, 80> {
  std::uint64_t delivery_tag = 0;
  bool multiple = false;
  MQLAB_AMQP_FIELDS(delivery_tag, multiple)
};
struct basic_reject : method_id<60, 90> {
  std::uint64_t delivery_tag = 0;
  bool requeue = true;
  MQLAB_AMQP_FIELDS(delivery_tag, requeue)
};
struct basic_recover_async : method_id<60, 100> { bool requeue = false; MQLAB_AMQP_FIELDS(requeue) };
struct basic_recover : method_id<60, 110> { bool requeue = false; MQLAB_AMQP_FIELDS(requeue) };
struct basic_recover_ok : method_id<60, 111> { MQLAB_AMQP_NO_FIELDS };
struct basic_nack : method_id<60, 120> {
  std::uint64_t delivery_tag = 0;
  bool multiple = false, requeue = true;
  MQLAB_AMQP_FIELDS(delivery_tag, multiple, requeue)
};

struct confirm_select : method_id<85, 10> { bool no_wait = false; MQLAB_AMQP_FIELDS(no_wait) };
struct confirm_select_ok : method_id<85, 11> { MQLAB_AMQP_NO_FIELDS };

struct tx_select : method_id<90, 10> { MQLAB_AMQP_NO_FIELDS };
struct tx_select_ok : method_id<90, 11> { MQLAB_AMQP_NO_FIELDS };
struct tx_commit : method_id<90, 20> { MQLAB_AMQP_NO_FIELDS };
struct tx_commit_ok : method_id<90, 21> { MQLAB_AMQP_NO_FIELDS };
struct tx_rollback : method_id<90, 30> { MQLAB_AMQP_NO_FIELDS };
struct tx_rollback_ok : method_id<90, 31> { MQLAB_AMQP_NO_FIELDS };

#undef MQLAB_AMQP_FIELDS
#undef MQLAB_AMQP_NO_FIELDS

/// Any method. The most frequent ones come first: decoding tries alternatives in order.
using method = std::variant<
    basic_publish, basic_ack, basic_deliver, basic_nack, basic_reject, basic_get, basic_get_ok, basic_get_empty,
    basic_qos, basic_qos_ok, basic_consume, basic_consume_ok, basic_cancel, basic_cancel_ok, basic_return,
    basic_recover_async, basic_recover, basic_recover_ok,
    connection_start, connection_start_ok, connection_secure, connection_secure_ok, connection_tune,
    connection_tune_ok, connection_open, connection_open_ok, connection_close, connection_close_ok,
    connection_blocked, connection_unblocked,
    channel_open, channel_open_ok, channel_flow, channel_flow_ok, channel_close, channel_close_ok,
    exchange_declare, exchange_declare_ok, exchange_delete, exchange_delete_ok, exchange_bind, exchange_bind_ok,
    exchange_unbind, exchange_unbind_ok,
    queue_declare, queue_declare_ok, queue_bind, queue_bind_ok, queue_purge, queue_purge_ok, queue_delete,
    queue_delete_ok, queue_unbind, queue_unbind_ok,
    confirm_select, confirm_select_ok, tx_select, tx_select_ok, tx_commit, tx_commit_ok, tx_rollback,
    tx_rollback_ok>;

}  // namespace mqlab::net::amqp
