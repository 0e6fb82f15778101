// Unit tests for spak/runtime/dist.h and spak/runtime/launcher.h: the host-side logic of data-parallel training
// (docs/distributed.md) -- rank/world from the environment, data sharding, gradient buckets, the NCCL id file,
// checkpoints across world sizes, and spak-run's argument handling.
#include "test_util.h"

#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "spak/runtime/dist.h"
#include "spak/runtime/launcher.h"

using namespace spak::rt;
using namespace spak::rt::dist;
using Catch::Matchers::Contains;

namespace {
EnvLookup env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& k) -> std::pair<bool, std::string> {
    auto it = vars.find(k);
    return it == vars.end() ? std::make_pair(false, std::string()) : std::make_pair(true, it->second);
  };
}

launch::Options parse(std::vector<const char*> argv) {
  argv.insert(argv.begin(), "spak-run");
  return launch::parse_launch_args(int(argv.size()), argv.data());
}
}  // namespace

TEST_CASE("dist: world from the environment", "[dist]") {
  World w = read_world(env({}));
  CHECK(w.size == 1);
  CHECK(w.rank == 0);
  CHECK(!w.distributed());
  CHECK(w.lead());

  w = read_world(env({{"SPAK_RANK", "1"}, {"SPAK_WORLD_SIZE", "2"}, {"SPAK_LOCAL_RANK", "1"},
                      {"SPAK_NCCL_ID_FILE", "/tmp/x/nccl.id"}}));
  CHECK(w.rank == 1);
  CHECK(w.size == 2);
  CHECK(w.local_rank == 1);
  CHECK(w.id_file == "/tmp/x/nccl.id");
  CHECK(w.source == "spak-run");
  CHECK(!w.lead());

  // One rank through spak-run: no id file needed, NCCL is never touched.
  w = read_world(env({{"SPAK_RANK", "0"}, {"SPAK_WORLD_SIZE", "1"}}));
  CHECK(w.size == 1);
  CHECK(w.id_file.empty());

  // mpirun: OMPI_COMM_WORLD_*; the id file defaults to one name per job.
  w = read_world(env({{"OMPI_COMM_WORLD_RANK", "3"}, {"OMPI_COMM_WORLD_SIZE", "4"},
                      {"OMPI_COMM_WORLD_LOCAL_RANK", "1"}, {"PMIX_NAMESPACE", "prterun-host-123@1"}}));
  CHECK(w.rank == 3);
  CHECK(w.size == 4);
  CHECK(w.local_rank == 1);
  CHECK(w.source == "mpirun");
  CHECK(w.id_file == "/tmp/spak-nccl-prterun-host-123_1.id");
  // SPAK_* wins over OMPI_*.
  w = read_world(env({{"OMPI_COMM_WORLD_RANK", "3"}, {"OMPI_COMM_WORLD_SIZE", "4"}, {"SPAK_RANK", "0"},
                      {"SPAK_WORLD_SIZE", "2"}, {"SPAK_NCCL_ID_FILE", "f"}}));
  CHECK(w.size == 2);
  CHECK(w.local_rank == 0);

  CHECK_THROWS_WITH(read_world(env({{"SPAK_RANK", "2"}, {"SPAK_WORLD_SIZE", "2"}, {"SPAK_NCCL_ID_FILE", "f"}})),
                    Contains("rank 2 is not below the world size 2"));
  CHECK_THROWS_WITH(read_world(env({{"SPAK_RANK", "0"}})), Contains("must be set together"));
  CHECK_THROWS_WITH(read_world(env({{"SPAK_RANK", "x"}, {"SPAK_WORLD_SIZE", "2"}})), Contains("SPAK_RANK='x'"));
  CHECK_THROWS_WITH(read_world(env({{"SPAK_RANK", "0"}, {"SPAK_WORLD_SIZE", "0"}})), Contains("out of range"));
  CHECK_THROWS_WITH(read_world(env({{"SPAK_RANK", "0"}, {"SPAK_WORLD_SIZE", "2"}})), Contains("SPAK_NCCL_ID_FILE"));
  CHECK_THROWS_WITH(read_world(env({{"OMPI_COMM_WORLD_RANK", "0"}, {"OMPI_COMM_WORLD_SIZE", "2"}})),
                    Contains("set SPAK_NCCL_ID_FILE"));
  CHECK_THROWS_AS(read_world(env({{"SPAK_RANK", "0"}, {"SPAK_WORLD_SIZE", "2"}})), UsageError);
}

