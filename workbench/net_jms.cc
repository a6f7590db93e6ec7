// The real JMS side: the JMS core behind a STOMP server on its own event loop, and STOMP clients
// read by the simulation thread at pump(), when the model's clock has caught up with the wall.
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include "workbench/net_jms.h"

#include <chrono>
#include <deque>
#include <map>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "models/jms_model.h"
#include "models/measured_cpu.h"
#include "net/log.h"
#include "net/loop_thread.h"
#include "net/stomp/client.h"
#include "net/stomp/connection.h"
#include "net/stomp/server.h"

namespace mqlab::workbench {
namespace {

namespace jms = broker::jms;
namespace stomp = net::stomp;

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

/// The JMS core behind its STOMP listener, on a thread of its own; everything touching the core runs there.
class server_thread : public net::loop_thread {
 public:
  server_thread() : service_(core_), server_(io(), service_, {.bind = "127.0.0.1", .port = 0}) {
    if (auto ok = server_.start(); !ok) throw std::runtime_error("net mode: STOMP server: " + ok.error());
    start();
  }
  ~server_thread() { stop(); }
  void stop() { net::loop_thread::stop([this] { server_.stop(); }); }
  std::uint16_t port() const { return server_.port(); }
  const jms::broker& core() const { return core_; }

 private:
  jms::broker core_;
  stomp::service service_;
  stomp::server server_;
};

class net_jms final : public models::jms_side {
 public:
  net_jms(sim::simulator& sim, const models::jms_spec& spec, const sim::random_streams& streams)
      : sim_(sim), spec_(spec), tally_(spec, streams.stream("jms-keys")) {
    for (const auto& c : spec.consumers) {
      for (int i = 0; i < c.count; ++i) {
        members_.push_back(member{.spec = &c, .index = i, .service_rng = streams.stream(fmt::format("jms-{}-{}", c.name, i))});
      }
    }
    auto producer = stomp::client::connect(server_.port());
    if (!producer) throw std::runtime_error("net mode: STOMP producer: " + producer.error());
    producer_ = std::move(*producer);
  }
  ~net_jms() override {
    producer_.reset();
    for (auto& m : members_) m.conn.reset();
    server_.stop();
  }

  bool enabled() const override { return spec_.enabled || tally_.sent_any(); }

  void start() override {
    for (std::size_t m = 0; m < members_.size(); ++m) {
      connect(m);
      const models::jms_consumer_spec& c = *members_[m].spec;
      if (c.offline_from) sim_.at(sim::sim_time() + *c.offline_from, [this, m] { disconnect(m); });
      if (c.offline_until) sim_.at(sim::sim_time() + *c.offline_until, [this, m] { connect(m); });
    }
  }

  void send(const models::send_step& step, sim::sim_time created, bool measured, models::done_fn answered) override {
    if (!producer_) throw std::runtime_error("net mode: the STOMP producer's connection is gone");
    stomp::frame f{"SEND", {{"destination", stomp::stomp_name({step.kind, step.destination})}}, {}};
    auto next = tally_.next(step, created, measured);
    f.body = std::move(next.body);
    f.add("content-length", std::to_string(f.body.size()));
    if (!next.group.empty()) f.add("JMSXGroupID", next.group);
    if (step.persistent) f.add("persistent", "true");
    f.add("priority", std::to_string(step.priority));
    if (step.time_to_live_ms > 0) f.add("expires", std::to_string(wall_ms() + step.time_to_live_ms));
    if (step.persistent) {
      // ActiveMQ sends persistent messages synchronously: the producer waits for the broker.
      const std::uint64_t id = next_receipt_++;
      f.add("receipt", std::to_string(id));
      receipts_.emplace(id, std::move(answered));
    }
    producer_->queue(f);
    if (!producer_->flush()) throw std::runtime_error("net mode: the STOMP server closed the producer's connection");
    // Written: the send is done, at the next look at the clock rather than at the moment the
    // scenario scheduled it.
    if (!step.persistent) written_.push_back(std::move(answered));
  }

  void start_measuring() override {
    tally_.start_measuring(totals());
    cpu_.start({server_.cpu_seconds()});
  }

  std::int64_t backlog() const override { return server_.call([this] { return tally_.backlog(server_.core()); }); }

  void pump() override {
    for (auto& answered : std::exchange(written_, {})) answered();
    while (auto f = read(producer_, "producer")) {
      if (f->command != "RECEIPT") continue;
      const auto it = receipts_.find(std::stoull(std::string(f->get("receipt-id").value_or("0"))));
      if (it == receipts_.end()) continue;
      auto answered = std::move(it->second);
      receipts_.erase(it);
      answered();
    }
    for (std::size_t m = 0; m < members_.size(); ++m) {
      member& mb = members_[m];
      while (mb.conn) {
        auto f = read(mb.conn, mb.spec->name);
        if (!f) break;
        if (f->command != "MESSAGE") continue;
        mb.inbox.push_back(std::move(*f));
        if (!mb.busy) work(m);
      }
    }
  }

  void collect(std::map<std::string, double>& v, sim::histogram& e2e) const override {
    if (!enabled()) return;
    tally_.collect(v, e2e, backlog(), totals());
    v["servers.cpu"] += cpu_.cores(std::vector{server_.cpu_seconds()}).at(0);
  }

