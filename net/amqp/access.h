// Per-vhost permissions as RabbitMQ's `rabbitmqctl set_permissions USER CONF WRITE READ`: three
// regular expressions per user and virtual host, matched (unanchored, as RabbitMQ's re:run)
// against the names of the exchanges and queues a method touches. The table of which method
// needs which permission is RabbitMQ's access-control guide's.
#pragma once

#include <expected>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "net/amqp/methods.h"

namespace mqlab::net::amqp {

struct permission {
  std::string user, vhost;
  std::string configure, write, read;  // regular expressions; "" grants nothing
};

/// "USER:VHOST:CONFIGURE:WRITE:READ" (the patterns may not contain ':'); an error names the
/// value and what is wrong with it, an invalid pattern included.
std::expected<permission, std::string> parse_permission(std::string_view text);
/// "pattern 'P' is not a regular expression (why)" for the first of the rule's three patterns
/// that does not compile, or nullopt.
std::optional<std::string> invalid_pattern(const permission& rule);

/// What one user may do in one virtual host.
class access {
 public:
  /// The user's rights in `vhost`: everything when `rules` is empty (no permissions were
  /// configured), else the rule for (user, vhost); nullopt when there is none: the vhost is refused.
  static std::optional<access> of(const std::vector<permission>& rules, std::string_view user, std::string_view vhost);

  /// RabbitMQ's text for the first resource `m` needs and may not have ("access to queue 'q' in
  /// vhost '/' refused for user 'u'"), or nullopt when the method is allowed. An empty queue
  /// name stands for `last_queue`, the channel's last declared one.
  std::optional<std::string> refusal(const method& m, std::string_view user, std::string_view vhost,
                                     std::string_view last_queue) const;

 private:
  struct pattern {
    std::optional<std::regex> re;  // none: grants nothing
    bool all = false;              // ".*": grants everything without running the regex
    bool allows(std::string_view name) const;
  };
  static pattern compile(const std::string& text);
  bool everything_ = false;
  pattern configure_, write_, read_;
};

}  // namespace mqlab::net::amqp
