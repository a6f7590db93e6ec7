// Pricing a broker's traffic: what a node writes to one client soon after its last write waits
// for the node's coalescing window and leaves with it (mqlab broker's server holds such writes
// 100 us), and crosses the link as one write; what a node sends another is read off the peer
// link's socket there, in one read for all that arrived together; a client's requests are read
// off its connection the same way.
#include "models/cluster_resources.h"

#include <gtest/gtest.h>

#include <vector>

namespace mqlab::models {
namespace {

using sim::duration;
using sim::sim_time;

TEST(cluster_resources, writes_to_a_client_within_the_window_of_the_last_one_leave_together) {
  sim::simulator sim;
  cost_model costs;
  costs.node.write_coalescing = duration::microseconds(100);
  costs.node.nic_bandwidth = 0;  // no transmission time: arrivals show when each write left
  costs.client_link = {sim::distribution::constant(0), 0};
  const cost_table table;
  cluster_resources resources(sim, costs, table, 1, sim::random_streams(1), "broker");
  std::vector<sim_time> arrived;
  // At 0 a quiet socket is written at once; 10 and 20 us wait for 100 us; 150 us follows that
  // write within the window (until 200 us); 320 us comes after a quiet 120 us and goes at once.
  for (int at : {0, 10, 20, 150, 320}) {
    sim.at(sim_time(at * 1000), [&] {
      resources.client_send(1, false, broker::node_id{0}, 100, [&] { arrived.push_back(sim.now()); });
    });
  }
  sim.run();
  EXPECT_EQ(arrived, (std::vector<sim_time>{sim_time(0), sim_time(100'000), sim_time(100'000), sim_time(200'000),
                                            sim_time(320'000)}));
}

TEST(cluster_resources, without_a_window_every_message_is_written_at_once) {
  sim::simulator sim;
  cost_model costs;
  costs.node.nic_bandwidth = 0;
  costs.client_link = {sim::distribution::constant(0), 0};
  const cost_table table;
  cluster_resources resources(sim, costs, table, 1, sim::random_streams(1), "broker");
  std::vector<sim_time> arrived;
  for (int at : {0, 10, 20}) {
    sim.at(sim_time(at * 1000), [&] {
      resources.client_send(1, false, broker::node_id{0}, 100, [&] { arrived.push_back(sim.now()); });
    });
  }
  sim.run();
  EXPECT_EQ(arrived, (std::vector<sim_time>{sim_time(0), sim_time(10'000), sim_time(20'000)}));
}

TEST(cluster_resources, a_node_reads_what_another_sends_it_once_for_all_that_arrived_together) {
  sim::simulator sim;
  cost_model costs;
  costs.node.cores = 1;
  costs.node.nic_bandwidth = 0;
  costs.node_link = {sim::distribution::constant(10e-6), 0};
  cost_table table;
  table.ns[static_cast<std::size_t>(broker::work_kind::socket_read)] = 5000;
  cluster_resources resources(sim, costs, table, 2, sim::random_streams(1), "broker");
  resources.start_measuring();
  std::vector<sim_time> taken_in;
  const auto hop_at = [&](int at_us, std::uint32_t from, std::uint32_t to) {
    sim.at(sim_time(at_us * 1000), [&, from, to] {
      resources.hop(broker::node_id{from}, broker::node_id{to}, 100, [&] { taken_in.push_back(sim.now()); });
    });
  };
  // Three arrive at node 1 at 10 us: one read of 5 us takes them in; the fourth, alone at
  // 110 us, is a read of its own. Node 0's read of what node 1 sent it is node 0's work.
  for (int i = 0; i < 3; ++i) hop_at(0, 0, 1);
  hop_at(100, 0, 1);
  hop_at(100, 1, 0);
  sim.run_until(sim_time(200'000));
  EXPECT_EQ(taken_in, (std::vector<sim_time>{sim_time(15'000), sim_time(15'000), sim_time(15'000), sim_time(115'000),
                                             sim_time(115'000)}));
  EXPECT_DOUBLE_EQ(resources.utilization(broker::node_id{1}), 10.0 / 200);
  EXPECT_DOUBLE_EQ(resources.utilization(broker::node_id{0}), 5.0 / 200);
}

TEST(cluster_resources, a_node_reads_a_clients_requests_once_for_all_that_waited_on_its_connection) {
  sim::simulator sim;
  cost_model costs;
  costs.node.cores = 1;
  cost_table table;
  table.ns[static_cast<std::size_t>(broker::work_kind::socket_read)] = 5000;
  cluster_resources resources(sim, costs, table, 1, sim::random_streams(1), "kafka");
  resources.start_measuring();
  std::vector<sim_time> taken_in;
  const auto request_at = [&](int at_us, int client) {
    sim.at(sim_time(at_us * 1000), [&, client] {
      resources.take_in(client, broker::node_id{0}, [&] { taken_in.push_back(sim.now()); });
    });
  };
  // Client 1's first request is read alone (0-5 us); its next two come while that read runs and
  // share one read later. Client 2's, at 2 us, is its connection's own read, queued for the core
  // first (5-10 us: a broker reads each socket apart); then client 1's two together (10-15 us).
  request_at(0, 1);
  request_at(1, 1);
  request_at(2, 1);
  request_at(2, 2);
  sim.run_until(sim_time(100'000));
  EXPECT_EQ(taken_in, (std::vector<sim_time>{sim_time(5'000), sim_time(10'000), sim_time(15'000), sim_time(15'000)}));
  EXPECT_DOUBLE_EQ(resources.utilization(broker::node_id{0}), 15.0 / 100);
}

TEST(cluster_resources, a_hop_is_the_link_alone_when_reads_cost_nothing) {
  sim::simulator sim;
  cost_model costs;
  costs.node.nic_bandwidth = 0;
  costs.node_link = {sim::distribution::constant(10e-6), 0};
  const cost_table table;
  cluster_resources resources(sim, costs, table, 2, sim::random_streams(1), "broker");
  sim_time taken_in;
  resources.hop(broker::node_id{0}, broker::node_id{1}, 100, [&] { taken_in = sim.now(); });
  sim.run();
  EXPECT_EQ(taken_in, sim_time(10'000));
}

// mqlab broker's Kafka server runs every broker on one event-loop thread: work that two
// brokers take in at the same moment is done one after the other, and the thread wakes once.
// As processes of their own, each broker wakes and works at once.
std::vector<sim_time> processed_when_two_nodes_work_at_once(int process_cores) {
  sim::simulator sim;
  cost_model costs;
  costs.node.cores = 1;
  costs.node.wake_up = duration::microseconds(2);
  cost_table table;
  table.ns[static_cast<std::size_t>(broker::work_kind::frame)] = 10'000;
  cluster_resources resources(sim, costs, table, 2, sim::random_streams(1), "kafka", nullptr, process_cores);
  resources.start_measuring();
  std::vector<sim_time> processed;
  for (std::uint32_t n : {0u, 1u}) {
    broker::work_row row{.site = {broker::node_id{n}, 0}};
    row.count[static_cast<std::size_t>(broker::work_kind::frame)] = 1;
    const broker::work_row rows[] = {row};
    resources.charge(rows, broker::node_id{n}, [&] { processed.push_back(sim.now()); }, {});
  }
  sim.run_until(sim_time(100'000));
  // Busy cores: the frames' 20 us and the wake-ups (one for the process, one each otherwise).
  EXPECT_DOUBLE_EQ(resources.busy_cores(), (process_cores > 0 ? 22.0 : 24.0) / 100);
  return processed;
}

TEST(cluster_resources, nodes_of_one_process_share_its_thread) {
  EXPECT_EQ(processed_when_two_nodes_work_at_once(1), (std::vector<sim_time>{sim_time(12'000), sim_time(22'000)}));
  EXPECT_EQ(processed_when_two_nodes_work_at_once(0), (std::vector<sim_time>{sim_time(12'000), sim_time(12'000)}));
}

}  // namespace
}  // namespace mqlab::models
