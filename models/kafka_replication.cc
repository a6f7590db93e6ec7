// The priced Kafka side: the producer's batches (batch.size, linger.ms, 5 requests in flight
// per broker), produce requests that wait for the leader's resources, replica fetchers that
// long-poll their leaders over the links, and acks=all answered once the high watermark passes
// a batch — which the leader learns from the followers' next fetches, as in Kafka.
#include <algorithm>

#include "broker/kafka/partitioner.h"
#include "models/kafka_model.h"

namespace mqlab::models {

namespace kafka = broker::kafka;

namespace {

constexpr int max_in_flight = 5;                          // max.in.flight.requests.per.connection
constexpr std::uint64_t request_bytes = 64;               // a request's or response's headers
constexpr std::size_t replica_fetch_records = 10'000;     // about replica.fetch.max.bytes of small records
constexpr auto replica_fetch_backoff = sim::duration::seconds(1);      // replica.fetch.backoff.ms
constexpr auto housekeeping_interval = sim::duration::milliseconds(100);  // ISR expiry and group timers
constexpr auto retry_backoff = sim::duration::milliseconds(100);         // retry.backoff.ms
constexpr auto delivery_timeout = sim::duration::seconds(120);           // delivery.timeout.ms

}  // namespace

void kafka_model::start_priced() {
  for (std::int32_t f = 0; f < spec_.brokers; ++f) {
    for (std::int32_t l = 0; l < spec_.brokers; ++l) {
      if (f != l) fetchers_.push_back({.follower = f, .leader = l});
    }
  }
  for (std::size_t f = 0; f < fetchers_.size(); ++f) sim_.after(sim::duration{}, [this, f] { fetch_round(f); });
  sim_.after(housekeeping_interval, [this] { housekeeping(); });
}

void kafka_model::housekeeping() {
  cluster_.expire_lagging(now_ms());  // a smaller ISR may let the high watermark move on
  cluster_.groups().advance(now_ms());
  for (std::int32_t b = 0; b < spec_.brokers; ++b) check_acks(b);
  sim_.after(housekeeping_interval, [this] { housekeeping(); });
}

broker::node_id kafka_model::fetch_node(std::size_t m) const {
  const auto& assigned = members_[m].client->assignment();
  if (assigned.empty()) return node_of(0);
  return node_of(std::max(0, leader_of(assigned.front().topic, assigned.front().partition)));
}

// --- producer --------------------------------------------------------------------------------

kafka_model::batch& kafka_model::open_batch(const std::string& topic, std::int32_t p) {
  auto it = open_.find(topic);
  if (it == open_.end()) it = open_.emplace(topic, std::vector<batch>{}).first;
  if (it->second.size() <= static_cast<std::size_t>(p)) it->second.resize(static_cast<std::size_t>(p) + 1);
  return it->second[static_cast<std::size_t>(p)];
}

void kafka_model::add_record(const produce_step& step, kafka::record r, bool measured, done_fn answered) {
  const std::int32_t p = partition_of(step, r);
  batch& open = open_batch(step.topic, p);
  if (!open.records.empty() && open.acks != step.acks) send_batch(open);
  if (open.records.empty()) {
    open.topic = step.topic;
    open.partition = p;
    open.acks = step.acks;
  }
  open.bytes += r.size_bytes();
  open.records.push_back(std::move(r));
  open.measured.push_back(measured);
  if (step.acks == 0) answered();  // fire and forget: the producer goes on at once
  else open.waiting.push_back(std::move(answered));
  const std::int32_t leader = leader_of(step.topic, p);
  const bool room = leader < 0 || step.acks == 0 || in_flight_[static_cast<std::size_t>(leader)] < max_in_flight;
  if (open.bytes >= step.batch_size || (step.linger.ns() == 0 && room)) {
    send_batch(open);
  } else if (step.linger.ns() > 0 && !open.linger_armed) {
    open.linger_armed = true;
    sim_.after(step.linger, [this, topic = &step.topic, p] {
      batch& lingering = open_batch(*topic, p);
      if (lingering.linger_armed && !lingering.records.empty()) send_batch(lingering);
    });
  }
}

void kafka_model::send_batch(batch& open) {
  const std::uint32_t b = batches_.acquire(std::move(open));
  open = batch{};
  batches_[b].linger_armed = false;
  batches_[b].first_sent = sim_.now();
  send_to_leader(b);
}

void kafka_model::send_to_leader(std::uint32_t b) {
  batch& bt = batches_[b];
  bt.broker = leader_of(bt.topic, bt.partition);
  if (bt.broker < 0 || !cluster_.broker_up(bt.broker)) {
    bt.broker = std::max(bt.broker, 0);
    answer(b, false);  // no leader to send to: the producer's metadata says so at once
    return;
  }
  if (bt.acks != 0) {
    ++in_flight_[static_cast<std::size_t>(bt.broker)];
    bt.in_flight = true;
  }
  resources_->client_request(0, node_of(bt.broker), bt.bytes + request_bytes, [this, b] { batch_arrives(b); },
                             resources_->kafka_client_work(0));  // its records were priced as they were produced
}

void kafka_model::batch_arrives(std::uint32_t b) {
  batch& bt = batches_[b];
  if (!cluster_.broker_up(bt.broker)) {
    answer(b, false);
    return;
  }
  const std::size_t n = bt.records.size();
  // The producer keeps a batch until it is answered, to retry it (acks=0 never hears, never retries).
  auto sent = bt.acks == 0 ? std::move(bt.records) : bt.records;
  const auto result = cluster_.produce(bt.topic, bt.partition, std::move(sent), static_cast<kafka::acks>(bt.acks), now_ms());
  if (result.error != kafka::error_code::none) {
    cluster_.meter().clear();
    answer(b, false);
    return;
  }
  batches_[b].end_offset = result.base_offset + static_cast<std::int64_t>(n);
  const std::int32_t leader = batches_[b].broker;
  const std::int8_t acks = batches_[b].acks;
  resources_->charge(
      cluster_.meter().rows(), node_of(leader),
      [this, b, leader, acks] {
        wake_fetchers(leader);  // caught-up followers long-polling here get the new records now
        wake_consumers();       // with no followers to wait for, the high watermark moved
        if (acks == -1) {
          awaiting_hw_.push_back(b);
          check_acks(leader);
        } else if (acks == 0) {
          answer(b, true);
        }
      },
      [this, b, acks] {
        if (acks == 1) answer(b, true);  // the leader's append is done (through the page cache to the disk)
      });
  cluster_.meter().clear();
}

void kafka_model::answer(std::uint32_t b, bool ok) {
  const auto finish = [this, b, ok] {
    batch& bt = batches_[b];
    if (bt.in_flight) --in_flight_[static_cast<std::size_t>(bt.broker)];
    bt.in_flight = false;
    if (!ok && sim_.now() - bt.first_sent + retry_backoff < delivery_timeout) {
      // A retriable error (not the leader, not enough replicas, no answer): the producer
      // refreshes its metadata and sends the batch again to whoever leads now.
      sim_.after(retry_backoff, [this, b] { send_to_leader(b); });
      return;
    }
    for (bool measured : bt.measured) {
      acked_ += measured && ok && bt.acks != 0;
      failed_ += measured && !ok;
    }
    std::vector<done_fn> waiting = std::move(bt.waiting);
    const std::int32_t broker = bt.broker;
    batches_[b] = batch{};
    batches_.release(b);
    for (auto& w : waiting) w();
    // Batches held back by the in-flight limit go now.
    for (auto& [topic, partitions] : open_) {
      for (batch& open : partitions) {
        if (open.records.empty() || in_flight_[static_cast<std::size_t>(broker)] >= max_in_flight) continue;
        if (leader_of(open.topic, open.partition) == broker && !open.linger_armed) send_batch(open);
      }
    }
  };
  if (batches_[b].acks == 0) {
    // Nobody hears back: the request is done when the leader has it (or could not take it).
    for (bool measured : batches_[b].measured) failed_ += measured && !ok;
    batches_[b] = batch{};
    batches_.release(b);
    return;
  }
  resources_->client_send(0, false, node_of(batches_[b].broker), request_bytes, finish, {}, sim::duration{});  // priced with its request
}

void kafka_model::check_acks(std::int32_t leader) {
  std::vector<std::uint32_t> due;
  std::erase_if(awaiting_hw_, [&](std::uint32_t b) {
    const batch& bt = batches_[b];
    if (bt.broker != leader) return false;
    const auto& ps = cluster_.partition(bt.topic, bt.partition);
    if (ps.leader != bt.broker || ps.high_watermark >= bt.end_offset) {
      due.push_back(b);
      return true;
    }
    return false;
  });
  for (std::uint32_t b : due) {
    const batch& bt = batches_[b];
    const auto& ps = cluster_.partition(bt.topic, bt.partition);
    const bool ok = ps.leader == bt.broker;  // a leader that lost its leadership answers NOT_LEADER
    if (ok) cluster_.acknowledge(bt.topic, bt.partition, bt.end_offset);
    answer(b, ok);
  }
}

void kafka_model::fail_acks_of(std::int32_t broker) {
  // The crashed leader never answers; the producer times out and counts the batch failed.
  std::vector<std::uint32_t> lost;
  std::erase_if(awaiting_hw_, [&](std::uint32_t b) {
    if (batches_[b].broker != broker) return false;
    lost.push_back(b);
    return true;
  });
  for (std::uint32_t b : lost) answer(b, false);
}

// --- replica fetchers ----------------------------------------------------------------------------

void kafka_model::fetch_round(std::size_t f) {
  const fetcher& ft = fetchers_[f];
  if (!cluster_.broker_up(ft.follower) || !cluster_.broker_up(ft.leader)) {
    sim_.after(replica_fetch_backoff, [this, f] { fetch_round(f); });
    return;
  }
  resources_->hop(node_of(ft.follower), node_of(ft.leader), request_bytes, [this, f] { fetch_at_leader(f); });
}

void kafka_model::fetch_at_leader(std::size_t f) {
  fetcher& ft = fetchers_[f];
  if (!cluster_.broker_up(ft.follower) || !cluster_.broker_up(ft.leader)) {
    sim_.after(replica_fetch_backoff, [this, f] { fetch_round(f); });
    return;
  }
  check_acks(ft.leader);  // the fetch says how far the follower has got: the high watermark may move
  std::uint64_t bytes = request_bytes;
  for (const auto& t : spec_.topics) {
    for (std::int32_t p = 0; p < cluster_.partitions(t.name); ++p) {
      const auto& ps = cluster_.partition(t.name, p);
      if (ps.leader != ft.leader || std::find(ps.replicas.begin(), ps.replicas.end(), ft.follower) == ps.replicas.end()) continue;
      auto records = cluster_.follower_fetch(t.name, p, ft.follower, replica_fetch_records, now_ms());
      if (!records || records->empty()) continue;
      bytes += records->bytes();
      ft.fetched.push_back({t.name, p, std::move(*records)});
    }
  }
  check_acks(ft.leader);  // a caught-up follower rejoins the ISR
  wake_consumers();       // the high watermark the followers' positions give
  if (ft.fetched.empty()) {
    // Caught up: the fetch waits at the leader for new records, or replica.fetch.wait.max.ms.
    cluster_.meter().clear();
    ft.parked = true;
    ft.timeout = sim_.after(spec_.replica_fetch_wait_max, [this, f] {
      fetchers_[f].parked = false;
      resources_->hop(node_of(fetchers_[f].leader), node_of(fetchers_[f].follower), request_bytes, [this, f] { fetch_round(f); });
    });
    return;
  }
  resources_->charge(cluster_.meter().rows(), node_of(ft.leader), [this, f, bytes] {
    resources_->hop(node_of(fetchers_[f].leader), node_of(fetchers_[f].follower), bytes, [this, f] { fetched_at_follower(f); });
  }, {});
  cluster_.meter().clear();
}

void kafka_model::fetched_at_follower(std::size_t f) {
  fetcher& ft = fetchers_[f];
  auto parts = std::move(ft.fetched);
  ft.fetched.clear();
  if (!cluster_.broker_up(ft.follower)) {
    sim_.after(replica_fetch_backoff, [this, f] { fetch_round(f); });
    return;
  }
  for (auto& part : parts) cluster_.follower_append(part.topic, part.partition, ft.follower, part.records, now_ms());
  resources_->charge(cluster_.meter().rows(), node_of(ft.follower), [this, f] { fetch_round(f); }, {});
  cluster_.meter().clear();
}

void kafka_model::wake_fetchers(std::int32_t leader) {
  for (std::size_t f = 0; f < fetchers_.size(); ++f) {
    fetcher& ft = fetchers_[f];
    if (ft.leader != leader || !ft.parked) continue;
    ft.parked = false;
    sim_.cancel(ft.timeout);
    fetch_at_leader(f);
  }
}

bool kafka_model::fault_resources(const std::string& target, const resource_fault& f) {
  const auto b = broker_index(target, spec_.brokers);
  if (b < 0) return false;
  if (!resources_) return true;
  switch (f.kind) {
    case resource_fault_kind::slow: resources_->slow(node_of(b), f.factor); break;
    case resource_fault_kind::pause: resources_->pause(node_of(b), f.length); break;
    case resource_fault_kind::degrade: resources_->degrade(node_of(b), f); break;
  }
  return true;
}

}  // namespace mqlab::models
