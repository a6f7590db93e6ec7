// RabbitMQ's definitions file, as `rabbitmqctl export_definitions` writes it and its
// `load_definitions` setting reads it at boot, for `mqlab broker --definitions FILE`: users,
// vhosts, permissions, exchanges, queues and bindings. Users carry a plain `password` (a
// `password_hash` from an export is refused: RabbitMQ's salted SHA-256 is not implemented).
#pragma once

#include <expected>
#include <filesystem>
#include <string>
#include <vector>

#include "broker/amqp/broker.h"
#include "net/amqp/connection.h"

namespace mqlab::cli {

struct definitions_file {
  std::vector<net::amqp::user> users;
  std::vector<std::string> vhosts;
  std::vector<net::amqp::permission> permissions;
  broker::amqp::durable_definitions declared;  // exchanges, queues (on node 0) and bindings
};

/// Reads and checks the file; an error names the file, the entry (e.g. `queues[2]`) and the cause.
std::expected<definitions_file, std::string> read_definitions(const std::filesystem::path& path);

}  // namespace mqlab::cli
