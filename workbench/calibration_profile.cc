// Writing a calibrated profile with yaml-cpp's emitter.
#include "workbench/calibration_profile.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "workbench/process_cpu.h"
#include "workbench/profile.h"

namespace mqlab::workbench {

using broker::work_kind;

namespace {

constexpr const char* wake_up_source =
    "CPU per wake-up of a thread blocked on a loopback TCP socket, woken by a byte it answers "
    "(two threads exchanging 10 000 bytes on this machine; the median of 3 runs)";

constexpr const char* fresh_memory_source =
    "CPU per byte of a first write to fresh memory on this machine (64 MiB mapped anonymously, written a "
    "byte a page, less a second pass; the median of 3 runs); the probes' broker CPU time is taken less "
    "their growth in resident memory at this cost before the fit";

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::ranges::sort(v);
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

double rounded(double v, int digits) {
  const double f = std::pow(10.0, digits);
  return std::round(v * f) / f;
}

std::string microseconds(double seconds) { return fmt::format("{:.1f}us", seconds * 1e6); }
std::string bytes_per_second(double v) { return fmt::format("{:.0f}B/s", v); }

/// One cost entry: {ns: N, source: TEXT} or {ns_per_byte: N, source: TEXT}.
void emit_cost(YAML::Emitter& out, work_kind k, double ns, const std::string& source) {
  out << YAML::Key << std::string(work_kind_name(k)) << YAML::Value << YAML::Flow << YAML::BeginMap;
  out << YAML::Key << (per_byte(k) ? "ns_per_byte" : "ns") << YAML::Value << rounded(ns, per_byte(k) ? 4 : 1);
  out << YAML::Key << "source" << YAML::Value << source << YAML::EndMap;
}

constexpr std::size_t wake_values = 1000;  // of a wake-up distribution written out

constexpr work_kind amqp_kinds[] = {
    work_kind::frame,         work_kind::route_direct,     work_kind::route_fanout,  work_kind::route_topic,
    work_kind::route_headers, work_kind::binding_examined, work_kind::enqueue,       work_kind::deliver,
    work_kind::stored,        work_kind::ack,              work_kind::confirm,       work_kind::bytes,
    work_kind::persist_bytes, work_kind::fsync_request,    work_kind::mirror_copy,   work_kind::mirror_settle,
    work_kind::transfer,      work_kind::socket_read};
constexpr work_kind kafka_kinds[] = {work_kind::frame,          work_kind::record_appended,   work_kind::bytes,
                                     work_kind::fetch,          work_kind::record_fetched,    work_kind::record_replicated,
                                     work_kind::memory_grown,   work_kind::socket_read};
constexpr work_kind jms_kinds[] = {work_kind::frame, work_kind::enqueue,  work_kind::deliver,
                                   work_kind::ack,   work_kind::bytes,    work_kind::selector_evaluation};

/// What scales the prior where nothing was measured: the AMQP fit's, else the Kafka fit's.
double prior_scale(const calibration_record& r) { return r.probes.empty() ? r.kafka_fit.prior_scale : r.fit.prior_scale; }

/// One protocol's costs: fitted where `probes` of its own measured them (`fit` is null when it
/// had none), elsewhere the prior scaled.
void emit_table(YAML::Emitter& out, const char* key, std::span<const work_kind> kinds, const models::cost_table& prior,
                const fitted_costs* fit, std::size_t probes, bool cpu_measured, const calibration_record& r) {
  out << YAML::Key << key << YAML::Value << YAML::BeginMap;
  for (work_kind k : kinds) {
    const auto i = static_cast<std::size_t>(k);
    if (k == work_kind::memory_grown) {  // the machine's, measured apart from the probes (or the prior's)
      emit_cost(out, k, r.fresh_memory_cpu ? *r.fresh_memory_cpu * 1e9 : prior.ns[i],
                r.fresh_memory_cpu ? std::string(fresh_memory_source) : fmt::format("not measured: profile {}", r.prior_name));
      continue;
    }
    const bool measured = fit != nullptr && fit->measured[i];
    const double scale = fit != nullptr ? fit->prior_scale : prior_scale(r);
    const std::string source =
        measured ? fmt::format("fitted to the {} {} probes' {} (calibration below)", probes, key,
                               cpu_measured ? "rates and the broker's CPU time" : "saturated rates")
                 : fmt::format("not measured: profile {} scaled by {:.3f}", r.prior_name, scale);
    emit_cost(out, k, fit != nullptr ? fit->costs.ns[i] : prior.ns[i] * scale, source);
  }
  out << YAML::EndMap;
}

void emit_resources(YAML::Emitter& out, const calibration_record& r) {
  const auto& node = r.prior.node;
  out << YAML::Key << "node" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "cores" << YAML::Value << r.cores;
  if (r.wake_up_cpu) out << YAML::Key << "wake_up" << YAML::Value << microseconds(*r.wake_up_cpu);
  if (r.write_coalescing_us > 0) out << YAML::Key << "write_coalescing" << YAML::Value << fmt::format("{}us", r.write_coalescing_us);
  out << YAML::Key << "source" << YAML::Value
      << fmt::format("cores: the fit's assumption (mqlab calibrate --cores {}); the machine has {}{}{}", r.cores, r.machine_cores,
                     r.wake_up_cpu ? std::string("; wake_up: ") + wake_up_source : std::string(),
                     r.write_coalescing_us > 0 ? "; write_coalescing: as told (--write-coalescing-us), the broker's own" : "");
  out << YAML::Key << "disk" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "write_bandwidth" << YAML::Value << bytes_per_second(node.disk.write_bandwidth);
  const double fsync = fsync_wait(r);
  const bool confirms = !r.confirm_persistent.empty();
  out << YAML::Key << "fsync" << YAML::Value
      << (confirms ? microseconds(fsync) : microseconds(node.disk.fsync.mean()));
  out << YAML::Key << "source" << YAML::Value
      << (!confirms ? fmt::format("not measured (profile {})", r.prior_name)
          : fsync > 0 ? fmt::format("fsync: median persistent confirm minus median transient confirm, one at a time; "
                                  "write_bandwidth not measured (profile {})", r.prior_name)
                    : fmt::format("fsync: persistent confirms took no longer than transient ones, the broker did not "
                                  "wait for a disk; write_bandwidth not measured (profile {})", r.prior_name));
  out << YAML::EndMap;
  out << YAML::Key << "nic" << YAML::Value << YAML::Flow << YAML::BeginMap;
  out << YAML::Key << "bandwidth" << YAML::Value << bytes_per_second(node.nic_bandwidth);
  out << YAML::Key << "source" << YAML::Value << fmt::format("not measured (profile {})", r.prior_name) << YAML::EndMap;
  out << YAML::EndMap;
  const std::string latency = microseconds(link_latency(r));
  out << YAML::Key << "links" << YAML::Value << YAML::BeginMap;
  for (const char* which : {"client", "nodes"}) {
    out << YAML::Key << which << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "latency" << YAML::Value << latency;
    out << YAML::Key << "bandwidth" << YAML::Value << bytes_per_second(r.prior.client_link.bandwidth);
    out << YAML::Key << "source" << YAML::Value
        << (r.round_trips.empty()
                ? fmt::format("not measured (the mean of profile {}'s)", r.prior_name)
                : fmt::format("half the median of {} queue.declare round trips, less what the model prices on "
                              "the way (the client's write and read, two wake-ups, the node's read); bandwidth "
                              "not measured", r.round_trips.size()))
        << YAML::EndMap;
  }
  out << YAML::EndMap;
}

void emit_seconds(YAML::Emitter& out, const char* key, const std::vector<double>& seconds) {
  out << YAML::Key << key << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (double s : seconds) out << rounded(s * 1e6, 1);
  out << YAML::EndSeq;
}

/// At most `n` of `values`' order statistics, evenly spaced: the same distribution, in a
/// profile of a readable size (and under the loader's limit on an empirical distribution).
std::vector<double> thinned(std::vector<double> values, std::size_t n) {
  if (values.size() <= n) return values;
  std::ranges::sort(values);
  std::vector<double> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(values[(2 * i + 1) * values.size() / (2 * n)]);
  return out;
}

/// The client host: one thread (the prober's), its costs per message, its wake-up latencies.
void emit_clients(YAML::Emitter& out, const calibration_record& r) {
  if (r.wake.empty()) return;
  out << YAML::Key << "clients" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "cores" << YAML::Value << 1;
  const client_costs costs = r.clients.value_or(client_costs{});
  out << YAML::Key << "send" << YAML::Value << fmt::format("{:.1f}ns", costs.send_ns);
  out << YAML::Key << "receive" << YAML::Value << fmt::format("{:.1f}ns", costs.receive_ns);
  out << YAML::Key << "socket_call" << YAML::Value << fmt::format("{:.1f}ns", costs.socket_call_ns);
  if (r.wake_up_cpu) out << YAML::Key << "wake_up" << YAML::Value << microseconds(*r.wake_up_cpu);
  auto empirical = [&](const char* key, const std::vector<double>& seconds) {
    out << YAML::Key << key << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "dist" << YAML::Value << "empirical";
    out << YAML::Key << "values" << YAML::Value << YAML::BeginSeq;
    for (double s : seconds) out << microseconds(s);
    out << YAML::EndSeq << YAML::EndMap;
  };
  empirical("wake", thinned(wake_body(r.wake), wake_values));
  if (!r.stalls.empty() && r.stall_watch > 0) {
    out << YAML::Key << "stalls" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "rate" << YAML::Value << fmt::format("{:.1f}/s", static_cast<double>(r.stalls.size()) / r.stall_watch);
    empirical("for", thinned(r.stalls, wake_values));
    out << YAML::EndMap;
  }
  out << YAML::Key << "source" << YAML::Value
      << fmt::format("one thread, as the prober's; send, receive and socket_call {} (socket_call: the "
                     "probe whose publishers wait for each confirm, a write and a read a message); wake: {} sleeps of 50 us on this machine, "
                     "each one's overshoot (timer slack 1 ns, as net mode's; at most {} of them, evenly spaced in order); "
                     "overshoots above 4 times the median left out (an idle virtual CPU descheduled, which a busy host is not); "
                     "stalls: a thread reading the clock for {:g} s without sleeping, each gap of more than {:g} us, at their rate{}",
                     r.clients ? fmt::format("fitted to the prober's CPU time per message over the {} AMQP probes", r.probes.size())
                               : std::string("not measured (no AMQP probe)"),
                     r.wake.size(), wake_values, r.stall_watch, stall_gap * 1e6, r.wake_up_cpu ? std::string("; wake_up: ") + wake_up_source : std::string());
  if (r.kafka_clients) {
    out << YAML::Key << "kafka" << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "record" << YAML::Value << fmt::format("{:.1f}ns", r.kafka_clients->record_ns);
    out << YAML::Key << "request" << YAML::Value << fmt::format("{:.1f}ns", r.kafka_clients->request_ns);
    out << YAML::Key << "source" << YAML::Value
        << fmt::format("fitted to the librdkafka prober's CPU time per record over the {} Kafka probes (producer and "
                       "consumer in one process: a record's cost is split evenly between them)",
                       r.kafka_probes.size());
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
}

/// A probe's raw data, its map left open for what only its protocol has.
void emit_probe(YAML::Emitter& out, const calibration_record& r, const std::string& name, const probe_measurement& m,
                const probe_work& work, const models::cost_table& costs, const char* unit) {
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << name;
  out << YAML::Key << unit << YAML::Value << m.messages;
  out << YAML::Key << "seconds" << YAML::Value << rounded(m.seconds, 4);
  out << YAML::Key << "rate" << YAML::Value << rounded(m.rate(), 1);
  out << YAML::Key << "prober_cores" << YAML::Value << rounded(m.client_cores(), 3);
  if (m.broker_cpu > 0) out << YAML::Key << "broker_cpu_seconds" << YAML::Value << rounded(m.broker_cpu, 3);
  if (m.broker_memory_grown > 0) {
    out << YAML::Key << "broker_memory_grown" << YAML::Value << fmt::format("{:.0f}B", m.broker_memory_grown);
    out << YAML::Key << "broker_fresh_memory_cpu_seconds" << YAML::Value << rounded(m.broker_fresh_cpu, 3);
  }
  out << YAML::Key << "broker_cores" << YAML::Value << rounded(broker_cores(r, m), 3);
  out << YAML::Key << "fitted_rate" << YAML::Value << rounded(predicted_rate(work, costs, broker_cores(r, m)), 1);
  out << YAML::Key << fmt::format("work_per_{}", unit == std::string_view("records") ? "record" : "message") << YAML::Value
      << YAML::Flow << YAML::BeginMap;
  for (std::size_t k = 0; k < broker::work_kinds; ++k) {
    if (work.node[k] > 0) out << YAML::Key << std::string(work_kind_name(work_kind(k))) << YAML::Value << rounded(work.node[k], 6);
  }
  out << YAML::EndMap;
}

void emit_raw(YAML::Emitter& out, const calibration_record& r) {
  out << YAML::Key << "calibration" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "command" << YAML::Value << r.command;
  if (!r.target.empty()) out << YAML::Key << "target" << YAML::Value << r.target;
  out << YAML::Key << "prior" << YAML::Value << r.prior_name;
  out << YAML::Key << "prior_scale" << YAML::Value << rounded(prior_scale(r), 4);
  out << YAML::Key << "probes" << YAML::Value << YAML::BeginSeq;
  for (const auto& p : r.probes) {
    emit_probe(out, r, p.probe.name, p.measured, p.work, r.fit.costs, "messages");
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  if (!r.kafka_target.empty()) out << YAML::Key << "kafka_target" << YAML::Value << r.kafka_target;
  out << YAML::Key << "kafka_probes" << YAML::Value << YAML::BeginSeq;
  for (const auto& p : r.kafka_probes) {
    emit_probe(out, r, p.probe.name, p.measured, p.work, r.kafka_fit.costs, "records");
    out << YAML::Key << "records_per_batch" << YAML::Value << rounded(p.batching.records_per_batch, 2);
    out << YAML::Key << "records_per_fetch" << YAML::Value << rounded(p.batching.records_per_fetch, 2);
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  emit_seconds(out, "round_trips_us", r.round_trips);
  emit_seconds(out, "transient_confirms_us", r.confirm_transient);
  emit_seconds(out, "persistent_confirms_us", r.confirm_persistent);
  out << YAML::EndMap;
}

}  // namespace

std::vector<double> wake_body(const std::vector<double>& late) {
  const double limit = 4 * median(late);
  std::vector<double> body;
  std::ranges::copy_if(late, std::back_inserter(body), [&](double s) { return s <= limit; });
  return body;
}

double broker_cores(const calibration_record& r, const probe_measurement& m) {
  if (m.broker_cpu > 0 && m.seconds > 0) return std::max(0.01, (m.broker_cpu - m.broker_fresh_cpu) / m.seconds);
  const double left = r.machine_cores - m.client_cores();
  return std::max(0.1, std::min<double>(r.cores, left));
}

double wake_latency(const calibration_record& r) { return median(r.wake); }

std::expected<kafka_client_costs, std::string> fit_kafka_client_costs(std::span<const kafka_probe_record> probes) {
  std::vector<client_cpu_sample> samples;
  for (const auto& p : probes) {
    samples.push_back({{1.0, 1 / p.batching.records_per_batch + 1 / p.batching.records_per_fetch}, p.measured});
  }
  auto x = fit_client_cpu(samples);
  if (!x) return std::unexpected(x.error());
  return kafka_client_costs{(*x)[0], (*x)[1]};
}

std::vector<std::string_view> address_list(std::string_view list) {
  std::vector<std::string_view> out;
  for (std::size_t from = 0; from <= list.size();) {
    const std::size_t comma = std::min(list.find(',', from), list.size());
    out.push_back(list.substr(from, comma - from));
    from = comma + 1;
  }
  return out;
}

bool on_this_machine(const calibration_record& r) {
  const auto local = [](const std::string& targets) {
    return std::ranges::all_of(address_list(targets), [](std::string_view one) {
      const std::string_view host = one.substr(0, one.rfind(':'));
      return host.starts_with("127.") || host == "localhost" || host == "[::1]" || host == "::1";
    });
  };
  return (r.target.empty() || local(r.target)) && (r.kafka_target.empty() || local(r.kafka_target));
}

double link_latency(const calibration_record& r) {
  if (r.round_trips.empty()) return r.prior.client_link.latency.mean();
  // An idle round trip also holds what the simulation prices apart: the client's write and
  // read, both threads' wake-ups and the node's read (with its answer's write).
  const double call = r.clients ? r.clients->socket_call_ns * 1e-9 : 0;
  const double read = r.fit.costs.ns[static_cast<std::size_t>(work_kind::socket_read)] * 1e-9;
  const double priced = 2 * call + 2 * r.wake_up_cpu.value_or(0) + read;
  return std::max(median(r.round_trips) - priced, 0.0) / 2;
}

double fsync_wait(const calibration_record& r) {
  if (r.confirm_persistent.empty()) return 0;
  const double extra = median(r.confirm_persistent) - median(r.confirm_transient);
  // Below 20 us the difference is the persistent message's CPU cost, not a disk.
  return extra > 20e-6 ? extra : 0;
}

std::string profile_yaml(const calibration_record& r) {
  YAML::Emitter out;
  out.SetDoublePrecision(7);
  out << YAML::Comment(fmt::format("Written by `{}`. Costs are fitted so that the simulation of each probe saturates "
                                   "where the measured broker did; the raw data is under calibration.",
                                   r.command));
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << r.name;
  out << YAML::Key << "title" << YAML::Value << r.title;
  out << YAML::Key << "date" << YAML::Value << r.date;
  out << YAML::Key << "machine" << YAML::Value << YAML::Flow << YAML::BeginMap;
  out << YAML::Key << "cores" << YAML::Value << r.machine_cores;
  out << YAML::Key << "cpu" << YAML::Value << r.cpu_model << YAML::EndMap;
  if (on_this_machine(r)) {
    out << YAML::Key << "host" << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "cores" << YAML::Value << r.machine_cores;
    out << YAML::Key << "source" << YAML::Value << "the broker was calibrated over loopback: it and its clients share this machine";
    out << YAML::EndMap;
  }
  emit_resources(out, r);
  emit_clients(out, r);
  const auto cpu_read = [](const auto& probes) {
    return std::ranges::any_of(probes, [](const auto& p) { return p.measured.broker_cpu > 0; });
  };
  emit_table(out, "amqp", amqp_kinds, r.prior.amqp, r.probes.empty() ? nullptr : &r.fit, r.probes.size(), cpu_read(r.probes), r);
  emit_table(out, "kafka", kafka_kinds, r.prior.kafka, r.kafka_probes.empty() ? nullptr : &r.kafka_fit,
             r.kafka_probes.size(), cpu_read(r.kafka_probes), r);
  emit_table(out, "jms", jms_kinds, r.prior.jms, nullptr, 0, false, r);
  emit_raw(out, r);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace mqlab::workbench
