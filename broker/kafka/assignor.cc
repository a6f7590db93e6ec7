// Assignors as in the Java client, and the consumer protocol's embedded encodings (big-endian,
// Kafka's STRING and ARRAY layouts); see assignor.h.
#include "broker/kafka/assignor.h"

#include <algorithm>
#include <set>
#include <stdexcept>

namespace mqlab::broker::kafka {
namespace {

bool subscribes(const member_subscription& m, const std::string& topic) {
  return std::find(m.topics.begin(), m.topics.end(), topic) != m.topics.end();
}

std::vector<member_subscription> sorted(std::vector<member_subscription> members) {
  std::sort(members.begin(), members.end(), [](const auto& a, const auto& b) { return a.member_id < b.member_id; });
  return members;
}

assignment range_assign(const std::vector<member_subscription>& members, const std::map<std::string, std::int32_t>& topics) {
  assignment out;
  for (const auto& m : members) out[m.member_id];
  for (const auto& [topic, count] : topics) {
    std::vector<const member_subscription*> consumers;
    for (const auto& m : members) {
      if (subscribes(m, topic)) consumers.push_back(&m);
    }
    if (consumers.empty()) continue;
    const std::int32_t n = static_cast<std::int32_t>(consumers.size());
    const std::int32_t each = count / n, extra = count % n;
    std::int32_t next = 0;
    for (std::int32_t i = 0; i < n; ++i) {
      const std::int32_t take = each + (i < extra ? 1 : 0);
      for (std::int32_t k = 0; k < take; ++k) out[consumers[static_cast<std::size_t>(i)]->member_id].push_back({topic, next++});
    }
  }
  return out;
}

assignment round_robin_assign(const std::vector<member_subscription>& members,
                              const std::map<std::string, std::int32_t>& topics) {
  assignment out;
  for (const auto& m : members) out[m.member_id];
  if (members.empty()) return out;
  std::size_t cursor = 0;
  for (const auto& [topic, count] : topics) {
    for (std::int32_t p = 0; p < count; ++p) {
      for (std::size_t tries = 0; tries < members.size(); ++tries, ++cursor) {
        const auto& m = members[cursor % members.size()];
        if (subscribes(m, topic)) {
          out[m.member_id].push_back({topic, p});
          ++cursor;
          break;
        }
      }
    }
  }
  return out;
}

assignment sticky_assign(const std::vector<member_subscription>& members, const std::map<std::string, std::int32_t>& topics,
                         const assignment& previous) {
  assignment out;
  for (const auto& m : members) out[m.member_id];
  std::vector<topic_partition> all;
  for (const auto& [topic, count] : topics) {
    for (std::int32_t p = 0; p < count; ++p) all.push_back({topic, p});
  }
  const std::size_t n = std::max<std::size_t>(members.size(), 1);
  const std::size_t max_each = (all.size() + n - 1) / n;
  // Keep what each surviving member owned, up to its fair share.
  std::set<topic_partition> taken;
  for (const auto& m : members) {
    auto it = previous.find(m.member_id);
    if (it == previous.end()) continue;
    for (const auto& tp : it->second) {
      if (out[m.member_id].size() >= max_each || !subscribes(m, tp.topic) || !topics.contains(tp.topic) ||
          tp.partition >= topics.at(tp.topic) || taken.contains(tp)) {
        continue;
      }
      out[m.member_id].push_back(tp);
      taken.insert(tp);
    }
  }
  // Hand out the rest to the least loaded subscriber (ties by member id).
  for (const auto& tp : all) {
    if (taken.contains(tp)) continue;
    const member_subscription* best = nullptr;
    for (const auto& m : members) {
      if (!subscribes(m, tp.topic)) continue;
      if (best == nullptr || out[m.member_id].size() < out[best->member_id].size()) best = &m;
    }
    if (best != nullptr) out[best->member_id].push_back(tp);
  }
  for (auto& [id, parts] : out) std::sort(parts.begin(), parts.end());
  return out;
}

}  // namespace

std::string_view assignor_name(assignor_kind kind) {
  switch (kind) {
    case assignor_kind::range: return "range";
    case assignor_kind::round_robin: return "roundrobin";
    case assignor_kind::cooperative_sticky: return "cooperative-sticky";
  }
  return "range";
}

std::optional<assignor_kind> assignor_named(std::string_view name) {
  for (auto kind : {assignor_kind::range, assignor_kind::round_robin, assignor_kind::cooperative_sticky}) {
    if (assignor_name(kind) == name) return kind;
  }
  return std::nullopt;
}

assignment assign(assignor_kind kind, const std::vector<member_subscription>& members,
                  const std::map<std::string, std::int32_t>& partitions_per_topic, const assignment& previous) {
  const auto ordered = sorted(members);
  switch (kind) {
    case assignor_kind::range: return range_assign(ordered, partitions_per_topic);
    case assignor_kind::round_robin: return round_robin_assign(ordered, partitions_per_topic);
    case assignor_kind::cooperative_sticky: return sticky_assign(ordered, partitions_per_topic, previous);
  }
  return {};
}

std::vector<topic_partition> moved_partitions(const assignment& before, const assignment& after) {
  std::map<topic_partition, std::string> owner_before, owner_after;
  for (const auto& [m, parts] : before) {
    for (const auto& tp : parts) owner_before[tp] = m;
  }
  for (const auto& [m, parts] : after) {
    for (const auto& tp : parts) owner_after[tp] = m;
  }
  std::vector<topic_partition> moved;
  for (const auto& [tp, m] : owner_after) {
    auto it = owner_before.find(tp);
    if (it == owner_before.end() || it->second != m) moved.push_back(tp);
  }
  return moved;
}

namespace {

// Writes Kafka's primitive types; the embedded protocols use the non-flexible encodings.
class writer {
 public:
  void int16(std::int16_t v) { be(static_cast<std::uint16_t>(v), 2); }
  void int32(std::int32_t v) { be(static_cast<std::uint32_t>(v), 4); }
  void string(std::string_view s) {
    int16(static_cast<std::int16_t>(s.size()));
    out_.append(s);
  }
  void partitions(const std::vector<topic_partition>& tps) {
    std::map<std::string, std::vector<std::int32_t>> by_topic;
    for (const auto& tp : tps) by_topic[tp.topic].push_back(tp.partition);
    int32(static_cast<std::int32_t>(by_topic.size()));
    for (const auto& [topic, ps] : by_topic) {
      string(topic);
      int32(static_cast<std::int32_t>(ps.size()));
      for (std::int32_t p : ps) int32(p);
    }
  }
  std::string take() { return std::move(out_); }

