// Credit flow bookkeeping: a queue of uncredited forwards per link, a count per connection.
#include "net/amqp/credit_flow.h"

namespace mqlab::net::amqp {

credit_flow::credit_flow(std::uint32_t nodes) : sent_(nodes), handled_(nodes, 0) {}

void credit_flow::forwarded(std::uint32_t to, std::uint32_t conn) {
  sent_.at(to).push_back(conn);
  if (conn != 0) ++outstanding_[conn];
}

bool credit_flow::settle(std::uint32_t conn) {
  const auto it = outstanding_.find(conn);
  if (it == outstanding_.end()) return false;
  const bool leaves = it->second == initial_credit;
  if (--it->second == 0) outstanding_.erase(it);
  return leaves;
}

std::vector<std::uint32_t> credit_flow::granted(std::uint32_t from, std::uint32_t n) {
  std::vector<std::uint32_t> free;
  auto& sent = sent_.at(from);
  for (; n > 0 && !sent.empty(); --n) {
    if (settle(sent.front())) free.push_back(sent.front());
    sent.pop_front();
  }
  return free;
}

std::vector<std::uint32_t> credit_flow::lost(std::uint32_t to) {
  return granted(to, static_cast<std::uint32_t>(sent_.at(to).size()));
}

bool credit_flow::in_flow(std::uint32_t conn) const {
  const auto it = outstanding_.find(conn);
  return it != outstanding_.end() && it->second >= initial_credit;
}

std::uint32_t credit_flow::handled(std::uint32_t from) {
  if (++handled_.at(from) < more_credit_after) return 0;
  handled_.at(from) = 0;
  return more_credit_after;
}

}  // namespace mqlab::net::amqp