TEST_CASE("dist: shard ranges are disjoint, cover the batch and match one process at the global batch", "[dist]") {
  // The trainer's case: N * B rows, rank r gets rows r*B .. r*B + B - 1.
  for (int n = 1; n <= 8; ++n)
    for (int r = 0; r < n; ++r) {
      Range g = shard_range(16 * n, n, r);
      CHECK(g.begin == 16 * r);
      CHECK(g.count == 16);
    }
  // Uneven totals: the first total % size ranks get one more row; blocks tile [0, total).
  for (int64_t total : {0, 1, 5, 7, 100, 101})
    for (int n : {1, 2, 3, 4, 7}) {
      int64_t next = 0, minc = total, maxc = 0;
      for (int r = 0; r < n; ++r) {
        Range g = shard_range(total, n, r);
        CHECK(g.begin == next);
        next += g.count;
        minc = std::min(minc, g.count);
        maxc = std::max(maxc, g.count);
      }
      CHECK(next == total);
      CHECK(maxc - minc <= 1);
    }
  CHECK_THROWS(shard_range(10, 2, 2));
  CHECK_THROWS(shard_range(10, 0, 0));
}

TEST_CASE("dist: gradient buckets walk the parameters in reverse under a byte cap", "[dist]") {
  // bytes of parameters 0..5
  const std::vector<size_t> bytes = {100, 40, 40, 30, 200, 10};
  std::vector<Bucket> b = plan_buckets(bytes, 100);
  // reverse order 5,4,3,2,1,0: {5}=10, 4 (200 > cap, alone) , {3,2}=70 (+1 would be 110), {1}=40 (+0 → 140), {0}
  REQUIRE(b.size() == 5);
  CHECK(b[0].tensors == std::vector<size_t>{5});
  CHECK(b[1].tensors == std::vector<size_t>{4});
  CHECK(b[1].bytes == 200);
  CHECK(b[2].tensors == std::vector<size_t>{3, 2});
  CHECK(b[2].bytes == 70);
  CHECK(b[3].tensors == std::vector<size_t>{1});
  CHECK(b[4].tensors == std::vector<size_t>{0});
  // Every tensor exactly once; no bucket over the cap unless it is one tensor.
  std::multiset<size_t> seen;
  for (const Bucket& k : b) {
    for (size_t t : k.tensors) seen.insert(t);
    if (k.tensors.size() > 1) CHECK(k.bytes <= 100);
  }
  CHECK(seen == std::multiset<size_t>{0, 1, 2, 3, 4, 5});
  // Cap 0: one bucket, reverse order.
  b = plan_buckets(bytes, 0);
  REQUIRE(b.size() == 1);
  CHECK(b[0].tensors == std::vector<size_t>{5, 4, 3, 2, 1, 0});
  CHECK(b[0].bytes == 420);
  // A huge cap: one bucket too; nothing to plan: no bucket.
  CHECK(plan_buckets(bytes, size_t(1) << 40).size() == 1);
  CHECK(plan_buckets({}, 100).empty());
  // Exactly at the cap fills a bucket.
  b = plan_buckets({50, 50, 50}, 100);
  REQUIRE(b.size() == 2);
  CHECK(b[0].tensors == std::vector<size_t>{2, 1});
  // SPAK_BUCKET_MB.
  CHECK(bucket_cap_bytes(env({})) == size_t(25) << 20);
  CHECK(bucket_cap_bytes(env({{"SPAK_BUCKET_MB", "0.5"}})) == size_t(1) << 19);
  CHECK(bucket_cap_bytes(env({{"SPAK_BUCKET_MB", "0"}})) == 0);
  CHECK_THROWS_AS(bucket_cap_bytes(env({{"SPAK_BUCKET_MB", "lots"}})), UsageError);
}

