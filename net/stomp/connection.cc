// A STOMP connection: the frames' life cycle and their mapping onto the JMS core. ActiveMQ's
// ProtocolConverter is the reference for which header means what and which ERROR ends the
// connection; its messages are quoted so that clients written against it read the same text.
#include "net/stomp/connection.h"

#include <algorithm>
#include <charconv>
#include <utility>

#include <fmt/format.h>

namespace mqlab::net::stomp {

namespace jms = broker::jms;

namespace {

constexpr std::int64_t ns_per_ms = 1'000'000;
/// Heart-beat intervals beyond a day are taken as a day: the timers reckon in nanoseconds.
constexpr std::int64_t longest_heart_beat_ms = 86'400'000;
/// The latest expiration a timer can reckon with (year 2262); later ones are taken as this.
constexpr std::int64_t latest_expiration_ms = INT64_MAX / ns_per_ms - 1;

/// A STOMP destination as ActiveMQ reads it: /queue/X, /topic/X, or a bare name, which is a queue.
std::expected<jms::destination, std::string> parse_destination(std::string_view given) {
  const std::string_view text = trimmed(given);
  auto named = [&](std::string_view prefix, jms::destination_kind kind) -> std::optional<jms::destination> {
    if (!text.starts_with(prefix)) return std::nullopt;
    return jms::destination{kind, std::string(text.substr(prefix.size()))};
  };
  std::optional<jms::destination> d = named("/queue/", jms::destination_kind::queue);
  if (!d) d = named("/topic/", jms::destination_kind::topic);
  if (!d && (text.starts_with("/temp-") || text.starts_with("/remote-temp-"))) {
    return std::unexpected(fmt::format("Temporary destinations are not supported: [{}]", text));
  }
  if (!d) d = jms::destination::queue(std::string(text));
  if (d->name.empty() || d->name.find(',') != std::string::npos) {
    return std::unexpected(fmt::format("Illegal destination name: [{}] -- ActiveMQ STOMP destinations must begin with "
                                       "one of: /queue/ /topic/ /temp-queue/ /temp-topic/", text));
  }
  return *d;
}

/// A JMS property as ActiveMQ prints it into a header (Java's String.valueOf).
std::string header_text(const jms::property& p) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) return v;
        else if constexpr (std::is_same_v<T, bool>) return v ? "true" : "false";
        else if constexpr (std::is_floating_point_v<T>) {
          std::string s = fmt::format("{}", v);
          return s.find_first_of(".en") == std::string::npos ? s + ".0" : s;
        } else return fmt::format("{}", static_cast<std::int64_t>(v));
      },
      p);
}

