// MPI behind `ranks`: initialised only when a launcher's environment says this process is one of
// several ranks, so that a plain `mqlab sweep` never starts MPI.
#include "cli/ranks.h"
#include "cli/shard.h"

#include <climits>
#include <cstdio>
#include <utility>

#ifdef MQLAB_WITH_MPI
#include <mpi.h>
#endif

namespace mqlab::cli {
namespace {

/// The launchers' world sizes: Open MPI's mpirun, then PMI (MPICH, Slurm's srun --mpi).
std::size_t launched_world_size() {
  return count_in("OMPI_COMM_WORLD_SIZE").or_else([] { return count_in("PMI_SIZE"); }).value_or(1);
}

}  // namespace

std::expected<ranks, std::string> ranks::join() {
  if (launched_world_size() <= 1) return ranks(0, 1, false);
#ifdef MQLAB_WITH_MPI
  MPI_Init(nullptr, nullptr);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return ranks(static_cast<std::size_t>(rank), static_cast<std::size_t>(size), true);
#else
  return std::unexpected("started by mpirun, but this mqlab was built without MPI (install libopenmpi-dev and rebuild)");
#endif
}

ranks::ranks(ranks&& other) noexcept
    : rank_(other.rank_), size_(other.size_), joined_(std::exchange(other.joined_, false)) {}

ranks::~ranks() {
#ifdef MQLAB_WITH_MPI
  if (joined_) MPI_Finalize();
#endif
}

std::vector<std::string> ranks::gather(const std::string& part) const {
#ifdef MQLAB_WITH_MPI
  if (joined_) {
    // Sizes first, then the bytes. MPI counts are ints: a sweep's parts (at most a million rows)
    // stay far below 2 GiB together, and a larger total stops the job rather than wrapping.
    const long long length = static_cast<long long>(part.size());
    std::vector<long long> lengths(rank_ == 0 ? size_ : 0);
    MPI_Gather(&length, 1, MPI_LONG_LONG, lengths.data(), 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
    std::vector<int> counts, offsets;
    long long total = 0;
    for (const long long l : lengths) {
      offsets.push_back(static_cast<int>(total));
      counts.push_back(static_cast<int>(l));
      if ((total += l) > INT_MAX) {
        std::fputs("mqlab: the ranks' results exceed 2 GiB\n", stderr);
        MPI_Abort(MPI_COMM_WORLD, 2);
      }
    }
    std::string all(static_cast<std::size_t>(total), '\0');
    MPI_Gatherv(part.data(), static_cast<int>(length), MPI_CHAR, all.data(), counts.data(), offsets.data(), MPI_CHAR, 0,
                MPI_COMM_WORLD);
    std::vector<std::string> parts;
    for (std::size_t r = 0; r < counts.size(); ++r) parts.push_back(all.substr(static_cast<std::size_t>(offsets[r]), static_cast<std::size_t>(counts[r])));
    return parts;
  }
#endif
  return {part};
}

}  // namespace mqlab::cli
