// What a net-mode AMQP client was told, collected for tests to assert on.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "net/amqp/client.h"

namespace mqlab::net::amqp {

/// What one client was told.
struct observed {
  std::vector<client_message> delivered, returned;
  std::vector<std::uint16_t> cancelled;
  std::vector<std::string> channel_errors;
  std::string closed;
  client_handlers handlers() {
    return {.delivered = [this](client_message m) { delivered.push_back(std::move(m)); },
            .returned = [this](client_message m) { returned.push_back(std::move(m)); },
            .cancelled = [this](std::uint16_t ch) { cancelled.push_back(ch); },
            .channel_closed = [this](std::uint16_t, std::string_view text) { channel_errors.emplace_back(text); },
            .closed = [this](std::string_view reason) { closed = reason.empty() ? "closed" : std::string(reason); }};
  }
};

inline const broker::amqp::basic_properties plain;

}  // namespace mqlab::net::amqp
