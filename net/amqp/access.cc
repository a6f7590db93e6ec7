// RabbitMQ's access-control table: which method needs configure, write or read on what.
#include "net/amqp/access.h"

#include <fmt/format.h>

namespace mqlab::net::amqp {
namespace {

enum class right { configure, write, read };

struct need {
  right what;
  const char* kind;  // "exchange" or "queue"
  std::string name;
};

/// The default exchange's name in permission checks.
std::string exchange_name(shortstr name) { return name.empty() ? "amq.default" : std::string(name); }
/// A server-named queue is checked as RabbitMQ's generated names begin.
std::string declared_queue(shortstr name) { return name.empty() ? "amq.gen" : std::string(name); }

std::vector<need> needs(const method& m, std::string_view last_queue) {
  // Elsewhere "" is the channel's last declared queue (spec §1.7.2); with none, the method
  // fails with NOT_FOUND before it touches anything, so there is nothing to check.
  const auto queue_name = [&](shortstr name) { return std::string(name.empty() ? last_queue : name); };
  if (const auto* d = std::get_if<exchange_declare>(&m)) {
    if (d->passive) return {};
    return {{right::configure, "exchange", exchange_name(d->exchange)}};
  }
  if (const auto* d = std::get_if<exchange_delete>(&m)) return {{right::configure, "exchange", exchange_name(d->exchange)}};
  if (const auto* d = std::get_if<queue_declare>(&m)) {
    if (d->passive) return {};
    return {{right::configure, "queue", declared_queue(d->queue)}};
  }
  if (const auto* d = std::get_if<queue_delete>(&m)) return {{right::configure, "queue", queue_name(d->queue)}};
  const auto binding = [](std::string to, const char* to_kind, shortstr from) {
    return std::vector<need>{{right::write, to_kind, std::move(to)}, {right::read, "exchange", exchange_name(from)}};
  };
  if (const auto* b = std::get_if<queue_bind>(&m)) return binding(queue_name(b->queue), "queue", b->exchange);
  if (const auto* b = std::get_if<queue_unbind>(&m)) return binding(queue_name(b->queue), "queue", b->exchange);
  if (const auto* b = std::get_if<exchange_bind>(&m)) return binding(exchange_name(b->destination), "exchange", b->source);
  if (const auto* b = std::get_if<exchange_unbind>(&m)) return binding(exchange_name(b->destination), "exchange", b->source);
  if (const auto* p = std::get_if<basic_publish>(&m)) return {{right::write, "exchange", exchange_name(p->exchange)}};
  if (const auto* g = std::get_if<basic_get>(&m)) return {{right::read, "queue", queue_name(g->queue)}};
  if (const auto* c = std::get_if<basic_consume>(&m)) return {{right::read, "queue", queue_name(c->queue)}};
  if (const auto* p = std::get_if<queue_purge>(&m)) return {{right::read, "queue", queue_name(p->queue)}};
  return {};
}

}  // namespace

std::expected<permission, std::string> parse_permission(std::string_view text) {
  std::vector<std::string> parts;
  for (std::size_t from = 0;;) {
    const std::size_t colon = text.find(':', from);
    parts.emplace_back(text.substr(from, colon == std::string_view::npos ? std::string_view::npos : colon - from));
    if (colon == std::string_view::npos) break;
    from = colon + 1;
  }
  if (parts.size() != 5 || parts[0].empty() || parts[1].empty()) {
    return std::unexpected(fmt::format("--permissions '{}': expected USER:VHOST:CONFIGURE:WRITE:READ", text));
  }
  permission rule{parts[0], parts[1], parts[2], parts[3], parts[4]};
  if (auto bad = invalid_pattern(rule)) return std::unexpected(fmt::format("--permissions '{}': {}", text, *bad));
  return rule;
}

std::optional<std::string> invalid_pattern(const permission& rule) {
  for (const std::string* p : {&rule.configure, &rule.write, &rule.read}) {
    try {
      std::regex check(*p);
    } catch (const std::regex_error& e) {
      return fmt::format("pattern '{}' is not a regular expression ({})", *p, e.what());
    }
  }
  return std::nullopt;
}

access::pattern access::compile(const std::string& text) {
  if (text.empty()) return {};
  if (text == ".*") return {.re = std::nullopt, .all = true};
  return {.re = std::regex(text), .all = false};
}

bool access::pattern::allows(std::string_view name) const {
  if (all) return true;
  return re && std::regex_search(name.begin(), name.end(), *re);
}

std::optional<access> access::of(const std::vector<permission>& rules, std::string_view user, std::string_view vhost) {
  access a;
  if (rules.empty()) {
    a.everything_ = true;
    return a;
  }
  for (const auto& r : rules) {
    if (r.user != user || r.vhost != vhost) continue;
    a.configure_ = compile(r.configure);
    a.write_ = compile(r.write);
    a.read_ = compile(r.read);
    return a;
  }
  return std::nullopt;
}

std::optional<std::string> access::refusal(const method& m, std::string_view user, std::string_view vhost,
                                           std::string_view last_queue) const {
  if (everything_) return std::nullopt;
  for (const auto& n : needs(m, last_queue)) {
    if (n.name.empty()) continue;
    const pattern& p = n.what == right::configure ? configure_ : n.what == right::write ? write_ : read_;
    if (!p.allows(n.name)) return fmt::format("access to {} '{}' in vhost '{}' refused for user '{}'", n.kind, n.name, vhost, user);
  }
  return std::nullopt;
}

}  // namespace mqlab::net::amqp
