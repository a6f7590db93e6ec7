// The resources of a simulated broker cluster and the pricing of the core's work on them
// (SPEC §4.1, "price, then wait"). Each node has a CPU pool, a disk and a NIC; each queue,
// channel or partition the core names is a serialising process on its node; nodes reach each
// other and their clients over links, one per direction. A core call is charged as the real
// broker would do it: the calling channel's process first (frame, routing), then each queue's
// process on its owner (after a hop when the owner is another node) and each consumer channel a
// delivery is framed on, then the owner's disk for persistent messages and the mirrors' round
// trips.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker/work.h"
#include "models/resources.h"
#include "models/slot_pool.h"
#include "models/system.h"
#include "sim/random.h"
#include "sim/simulator.h"

namespace mqlab::models {

class cluster_resources {
 public:
  /// `sim` and `costs` must outlive it; `table` prices this broker's work kinds; `name` keeps
  /// the random streams of two brokers of one system apart. With a `host` (costs.host_cores),
  /// every node and the client host run on its cores; it must outlive them. `process_cores` > 0:
  /// the nodes are one process on that many cores (on the host, if any), whose threads wake for
  /// work (node 0's `wake_up`) rather than each node's.
  cluster_resources(sim::simulator& sim, const cost_model& costs, const cost_table& table, std::uint32_t nodes,
                    const sim::random_streams& streams, const std::string& name, cpu_pool* host = nullptr,
                    int process_cores = 0);

  /// Prices the rows of one core call made at `origin`. `processed` runs once every process
  /// the call touched has done its part (deliveries may leave then); `settled` once disk
  /// writes and mirror copies are done too and, when the work was on another node, its answer
  /// is back at `origin` (publisher confirms may leave then).
  void charge(std::span<const broker::work_row> rows, broker::node_id origin, done_fn processed, done_fn settled);

  /// Sends `bytes` from node `from` to node `to` (at once when they are the same node); `to`
  /// reads it off the link's socket (work kind socket_read, once for all that waited for it).
  void hop(broker::node_id from, broker::node_id to, std::uint64_t bytes, done_fn done);
  /// Node `node` reads a request client `client` sent it off that connection's socket (work
  /// kind socket_read, once for all that arrived while it waited for a core), then `done`; at
  /// once when this broker's table prices no read. For protocols whose core charges no channel
  /// (Kafka: a request's work is its partitions').
  void take_in(int client, broker::node_id node, done_fn done);
  /// Client `client`'s request of `bytes` to node `node`: sent up its link (client_send, with
  /// `work` of the client's CPU), then taken in there (take_in), then `arrived`.
  void client_request(int client, broker::node_id node, std::uint64_t bytes, done_fn arrived, sim::duration work);
  /// Client `client`'s link to its node (`up`) or back (`!up`); clients are numbered by the
  /// model, the producer first. With a client host, a message sent is first its work there, a
  /// message received its work there after the link.
  /// `written` runs once the client has written it (at once without a client host). `work`:
  /// the client's CPU for it, if not the client host's `send` or `receive`.
  void client_send(int client, bool up, broker::node_id node, std::uint64_t bytes, done_fn done, done_fn written = {},
                   std::optional<sim::duration> work = {});
  /// What a Kafka client spends on a request carrying `records` (see client_host_config).
  sim::duration kafka_client_work(std::size_t records) const;
  /// A record's share of a Kafka client's CPU at either end: half of `kafka.record`.
  sim::duration kafka_record_share() const { return sim::duration(costs_.clients.kafka_record.ns() / 2); }
  /// Client `client` spends `work` of CPU on its host with nothing sent (a Kafka producer's
  /// send call, which only adds the record to a batch); nothing without a client host.
  void client_work(int client, sim::duration work);

  void slow(broker::node_id node, double factor);
  void pause(broker::node_id node, sim::duration length);
  /// Every link between `node` and another node takes the fault's latency and bandwidth from now on.
  void degrade(broker::node_id node, const resource_fault& f);
  /// Both directions of client `client`'s link take the fault's latency and bandwidth from now on.
  void degrade_client(int client, const resource_fault& f);

  void start_measuring();
  double utilization(broker::node_id node) const;
  /// Busy cores summed over the nodes (or the nodes' one process): what net mode measures of
  /// its server threads.
  double busy_cores() const;
  /// The client host's busy share, when there is one.
  std::optional<double> client_utilization() const;
  /// The share of the time its disk spent in fsync.
  double disk_utilization(broker::node_id node) const;
  std::uint32_t nodes() const { return static_cast<std::uint32_t>(nodes_.size()); }

 private:
  struct node {
    std::unique_ptr<cpu_pool> cpu;
    std::unique_ptr<disk> store;
    std::unique_ptr<link> nic;
    std::unordered_map<std::uint64_t, std::unique_ptr<serial_process>> processes;
  };
  /// One owner or mirror part of a call, priced.
  struct part {
    broker::node_id node;
    std::uint64_t process = 0;
    sim::duration work;
    std::uint32_t bytes = 0, persist_bytes = 0;
    bool sync = false;
    bool mirror = false;
    broker::node_id owner;       // mirrors: where the copy comes from
    bool follows_owner = false;  // mirrors: the owner's part is in the same call and starts it
  };
  struct call {
    std::vector<part> parts;
    int unprocessed = 0, unsettled = 0;
    done_fn processed, settled;
    broker::node_id origin;
  };
  serial_process& process(broker::node_id n, std::uint64_t id);
  sim::duration socket_read() const;
  /// Runs `work` on process `id` of node `n`, or on the node's shared CPU for id 0.
  void run_on(broker::node_id n, std::uint64_t id, sim::duration work, done_fn done);
  void run_parts(std::uint32_t c, broker::node_id origin);
  void run_owner(std::uint32_t c, std::size_t p, broker::node_id origin);
  void run_mirror(std::uint32_t c, std::size_t m);
  void part_processed(std::uint32_t c);
  void part_settled(std::uint32_t c);
  link& between(broker::node_id a, broker::node_id b);
  link& client_link(int client, bool up);
  /// What a node writes to client `client` (`arrived` runs when it gets there), held for the
  /// node's write_coalescing after the last write.
  void write_down(int client, broker::node_id node, std::uint64_t bytes, done_fn arrived);
  void release_held(int client, broker::node_id node);
  /// One write of node `node` to client `client`: through the node's NIC, then down the link.
  void send_down(int client, broker::node_id node, std::uint64_t bytes, done_fn arrived);
  /// Writes to one client held together.
  struct outbox {
    sim::sim_time last_write;
    bool written = false, holding = false;
    std::uint64_t bytes = 0;
    std::vector<done_fn> held;
  };

  sim::simulator& sim_;
  const cost_model& costs_;
  const cost_table& table_;
  std::unique_ptr<cpu_pool> process_;  // the nodes' one process, when they share one
  std::vector<node> nodes_;
  std::vector<std::unique_ptr<link>> links_;  // [from * nodes + to]
  std::vector<std::unique_ptr<link>> client_links_;  // [2 * client + (up ? 0 : 1)]
  std::unique_ptr<client_host> clients_;              // when the profile gives the clients a host
  std::vector<outbox> outboxes_;                      // [client]
  sim::random_streams streams_;
  std::string name_;
  slot_pool<call> calls_;
};

}  // namespace mqlab::models
