// The storage layer's promises, each checked the way a crash would test it: a torn last record
// is cut at whatever byte the write stopped and every earlier record survives; damage in a
// closed segment is reported, not skipped; segments roll and go; an fsync policy of `always`
// releases a reply only after a round covered the writes before it; a data directory has one
// broker at a time; a replaced file is the old one or the new one.
#include "net/storage/file.h"
#include "net/storage/flusher.h"
#include "net/storage/segment_log.h"

#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/net/temp_dir.h"

namespace mqlab::net::storage {
namespace {

namespace fs = std::filesystem;

using testing::temp_dir;

std::vector<std::string> replay_all(const fs::path& dir, recovery_report& report, bool repair = true,
                                    std::uint64_t segment_bytes = 1 << 20) {
  std::vector<std::string> seen;
  auto log = segment_log::open(dir, segment_bytes, [&](std::uint64_t, std::uint64_t, std::string_view p) { seen.emplace_back(p); },
                               report, repair);
  EXPECT_TRUE(log.has_value());
  return seen;
}

TEST(segment_log, records_come_back_in_order_across_segments) {
  temp_dir d;
  {
    recovery_report r;
    auto log = segment_log::open(d.path, 64, [](auto, auto, auto) {}, r);
    ASSERT_TRUE(log);
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(log->append(fmt::format("record {}", i), static_cast<std::uint64_t>(i)));
    EXPECT_GT(log->segment_count(), 3u);  // 64-byte segments hold a few 17-byte records each
  }
  recovery_report r;
  auto seen = replay_all(d.path, r);
  ASSERT_EQ(seen.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(seen[static_cast<std::size_t>(i)], fmt::format("record {}", i));
  EXPECT_EQ(r.torn_bytes, 0u);
  EXPECT_TRUE(r.corruption.empty());
}

/// A segment of `records` in `dir`/template; returns where its last record starts and its size.
std::pair<std::uint64_t, std::uint64_t> write_template(const fs::path& dir, const std::vector<std::string>& records) {
  recovery_report r;
  auto log = segment_log::open(dir / "template", 1 << 20, [](auto, auto, auto) {}, r);
  std::uint64_t last_starts = 0;
  for (const auto& rec : records) {
    last_starts = log->bytes();
    EXPECT_TRUE(log->append(rec, 0));
  }
  return {last_starts, log->bytes()};
}

/// A copy of the template's segment in `dir`/`name`, which `damage` then changes; returns its path.
template <typename Damage>
fs::path damaged_copy(const fs::path& dir, const std::string& name, Damage damage) {
  const fs::path segment = dir / "template" / "00000000000000000000.seg";
  fs::create_directories(dir / name);
  fs::copy_file(segment, dir / name / segment.filename());
  damage(dir / name / segment.filename());
  return dir / name;
}

TEST(segment_log, a_torn_last_record_is_cut_at_every_byte_and_the_earlier_ones_survive) {
  temp_dir d;
  const std::vector<std::string> records = {"first", std::string(300, 'x'), "third and last"};
  const auto [last_starts, whole] = write_template(d.path, records);
  for (std::uint64_t cut = last_starts; cut < whole; ++cut) {
    const fs::path dir = damaged_copy(d.path, fmt::format("cut-{}", cut), [&](const fs::path& f) { fs::resize_file(f, cut); });
    recovery_report r;
    auto seen = replay_all(dir, r);
    ASSERT_EQ(seen.size(), 2u) << "cut at byte " << cut;
    EXPECT_EQ(seen[1], records[1]);
    EXPECT_EQ(r.torn_bytes, cut - last_starts);
    EXPECT_TRUE(r.corruption.empty());
    EXPECT_EQ(fs::file_size(dir / "00000000000000000000.seg"), last_starts) << "the torn tail is cut off the file";
  }
}

TEST(segment_log, a_damaged_byte_anywhere_in_the_last_record_drops_only_that_record) {
  temp_dir d;
  const auto [last_starts, whole] = write_template(d.path, {"kept", "damaged"});
  for (std::uint64_t at = last_starts; at < whole; ++at) {
    const fs::path dir = damaged_copy(d.path, fmt::format("flip-{}", at), [&](const fs::path& f) {
      std::fstream file(f, std::ios::in | std::ios::out | std::ios::binary);
      file.seekg(static_cast<std::streamoff>(at));
      const char old = static_cast<char>(file.get());
      file.seekp(static_cast<std::streamoff>(at));
      file.put(static_cast<char>(old ^ 0x5a));
    });
    recovery_report r;
    ASSERT_EQ(replay_all(dir, r), std::vector<std::string>{"kept"}) << "byte " << at;
    EXPECT_EQ(r.torn_bytes, whole - last_starts) << "byte " << at;
  }
}

TEST(segment_log, damage_in_a_closed_segment_is_reported_and_nothing_is_repaired_by_a_check) {
  temp_dir d;
  {
    recovery_report r;
    auto log = segment_log::open(d.path, 16, [](auto, auto, auto) {}, r);
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(log->append(fmt::format("record number {}", i), static_cast<std::uint64_t>(i)));
  }
  const fs::path first = d.path / "00000000000000000000.seg";
  const auto size = fs::file_size(first);
  fs::resize_file(first, size - 1);
  recovery_report r;
  auto seen = replay_all(d.path, r, /*repair=*/false);
  EXPECT_TRUE(seen.empty());
  EXPECT_NE(r.corruption.find("00000000000000000000.seg"), std::string::npos) << r.corruption;
  EXPECT_EQ(fs::file_size(first), size - 1);
}

TEST(segment_log, a_length_beyond_the_limit_is_damage_not_an_allocation) {
  temp_dir d;
  fs::create_directories(d.path);
  std::ofstream(d.path / "00000000000000000000.seg", std::ios::binary) << std::string("\xff\xff\xff\xf0\0\0\0\0", 8);
  recovery_report r;
  EXPECT_TRUE(replay_all(d.path, r).empty());
  EXPECT_EQ(r.torn_bytes, 8u);
}

TEST(segment_log, segments_whose_records_are_all_below_a_base_are_deleted) {
  temp_dir d;
  recovery_report r;
  auto log = segment_log::open(d.path, 1, [](auto, auto, auto) {}, r);  // every record starts a segment
  for (std::uint64_t base : {0, 10, 20, 30}) ASSERT_TRUE(log->append("x", base));
  log->drop_segments_below(20);  // [0, 10) and [10, 20) go; the one at 20 may hold 20
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(d.path)) left.push_back(e.path().filename().string());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"00000000000000000020.seg", "00000000000000000030.seg"}));
}

