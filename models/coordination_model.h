// ZooKeeper in a scenario: groups of clients that elect a leader or take turns holding a lock
// with the seed's recipe (an ephemeral sequential node each; the lowest holds; the others
// watch the node just before their own), on the coordination store in virtual time. A client
// keeps its session alive with pings every third of the session timeout; one that dies or
// loses its connection stops pinging, and the ensemble expires its session (and its nodes)
// once the timeout has passed. A disconnected client notices after two thirds of the timeout
// and, by the recipe's rule, stops acting as holder (Curator's SUSPENDED); a careless one
// (`on_disconnect: ignore`) keeps acting, so two clients may act as holder at once.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/coordination/store.h"
#include "models/system.h"
#include "sim/histogram.h"
#include "sim/simulator.h"

namespace mqlab::models {

class coordination_model {
 public:
  /// `sim` and `spec` must outlive the model.
  coordination_model(sim::simulator& sim, const zookeeper_spec& spec);

  bool enabled() const { return !spec_.groups.empty(); }
  void start();
  /// Client `index` of `group` dies; false if no such group.
  bool kill(const std::string& group, int index);
  /// Client `index` of `group` cannot reach the ensemble for `length`; false if no such group.
  bool disconnect(const std::string& group, int index, sim::duration length);
  /// zk.<group>.acquisitions, .overlaps, .overlap_time, .failover.* and zk.sessions_expired,
  /// counted from the start of the run.
  void collect(std::map<std::string, double>& v) const;

 private:
  struct client {
    const zk_group_spec* group = nullptr;
    int index = 0;
    broker::coordination::session_id session = 0;
    std::string node;              // its ephemeral sequential node, or ""
    bool alive = true, connected = true;
    bool acting = false;           // it believes it holds (and acts as leader / lock holder)
    bool session_lost = false;     // the ensemble ended its session (it learns at its next ping)
    std::uint64_t generation = 0;  // bumped when its session or node changes: stale timers are void
  };
  struct tally {
    std::uint64_t acquisitions = 0, overlaps = 0;
    double overlap_seconds = 0;
    std::optional<sim::sim_time> holder_lost;  // when the acting holder died or was cut off
    sim::histogram failover;                   // from then to the next acquisition
  };
  std::int64_t now_ms() const { return sim_.now().ns() / 1'000'000; }
  std::string root_of(const client& c) const { return "/" + c.group->name; }
  void join(std::size_t c);
  void ping(std::size_t c, std::uint64_t generation);
  /// The recipe's check: the lowest node holds; otherwise watch the one before.
  void check(std::size_t c);
  void acquire(std::size_t c);
  void release(std::size_t c);
  void stop_acting(std::size_t c);
  void tick();
  void expire_sessions();
  void dispatch_watches();
  std::size_t find(const std::string& group, int index) const;
  tally& tally_of(const client& c) { return tallies_[c.group->name]; }

  sim::simulator& sim_;
  const zookeeper_spec& spec_;
  broker::coordination::store store_;
  std::vector<client> clients_;
  std::map<std::string, tally> tallies_;
  std::map<std::string, sim::sim_time> overlap_since_;  // per group: when a second holder began acting
  std::uint64_t expired_ = 0;
};

}  // namespace mqlab::models
