// The STOMP frame codec against the STOMP 1.2 specification's examples and ActiveMQ's limits:
// frames split at every byte, heart-beats between frames, escaping by version, bodies with
// NULs, and what ends a connection (garbage, oversized commands, headers and bodies).
#include <gtest/gtest.h>

#include <string>

using namespace std::string_literals;

#include "net/stomp/frame.h"

namespace mqlab::net::stomp {
namespace {

std::vector<frame> decode_all(decoder& d, std::string_view bytes) {
  d.feed(bytes);
  std::vector<frame> out;
  for (;;) {
    auto f = d.next();
    EXPECT_TRUE(f.has_value()) << (f ? "" : f.error().text);
    if (!f || !*f) return out;
    out.push_back(std::move(**f));
  }
}

std::string error_of(std::string_view bytes, frame_limits limits = {}, version v = version::v1_2) {
  decoder d(limits);
  d.set_version(v);
  d.feed(bytes);
  for (int i = 0; i < 10; ++i) {
    auto f = d.next();
    if (!f) return f.error().text;
    if (!*f) return "";
  }
  return "";
}

TEST(stomp_frame, the_specifications_send_frame_decodes_whole_and_split_at_every_byte) {
  const std::string bytes = "SEND\ndestination:/queue/a\ncontent-type:text/plain\n\nhello queue a\0"s "\n\n"s;
  for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
    decoder d;
    auto first = decode_all(d, std::string_view(bytes).substr(0, cut));
    auto rest = decode_all(d, std::string_view(bytes).substr(cut));
    first.insert(first.end(), rest.begin(), rest.end());
    ASSERT_EQ(first.size(), 1u) << "cut at " << cut;
    EXPECT_EQ(first[0].command, "SEND");
    EXPECT_EQ(first[0].get("destination"), "/queue/a");
    EXPECT_EQ(first[0].get("content-type"), "text/plain");
    EXPECT_EQ(first[0].body, "hello queue a");
    EXPECT_EQ(d.buffered(), 0u);  // the trailing EOLs are heart-beats
  }
}

TEST(stomp_frame, content_length_bodies_carry_nuls_and_crlf_lines_are_accepted) {
  decoder d;
  const std::string body("a\0b\0c", 5);
  const auto frames = decode_all(d, "\r\n\nSEND\r\ndestination:/queue/x\r\ncontent-length:5\r\n\r\n" + body + '\0' +
                                        "SEND\ndestination:/queue/y\n\nnext\0"s);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].body, body);
  EXPECT_EQ(frames[0].get("destination"), "/queue/x");
  EXPECT_EQ(frames[1].body, "next");
}

TEST(stomp_frame, repeated_headers_keep_the_first_value) {
  decoder d;
  const auto frames = decode_all(d, "MESSAGE\nfoo:World\nfoo:Hello\n\n\0"s);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].get("foo"), "World");
  EXPECT_EQ(frames[0].headers.size(), 2u);
}

TEST(stomp_frame, escaping_applies_from_1_1_on_but_never_to_connect) {
  decoder d;
  d.set_version(version::v1_2);
  auto frames = decode_all(d, "SEND\nkey\\cwith\\ccolons:line\\none\\\\two\\r\n\n\0CONNECT\nlogin:a\\cb\n\n\0"s);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].get("key:with:colons"), "line\none\\two\r");
  EXPECT_EQ(frames[1].get("login"), "a\\cb");

  decoder old;  // 1.0: no escaping, and values are trimmed as ActiveMQ does
  frames = decode_all(old, "SEND\nkey: a\\cb \n\n\0"s);
  EXPECT_EQ(frames[0].get("key"), "a\\cb");

  frame f{.command = "MESSAGE", .headers = {{"a:b", "x\ny\\"}}, .body = ""};
  EXPECT_EQ(encode(f, version::v1_2), "MESSAGE\na\\cb:x\\ny\\\\\n\n\0"s);
  EXPECT_EQ(encode(f, version::v1_0), "MESSAGE\na:b:x\ny\\\n\n\0"s);
  frame connected{.command = "CONNECTED", .headers = {{"server", "a:b"}}, .body = ""};
  EXPECT_EQ(encode(connected, version::v1_2), "CONNECTED\nserver:a:b\n\n\0"s);
}