TEST_CASE("dist: the NCCL id goes through a file", "[dist]") {
  spak_test::TempDir dir;
  const std::string path = dir.file("nccl.id");
  CHECK_THROWS_WITH(wait_for_id(path, 128, 0.05, 1), Contains("timed out after 0.05 s"));
  std::string id(128, '\0');
  for (size_t i = 0; i < id.size(); ++i) id[i] = char(i * 7);
  publish_id(path, id.data(), id.size());
  CHECK(wait_for_id(path, 128, 1.0, 1) == id);
  CHECK_THROWS_WITH(wait_for_id(path, 64, 1.0, 1), Contains("holds 128 bytes, expected 64"));
  CHECK(id_timeout_s(env({})) == 300.0);
  CHECK(id_timeout_s(env({{"SPAK_NCCL_ID_TIMEOUT", "2.5"}})) == 2.5);
  CHECK_THROWS_AS(id_timeout_s(env({{"SPAK_NCCL_ID_TIMEOUT", "-1"}})), UsageError);
  std::remove(path.c_str());
}

TEST_CASE("dist: checkpoints resume with another world size", "[dist]") {
  CHECK(resume_world_note(2, 32, 2, 32).empty());
  CHECK(resume_world_note(0, 0, 4, 64).empty());  // a checkpoint without the metadata: nothing to say
  const std::string n = resume_world_note(2, 32, 1, 16);
  CHECK_THAT(n, Contains("written by 2 ranks (32 rows per step) with 1 rank (16 rows per step)"));
  CHECK_THAT(n, Contains("the global batch changes"));
  CHECK(meta_int("4") == 4);
  CHECK(meta_int("") == 0);
  CHECK(meta_int("x1") == 0);
}

TEST_CASE("launcher: spak-run argument handling", "[dist][launcher]") {
  launch::Options o = parse({"-n", "2", "--", "./train", "--steps", "5"});
  CHECK(o.nprocs == 2);
  CHECK(o.command == std::vector<std::string>{"./train", "--steps", "5"});
  o = parse({"-n4", "./train", "--steps", "5"});  // no --: the first non-option is the program
  CHECK(o.nprocs == 4);
  CHECK(o.command == std::vector<std::string>{"./train", "--steps", "5"});
  o = parse({"--nprocs=3", "--", "-weird-name", "-n", "9"});  // after --, everything is the command
  CHECK(o.nprocs == 3);
  CHECK(o.command == std::vector<std::string>{"-weird-name", "-n", "9"});
  o = parse({"--nprocs", "1", "sh"});
  CHECK(o.nprocs == 1);
  CHECK(parse({"--help"}).help);
  CHECK(parse({"-h", "-n"}).help);

  CHECK_THROWS_WITH(parse({}), Contains("missing -n N"));
  CHECK_THROWS_WITH(parse({"./train"}), Contains("missing -n N"));
  CHECK_THROWS_WITH(parse({"-n", "2"}), Contains("missing the program"));
  CHECK_THROWS_WITH(parse({"-n", "2", "--"}), Contains("missing the program"));
  CHECK_THROWS_WITH(parse({"-n"}), Contains("-n needs a value"));
  CHECK_THROWS_WITH(parse({"-n", "0", "x"}), Contains("got '0'"));
  CHECK_THROWS_WITH(parse({"-n", "two", "x"}), Contains("got 'two'"));
  CHECK_THROWS_WITH(parse({"-n", "2000", "x"}), Contains("1..1024"));
  CHECK_THROWS_WITH(parse({"-n", "2", "-n", "3", "x"}), Contains("-n given twice"));
  CHECK_THROWS_WITH(parse({"-x", "x"}), Contains("unknown option '-x'"));
  CHECK_THROWS_AS(parse({"-n", "2"}), UsageError);
}
