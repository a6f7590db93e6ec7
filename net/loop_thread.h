// An Asio event loop on a thread of its own, and the two ways to reach it from another thread:
// net mode and AMQP cluster nodes run each embedded server this way, so the core is only ever touched by its loop.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <pthread.h>
#include <time.h>

#include <functional>
#include <future>
#include <thread>

#include <boost/asio.hpp>

#include "net/log.h"

namespace mqlab::net {

/// Runs `io` until it stops. A handler that throws is logged and the loop goes on serving
/// every other connection: one bad request must not take the broker down.
inline void run_logged(boost::asio::io_context& io) {
  for (;;) {
    try {
      io.run();
      return;
    } catch (const std::exception& e) {
      log(log_level::error, "event loop: a handler failed and was dropped: {}", e.what());
    }
  }
}

class loop_thread {
 public:
  loop_thread() : guard_(io_.get_executor()) {}
  ~loop_thread() { stop(); }
  loop_thread(const loop_thread&) = delete;
  loop_thread& operator=(const loop_thread&) = delete;

  boost::asio::io_context& io() { return io_; }
  /// Starts the thread; what was posted before runs first.
  void start() {
    thread_ = std::jthread([this] { run_logged(io_); });
    pthread_getcpuclockid(thread_.native_handle(), &cpu_clock_);
  }

  /// CPU seconds the loop's thread has used so far; 0 before start() and after stop().
  double cpu_seconds() const {
    timespec t{};
    if (!thread_.joinable() || clock_gettime(cpu_clock_, &t) != 0) return 0;
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
  }

  /// Runs `f` on the loop and returns its result.
  template <typename F>
  auto call(F f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    boost::asio::post(io_, [&task] { task(); });
    return result.get();
  }

  /// Runs `f` on the loop without waiting for it.
  template <typename F>
  void post(F f) {
    boost::asio::post(io_, std::move(f));
  }

  /// Runs `last` on the loop (closing its servers), then stops the loop and joins the thread.
  void stop(const std::function<void()>& last = {}) {
    if (!thread_.joinable()) return;
    if (last) call(last);
    guard_.reset();
    io_.stop();
    thread_.join();
  }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::jthread thread_;
  clockid_t cpu_clock_ = CLOCK_THREAD_CPUTIME_ID;
};

}  // namespace mqlab::net
