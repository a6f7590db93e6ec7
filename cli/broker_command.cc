// `mqlab broker`: flags to server options, AMQP, Kafka and/or STOMP listeners on one io_context on
// this thread (an AMQP cluster's nodes on threads of their own), shutdown on signals.
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include "cli/broker_command.h"
#include "cli/definitions_file.h"
#include "workbench/number.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <fmt/format.h>

#include "broker/amqp/broker.h"
#include "broker/jms/broker.h"
#include "broker/kafka/cluster.h"
#include "net/amqp/cluster.h"
#include "net/amqp/message_store.h"
#include "net/amqp/server.h"
#include "net/kafka/server.h"
#include "net/kafka/log_store.h"
#include "net/log.h"
#include "net/memory_alarm.h"
#include "net/stomp/server.h"
#include "net/loop_thread.h"
#include "net/storage/file.h"
#include "net/storage/flusher.h"

namespace mqlab::cli {

using workbench::parse_number;
namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// The AMQP server's clock (monotonic), which message expiry is reckoned on.
broker::instant server_now() {
  return {std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
              .count()};
}

struct broker_options {
  net::amqp::server_options server;
  net::amqp::listen_options listen;
  bool amqp_port_given = false;
  std::optional<std::uint16_t> kafka_port;
  std::optional<std::uint16_t> stomp_port;
  double stomp_heartbeat_grace = 1.5;
  std::vector<std::string> prioritized;  // --prioritized-messages, as given
  std::vector<broker::jms::destination> prioritized_destinations;
  net::kafka::service_options kafka;
  std::int32_t cluster = 1;  // nodes
  std::string ha_mode = "none";
  broker::amqp::cluster_config amqp_cluster;
  bool console = false;
  std::vector<std::string> users, vhosts, permissions;
  std::string log_level = "info";
  std::string cluster_secret_file, cluster_secret;
  std::string memory_high_watermark = fmt::format("{}", net::default_memory_high_watermark);
  std::int64_t kafka_max_idle_ms = net::kafka::listen_options{}.connections_max_idle_ms;
  std::uint64_t kafka_flush_messages = 0;
  std::uint64_t kafka_queued_max_request_bytes = net::kafka::listen_options{}.queued_max_request_bytes;
  std::string kafka_advertised;  // HOST:PORT per broker, comma-separated
  std::vector<std::pair<std::string, std::uint16_t>> kafka_advertised_listeners;
  std::string data_dir = net::storage::default_data_dir().string();  // "none": in memory only
  std::string fsync;  // empty: each protocol's default (AMQP always, Kafka never)
  bool check = false;
  std::string definitions;  // a RabbitMQ definitions file
  broker::amqp::durable_definitions declared;  // its exchanges, queues and bindings
  net::storage::fsync_policy amqp_fsync, kafka_fsync{net::storage::fsync_policy::kind::never, {}};
};

/// The cluster's secret from its file: accessible by its owner only (RabbitMQ refuses a cookie
/// file others can read), one line of 1 to 255 bytes.
std::expected<std::string, std::string> read_secret(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return std::unexpected(fmt::format("--cluster-secret-file {}: {}", path, std::strerror(errno)));
  if ((st.st_mode & 077) != 0) {
    return std::unexpected(fmt::format("--cluster-secret-file {}: must be accessible by its owner only (chmod 600)", path));
  }
  std::ifstream in(path);
  std::string secret;
  std::getline(in, secret);
  while (!secret.empty() && std::isspace(static_cast<unsigned char>(secret.back()))) secret.pop_back();
  if (secret.empty() || secret.size() > 255) {
    return std::unexpected(fmt::format("--cluster-secret-file {}: the first line must hold 1 to 255 bytes", path));
  }
  return secret;
}

/// --kafka-advertised-listeners: one HOST:PORT per broker.
std::expected<std::vector<std::pair<std::string, std::uint16_t>>, std::string> parse_advertised(const std::string& text,
                                                                                                std::int32_t brokers) {
  std::vector<std::pair<std::string, std::uint16_t>> out;
  std::size_t from = 0;
  while (from <= text.size()) {
    const std::size_t comma = std::min(text.find(',', from), text.size());
    const std::string item = text.substr(from, comma - from);
    const auto colon = item.rfind(':');
    const auto port = colon == std::string::npos ? std::nullopt : parse_number<std::uint16_t>(std::string_view(item).substr(colon + 1));
    if (colon == 0 || !port || *port == 0) {
      return std::unexpected(fmt::format("--kafka-advertised-listeners: '{}' is not HOST:PORT", item));
    }
    out.emplace_back(item.substr(0, colon), *port);
    from = comma + 1;
  }
  if (out.size() != static_cast<std::size_t>(brokers)) {
    return std::unexpected(fmt::format("--kafka-advertised-listeners: {} addresses for {} brokers", out.size(), brokers));
  }
  return out;
}

std::expected<void, std::string> apply(broker_options& o) {
  std::vector<net::amqp::user> users;
  for (const auto& u : o.users) {
    const auto colon = u.find(':');
    if (colon == std::string::npos || colon == 0) return std::unexpected(fmt::format("--user '{}': expected NAME:PASSWORD", u));
    users.push_back({u.substr(0, colon), u.substr(colon + 1)});
  }
  if (!o.definitions.empty()) {
    auto file = read_definitions(o.definitions);
    if (!file) return std::unexpected(file.error());
    users.insert(users.end(), file->users.begin(), file->users.end());
    o.vhosts.insert(o.vhosts.end(), file->vhosts.begin(), file->vhosts.end());
    o.server.permissions.insert(o.server.permissions.end(), file->permissions.begin(), file->permissions.end());
    o.declared = std::move(file->declared);
  }
  if (!users.empty()) o.server.users = std::move(users);  // guest only when nobody else is given
  o.amqp_cluster.nodes = static_cast<std::uint32_t>(o.cluster);
  for (const auto& text : o.permissions) {
    auto rule = net::amqp::parse_permission(text);
    if (!rule) return std::unexpected(rule.error());
    o.server.permissions.push_back(std::move(*rule));
  }
  if (!o.fsync.empty()) {
    auto policy = net::storage::fsync_policy::parse(o.fsync);
    if (!policy) return std::unexpected("--fsync " + policy.error());
    o.amqp_fsync = o.kafka_fsync = *policy;
  }
  if (o.check && o.data_dir == "none") return std::unexpected("--check needs a --data-dir to read");
  for (const auto& text : o.prioritized) {
    const bool topic = text.starts_with("/topic/");
    if ((!topic && !text.starts_with("/queue/")) || text.size() <= 7) {
      return std::unexpected(fmt::format("--prioritized-messages '{}': expected /queue/NAME or /topic/NAME", text));
    }
    o.prioritized_destinations.push_back(topic ? broker::jms::destination::topic(text.substr(7))
                                               : broker::jms::destination::queue(text.substr(7)));
  }
  if (!o.kafka_advertised.empty()) {
    auto advertised = parse_advertised(o.kafka_advertised, o.cluster);
    if (!advertised) return std::unexpected(advertised.error());
    o.kafka_advertised_listeners = std::move(*advertised);
  }
  auto watermark = net::parse_memory_watermark(o.memory_high_watermark);
  if (!watermark) return std::unexpected(watermark.error());
  o.listen.memory_high_watermark = *watermark;
  if (!o.cluster_secret_file.empty()) {
    auto secret = read_secret(o.cluster_secret_file);
    if (!secret) return std::unexpected(secret.error());
    o.cluster_secret = std::move(*secret);
  }
  if (o.ha_mode == "all") {
    o.amqp_cluster.mirroring = broker::amqp::ha_mode::all;
  } else if (o.ha_mode.starts_with("exactly:") && std::atoi(o.ha_mode.c_str() + 8) >= 1) {
    o.amqp_cluster.mirroring = broker::amqp::ha_mode::exactly;
    o.amqp_cluster.ha_replicas = static_cast<std::uint32_t>(std::atoi(o.ha_mode.c_str() + 8));
  } else if (o.ha_mode != "none") {
    return std::unexpected(fmt::format("--ha-mode '{}': expected none, all or exactly:N", o.ha_mode));
  }
  static const std::pair<const char*, net::log_level> levels[] = {
      {"error", net::log_level::error}, {"warn", net::log_level::warn}, {"info", net::log_level::info},
      {"debug", net::log_level::debug}};
  for (const auto& [name, level] : levels) {
    if (o.log_level == name) {
      net::set_log_level(level);
      return {};
    }
  }
  return std::unexpected(fmt::format("--log-level '{}': expected error, warn, info or debug", o.log_level));
}

/// What the console can crash and bring back: Kafka brokers or AMQP cluster nodes.
struct fault_target {
  std::string noun;  // "broker" or "node": the commands are kill-<noun> N and restart-<noun> N
  std::function<bool(int)> kill;
  std::function<std::expected<void, std::string>(int)> restart;
};

// The console: one command per line on stdin, for fault injection from a terminal or a test.
boost::asio::awaitable<void> console(boost::asio::posix::stream_descriptor& in, std::vector<fault_target> targets) {
  std::string buffer, usage;
  for (const auto& t : targets) usage += fmt::format("{}'kill-{} N' or 'restart-{} N'", usage.empty() ? "" : " or ", t.noun, t.noun);
  for (;;) {
    boost::system::error_code ec;
    const std::size_t n = co_await boost::asio::async_read_until(in, boost::asio::dynamic_buffer(buffer), '\n',
                                                                 boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    if (ec) co_return;  // end of input: the broker keeps serving
    const std::string line = buffer.substr(0, n - 1);
    buffer.erase(0, n);
    char verb[32] = {};
    int node = -1;
    const bool parsed = std::sscanf(line.c_str(), "%31s %d", verb, &node) == 2;
    const std::string command = verb;
    const auto target = std::find_if(targets.begin(), targets.end(), [&](const fault_target& t) {
      return command == "kill-" + t.noun || command == "restart-" + t.noun;
    });
    if (!parsed || target == targets.end()) {
      fmt::print(stderr, "console: '{}': expected {}\n", line, usage);
      continue;
    }
    if (command.starts_with("kill-")) {
      if (target->kill(node)) fmt::print("{} {} killed\n", target->noun, node);
      else fmt::print(stderr, "console: {} {} is not running\n", target->noun, node);
    } else if (auto ok = target->restart(node); ok) {
      fmt::print("{} {} restarted\n", target->noun, node);
    } else {
      fmt::print(stderr, "console: {}\n", ok.error());
    }
    std::fflush(stdout);
  }
}

/// The Kafka logs of the data directory, restored into the service's core; recovery is logged.
std::expected<std::unique_ptr<net::kafka::log_store>, std::string> open_kafka_store(const broker_options& o,
                                                                                    net::kafka::service& svc,
                                                                                    net::storage::flusher& flusher,
                                                                                    net::kafka::log_recovery& report) {
  const auto started = std::chrono::steady_clock::now();
  auto store = net::kafka::log_store::open({.dir = std::filesystem::path(o.data_dir) / "kafka", .brokers = o.cluster,
                                            .repair = !o.check, .flush_interval_messages = o.kafka_flush_messages},
                                           svc, flusher, now_ms(), report);
  if (!store) return store;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  net::log(report.corruption.empty() ? net::log_level::info : net::log_level::error,
           "Kafka logs recovered in {:.3f} s: {} topics, {} replica logs, {} segments, {} records, {} committed offsets, "
           "{} torn bytes dropped, {} segment indexes that disagreed with their segment rewritten{}",
           seconds, report.topics, report.replica_logs, report.segments, report.records, report.offsets,
           report.torn_bytes, report.indexes_rebuilt, report.corruption.empty() ? "" : "; damaged: " + report.corruption);
  return store;
}

/// An AMQP node's durable definitions and persistent messages in `dir`, restored into its core.
std::expected<std::unique_ptr<net::amqp::message_store>, std::string> open_message_store(
    const broker_options& o, const std::filesystem::path& dir, broker::amqp::broker& core,
    net::storage::flusher& flusher, net::amqp::message_recovery& report) {
  const auto started = std::chrono::steady_clock::now();
  auto store = net::amqp::message_store::open({.dir = dir, .repair = !o.check}, core, flusher, server_now(), report);
  if (!store) return store;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  net::log(report.corruption.empty() ? net::log_level::info : net::log_level::error,
           "AMQP store {} recovered in {:.3f} s: {} exchanges, {} queues, {} bindings, {} messages from {} segments, "
           "{} torn bytes dropped{}",
           dir.string(), seconds, report.exchanges, report.queues, report.bindings, report.messages, report.segments,
           report.torn_bytes, report.corruption.empty() ? "" : "; damaged: " + report.corruption);
  return store;
}

/// Declares the definitions file's exchanges, queues and bindings in `core`; what a broker would
/// refuse (an unknown type, a binding to nothing, a queue restored with other arguments) stops
/// the start.
std::expected<void, std::string> declare_definitions(const broker_options& o, broker::amqp::broker& core) {
  const auto loaded = core.load_definitions(o.declared, server_now());
  if (loaded.refused.empty()) return {};
  return std::unexpected(fmt::format("--definitions {}: {}", o.definitions, loaded.refused.front()));
}

/// --check of the AMQP files: the single node's, or each cluster node's with a core of its own.
/// 0 sound, 1 damaged beyond repair, 2 unreadable.
int check_amqp(const broker_options& o, net::storage::flusher& flusher) {
  const std::filesystem::path base = std::filesystem::path(o.data_dir) / "amqp";
  const bool cluster = o.amqp_cluster.nodes > 1;
  for (std::uint32_t k = 0; k < o.amqp_cluster.nodes; ++k) {
    auto shape = o.amqp_cluster;
    if (cluster) shape.self = broker::node_id{k};
    broker::amqp::broker core(shape);
    net::amqp::message_recovery report;
    auto store = open_message_store(o, cluster ? base / fmt::format("node-{}", k) : base, core, flusher, report);
    if (!store) {
      fmt::print(stderr, "mqlab broker: {}\n", store.error());
      return 2;
    }
    if (!report.corruption.empty()) return 1;
  }
  return 0;
}

int serve(broker_options& o) {
  if (auto ok = apply(o); !ok) {
    fmt::print(stderr, "mqlab broker: {}\n", ok.error());
    return 2;
  }
  const bool on_disk = o.data_dir != "none";
  std::optional<net::storage::directory_lock> data_lock;
  if (on_disk) {
    auto lock = net::storage::directory_lock::acquire(o.data_dir);
    if (!lock) {
      fmt::print(stderr, "mqlab broker: {}\n", lock.error());
      return 2;
    }
    data_lock.emplace(std::move(*lock));
  }
  net::log(net::log_level::info, "data directory: {}", on_disk ? o.data_dir : "none (everything in memory)");
  boost::asio::io_context io;
  auto post = [&io](std::function<void()> f) { boost::asio::post(io, std::move(f)); };
  // AMQP runs unless only Kafka or STOMP ports were asked for.
  broker::amqp::broker amqp_core(o.amqp_cluster);
  for (const auto& v : o.vhosts) amqp_core.add_vhost(v);
  std::optional<net::amqp::server> amqp;
  // A cluster's nodes are separate event loops with cores of their own, talking over TCP.
  std::optional<net::amqp::cluster> amqp_cluster;
  if (o.amqp_port_given || (!o.kafka_port && !o.stomp_port)) {
    if (o.amqp_cluster.nodes > 1) {
      amqp_cluster.emplace(net::amqp::cluster_options{
          .shape = o.amqp_cluster, .server = o.server, .bind = o.listen.bind, .port = o.listen.port,
          .memory_high_watermark = o.listen.memory_high_watermark,
          .secret = o.cluster_secret,
          .define = [&o](broker::amqp::broker& core) {
            for (const auto& v : o.vhosts) core.add_vhost(v);
            (void)core.load_definitions(o.declared, server_now());  // refusals were found on a trial core
          },
          .data_dir = on_disk ? std::optional(std::filesystem::path(o.data_dir) / "amqp") : std::nullopt,
          .fsync = o.amqp_fsync});
    } else {
      amqp.emplace(io, amqp_core, o.server, o.listen);
    }
  }
  std::optional<net::storage::flusher> amqp_flusher;
  std::unique_ptr<net::amqp::message_store> amqp_store;
  if (o.check) {
    net::storage::flusher idle(net::storage::fsync_policy{net::storage::fsync_policy::kind::never, {}}, post);
    if (const int rc = check_amqp(o, idle); rc != 0) return rc;
  } else if (on_disk && amqp) {
    amqp_flusher.emplace(o.amqp_fsync, post);
    net::amqp::message_recovery report;
    auto store = open_message_store(o, std::filesystem::path(o.data_dir) / "amqp", amqp_core, *amqp_flusher, report);
    if (!store) {
      fmt::print(stderr, "mqlab broker: {}\n", store.error());
      return 2;
    }
    amqp_store = std::move(*store);
    amqp->keep_on_disk(*amqp_store, *amqp_flusher);
    net::log(net::log_level::info, "AMQP fsync policy: {}", o.amqp_fsync.describe());
  }
  broker::kafka::cluster kafka_core(o.cluster);
  net::kafka::service kafka_service(kafka_core, o.kafka);
  std::optional<net::storage::flusher> kafka_flusher;
  std::unique_ptr<net::kafka::log_store> kafka_store;
  if (on_disk && (o.kafka_port || o.check)) {
    kafka_flusher.emplace(o.kafka_fsync, post);
    net::kafka::log_recovery report;
    auto store = open_kafka_store(o, kafka_service, *kafka_flusher, report);
    if (!store) {
      fmt::print(stderr, "mqlab broker: {}\n", store.error());
      return 2;
    }
    if (o.check) return report.corruption.empty() ? 0 : 1;
    kafka_store = std::move(*store);
    net::log(net::log_level::info, "Kafka fsync policy: {}", o.kafka_fsync.describe());
  }
  std::optional<net::kafka::server> kafka;
  if (o.kafka_port) {
    kafka.emplace(io, kafka_service, net::kafka::listen_options{.bind = o.listen.bind, .first_port = *o.kafka_port,
                                                                .brokers = o.cluster,
                                                                .connections_max_idle_ms = o.kafka_max_idle_ms,
                                                                .queued_max_request_bytes = o.kafka_queued_max_request_bytes,
                                                                .advertised = o.kafka_advertised_listeners});
    if (kafka_store) kafka->keep_on_disk(*kafka_store, *kafka_flusher);
  }
  // STOMP serves the JMS core in memory, with the broker's users and memory alarm.
  broker::jms::broker jms_core;
  for (const auto& d : o.prioritized_destinations) jms_core.set_prioritized_messages(d.kind, d.name, true);
  net::memory_alarm stomp_memory(o.listen.memory_high_watermark);
  net::stomp::service stomp_service(jms_core, {.users = o.server.users,
                                                        .heartbeat_grace = o.stomp_heartbeat_grace,
                                                        .memory_full = [&stomp_memory] { return stomp_memory.over(); }});
  std::optional<net::stomp::server> stomp;
  if (o.stomp_port) stomp.emplace(io, stomp_service, net::stomp::listen_options{.bind = o.listen.bind, .port = *o.stomp_port});
  if (!o.definitions.empty() && (amqp || amqp_cluster)) {
    // A cluster's nodes declare them as they start; a core of their own tries them first.
    broker::amqp::broker trial;
    for (const auto& v : o.vhosts) trial.add_vhost(v);
    if (auto ok = declare_definitions(o, amqp ? amqp_core : trial); !ok) {
      fmt::print(stderr, "mqlab broker: {}\n", ok.error());
      return 2;
    }
  }
  auto started = amqp ? amqp->start() : amqp_cluster ? amqp_cluster->start() : std::expected<void, std::string>{};
  if (started && kafka) started = kafka->start();
  if (started && stomp) started = stomp->start();
  if (!started) {
    fmt::print(stderr, "mqlab broker: {}\n", started.error());
    return 2;
  }
  if (amqp || amqp_cluster) {
    net::log(net::log_level::info, "memory high watermark: {} bytes ({})", o.listen.memory_high_watermark,
             o.listen.memory_high_watermark == 0 ? "off" : o.memory_high_watermark);
  }
  boost::asio::posix::stream_descriptor input(io);
  if (o.console) {
    input.assign(::dup(STDIN_FILENO));
    std::vector<fault_target> targets;
    if (kafka) targets.push_back({"broker", [&](int n) { return kafka->kill(n); }, [&](int n) { return kafka->restart(n); }});
    if (amqp || amqp_cluster) {
      auto kill = [&](std::uint32_t n) { return amqp ? amqp->kill(n) : amqp_cluster->kill(n); };
      auto restart = [&](std::uint32_t n) { return amqp ? amqp->restart(n) : amqp_cluster->restart(n); };
      targets.push_back({"node", [kill](int n) { return n >= 0 && kill(static_cast<std::uint32_t>(n)); },
                         [restart](int n) { return n < 0 ? std::unexpected(fmt::format("there is no node {}", n))
                                                         : restart(static_cast<std::uint32_t>(n)); }});
    }
    boost::asio::co_spawn(io, console(input, std::move(targets)), boost::asio::detached);
  }
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int signal) {
    if (ec) return;
    net::log(net::log_level::info, "signal {}: shutting down", signal);
    if (amqp) amqp->stop();
    if (amqp_cluster) amqp_cluster->stop();
    if (kafka) kafka->stop();
    if (stomp) stomp->stop();
    boost::system::error_code ignored;
    input.close(ignored);
  });
  net::run_logged(io);
  net::log(net::log_level::info, "stopped");
  return 0;
}

}  // namespace

