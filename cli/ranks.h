// The processes one sweep is spread over: the MPI ranks when `mpirun` started this process (in
// a build with Open MPI, MQLAB_MPI), otherwise this process alone.
#pragma once

#include <cstddef>
#include <expected>
#include <string>
#include <vector>

namespace mqlab::cli {

class ranks {
 public:
  /// Joins the MPI job mpirun started this process in, if any. Fails when mpirun started it but
  /// this build has no MPI: each rank would run the whole sweep.
  static std::expected<ranks, std::string> join();
  ranks(ranks&& other) noexcept;
  ranks& operator=(ranks&&) = delete;
  ~ranks();

  std::size_t rank() const { return rank_; }
  std::size_t size() const { return size_; }
  /// Every rank's `part` in rank order on rank 0 (collective: every rank calls it once); an
  /// empty vector on the other ranks.
  std::vector<std::string> gather(const std::string& part) const;

 private:
  ranks(std::size_t rank, std::size_t size, bool joined) : rank_(rank), size_(size), joined_(joined) {}
  std::size_t rank_ = 0, size_ = 1;
  bool joined_ = false;  // MPI_Init was called, so MPI_Finalize is due
};

}  // namespace mqlab::cli
