// Routing per exchange type. Direct keys are a hash index, topic patterns a trie, headers a
// scan over bindings (RabbitMQ's headers exchange is a scan too).
#include "broker/amqp/exchange.h"

#include <algorithm>

namespace mqlab::broker::amqp {

bool parse_exchange_type(std::string_view name, exchange_type& out) {
  if (name == "direct") out = exchange_type::direct;
  else if (name == "fanout") out = exchange_type::fanout;
  else if (name == "topic") out = exchange_type::topic;
  else if (name == "headers") out = exchange_type::headers;
  else return false;
  return true;
}

const char* to_string(exchange_type t) {
  switch (t) {
    case exchange_type::direct: return "direct";
    case exchange_type::fanout: return "fanout";
    case exchange_type::topic: return "topic";
    case exchange_type::headers: return "headers";
  }
  return "?";
}

exchange::exchange(std::string name, exchange_type type, bool durable, bool auto_delete, bool internal,
                   field_table args)
    : name_(std::move(name)), type_(type), durable_(durable), auto_delete_(auto_delete), internal_(internal),
      arguments_(std::move(args)) {}

bool exchange::bind(destination dest, std::string_view key, const field_table& args) {
  const bool exists = std::any_of(bindings_.begin(), bindings_.end(), [&](const binding& b) {
    return b.dest == dest && b.key == key && equivalent(b.arguments, args);
  });
  if (exists) return false;
  bindings_.push_back(binding{dest, std::string(key), args});
  index_add(bindings_.back());
  return true;
}

bool exchange::unbind(destination dest, std::string_view key, const field_table& args) {
  const auto it = std::find_if(bindings_.begin(), bindings_.end(), [&](const binding& b) {
    return b.dest == dest && b.key == key && equivalent(b.arguments, args);
  });
  if (it == bindings_.end()) return false;
  index_remove(*it);
  bindings_.erase(it);
  return true;
}

void exchange::unbind_all(destination dest) {
  for (const auto& b : bindings_) {
    if (b.dest == dest) index_remove(b);
  }
  std::erase_if(bindings_, [&](const binding& b) { return b.dest == dest; });
}

void exchange::index_add(const binding& b) {
  if (type_ == exchange_type::direct) direct_[b.key].push_back(b.dest);
  if (type_ == exchange_type::topic) topic_.add(b.key, b.dest.packed());
}

void exchange::index_remove(const binding& b) {
  if (type_ == exchange_type::direct) {
    auto it = direct_.find(b.key);
    if (it != direct_.end()) {
      auto pos = std::find(it->second.begin(), it->second.end(), b.dest);
      if (pos != it->second.end()) it->second.erase(pos);
      if (it->second.empty()) direct_.erase(it);
    }
  }
  if (type_ == exchange_type::topic) {
    // Another binding with the same pattern and destination (different arguments) keeps it.
    const auto same = std::count_if(bindings_.begin(), bindings_.end(),
                                    [&](const binding& o) { return o.dest == b.dest && o.key == b.key; });
    if (same <= 1) topic_.remove(b.key, b.dest.packed());
  }
}

bool exchange::headers_match(const field_table& binding_args, const field_table& headers) {
  bool match_any = false;
  if (const auto* x = find(binding_args, "x-match"); x && x->as_string() && *x->as_string() == "any") {
    match_any = true;
  }
  bool any = false, all = true;
  for (const auto& [k, expected] : binding_args) {
    if (k.starts_with("x-")) continue;  // x- arguments are not matched (RabbitMQ < 3.12 default)
    const field_value* actual = find(headers, k);
    // A void binding value only asks for the header to be present.
    const bool ok = actual != nullptr && (std::holds_alternative<std::monostate>(expected.v) || *actual == expected);
    any = any || ok;
    all = all && ok;
  }
  return match_any ? any : all;
}

void exchange::route(std::string_view routing_key, const field_table& headers, std::vector<destination>& out) const {
  switch (type_) {
    case exchange_type::fanout:
      for (const auto& b : bindings_) out.push_back(b.dest);
      return;
    case exchange_type::direct:
      if (auto it = direct_.find(routing_key); it != direct_.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
      }
      return;
    case exchange_type::topic: {
      topic_scratch_.clear();
      topic_.match(routing_key, topic_scratch_);
      for (auto id : topic_scratch_) out.push_back(destination::unpack(id));
      return;
    }
    case exchange_type::headers:
      for (const auto& b : bindings_) {
        if (headers_match(b.arguments, headers)) out.push_back(b.dest);
      }
      return;
  }
}

}  // namespace mqlab::broker::amqp
