// What every Kafka side does the same way: the scenario's topics, the names of brokers.
#include "models/kafka_side.h"

#include <charconv>

namespace mqlab::models {

void create_topics(broker::kafka::cluster& cluster, const kafka_spec& spec, std::int64_t now_ms) {
  for (const auto& t : spec.topics) {
    broker::kafka::topic_config cfg;
    cfg.partitions = t.partitions;
    cfg.replication_factor = t.replication_factor;
    cfg.min_insync_replicas = t.min_insync_replicas;
    cfg.unclean_leader_election = t.unclean_leader_election;
    (void)cluster.create_topic(t.name, cfg, now_ms);
  }
}

std::uint64_t unfinished_below(const std::vector<bool>* done, std::int64_t committed) {
  std::uint64_t n = 0;
  for (std::int64_t o = 0; o < committed; ++o) {
    n += done == nullptr || static_cast<std::size_t>(o) >= done->size() || !(*done)[static_cast<std::size_t>(o)];
  }
  return n;
}

void mark_finished(std::vector<bool>& done, std::int64_t offset) {
  const auto o = static_cast<std::size_t>(offset);
  if (done.size() <= o) done.resize(o + 1);
  done[o] = true;
}

std::int32_t broker_index(const std::string& target, std::int32_t brokers) {
  constexpr std::string_view prefix = "broker-";
  if (!target.starts_with(prefix)) return -1;
  std::int32_t n = -1;
  const char* end = target.data() + target.size();
  const auto [ptr, ec] = std::from_chars(target.data() + prefix.size(), end, n);
  return ec == std::errc{} && ptr == end && n >= 0 && n < brokers ? n : -1;
}

}  // namespace mqlab::models
