// AMQP connection: exchange, queue, basic, confirm and tx methods mapped onto the broker core,
// and broker events written back as frames.
#include <fmt/format.h>

#include "net/amqp/connection.h"
#include "net/amqp/connection_state.h"

namespace mqlab::net::amqp {

namespace core = broker::amqp;

core::exchange_declare_args core_args(const exchange_declare& m) {
  return {std::string(m.exchange), std::string(m.type), m.passive, m.durable, m.auto_delete, m.internal, m.arguments};
}

core::queue_declare_args core_args(const queue_declare& m) {
  return {std::string(m.queue), m.passive, m.durable, m.exclusive, m.auto_delete, m.arguments};
}

/// Runs one client method on a channel; one overload per method a client may send.
struct method_handler {
  connection& c;
  std::uint16_t ch;
  instant now;

  core::channel_ref ref() const { return c.ref(ch); }
  template <typename Ok>
  void reply(bool no_wait, const Ok& ok) {
    if (!no_wait) write_method(c.out_, ch, ok);
  }
  // Runs a broker call; on success writes `ok` unless no_wait, on failure closes as the core says.
  template <typename R, typename Ok>
  void answer(const core::result<R>& r, bool no_wait, const Ok& ok) {
    if (!r) return c.fail(ch, r.error());
    reply(no_wait, ok);
  }
  template <typename R>
  void check(const core::result<R>& r) {
    if (!r) c.fail(ch, r.error());
  }
  // Spec §1.7.2: an empty queue name means the last queue declared on the channel.
  std::optional<std::string> queue_name(std::string_view name, core::method_ref m) {
    if (!name.empty()) return std::string(name);
    const std::string& last = c.chan(ch).last_queue;
    if (!last.empty()) return last;
    c.broker_.channel_close(ref(), now);  // the error is ours, not the core's: close its channel too
    c.fail(ch, core::error{core::reply_code::not_found, "NOT_FOUND - no previously declared queue", m});
    return std::nullopt;
  }

  // Metadata changes also go to the other nodes of a cluster, once they succeeded here.
  template <typename R, typename M, typename Ok>
  void answer_and_replicate(const core::result<R>& r, const M& m, bool no_wait, const Ok& ok) {
    if (!r) return c.fail(ch, r.error());
    c.replicate(m);
    reply(no_wait, ok);
  }