 private:
  void be(std::uint32_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  std::string out_;
};

// Reads them back; throws std::out_of_range past the end, caught by the decoders below.
class reader {
 public:
  explicit reader(std::string_view in) : in_(in) {}
  std::int16_t int16() { return static_cast<std::int16_t>(be(2)); }
  std::int32_t int32() { return static_cast<std::int32_t>(be(4)); }
  std::string string() {
    const std::int16_t n = int16();
    if (n < 0) return {};
    return std::string(take(static_cast<std::size_t>(n)));
  }
  /// An array's length, checked against what is left (each element takes at least `min_bytes`).
  std::size_t count(std::size_t min_bytes) {
    const std::int32_t n = int32();
    if (n < 0) return 0;
    if (static_cast<std::size_t>(n) * min_bytes > in_.size() - at_) throw std::out_of_range("array longer than its bytes");
    return static_cast<std::size_t>(n);
  }
  std::vector<topic_partition> partitions() {
    std::vector<topic_partition> out;
    for (std::size_t t = count(6); t > 0; --t) {
      const std::string topic = string();
      for (std::size_t p = count(4); p > 0; --p) out.push_back({topic, int32()});
    }
    return out;
  }
  void skip_bytes() {
    const std::int32_t n = int32();
    if (n > 0) take(static_cast<std::size_t>(n));
  }
  bool done() const { return at_ == in_.size(); }

 private:
  std::string_view take(std::size_t n) {
    if (n > in_.size() - at_) throw std::out_of_range("field past the end");
    const auto s = in_.substr(at_, n);
    at_ += n;
    return s;
  }
  std::uint32_t be(std::size_t n) {
    std::uint32_t v = 0;
    for (char c : take(n)) v = (v << 8) | static_cast<std::uint8_t>(c);
    return v;
  }
  std::string_view in_;
  std::size_t at_ = 0;
};

}  // namespace

std::string encode_subscription(const member_subscription& s) {
  writer w;
  w.int16(1);
  w.int32(static_cast<std::int32_t>(s.topics.size()));
  for (const auto& t : s.topics) w.string(t);
  w.int32(-1);  // user data: none
  w.partitions(s.owned);
  return w.take();
}

std::optional<member_subscription> decode_subscription(std::string_view bytes) {
  try {
    reader r(bytes);
    const std::int16_t version = r.int16();
    if (version < 0) return std::nullopt;
    member_subscription s;
    for (std::size_t n = r.count(2); n > 0; --n) s.topics.push_back(r.string());
    if (r.done()) return s;
    r.skip_bytes();
    if (version >= 1 && !r.done()) s.owned = r.partitions();
    return s;
  } catch (const std::out_of_range&) {
    return std::nullopt;
  }
}

std::string encode_assignment(const std::vector<topic_partition>& partitions) {
  writer w;
  w.int16(0);
  w.partitions(partitions);
  w.int32(-1);  // user data: none
  return w.take();
}

std::optional<std::vector<topic_partition>> decode_assignment(std::string_view bytes) {
  if (bytes.empty()) return std::vector<topic_partition>{};  // the coordinator's "nothing for you"
  try {
    reader r(bytes);
    if (r.int16() < 0) return std::nullopt;
    return r.partitions();
  } catch (const std::out_of_range&) {
    return std::nullopt;
  }
}

}  // namespace mqlab::broker::kafka
