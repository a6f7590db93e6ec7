// STOMP frame decoding and encoding. The decoder scans each byte once: the head's lines as they
// arrive (so an endless line is refused at its limit, not buffered), then the body.
#include "net/stomp/frame.h"

#include <charconv>

namespace mqlab::net::stomp {

namespace {

// CONNECT, STOMP and CONNECTED are never escaped, so a 1.0 client can read the reply to a
// CONNECT that offered 1.1 or 1.2.
bool escapes(std::string_view command, version v) {
  return v != version::v1_0 && command != "CONNECT" && command != "STOMP" && command != "CONNECTED";
}

std::string_view without_cr(std::string_view line) {
  return !line.empty() && line.back() == '\r' ? line.substr(0, line.size() - 1) : line;
}

std::expected<std::string, decode_error> unescape(std::string_view text, std::string_view line) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    const char c = i + 1 < text.size() ? text[++i] : '\0';
    switch (c) {
      case 'r': out += '\r'; break;
      case 'n': out += '\n'; break;
      case 'c': out += ':'; break;
      case '\\': out += '\\'; break;
      default: return std::unexpected(decode_error{"Unable to parser header line [" + std::string(line) + "]"});
    }
  }
  return out;
}

void escape_into(std::string_view text, std::string& out) {
  for (char c : text) {
    switch (c) {
      case '\r': out += "\\r"; break;
      case '\n': out += "\\n"; break;
      case ':': out += "\\c"; break;
      case '\\': out += "\\\\"; break;
      default: out += c;
    }
  }
}

}  // namespace

std::string_view to_string(version v) {
  switch (v) {
    case version::v1_0: return "1.0";
    case version::v1_1: return "1.1";
    case version::v1_2: return "1.2";
  }
  return "1.0";
}

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  return text;
}

std::optional<std::string_view> frame::get(std::string_view name) const {
  for (const auto& h : headers) {
    if (h.name == name) return h.value;
  }
  return std::nullopt;
}

frame& frame::add(std::string name, std::string value) {
  headers.push_back({std::move(name), std::move(value)});
  return *this;
}

std::expected<std::optional<frame>, decode_error> decoder::next() {
  if (broken_) return std::unexpected(*broken_);
  auto result = head_ ? read_body() : read_head();
  if (!result) broken_ = result.error();
  if (pos_ > 0 && pos_ * 2 >= in_.size()) {
    // Drop what was consumed once it is at least half the buffer: amortised O(1) per byte.
    in_.erase(0, pos_);
    scanned_ -= pos_;
    pos_ = 0;
  }
  return result;
}