  void operator()(exchange_declare& m) {
    answer_and_replicate(c.broker_.exchange_declare(ref(), core_args(m)), m, m.no_wait, exchange_declare_ok{});
  }
  void operator()(exchange_delete& m) {
    answer_and_replicate(c.broker_.exchange_delete(ref(), m.exchange, m.if_unused), m, m.no_wait, exchange_delete_ok{});
  }
  void operator()(exchange_bind& m) {
    answer_and_replicate(c.broker_.exchange_bind(ref(), m.destination, m.source, m.routing_key, m.arguments), m,
                         m.no_wait, exchange_bind_ok{});
  }
  void operator()(exchange_unbind& m) {
    answer_and_replicate(c.broker_.exchange_unbind(ref(), m.destination, m.source, m.routing_key, m.arguments), m,
                         m.no_wait, exchange_unbind_ok{});
  }
  void operator()(queue_declare& m) {
    auto r = c.broker_.queue_declare(ref(), core_args(m), now);
    if (!r) return c.fail(ch, r.error());
    c.chan(ch).last_queue = r->name;
    queue_declare named = m;
    named.queue = r->name;  // a server-named queue is known by its name everywhere
    if (!m.passive) c.replicate(named);
    reply(m.no_wait, queue_declare_ok{.queue = r->name, .message_count = r->message_count,
                                      .consumer_count = r->consumer_count});
  }
  void operator()(queue_bind& m) {
    const auto q = queue_name(m.queue, core::methods::queue_bind);
    if (!q) return;
    queue_bind named = m;
    named.queue = *q;
    answer_and_replicate(c.broker_.queue_bind(ref(), *q, m.exchange, m.routing_key, m.arguments), named, m.no_wait,
                         queue_bind_ok{});
  }
  void operator()(queue_unbind& m) {
    const auto q = queue_name(m.queue, core::methods::queue_unbind);
    if (!q) return;
    queue_unbind named = m;
    named.queue = *q;
    answer_and_replicate(c.broker_.queue_unbind(ref(), *q, m.exchange, m.routing_key, m.arguments), named, false,
                         queue_unbind_ok{});
  }
  void operator()(queue_purge& m) {
    const auto q = queue_name(m.queue, core::methods::queue_purge);
    if (!q) return;
    auto r = c.broker_.queue_purge(ref(), *q);
    if (r) reply(m.no_wait, queue_purge_ok{.message_count = *r});
    else c.fail(ch, r.error());
  }
  void operator()(queue_delete& m) {
    const auto q = queue_name(m.queue, core::methods::queue_delete);
    if (!q) return;
    auto r = c.broker_.queue_delete(ref(), *q, m.if_unused, m.if_empty, now);
    if (r) reply(m.no_wait, queue_delete_ok{.message_count = *r});
    else c.fail(ch, r.error());
  }
  void operator()(basic_qos& m) {
    // RabbitMQ never implemented byte-based prefetch.
    if (m.prefetch_size != 0) {
      return c.connection_error(core::reply_code::not_implemented, fmt::format("prefetch_size!=0 ({})", m.prefetch_size),
                                60, 10);
    }
    auto r = c.broker_.basic_qos(ref(), m.prefetch_count, m.global, now);
    if (r) (m.global ? c.chan(ch).channel_prefetch : c.chan(ch).consumer_prefetch) = m.prefetch_count;
    answer(r, false, basic_qos_ok{});
  }
  void operator()(basic_consume& m) {
    const auto q = queue_name(m.queue, core::methods::basic_consume);
    if (!q) return;
    auto r = c.broker_.basic_consume(ref(), {*q, std::string(m.consumer_tag), m.no_ack, m.exclusive, std::move(m.arguments)},
                                     now);
    if (r) reply(m.no_wait, basic_consume_ok{.consumer_tag = *r});
    else c.fail(ch, r.error());
  }
  void operator()(basic_cancel& m) {
    answer(c.broker_.basic_cancel(ref(), m.consumer_tag, now), m.no_wait, basic_cancel_ok{.consumer_tag = m.consumer_tag});
  }
  void operator()(basic_publish& m) {
    // RabbitMQ 3.0 removed immediate delivery.
    if (m.immediate) return c.connection_error(core::reply_code::not_implemented, "immediate=true", 60, 40);
    c.published_ = true;
    c.chan(ch).pending = connection::content{std::string(m.exchange), std::string(m.routing_key), m.mandatory};
  }
  void operator()(basic_get& m) {
    const auto q = queue_name(m.queue, core::methods::basic_get);
    if (!q) return;
    auto r = c.broker_.basic_get(ref(), *q, m.no_ack, now);
    if (!r) return c.fail(ch, r.error());
    if (!*r) return write_method(c.out_, ch, basic_get_empty{});
    const core::get_ok& g = **r;
    write_method(c.out_, ch, basic_get_ok{.delivery_tag = g.delivery_tag, .redelivered = g.redelivered,
                                          .exchange = g.msg->exchange(), .routing_key = g.msg->routing_key(),
                                          .message_count = g.message_count});
    write_content(c.out_, ch, *g.msg->properties(), g.msg->body(), c.frame_max_);
  }
  void operator()(basic_ack& m) {
    check(c.broker_.basic_ack(ref(), m.delivery_tag, m.multiple, now));
  }
  void operator()(basic_nack& m) {
    check(c.broker_.basic_nack(ref(), m.delivery_tag, m.multiple, m.requeue, now));
  }
  void operator()(basic_reject& m) {
    check(c.broker_.basic_reject(ref(), m.delivery_tag, m.requeue, now));
  }
  void operator()(basic_recover_async& m) { check(c.broker_.basic_recover(ref(), m.requeue, now)); }
  void operator()(basic_recover& m) { answer(c.broker_.basic_recover(ref(), m.requeue, now), false, basic_recover_ok{}); }
  void operator()(confirm_select& m) {
    auto r = c.broker_.confirm_select(ref());
    if (r) c.chan(ch).confirm = true;
    answer(r, m.no_wait, confirm_select_ok{});
  }
  void operator()(tx_select&) { answer(c.broker_.tx_select(ref()), false, tx_select_ok{}); }
  void operator()(tx_commit&) { answer(c.broker_.tx_commit(ref(), now), false, tx_commit_ok{}); }
  void operator()(tx_rollback&) { answer(c.broker_.tx_rollback(ref()), false, tx_rollback_ok{}); }

  // Methods only a server sends, or connection methods on a channel other than 0.
  template <typename M>
  void operator()(M&) {
    c.connection_error(core::reply_code::command_invalid,
                       fmt::format("unexpected '{}' on channel {}", method_name(M{}), ch), M::class_id, M::method_id_v);
  }
};

void connection::dispatch(std::uint16_t ch, method& m, instant now) {
  std::visit(method_handler{*this, ch, now}, m);
}

namespace {

/// The queue a method works on the contents of, if any ("" = the channel's last declared one).
std::optional<std::string_view> contents_queue(const method& m) {
  return std::visit(
      [](const auto& x) -> std::optional<std::string_view> {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, queue_declare>) {
          if (x.queue.empty()) return std::nullopt;  // a new server-named queue: always here
          return x.queue;
        } else if constexpr (std::is_same_v<T, queue_purge> || std::is_same_v<T, queue_delete> ||
                             std::is_same_v<T, basic_consume> || std::is_same_v<T, basic_get>) {
          return x.queue;
        } else {
          return std::nullopt;
        }
      },
      m);
}

}  // namespace