void add_broker_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<broker_options>();
  auto* cmd = app.add_subcommand("broker", "Serve the embedded broker cores over AMQP 0-9-1, Kafka and/or STOMP until SIGINT/SIGTERM");
  cmd->add_option_function<std::uint16_t>(
         "--amqp-port", [o](std::uint16_t port) { o->listen.port = port, o->amqp_port_given = true; },
         "AMQP port (0 = any free port, printed at start; default 5672 unless only --kafka-port or --stomp-port is given)");
  cmd->add_option_function<std::uint16_t>("--kafka-port", [o](std::uint16_t port) { o->kafka_port = port; },
                                          "Kafka port of broker 0; broker N listens on this + N (0 = any free ports)");
  cmd->add_option_function<std::uint16_t>("--stomp-port", [o](std::uint16_t port) { o->stomp_port = port; },
                                          "STOMP 1.0-1.2 port onto the JMS core, as ActiveMQ's STOMP connector (0 = any free port; "
                                          "ActiveMQ's is 61613)");
  cmd->add_option("--stomp-heart-beat-grace", o->stomp_heartbeat_grace,
                  "STOMP: a client that promised heart-beats is dropped once silent this many of its intervals "
                  "(ActiveMQ's transport.hbGracePeriodMultiplier)")
      ->check(CLI::Range(1.0, 100.0))->capture_default_str();
  cmd->add_option("--cluster", o->cluster, "Nodes (AMQP) and brokers (Kafka) in the cluster, on consecutive ports")
      ->check(CLI::Range(1, 64))->capture_default_str();
  cmd->add_option("--cluster-secret-file", o->cluster_secret_file,
                  "AMQP cluster: a file (mode 600) whose first line the nodes' links must prove they know, as "
                  "RabbitMQ's Erlang cookie; default: a random secret of this process");
  cmd->add_option("--ha-mode", o->ha_mode,
                  "AMQP cluster: the ha-mode policy of every queue: none (queues live on one node), all, exactly:N")
      ->capture_default_str();
  cmd->add_option("--num-partitions", o->kafka.default_partitions, "Partitions of auto-created topics (num.partitions)")
      ->check(CLI::Range(1, 10000))->capture_default_str();
  cmd->add_option("--connections-max-idle-ms", o->kafka_max_idle_ms,
                  "Kafka: close connections that sent nothing for this long (connections.max.idle.ms)")
      ->check(CLI::Range(std::int64_t{100}, std::int64_t{86'400'000}))->capture_default_str();
  cmd->add_option("--queued-max-request-bytes", o->kafka_queued_max_request_bytes,
                  "Kafka: bytes of requests under way a broker holds; a connection whose next request does not "
                  "fit is not read from until others finish (queued.max.request.bytes)")
      ->check(CLI::Range(std::uint64_t{1} << 20, std::uint64_t{1} << 40))->capture_default_str();
  cmd->add_option("--kafka-advertised-listeners", o->kafka_advertised,
                  "Kafka: HOST:PORT per broker, comma-separated, that Metadata tells clients to connect to "
                  "(advertised.listeners; default: the address each listens on)");
  cmd->add_option("--default-replication-factor", o->kafka.default_replication_factor,
                  "Replication factor of auto-created topics")->check(CLI::Range(1, 64))->capture_default_str();
  cmd->add_flag("!--no-auto-create-topics", o->kafka.auto_create_topics,
                "Do not create topics on Metadata requests (auto.create.topics.enable=false)");
  cmd->add_option("--bind", o->listen.bind, "Address to listen on")->capture_default_str();
  cmd->add_option("--user", o->users, "NAME:PASSWORD allowed to connect (repeatable; default guest:guest, loopback only)");
  cmd->add_option("--vhost", o->vhosts, "Virtual host to create besides '/' (repeatable)");
  cmd->add_option("--definitions", o->definitions,
                  "A RabbitMQ definitions file (JSON, as rabbitmqctl export_definitions writes it, users with a plain "
                  "'password'): its users, vhosts and permissions join the flags', its exchanges, queues and bindings "
                  "are declared at start");
  cmd->add_option("--permissions", o->permissions,
                  "USER:VHOST:CONFIGURE:WRITE:READ regular expressions, as rabbitmqctl set_permissions (repeatable; "
                  "none given: every user may do everything)");
  cmd->add_option("--node-name", o->server.node_name, "Node name reported to clients")->capture_default_str();
  cmd->add_option("--heartbeat", o->server.heartbeat_s, "Heartbeat interval proposed to clients, seconds (0 = off)")
      ->capture_default_str();
  cmd->add_option("--frame-max", o->server.frame_max, "Largest frame accepted, bytes")
      ->check(CLI::Range(4096u, 1u << 24))->capture_default_str();
  cmd->add_option("--max-message-size", o->server.max_message_size,
                  "Largest message body accepted, bytes (RabbitMQ's max_message_size)")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{512} << 20))->capture_default_str();
  cmd->add_option("--channel-max", o->server.channel_max, "Most channels per connection")->capture_default_str();
  cmd->add_option("--memory-high-watermark", o->memory_high_watermark,
                  "Memory the process may hold before publishers are blocked: a fraction of physical memory "
                  "(RabbitMQ's vm_memory_high_watermark) or bytes; 0 = never")->capture_default_str();
  cmd->add_option("--prioritized-messages", o->prioritized,
                  "STOMP: serve this destination's backlog highest JMSPriority first (/queue/NAME or /topic/NAME; "
                  "repeatable), as ActiveMQ's policyEntry prioritizedMessages=\"true\"; others stay FIFO, its default");
  cmd->add_option("--log-level", o->log_level, "error | warn | info | debug")->capture_default_str();
  cmd->add_option("--data-dir", o->data_dir,
                  "Where durable queues, persistent messages, Kafka logs and committed offsets are kept (locked "
                  "against a second broker); none = in memory only")->capture_default_str();
  cmd->add_option("--fsync", o->fsync,
                  "When writes are fsynced: always (AMQP's default: a confirm waits for the disk, one fsync covers "
                  "every write meanwhile), interval:MS, or never (Kafka's default: replication and the page cache)");
  cmd->add_option("--log-flush-interval-messages", o->kafka_flush_messages,
                  "Kafka: fsync a partition's files once this many records were appended since the last "
                  "(log.flush.interval.messages; 0 = leave it to --fsync)")
      ->capture_default_str();
  cmd->add_flag("--check", o->check,
                "Read and verify the data directory without serving or repairing it: exit 0 if it is sound or only "
                "has a torn tail, 1 on damage recovery cannot repair");
  cmd->add_flag("--console", o->console,
                "Read fault commands from stdin: 'kill-broker N' closes Kafka broker N's sockets and moves "
                "its leadership, 'kill-node N' crashes AMQP node N; 'restart-broker N' and 'restart-node N' bring "
                "them back");
  cmd->callback([o, &exit_code] { exit_code = serve(*o); });
}

}  // namespace mqlab::cli
