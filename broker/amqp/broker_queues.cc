// queue.declare/bind/unbind/purge/delete, exchange.bind/unbind, and inspection.
#include <algorithm>

#include <fmt/format.h>

#include "broker/amqp/broker_state.h"

namespace mqlab::broker::amqp {
namespace {

// x- arguments RabbitMQ compares when a queue is declared again.
constexpr std::string_view equivalence_args[] = {
    "x-message-ttl", "x-expires", "x-max-length", "x-max-length-bytes", "x-dead-letter-exchange",
    "x-dead-letter-routing-key", "x-max-priority", "x-overflow", "x-queue-mode", "x-queue-type",
    "x-single-active-consumer", "x-ha-policy"};

std::string arg_text(const field_table& t, std::string_view key) {
  const field_value* v = find(t, key);
  return v ? describe(*v) : "none";
}

/// Reads the x- arguments into the queue; an invalid value is a 406 naming the argument.
result<void> apply_arguments(queue_state& q, const field_table& args) {
  auto invalid = [&](std::string_view arg, std::string_view why) {
    return std::unexpected(make_error(reply_code::precondition_failed, methods::queue_declare,
                                      fmt::format("invalid arg '{}' for {}: {}", arg, describe_queue(q.vhost, q.name), why)));
  };
  auto non_negative = [&](std::string_view arg) -> std::expected<std::optional<std::int64_t>, error> {
    const field_value* v = find(args, arg);
    if (v == nullptr) return std::optional<std::int64_t>{};
    const auto i = v->as_integer();
    if (!i) return invalid(arg, "must be an integer");
    if (*i < 0) return invalid(arg, "must not be negative");
    return std::optional<std::int64_t>(*i);
  };
  auto ttl = non_negative("x-message-ttl");
  if (!ttl) return std::unexpected(ttl.error());
  q.message_ttl_ms = *ttl;
  auto max_len = non_negative("x-max-length");
  if (!max_len) return std::unexpected(max_len.error());
  if (*max_len) q.max_length = static_cast<std::uint64_t>(**max_len);
  auto max_bytes = non_negative("x-max-length-bytes");
  if (!max_bytes) return std::unexpected(max_bytes.error());
  if (*max_bytes) q.max_length_bytes = static_cast<std::uint64_t>(**max_bytes);
  auto priority = non_negative("x-max-priority");
  if (!priority) return std::unexpected(priority.error());
  if (*priority) {
    if (**priority > 255) return invalid("x-max-priority", "must be at most 255");
    q.max_priority = static_cast<std::uint8_t>(**priority);
  }
  if (const field_value* v = find(args, "x-overflow")) {
    const std::string* s = v->as_string();
    if (s && *s == "drop-head") q.overflow = overflow_policy::drop_head;
    else if (s && *s == "reject-publish") q.overflow = overflow_policy::reject_publish;
    else if (s && *s == "reject-publish-dlx") q.overflow = overflow_policy::reject_publish_dlx;
    else return invalid("x-overflow", "expected drop-head, reject-publish or reject-publish-dlx");
  }
  if (const field_value* v = find(args, "x-single-active-consumer")) {
    const bool* on = std::get_if<bool>(&v->v);
    if (on == nullptr) return invalid("x-single-active-consumer", "must be a boolean");
    q.single_active_consumer = *on;
  }
  if (const field_value* v = find(args, "x-ha-policy")) {
    // RabbitMQ 2.x mirrored a queue declared with it; 3.x took policies instead (mqlab broker
    // --ha-mode). Its "nodes" form names Erlang nodes, which mqlab's nodes are not.
    const std::string* s = v->as_string();
    if (s == nullptr || *s != "all") return invalid("x-ha-policy", "expected all");
    q.mirrored_everywhere = true;
  }
  for (auto [key, target] : {std::pair{"x-dead-letter-exchange", &q.dead_letter_exchange},
                             std::pair{"x-dead-letter-routing-key", &q.dead_letter_routing_key}}) {
    if (const field_value* v = find(args, key)) {
      if (!v->as_string()) return invalid(key, "must be a string");
      *target = *v->as_string();
    }
  }
  q.ready = queue_store(q.max_priority);
  return {};
}

}  // namespace

result<queue_declare_ok> broker::queue_declare(channel_ref c, const queue_declare_args& a, instant now) {
  constexpr auto m = methods::queue_declare;
  auto ch = s_->channel(c, m);
  if (!ch) return std::unexpected(s_->fail(c, ch.error(), now));
  const connection_state& conn = s_->connections.at(c.conn);
  const std::string vhost = conn.vhost;
  std::string name = a.name;
  if (name.empty() && !a.passive) {
    // A cluster member's names carry its node, so two nodes never generate the same one.
    name = s_->cluster.self ? fmt::format("amq.gen-{:02x}{:014x}", s_->cluster.self->value, ++s_->generated_names)
                      : fmt::format("amq.gen-{:016x}", ++s_->generated_names);
  }
  if (a.passive || s_->find_queue(vhost, name) != nullptr) {
    auto q = s_->usable_queue(c, vhost, name, m);
    if (!q) return std::unexpected(s_->fail(c, q.error(), now));
    queue_state& existing = **q;
    if (!a.passive) {
      const std::string what = describe_queue(vhost, name);
      if (existing.durable != a.durable) {
        return std::unexpected(s_->fail(c, inequivalent(m, what, "durable", yes_no(a.durable), yes_no(existing.durable)), now));
      }
      if (existing.exclusive != a.exclusive) {
        return std::unexpected(s_->fail(c, inequivalent(m, what, "exclusive", yes_no(a.exclusive), yes_no(existing.exclusive)), now));
      }
      if (existing.auto_delete != a.auto_delete) {
        return std::unexpected(
            s_->fail(c, inequivalent(m, what, "auto_delete", yes_no(a.auto_delete), yes_no(existing.auto_delete)), now));
      }
      for (std::string_view arg : equivalence_args) {
        const field_value* mine = find(a.arguments, arg);
        const field_value* theirs = find(existing.arguments, arg);
        if ((mine == nullptr) != (theirs == nullptr) || (mine && !(*mine == *theirs))) {
          return std::unexpected(
              s_->fail(c, inequivalent(m, what, arg, arg_text(a.arguments, arg), arg_text(existing.arguments, arg)), now));
        }
      }
    }
    return queue_declare_ok{name, static_cast<std::uint32_t>(existing.ready.size()),
                            static_cast<std::uint32_t>(existing.consumers.size())};
  }
  // A declare another node replicates here may carry the server-generated name it chose.
  const bool replicated = s_->cluster.self && conn.node != *s_->cluster.self;
  if (name.starts_with("amq.") && !a.name.empty() && !replicated) {
    return std::unexpected(s_->fail(c, make_error(reply_code::access_refused, m,
                                                  fmt::format("queue name '{}' contains reserved prefix 'amq.*'", name)),
                                    now));
  }
  auto q = std::make_unique<queue_state>();
  q->id = s_->next_queue_id++;
  q->name = name;
  q->vhost = vhost;
  q->durable = a.durable;
  q->exclusive = a.exclusive;
  q->auto_delete = a.auto_delete;
  q->exclusive_owner = a.exclusive ? c.conn : 0;
  q->arguments = a.arguments;
  if (auto ok = apply_arguments(*q, a.arguments); !ok) return std::unexpected(s_->fail(c, ok.error(), now));
  s_->place_queue(*q, (*ch)->node);
  s_->vhosts[vhost].queues[name] = q->id;
  // Every queue is bound to the default exchange under its own name (AMQP 0-9-1 §3.1.3.1):
  // the default exchange routes by name lookup, so no binding entry is stored.
  s_->queues.emplace(q->id, std::move(q));
  ++s_->metadata_version;
  return queue_declare_ok{name, 0, 0};
}

result<broker::state::binding_ends> broker::state::resolve_binding(channel_ref c, std::string_view dest_name,
                                                                   bool dest_is_exchange, std::string_view source_name,
                                                                   method_ref m, instant now) {
  state& s = *this;
  auto ch = s.channel(c, m);
  if (!ch) return std::unexpected(s.fail(c, ch.error(), now));
  const std::string& vhost = s.connections.at(c.conn).vhost;
  if (source_name.empty()) {
    return std::unexpected(s.fail(
        c, make_error(reply_code::access_refused, m, "operation not permitted on the default exchange"), now));
  }
  exchange_state* source = s.find_exchange(vhost, source_name);
  if (source == nullptr) {
    return std::unexpected(s.fail(c, make_error(reply_code::not_found, m, "no " + describe_exchange(vhost, source_name)), now));
  }
  if (dest_is_exchange) {
    exchange_state* d = s.find_exchange(vhost, dest_name);
    if (d == nullptr) {
      return std::unexpected(s.fail(c, make_error(reply_code::not_found, m, "no " + describe_exchange(vhost, dest_name)), now));
    }
    return binding_ends{source, destination{d->id, true}};
  }
  auto q = s.usable_queue(c, vhost, dest_name, m);
  if (!q) return std::unexpected(s.fail(c, q.error(), now));
  return binding_ends{source, destination{(*q)->id, false}};
}

result<void> broker::queue_bind(channel_ref c, std::string_view queue, std::string_view exchange,
                                std::string_view routing_key, const field_table& args) {
  auto ends = s_->resolve_binding(c, queue, false, exchange, methods::queue_bind, {});
  if (!ends) return std::unexpected(ends.error());
  if (ends->source->ex.bind(ends->dest, routing_key, args)) ++s_->metadata_version;
  return {};
}

result<void> broker::exchange_bind(channel_ref c, std::string_view destination, std::string_view source,
                                   std::string_view routing_key, const field_table& args) {
  auto ends = s_->resolve_binding(c, destination, true, source, methods::exchange_bind, {});
  if (!ends) return std::unexpected(ends.error());
  if (ends->source->ex.bind(ends->dest, routing_key, args)) ++s_->metadata_version;
  return {};
}

// Unbinding a binding that does not exist succeeds, as in RabbitMQ; an auto-delete source
// exchange goes when its last binding does.
result<void> broker::state::unbind(channel_ref c, std::string_view dest, bool dest_is_exchange,
                                   std::string_view source, std::string_view routing_key, const field_table& args,
                                   method_ref m) {
  auto ends = resolve_binding(c, dest, dest_is_exchange, source, m, {});
  if (!ends) return std::unexpected(ends.error());
  exchange_state& e = *ends->source;
  if (!e.ex.unbind(ends->dest, routing_key, args)) return {};
  ++metadata_version;
  if (e.ex.bindings().empty() && e.ex.auto_delete()) delete_exchange(e);
  return {};
}

result<void> broker::queue_unbind(channel_ref c, std::string_view queue, std::string_view exchange,
                                  std::string_view routing_key, const field_table& args) {
  return s_->unbind(c, queue, false, exchange, routing_key, args, methods::queue_unbind);
}

result<void> broker::exchange_unbind(channel_ref c, std::string_view destination, std::string_view source,
                                     std::string_view routing_key, const field_table& args) {
  return s_->unbind(c, destination, true, source, routing_key, args, methods::exchange_unbind);
}

result<std::uint32_t> broker::queue_purge(channel_ref c, std::string_view queue) {
  constexpr auto m = methods::queue_purge;
  auto ch = s_->channel(c, m);
  if (!ch) return std::unexpected(s_->fail(c, ch.error(), {}));
  auto q = s_->usable_queue(c, s_->connections.at(c.conn).vhost, queue, m);
  if (!q) return std::unexpected(s_->fail(c, q.error(), {}));
  queue_state& target = **q;
  if (!s_->has_mirrors(target)) return static_cast<std::uint32_t>(target.ready.clear());
  const auto purged = static_cast<std::uint32_t>(target.ready.size());
  while (!target.ready.empty()) {
    s_->tell_mirrors(target, target.ready.pop_front(), peer_message::kind::mirror_drop);  // mirrors purge too
  }
  return purged;
}

result<std::uint32_t> broker::queue_delete(channel_ref c, std::string_view queue, bool if_unused, bool if_empty,
                                           instant now) {
  constexpr auto m = methods::queue_delete;
  auto ch = s_->channel(c, m);
  if (!ch) return std::unexpected(s_->fail(c, ch.error(), now));
  const std::string vhost = s_->connections.at(c.conn).vhost;
  if (s_->find_queue(vhost, queue) == nullptr) return 0u;  // deleting a missing queue succeeds
  auto q = s_->usable_queue(c, vhost, queue, m);
  if (!q) return std::unexpected(s_->fail(c, q.error(), now));
  queue_state& target = **q;
  if (if_unused && !target.consumers.empty()) {
    return std::unexpected(s_->fail(c, make_error(reply_code::precondition_failed, m, describe_queue(vhost, queue) + " in use"), now));
  }
  if (if_empty && !target.ready.empty()) {
    return std::unexpected(
        s_->fail(c, make_error(reply_code::precondition_failed, m, describe_queue(vhost, queue) + " not empty"), now));
  }
  const auto count = static_cast<std::uint32_t>(target.ready.size());
  s_->delete_queue(target, true, now);
  return count;
}

std::optional<broker::queue_info> broker::inspect_queue(std::string_view vhost, std::string_view queue) const {
  const queue_state* q = s_->find_queue(vhost, queue);
  if (q == nullptr) return std::nullopt;
  return queue_info{q->name,
                    static_cast<std::uint32_t>(q->ready.size()),
                    q->unacked,
                    static_cast<std::uint32_t>(q->consumers.size()),
                    q->ready.bytes(),
                    q->owner,
                    q->available,
                    q->stats};
}

bool broker::exchange_exists(std::string_view vhost, std::string_view exchange) const {
  return s_->find_exchange(vhost, exchange) != nullptr;
}

queue_stats broker::totals() const {
  queue_stats t = s_->retired;
  for (const auto& [id, q] : s_->queues) t += q->stats;
  return t;
}

}  // namespace mqlab::broker::amqp
