// RabbitMQ's credit flow between a publishing connection and the queues other nodes own
// (rabbit's credit_flow, default credit {400, 200}), over the cluster's peer links. A node
// forwards a client's messages to their queues' owners; each owner grants 200 more credit for
// every 200 forwards it has handled from that node, oldest first; a connection with 400 forwards
// not yet credited is in flow, and its node stops reading its socket until credit comes, so the
// publisher is held back by TCP as RabbitMQ holds it. Without it a node reading a fast publisher
// buffers for a busy owner without bound, and the owner's deliveries starve behind the
// publishes. Pure bookkeeping on one node's thread; no I/O.
#pragma once

#include <cstdint>
#include <deque>
#include <unordered_map>
#include <vector>

namespace mqlab::net::amqp {

class credit_flow {
 public:
  static constexpr std::uint32_t initial_credit = 400;
  static constexpr std::uint32_t more_credit_after = 200;

  explicit credit_flow(std::uint32_t nodes);

  // This node as the sender.
  /// Connection `conn` of this node (0: none, a message no client published here) forwarded a
  /// message to node `to`.
  void forwarded(std::uint32_t to, std::uint32_t conn);
  /// Node `from` granted `n` credit: it handled the oldest `n` forwards this node sent it.
  /// Returns the connections that leave flow.
  std::vector<std::uint32_t> granted(std::uint32_t from, std::uint32_t n);
  /// The link to node `to` went down: nothing sent there will be credited. Returns the
  /// connections that leave flow.
  std::vector<std::uint32_t> lost(std::uint32_t to);
  /// Whether connection `conn` has used up its credit: its socket must not be read.
  bool in_flow(std::uint32_t conn) const;

  // This node as the owner.
  /// A forward from node `from` was handled; returns the credit to grant it now (0 or more_credit_after).
  std::uint32_t handled(std::uint32_t from);
  /// A new link from node `from` began: counting starts again.
  void link_began(std::uint32_t from) { handled_.at(from) = 0; }

 private:
  /// One forward of `conn` is settled; true if that takes the connection out of flow.
  bool settle(std::uint32_t conn);

  std::vector<std::deque<std::uint32_t>> sent_;  // by node: the connections of uncredited forwards, oldest first
  std::unordered_map<std::uint32_t, std::uint32_t> outstanding_;  // by connection: its uncredited forwards
  std::vector<std::uint32_t> handled_;  // by node: forwards handled from it since the last grant
};

}  // namespace mqlab::net::amqp
