// JMS core: connections, sessions, consumers and subscriptions, producing.
#include "broker/jms/broker.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "broker/jms/broker_state.h"

namespace mqlab::broker::jms {

namespace {

error fail(error_code code, std::string text) { return error{code, std::move(text)}; }

std::optional<std::uint32_t> parse_count(std::string_view s) {
  std::uint32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::expected<prefetch_policy, std::string> prefetch_policy::from_url(std::string_view url) {
  prefetch_policy p;
  auto uri = split_options(url);
  if (!uri) return std::unexpected(uri.error());
  for (const auto& [key, value] : uri->options) {
    const auto n = parse_count(value);
    if (!n) return std::unexpected(fmt::format("{}: '{}' is not a count", key, value));
    if (key == "jms.prefetchPolicy.all") p.queue = p.topic = p.durable_topic = *n;
    else if (key == "jms.prefetchPolicy.queuePrefetch") p.queue = *n;
    else if (key == "jms.prefetchPolicy.topicPrefetch") p.topic = *n;
    else if (key == "jms.prefetchPolicy.durableTopicPrefetch") p.durable_topic = *n;
  }
  return p;
}

std::int64_t redelivery_policy::delay_ms(std::uint32_t n) const {
  if (!use_exponential_backoff || n <= 1) return initial_redelivery_delay_ms;
  double d = static_cast<double>(initial_redelivery_delay_ms);
  for (std::uint32_t i = 1; i < n; ++i) d *= backoff_multiplier;
  return static_cast<std::int64_t>(d);
}

broker::broker(broker_config config) : s_(std::make_unique<state>()) { s_->config = config; }
broker::~broker() = default;

result<connection_id> broker::connect(connection_options options, instant) {
  if (!options.client_id.empty()) {
    for (const auto& [id, c] : s_->connections) {
      if (c.options.client_id == options.client_id) {
        return std::unexpected(fail(error_code::invalid_client_id,
                                    fmt::format("InvalidClientIDException: Broker: localhost - Client: {} already connected",
                                                options.client_id)));
      }
    }
  }
  const connection_id id = s_->next_connection++;
  s_->connections[id].options = std::move(options);
  return id;
}

void broker::disconnect(connection_id conn, instant now) {
  auto it = s_->connections.find(conn);
  if (it == s_->connections.end()) return;
  for (session_id s : std::set<session_id>(it->second.sessions)) close_session(s, now);
  s_->connections.erase(conn);
}

result<session_id> broker::create_session(connection_id conn, ack_mode mode) {
  auto it = s_->connections.find(conn);
  if (it == s_->connections.end()) return std::unexpected(fail(error_code::illegal_state, "IllegalStateException: The Connection is closed"));
  const session_id id = s_->next_session++;
  s_->sessions[id] = session_state{.id = id, .conn = conn, .mode = mode};
  it->second.sessions.insert(id);
  return id;
}

void broker::close_session(session_id session, instant now) {
  auto it = s_->sessions.find(session);
  if (it == s_->sessions.end()) return;
  s_->close_session(it->second, now);
  if (auto c = s_->connections.find(it->second.conn); c != s_->connections.end()) c->second.sessions.erase(session);
  s_->sessions.erase(it);
}

void broker::state::close_session(session_state& s, instant now) {
  // An open transaction rolls back; unacknowledged messages go back for redelivery.
  s.held_sends.clear();
  std::vector<consumer_id> mine;
  for (const auto& [id, c] : consumers) {
    if (c.session == s.id) mine.push_back(id);
  }
  settle_where(s, [](const unacked&) { return true; }, settlement::returned, now);
  for (consumer_id id : mine) close_consumer(id, now);
}

namespace {

// The consumer's own prefetch, else the destination's consumer.prefetchSize, else the policy.
result<std::uint32_t> prefetch_for(const prefetch_policy& policy, const destination_uri& uri, const consumer_options& o) {
  if (o.prefetch) return *o.prefetch;
  if (auto it = uri.options.find("consumer.prefetchSize"); it != uri.options.end()) {
    const auto n = parse_count(it->second);
    if (!n) return std::unexpected(fail(error_code::invalid_destination, "InvalidDestinationException: consumer.prefetchSize=" + it->second));
    return *n;
  }
  if (o.kind == destination_kind::queue) return policy.queue;
  return o.subscription_name.empty() ? policy.topic : policy.durable_topic;
}

}  // namespace

endpoint& broker::state::add_subscription(std::string key, const std::string& topic, std::optional<selector> filter) {
  auto ep = new_endpoint(key, destination::topic(topic));
  ep->filter = std::move(filter);
  endpoint& e = *endpoints.emplace(std::move(key), std::move(ep)).first->second;
  topic_subscriptions[topic].push_back(&e);
  return e;
}

result<endpoint*> broker::state::durable_endpoint(const std::string& client_id, const std::string& topic,
                                                  const consumer_options& o, std::optional<selector> filter) {
  if (client_id.empty()) {
    return std::unexpected(fail(error_code::illegal_state,
                                "JMSException: You cannot create a durable subscriber without specifying a unique clientID on a Connection"));
  }
  const std::string key = durable_key(client_id, o.subscription_name);
  auto it = endpoints.find(key);
  if (it != endpoints.end() && !it->second->consumers.empty()) {
    return std::unexpected(fail(error_code::illegal_state,
                                fmt::format("JMSException: Durable consumer is in use for client: {} and subscriptionName: {}",
                                            client_id, o.subscription_name)));
  }
  // JMS 1.1 §6.11.1: resubscribing with another topic or selector replaces the subscription.
  if (it != endpoints.end() &&
      (it->second->dest.name != topic || (it->second->filter ? it->second->filter->text() : "") != o.selector)) {
    std::erase(topic_subscriptions[it->second->dest.name], it->second.get());
    endpoints.erase(it);
    it = endpoints.end();
  }
  if (it != endpoints.end()) return it->second.get();
  endpoint& e = add_subscription(key, topic, std::move(filter));
  e.durable = true;
  e.client_id = client_id;
  e.subscription_name = o.subscription_name;
  return &e;
}

result<consumer_id> broker::create_consumer(session_id session, const consumer_options& o, instant now) {
  auto sit = s_->sessions.find(session);
  if (sit == s_->sessions.end()) return std::unexpected(fail(error_code::illegal_state, "IllegalStateException: The Session is closed"));
  const connection_state& conn = s_->connections.at(sit->second.conn);
  auto uri = parse_destination_uri(o.destination);
  if (!uri) return std::unexpected(fail(error_code::invalid_destination, "InvalidDestinationException: " + uri.error()));
  auto compiled = selector::compile(o.selector);
  if (!compiled) {
    return std::unexpected(fail(error_code::invalid_selector,
                                fmt::format("InvalidSelectorException: {} at column {} of '{}'", compiled.error().message,
                                            compiled.error().column, o.selector)));
  }
  std::optional<selector> filter;
  if (!o.selector.empty()) filter = std::move(*compiled);
  const auto prefetch = prefetch_for(conn.options.prefetch, *uri, o);
  if (!prefetch) return std::unexpected(prefetch.error());

  consumer_state c{.session = session, .conn = sit->second.conn, .prefetch = *prefetch};
  endpoint* e = nullptr;
  if (o.kind == destination_kind::queue) {
    e = &s_->queue_endpoint(uri->name);
    c.filter = std::move(filter);  // queue consumers filter at dispatch; subscriptions on arrival
  } else if (!o.subscription_name.empty()) {
    auto d = s_->durable_endpoint(conn.options.client_id, uri->name, o, std::move(filter));
    if (!d) return std::unexpected(d.error());
    e = *d;
  } else {
    e = &s_->add_subscription(fmt::format("sub:{}", s_->next_subscription++), uri->name, std::move(filter));
  }
  if (e->dest.is_topic()) {
    e->owner = sit->second.conn;
    e->no_local = o.no_local;
  }
  c.id = s_->next_consumer++;
  c.at = e;
  e->consumers.push_back(c.id);
  const consumer_id id = c.id;
  s_->consumers[id] = std::move(c);
  s_->dispatch(*e, now);
  return id;
}

void broker::close_consumer(consumer_id consumer, instant now) { s_->close_consumer(consumer, now); }

void broker::state::close_consumer(consumer_id id, instant now) {
  auto it = consumers.find(id);
  if (it == consumers.end()) return;
  endpoint* e = it->second.at;
  // Out of the rotation first, so what it held goes to the others, not back to it; its message
  // groups find new consumers with their next message.
  std::erase(e->consumers, id);
  std::erase_if(e->groups, [id](const auto& g) { return g.second == id; });
  if (auto s = sessions.find(it->second.session); s != sessions.end()) {
    settle_where(s->second, [id](const unacked& u) { return u.consumer == id; }, settlement::returned, now);
  }
  consumers.erase(id);
  if (e->dest.is_topic() && !e->durable) {
    // A non-durable subscription lives exactly as long as its subscriber.
    std::erase(topic_subscriptions[e->dest.name], e);
    endpoints.erase(e->key);
    return;
  }
  dispatch(*e, now);
}

result<void> broker::unsubscribe(connection_id conn, std::string_view name) {
  const auto c = s_->connections.find(conn);
  if (c == s_->connections.end()) return std::unexpected(fail(error_code::illegal_state, "IllegalStateException: The Connection is closed"));
  const std::string key = durable_key(c->second.options.client_id, name);
  auto it = s_->endpoints.find(key);
  if (it == s_->endpoints.end()) {
    return std::unexpected(fail(error_code::invalid_destination,
                                fmt::format("InvalidDestinationException: No durable subscription exists for clientID: {} and "
                                            "subscriptionName: {}", c->second.options.client_id, name)));
  }
  if (!it->second->consumers.empty()) {
    return std::unexpected(fail(error_code::illegal_state, "IllegalStateException: Durable consumer is in use"));
  }
  std::erase(s_->topic_subscriptions[it->second->dest.name], it->second.get());
  s_->endpoints.erase(it);
  return {};
}

std::string broker::state::new_message_id(session_state& s) {
  return fmt::format("ID:mqlab-1:{}:{}:1:{}", s.conn, s.id, s.next_message++);
}

result<std::string> broker::send(session_id session, destination_kind kind, std::string_view name, message_spec spec,
                                 const producer_qos& qos, instant now) {
  auto sit = s_->sessions.find(session);
  if (sit == s_->sessions.end()) return std::unexpected(fail(error_code::illegal_state, "IllegalStateException: The Session is closed"));
  if (name.empty() || name.find('?') != std::string_view::npos) {
    return std::unexpected(fail(error_code::invalid_destination, fmt::format("InvalidDestinationException: '{}'", name)));
  }
  // Without explicit QoS the JMS defaults apply whatever the template was configured with.
  const producer_qos effective = qos.explicit_qos_enabled ? qos : producer_qos{};
  auto m = std::make_shared<message>();
  m->dest = {kind, std::string(name)};
  m->mode = effective.mode;
  m->priority = std::min<std::uint8_t>(effective.priority, 9);
  m->timestamp_ms = now.ns / 1'000'000;
  m->expiration_ms = effective.expiration_ms != 0          ? effective.expiration_ms
                     : effective.time_to_live_ms > 0 ? m->timestamp_ms + effective.time_to_live_ms
                                                     : 0;
  m->message_id = s_->new_message_id(sit->second);
  m->size = body_size(spec.content);
  m->spec = std::move(spec);
  std::string id = m->message_id;
  if (sit->second.mode == ack_mode::session_transacted) {
    sit->second.held_sends.emplace_back(m->dest, std::move(m));
  } else {
    s_->meter.charge({}, work_kind::frame);  // the transport thread reads the send
    s_->publish(m->dest, m, sit->second.conn, now);
  }
  return id;
}

std::vector<delivery> broker::take_deliveries() { return std::exchange(s_->out, {}); }

work_meter& broker::meter() { return s_->meter; }

std::size_t broker::queue_depth(std::string_view queue) const {
  auto it = s_->endpoints.find(queue_key(queue));
  return it == s_->endpoints.end() ? 0 : it->second->waiting.size;
}

std::size_t broker::subscription_depth(std::string_view client_id, std::string_view name) const {
  auto it = s_->endpoints.find(durable_key(client_id, name));
  return it == s_->endpoints.end() ? 0 : it->second->waiting.size;
}

destination_stats broker::stats(destination_kind kind, std::string_view name) const {
  auto it = s_->stats.find(destination{kind, std::string(name)});
  return it == s_->stats.end() ? destination_stats{} : it->second;
}

bool broker::exists(destination_kind kind, std::string_view name) const {
  return s_->stats.contains(destination{kind, std::string(name)});
}

std::uint32_t broker::outstanding(consumer_id consumer) const {
  auto it = s_->consumers.find(consumer);
  return it == s_->consumers.end() ? 0 : it->second.outstanding;
}

std::uint32_t broker::prefetch_of(consumer_id consumer) const {
  auto it = s_->consumers.find(consumer);
  return it == s_->consumers.end() ? 0 : it->second.prefetch;
}

}  // namespace mqlab::broker::jms
