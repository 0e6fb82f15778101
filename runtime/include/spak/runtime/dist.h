// spak/runtime/dist.h -- the host-side logic of data-parallel training (docs/distributed.md), with no CUDA or NCCL
// dependency so that it is unit-tested on any machine:
//   World / read_world          who am I: SPAK_RANK / SPAK_WORLD_SIZE / SPAK_LOCAL_RANK / SPAK_NCCL_ID_FILE (set by
//                               spak-run), else OMPI_COMM_WORLD_RANK / _SIZE / _LOCAL_RANK (mpirun); else one process
//   shard_range                 the contiguous block of a global batch a rank trains on
//   plan_buckets                gradient all-reduce buckets: reverse parameter order, at most a byte cap each
//   publish_id / wait_for_id    the NCCL unique id through a file (atomic rename; the others poll with a timeout)
//   resume_world_note           what a checkpoint written with N ranks means when resumed with M
// The generated cuda trainer includes it; the NCCL calls themselves live in the trainer (cuda/main.cu, SPAK_NCCL).
#pragma once

#include <time.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "spak/runtime/check.h"
#include "spak/runtime/io.h"

namespace spak::rt::dist {

// ---- who am I ------------------------------------------------------------------------------------------------------
struct World {
  int rank = 0;             // 0 .. size-1; rank 0 alone prints, logs, evaluates, samples and writes files
  int size = 1;             // number of processes (one per GPU)
  int local_rank = 0;       // the CUDA device this process uses
  std::string id_file;      // where rank 0 publishes the NCCL unique id ("" when size == 1)
  std::string source = "single process";  // "spak-run", "mpirun" or "single process"
  bool distributed() const { return size > 1; }
  bool lead() const { return rank == 0; }
};

// Reads a non-negative decimal integer from an environment value; usage error naming the variable otherwise.
inline int env_int(const std::string& name, const std::string& value, int min, int max) {
  if (value.empty()) fail_usage(cat("environment variable ", name, " is empty; expected an integer"));
  long long v = 0;
  for (char c : value) {
    if (c < '0' || c > '9') fail_usage(cat("environment variable ", name, "='", value, "' is not an integer"));
    v = v * 10 + (c - '0');
    if (v > max) break;
  }
  if (v < min || v > max)
    fail_usage(cat("environment variable ", name, "=", value, " is out of range [", min, ", ", max, "]"));
  return int(v);
}

// `get(name)` returns the variable's value and whether it is set (injectable for tests).
using EnvLookup = std::function<std::pair<bool, std::string>(const std::string&)>;

inline std::pair<bool, std::string> process_env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  return {v != nullptr, v ? std::string(v) : std::string()};
}