 private:
  struct member {
    const models::jms_consumer_spec* spec = nullptr;
    int index = 0;
    std::unique_ptr<stomp::client> conn;  // none while offline
    std::uint64_t generation = 0;         // connections opened so far
    bool busy = false;
    std::deque<stomp::frame> inbox;       // delivered, not yet worked on
    sim::rng service_rng;
    std::uint64_t transactions = 0;
  };

  jms::destination_stats totals() const {
    return server_.call([this] { return tally_.totals(server_.core()); });
  }

  /// The next frame a client has already received, or nullopt; a broken connection is logged
  /// once and dropped (a consumer member is then offline; the next send finds no producer).
  std::optional<stomp::frame> read(std::unique_ptr<stomp::client>& c, std::string_view who) {
    if (!c) return std::nullopt;
    auto f = c->next(std::chrono::milliseconds(0));
    if (!f) {
      net::log(net::log_level::warn, "net mode: STOMP {}: {}", who, f.error());
      c.reset();
      return std::nullopt;
    }
    if (*f && (*f)->command == "ERROR") {
      net::log(net::log_level::warn, "net mode: STOMP {}: ERROR {}", who, (*f)->get("message").value_or(""));
    }
    return std::move(*f);
  }

  void connect(std::size_t m) {
    member& mb = members_[m];
    const models::jms_consumer_spec& c = *mb.spec;
    std::vector<stomp::header> hello;
    if (const std::string id = models::client_id_of(c, mb.index); !id.empty()) hello.push_back({"client-id", id});
    auto conn = stomp::client::connect(server_.port(), std::move(hello));
    if (!conn) throw std::runtime_error(fmt::format("net mode: STOMP consumer {}: {}", c.name, conn.error()));
    stomp::frame sub{"SUBSCRIBE", {{"id", "s"}, {"destination", stomp::stomp_name({c.kind, c.destination})}}, {}};
    // Acknowledged after the work, as JMS's AUTO_ACKNOWLEDGE acknowledges when onMessage returns.
    sub.add("ack", c.ack == jms::ack_mode::client_acknowledge ? "client" : "client-individual");
    if (!c.selector.empty()) sub.add("selector", c.selector);
    if (!c.subscription.empty()) sub.add("activemq.subscriptionName", c.subscription);
    if (c.prefetch) sub.add("activemq.prefetchSize", std::to_string(*c.prefetch));
    (*conn)->queue(sub);
    (*conn)->flush();
    mb.conn = std::move(*conn);
    ++mb.generation;
  }

  void disconnect(std::size_t m) {
    member& mb = members_[m];
    mb.inbox.clear();  // delivered but unacknowledged: the broker returns them when the socket closes
    mb.conn.reset();
  }

  void work(std::size_t m) {
    member& mb = members_[m];
    if (mb.inbox.empty() || !mb.conn) {
      mb.busy = false;
      return;
    }
    mb.busy = true;
    sim_.after(sim::duration::from_seconds(mb.spec->service.sample(mb.service_rng)), [this, m, generation = mb.generation] {
      member& w = members_[m];
      // The member went offline (and maybe came back) meanwhile: that work was lost with it.
      if (!w.conn || w.generation != generation || w.inbox.empty()) {
        w.busy = false;
        if (w.conn) work(m);
        return;
      }
      const stomp::frame d = std::move(w.inbox.front());
      w.inbox.pop_front();
      tally_.received(*w.spec, w.index, d.body, sim_.now());
      acknowledge(w, std::string(d.get("ack").value_or("")));
      work(m);
    });
  }

  void acknowledge(member& w, const std::string& ack_id) {
    if (w.spec->ack == jms::ack_mode::session_transacted) {
      const std::string tx = fmt::format("tx-{}", ++w.transactions);
      w.conn->queue({"BEGIN", {{"transaction", tx}}, {}});
      w.conn->queue({"ACK", {{"id", ack_id}, {"transaction", tx}}, {}});
      w.conn->queue({"COMMIT", {{"transaction", tx}}, {}});
    } else {
      w.conn->queue({"ACK", {{"id", ack_id}}, {}});
    }
    if (!w.conn->flush()) net::log(net::log_level::warn, "net mode: STOMP consumer {}: the connection is gone", w.spec->name);
  }

  sim::simulator& sim_;
  const models::jms_spec& spec_;
  mutable server_thread server_;
  std::unique_ptr<stomp::client> producer_;
  std::vector<member> members_;
  std::map<std::uint64_t, models::done_fn> receipts_;
  std::vector<models::done_fn> written_;  // non-persistent sends written since the last pump
  std::uint64_t next_receipt_ = 1;
  models::jms_tally tally_;
  models::cpu_window cpu_;  // the server's thread
};

}  // namespace

std::unique_ptr<models::jms_side> make_net_jms(sim::simulator& sim, const models::system_spec& spec,
                                               const sim::random_streams& streams) {
  if (!models::uses_step<models::send_step>(spec.request) && !spec.jms.enabled) {
    return std::make_unique<models::jms_model>(sim, spec.jms, spec.costs, streams);  // nothing to drive
  }
  return std::make_unique<net_jms>(sim, spec.jms, streams);
}

}  // namespace mqlab::workbench
