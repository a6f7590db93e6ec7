// mqlab-stomp-load: one STOMP 1.2 client that loads any STOMP broker the same way, so mqlab and
// ActiveMQ are measured side by side with identical client code (stomp.py, at about 76 k
// sends/s, would measure itself): net/stomp/client.h, mqlab's codec over plain POSIX sockets.
//
//   mqlab-stomp-load PORT MODE MESSAGES [persistent]
//   MODE: send     - MESSAGES sends of 100 bytes to a fresh queue, pipelined, the last with a
//                    receipt: the rate is MESSAGES / time to that receipt (then, untimed, a
//                    subscriber drains the queue, so runs do not pile up in the broker's memory)
//         consume  - MESSAGES sent first (as in send), then one subscriber (ack auto, prefetch
//                    1000) takes them all: the rate is MESSAGES / time from SUBSCRIBE to the last
//         e2e      - a subscriber takes while a producer sends at 10 000 msgs/s; each message
//                    carries its send time (one monotonic clock): latency send to delivery
// Prints one JSON line. Exits 1 if a message is missing, an ERROR frame arrives or the run
// exceeds two minutes.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "net/stomp/client.h"

namespace {

using namespace mqlab::net::stomp;
using steady = std::chrono::steady_clock;

constexpr int time_limit_s = 120;
constexpr double e2e_rate = 10'000;

[[noreturn]] void fail(const std::string& why) {
  std::fprintf(stderr, "mqlab-stomp-load: %s\n", why.c_str());
  std::exit(1);
}

std::int64_t now_ns() { return std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now().time_since_epoch()).count(); }

/// A connection of the run; any failure ends the run.
class connection {
 public:
  explicit connection(int port) {
    auto c = client::connect(static_cast<std::uint16_t>(port));
    if (!c) fail(c.error());
    c_ = std::move(*c);
  }
  void queue(const frame& f) { c_->queue(f); }
  void flush() {
    if (!c_->flush()) fail("write failed");
  }
  /// The next frame from the broker (an ERROR ends the run).
  frame next() {
    auto f = c_->next(std::chrono::seconds(time_limit_s));
    if (!f) fail(f.error());
    if (!*f) fail("timed out");
    if ((*f)->command == "ERROR") fail("ERROR: " + std::string((*f)->get("message").value_or("")));
    return std::move(**f);
  }

 private:
  std::unique_ptr<client> c_;
};

frame send_frame(const std::string& queue, bool persistent, std::int64_t sent_ns) {
  frame f{"SEND", {{"destination", queue}, {"content-type", "text/plain"}, {"sent", std::to_string(sent_ns)}}, std::string(100, 'x')};
  if (persistent) f.add("persistent", "true");
  return f;
}

/// Sends `messages` pipelined, a write per 256 frames, the last asking for a receipt it waits for.
void send_all(connection& c, const std::string& queue, long messages, bool persistent) {
  for (long i = 0; i < messages; ++i) {
    frame f = send_frame(queue, persistent, now_ns());
    if (i + 1 == messages) f.add("receipt", "last");
    c.queue(f);
    if (i % 256 == 255 || i + 1 == messages) c.flush();
  }
  if (c.next().command != "RECEIPT") fail("expected the receipt");
}

void subscribe(connection& c, const std::string& queue) {
  c.queue(frame{"SUBSCRIBE", {{"id", "1"}, {"destination", queue}, {"ack", "auto"}, {"activemq.prefetchSize", "1000"},
                              {"receipt", "subscribed"}}, {}});
  c.flush();
  if (c.next().command != "RECEIPT") fail("expected the subscription's receipt");
}

struct result {
  double msgs_per_s = 0, p50_us = 0, p99_us = 0;
};

double seconds_since(steady::time_point t) { return std::chrono::duration<double>(steady::now() - t).count(); }

result run_e2e(int port, const std::string& queue, long messages, bool persistent) {
  connection consumer(port);
  subscribe(consumer, queue);
  std::vector<double> latency_us;
  latency_us.reserve(static_cast<std::size_t>(messages));
  std::thread take([&] {
    for (long i = 0; i < messages; ++i) {
      const frame m = consumer.next();
      const std::int64_t sent = std::atoll(std::string(m.get("sent").value_or("0")).c_str());
      latency_us.push_back(static_cast<double>(now_ns() - sent) / 1000.0);
    }
  });
  connection producer(port);
  const auto start = steady::now();
  for (long i = 0; i < messages; ++i) {
    const auto due = start + std::chrono::nanoseconds(static_cast<std::int64_t>(static_cast<double>(i) * 1e9 / e2e_rate));
    std::this_thread::sleep_until(due);
    producer.queue(send_frame(queue, persistent, now_ns()));
    producer.flush();
  }
  take.join();
  std::sort(latency_us.begin(), latency_us.end());
  const auto at = [&](double q) { return latency_us[static_cast<std::size_t>(q * static_cast<double>(latency_us.size() - 1))]; };
  return {static_cast<double>(messages) / seconds_since(start), at(0.5), at(0.99)};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) fail("usage: mqlab-stomp-load PORT send|consume|e2e MESSAGES [persistent]");
  const int port = std::atoi(argv[1]);
  const std::string mode = argv[2];
  const long messages = std::atol(argv[3]);
  const bool persistent = argc > 4 && std::string(argv[4]) == "persistent";
  if (port <= 0 || messages <= 0) fail("PORT and MESSAGES must be positive");
  const std::string queue = fmt::format("/queue/load-{}-{}", mode, now_ns());
  result r;
  if (mode == "send" || mode == "consume") {
    connection c(port);
    auto start = steady::now();
    send_all(c, queue, messages, persistent);
    r.msgs_per_s = static_cast<double>(messages) / seconds_since(start);
    start = steady::now();
    subscribe(c, queue);
    for (long i = 0; i < messages; ++i) {
      if (c.next().command != "MESSAGE") fail("expected a MESSAGE");
    }
    if (mode == "consume") r.msgs_per_s = static_cast<double>(messages) / seconds_since(start);
  } else if (mode == "e2e") {
    r = run_e2e(port, queue, messages, persistent);
  } else {
    fail("MODE must be send, consume or e2e");
  }
  std::printf("{\"mode\":\"%s\",\"persistent\":%s,\"messages\":%ld,\"msgs_per_s\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f}\n",
              mode.c_str(), persistent ? "true" : "false", messages, r.msgs_per_s, r.p50_us, r.p99_us);
  return 0;
}
