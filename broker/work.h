// The work meter every core charges: what a call did, as counts of work kinds, per work site
// (a node's shared CPU, or one serialising process on it: a RabbitMQ queue, a channel, a Kafka
// partition leader). The core stays clock-free; models/ turns the counts into time on
// resources (SPEC §4.1). Metering is off until a caller asks for it, so the network server
// pays one predictable branch per charge; on, a call touches a handful of rows and allocates
// nothing once the rows' vector has grown to the widest call seen.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "broker/common.h"

namespace mqlab::broker {

enum class work_kind : std::uint8_t {
  frame,             // a protocol command taken in (publish, ack, produce request, send) or a delivery sent out
  route_direct,      // one exchange visited, by type: the routing step itself
  route_fanout,
  route_topic,
  route_headers,
  binding_examined,  // a binding (or trie node) looked at while routing; headers scan them all
  enqueue,           // a message joined a queue
  deliver,           // a message left for a consumer
  stored,            // a message that stayed in its queue after the call that brought it (no consumer could
                     // take it then): RabbitMQ's classic queue keeps it in its backing queue and fetches it
                     // again, where a message an empty queue hands straight to a consumer skips both
  ack,               // a delivery settled
  confirm,           // a publisher confirm owed for a publish (basic.ack or basic.nack back)
  bytes,             // message bytes moved through the site
  persist_bytes,     // bytes written to the message store / log
  fsync_request,     // a write that must be on disk before its confirm
  mirror_copy,       // a mirrored queue's new message, on the owner (multicast) and each mirror
  mirror_settle,     // an ack or reject replicated to a mirror
  transfer,          // a message crossing to another node (to its queue's owner, to a consumer there): on the
                     // process that sends it and on the node that takes it in
  record_appended,   // Kafka: a record appended to a partition's log
  fetch,             // Kafka: a fetch served (consumer or follower)
  record_fetched,    // Kafka: a record put into a fetch's answer (a consumer's or a follower's)
  record_replicated, // Kafka: a record a follower took in from its leader's answer, besides appending it
  selector_evaluation,  // JMS: a selector evaluated against a message
  memory_grown,      // bytes by which what a node holds grew past the most it held before: memory the
                     // operating system maps in on first touch (a page fault per page), once per byte
  socket_read,       // a read system call on a client's connection, with the handling around it (the event
                     // loop's wait, the write of what it produced): charged by models/ once per read, which
                     // takes all that arrived since the last; never by a core, which does no I/O
};
inline constexpr std::size_t work_kinds = static_cast<std::size_t>(work_kind::socket_read) + 1;

/// Where work is done. `process` 0 is the node's shared CPU; any other value names one
/// serialising process on that node (its meaning is the core's: queue id, channel, partition).
struct work_site {
  node_id node;
  std::uint64_t process = 0;
  bool operator==(const work_site&) const = default;
};

/// The counts charged to one site by the calls since the meter was last cleared.
struct work_row {
  work_site site;
  std::array<std::uint32_t, work_kinds> count{};
  std::uint32_t operator[](work_kind k) const { return count[static_cast<std::size_t>(k)]; }
};

class work_meter {
 public:
  void enable(bool on) { on_ = on; }
  bool enabled() const { return on_; }

  /// Adds `n` of `kind` at `site`. O(rows) — a call touches few sites.
  void charge(work_site site, work_kind kind, std::uint32_t n = 1) {
    if (on_) row(site).count[static_cast<std::size_t>(kind)] += n;
  }
  /// The rows charged since clear(), in the order their sites were first charged.
  std::span<const work_row> rows() const { return {rows_.data(), used_}; }
  void clear() { used_ = 0; }

 private:
  work_row& row(work_site site);

  std::vector<work_row> rows_;  // rows_[0, used_) are live; the rest keep their capacity
  std::size_t used_ = 0;
  bool on_ = false;
};

inline work_row& work_meter::row(work_site site) {
  for (std::size_t i = used_; i-- > 0;) {
    if (rows_[i].site == site) return rows_[i];
  }
  if (used_ == rows_.size()) rows_.emplace_back();
  work_row& r = rows_[used_++];
  r.site = site;
  r.count.fill(0);
  return r;
}

}  // namespace mqlab::broker
