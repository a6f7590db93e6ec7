// The consumers' bookkeeping shared by the simulated and the real JMS side.
#include "models/jms_side.h"

#include <algorithm>
#include <cstddef>
#include <set>

#include <fmt/format.h>

#include "models/payload.h"

namespace mqlab::models {
namespace {

namespace jms = broker::jms;

struct payload {
  std::int64_t created_ns;
  std::uint64_t sequence;
  std::int32_t key;           // -1: none
  std::uint32_t in_key;       // sequence within the key
  std::uint8_t measured;
};

// The destination whose sends a consumer should see all of: its topic, or for a virtual-topic
// consumer queue the virtual topic, or its queue.
std::string source_of(const jms_consumer_spec& c) {
  const std::string name = name_of(c);
  if (c.kind == jms::destination_kind::queue) {
    if (auto topic = jms::virtual_topic_of_queue(name)) return *topic;
  }
  return name;
}

}  // namespace

std::string name_of(const jms_consumer_spec& c) { return c.destination.substr(0, c.destination.find('?')); }

std::string client_id_of(const jms_consumer_spec& c, int index) {
  return c.subscription.empty() ? "" : fmt::format("{}-{}", c.name, index);
}

jms_tally::jms_tally(const jms_spec& spec, sim::rng keys) : spec_(spec), keys_(std::move(keys)) {}

jms_tally::message jms_tally::next(const send_step& step, sim::sim_time created, bool measured) {
  if (measured) {
    ++sent_;
    ++sent_to_[step.destination];
  }
  message m;
  m.key = step.keys > 0 ? static_cast<std::int32_t>(keys_.below(static_cast<std::uint64_t>(step.keys))) : -1;
  const std::uint32_t in_key = m.key < 0 ? 0 : next_in_key_[{step.destination, m.key}]++;
  m.body = encode_payload(payload{created.ns(), sequence_++, m.key, in_key, measured}, step.message_bytes);
  if (step.message_groups && m.key >= 0) m.group = fmt::format("key-{}", m.key);
  return m;
}

void jms_tally::received(const jms_consumer_spec& c, int index, std::string_view body, sim::sim_time now) {
  const auto p = decode_payload<payload>(body);
  // The ledger checks order and duplicates only: latency is recorded below, once.
  if (p.key >= 0) order_[c.name].finish({p.created_ns, p.key, p.in_key, 0}, now.ns());
  if (!p.measured) return;
  e2e_.record(now.ns() - p.created_ns);
  ++delivered_by_[{c.name, index}];
  ++delivered_;
  auto& seen = seen_[c.name];
  if (seen.size() <= p.sequence) seen.resize(p.sequence + 1);
  duplicates_by_[{c.name, index}] += seen[p.sequence];
  seen[p.sequence] = true;
}

std::string_view jms_tally::stamp_of(std::string_view body) {
  // The creation time and the sequence: unique per message, and no padding bytes, whose values
  // the struct's copy leaves undetermined.
  return body.substr(0, offsetof(payload, key));
}

jms::destination_stats jms_tally::totals(const jms::broker& core) const {
  jms::destination_stats t{};
  std::set<std::pair<jms::destination_kind, std::string>> seen;
  for (const auto& c : spec_.consumers) seen.emplace(c.kind, name_of(c));
  for (const auto& [kind, name] : seen) {
    const auto s = core.stats(kind, name);
    t.acknowledged += s.acknowledged;
    t.expired += s.expired;
    t.dead_lettered += s.dead_lettered;
    t.dropped += s.dropped;
  }
  return t;
}

std::int64_t jms_tally::backlog(const jms::broker& core) const {
  std::int64_t n = 0;
  for (const auto& c : spec_.consumers) {
    if (c.kind == jms::destination_kind::queue) n += static_cast<std::int64_t>(core.queue_depth(name_of(c)));
    if (c.subscription.empty()) continue;
    for (int i = 0; i < c.count; ++i) n += static_cast<std::int64_t>(core.subscription_depth(client_id_of(c, i), c.subscription));
  }
  return n;
}

void jms_tally::collect(std::map<std::string, double>& v, sim::histogram& e2e, std::int64_t backlog,
                        const jms::destination_stats& end) const {
  e2e.merge(e2e_);
  v["jms.sent"] = static_cast<double>(sent_);
  v["jms.delivered"] = static_cast<double>(delivered_);
  v["jms.backlog"] = static_cast<double>(backlog);
  const auto count = [](const auto& by, const std::pair<std::string, int>& key) {
    const auto it = by.find(key);
    return it == by.end() ? 0.0 : static_cast<double>(it->second);
  };
  for (const auto& c : spec_.consumers) {
    const std::string base = "consumer." + c.name;
    for (int i = 0; i < c.count; ++i) {
      v[base + ".delivered"] += count(delivered_by_, {c.name, i});
      v[base + ".duplicates"] += count(duplicates_by_, {c.name, i});
      if (c.count > 1) v[fmt::format("{}.{}.delivered", base, i)] = count(delivered_by_, {c.name, i});
    }
    if (c.failure.any()) {
      const auto f = failed_.find(c.name);
      v[base + ".failed"] = f == failed_.end() ? 0.0 : static_cast<double>(f->second);
    }
    if (const auto o = order_.find(c.name); o != order_.end()) {
      v[base + ".order_violations"] = static_cast<double>(o->second.order_violations());
    }
    const auto it = seen_.find(c.name);
    const double unique = it == seen_.end() ? 0.0 : static_cast<double>(std::count(it->second.begin(), it->second.end(), true));
    const auto sent = sent_to_.find(source_of(c));
    v[base + ".missed"] = (sent == sent_to_.end() ? 0.0 : static_cast<double>(sent->second)) - unique;
  }
  // Acknowledged in the window whenever sent: what the consumers got through, as deliver_rate.
  v["jms.acknowledged"] = static_cast<double>(end.acknowledged - warmup_totals_.acknowledged);
  v["jms.expired"] = static_cast<double>(end.expired - warmup_totals_.expired);
  v["jms.dead_lettered"] = static_cast<double>(end.dead_lettered - warmup_totals_.dead_lettered);
  v["jms.dropped"] = static_cast<double>(end.dropped - warmup_totals_.dropped);
}

}  // namespace mqlab::models