inline World read_world(const EnvLookup& get = process_env) {
  constexpr int kMaxRanks = 4096;
  World w;
  auto val = [&](const char* name) { return get(name); };
  // One launcher's variables: size, rank and (optional) local rank, set together.
  auto from = [&](const char* size_name, const char* rank_name, const char* local_name, const char* source) {
    const auto size = val(size_name), rank = val(rank_name);
    if (!size.first || !rank.first)
      fail_usage(cat(rank_name, " and ", size_name, " must be set together (", source, " sets both)"));
    w.size = env_int(size_name, size.second, 1, kMaxRanks);
    w.rank = env_int(rank_name, rank.second, 0, kMaxRanks);
    const auto local = val(local_name);
    w.local_rank = local.first ? env_int(local_name, local.second, 0, kMaxRanks) : w.rank;
    w.source = source;
  };
  if (val("SPAK_WORLD_SIZE").first || val("SPAK_RANK").first) {
    from("SPAK_WORLD_SIZE", "SPAK_RANK", "SPAK_LOCAL_RANK", "spak-run");
  } else if (val("OMPI_COMM_WORLD_SIZE").first || val("OMPI_COMM_WORLD_RANK").first) {
    from("OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "mpirun");
  } else {
    return w;
  }
  if (w.rank >= w.size)
    fail_usage(cat("rank ", w.rank, " is not below the world size ", w.size, " (", w.source, " environment)"));
  if (w.size == 1) return w;  // one process: NCCL is never touched
  const auto id = val("SPAK_NCCL_ID_FILE");
  if (id.first && !id.second.empty()) {
    w.id_file = id.second;
  } else if (w.source == "mpirun") {
    // One name per mpirun job: Open MPI's job id (PMIx namespace) is the same in every rank of a job.
    const auto ns = val("PMIX_NAMESPACE"), job = val("OMPI_MCA_ess_base_jobid");
    const std::string tag = ns.first && !ns.second.empty() ? ns.second : job.first ? job.second : std::string();
    if (tag.empty())
      fail_usage("mpirun: set SPAK_NCCL_ID_FILE to a path every rank can read (rank 0 writes the NCCL id there)");
    std::string safe;
    for (char c : tag) safe += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.') ? c : '_';
    const auto tmp = val("TMPDIR");
    w.id_file = cat(tmp.first && !tmp.second.empty() ? tmp.second : std::string("/tmp"), "/spak-nccl-", safe, ".id");
  } else {
    fail_usage("SPAK_NCCL_ID_FILE is not set: start the ranks with spak-run (it sets it), or set it to a path "
               "every rank can read");
  }
  return w;
}

// ---- data sharding ------------------------------------------------------------------------------------------------
// The global batch of a step has `total` rows (world size x the compiled per-rank batch); rank r trains on one
// contiguous block of it: [begin, begin + count). Blocks are disjoint, cover every row and are as even as possible
// (the first total % size ranks get one row more). With total = size * B every rank gets exactly B rows and rank
// r's rows are r*B .. r*B + B - 1: the rows one process at batch size*B would draw, in the same order.
struct Range {
  int64_t begin = 0, count = 0;
};

inline Range shard_range(int64_t total, int size, int rank) {
  SPAK_CHECK(size >= 1 && rank >= 0 && rank < size, "bad rank ", rank, " of ", size);
  SPAK_CHECK(total >= 0, "negative row count ", total);
  const int64_t base = total / size, extra = total % size;
  Range r;
  r.begin = int64_t(rank) * base + std::min<int64_t>(rank, extra);
  r.count = base + (rank < extra ? 1 : 0);
  return r;
}

// ---- gradient buckets ---------------------------------------------------------------------------------------------
// Gradients are all-reduced in buckets of at most `cap_bytes` (one NCCL group each), walking the parameters in
// REVERSE declaration order -- the order a backward pass produces them, so the first bucket is ready first. A tensor
// larger than the cap is a bucket of its own; cap 0 means one bucket for everything. Every tensor is in exactly one
// bucket; within a bucket the tensors keep the walk order.
struct Bucket {
  std::vector<size_t> tensors;  // parameter indices
  size_t bytes = 0;
};

inline std::vector<Bucket> plan_buckets(const std::vector<size_t>& tensor_bytes, size_t cap_bytes) {
  std::vector<Bucket> out;
  for (size_t k = tensor_bytes.size(); k-- > 0;) {
    const size_t b = tensor_bytes[k];
    if (out.empty() || (cap_bytes > 0 && out.back().bytes > 0 && out.back().bytes + b > cap_bytes))
      out.emplace_back();
    out.back().tensors.push_back(k);
    out.back().bytes += b;
  }
  return out;
}

// The bucket cap from SPAK_BUCKET_MB (MiB, may be fractional; 0 = one bucket); default 25 MiB (as PyTorch DDP).
inline size_t bucket_cap_bytes(const EnvLookup& get = process_env) {
  const auto v = get("SPAK_BUCKET_MB");
  if (!v.first || v.second.empty()) return size_t(25) << 20;
  char* end = nullptr;
  errno = 0;
  const double mb = std::strtod(v.second.c_str(), &end);
  if (errno != 0 || end == v.second.c_str() || *end != '\0' || !(mb >= 0) || mb > 1e6)
    fail_usage(cat("environment variable SPAK_BUCKET_MB='", v.second, "' is not a size in MiB"));
  return size_t(mb * 1048576.0);
}

// ---- the NCCL id through a file --------------------------------------------------------------------------------------
// Rank 0 writes the id bytes to `path` atomically (temporary file + fsync + rename), so a reader sees all of it or
// nothing. The other ranks poll for it.
inline void publish_id(const std::string& path, const void* id, size_t size) { write_file_atomic(path, id, size); }

// Polls `path` every few milliseconds until it holds exactly `size` bytes; fails after `timeout_s` seconds naming
// the file and what to check.
inline std::string wait_for_id(const std::string& path, size_t size, double timeout_s, int rank) {
  const double step_s = 0.01;
  for (double waited = 0.0;; waited += step_s) {
    if (file_exists(path)) {
      std::string bytes = read_file(path);
      if (bytes.size() == size) return bytes;
      fail(cat("rank ", rank, ": the NCCL id file '", path, "' holds ", bytes.size(), " bytes, expected ", size,
               " (a stale file of another run? remove it)"));
    }
    if (waited >= timeout_s)
      fail(cat("rank ", rank, ": timed out after ", timeout_s, " s waiting for rank 0 to write the NCCL id file '",
               path, "' (did rank 0 start, or fail before? SPAK_NCCL_ID_TIMEOUT sets the wait)"));
    struct timespec ts = {0, long(step_s * 1e9)};
    ::nanosleep(&ts, nullptr);
  }
}

// SPAK_NCCL_ID_TIMEOUT in seconds (default 300: rank 0 may still be loading data when the others ask).
inline double id_timeout_s(const EnvLookup& get = process_env) {
  const auto v = get("SPAK_NCCL_ID_TIMEOUT");
  if (!v.first || v.second.empty()) return 300.0;
  char* end = nullptr;
  const double s = std::strtod(v.second.c_str(), &end);
  if (end == v.second.c_str() || *end != '\0' || !(s > 0) || s > 1e7)
    fail_usage(cat("environment variable SPAK_NCCL_ID_TIMEOUT='", v.second, "' is not a positive number of seconds"));
  return s;
}

// ---- checkpoints across world sizes -------------------------------------------------------------------------------
// Weights and optimizer state are replicated and the RNG state is the same in every rank, so a checkpoint holds no
// per-rank state and any world size can resume it. What changes is the global batch (world size x per-rank rows):
// returns a note saying so ("" when nothing changes). `saved_world` <= 0: the checkpoint predates the metadata.
inline std::string resume_world_note(int saved_world, int64_t saved_rows, int world, int64_t rows) {
  if (saved_world <= 0) return "";
  if (saved_world == world && saved_rows == rows) return "";
  return cat("note: resuming a checkpoint written by ", saved_world, saved_world == 1 ? " rank" : " ranks", " (",
             saved_rows, " rows per step) with ", world, world == 1 ? " rank" : " ranks", " (", rows,
             " rows per step): weights, optimizer state, step and RNG carry over; the global batch changes");
}

// Parses the spak.world_size / spak.global_batch metadata of a checkpoint ("" or malformed: 0).
inline int64_t meta_int(const std::string& v) {
  if (v.empty() || v.size() > 18) return 0;
  int64_t x = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return 0;
    x = x * 10 + (c - '0');
  }
  return x;
}

}  // namespace spak::rt::dist
