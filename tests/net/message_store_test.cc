// RabbitMQ's durability promises, checked on a core restored from the files a first core's
// store wrote: durable exchanges, queues and bindings come back with their arguments; of the
// messages, exactly the persistent ones in durable queues that nobody acknowledged, in their
// order, with their properties, redelivered if they had gone out; transient messages,
// non-durable and exclusive queues are gone; a deleted queue's messages do not return with a
// new queue of its name; a torn tail loses only the record being written; a message that
// nobody settles does not keep the journal growing.
#include "net/amqp/message_store.h"

#include <filesystem>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "tests/net/temp_dir.h"

namespace mqlab::net::amqp {
namespace {

namespace fs = std::filesystem;
using namespace broker::amqp;
using broker::instant;

using testing::temp_dir;

std::shared_ptr<const basic_properties> persistent(std::uint8_t mode = 2) {
  auto p = std::make_shared<basic_properties>();
  p->delivery_mode = mode;
  p->content_type = "text/plain";
  p->headers.emplace_back("order", field_value(std::int64_t{7}));
  return p;
}

/// One broker process: a core with a client channel, and the store on `dir`.
struct node {
  explicit node(const fs::path& dir, message_store_options options = {})
      : flush(storage::fsync_policy{storage::fsync_policy::kind::never, {}}, [](auto f) { f(); }) {
    options.dir = dir;
    auto opened = message_store::open(options, core, flush, now, recovered);
    EXPECT_TRUE(opened) << (opened ? "" : opened.error());
    if (opened) store = std::move(*opened);
    conn = *core.open_connection("/", now);
    ch = {conn, 1};
    EXPECT_TRUE(core.channel_open(ch));
  }
  void declare(const std::string& queue, bool durable, field_table args = {}, bool exclusive = false) {
    queue_declare_args a{queue, false, durable, exclusive, false, std::move(args)};
    ASSERT_TRUE(core.queue_declare(ch, a, now)) << queue;
  }
  void publish(const std::string& exchange, const std::string& key, const std::string& body, std::uint8_t mode = 2) {
    ASSERT_TRUE(core.basic_publish(ch, exchange, key, false, persistent(mode), body, now));
  }
  std::optional<get_ok> get(const std::string& queue, bool no_ack) { return core.basic_get(ch, queue, no_ack, now).value(); }
  void persist() { ASSERT_TRUE(store->persist()); }
  /// Bodies left in a queue, and whether each comes redelivered.
  std::vector<std::pair<std::string, bool>> drain(const std::string& queue) {
    std::vector<std::pair<std::string, bool>> out;
    while (auto m = get(queue, true)) out.emplace_back(m->msg->body(), m->redelivered);
    return out;
  }

