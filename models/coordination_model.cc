// ZooKeeper clients running the lock and leader-election recipes in virtual time.
#include "models/coordination_model.h"

#include <algorithm>

#include "models/system_model.h"

namespace mqlab::models {

namespace zk = broker::coordination;

coordination_model::coordination_model(sim::simulator& sim, const zookeeper_spec& spec) : sim_(sim), spec_(spec) {
  for (const auto& g : spec.groups) {
    for (int i = 0; i < g.count; ++i) clients_.push_back({.group = &g, .index = i});
  }
}

void coordination_model::start() {
  if (!enabled()) return;
  for (const auto& g : spec_.groups) (void)store_.create(0, "/" + g.name, "", zk::create_mode::persistent);
  for (std::size_t c = 0; c < clients_.size(); ++c) join(c);
  tick();
}

void coordination_model::tick() {
  // The ensemble checks its sessions often compared with their timeout.
  sim_.after(sim::duration(spec_.session_timeout.ns() / 20), [this] {
    expire_sessions();
    tick();
  });
}

void coordination_model::join(std::size_t c) {
  client& cl = clients_[c];
  cl.session = store_.open_session(spec_.session_timeout.ns() / 1'000'000, now_ms());
  cl.session_lost = false;
  const std::uint64_t generation = ++cl.generation;
  auto made = store_.create(cl.session, root_of(cl) + "/n-", "", zk::create_mode::ephemeral_sequential);
  cl.node = made ? *made : "";
  sim_.after(sim::duration(spec_.session_timeout.ns() / 3), [this, c, generation] { ping(c, generation); });
  check(c);
}

void coordination_model::ping(std::size_t c, std::uint64_t generation) {
  client& cl = clients_[c];
  if (!cl.alive || cl.generation != generation) return;
  if (cl.connected && !store_.touch(cl.session, now_ms())) {
    // The ensemble expired the session while the client was away: what it held is gone.
    stop_acting(c);
    join(c);
    return;
  }
  sim_.after(sim::duration(spec_.session_timeout.ns() / 3), [this, c, generation] { ping(c, generation); });
}

void coordination_model::check(std::size_t c) {
  client& cl = clients_[c];
  if (!cl.alive || !cl.connected || cl.node.empty()) return;
  const auto kids = store_.children(root_of(cl));
  if (!kids) return;
  const std::string mine = cl.node.substr(cl.node.rfind('/') + 1);
  const auto at = std::find(kids->begin(), kids->end(), mine);
  if (at == kids->end()) return;  // its node is gone (session expired): it learns at its next ping
  if (at == kids->begin()) {
    acquire(c);
    return;
  }
  // Watch only the node just before its own: no herd when the holder goes.
  if (!store_.exists(root_of(cl) + "/" + *(at - 1), cl.session)) check(c);
}

void coordination_model::acquire(std::size_t c) {
  client& cl = clients_[c];
  if (cl.acting) return;
  tally& t = tally_of(cl);
  ++t.acquisitions;
  if (t.holder_lost) {
    t.failover.record(sim_.now() - *t.holder_lost);
    t.holder_lost.reset();
  }
  const bool another = std::any_of(clients_.begin(), clients_.end(),
                                   [&](const client& o) { return &o != &cl && o.group == cl.group && o.acting; });
  if (another) {
    ++t.overlaps;
    overlap_since_.try_emplace(cl.group->name, sim_.now());
  }
  cl.acting = true;
  if (cl.group->recipe == zk_group_spec::recipe_kind::lock) {
    const std::uint64_t generation = cl.generation;
    sim_.after(cl.group->hold, [this, c, generation] {
      if (clients_[c].generation == generation) release(c);
    });
  }
}

void coordination_model::release(std::size_t c) {
  client& cl = clients_[c];
  stop_acting(c);
  if (!cl.connected) return;  // it cannot delete its node now; the session's end will
  (void)store_.remove(cl.node);
  cl.node.clear();
  dispatch_watches();
  const std::uint64_t generation = cl.generation;
  sim_.after(cl.group->think, [this, c, generation] {
    client& again = clients_[c];
    if (!again.alive || !again.connected || again.generation != generation) return;
    auto made = store_.create(again.session, root_of(again) + "/n-", "", zk::create_mode::ephemeral_sequential);
    again.node = made ? *made : "";
    check(c);
  });
}

void coordination_model::stop_acting(std::size_t c) {
  client& cl = clients_[c];
  if (!cl.acting) return;
  cl.acting = false;
  const auto acting = std::count_if(clients_.begin(), clients_.end(), [&](const client& o) { return o.group == cl.group && o.acting; });
  const auto since = overlap_since_.find(cl.group->name);
  if (since != overlap_since_.end() && acting <= 1) {
    tally_of(cl).overlap_seconds += (sim_.now() - since->second).seconds();
    overlap_since_.erase(since);
  }
}

void coordination_model::expire_sessions() {
  store_.advance(now_ms());
  for (client& cl : clients_) {
    if (!cl.session_lost && !store_.session_alive(cl.session)) {
      ++expired_;
      cl.session_lost = true;
    }
  }
  dispatch_watches();
}

void coordination_model::dispatch_watches() {
  for (const zk::watch_event& e : store_.take_events()) {
    for (std::size_t c = 0; c < clients_.size(); ++c) {
      if (clients_[c].session == e.session) check(c);
    }
  }
}

std::size_t coordination_model::find(const std::string& group, int index) const {
  for (std::size_t c = 0; c < clients_.size(); ++c) {
    if (clients_[c].group->name == group && clients_[c].index == index) return c;
  }
  return clients_.size();
}

bool coordination_model::kill(const std::string& group, int index) {
  const std::size_t c = find(group, index);
  if (c == clients_.size()) return false;
  client& cl = clients_[c];
  if (cl.acting) tally_of(cl).holder_lost = sim_.now();
  stop_acting(c);  // a dead process acts no more; its session lives on until the timeout
  cl.alive = false;
  ++cl.generation;
  return true;
}

bool coordination_model::disconnect(const std::string& group, int index, sim::duration length) {
  const std::size_t c = find(group, index);
  if (c == clients_.size()) return false;
  client& cl = clients_[c];
  if (!cl.alive) return true;
  if (cl.acting) tally_of(cl).holder_lost = sim_.now();
  cl.connected = false;
  // The client hears nothing for two thirds of the session timeout and calls itself
  // disconnected (SUSPENDED): a careful recipe stops acting then.
  sim_.after(sim::duration(spec_.session_timeout.ns() * 2 / 3), [this, c] {
    if (!clients_[c].connected && clients_[c].group->stop_on_disconnect) stop_acting(c);
  });
  sim_.after(length, [this, c] {
    client& back = clients_[c];
    if (!back.alive) return;
    back.connected = true;
    if (!store_.touch(back.session, now_ms())) {
      stop_acting(c);  // the session expired meanwhile: now it knows
      join(c);
    } else {
      check(c);  // a watch that fired while it was away
    }
  });
  return true;
}

void coordination_model::collect(std::map<std::string, double>& v) const {
  if (!enabled()) return;
  for (const auto& g : spec_.groups) {
    const auto it = tallies_.find(g.name);
    const tally t = it == tallies_.end() ? tally{} : it->second;
    double overlap = t.overlap_seconds;
    if (const auto since = overlap_since_.find(g.name); since != overlap_since_.end()) overlap += (sim_.now() - since->second).seconds();
    const std::string base = "zk." + g.name;
    v[base + ".acquisitions"] = static_cast<double>(t.acquisitions);
    v[base + ".overlaps"] = static_cast<double>(t.overlaps);
    v[base + ".overlap_time"] = overlap;
    put_latency(v, base + ".failover", t.failover);
  }
  v["zk.sessions_expired"] = static_cast<double>(expired_);
}

}  // namespace mqlab::models
