// STOMP 1.0, 1.1 and 1.2 frames over byte buffers: a decoder that takes bytes as they arrive
// (frames split anywhere, heart-beat EOLs between frames, CRLF line ends, content-length bodies
// that may hold NULs, header escaping from 1.1 on) and refuses what exceeds ActiveMQ's limits;
// and the encoder. No sockets here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mqlab::net::stomp {

enum class version : std::uint8_t { v1_0, v1_1, v1_2 };
/// "1.0", "1.1", "1.2".
std::string_view to_string(version v);
/// `text` without the spaces around it, as ActiveMQ trims the header values it reads as numbers
/// or names (and every header value in STOMP 1.0).
std::string_view trimmed(std::string_view text);

struct header {
  std::string name, value;
};

struct frame {
  std::string command;
  std::vector<header> headers;
  std::string body;

  /// A header's value; when a header repeats, the first one counts (STOMP 1.2 §"Repeated
  /// Header Entries"). nullopt when absent.
  std::optional<std::string_view> get(std::string_view name) const;
  bool has(std::string_view name) const { return get(name).has_value(); }
  frame& add(std::string name, std::string value);
};

/// The decoder's limits, ActiveMQ's StompWireFormat values: a longer command line, header line,
/// more headers or a larger body ends the connection.
struct frame_limits {
  std::size_t command_bytes = 1024;
  std::size_t header_line_bytes = 10 * 1024;
  std::size_t headers = 1000;
  std::size_t body_bytes = 100u << 20;
};

/// Why the byte stream cannot be read on (the text is ActiveMQ's, for the ERROR frame).
struct decode_error {
  std::string text;
};

class decoder {
 public:
  explicit decoder(frame_limits limits = {}) : limits_(limits) {}
  /// Header escaping follows the version once CONNECTED has named it (CONNECT itself is never
  /// escaped); 1.0 has none.
  void set_version(version v) { version_ = v; }
  void feed(std::string_view bytes) { in_.append(bytes); }
  /// The next complete frame, nullopt while more bytes are needed, or why the stream is broken
  /// (then it stays broken).
  std::expected<std::optional<frame>, decode_error> next();
  /// Bytes received and not yet part of a returned frame.
  std::size_t buffered() const { return in_.size() - pos_; }

 private:
  std::expected<std::optional<frame>, decode_error> read_head();
  std::expected<std::optional<frame>, decode_error> read_body();
  std::expected<header, decode_error> parse_header(std::string_view line, bool escaped) const;

  frame_limits limits_;
  version version_ = version::v1_0;
  std::string in_;
  std::size_t pos_ = 0;      // start of what is not yet consumed
  std::size_t scanned_ = 0;  // how far the search for the head's end or the body's NUL got
  std::size_t lines_ = 0;    // lines of the head under way seen so far
  std::optional<frame> head_;  // command and headers read, body pending
  std::optional<std::size_t> content_length_;
  std::optional<decode_error> broken_;
};

/// Appends the frame's bytes: headers escaped for 1.1 and 1.2 (except in CONNECT and
/// CONNECTED), a content-length header added for bodies that hold a NUL unless one is present.
void encode(const frame& f, version v, std::string& out);
std::string encode(const frame& f, version v);

}  // namespace mqlab::net::stomp