template <typename T>
std::optional<T> parse_integer(std::string_view given) {
  const std::string_view text = trimmed(given);
  T v{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

/// The heart-beat header "cx,cy"; nullopt when malformed.
std::optional<std::pair<std::int64_t, std::int64_t>> parse_heart_beat(std::string_view text) {
  const std::size_t comma = text.find(',');
  if (comma == std::string_view::npos) return std::nullopt;
  const auto cx = parse_integer<std::int64_t>(text.substr(0, comma));
  const auto cy = parse_integer<std::int64_t>(text.substr(comma + 1));
  if (!cx || !cy || *cx < 0 || *cy < 0) return std::nullopt;
  return std::pair{std::min(*cx, longest_heart_beat_ms), std::min(*cy, longest_heart_beat_ms)};
}

/// The highest version both sides speak, from CONNECT's accept-version (absent: 1.0).
std::optional<version> negotiate(std::string_view accepts) {
  std::optional<version> best;
  while (!accepts.empty()) {
    const std::size_t comma = std::min(accepts.find(','), accepts.size());
    const std::string_view v = trimmed(accepts.substr(0, comma));
    for (const version known : {version::v1_0, version::v1_1, version::v1_2}) {
      if (v == to_string(known) && (!best || known > *best)) best = known;
    }
    accepts.remove_prefix(std::min(comma + 1, accepts.size()));
  }
  return best;
}

/// Headers SEND uses itself; every other one becomes a string property, as ActiveMQ does.
bool is_send_header(std::string_view name) {
  static constexpr std::string_view own[] = {"destination", "transaction", "receipt", "content-length", "persistent",
                                             "priority", "expires", "correlation-id", "reply-to", "type",
                                             "message-id", "redelivered", "subscription", "timestamp", "JMSXUserID"};
  return std::ranges::find(own, name) != std::end(own);
}

}  // namespace

std::string stomp_name(const jms::destination& d) { return (d.is_topic() ? "/topic/" : "/queue/") + d.name; }

connection::connection(service& s, bool loopback, broker::instant accepted)
    : service_(s), loopback_(loopback), in_(s.options().limits), accepted_ns_(accepted.ns),
      last_received_ns_(accepted.ns), last_sent_ns_(accepted.ns) {}

connection::~connection() { service_.forget(*this); }

void connection::receive(std::string_view bytes, broker::instant now) {
  if (done_) return;
  last_received_ns_ = now.ns;
  in_.feed(bytes);
  while (!done_) {
    auto f = in_.next();
    if (!f) {
      error({f.error().text, true}, nullptr);
      break;
    }
    if (!*f) break;
    handle(std::move(**f), now);
  }
  service_.route();
}

void connection::handle(frame f, broker::instant now) {
  const std::string_view c = f.command;
  outcome result;
  if (c == "CONNECT" || c == "STOMP") {
    result = on_connect(f, now);
  } else if (c != "SEND" && c != "SUBSCRIBE" && c != "UNSUBSCRIBE" && c != "ACK" && c != "NACK" && c != "BEGIN" &&
             c != "COMMIT" && c != "ABORT" && c != "DISCONNECT") {
    result = refusal{fmt::format("Unknown STOMP action: {}", c), true};
  } else if (!conn_) {
    result = refusal{"Not connected."};
  } else if (c == "SEND") {
    result = on_send(f, now);
  } else if (c == "SUBSCRIBE") {
    result = on_subscribe(f, now);
  } else if (c == "UNSUBSCRIBE") {
    result = on_unsubscribe(f, now);
  } else if (c == "ACK" || c == "NACK") {
    result = on_settle(f, c == "ACK", now);
  } else if (c == "BEGIN") {
    result = on_begin(f);
  } else if (c == "COMMIT" || c == "ABORT") {
    result = on_end_transaction(f, c == "COMMIT", now);
  } else {  // DISCONNECT: its receipt below is the last frame
    closed(now);
    finish("");
  }
  if (result) return error(*result, &f);
  // CONNECT answers with CONNECTED, which carries its own receipt-id.
  if (const auto receipt = f.get("receipt"); receipt && c != "CONNECT" && c != "STOMP") {
    write(frame{"RECEIPT", {{"receipt-id", std::string(*receipt)}}, {}});
  }
}

connection::outcome connection::on_connect(const frame& f, broker::instant now) {
  if (conn_) return refusal{"Already connected."};
  const std::string accepts(f.get("accept-version").value_or("1.0"));
  const auto v = negotiate(accepts);
  if (!v) return refusal{fmt::format("Invalid Protocol version[{}], supported versions are: [1.2, 1.1, 1.0]", accepts), true};
  const std::string beat(f.get("heart-beat").value_or("0,0"));
  const auto heart_beat = parse_heart_beat(beat);
  if (!heart_beat) return refusal{"Invalid heart-beat header:" + beat, true};
  // No login is the guest user, who may only connect from this machine (as RabbitMQ's loopback_users).
  const std::string login(f.get("login").value_or("guest"));
  const std::string passcode(f.get("passcode").value_or(f.has("login") ? "" : "guest"));
  const auto& users = service_.options().users;
  const bool known = std::ranges::any_of(users, [&](const amqp::user& u) { return u.name == login && u.password == passcode; });
  if (!known || (login == "guest" && !loopback_)) {
    end_reason_ = !known ? fmt::format("login refused: user '{}' - invalid credentials", login)
                         : "login refused: user 'guest' can only connect via localhost";
    return refusal{fmt::format("User name [{}] or password is invalid.", login), true};
  }
  auto conn = service_.core().connect({.client_id = std::string(f.get("client-id").value_or(""))}, now);
  if (!conn) return refusal{conn.error().text, true};
  conn_ = *conn;
  producer_ = service_.core().create_session(*conn_, jms::ack_mode::auto_acknowledge).value();
  const std::string client_id = f.has("client-id") ? std::string(*f.get("client-id")) : fmt::format("ID:mqlab-stomp-{}", *conn_);
  version_ = *v;
  in_.set_version(version_);
  // As ActiveMQ: the server beats as often as the client wants to hear (cy) and expects the
  // client's beats as often as it offers them (cx).
  send_every_ms_ = heart_beat->second;
  expect_every_ms_ = heart_beat->first;
  frame connected{"CONNECTED", {}, {}};
  connected.add("version", std::string(to_string(version_)));
  connected.add("session", client_id);
  connected.add("heart-beat", fmt::format("{},{}", send_every_ms_, expect_every_ms_));
  connected.add("server", service_.options().server);
  if (const auto id = f.get("request-id").or_else([&] { return f.get("receipt"); })) {
    connected.add("response-id", std::string(*id));
    connected.add("receipt-id", std::string(*id));
  }
  write(connected);
  return std::nullopt;
}

connection::outcome connection::on_send(const frame& f, broker::instant now) {
  const auto target = f.get("destination");
  if (!target) return refusal{"SEND received without a Destination specified!"};
  const auto dest = parse_destination(*target);
  if (!dest) return refusal{dest.error()};
  if (const auto& full = service_.options().memory_full; full && full()) {
    return refusal{fmt::format("Usage Manager Memory Limit reached. Stopping producer to prevent flooding {}. See "
                               "http://activemq.apache.org/producer-flow-control.html for more info.", dest->to_string())};
  }
  jms::session_id session = producer_;
  const auto named = transaction_of(f);
  if (!named) return named.error();
  transaction* tx = *named;
  if (tx) {
    if (tx->bytes + f.body.size() > service_.options().max_transaction_bytes) {
      return refusal{fmt::format("Transaction {} would hold more than {} bytes", *f.get("transaction"),
                                 service_.options().max_transaction_bytes)};
    }
    if (!tx->sends) tx->sends = service_.core().create_session(*conn_, jms::ack_mode::session_transacted).value();
    session = *tx->sends;
  }
  jms::producer_qos qos{.mode = f.get("persistent") == "true" ? jms::delivery_mode::persistent : jms::delivery_mode::non_persistent};
  if (const auto p = f.get("priority")) {
    const auto n = parse_integer<int>(*p);
    if (!n) return refusal{fmt::format("For input string: \"{}\"", *p)};
    qos.priority = static_cast<std::uint8_t>(std::clamp(*n, 0, 9));
  }
  if (const auto e = f.get("expires")) {
    const auto n = parse_integer<std::int64_t>(*e);
    if (!n) return refusal{fmt::format("For input string: \"{}\"", *e)};
    qos.expiration_ms = std::clamp(*n, -latest_expiration_ms, latest_expiration_ms);
  }
  jms::message_spec spec;
  spec.correlation_id = std::string(f.get("correlation-id").value_or(""));
  spec.type = std::string(f.get("type").value_or(""));
  if (const auto r = f.get("reply-to")) {
    if (auto d = parse_destination(*r)) spec.reply_to = *d;
    else spec.properties.emplace("reply-to", std::string(*r));
  }
  for (const auto& h : f.headers) {
    if (!is_send_header(h.name)) spec.properties.emplace(h.name, h.value);  // the first of a repeated header wins
  }
  // content-length makes a BytesMessage, its absence a TextMessage (ActiveMQ's legacy translator).
  if (f.has("content-length")) spec.content = jms::bytes_body{f.body};
  else spec.content = jms::text_body{f.body};
  auto sent = service_.core().send(session, dest->kind, dest->name, std::move(spec), qos, now);
  if (!sent) return refusal{sent.error().text};
  if (tx) tx->bytes += f.body.size();
  return std::nullopt;
}

connection::outcome connection::on_subscribe(const frame& f, broker::instant now) {
  std::string id(f.get("id").value_or(""));
  if (id.empty() && version_ != version::v1_0) return refusal{"SUBSCRIBE received without a subscription id!"};
  const auto target = f.get("destination");
  if (!target || target->empty()) return refusal{"Invalid empty or 'null' Destination header"};
  const auto dest = parse_destination(*target);
  if (!dest) return refusal{dest.error()};
  if (id.empty()) id = fmt::format("anonymous-{}", ++anonymous_subscriptions_);
  if (subscriptions_.contains(id)) return refusal{fmt::format("Duplicate subscription id: {}", id)};
  if (subscriptions_.size() >= service_.options().max_subscriptions) {
    return refusal{fmt::format("Too many subscriptions on one connection (at most {})", service_.options().max_subscriptions)};
  }
  const std::string subscription_name(f.get("activemq.subscriptionName").value_or(""));
  if (!dest->is_topic() && !subscription_name.empty()) {
    return refusal{"Invalid Subscription: cannot durably subscribe to a Queue destination!"};
  }
  subscription sub{.id = id, .destination = std::string(*target)};
  const std::string_view ack = f.get("ack").value_or("auto");
  sub.mode = ack == "client"              ? jms::ack_mode::client_acknowledge
             : ack == "client-individual" ? jms::ack_mode::individual_acknowledge
                                          : jms::ack_mode::auto_acknowledge;
  if (f.get("browser") == "true") {
    if (version_ == version::v1_0) return refusal{"Queue Browser feature only valid for Stomp v1.1+ clients!"};
    browse(sub, dest->name, now);
    return std::nullopt;
  }
  jms::consumer_options o{.kind = dest->kind, .destination = dest->name,
                          .selector = std::string(f.get("selector").value_or("")),
                          .subscription_name = subscription_name,
                          .no_local = f.get("activemq.noLocal") == "true"};
  if (const auto prefetch = f.get("activemq.prefetchSize")) {
    const auto n = parse_integer<std::uint32_t>(*prefetch);
    if (!n) return refusal{fmt::format("For input string: \"{}\"", *prefetch)};
    o.prefetch = *n;
  }
  auto& core = service_.core();
  sub.session = core.create_session(*conn_, sub.mode).value();
  auto consumer = core.create_consumer(sub.session, o, now);
  if (!consumer) {
    core.close_session(sub.session, now);
    return refusal{consumer.error().text};
  }
  sub.consumer = *consumer;
  service_.own(sub.consumer, *this);
  by_consumer_[sub.consumer] = id;
  subscriptions_.emplace(id, std::move(sub));
  return std::nullopt;
}

void connection::browse(const subscription& sub, std::string_view queue, broker::instant now) {
  // A browser sees without consuming: nothing to acknowledge, then the end marker ActiveMQ sends.
  for (const auto& m : service_.core().browse(queue, now)) write(message_frame(*m, false, sub));
  write(frame{"MESSAGE", {{"subscription", sub.id}, {"browser", "end"}, {"destination", sub.destination}, {"message-id", "0"}}, {}});
}

connection::outcome connection::on_unsubscribe(const frame& f, broker::instant now) {
  const auto id = f.get("id");
  const auto target = f.get("destination");
  if (!id && version_ != version::v1_0) return refusal{"UNSUBSCRIBE received without a subscription id!"};
  if (!id && !target) return refusal{"Must specify the subscriptionId or the destination you are unsubscribing from"};
  if (const auto durable = f.get("activemq.subscriptionName")) {
    // As ActiveMQ: this removes the durable subscription; its consumer must be gone already.
    auto removed = service_.core().unsubscribe(*conn_, *durable);
    if (!removed) return refusal{removed.error().text};
    return std::nullopt;
  }
  auto it = id ? subscriptions_.find(std::string(*id))
               : std::ranges::find_if(subscriptions_, [&](const auto& s) { return s.second.destination == *target; });
  if (it == subscriptions_.end()) return refusal{"No subscription matched."};
  close_subscription(it, now);
  return std::nullopt;
}

void connection::close_subscription(std::map<std::string, subscription>::iterator it, broker::instant now) {
  subscription& sub = it->second;
  for (const auto& o : sub.unacked) ack_ids_.erase(o.ack_id);
  service_.disown(sub.consumer);
  by_consumer_.erase(sub.consumer);
  // Unacknowledged messages go back to the destination, marked redelivered.
  service_.core().close_session(sub.session, now);
  std::erase_if(auto_unwritten_, [&](const auto& a) { return a.first == sub.session; });
  std::erase_if(auto_writing_, [&](const auto& a) { return a.first == sub.session; });
  subscriptions_.erase(it);
}

connection::outcome connection::on_settle(const frame& f, bool ack, broker::instant now) {
  const char* verb = ack ? "ACK" : "NACK";
  if (!ack && version_ == version::v1_0) return refusal{"NACK received but connection is in v1.0 mode."};
  const auto message_id = f.get("message-id");
  const auto subscription_id = f.get("subscription");
  const auto ack_id = f.get("id");
  if (version_ == version::v1_2 && !ack_id) {
    return refusal{ack ? "ACK received without a ack id for acknowledge!" : "NACK received without an ack header to acknowledge!"};
  }
  if (version_ != version::v1_2 && !message_id) return refusal{fmt::format("{} received without a message-id to acknowledge!", verb)};
  if (version_ == version::v1_1 && !subscription_id) {
    return refusal{fmt::format("{} received without a subscription id for acknowledge!", verb)};
  }
  const auto named = transaction_of(f);
  if (!named) return named.error();
  transaction* tx = *named;
  // Which subscription: the ack id's (1.2), the one named (1.1), else the first holding the message (1.0).
  subscription* sub = nullptr;
  std::string id(message_id.value_or(""));
  if (version_ == version::v1_2) {
    if (auto a = ack_ids_.find(std::string(*ack_id)); a != ack_ids_.end()) {
      sub = &subscriptions_.at(a->second);
      const auto o = std::ranges::find(sub->unacked, *ack_id, &outstanding::ack_id);
      if (o != sub->unacked.end()) id = o->message_id;
    }
  } else if (subscription_id) {
    if (auto s = subscriptions_.find(std::string(*subscription_id)); s != subscriptions_.end()) sub = &s->second;
  } else {
    for (auto& [name, s] : subscriptions_) {
      if (std::ranges::find(s.unacked, id, &outstanding::message_id) != s.unacked.end()) sub = &s;
    }
  }
  const auto settled = sub ? take_settled(*sub, id, ack) : std::vector<outstanding>{};
  if (settled.empty()) return refusal{fmt::format("Unexpected {} received for message-id [{}]", verb, id.empty() ? "null" : id)};
  for (const outstanding& o : settled) {
    ack_ids_.erase(o.ack_id);
    if (tx) tx->settlements.push_back({sub->id, o, !ack});
    else settle(*sub, o, !ack, now);
  }
  return std::nullopt;
}

std::vector<connection::outstanding> connection::take_settled(subscription& sub, std::string_view message_id, bool ack) {
  const auto it = std::ranges::find(sub.unacked, message_id, &outstanding::message_id);
  if (it == sub.unacked.end()) return {};
  // A client-mode ACK settles every earlier message of the subscription; a NACK only its own.
  const auto from = ack && sub.mode == jms::ack_mode::client_acknowledge ? sub.unacked.begin() : it;
  std::vector<outstanding> taken(from, it + 1);
  sub.unacked.erase(from, it + 1);
  return taken;
}

void connection::settle(const subscription& sub, const outstanding& o, bool poison, broker::instant now) {
  auto& core = service_.core();
  // A NACK is ActiveMQ's poison acknowledgement: straight to the dead-letter queue.
  if (poison) (void)core.poison(sub.session, o.delivery_id, "Poison ack: NACK from a STOMP client", now);
  else (void)core.acknowledge(sub.session, o.delivery_id, now);
}

std::expected<connection::transaction*, connection::refusal> connection::transaction_of(const frame& f) {
  const auto name = f.get("transaction");
  if (!name) return nullptr;
  const auto it = transactions_.find(std::string(*name));
  if (it == transactions_.end()) return std::unexpected(refusal{fmt::format("Invalid transaction id: {}", *name)});
  return &it->second;
}

connection::outcome connection::on_begin(const frame& f) {
  const auto name = f.get("transaction");
  if (!name) return refusal{"Must specify the transaction you are beginning"};
  if (transactions_.contains(std::string(*name))) return refusal{fmt::format("The transaction was already started: {}", *name)};
  if (transactions_.size() >= service_.options().max_transactions) {
    return refusal{fmt::format("Too many open transactions on one connection (at most {})", service_.options().max_transactions)};
  }
  transactions_.emplace(std::string(*name), transaction{});
  return std::nullopt;
}

connection::outcome connection::on_end_transaction(const frame& f, bool commit, broker::instant now) {
  const auto name = f.get("transaction");
  if (!name) return refusal{"Must specify the transaction you are committing"};
  auto it = transactions_.find(std::string(*name));
  if (it == transactions_.end()) return refusal{fmt::format("Invalid transaction id: {}", *name)};
  transaction tx = std::move(it->second);
  transactions_.erase(it);
  auto& core = service_.core();
  if (tx.sends) {
    if (commit) (void)core.commit(*tx.sends, now);
    core.close_session(*tx.sends, now);  // closing without commit drops the held sends
  }
  for (const settlement& s : tx.settlements) {
    auto sub = subscriptions_.find(s.subscription);
    if (sub == subscriptions_.end()) continue;  // unsubscribed meanwhile: the core took its messages back
    if (commit) {
      settle(sub->second, s.what, s.poison, now);
      continue;
    }
    // ABORT: the messages are outstanding again, their ack ids valid (ActiveMQ's onStompAbort).
    auto& unacked = sub->second.unacked;
    unacked.insert(std::ranges::upper_bound(unacked, s.what.delivery_id, {}, &outstanding::delivery_id), s.what);
    if (!s.what.ack_id.empty()) ack_ids_[s.what.ack_id] = s.subscription;
  }
  return std::nullopt;
}

frame connection::message_frame(const jms::message& m, bool redelivered, const subscription& sub) const {
  frame f{"MESSAGE", {}, {}};
  f.add("subscription", sub.id);
  f.add("destination", stomp_name(m.dest));
  f.add("message-id", m.message_id);
  if (!m.spec.correlation_id.empty()) f.add("correlation-id", m.spec.correlation_id);
  f.add("expires", std::to_string(m.expiration_ms));
  if (redelivered) f.add("redelivered", "true");
  f.add("priority", std::to_string(m.priority));
  if (m.spec.reply_to) f.add("reply-to", stomp_name(*m.spec.reply_to));
  f.add("timestamp", std::to_string(m.timestamp_ms));
  if (!m.spec.type.empty()) f.add("type", m.spec.type);
  if (m.persistent()) f.add("persistent", "true");
  for (const auto& [name, value] : m.spec.properties) f.add(name, header_text(value));
  if (const auto* bytes = std::get_if<jms::bytes_body>(&m.spec.content)) {
    f.add("content-length", std::to_string(bytes->bytes.size()));
    f.body = bytes->bytes;
  } else if (const auto* text = std::get_if<jms::text_body>(&m.spec.content)) {
    f.body = text->text;
  }
  return f;
}

void connection::deliver(const jms::delivery& d) {
  const auto owner = by_consumer_.find(d.consumer);
  if (owner == by_consumer_.end()) return;
  subscription& sub = subscriptions_.at(owner->second);
  frame f = message_frame(*d.msg, d.redelivered, sub);
  if (sub.mode == jms::ack_mode::auto_acknowledge) {
    auto_unwritten_.emplace_back(sub.session, d.delivery_id);
  } else {
    outstanding o{.ack_id = version_ == version::v1_2 ? service_.next_ack_id() : "", .message_id = d.msg->message_id,
                  .delivery_id = d.delivery_id};
    if (!o.ack_id.empty()) {
      f.add("ack", o.ack_id);
      ack_ids_[o.ack_id] = sub.id;
    }
    sub.unacked.push_back(std::move(o));
  }
  write(f);
}

void connection::output_taken(broker::instant now) {
  last_sent_ns_ = now.ns;
  auto_writing_.insert(auto_writing_.end(), auto_unwritten_.begin(), auto_unwritten_.end());
  auto_unwritten_.clear();
}

void connection::output_written(broker::instant now) {
  for (const auto& [session, delivery] : std::exchange(auto_writing_, {})) {
    (void)service_.core().acknowledge(session, delivery, now);
  }
  service_.route();
}

broker::instant connection::tick(broker::instant now) {
  if (done_) return broker::instant::never();
  if (!conn_) {
    const std::int64_t deadline = accepted_ns_ + service_.options().connect_timeout_ms * ns_per_ms;
    if (now.ns >= deadline) {
      finish(fmt::format("no CONNECT frame within {} ms", service_.options().connect_timeout_ms));
      return broker::instant::never();
    }
    return {deadline};
  }
  std::int64_t next = broker::instant::never().ns;
  if (expect_every_ms_ > 0) {
    const auto grace = static_cast<std::int64_t>(static_cast<double>(expect_every_ms_ * ns_per_ms) * service_.options().heartbeat_grace);
    if (now.ns - last_received_ns_ >= grace) {
      finish(fmt::format("no heart-beat from the client for {} ms", (now.ns - last_received_ns_) / ns_per_ms));
      return broker::instant::never();
    }
    next = std::min(next, last_received_ns_ + grace);
  }
  if (send_every_ms_ > 0) {
    // A beat owed every cy ms goes out after cy/2 of silence (as RabbitMQ beats at half the
    // timeout): a receiver allowing 1.5 x cy (stomp.py, ActiveMQ) then tolerates a full interval
    // of scheduling delay on either side, not half of one.
    const std::int64_t beat_after = send_every_ms_ * ns_per_ms / 2;
    if (now.ns - last_sent_ns_ >= beat_after) {
      // Output still waiting to be taken is the beat. A second '\n' in the same write would be
      // no beat at all to stomp.py, which only counts a read of exactly one end-of-line.
      if (out_.empty()) {
        out_ += '\n';
        service_.touched(*this);
      }
      last_sent_ns_ = now.ns;  // output_taken() notes the real time; until then no spinning timer
    }
    next = std::min(next, last_sent_ns_ + beat_after);
  }
  return {next};
}

void connection::closed(broker::instant now) {
  if (!conn_) return;
  for (const auto& [consumer, id] : by_consumer_) service_.disown(consumer);
  by_consumer_.clear();
  subscriptions_.clear();
  ack_ids_.clear();
  auto_unwritten_.clear();
  auto_writing_.clear();
  // Open transactions roll back; unacknowledged messages return, redelivered.
  service_.core().disconnect(*conn_, now);
  conn_.reset();
  service_.route();
}

void connection::write(const frame& f) {
  encode(f, version_, out_);
  service_.touched(*this);
}

void connection::error(const refusal& r, const frame* cause) {
  frame f{"ERROR", {{"message", r.message}, {"content-type", "text/plain"}}, r.message + "\n"};
  if (cause != nullptr) {
    if (const auto receipt = cause->get("receipt")) f.add("receipt-id", std::string(*receipt));
  }
  write(f);
  if (r.fatal) finish(end_reason_.empty() ? r.message : end_reason_);
}

void connection::finish(std::string reason) {
  done_ = true;
  if (end_reason_.empty()) end_reason_ = std::move(reason);
}

}  // namespace mqlab::net::stomp
