// The AMQP broker's files: the definitions and the journal of persistent messages, written from
// the core's journal and replayed into a fresh core.
#include "net/amqp/message_store.h"

#include <algorithm>

#include <fmt/format.h>

#include "net/amqp/codec.h"
#include "net/amqp/wire.h"
#include "net/storage/file.h"

namespace mqlab::net::amqp {

namespace fs = std::filesystem;
using broker::amqp::journal_entry;
using broker::amqp::message_ptr;

namespace {

// The first byte of each journal record says what it is.
constexpr char push_record = 'P', delivered_record = 'D', settled_record = 'A', removed_record = 'R';
constexpr std::uint8_t definitions_format = 1;

std::string key_of(std::string_view vhost, std::string_view queue) {
  std::string key(vhost);
  key.push_back('\0');
  key.append(queue);
  return key;
}

/// key_of's vhost and queue.
std::pair<std::string_view, std::string_view> split_key(std::string_view key) {
  const std::size_t split = key.find('\0');
  return {key.substr(0, split), key.substr(split + 1)};
}

std::string push_payload(std::string_view vhost, std::string_view queue, std::uint64_t sequence,
                         const broker::amqp::message& m) {
  std::string out(1, push_record);
  wire_writer w(out);
  w.shortstr(vhost);
  w.shortstr(queue);
  w.longlong_uint(sequence);
  w.shortstr(m.exchange());
  w.shortstr(m.routing_key());
  std::string header;
  write_content_header(header, *m.properties(), m.body().size());
  w.long_string(header);
  w.long_string(m.body());
  return out;
}

std::string mark_payload(char kind, std::string_view vhost, std::string_view queue, std::uint64_t sequence) {
  std::string out(1, kind);
  wire_writer w(out);
  w.shortstr(vhost);
  w.shortstr(queue);
  w.longlong_uint(sequence);
  return out;
}

message_ptr read_message(wire_reader& in) {
  std::string exchange(in.shortstr()), routing_key(in.shortstr());
  auto header = decode_content_header(in.longstr_view());
  if (!header) throw wire_error{header.error().code, "a message's properties: " + header.error().text};
  std::string body(in.longstr_view());
  return broker::amqp::make_message(std::move(exchange), std::move(routing_key), std::move(body),
                                    std::make_shared<broker::amqp::basic_properties>(std::move(header->properties)));
}

std::string encode(const broker::amqp::durable_definitions& d) {
  std::string out(1, static_cast<char>(definitions_format));
  wire_writer w(out);
  w.long_uint(static_cast<std::uint32_t>(d.exchanges.size()));
  for (const auto& e : d.exchanges) {
    w.shortstr(e.vhost);
    w.shortstr(e.args.name);
    w.shortstr(e.args.type);
    w.octet(static_cast<std::uint8_t>((e.args.auto_delete ? 1 : 0) | (e.args.internal ? 2 : 0)));
    w.table(e.args.arguments);
  }
  w.long_uint(static_cast<std::uint32_t>(d.queues.size()));
  for (const auto& q : d.queues) {
    w.shortstr(q.vhost);
    w.shortstr(q.args.name);
    w.long_uint(q.owner.value);
    w.octet(q.args.auto_delete ? 1 : 0);
    w.table(q.args.arguments);
  }
  w.long_uint(static_cast<std::uint32_t>(d.bindings.size()));
  for (const auto& b : d.bindings) {
    w.shortstr(b.vhost);
    w.shortstr(b.source);
    w.shortstr(b.destination);
    w.octet(b.to_exchange ? 1 : 0);
    w.shortstr(b.routing_key);
    w.table(b.arguments);
  }
  return out;
}

/// Each count is bounded by what the bytes can hold, so a damaged count allocates nothing.
std::uint32_t count(wire_reader& in) {
  const std::uint32_t n = in.long_uint();
  if (n > in.remaining()) throw wire_error{broker::amqp::reply_code::frame_error, "a count beyond the file"};
  return n;
}

broker::amqp::durable_definitions decode(std::string_view bytes) {
  wire_reader in(bytes);
  if (in.octet() != definitions_format) throw wire_error{broker::amqp::reply_code::frame_error, "an unknown format"};
  broker::amqp::durable_definitions d;
  for (std::uint32_t n = count(in); n > 0; --n) {
    auto& e = d.exchanges.emplace_back();
    e.vhost = in.shortstr();
    e.args.name = in.shortstr();
    e.args.type = in.shortstr();
    const std::uint8_t flags = in.octet();
    e.args.durable = true;
    e.args.auto_delete = (flags & 1) != 0;
    e.args.internal = (flags & 2) != 0;
    e.args.arguments = in.table();
  }
  for (std::uint32_t n = count(in); n > 0; --n) {
    auto& q = d.queues.emplace_back();
    q.vhost = in.shortstr();
    q.args.name = in.shortstr();
    q.owner = broker::node_id{in.long_uint()};
    q.args.durable = true;
    q.args.auto_delete = in.octet() != 0;
    q.args.arguments = in.table();
  }
  for (std::uint32_t n = count(in); n > 0; --n) {
    auto& b = d.bindings.emplace_back();
    b.vhost = in.shortstr();
    b.source = in.shortstr();
    b.destination = in.shortstr();
    b.to_exchange = in.octet() != 0;
    b.routing_key = in.shortstr();
    b.arguments = in.table();
  }
  return d;
}

}  // namespace

std::expected<std::unique_ptr<message_store>, std::string> message_store::open(const message_store_options& options,
                                                                               broker::amqp::broker& core,
                                                                               storage::flusher& flusher,
                                                                               broker::instant now,
                                                                               message_recovery& report) {
  std::unique_ptr<message_store> store(new message_store(options, core, flusher));
  std::error_code ec;
  fs::create_directories(options.dir, ec);
  if (ec) return std::unexpected(fmt::format("cannot create {}: {}", options.dir.string(), ec.message()));
  if (auto ok = store->restore_definitions(now, report); !ok) return std::unexpected(ok.error());
  if (auto ok = store->restore_messages(now, report); !ok) return std::unexpected(ok.error());
  store->definitions_version_ = core.metadata_version();
  store->definitions_written_ = encode(core.definitions());
  core.keep_journal(true);
  return store;
}

std::expected<void, std::string> message_store::restore_definitions(broker::instant now, message_recovery& report) {
  const fs::path path = options_.dir / "definitions";
  if (!fs::exists(path)) return {};
  auto bytes = storage::read_file(path);
  if (!bytes) return std::unexpected(bytes.error());
  const auto payload = storage::unframe_record(*bytes);
  if (!payload) {
    report.corruption = fmt::format("{}: not one whole record with a matching CRC", path.string());
    return {};
  }
  broker::amqp::durable_definitions d;
  try {
    d = decode(*payload);
  } catch (const wire_error& e) {
    report.corruption = fmt::format("{}: {}", path.string(), e.text);
    return {};
  }
  const auto loaded = core_.load_definitions(d, now);
  report.exchanges = loaded.exchanges;
  report.queues = loaded.queues;
  report.bindings = loaded.bindings;
  if (!loaded.refused.empty()) {
    report.corruption = fmt::format("{}: {} cannot be restored", path.string(), loaded.refused.front());
  }
  return {};
}

std::expected<void, std::string> message_store::restore_messages(broker::instant now, message_recovery& report) {
  storage::recovery_report r;
  std::string damage;
  auto journal = storage::segment_log::open(
      options_.dir / "messages", options_.segment_bytes,
      [&](std::uint64_t segment, std::uint64_t, std::string_view payload) {
        if (!damage.empty()) return;
        try {
          wire_reader in(payload.substr(1));
          const std::string vhost(in.shortstr()), queue(in.shortstr());
          queue_messages& messages = live_[key_of(vhost, queue)];
          if (payload[0] == removed_record) {
            messages.clear();
            return;
          }
          const std::uint64_t sequence = in.longlong_uint();
          if (payload[0] == push_record) {
            messages[sequence] = {read_message(in), false, segment, payload.size()};
          } else if (payload[0] == delivered_record) {
            if (auto it = messages.find(sequence); it != messages.end()) it->second.delivered = true;
          } else if (payload[0] == settled_record) {
            messages.erase(sequence);
          } else {
            throw wire_error{broker::amqp::reply_code::frame_error, "an unknown record kind"};
          }
        } catch (const wire_error& e) {
          damage = fmt::format("{}: a record that does not parse ({})", (options_.dir / "messages").string(), e.text);
        }
      },
      r, options_.repair);
  if (!journal) return std::unexpected(journal.error());
  journal_.emplace(std::move(*journal));
  next_base_ = journal_->active() ? journal_->active_base() + r.records + 1 : 0;
  report.segments = r.segments;
  report.torn_bytes = r.torn_bytes;
  if (report.corruption.empty()) report.corruption = !r.corruption.empty() ? r.corruption : damage;
  for (auto it = live_.begin(); it != live_.end();) {
    const auto [vhost, queue] = split_key(it->first);
    bool defined = true;
    for (auto& [sequence, m] : it->second) {
      defined = defined && core_.restore_message(vhost, queue, sequence, m.msg, m.delivered, now).has_value();
      if (!defined) break;
      ++report.messages;
      auto& use = live_per_segment_[m.segment];
      ++use.messages;
      use.bytes += m.bytes;
    }
    if (defined) {
      ++it;
      continue;
    }
    report.orphans += it->second.size();
    it = live_.erase(it);
  }
  return {};
}

std::expected<bool, std::string> message_store::persist() {
  const std::uint64_t before = flusher_.written();
  if (core_.metadata_version() != definitions_version_) {
    definitions_version_ = core_.metadata_version();
    if (auto ok = write_definitions(); !ok) return std::unexpected(ok.error());
  }
  core_.take_journal_into(scratch_);
  for (const auto& e : scratch_) {
    if (auto ok = write(e); !ok) return std::unexpected(ok.error());
  }
  if (!scratch_.empty()) {
    flusher_.wrote(journal_->active());
    if (auto ok = reclaim(); !ok) return std::unexpected(ok.error());
  }
  return flusher_.written() != before;
}

std::expected<void, std::string> message_store::write_definitions() {
  std::string encoded = encode(core_.definitions());
  if (encoded == definitions_written_) return {};  // an exclusive or transient change: nothing durable moved
  if (auto ok = storage::write_atomically(options_.dir / "definitions", storage::frame_record(encoded)); !ok) return ok;
  definitions_written_ = std::move(encoded);
  return {};
}

std::expected<void, std::string> message_store::append(const std::string& payload) {
  auto ok = journal_->append(payload, next_base_);
  ++next_base_;
  return ok;
}

std::expected<void, std::string> message_store::write(const journal_entry& e) {
  queue_messages& messages = live_[key_of(e.vhost, e.queue)];
  switch (e.what) {
    case journal_entry::kind::push: {
      const std::string payload = push_payload(e.vhost, e.queue, e.sequence, *e.msg);
      if (auto ok = append(payload); !ok) return ok;
      // A mirror's full sync may push again what it holds: the newer record replaces it.
      if (auto it = messages.find(e.sequence); it != messages.end()) settle(messages, it);
      keep(messages[e.sequence], e.msg, false, payload.size());
      return {};
    }
    case journal_entry::kind::delivered:
      if (auto it = messages.find(e.sequence); it != messages.end() && !it->second.delivered) {
        it->second.delivered = true;
        return append(mark_payload(delivered_record, e.vhost, e.queue, e.sequence));
      }
      return {};
    case journal_entry::kind::drop:
      if (auto it = messages.find(e.sequence); it != messages.end()) {
        settle(messages, it);
        return append(mark_payload(settled_record, e.vhost, e.queue, e.sequence));
      }
      return {};
    case journal_entry::kind::queue_removed:
      while (!messages.empty()) settle(messages, messages.begin());
      return append(mark_payload(removed_record, e.vhost, e.queue, 0));
  }
  return {};
}

void message_store::keep(live_message& m, message_ptr msg, bool delivered, std::uint64_t bytes) {
  m = {std::move(msg), delivered, journal_->active_base(), bytes};
  auto& use = live_per_segment_[m.segment];
  ++use.messages;
  use.bytes += bytes;
}

void message_store::settle(queue_messages& queue, queue_messages::iterator it) {
  auto use = live_per_segment_.find(it->second.segment);
  if (use != live_per_segment_.end()) {
    use->second.bytes -= it->second.bytes;
    if (--use->second.messages == 0) live_per_segment_.erase(use);
  }
  queue.erase(it);
}

std::expected<void, std::string> message_store::reclaim() {
  if (journal_->segment_count() > options_.max_segments && !live_per_segment_.empty() &&
      live_per_segment_.begin()->first < journal_->active_base() &&
      live_per_segment_.begin()->second.bytes < options_.segment_bytes / 2) {
    if (auto ok = compact(live_per_segment_.begin()->first); !ok) return ok;
  }
  journal_->drop_segments_below(live_per_segment_.empty() ? journal_->active_base() : live_per_segment_.begin()->first);
  return {};
}

std::expected<void, std::string> message_store::compact(std::uint64_t oldest) {
  // The oldest segment holds up every one after it for a few live messages: write them again at
  // the end (replay lets a later push of a sequence replace an earlier one), then let it go.
  for (auto& [key, messages] : live_) {
    const auto [vhost, queue] = split_key(key);
    for (auto& [sequence, m] : messages) {
      if (m.segment != oldest) continue;
      const std::string payload = push_payload(vhost, queue, sequence, *m.msg);
      if (auto ok = append(payload); !ok) return ok;
      if (m.delivered) {
        if (auto ok = append(mark_payload(delivered_record, vhost, queue, sequence)); !ok) return ok;
      }
      keep(m, m.msg, m.delivered, payload.size());
    }
  }
  live_per_segment_.erase(oldest);
  // The copies must be on disk before the segment they replace is deleted.
  if (flusher_.policy().what != storage::fsync_policy::kind::never) {
    if (auto ok = journal_->active()->sync(); !ok) return ok;
  }
  return {};
}

}  // namespace mqlab::net::amqp
