// The accept loop at the descriptor limit: a failed accept leaves the connection queued, so a
// loop that retries at once spins a core (as it did); ours logs, pauses and takes the
// connection once descriptors are free again.
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <ctime>
#include <stdexcept>
#include <vector>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "net/loop_thread.h"
#include "net/tcp.h"

namespace mqlab::net {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

TEST(accept_connections, at_the_descriptor_limit_it_pauses_instead_of_spinning_and_then_accepts) {
  asio::io_context io;
  auto acceptor = open_listener(io, "127.0.0.1", 0).value();
  std::vector<tcp::socket> accepted;
  bool stopping = false;
  asio::co_spawn(io, accept_connections(*acceptor, "test listener", [&] { return stopping; },
                                        [&](tcp::socket s) { accepted.push_back(std::move(s)); }),
                 asio::detached);
  // The loop starts (and makes its timer) while descriptors are plentiful, as a server's does;
  // the client's socket is open before the limit, so only the accept runs short.
  io.poll();
  tcp::socket client(io);
  client.open(tcp::v4());
  // No descriptor can be opened once the soft limit is the lowest free descriptor number.
  rlimit before{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &before), 0);
  const int lowest_free = open("/dev/null", O_RDONLY);  // the kernel hands out the lowest free number
  ASSERT_GE(lowest_free, 0);
  close(lowest_free);
  rlimit tight = before;
  tight.rlim_cur = static_cast<rlim_t>(lowest_free);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &tight), 0);
  client.connect(acceptor->local_endpoint());  // queued in the backlog until accepted
  const double cpu_before = thread_cpu_seconds();
  io.run_for(std::chrono::milliseconds(400));
  const double busy = thread_cpu_seconds() - cpu_before;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &before), 0);
  EXPECT_TRUE(accepted.empty());
  // Four tries in 400 ms cost next to nothing; retrying at once would have used the whole 400 ms.
  EXPECT_LT(busy, 0.1);
  io.run_for(accept_backoff * 3);
  EXPECT_EQ(accepted.size(), 1u);
  stopping = true;
  acceptor->close();
  io.run_for(std::chrono::milliseconds(10));
}

asio::awaitable<void> failing_connection() {
  co_await asio::post(asio::use_awaitable);
  throw std::length_error("vector::reserve");
}

TEST(connection_end, an_exception_that_escapes_a_connection_is_logged_and_the_loop_serves_on) {
  asio::io_context io;
  bool served_after = false;
  testing::internal::CaptureStderr();
  asio::co_spawn(io, failing_connection(), log_escaped{"AMQP connection 127.0.0.1:5000"});
  asio::post(io, [] { throw std::runtime_error("a handler's bug"); });
  asio::post(io, [&] { served_after = true; });
  run_logged(io);
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("AMQP connection 127.0.0.1:5000 ended by an unexpected error: vector::reserve"), std::string::npos) << log;
  EXPECT_NE(log.find("a handler failed and was dropped: a handler's bug"), std::string::npos) << log;
  EXPECT_TRUE(served_after);
}

}  // namespace
}  // namespace mqlab::net