  instant now{1'000'000'000};
  broker::amqp::broker core;
  storage::flusher flush;
  message_recovery recovered;
  std::unique_ptr<message_store> store;
  connection_id conn = 0;
  channel_ref ch{0, 1};
};

TEST(message_store, a_restarted_broker_holds_exactly_the_unacknowledged_persistent_messages) {
  temp_dir d;
  {
    node n(d.path);
    ASSERT_TRUE(n.core.exchange_declare(n.ch, {"orders", "topic", false, true, false, false, {}}));
    field_table dead_letters;
    dead_letters.emplace_back("x-dead-letter-exchange", field_value(std::string("")));
    dead_letters.emplace_back("x-dead-letter-routing-key", field_value(std::string("parked")));
    n.declare("billing", true, dead_letters);
    n.declare("parked", true);
    n.declare("scratch", false);
    ASSERT_TRUE(n.core.queue_bind(n.ch, "billing", "orders", "order.*"));
    ASSERT_TRUE(n.core.queue_bind(n.ch, "scratch", "orders", "#"));
    for (int i = 1; i <= 5; ++i) n.publish("orders", "order.new", fmt::format("order {}", i));
    n.publish("orders", "order.new", "transient", 1);
    auto acked = n.get("billing", false);  // order 1: acknowledged, gone for good
    ASSERT_TRUE(n.core.basic_ack(n.ch, acked->delivery_tag, false, n.now));
    (void)n.get("billing", false);                                             // order 2: out, never acknowledged
    auto refused = n.get("billing", false);                                    // order 3: dead-lettered to parked
    ASSERT_TRUE(n.core.basic_reject(n.ch, refused->delivery_tag, false, n.now));
    n.persist();
  }  // the process dies: its connection and unacked delivery die with it, nothing more is written
  node after(d.path);
  EXPECT_EQ(after.recovered.exchanges, 1u);
  EXPECT_EQ(after.recovered.queues, 2u);
  EXPECT_EQ(after.recovered.bindings, 1u) << "the binding to a non-durable queue is not kept";
  EXPECT_TRUE(after.recovered.corruption.empty()) << after.recovered.corruption;
  EXPECT_FALSE(after.core.inspect_queue("/", "scratch")) << "non-durable queues are gone";
  const auto billing = after.drain("billing");
  using row = std::pair<std::string, bool>;
  EXPECT_EQ(billing, (std::vector<row>{{"order 2", true}, {"order 4", false}, {"order 5", false}}));
  EXPECT_EQ(after.drain("parked"), (std::vector<row>{{"order 3", false}}));
  // The binding routes again, and the dead-letter arguments came back with the queue.
  after.publish("orders", "order.paid", "order 6");
  auto m = after.get("billing", false);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->msg->body(), "order 6");
  EXPECT_EQ(m->msg->properties()->content_type, "text/plain");
  ASSERT_EQ(m->msg->properties()->headers.size(), 1u);
  ASSERT_TRUE(after.core.basic_reject(after.ch, m->delivery_tag, false, after.now));
  EXPECT_EQ(after.drain("parked").size(), 1u);
}

TEST(message_store, a_deleted_queue_does_not_bring_its_messages_back_under_the_same_name) {
  temp_dir d;
  {
    node n(d.path);
    n.declare("jobs", true);
    n.publish("", "jobs", "old job");
    ASSERT_TRUE(n.core.queue_delete(n.ch, "jobs", false, false, n.now));
    n.declare("jobs", true);
    n.publish("", "jobs", "new job");
    n.declare("mine", true, {}, /*exclusive=*/true);
    n.publish("", "mine", "private");
    n.persist();
  }
  node after(d.path);
  EXPECT_EQ(after.drain("jobs"), (std::vector<std::pair<std::string, bool>>{{"new job", false}}));
  EXPECT_FALSE(after.core.inspect_queue("/", "mine")) << "exclusive queues end with their connection";
  EXPECT_EQ(after.recovered.orphans, 1u);
}

TEST(message_store, a_torn_tail_loses_only_the_message_being_written) {
  temp_dir d;
  {
    node n(d.path);
    n.declare("q", true);
    n.publish("", "q", "kept");
    n.publish("", "q", "torn");
    n.persist();
  }
  const fs::path segment = d.path / "messages" / "00000000000000000000.seg";
  fs::resize_file(segment, fs::file_size(segment) - 1);
  node after(d.path);
  EXPECT_GT(after.recovered.torn_bytes, 0u);
  EXPECT_EQ(after.drain("q"), (std::vector<std::pair<std::string, bool>>{{"kept", false}}));
}

TEST(message_store, one_unsettled_message_does_not_keep_the_journal_growing) {
  temp_dir d;
  message_store_options small{.segment_bytes = 4'096, .max_segments = 4};
  {
    node n(d.path, small);
    n.declare("stuck", true);
    n.declare("busy", true);
    n.publish("", "stuck", "the one nobody reads");
    n.persist();
    for (int i = 0; i < 20'000; ++i) {
      n.publish("", "busy", std::string(100, 'x'));
      auto m = n.get("busy", false);
      ASSERT_TRUE(n.core.basic_ack(n.ch, m->delivery_tag, false, n.now));
      n.persist();
    }
    EXPECT_LE(n.store->segment_count(), small.max_segments + 1);
    EXPECT_LT(n.store->bytes(), 8 * small.segment_bytes) << "20 000 settled messages, 2.6 MB of journal, reclaimed";
  }
  node after(d.path, small);
  EXPECT_EQ(after.drain("stuck"), (std::vector<std::pair<std::string, bool>>{{"the one nobody reads", false}}));
  EXPECT_TRUE(after.drain("busy").empty());
}

TEST(message_store, a_damaged_definitions_file_is_reported_not_guessed) {
  temp_dir d;
  {
    node n(d.path);
    n.declare("q", true);
    n.persist();
  }
  const fs::path file = d.path / "definitions";
  fs::resize_file(file, fs::file_size(file) - 1);
  node after(d.path);
  EXPECT_NE(after.recovered.corruption.find("definitions"), std::string::npos) << after.recovered.corruption;
}

}  // namespace
}  // namespace mqlab::net::amqp
