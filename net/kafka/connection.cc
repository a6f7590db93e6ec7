// Request framing, version checks and in-order replies for one Kafka connection.
#include "net/kafka/connection.h"

#include <algorithm>

#include <fmt/format.h>

#include "net/byte_order.h"

namespace mqlab::net::kafka {

void connection::receive(std::string_view bytes, std::int64_t now_ms) {
  if (done_) return;
  last_received_ms_ = now_ms;
  const bool buffered = !in_.empty();
  if (buffered) in_.append(bytes);
  const std::string_view data = buffered ? std::string_view(in_) : bytes;
  std::size_t used = 0;
  while (!done_ && data.size() - used >= 4) {
    const auto size = load_be<std::int32_t>(data.data() + used);
    if (size < 8 || size > max_request_size) {
      finish(fmt::format("request size {} outside 8..{}", size, max_request_size));
      break;
    }
    if (data.size() - used - 4 < static_cast<std::size_t>(size)) break;
    handle(data.substr(used + 4, static_cast<std::size_t>(size)), now_ms);
    used += 4 + static_cast<std::size_t>(size);
  }
  // Keep only the partial request: erasing in place avoids copying a large one on every read.
  if (buffered) in_.erase(0, used);
  else in_.assign(data.substr(used));
  send_ready();
}

std::size_t connection::partial_request_size() const {
  // receive() handled every complete request and refused a bad size: what is left is one begun.
  if (done_ || in_.size() < 4) return 0;
  return 4 + static_cast<std::size_t>(load_be<std::int32_t>(in_.data()));
}

void connection::handle(std::string_view request, std::int64_t now_ms) {
  wire_reader in(request);
  request_header h;
  try {
    h = read_request_header(in);
  } catch (const wire_error& e) {
    finish("malformed request header: " + e.text);
    return;
  }
  const auto api = find_api(h.api_key);
  if (api && h.api_key == static_cast<std::int16_t>(api_key::api_versions) && h.api_version > api->max) {
    unsupported_api_versions(h.correlation_id);
    return;
  }
  if (!api || h.api_version < api->min || h.api_version > api->max) {
    finish(fmt::format("{} v{} is not supported", api_name(h.api_key), h.api_version));
    return;
  }
  const std::uint64_t slot = next_slot_++;
  replies_.push_back({slot, h.correlation_id, false, {}});
  try {
    outcome o = service_.handle(h, in, node_, {id_, slot}, now_ms);
    if (o.what == outcome::kind::silent) replies_.pop_back();
    else if (o.what == outcome::kind::respond) complete(slot, std::move(o.body));
  } catch (const wire_error& e) {
    replies_.pop_back();
    finish(fmt::format("malformed {} v{} request: {}", api_name(h.api_key), h.api_version, e.text));
  }
}

void connection::unsupported_api_versions(std::int32_t correlation_id) {
  // As Kafka brokers do (KIP-511): a v0 body with UNSUPPORTED_VERSION and the ApiVersions range,
  // on which librdkafka retries with v0. Its tagged fields are never read.
  const auto range = *find_api(static_cast<std::int16_t>(api_key::api_versions));
  std::string body = response_body();
  wire_writer w(body);
  w.int16(static_cast<std::int16_t>(broker::kafka::error_code::unsupported_version));
  w.array(1);
  w.int16(static_cast<std::int16_t>(range.key));
  w.int16(range.min);
  w.int16(range.max);
  const std::uint64_t slot = next_slot_++;
  replies_.push_back({slot, correlation_id, false, {}});
  complete(slot, std::move(body));
}

void connection::complete(std::uint64_t slot, std::string body) {
  auto it = std::ranges::find(replies_, slot, &reply::slot);
  if (it == replies_.end()) return;
  it->body = std::move(body);
  it->ready = true;
  send_ready();
}

void connection::send_ready() {
  while (!replies_.empty() && replies_.front().ready) {
    reply& r = replies_.front();
    store_be(r.body.data(), static_cast<std::int32_t>(r.body.size() - 4));
    store_be(r.body.data() + 4, r.correlation_id);
    if (out_.empty()) out_ = std::move(r.body);
    else out_.append(r.body);
    replies_.pop_front();
  }
}

void connection::expire_if_idle(std::int64_t now_ms, std::int64_t max_idle_ms) {
  if (done_ || !replies_.empty() || now_ms - last_received_ms_ < max_idle_ms) return;
  finish(fmt::format("idle for {} ms{} (connections.max.idle.ms {})", now_ms - last_received_ms_,
                     in_.empty() ? "" : fmt::format(" with {} bytes of a request", in_.size()), max_idle_ms));
}

void connection::finish(std::string reason) {
  done_ = true;
  end_reason_ = std::move(reason);
  service_.forget(id_);
}

}  // namespace mqlab::net::kafka
