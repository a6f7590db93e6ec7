// Pricing a broker's traffic to its clients: what a node writes to one client soon after its
// last write waits for the node's coalescing window and leaves with it (mqlab broker's server
// holds such writes 100 us), and crosses the link as one write.
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

}  // namespace
}  // namespace mqlab::models
