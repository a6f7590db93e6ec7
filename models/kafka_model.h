// The Kafka side of a simulated system: a cluster from the broker core, producers' records from
// produce steps, and consumer groups that poll, work through records and commit, with replication
// ticks, session timeouts and faults (broker crash and restart, a consumer that dies).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "broker/kafka/client.h"
#include "models/kafka_side.h"
#include "models/record_ledger.h"
#include "models/system.h"
#include "sim/histogram.h"
#include "sim/random.h"
#include "sim/simulator.h"

namespace mqlab::models {

class kafka_model final : public kafka_side {
 public:
  /// `sim` and `spec` must outlive the model.
  kafka_model(sim::simulator& sim, const kafka_spec& spec, const sim::random_streams& streams);

  bool enabled() const override { return spec_.brokers > 0; }
  /// Schedules replication ticks and the consumers' first polls.
  void start() override;
  void produce(const produce_step& step, sim::sim_time created, bool measured) override;
  void start_measuring() override;
  bool crash(const std::string& target) override;
  bool restart(const std::string& target) override;
  /// The consumer stops polling and heartbeating; its session expires.
  bool kill(const std::string& group, int index) override;
  /// Records behind the committed/consumed positions, summed over every live consumer.
  std::int64_t lag() const override;
  void collect(std::map<std::string, double>& values, sim::histogram& e2e) override;

 private:
  struct member {
    const kafka_group_spec* group = nullptr;
    std::unique_ptr<broker::kafka::consumer> client;
    std::deque<record_stamp> buffer;  // polled, not yet worked on: what the ledger needs of each
    bool alive = true;
    std::uint64_t delivered = 0;
    sim::rng service_rng;
  };
  std::int64_t now_ms() const { return sim_.now().ns() / 1'000'000; }
  void tick();
  void heartbeat(std::size_t m);
  void poll(std::size_t m);
  void work(std::size_t m);

  sim::simulator& sim_;
  const kafka_spec& spec_;
  broker::kafka::cluster cluster_;
  sim::rng key_rng_;
  std::vector<member> members_;
  std::int32_t round_robin_ = 0;
  broker::kafka::byte_arena values_;          // the records' values, packed
  std::vector<std::uint32_t> next_sequence_;  // per key
  std::vector<broker::kafka::shared_bytes> key_names_;  // "key-N", made once and shared by its records
  record_ledger ledger_;
  std::uint64_t produced_ = 0, acked_ = 0, failed_ = 0;
  std::uint64_t lost_at_warmup_ = 0, vanished_at_warmup_ = 0, bytes_at_warmup_ = 0;
};

}  // namespace mqlab::models
