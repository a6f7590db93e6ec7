// POSIX file calls behind the storage layer's files: append, truncate, fdatasync, rename, flock.
#include "net/storage/file.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

namespace mqlab::net::storage {

namespace fs = std::filesystem;

namespace {

std::string failure(std::string_view what, const fs::path& path) {
  return fmt::format("{} {}: {}", what, path.string(), std::strerror(errno));
}

std::expected<void, std::string> write_all(int fd, std::string_view bytes, const fs::path& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::unexpected(failure("cannot write", path));
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

std::expected<void, std::string> sync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return std::unexpected(failure("cannot open directory", dir));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return std::unexpected(failure("cannot fsync directory", dir));
  return {};
}

}  // namespace

std::expected<std::shared_ptr<append_file>, std::string> append_file::open(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return std::unexpected(failure("cannot open", path));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return std::unexpected(failure("cannot stat", path));
  }
  return std::shared_ptr<append_file>(new append_file(fd, path, static_cast<std::uint64_t>(st.st_size)));
}

append_file::~append_file() { ::close(fd_); }

std::expected<void, std::string> append_file::append(std::string_view bytes) {
  auto ok = write_all(fd_, bytes, path_);
  if (ok) size_ += bytes.size();
  return ok;
}

std::expected<void, std::string> append_file::truncate(std::uint64_t size) {
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) return std::unexpected(failure("cannot truncate", path_));
  size_ = size;
  return {};
}

std::expected<void, std::string> append_file::sync() {
  if (::fdatasync(fd_) != 0) return std::unexpected(failure("cannot fsync", path_));
  return {};
}

std::expected<void, std::string> write_atomically(const fs::path& path, std::string_view contents) {
  const fs::path temporary = fs::path(path).concat(".tmp");
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return std::unexpected(failure("cannot create", temporary));
  auto ok = write_all(fd, contents, temporary);
  if (ok && ::fsync(fd) != 0) ok = std::unexpected(failure("cannot fsync", temporary));
  ::close(fd);
  if (!ok) return ok;
  if (::rename(temporary.c_str(), path.c_str()) != 0) return std::unexpected(failure("cannot rename over", path));
  return sync_directory(path.parent_path().empty() ? fs::path(".") : path.parent_path());
}

std::expected<std::string, std::string> read_file(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::unexpected(failure("cannot open", path));
  std::string out;
  char buffer[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      auto error = failure("cannot read", path);
      ::close(fd);
      return std::unexpected(error);
    }
    if (n == 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

std::expected<directory_lock, std::string> directory_lock::acquire(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return std::unexpected(fmt::format("cannot create data directory {}: {}", dir.string(), ec.message()));
  const fs::path path = dir / "lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return std::unexpected(failure("cannot open", path));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const bool held = errno == EWOULDBLOCK;
    char pid[32] = {};
    const ssize_t n = ::pread(fd, pid, sizeof pid - 1, 0);
    ::close(fd);
    if (!held) return std::unexpected(failure("cannot lock", path));
    return std::unexpected(fmt::format("data directory {} is in use by another mqlab broker (pid {})", dir.string(),
                                       n > 0 ? std::string_view(pid, static_cast<std::size_t>(n)) : "unknown"));
  }
  const std::string pid = std::to_string(::getpid());
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    auto error = failure("cannot write", path);
    ::close(fd);
    return std::unexpected(error);
  }
  return directory_lock(fd);
}

directory_lock::~directory_lock() {
  if (fd_ >= 0) ::close(fd_);
}

fs::path default_data_dir() {
  if (const char* state = std::getenv("XDG_STATE_HOME"); state != nullptr && *state == '/') {
    return fs::path(state) / "mqlab-data";
  }
  const char* home = std::getenv("HOME");
  return fs::path(home != nullptr && *home != '\0' ? home : ".") / ".local" / "state" / "mqlab-data";
}

}  // namespace mqlab::net::storage