std::expected<std::optional<frame>, decode_error> decoder::read_head() {
  // Heart-beats: EOLs between frames.
  while (scanned_ == pos_ && pos_ < in_.size()) {
    if (in_[pos_] == '\n') {
      scanned_ = ++pos_;
    } else if (in_[pos_] == '\r' && pos_ + 1 < in_.size() && in_[pos_ + 1] == '\n') {
      pos_ += 2;
      scanned_ = pos_;
    } else {
      break;
    }
  }
  // Lines of the head from scanned_ on; scanned_ stays at the start of the first unfinished one.
  for (;;) {
    const std::size_t eol = in_.find('\n', scanned_);
    const std::size_t length = (eol == std::string::npos ? in_.size() : eol) - scanned_;
    if (lines_ == 0 && length > limits_.command_bytes) return std::unexpected(decode_error{"The maximum command length was exceeded"});
    if (lines_ > 0 && length > limits_.header_line_bytes) return std::unexpected(decode_error{"The maximum header length was exceeded"});
    if (eol == std::string::npos) return std::nullopt;
    const bool blank = without_cr(std::string_view(in_).substr(scanned_, eol - scanned_)).empty();
    scanned_ = eol + 1;
    if (blank && lines_ > 0) break;
    if (++lines_ > limits_.headers + 1) return std::unexpected(decode_error{"The maximum number of headers was exceeded"});
  }
  // The whole head is here: parse it.
  const std::string_view head = std::string_view(in_).substr(pos_, scanned_ - pos_);
  lines_ = 0;
  head_.emplace();
  std::size_t at = head.find('\n');
  head_->command = std::string(without_cr(head.substr(0, at)));
  const bool escaped = escapes(head_->command, version_);
  for (std::size_t next = head.find('\n', at + 1); next != std::string_view::npos; at = next, next = head.find('\n', at + 1)) {
    const std::string_view line = without_cr(head.substr(at + 1, next - at - 1));
    if (line.empty()) break;
    auto h = parse_header(line, escaped);
    if (!h) return std::unexpected(h.error());
    head_->headers.push_back(std::move(*h));
  }
  pos_ = scanned_;
  if (const auto length = head_->get("content-length")) {
    const std::string_view digits = trimmed(*length);
    if (digits.starts_with('-') && digits.size() > 1) return std::unexpected(decode_error{"Specified content-length may not be negative"});
    std::size_t n = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec == std::errc::result_out_of_range) return std::unexpected(decode_error{"The maximum data length was exceeded"});
    if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty()) {
      return std::unexpected(decode_error{"Specified content-length is not a valid integer"});
    }
    if (n > limits_.body_bytes) return std::unexpected(decode_error{"The maximum data length was exceeded"});
    content_length_ = n;
  }
  return read_body();
}

std::expected<header, decode_error> decoder::parse_header(std::string_view line, bool escaped) const {
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return std::unexpected(decode_error{"Unable to parser header line [" + std::string(line) + "]"});
  }
  std::string_view value = line.substr(colon + 1);
  if (!escaped) {
    if (version_ == version::v1_0) {
      value = trimmed(value);  // STOMP 1.0 servers, ActiveMQ's among them, trim header values
    }
    return header{std::string(line.substr(0, colon)), std::string(value)};
  }
  auto name = unescape(line.substr(0, colon), line);
  if (!name) return std::unexpected(name.error());
  auto text = unescape(value, line);
  if (!text) return std::unexpected(text.error());
  return header{std::move(*name), std::move(*text)};
}

std::expected<std::optional<frame>, decode_error> decoder::read_body() {
  std::size_t end = 0;
  if (content_length_) {
    if (in_.size() - pos_ <= *content_length_) return std::nullopt;
    end = pos_ + *content_length_;
    if (in_[end] != '\0') {
      return std::unexpected(decode_error{"content-length bytes were read and there was no trailing null byte"});
    }
  } else {
    end = in_.find('\0', scanned_);
    if (end == std::string::npos) {
      scanned_ = in_.size();
      if (in_.size() - pos_ > limits_.body_bytes) return std::unexpected(decode_error{"The maximum data length was exceeded"});
      return std::nullopt;
    }
    if (end - pos_ > limits_.body_bytes) return std::unexpected(decode_error{"The maximum data length was exceeded"});
  }
  frame f = std::move(*head_);
  head_.reset();
  content_length_.reset();
  f.body.assign(in_, pos_, end - pos_);
  pos_ = scanned_ = end + 1;
  return f;
}

void encode(const frame& f, version v, std::string& out) {
  const bool escaped = escapes(f.command, v);
  out += f.command;
  out += '\n';
  for (const auto& h : f.headers) {
    if (escaped) {
      escape_into(h.name, out);
      out += ':';
      escape_into(h.value, out);
    } else {
      out += h.name;
      out += ':';
      out += h.value;
    }
    out += '\n';
  }
  if (f.body.find('\0') != std::string::npos && !f.has("content-length")) {
    out += "content-length:";
    out += std::to_string(f.body.size());
    out += '\n';
  }
  out += '\n';
  out += f.body;
  out += '\0';
}

std::string encode(const frame& f, version v) {
  std::string out;
  encode(f, v, out);
  return out;
}

}  // namespace mqlab::net::stomp