bool connection::hand_over(std::uint16_t ch, const method& m, instant now) {
  const auto named = contents_queue(m);
  if (!named) return false;
  channel& c = chan(ch);
  const std::string queue(named->empty() ? std::string_view(c.last_queue) : *named);
  const auto owner = link_->elsewhere(vhost_, queue);
  if (!owner) return false;
  if (broker_.channel_busy(ref(ch))) {
    broker_.channel_close(ref(ch), now);
    fail(ch, core::error{core::reply_code::precondition_failed,
                         fmt::format("PRECONDITION_FAILED - queue '{}' in vhost '{}' lives on node {}, and this "
                                     "channel already has consumers, unacknowledged messages or confirms on node {}: "
                                     "use another channel",
                                     queue, vhost_, owner->value, node_.value),
                         {}});
    return true;
  }
  // The owner serves the channel from now on; it first hears the set-up the channel had here.
  std::string frames;
  std::uint32_t replies = 1;
  write_method(frames, ch, channel_open{});
  for (auto [prefetch, global] : {std::pair{c.consumer_prefetch, false}, std::pair{c.channel_prefetch, true}}) {
    if (!prefetch) continue;
    write_method(frames, ch, basic_qos{.prefetch_count = *prefetch, .global = global});
    ++replies;
  }
  if (c.confirm) {
    write_method(frames, ch, confirm_select{});
    ++replies;
  }
  write_method(frames, ch, m);
  broker_.channel_close(ref(ch), now);
  c.relayed = owner;
  link_->relay(*owner, ch, std::move(frames), replies);
  return true;
}

void connection::relay_frame(const frame& f) {
  channel& c = chan(f.channel);
  const broker::node_id to = *c.relayed;
  std::string bytes;
  write_frame(bytes, f);
  link_->relay(to, f.channel, std::move(bytes), 0);
  // channel.close or close-ok from the client ends the hand-over.
  if (is_method<channel_close>(f) || is_method<channel_close_ok>(f)) c = channel{};
}

void connection::replicate(const method& change) {
  if (link_) link_->replicate(vhost_, change);
}

void connection::relay_lost(broker::node_id node) {
  for (std::size_t ch = 0; ch < channels_.size(); ++ch) {
    if (!channels_[ch] || channels_[ch]->relayed != node) continue;
    fail(static_cast<std::uint16_t>(ch),
         core::error{core::reply_code::not_found,
                     fmt::format("NOT_FOUND - node {}, home of this channel's queue, is down or inaccessible", node.value),
                     {}});
  }
}

void connection::publish(std::uint16_t ch, content& p, instant now) {
  auto msg = core::make_message(std::move(p.exchange), std::move(p.routing_key), std::move(p.body), std::move(p.properties));
  const bool mandatory = p.mandatory;
  chan(ch).pending.reset();
  if (auto r = broker_.basic_publish(ref(ch), std::move(msg), mandatory, now); !r) fail(ch, r.error());
}

void connection::on_event(const core::event& e) {
  if (phase_ != phase::running) return;
  std::visit(
      [this](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, core::delivery>) {
          write_method(out_, x.to.ch, basic_deliver{.consumer_tag = *x.consumer_tag, .delivery_tag = x.delivery_tag,
                                                    .redelivered = x.redelivered, .exchange = x.msg->exchange(),
                                                    .routing_key = x.msg->routing_key()});
          write_content(out_, x.to.ch, *x.msg->properties(), x.msg->body(), frame_max_);
        } else if constexpr (std::is_same_v<T, core::confirm>) {
          if (x.ack) write_method(out_, x.to.ch, basic_ack{.delivery_tag = x.sequence, .multiple = x.multiple});
          else write_method(out_, x.to.ch, basic_nack{.delivery_tag = x.sequence, .multiple = x.multiple, .requeue = false});
        } else if constexpr (std::is_same_v<T, core::returned>) {
          write_method(out_, x.to.ch, basic_return{.reply_code = static_cast<std::uint16_t>(x.code), .reply_text = x.text,
                                                   .exchange = x.msg->exchange(), .routing_key = x.msg->routing_key()});
          write_content(out_, x.to.ch, *x.msg->properties(), x.msg->body(), frame_max_);
        } else if constexpr (std::is_same_v<T, core::consumer_cancelled>) {
          if (cancel_notify_) write_method(out_, x.to.ch, basic_cancel{.consumer_tag = x.consumer_tag, .no_wait = true});
        } else if constexpr (std::is_same_v<T, core::connection_closed>) {
          id_.reset();  // the core closed it (its node went down)
          close_with(core::reply_code::connection_forced,
                     "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'", 0, 0);
        }
      },
      e);
}

}  // namespace mqlab::net::amqp
