// The fsync thread: rounds of fdatasync over the files written since the last round.
#include "net/storage/flusher.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "net/log.h"

namespace mqlab::net::storage {

std::expected<fsync_policy, std::string> fsync_policy::parse(std::string_view text) {
  if (text == "always") return fsync_policy{kind::always, {}};
  if (text == "never") return fsync_policy{kind::never, {}};
  if (text.starts_with("interval:")) {
    const std::string_view number = text.substr(9);
    std::int64_t ms = 0;
    const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), ms);
    if (ec == std::errc{} && end == number.data() + number.size() && ms >= 1 && ms <= 3'600'000) {
      return fsync_policy{kind::interval, std::chrono::milliseconds(ms)};
    }
  }
  return std::unexpected(fmt::format("'{}' is not an fsync policy: always, interval:MS (1 to 3600000) or never", text));
}

std::string fsync_policy::describe() const {
  switch (what) {
    case kind::always: return "always";
    case kind::never: return "never";
    case kind::interval: return fmt::format("interval:{}", interval.count());
  }
  return "?";
}

flusher::flusher(fsync_policy policy, std::function<void(std::function<void()>)> post)
    : policy_(policy), post_(std::move(post)) {
  if (policy_.what != fsync_policy::kind::never) thread_ = std::thread([this] { run(); });
}

flusher::~flusher() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    for (const auto& f : unsynced_) dirty_.push_back(f);
    unsynced_.clear();
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void flusher::wrote(const std::shared_ptr<append_file>& file) {
  if (policy_.what == fsync_policy::kind::never) return;
  unsynced_.insert(file);
  ++written_;
  if (policy_.what == fsync_policy::kind::interval) {
    // The thread takes them at its next tick; no waiter is held for them.
    std::lock_guard lock(mutex_);
    for (const auto& f : unsynced_) dirty_.push_back(f);
    unsynced_.clear();
  }
}

void flusher::after_durable(std::function<void()> then) {
  if (!holding()) {
    then();
    return;
  }
  {
    std::lock_guard lock(mutex_);
    for (const auto& f : unsynced_) dirty_.push_back(f);
    waiting_.push_back(std::move(then));
    handed_ = written_;
  }
  unsynced_.clear();
  wake_.notify_one();
}

std::uint64_t flusher::rounds() const {
  std::lock_guard lock(mutex_);
  return rounds_;
}

std::string flusher::last_error() const {
  std::lock_guard lock(mutex_);
  return last_error_;
}

void flusher::run() {
  std::unique_lock lock(mutex_);
  while (!stop_ || !dirty_.empty()) {
    if (policy_.what == fsync_policy::kind::interval) {
      wake_.wait_for(lock, policy_.interval, [this] { return stop_; });
    } else {
      wake_.wait(lock, [this] { return stop_ || !waiting_.empty(); });
    }
    sync_round(lock);
  }
}

void flusher::sync_round(std::unique_lock<std::mutex>& lock) {
  std::vector<std::shared_ptr<append_file>> files;
  files.swap(dirty_);
  std::vector<std::function<void()>> waiters;
  waiters.swap(waiting_);
  const std::uint64_t covered = handed_;
  if (files.empty() && waiters.empty()) return;
  lock.unlock();
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  std::string error;
  for (const auto& f : files) {
    if (auto ok = f->sync(); !ok) error = ok.error();
  }
  if (!error.empty()) log(log_level::error, "fsync failed: {}", error);
  synced_.store(std::max(synced_.load(), covered));
  lock.lock();
  // Counted before anyone waiting hears of it: a waiter then sees the round that released it.
  ++rounds_;
  if (!error.empty()) last_error_ = error;
  for (auto& w : waiters) post_(std::move(w));
}

void held_output::pass(std::string& output, std::string& ready, flusher& f, std::function<void()> again) {
  release(f.synced(), ready);
  if (!f.holding()) {
    ready.append(output);
    output.clear();
    return;
  }
  if (output.empty()) return;
  hold(output, f.written());
  f.after_durable(std::move(again));
}

std::string& held_output::sendable(std::string& output, flusher& f, bool owed, std::function<void()> again) {
  if (owed || !chunks_.empty()) pass(output, ready_, f, std::move(again));
  if (ready_.empty()) return output;
  ready_.append(output);
  output.clear();
  return ready_;
}

void held_output::hold(std::string& output, std::uint64_t written) {
  if (output.empty()) return;
  if (!chunks_.empty() && chunks_.back().first == written) chunks_.back().second.append(output);
  else chunks_.emplace_back(written, std::move(output));
  output.clear();
}

void held_output::release(std::uint64_t synced, std::string& to) {
  std::size_t n = 0;
  for (; n < chunks_.size() && chunks_[n].first <= synced; ++n) to.append(chunks_[n].second);
  chunks_.erase(chunks_.begin(), chunks_.begin() + static_cast<std::ptrdiff_t>(n));
}

}  // namespace mqlab::net::storage
