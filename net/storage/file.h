// The files the storage layer writes: an append-only file that reports its errors as values,
// atomic replacement of a small file (definitions, checkpoints), and the data directory's lock.
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace mqlab::net::storage {

/// An open file written only at its end. Shared (std::shared_ptr) between its owner and the
/// flusher, so that a segment deleted while its fsync is pending stays open until it is done.
class append_file {
 public:
  /// Opens `path` for appending, creating it (mode 0644) if absent.
  static std::expected<std::shared_ptr<append_file>, std::string> open(const std::filesystem::path& path);
  ~append_file();
  append_file(const append_file&) = delete;
  append_file& operator=(const append_file&) = delete;

  /// Writes all of `bytes` at the end (retrying short writes).
  std::expected<void, std::string> append(std::string_view bytes);
  /// Cuts the file to `size` bytes (a torn tail found by recovery).
  std::expected<void, std::string> truncate(std::uint64_t size);
  /// fdatasync: what was appended so far survives a power loss.
  std::expected<void, std::string> sync();
  std::uint64_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  append_file(int fd, std::filesystem::path path, std::uint64_t size) : fd_(fd), path_(std::move(path)), size_(size) {}
  int fd_;
  std::filesystem::path path_;
  std::uint64_t size_;
};

/// Replaces `path` with `contents` so that a crash leaves either the old or the new file:
/// written to a temporary beside it, fsynced, renamed over it, and the directory fsynced.
std::expected<void, std::string> write_atomically(const std::filesystem::path& path, std::string_view contents);

/// Reads a whole file; the error names it and the cause.
std::expected<std::string, std::string> read_file(const std::filesystem::path& path);

/// The exclusive lock of a data directory: an flock on DIR/lock, which the kernel releases when
/// its holder dies, so a broker restarted after SIGKILL needs no cleaning, and a second broker
/// on the same directory is refused while the first lives.
class directory_lock {
 public:
  /// Creates `dir` if needed and locks it; the error names the directory and the process that
  /// holds it.
  static std::expected<directory_lock, std::string> acquire(const std::filesystem::path& dir);
  directory_lock(directory_lock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  directory_lock& operator=(directory_lock&&) = delete;
  ~directory_lock();

 private:
  explicit directory_lock(int fd) : fd_(fd) {}
  int fd_;
};

/// Where `mqlab broker` keeps its data unless told: $XDG_STATE_HOME/mqlab-data, or
/// ~/.local/state/mqlab-data (the XDG base directory default).
std::filesystem::path default_data_dir();

}  // namespace mqlab::net::storage
