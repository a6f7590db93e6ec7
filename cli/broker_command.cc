// `mqlab broker`: flags to server options, an io_context on this thread, shutdown on signals.
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include "cli/broker_command.h"

#include <memory>
#include <string>
#include <vector>

#include <boost/asio.hpp>
#include <fmt/format.h>

#include "broker/amqp/broker.h"
#include "net/amqp/server.h"
#include "net/log.h"

namespace mqlab::cli {
namespace {

struct broker_options {
  net::amqp::server_options server;
  net::amqp::listen_options listen;
  std::vector<std::string> users, vhosts;
  std::string log_level = "info";
};

std::expected<void, std::string> apply(broker_options& o) {
  if (!o.users.empty()) {
    o.server.users.clear();
    for (const auto& u : o.users) {
      const auto colon = u.find(':');
      if (colon == std::string::npos || colon == 0) return std::unexpected(fmt::format("--user '{}': expected NAME:PASSWORD", u));
      o.server.users.push_back({u.substr(0, colon), u.substr(colon + 1)});
    }
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

int serve(broker_options& o) {
  if (auto ok = apply(o); !ok) {
    fmt::print(stderr, "mqlab broker: {}\n", ok.error());
    return 2;
  }
  broker::amqp::broker core;
  for (const auto& v : o.vhosts) core.add_vhost(v);
  boost::asio::io_context io;
  net::amqp::server amqp(io, core, o.server, o.listen);
  if (auto ok = amqp.start(); !ok) {
    fmt::print(stderr, "mqlab broker: {}\n", ok.error());
    return 2;
  }
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int signal) {
    if (ec) return;
    net::log(net::log_level::info, "signal {}: shutting down", signal);
    amqp.stop();
  });
  io.run();
  net::log(net::log_level::info, "stopped");
  return 0;
}

}  // namespace

void add_broker_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<broker_options>();
  auto* cmd = app.add_subcommand("broker", "Serve the embedded broker core over AMQP 0-9-1 until SIGINT/SIGTERM");
  cmd->add_option("--amqp-port", o->listen.port, "AMQP port (0 = any free port, printed at start)")->capture_default_str();
  cmd->add_option("--bind", o->listen.bind, "Address to listen on")->capture_default_str();
  cmd->add_option("--user", o->users, "NAME:PASSWORD allowed to connect (repeatable; default guest:guest, loopback only)");
  cmd->add_option("--vhost", o->vhosts, "Virtual host to create besides '/' (repeatable)");
  cmd->add_option("--node-name", o->server.node_name, "Node name reported to clients")->capture_default_str();
  cmd->add_option("--heartbeat", o->server.heartbeat_s, "Heartbeat interval proposed to clients, seconds (0 = off)")
      ->capture_default_str();
  cmd->add_option("--frame-max", o->server.frame_max, "Largest frame accepted, bytes")
      ->check(CLI::Range(4096u, 1u << 24))->capture_default_str();
  cmd->add_option("--channel-max", o->server.channel_max, "Most channels per connection")->capture_default_str();
  cmd->add_option("--memory-high-watermark", o->listen.memory_high_watermark,
                  "Queued message bytes at which publishers are blocked (0 = never)")->capture_default_str();
  cmd->add_option("--log-level", o->log_level, "error | warn | info | debug")->capture_default_str();
  cmd->callback([o, &exit_code] { exit_code = serve(*o); });
}

}  // namespace mqlab::cli