TEST(stomp_frame, an_encoded_frame_decodes_to_itself) {
  frame f{.command = "MESSAGE", .headers = {{"destination", "/queue/a:b"}, {"x", "\\\n\r:"}}, .body = std::string("x\0y", 3)};
  const std::string bytes = encode(f, version::v1_2);
  EXPECT_NE(bytes.find("content-length:3\n"), std::string::npos);  // the NUL in the body needs it
  decoder d;
  d.set_version(version::v1_2);
  const auto back = decode_all(d, bytes);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].get("destination"), "/queue/a:b");
  EXPECT_EQ(back[0].get("x"), "\\\n\r:");
  EXPECT_EQ(back[0].body, f.body);
}

TEST(stomp_frame, undefined_escapes_and_lines_without_a_colon_break_the_stream) {
  EXPECT_EQ(error_of("SEND\nbad:\\t\n\n\0"s), "Unable to parser header line [bad:\\t]");
  EXPECT_EQ(error_of("SEND\nno colon here\n\n\0"s), "Unable to parser header line [no colon here]");
  decoder d;
  d.set_version(version::v1_2);
  d.feed("SEND\nbad:\\q\n\n\0SEND\n\n\0"s);
  EXPECT_FALSE(d.next());
  EXPECT_FALSE(d.next());  // broken stays broken: no frame after garbage
}

TEST(stomp_frame, lengths_are_checked_against_activemqs_limits_before_buffering) {
  const frame_limits small{.command_bytes = 16, .header_line_bytes = 32, .headers = 3, .body_bytes = 64};
  EXPECT_EQ(error_of(std::string(17, 'X'), small), "The maximum command length was exceeded");  // no newline needed
  EXPECT_EQ(error_of("SEND\n" + std::string(33, 'h'), small), "The maximum header length was exceeded");
  EXPECT_EQ(error_of("SEND\na:1\nb:2\nc:3\nd:4\n\n\0"s, small), "The maximum number of headers was exceeded");
  EXPECT_EQ(error_of("SEND\na:1\nb:2\nc:3\n\n\0"s, small), "");
  EXPECT_EQ(error_of("SEND\n\n" + std::string(65, 'b'), small), "The maximum data length was exceeded");
  EXPECT_EQ(error_of("SEND\ncontent-length:65\n\n"s, small), "The maximum data length was exceeded");
  EXPECT_EQ(error_of("SEND\ncontent-length:99999999999999999999999\n\n"s), "The maximum data length was exceeded");
  EXPECT_EQ(error_of("SEND\ncontent-length:-1\n\n"s), "Specified content-length may not be negative");
  EXPECT_EQ(error_of("SEND\ncontent-length:12a\n\n"s), "Specified content-length is not a valid integer");
  EXPECT_EQ(error_of("SEND\ncontent-length:2\n\nabc\0"s), "content-length bytes were read and there was no trailing null byte");
}

TEST(stomp_frame, garbage_of_every_length_never_yields_a_frame_past_a_broken_one) {
  // Deterministic bytes: whatever comes, the decoder either waits, returns frames, or breaks.
  std::uint32_t x = 12345;
  for (int round = 0; round < 200; ++round) {
    decoder d({.command_bytes = 64, .header_line_bytes = 64, .headers = 8, .body_bytes = 256});
    d.set_version(version::v1_2);
    std::string bytes;
    for (int i = 0; i < 300; ++i) {
      x = x * 1103515245 + 12345;
      const char alphabet[] = "SEND\n:\\\0abc\r";
      bytes += alphabet[(x >> 16) % (sizeof alphabet - 1)];
    }
    d.feed(bytes);
    bool broken = false;
    for (int i = 0; i < 400 && !broken; ++i) {
      auto f = d.next();
      if (!f) {
        broken = true;
      } else if (!*f) {
        break;
      } else {
        EXPECT_LE((*f)->headers.size(), 8u);
      }
    }
    if (broken) {
      EXPECT_FALSE(d.next());
    }
  }
}

}  // namespace
}  // namespace mqlab::net::stomp
