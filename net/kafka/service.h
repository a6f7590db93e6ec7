// The Kafka broker as its listeners see it: one request at a time against the embedded
// cluster core (which may hold several brokers, each behind its own listener) and the consumer
// groups. Requests that cannot be answered at once (a JoinGroup barrier, a SyncGroup waiting
// for the leader, a Fetch waiting for min_bytes) are answered later through completions,
// addressed to the connection and reply slot the request came from. No sockets.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "broker/kafka/cluster.h"
#include "broker/kafka/consumer_group.h"
#include "net/kafka/protocol.h"

namespace mqlab::net::kafka {

struct node_address {
  std::int32_t id = 0;
  std::string host = "127.0.0.1";
  std::uint16_t port = 9092;
};

struct service_options {
  bool auto_create_topics = true;            // auto.create.topics.enable
  std::int32_t default_partitions = 1;       // num.partitions
  std::int16_t default_replication_factor = 1;
  std::string cluster_id = "mqlab";
  std::int64_t replica_fetch_interval_ms = 5;       // how often the ISR is checked for laggards
  std::int64_t replica_fetch_wait_max_ms = 500;     // replica.fetch.wait.max.ms
  std::int64_t replica_fetch_backoff_ms = 1'000;    // replica.fetch.backoff.ms: after a failed fetch
  std::int64_t log_clean_interval_ms = 1'000;       // retention and compaction checks
  // Limits, so that no request can make the broker allocate without bound (a partition costs
  // its state and log whether or not it is ever written).
  std::int32_t max_partitions_per_topic = 10'000;   // more: INVALID_PARTITIONS
  std::int32_t max_partitions = 50'000;             // all topics together; more: POLICY_VIOLATION
  std::int32_t max_creations_per_request = 100;     // topics one CreateTopics (THROTTLING_QUOTA_EXCEEDED
                                                    // beyond) or one Metadata (LEADER_NOT_AVAILABLE) may create
  std::size_t fetch_max_bytes = 50 << 20;           // one Fetch response, whatever the request asks (KIP-74: at
                                                    // least one batch still goes out, so consumers progress)
};

/// Where a response goes: a connection and its place in that connection's reply order.
struct reply_slot {
  std::uint64_t connection = 0;
  std::uint64_t slot = 0;
};

/// A response body begins with room for the response header (size and correlation id), which
/// the connection fills in: a large Fetch response then goes out without being copied.
inline constexpr std::size_t response_header_size = 8;
inline std::string response_body() { return std::string(response_header_size, '\0'); }

/// What a handler made of a request.
struct outcome {
  enum class kind { respond, later, silent };  // silent: Produce with acks=0
  kind what = kind::respond;
  std::string body = response_body();
};

struct completion {
  reply_slot to;
  std::string body = response_body();
};

class service {
 public:
  service(broker::kafka::cluster& core, service_options options = {});

  /// The address clients are given for `node` (Metadata, FindCoordinator).
  void advertise(node_address address);
  const node_address& address(std::int32_t node) const { return addresses_.at(node); }
  std::vector<node_address> live_nodes() const;

  /// Runs one request that reached `node`; `body` is positioned after the header. Throws
  /// wire_error on a malformed body.
  outcome handle(const request_header& header, wire_reader& body, std::int32_t node, reply_slot from,
                 std::int64_t now_ms);
  /// Replies finished since the last call, for connections to slot in.
  std::vector<completion> take_completions();
  /// The connection is gone: its parked fetches are dropped (group members stay until their
  /// sessions expire, as with Kafka).
  void forget(std::uint64_t connection);
  /// The connection is a follower broker's link: its Fetch requests may name a replica id.
  /// Any other connection that does is closed, since a replica fetch moves the high watermark.
  void trust_replica_link(std::uint64_t connection) { replica_links_.insert(connection); }
  /// Every accepted offset commit is handed to `keep` (a log store); if it fails, the commit is
  /// answered KAFKA_STORAGE_ERROR.
  using commit_keeper = std::function<std::expected<void, std::string>(
      const std::string& group, const broker::kafka::topic_partition& tp, std::int64_t offset)>;
  void record_commits(commit_keeper keep) { keep_commit_ = std::move(keep); }

  /// Group sessions and rebalance timeouts, long-poll fetch deadlines, follower replication
  /// (acks=1 records reach the high watermark once the in-sync followers have them), retention.
  void advance(std::int64_t now_ms);
  std::int64_t next_deadline() const;

  /// Followers copy from their leaders over the network (the server's replica fetchers send
  /// Fetch requests with their broker id) instead of by replication ticks, and acks=all replies
  /// wait until the in-sync followers have the records.
  void replicate_over_network() { core_.set_follower_fetching(true); }
  const service_options& options() const { return options_; }
  /// Every partition `follower` replicates from `leader`, with the follower's log end offset:
  /// what its next fetch asks for.
  std::vector<std::pair<broker::kafka::topic_partition, std::int64_t>> follower_positions(std::int32_t follower,
                                                                                         std::int32_t leader) const;
  /// A follower's fetch came back: the records join its replica; waiting replies may now go.
  void replicated(std::int32_t follower, const std::string& topic, std::int32_t partition,
                  std::vector<broker::kafka::record> records, std::int64_t now_ms);