/// Runs posted functions when the test says, as an event loop would.
struct fake_loop {
  std::mutex m;
  std::vector<std::function<void()>> posted;
  void post(std::function<void()> f) {
    std::lock_guard lock(m);
    posted.push_back(std::move(f));
  }
  /// Waits (bounded) until something was posted, then runs it all.
  bool run_posted() {
    for (int i = 0; i < 2000; ++i) {
      std::vector<std::function<void()>> now;
      {
        std::lock_guard lock(m);
        now.swap(posted);
      }
      if (!now.empty()) {
        for (auto& f : now) f();
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }
};

TEST(flusher, under_always_a_reply_waits_for_the_fsync_round_that_covers_its_writes) {
  temp_dir d;
  fs::create_directories(d.path);
  fake_loop loop;
  flusher f(*fsync_policy::parse("always"), [&](std::function<void()> fn) { loop.post(std::move(fn)); });
  auto file = append_file::open(d.path / "data");
  ASSERT_TRUE(file);
  held_output held;
  std::string output = "confirm 1", ready;
  int again = 0;
  held.pass(output, ready, f, [&] { ++again; });
  EXPECT_EQ(ready, "confirm 1") << "nothing was written: nothing to wait for";

  ASSERT_TRUE((*file)->append("message 2"));
  f.wrote(*file);
  EXPECT_TRUE(f.holding());
  output = "confirm 2";
  ready.clear();
  held.pass(output, ready, f, [&] { ++again; });
  EXPECT_EQ(ready, "") << "confirm 2 may not leave before message 2 is on disk";
  EXPECT_TRUE(output.empty());
  ASSERT_TRUE(loop.run_posted());
  EXPECT_EQ(again, 1);
  EXPECT_FALSE(f.holding());
  EXPECT_GE(f.rounds(), 1u);
  output = "confirm 3";
  held.pass(output, ready, f, [&] { ++again; });
  EXPECT_EQ(ready, "confirm 2confirm 3") << "held replies go first, in order";
}

TEST(flusher, sendable_output_is_the_connections_own_until_something_is_owed_then_waits_its_turn) {
  temp_dir d;
  fs::create_directories(d.path);
  fake_loop loop;
  flusher f(*fsync_policy::parse("always"), [&](std::function<void()> fn) { loop.post(std::move(fn)); });
  held_output held;
  std::string output = "delivery";
  EXPECT_EQ(&held.sendable(output, f, false, [] {}), &output) << "nothing owed, nothing held: no copy";
  auto file = *append_file::open(d.path / "data");
  ASSERT_TRUE(file->append("message"));
  f.wrote(file);
  output = "confirm";
  EXPECT_TRUE(held.sendable(output, f, true, [] {}).empty()) << "the confirm waits for the fsync";
  output = "delivery after it";
  EXPECT_TRUE(held.sendable(output, f, false, [] {}).empty()) << "and what follows it waits behind it";
  ASSERT_TRUE(loop.run_posted());
  output.clear();
  EXPECT_EQ(held.sendable(output, f, false, [] {}), "confirmdelivery after it");
}

TEST(flusher, one_round_covers_every_write_before_it) {
  temp_dir d;
  fs::create_directories(d.path);
  fake_loop loop;
  flusher f(*fsync_policy::parse("always"), [&](std::function<void()> fn) { loop.post(std::move(fn)); });
  std::vector<std::shared_ptr<append_file>> files;
  for (int i = 0; i < 50; ++i) {
    files.push_back(*append_file::open(d.path / fmt::format("file-{}", i)));
    ASSERT_TRUE(files.back()->append("x"));
    f.wrote(files.back());
  }
  int done = 0;
  f.after_durable([&] { ++done; });
  ASSERT_TRUE(loop.run_posted());
  EXPECT_EQ(done, 1);
  EXPECT_EQ(f.rounds(), 1u) << "fifty writes, one group commit";
  EXPECT_EQ(f.synced(), f.written());
}

TEST(flusher, other_policies_release_at_once_and_bad_ones_are_named) {
  fake_loop loop;
  for (const char* text : {"never", "interval:5"}) {
    flusher f(*fsync_policy::parse(text), [&](std::function<void()> fn) { loop.post(std::move(fn)); });
    int done = 0;
    f.after_durable([&] { ++done; });
    EXPECT_EQ(done, 1) << text;
  }
  for (const char* bad : {"sometimes", "interval:", "interval:0", "interval:-3", "interval:5x"}) {
    auto p = fsync_policy::parse(bad);
    ASSERT_FALSE(p) << bad;
    EXPECT_NE(p.error().find("always, interval:MS"), std::string::npos);
  }
  EXPECT_EQ(fsync_policy::parse("interval:250")->describe(), "interval:250");
}

TEST(directory_lock, a_second_broker_is_refused_while_the_first_holds_the_directory) {
  temp_dir d;
  {
    auto first = directory_lock::acquire(d.path);
    ASSERT_TRUE(first);
    auto second = directory_lock::acquire(d.path);
    ASSERT_FALSE(second);
    EXPECT_NE(second.error().find(fmt::format("in use by another mqlab broker (pid {})", ::getpid())),
              std::string::npos)
        << second.error();
  }
  EXPECT_TRUE(directory_lock::acquire(d.path)) << "the kernel releases the lock when its holder is gone";
}

TEST(write_atomically, the_file_is_replaced_whole) {
  temp_dir d;
  fs::create_directories(d.path);
  const fs::path file = d.path / "definitions";
  ASSERT_TRUE(write_atomically(file, "old"));
  ASSERT_TRUE(write_atomically(file, "new contents"));
  EXPECT_EQ(*read_file(file), "new contents");
  EXPECT_FALSE(fs::exists(d.path / "definitions.tmp"));
  EXPECT_FALSE(read_file(d.path / "absent"));
}

}  // namespace
}  // namespace mqlab::net::storage
