// When written data is fsynced: the `--fsync always | interval:MS | never` policy with group
// commit. Writes happen on the server's thread; one background thread runs fdatasync on every
// file written since its last round, so one fsync covers every write that arrived meanwhile
// however many publishers wrote them, and the server's thread never blocks on the disk.
//
// What each policy promises: with `always`, whatever after_durable() was asked to wait for is on
// disk before the callback runs (a power loss loses nothing confirmed); with `interval:MS` files
// are fsynced at most MS apart and callbacks run at once (SIGKILL loses nothing written, a power
// loss up to MS of it); with `never` the kernel writes back when it likes (SIGKILL still loses
// nothing, since the data is in the page cache once written).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include "net/storage/file.h"

namespace mqlab::net::storage {

struct fsync_policy {
  enum class kind { always, interval, never };
  kind what = kind::always;
  std::chrono::milliseconds interval{0};
  /// "always", "interval:MS" or "never"; the error says what is accepted.
  static std::expected<fsync_policy, std::string> parse(std::string_view text);
  std::string describe() const;
};

class flusher {
 public:
  /// `post` runs a function on the server's thread (asio::post to its io_context).
  flusher(fsync_policy policy, std::function<void(std::function<void()>)> post);
  /// Syncs what is outstanding, then stops the thread.
  ~flusher();
  flusher(const flusher&) = delete;
  flusher& operator=(const flusher&) = delete;

  /// `file` was appended to.
  void wrote(const std::shared_ptr<append_file>& file);
  /// Runs `then` (through `post`) once every write reported so far is as durable as the policy
  /// promises: after the next fsync round under `always`, right away otherwise.
  void after_durable(std::function<void()> then);
  /// True while writes wait for an fsync that `always` promises.
  bool holding() const { return policy_.what == fsync_policy::kind::always && synced_.load() < written_; }
  /// Writes reported so far, and how many of them an fsync covers (under `always`).
  std::uint64_t written() const { return written_; }
  std::uint64_t synced() const { return synced_.load(); }
  const fsync_policy& policy() const { return policy_; }
  /// fsync rounds run so far, and the last error one met (empty: none).
  std::uint64_t rounds() const;
  std::string last_error() const;

 private:
  void run();
  void sync_round(std::unique_lock<std::mutex>& lock);

  fsync_policy policy_;
  std::function<void(std::function<void()>)> post_;
  // The server's thread's view of what it wrote since it last handed files over.
  std::unordered_set<std::shared_ptr<append_file>> unsynced_;
  std::uint64_t written_ = 0;
  std::atomic<std::uint64_t> synced_{0};
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<std::shared_ptr<append_file>> dirty_;  // handed to the thread, guarded by mutex_
  std::vector<std::function<void()>> waiting_;       // likewise
  std::uint64_t handed_ = 0;                         // written_ when files were last handed over
  bool stop_ = false;
  std::uint64_t rounds_ = 0;
  std::string last_error_;
  std::thread thread_;
};

/// A connection's replies that may leave only once the writes before them are durable: output
/// produced while the flusher holds is kept back, tagged with the writes it follows, and
/// released in order as fsync rounds cover them.
class held_output {
 public:
  /// Moves `output` (left empty) to `ready` once it may go: at once while `f` holds nothing
  /// unsynced (after what was held before it), else when the fsync round covering the writes
  /// made so far is done, when `again` is called (through the flusher's post) to pass it on.
  void pass(std::string& output, std::string& ready, flusher& f, std::function<void()> again);
  /// What a connection may write now: `output` itself while nothing is held and `owed` is false
  /// (no copy on the common path), else what pass() released into a buffer of its own, with
  /// `output` behind it or held. `owed`: the output may acknowledge writes not yet synced.
  std::string& sendable(std::string& output, flusher& f, bool owed, std::function<void()> again);
  /// Moves `output` (left empty) behind the writes made so far.
  void hold(std::string& output, std::uint64_t written);
  /// Appends to `to` what the synced writes release, oldest first.
  void release(std::uint64_t synced, std::string& to);
  bool empty() const { return chunks_.empty(); }

 private:
  std::vector<std::pair<std::uint64_t, std::string>> chunks_;
  std::string ready_;  // released by sendable(), not yet written
};

}  // namespace mqlab::net::storage