  /// A broker process dies or comes back: leadership moves (the transport closes its sockets).
  void crash(std::int32_t node, std::int64_t now_ms);
  void restart(std::int32_t node, std::int64_t now_ms);

  broker::kafka::cluster& core() { return core_; }
  const broker::kafka::consumer_group* group(const std::string& id) const;

 private:
  struct parked_fetch {
    reply_slot from;
    std::int16_t version = 0;
    std::int32_t node = 0;
    std::string request;  // the body, replayed when data arrives or the wait is over
    std::int64_t deadline_ms = 0;
    // A consumer's fetch waiting for min_bytes: the committed bytes past its offsets counted so
    // far, and up to which offset of each of its partitions (in request order) they were counted.
    std::size_t counted = 0;
    std::vector<std::int64_t> counted_to;
  };
  struct pending_group_reply {
    reply_slot from;
    std::int16_t version = 0;
  };

  outcome api_versions(std::int16_t version);
  outcome metadata(wire_reader& in, std::int16_t version, std::int64_t now_ms);
  outcome create_topics(wire_reader& in, std::int16_t version, std::int64_t now_ms);
  outcome list_offsets(wire_reader& in, std::int16_t version, std::int32_t node);
  struct produced {
    std::string topic;
    std::int32_t partition = 0;
    broker::kafka::error_code error = broker::kafka::error_code::none;
    std::int64_t base = -1, end = -1;  // the records' offsets, [base, end)
  };
  struct parked_produce {
    reply_slot from;
    std::int16_t version = 0;
    std::vector<produced> results;
    std::int64_t deadline_ms = 0;
  };
  outcome produce(wire_reader& in, std::int16_t version, std::int32_t node, reply_slot from, std::int64_t now_ms);
  static std::string produce_response(std::int16_t version, const std::vector<produced>& results);
  /// Answers acks=all produces whose records the in-sync followers now have (or whose timeout passed).
  void wake_produces(std::int64_t now_ms);
  outcome fetch(wire_reader& in, std::int16_t version, std::int32_t node, reply_slot from, std::int64_t now_ms);
  /// Builds a fetch response; nullopt when it holds fewer than min_bytes and may still wait.
  std::optional<std::string> fetch_response(wire_reader& in, std::int16_t version, std::int32_t node, bool final,
                                            std::int64_t now_ms);
  /// Appends one batch of committed records from `offset`, about `cap` bytes at most.
  broker::kafka::error_code append_batch(std::string& body, const std::string& topic, std::int32_t p,
                                         std::int64_t offset, std::size_t cap) const;
  /// Appends what a follower lacks of the leader's log, uncommitted records included.
  broker::kafka::error_code append_follower_batch(std::string& body, const std::string& topic, std::int32_t p,
                                                  std::int32_t follower, std::size_t cap, std::int64_t now_ms);
  void wake_fetches(std::int64_t now_ms);
  /// Whether a parked fetch may now hold its min_bytes: its partitions' records that became
  /// committed since it last looked are counted, not encoded, so that a consumer waiting for
  /// many bytes costs each produce what that produce added, not all that is waiting.
  bool may_be_enough(parked_fetch& f) const;
  outcome find_coordinator(wire_reader& in);
  outcome join_group(wire_reader& in, const request_header& header, reply_slot from, std::int32_t node, std::int64_t now_ms);
  outcome sync_group(wire_reader& in, std::int16_t version, reply_slot from, std::int32_t node, std::int64_t now_ms);
  outcome heartbeat(wire_reader& in, std::int16_t version, std::int32_t node, std::int64_t now_ms);
  outcome leave_group(wire_reader& in, std::int16_t version, std::int32_t node, std::int64_t now_ms);
  outcome offset_commit(wire_reader& in, std::int16_t version, std::int32_t node);
  outcome offset_fetch(wire_reader& in, std::int16_t version, std::int32_t node);
  /// Sends the join and sync replies that were waiting to the requests that asked.
  void collect_group_replies();

  /// NONE if `node` leads the partition; UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE or
  /// NOT_LEADER_OR_FOLLOWER otherwise.
  broker::kafka::error_code leadership(const std::string& topic, std::int32_t p, std::int32_t node) const;
  /// Which broker coordinates `group` (the first live one from a hash of its name).
  std::int32_t coordinator(const std::string& group) const;
  /// The group, if `node` coordinates it; creating it when absent.
  broker::kafka::consumer_group* coordinated(const std::string& group, std::int32_t node);
  broker::kafka::error_code create_topic(const std::string& name, std::int32_t partitions, std::int16_t replication,
                                         const std::map<std::string, std::string>& configs, std::string* message,
                                         std::int64_t now_ms);

  broker::kafka::cluster& core_;
  service_options options_;
  std::map<std::int32_t, node_address> addresses_;
  std::map<std::uint64_t, pending_group_reply> pending_;  // by the coordinator's tag
  std::set<std::uint64_t> replica_links_;
  std::vector<parked_fetch> parked_;
  std::vector<parked_produce> parked_produces_;
  std::int64_t next_replication_ms_ = 0, next_clean_ms_ = 0;
  std::vector<completion> completions_;
  commit_keeper keep_commit_;
};

}  // namespace mqlab::net::kafka
