// Pricing a core call: the calling channel's process, then owners and their mirrors in
// parallel, each on the resources of its own node. Calls live in a pool so that a steady
// stream of them allocates nothing once the pool has grown.
#include "models/cluster_resources.h"

#include <fmt/format.h>

namespace mqlab::models {

namespace {

constexpr std::uint64_t channel_bit = std::uint64_t{1} << 63;
constexpr std::uint64_t peer_bit = std::uint64_t{1} << 62;  // | the sending node: a peer link's reader
constexpr std::uint64_t connection_bit = std::uint64_t{1} << 61;  // | the client: its connection's reader
constexpr std::uint32_t control_bytes = 64;  // an ack, a confirm, a mirror's answer on the wire

sim::duration ns(double v) { return sim::duration(static_cast<std::int64_t>(v)); }

}  // namespace

double cost_table::price(const broker::work_row& row) const {
  double total = 0;
  for (std::size_t k = 0; k < broker::work_kinds; ++k) total += ns[k] * row.count[k];
  return total;
}

cluster_resources::cluster_resources(sim::simulator& sim, const cost_model& costs, const cost_table& table,
                                     std::uint32_t nodes, const sim::random_streams& streams, const std::string& name,
                                     cpu_pool* host, int process_cores)
    : sim_(sim), costs_(costs), table_(table), streams_(streams), name_(name) {
  nodes = std::max(nodes, 1u);
  if (process_cores > 0) process_ = std::make_unique<cpu_pool>(sim, process_cores, host, costs.of(0).wake_up);
  for (std::uint32_t n = 0; n < nodes; ++n) {
    node nd;
    const node_resources& own = costs.of(n);
    nd.cpu = process_ ? std::make_unique<cpu_pool>(sim, own.cores, process_.get())
                      : std::make_unique<cpu_pool>(sim, own.cores, host, own.wake_up);
    nd.store = std::make_unique<disk>(sim, own.disk, streams.stream(fmt::format("{}-disk-{}", name, n)));
    nd.nic = std::make_unique<link>(sim, link_config{sim::distribution::constant(0), own.nic_bandwidth},
                                    streams.stream(fmt::format("{}-nic-{}", name, n)));
    nodes_.push_back(std::move(nd));
  }
  for (std::uint32_t a = 0; a < nodes; ++a) {
    for (std::uint32_t b = 0; b < nodes; ++b) {
      links_.push_back(std::make_unique<link>(sim, costs.node_link, streams.stream(fmt::format("{}-link-{}-{}", name, a, b))));
    }
  }
  if (costs.clients.cores > 0) {
    clients_ = std::make_unique<client_host>(sim, costs.clients, streams.stream(fmt::format("{}-clients", name)), host);
  }
}

serial_process& cluster_resources::process(broker::node_id n, std::uint64_t id) {
  auto& slot = nodes_[n.value].processes[id];
  if (!slot) {
    // A channel is its client connection's: what the client sends it is taken in by socket
    // reads, as what another node sends is by its peer link's reader.
    const sim::duration read = id & (channel_bit | peer_bit | connection_bit) ? socket_read() : sim::duration{};
    slot = std::make_unique<serial_process>(*nodes_[n.value].cpu, read);
  }
  return *slot;
}

void cluster_resources::run_on(broker::node_id n, std::uint64_t id, sim::duration work, done_fn done) {
  if (id == 0) nodes_[n.value].cpu->submit(work, std::move(done));
  else process(n, id).submit(work, std::move(done));
}

link& cluster_resources::between(broker::node_id a, broker::node_id b) {
  return *links_[a.value * nodes_.size() + b.value];
}

void cluster_resources::hop(broker::node_id from, broker::node_id to, std::uint64_t bytes, done_fn done) {
  if (from == to) {
    done();
    return;
  }
  const sim::sim_time out = nodes_[from.value].nic->transmit(bytes);
  if (socket_read() == sim::duration{}) {
    between(from, to).send(bytes, std::move(done), out);
    return;
  }
  // The receiving node's event loop reads it off the link's socket, taking in at once all that
  // arrived while it waited for a core.
  between(from, to).send(bytes, [this, from, to, done = std::move(done)]() mutable {
    process(to, peer_bit | from.value).submit(sim::duration{}, std::move(done), true);
  }, out);
}

void cluster_resources::take_in(int client, broker::node_id node, done_fn done) {
  if (socket_read() == sim::duration{}) {
    done();
    return;
  }
  process(node, connection_bit | static_cast<std::uint64_t>(client)).submit(sim::duration{}, std::move(done), true);
}

void cluster_resources::client_request(int client, broker::node_id node, std::uint64_t bytes, done_fn arrived,
                                       sim::duration work) {
  client_send(client, true, node, bytes, [this, client, node, arrived = std::move(arrived)]() mutable {
    take_in(client, node, std::move(arrived));
  }, {}, work);
}

sim::duration cluster_resources::socket_read() const {
  return ns(table_.ns[static_cast<std::size_t>(broker::work_kind::socket_read)]);
}

link& cluster_resources::client_link(int client, bool up) {
  const std::size_t i = 2 * static_cast<std::size_t>(client) + (up ? 0 : 1);
  while (client_links_.size() <= i) {
    const std::size_t k = client_links_.size();
    client_links_.push_back(std::make_unique<link>(
        sim_, costs_.client_link, streams_.stream(fmt::format("{}-client-{}-{}", name_, k / 2, k % 2 ? "down" : "up"))));
  }
  return *client_links_[i];
}

sim::duration cluster_resources::kafka_client_work(std::size_t records) const {
  return costs_.clients.kafka_request + kafka_record_share() * static_cast<std::int64_t>(records);
}

void cluster_resources::client_work(int client, sim::duration work) {
  if (clients_) clients_->run(work, client == 0, [] {});
}

void cluster_resources::client_send(int client, bool up, broker::node_id node, std::uint64_t bytes, done_fn done,
                                    done_fn written, std::optional<sim::duration> work) {
  if (clients_ && up) {
    // Client 0 is every model's producer: its sends are the ones it schedules itself.
    clients_->run(work.value_or(costs_.clients.send), client == 0,
                  [this, client, bytes, done = std::move(done), written = std::move(written)]() mutable {
                    clients_->write(client, [this, client, bytes, done = std::move(done), written = std::move(written)]() mutable {
                      if (written) written();
                      client_link(client, true).send(bytes, std::move(done), sim_.now());
                    });
                  });
    return;
  }
  if (written) written();
  if (up) {
    client_link(client, true).send(bytes, std::move(done), sim_.now());
    return;
  }
  if (clients_) {
    write_down(client, node, bytes, [this, client, done = std::move(done), w = work.value_or(costs_.clients.receive)]() mutable {
      clients_->receive(client, w, std::move(done));
    });
    return;
  }
  write_down(client, node, bytes, std::move(done));
}

void cluster_resources::write_down(int client, broker::node_id node, std::uint64_t bytes, done_fn arrived) {
  const sim::duration window = costs_.of(node.value).write_coalescing;
  if (window == sim::duration{}) {
    send_down(client, node, bytes, std::move(arrived));
    return;
  }
  if (outboxes_.size() <= static_cast<std::size_t>(client)) outboxes_.resize(static_cast<std::size_t>(client) + 1);
  outbox& o = outboxes_[static_cast<std::size_t>(client)];
  o.held.push_back(std::move(arrived));
  o.bytes += bytes;
  if (o.holding) return;
  o.holding = true;
  if (!o.written || sim_.now() - o.last_write >= window) release_held(client, node);
  else sim_.at(o.last_write + window, [this, client, node] { release_held(client, node); });
}

void cluster_resources::release_held(int client, broker::node_id node) {
  outbox& o = outboxes_[static_cast<std::size_t>(client)];
  o.holding = false;
  o.written = true;
  o.last_write = sim_.now();
  const std::uint64_t bytes = std::exchange(o.bytes, 0);
  // One write: its messages cross together and arrive at one instant.
  send_down(client, node, bytes, [held = std::exchange(o.held, {})]() mutable {
    for (auto& arrived : held) arrived();
  });
}

void cluster_resources::send_down(int client, broker::node_id node, std::uint64_t bytes, done_fn arrived) {
  client_link(client, false).send(bytes, std::move(arrived), nodes_[node.value].nic->transmit(bytes));
}

void cluster_resources::degrade_client(int client, const resource_fault& f) {
  client_link(client, true).degrade(f.latency, f.bandwidth);
  client_link(client, false).degrade(f.latency, f.bandwidth);
}

void cluster_resources::charge(std::span<const broker::work_row> rows, broker::node_id origin, done_fn processed,
                               done_fn settled) {
  const std::uint32_t c = calls_.acquire();  // a reused call keeps its parts' capacity
  call& cl = calls_[c];
  cl.parts.clear();
  cl.processed = std::move(processed);
  cl.settled = std::move(settled);
  cl.origin = origin;
  sim::duration channel_work;
  std::uint64_t channel = 0;
  for (const auto& row : rows) {
    const sim::duration work = ns(table_.price(row));
    // The first channel charged is the caller's: its work comes first, on the origin. Other
    // channels (consumers being delivered to) are processes like queues.
    if (row.site.process & channel_bit && (channel == 0 || channel == row.site.process)) {
      channel = row.site.process;
      channel_work += work;
      continue;
    }
    const bool mirror = row[broker::work_kind::enqueue] + row[broker::work_kind::deliver] + row[broker::work_kind::ack] == 0 &&
                        row[broker::work_kind::mirror_copy] + row[broker::work_kind::mirror_settle] > 0;
    cl.parts.push_back({row.site.node, row.site.process, work, row[broker::work_kind::bytes],
                        row[broker::work_kind::persist_bytes], row[broker::work_kind::fsync_request] > 0, mirror, origin});
  }
  // A mirror takes its copy from the owner of the same queue, once the owner has processed it.
  for (auto& m : cl.parts) {
    if (!m.mirror) continue;
    for (const auto& o : cl.parts) {
      if (o.mirror || o.process != m.process) continue;
      m.owner = o.node;
      m.follows_owner = true;
    }
  }
  cl.unprocessed = cl.unsettled = 1;  // the call itself, released once every part has started
  if (channel != 0) {
    process(origin, channel).submit(channel_work, [this, c, origin] { run_parts(c, origin); }, true);
  } else {
    run_parts(c, origin);
  }
}

void cluster_resources::run_parts(std::uint32_t c, broker::node_id origin) {
  for (std::size_t p = 0; p < calls_[c].parts.size(); ++p) {
    const part& pt = calls_[c].parts[p];
    if (pt.mirror) {
      // Mirrors whose owner is in this call start when the owner is done (run_owner); a
      // replicated settlement with no owner work here leaves from the origin.
      if (!pt.follows_owner) run_mirror(c, p);
      continue;
    }
    run_owner(c, p, origin);
  }
  part_processed(c);
  part_settled(c);
}

void cluster_resources::run_owner(std::uint32_t c, std::size_t p, broker::node_id origin) {
  ++calls_[c].unprocessed;
  ++calls_[c].unsettled;
  // Closures carry the call and the part's index, small enough to stay inline in an event.
  const part& pt = calls_[c].parts[p];
  hop(origin, pt.node, pt.bytes + control_bytes, [this, c, p] {
    const part& at = calls_[c].parts[p];
    run_on(at.node, at.process, at.work, [this, c, p] {
      const part& done = calls_[c].parts[p];
      for (std::size_t m = 0; m < calls_[c].parts.size(); ++m) {
        if (calls_[c].parts[m].mirror && calls_[c].parts[m].process == done.process) run_mirror(c, m);
      }
      part_processed(c);
      const part& written = calls_[c].parts[p];
      if (written.persist_bytes > 0 || written.sync) {
        nodes_[written.node.value].store->write(written.persist_bytes, written.sync, [this, c] { part_settled(c); });
      } else {
        part_settled(c);
      }
    });
  });
}

void cluster_resources::run_mirror(std::uint32_t c, std::size_t m) {
  ++calls_[c].unsettled;
  const part& mp = calls_[c].parts[m];
  hop(mp.owner, mp.node, mp.bytes + control_bytes, [this, c, m] {
    const part& at = calls_[c].parts[m];
    run_on(at.node, at.process, at.work, [this, c, m] {
      const part& taken = calls_[c].parts[m];
      const auto answer = [this, c, m] {
        const part& back = calls_[c].parts[m];
        hop(back.node, back.owner, control_bytes, [this, c] { part_settled(c); });
      };
      if (taken.persist_bytes > 0 || taken.sync) nodes_[taken.node.value].store->write(taken.persist_bytes, taken.sync, answer);
      else answer();
    });
  });
}

void cluster_resources::part_processed(std::uint32_t c) {
  if (--calls_[c].unprocessed == 0) {
    done_fn d = std::move(calls_[c].processed);
    if (d) d();
  }
}

void cluster_resources::part_settled(std::uint32_t c) {
  // Every part settles after it is processed, so a settled call is a processed one.
  call& cl = calls_[c];
  if (--cl.unsettled > 0) return;
  done_fn d = std::move(cl.settled);
  const broker::node_id origin = cl.origin;
  // The owner that did the work answers the node the call came from (a forwarded publish's confirm).
  broker::node_id from = origin;
  for (const auto& pt : cl.parts) {
    if (!pt.mirror && pt.node != origin) from = pt.node;
  }
  calls_.release(c);
  if (!d) return;
  hop(from, origin, control_bytes, std::move(d));
}

void cluster_resources::slow(broker::node_id n, double factor) { nodes_[n.value].cpu->slow(factor); }

void cluster_resources::pause(broker::node_id n, sim::duration length) {
  nodes_[n.value].cpu->pause_until(sim_.now() + length);
}

void cluster_resources::degrade(broker::node_id n, const resource_fault& f) {
  for (std::uint32_t o = 0; o < nodes_.size(); ++o) {
    if (o == n.value) continue;
    between(n, {o}).degrade(f.latency, f.bandwidth);
    between({o}, n).degrade(f.latency, f.bandwidth);
  }
}

void cluster_resources::start_measuring() {
  for (auto& n : nodes_) {
    n.cpu->start_measuring();
    n.store->start_measuring();
  }
  if (clients_) clients_->start_measuring();
  if (process_) process_->start_measuring();
}

std::optional<double> cluster_resources::client_utilization() const {
  return clients_ ? std::optional<double>(clients_->utilization()) : std::nullopt;
}

double cluster_resources::utilization(broker::node_id n) const { return nodes_[n.value].cpu->utilization(); }

double cluster_resources::busy_cores() const {
  // One process's threads: their wake-ups are the process's, not any node's.
  if (process_) return process_->utilization() * process_->cores();
  double busy = 0;
  for (const auto& n : nodes_) busy += n.cpu->utilization() * n.cpu->cores();
  return busy;
}

double cluster_resources::disk_utilization(broker::node_id n) const { return nodes_[n.value].store->sync_utilization(); }

}  // namespace mqlab::models
