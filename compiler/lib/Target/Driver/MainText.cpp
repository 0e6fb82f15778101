//===- MainText.cpp - the fixed text of the generated trainer -------------===//
//
// See MainText.h. Holes: $FILE_COMMENT $HEADER $INCLUDES $CONSTANTS $PARAMS $SCHEDULE $DATA $CALLS $DEVICE
// $EXTRA_FLAGS $DEVICE_CHECK $DEVICE_CTOR $DIST_DEVICE $WORLD_CHECK. Everything else is copied verbatim into main.cpp / main.cu.
//
//===----------------------------------------------------------------------===//
#include "MainText.h"

namespace spak::target::driver {

const char *const kCppFileComment = R"cpp(//
// The trainer (docs/trainer-cli.md): parses the flags, loads and tokenizes the data, draws the initial weights
// into one arena, runs the compiled @train_step once per step on the CPU, logs, saves, samples through @infer.
// Everything model-specific below was read from the compiled module; docs/driver.md explains the structure.
)cpp";

const char *const kCudaFileComment = R"cpp(//
// The trainer (docs/trainer-cli.md): parses the flags, loads and tokenizes the data, draws the initial weights
// into one arena (mirrored in one cudaMalloc), runs the compiled @train_step once per step on one stream -- by
// default replayed from a CUDA graph captured per sequence length -- logs, saves, samples through @infer.
// Everything model-specific below was read from the compiled module; docs/driver.md explains the structure.
)cpp";

const char *const kCppIncludes = R"cpp(#include "spak/runtime/args.h"
#include "spak/runtime/arena.h"
#include "spak/runtime/check.h"
#include "spak/runtime/checkpoint.h"
#include "spak/runtime/data.h"
#include "spak/runtime/dist.h"
#include "spak/runtime/io.h"
#include "spak/runtime/json.h"
#include "spak/runtime/log.h"
#include "spak/runtime/rng.h"
)cpp";

const char *const kCudaIncludes = R"cpp(// model.cuh's SPAK_CUDA_CHECK throws std::runtime_error; the trainer uses the runtime's (spak::rt::Error: a
// one-line "error: CUDA error at ..." and exit code 1).
#undef SPAK_CUDA_CHECK
#include "spak/runtime/cuda_check.h"

#include "spak/runtime/args.h"
#include "spak/runtime/arena.h"
#include "spak/runtime/check.h"
#include "spak/runtime/checkpoint.h"
#include "spak/runtime/data.h"
#include "spak/runtime/dist.h"
#include "spak/runtime/io.h"
#include "spak/runtime/json.h"
#include "spak/runtime/log.h"
#include "spak/runtime/rng.h"

// Data-parallel training through NCCL (docs/distributed.md): compiled in with -DSPAK_NCCL (the project's CMake
// option SPAK_NCCL, on when NCCL is found). Without it the trainer runs as one process only.
#ifdef SPAK_NCCL
#include <nccl.h>
#endif
)cpp";

const char *const kMainTemplate = R"cpp($FILE_COMMENT
#include $HEADER

$INCLUDES
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace {

using spak::rt::cat;

// ==== The model, as compiled ========================================================================================
$CONSTANTS
enum class Init { Normal, Uniform, Zeros, Ones };

struct ParamSpec {
  const char* name;
  std::vector<int64_t> shape;
  Init init;
  double a, b;  // normal: mean, std; uniform: lo, hi
  int64_t valid_rows;  // > 0: only these leading rows are real, the rest is padding (rule pad_vocab), kept at zero
};

// The parameters in declaration order: the arena layout, the init order and @train_step's argument order.
const std::vector<ParamSpec>& param_specs() {
  static const std::vector<ParamSpec> specs = {
$PARAMS  };
  return specs;
}

// ==== Learning rate =================================================================================================
$SCHEDULE
// --steps N is the schedule's length too (microgpt.py's num_steps): the optimizer kernels read it on the device
// from the step buffer [step, total_steps], which the trainer writes once before training. A shorter run that is
// the first part of a longer schedule: --steps <long> --stop-after K. The kernels take the step in float (exact
// below 2^24); a cosine schedule needs N > its warmup.
void check_steps(int64_t steps) {
  if (steps > (int64_t(1) << 24))
    spak::rt::fail_usage(cat("--steps ", steps, " is past 2^24 = 16777216 (the optimizer kernels take the step in ",
                             "float)"));
  if (std::string(kSchedule) == "cosine" && steps != 0 && double(steps) <= kScheduleWarmup)
    spak::rt::fail_usage(cat("--steps ", steps, ": the cosine learning-rate schedule needs more steps than its ",
                             "warmup (", kScheduleWarmup, ")"));
}

// ==== Data files ====================================================================================================
// A default (relative) data path is looked up in ./data/, ../shared/data/, then in data/ and ../shared/data/ of the
// project directory and up to three of its parents, then as given. An explicit --data path is used as given.
std::string find_data_file(const std::string& rel, const char* hint) {
  if (!rel.empty() && rel[0] == '/') return rel;
  std::vector<std::string> tried;
  auto found = [&](const std::string& p) {
    tried.push_back(p);
    return spak::rt::file_exists(p);
  };
  if (found("data/" + rel)) return "data/" + rel;
  if (found("../shared/data/" + rel)) return "../shared/data/" + rel;
#ifdef SPAK_PROJECT_DIR
  std::string dir = SPAK_PROJECT_DIR;
  for (int up = 0; up < 4 && !dir.empty(); ++up) {
    if (found(dir + "/data/" + rel)) return dir + "/data/" + rel;
    if (found(dir + "/../shared/data/" + rel)) return dir + "/../shared/data/" + rel;
    size_t slash = dir.find_last_of('/');
    if (slash == std::string::npos || slash == 0) break;
    dir.resize(slash);
  }
#endif
  if (found(rel)) return rel;
  std::string list;
  for (size_t i = 0; i < tried.size(); ++i) list += cat(i ? ", " : "", tried[i]);
  spak::rt::fail(cat("cannot find the data file '", rel, "' (looked for ", list, "); ", hint));
}

std::string base_name(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// One batch: kBatch rows of T token ids (row-major) and their next-token targets.
struct Example {
  std::vector<int32_t> x, y;
  int64_t T = 0;
};

// This rank's rows of a global batch of world.size * kBatch rows of kMaxT ids (spak::rt::dist::shard_range: rank r
// takes rows r*kBatch .. r*kBatch + kBatch - 1, the rows one process at batch world.size * kBatch would train on).
[[maybe_unused]] void take_shard(const spak::rt::Batch& global, const spak::rt::dist::World& world, Example& ex) {
  const spak::rt::dist::Range rows = spak::rt::dist::shard_range(kBatch * world.size, world.size, world.rank);
  const auto from = long(rows.begin * kMaxT), to = long((rows.begin + rows.count) * kMaxT);
  ex.x.assign(global.x.begin() + from, global.x.begin() + to);
  ex.y.assign(global.y.begin() + from, global.y.begin() + to);
  ex.T = kMaxT;
}

$DATA
// The batch @infer sees for a sampling context: its last kMaxT tokens in every row. T is their count n (or the
// static T, the rest padded with 0: causal attention keeps padding after position n-1 invisible to it). Returns
// n - 1, the position whose logits predict the next token.
int64_t context_batch(const std::vector<int32_t>& context, Example& ex) {
  const size_t n = std::min(context.size(), size_t(kMaxT));
  ex.T = kStaticT ? kMaxT : int64_t(n);
  ex.x.assign(size_t(kBatch * ex.T), 0);
  for (int64_t b = 0; b < kBatch; ++b)
    std::copy(context.end() - long(n), context.end(), ex.x.begin() + long(b * ex.T));
  ex.y.assign(ex.x.size(), 0);
  return int64_t(n) - 1;
}

// ==== The host step functions =======================================================================================
// What a host function reads and writes besides its workspace: the arena (the sections in kSections, one layout),
// the step counter, the batch and the status flag. Host memory for cpp, device memory for cuda.
struct StepIO {
  float* arena = nullptr;
  size_t section_floats = 0;    // floats per arena section
  std::vector<size_t> offsets;  // offset of each parameter inside a section
  int32_t* step = nullptr;      // [2]: the 0-based step (Adam's bias correction uses step + 1), total_steps
  int32_t* status = nullptr;    // [1]: kernels store 1 when a token id or target is outside the vocabulary
  int32_t* tokens = nullptr;    // [kBatch * kMaxT]
  int32_t* targets = nullptr;   // [kBatch * kMaxT]
  float* tensor(int section, int param) const {
    return arena + size_t(section) * section_floats + offsets[size_t(param)];
  }
};

// Where a train step left its scalar results (inside the workspace).
struct StepOutputs {
  const float* loss = nullptr;
  const float* grad_norm = nullptr;
};

$CALLS
// The byte count in StepContext::alloc's "spak: step workspace exhausted: need N bytes, have M" (0 for any other
// error, which is then rethrown).
size_t workspace_needed(const char* what) {
  static const char kKey[] = "step workspace exhausted: need ";
  const char* p = std::strstr(what, kKey);
  return p ? size_t(std::strtoull(p + sizeof kKey - 1, nullptr, 10)) : 0;
}

struct StepResult {
  double loss = 0, grad_norm = 0;
  int32_t status = 0;
};

$DIST_DEVICE$DEVICE
// ==== The trainer ===================================================================================================
// In declaration order, from the run's one RNG: normal = random.gauss(a, b) per element (row-major), uniform =
// random.uniform(a, b) per element; zeros and ones draw nothing. Padding rows (valid_rows) draw nothing and are
// zeros, so the stream and the real rows are the same with and without padding.
void init_params(spak::rt::Arena& arena, spak::rt::PyRandom& rng) {
  for (const ParamSpec& p : param_specs()) {
    spak::rt::TensorRef w = arena.view("param", p.name);
    const size_t n = w.info->stored_numel;
    switch (p.init) {
      case Init::Normal: rng.fill_gauss(w.data, n, p.a, p.b); break;
      case Init::Uniform:
        for (size_t k = 0; k < n; ++k) w[k] = float(p.a + (p.b - p.a) * rng.random());
        break;
      case Init::Zeros: std::fill(w.data, w.data + n, 0.0f); break;
      case Init::Ones: std::fill(w.data, w.data + n, 1.0f); break;
    }
    std::fill(w.data + n, w.data + w.numel(), 0.0f);
  }
}

// Output files are written at the end of a run: a directory that cannot take them is reported before training.
void check_writable(const std::string& path, const char* flag) {
  if (path.empty()) return;
  const std::string dir = spak::rt::parent_dir(path);
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    spak::rt::fail(cat(flag, " '", path, "': cannot write to directory '", dir, "': ", spak::rt::errno_text(errno)));
}

void check_status(int32_t status, const std::string& where) {
  if (status != 0)
    spak::rt::fail(cat(where, ": a token id or target is outside the vocabulary (size ", kVocab,
                       "); the data does not fit this model"));
}

// Mean loss over kEvalBatches fixed batches of each split (the same batches every time; the training RNG is not
// touched), printed and logged as {"event":"eval",...}.
double evaluate(Device& device, const TrainData& data, int64_t step, spak::rt::JsonlLog& log) {
  double sum[2] = {0.0, 0.0};
  Example ex;
  for (int split = 0; split < 2; ++split)
    for (int64_t i = 0; i < kEvalBatches; ++i) {
      data.eval_batch(split == 1, i, ex);
      int32_t status = 0;
      sum[split] += device.eval_loss(ex, status);
      check_status(status, cat("evaluation at step ", step));
    }
  const double batches = double(std::max<int64_t>(kEvalBatches, 1));
  const double train_loss = sum[0] / batches, val_loss = sum[1] / batches;
  std::printf("eval step %4lld | train loss %.4f | val loss %.4f\n", static_cast<long long>(step), train_loss,
              val_loss);
  std::fflush(stdout);
  log.write_raw(cat("{\"event\":\"eval\",\"step\":", step, ",\"train_loss\":", spak::rt::json_number(train_loss),
                    ",\"val_loss\":", spak::rt::json_number(val_loss), "}"));
  if (!std::isfinite(train_loss) || !std::isfinite(val_loss))
    spak::rt::fail(cat("evaluation at step ", step, ": the loss is not finite"));
  return val_loss;
}

// One sample as microgpt.py draws it: from the start token, up to kSampleMaxLen tokens, each drawn with
// random.choices from softmax(logits / temperature) (computed in double); stops early at the stop token.
std::string sample_one(Device& device, const TrainData& data, spak::rt::PyRandom& rng) {
  std::vector<int32_t> context = {data.sample_start()};
  std::vector<double> probs(static_cast<size_t>(kVocab));
  std::string text;
  for (int64_t k = 0; k < kSampleMaxLen; ++k) {
    int32_t status = 0;
    std::vector<float> logits = device.next_logits(context, status);
    check_status(status, "sampling");
    double mx = -INFINITY;
    for (int64_t v = 0; v < kVocab; ++v) mx = std::max(mx, double(logits[size_t(v)]) / kSampleTemperature);
    double sum = 0.0;
    for (int64_t v = 0; v < kVocab; ++v) {
      probs[size_t(v)] = std::exp(double(logits[size_t(v)]) / kSampleTemperature - mx);
      sum += probs[size_t(v)];
    }
    for (double& p : probs) p /= sum;
    const int32_t tok = int32_t(rng.choice_weighted(probs.data(), probs.size()));
    if (data.stops_sample(tok)) break;
    text += data.decode(tok);
    context.push_back(tok);
  }
  return text;
}

int run(int argc, char** argv) {
  // ---- flags (docs/trainer-cli.md); the defaults are the .dsl's
  spak::rt::TrainerArgs args;
  args.data = kDataPath;
  args.steps = kDefaultSteps;
  args.seed = kDefaultSeed;
  args.sample = kSampleCount;
  args.device = kDefaultDevice;
  [[maybe_unused]] bool no_cuda_graph = false;
  // Data parallelism (docs/distributed.md): the rank and world size come from spak-run or mpirun's environment.
  // Rank 0 alone prints, logs, evaluates, samples and writes files; every rank trains on its shard of the batch.
  const spak::rt::dist::World world = spak::rt::dist::read_world();
  const bool lead = world.lead();
  {
    spak::rt::ArgParser parser(argc > 0 && argv[0] ? argv[0] : "train",
                               cat(kModelName, " trainer generated by spakc (target ", kTargetName,
                                   "); the flags are documented in docs/trainer-cli.md"));
    spak::rt::add_trainer_options(parser, args);
$EXTRA_FLAGS    if (!parser.parse(argc, argv)) return 0;  // --help: usage printed
  }
  if (!args.resume.empty() && !args.init_from.empty())
    spak::rt::fail_usage("--resume and --init-from cannot be combined (a checkpoint already holds the weights)");
  if (args.stop_after > args.steps)
    spak::rt::fail_usage(cat("--stop-after ", args.stop_after, " is past --steps ", args.steps));
$DEVICE_CHECK$WORLD_CHECK  check_steps(args.steps);
  if (lead) {
    check_writable(args.save, "--save");
    check_writable(args.checkpoint, "--checkpoint");
    check_writable(args.save_best, "--save-best");
  }
  const bool resuming = !args.resume.empty();

  // ---- data, shuffled with the run's one RNG (before the init, as microgpt.py does)
  spak::rt::PyRandom rng(args.seed);
  const std::string data_path = args.data == kDataPath ? find_data_file(args.data, kDataHint) : args.data;
  TrainData data = TrainData::load(data_path);
  if (args.shuffle) data.shuffle(rng);
  if (data.vocab_size() != kVocab)
    spak::rt::fail(cat("the data's vocabulary has ", data.vocab_size(), " tokens but the model expects ", kVocab,
                       " (data '", data_path, "')"));
  if (!args.save_best.empty() && !(kEvalEvery > 0 && kEvalBatches > 0 && data.has_val()))
    spak::rt::fail_usage(cat("--save-best needs validation evaluations, and ", kModelName, " has none",
                             kEvalEvery > 0 && kEvalBatches > 0 ? " (its data has no validation split)"
                                                                : " (its .dsl sets no eval_every / eval_batches)"));

  // ---- parameters and optimizer state: one arena; the init is always drawn, so the RNG stream is the same
  spak::rt::Layout layout;
  for (const ParamSpec& p : param_specs()) layout.add(p.name, p.shape, p.valid_rows);
  spak::rt::Arena arena(layout, kSections);
  init_params(arena, rng);
  if (!args.init_from.empty()) spak::rt::load_weights(args.init_from, arena, "param");
  int64_t start = 0;
  if (resuming) {
    spak::rt::TrainState st = spak::rt::load_checkpoint(args.resume, arena, kSections);
    auto meta = [&](const char* key) {
      auto it = st.extra.find(key);
      return it == st.extra.end() ? std::string() : it->second;
    };
    if (meta("spak.model") != kModelName)
      spak::rt::fail(cat("'", args.resume, "' is a checkpoint of '", meta("spak.model"), "', not of ", kModelName));
    if (st.total_steps != args.steps)
      spak::rt::fail(cat("'", args.resume, "' was written by a ", st.total_steps, "-step run; resume it with --steps ",
                         st.total_steps, " (the learning-rate schedule depends on it)"));
    if (meta("spak.seed") != std::to_string(args.seed) || meta("spak.shuffle") != (args.shuffle ? "1" : "0"))
      spak::rt::fail(cat("'", args.resume, "' was written with --seed ", meta("spak.seed"),
                         meta("spak.shuffle") == "0" ? " --no-shuffle" : "",
                         "; resume it with the same flags (the data order depends on them)"));
    rng.set_state(st.rng_state);
    data.set_cursor(st.data_cursor);
    start = st.step;
    // Nothing in a checkpoint depends on the rank: any world size resumes it (the global batch may change).
    const std::string note = spak::rt::dist::resume_world_note(
        int(spak::rt::dist::meta_int(meta("spak.world_size"))), spak::rt::dist::meta_int(meta("spak.global_batch")),
        world.size, kBatch * world.size);
    if (lead && !note.empty()) std::fprintf(stderr, "%s\n", note.c_str());
  }
  const int64_t stop = args.stop_after >= 0 ? args.stop_after : args.steps;
  if (start > stop)
    spak::rt::fail(cat("'", args.resume, "' already holds ", start, " steps, past --stop-after ", stop));

  // ---- the device: weights in, workspace sized once for the largest T
  $DEVICE_CTOR
  device.upload();
  device.size_workspace();
  device.set_schedule_steps(args.steps);
  if (lead) {
    std::printf("spakc trainer: %s | target %s | device %s | params %zu | data %s\n", kModelName, kTargetName,
                device.name().c_str(), layout.numel(), data.describe().c_str());
    if (world.distributed())
      std::printf("data parallel: %d ranks (%s) | %lld rows per rank, %lld per step\n", world.size,
                  world.source.c_str(), static_cast<long long>(kBatch), static_cast<long long>(kBatch * world.size));
    std::fflush(stdout);
  }
  spak::rt::JsonlLog log;
  if (lead && !args.log.empty()) log = spak::rt::JsonlLog(args.log, /*append=*/resuming);

  // ---- training
  double best_val = std::numeric_limits<double>::infinity();  // --save-best
  std::vector<double> losses, window_ms;
  double first_ms = 0.0, window_tokens = 0.0;
  spak::rt::StepTimes times(/*warmup=*/1);
  Example ex;
  for (int64_t s = start; s < stop; ++s) {
    data.next(rng, ex, world);
    spak::rt::Stopwatch watch;
    const StepResult r = device.train_step(s, ex);
    const double ms = watch.elapsed_ms();
    check_status(r.status, cat("step ", s + 1));
    const double lr = learning_rate(s, args.steps);
    if (kHasGradNorm)
      log.write(s + 1, r.loss, {{"lr", lr}, {"grad_norm", r.grad_norm}, {"ms", ms}});
    else
      log.write(s + 1, r.loss, {{"lr", lr}, {"ms", ms}});
    if (!std::isfinite(r.loss))
      spak::rt::fail(cat("step ", s + 1, ": the loss is ", r.loss, " (training diverged); stopping"));
    if (losses.empty()) first_ms = ms;
    losses.push_back(r.loss);
    times.add(ms);
    window_ms.push_back(ms);
    window_tokens += double(kBatch * ex.T * world.size);  // tokens of the global batch (this rank's T)
    if (lead && (s == start || (s + 1) % kLogEvery == 0 || s + 1 == stop)) {
      spak::rt::print_progress(s + 1, args.steps, r.loss, lr, spak::rt::median(window_ms),
                               window_tokens / double(window_ms.size()));
      window_ms.clear();
      window_tokens = 0.0;
    }
    if (kEvalEvery > 0 && kEvalBatches > 0 && lead && data.has_val() &&
        ((s + 1) % std::max<int64_t>(kEvalEvery, 1) == 0 || s + 1 == stop))
    {
      const double val = evaluate(device, data, s + 1, log);
      if (!args.save_best.empty() && val < best_val) {
        best_val = val;
        device.download();
        spak::rt::save_weights(args.save_best, arena, "param",
                               {{"spak.model", kModelName}, {"spak.step", std::to_string(s + 1)},
                                {"spak.val_loss", cat(spak::rt::json_number(val))}});
        std::printf("saved the weights of step %lld (val loss %.4f, the best so far) to %s\n",
                    static_cast<long long>(s + 1), val, args.save_best.c_str());
        std::fflush(stdout);
      }
    }
  }

  // ---- after training: --save, --checkpoint, summary, samples
  device.end_training();  // data parallel: every rank leaves the communicator here, before rank 0's outputs
  device.download();
  // SPAK_SAVE_ALL_RANKS=1: every rank also writes its weights to <--save>.rank<r> (to check that they are the same).
  const char* save_all = std::getenv("SPAK_SAVE_ALL_RANKS");
  if (world.distributed() && !args.save.empty() && save_all && std::string(save_all) == "1")
    spak::rt::save_weights(cat(args.save, ".rank", world.rank), arena, "param",
                           {{"spak.model", kModelName}, {"spak.step", std::to_string(stop)}});
  if (!lead) return 0;  // rank 0 writes the files, prints the summary and samples (weights are the same everywhere)
  if (!args.save.empty())
    spak::rt::save_weights(args.save, arena, "param", {{"spak.model", kModelName}, {"spak.step", std::to_string(stop)}});
  if (!args.checkpoint.empty()) {
    spak::rt::TrainState st;
    st.step = stop;
    st.total_steps = args.steps;
    st.data_cursor = data.cursor();
    st.rng_state = rng.state();
    st.extra = {{"spak.model", kModelName}, {"spak.seed", std::to_string(args.seed)},
                {"spak.shuffle", args.shuffle ? "1" : "0"}, {"spak.world_size", std::to_string(world.size)},
                {"spak.global_batch", std::to_string(kBatch * world.size)}};
    spak::rt::save_checkpoint(args.checkpoint, arena, kSections, st);
  }
  if (!losses.empty()) {
    const size_t tail = std::min<size_t>(100, losses.size());
    double mean = 0.0;
    for (size_t i = losses.size() - tail; i < losses.size(); ++i) mean += losses[i];
    mean /= double(tail);
    std::printf("summary: step1 %.4f | final %.4f | mean of last %zu %.4f | %.2f ms/step\n", losses.front(),
                losses.back(), tail, mean, times.count() ? times.median_ms() : first_ms);
  }
  if (args.sample > 0) {
    if (!kHasInfer) spak::rt::fail("--sample: this model has no @infer host function");
    std::printf("--- inference (new, hallucinated samples) ---\n");
    for (int64_t i = 0; i < args.sample; ++i) {
      const std::string text = sample_one(device, data, rng);
      std::printf("sample %2lld: %s\n", static_cast<long long>(i + 1), text.c_str());
      std::fflush(stdout);
    }
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return spak::rt::run_main([&] { return run(argc, argv); }); }
)cpp";

const char *const kCppFlags = "";
const char *const kCudaFlags =
    "    parser.add_flag(\"--no-cuda-graph\", &no_cuda_graph, true,\n"
    "                    \"launch every kernel of a step instead of replaying a CUDA graph per sequence length\");\n";

const char *const kCppDeviceCheck =
    "  if (args.device != \"cpu\")\n"
    "    spak::rt::fail_usage(\"--device cuda: this trainer was built for the cpp target (CPU only); build the \"\n"
    "                         \"project's cuda target (cmake -DSPAK_TARGET=cuda) to train on a GPU\");\n";
const char *const kCudaDeviceCheck =
    "  if (args.device != \"cuda\")\n"
    "    spak::rt::fail_usage(\"--device cpu: this trainer was built for the cuda target; build the project's cpp \"\n"
    "                         \"target (cmake -DSPAK_TARGET=cpp) to train on the CPU\");\n";

const char *const kCppWorldCheck =
    "  if (world.distributed())\n"
    "    spak::rt::fail_usage(cat(\"this trainer was built for the cpp target, which trains in one process; \",\n"
    "                             world.source, \" started \", world.size, \" ranks (data parallelism needs the cuda \",\n"
    "                             \"target)\"));\n";
const char *const kCudaWorldCheck =
    "  if (world.distributed()) {\n"
    "#ifndef SPAK_NCCL\n"
    "    spak::rt::fail_usage(cat(world.source, \" started \", world.size, \" ranks, but this trainer was built \",\n"
    "                             \"without NCCL (configure the project with -DSPAK_NCCL=ON and NCCL installed)\"));\n"
    "#endif\n"
    "    if (!kHasBackward)\n"
    "      spak::rt::fail(cat(\"data-parallel training needs @backward: \", kNoBackwardReason));\n"
    "  }\n";

const char *const kCudaDistDevice = R"cpp(// ==== The data-parallel step (docs/distributed.md) =================================================================
// With more than one rank (or SPAK_SPLIT_STEP=1 in one process) a step is: @backward on this rank's rows -> the
// gradients all-reduced (average) through NCCL in buckets, reverse parameter order, on a communication stream ->
// the optimizer below, which mirrors spak-optimizer-step's (global-norm clip, Adam/AdamW with bias correction and
// decoupled weight decay on matrices), bucket by bucket as the all-reduces complete. The loss is averaged too.
// Every rank applies the same update to the same weights with the same (all-reduced) gradients and deterministic
// kernels, so the weights stay bit-identical across ranks.
namespace dp {

constexpr int kThreads = 256;
constexpr int kNormBlocks = 256;  // partial sums of squares per gradient (summed in a fixed order: deterministic)

__device__ __forceinline__ float block_sum(float v, float* smem) {  // a fixed tree: the same bits every run
  smem[threadIdx.x] = v;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) smem[threadIdx.x] += smem[threadIdx.x + s];
    __syncthreads();
  }
  return smem[0];
}

// partial[b] = sum of g[i]^2 over the elements block b visits (grid-stride).
__global__ void __launch_bounds__(kThreads) sumsq(const float* g, int64_t n, float* partial) {
  __shared__ float smem[kThreads];
  float acc = 0.0f;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    acc += g[i] * g[i];
  const float total = block_sum(acc, smem);
  if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

// out = [norm, factor]: norm = sqrt(sum of all partials), factor = min(1, max_norm / (norm + 1e-6)).
__global__ void __launch_bounds__(kThreads) clip_factor(const float* partial, int count, float max_norm, float* out) {
  __shared__ float smem[kThreads];
  float acc = 0.0f;
  for (int i = int(threadIdx.x); i < count; i += int(blockDim.x)) acc += partial[i];
  const float total = block_sum(acc, smem);
  if (threadIdx.x == 0) {
    const float norm = sqrtf(total);
    out[0] = norm;
    out[1] = fminf(1.0f, max_norm / (norm + 1e-6f));
  }
}

// One parameter's update. sched = [lr, 1 - beta1^t, 1 - beta2^t] of this step (t = step + 1); clip = [norm, factor]
// or nullptr. g <- g * factor; m <- b1 m + (1 - b1) g; v <- b2 v + (1 - b2) g^2;
// p <- p - lr wd p - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
__global__ void __launch_bounds__(kThreads) adam(float* p, const float* g, float* m, float* v, int64_t n,
                                                 const float* sched, const float* clip, float b1, float b2,
                                                 float eps, float wd) {
  const float lr = sched[0], bc1 = sched[1], bc2 = sched[2];
  const float f = clip ? clip[1] : 1.0f;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float gi = g[i] * f;
    const float mi = b1 * m[i] + (1.0f - b1) * gi;
    const float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    const float pi = p[i];
    p[i] = pi - lr * wd * pi - lr * (mi / bc1) / (sqrtf(vi / bc2) + eps);
  }
}

inline unsigned blocks_for(int64_t n) {
  return unsigned(std::max<int64_t>(1, std::min<int64_t>((n + kThreads - 1) / kThreads, 4096)));
}

#ifdef SPAK_NCCL
#define SPAK_NCCL_CHECK(expr)                                                                                  \
  do {                                                                                                         \
    const ncclResult_t spak_nccl_r_ = (expr);                                                                  \
    if (spak_nccl_r_ != ncclSuccess)                                                                           \
      spak::rt::fail(cat("NCCL error at ", __FILE__, ":", __LINE__, ": ", #expr, " failed: ",                  \
                         ncclGetErrorString(spak_nccl_r_), " (NCCL_DEBUG=WARN for details)"));                 \
  } while (0)

// One communicator over all ranks. Rank 0 creates the unique id and publishes it in world.id_file (atomic rename);
// the others poll for it (SPAK_NCCL_ID_TIMEOUT seconds, default 300). ncclCommInitRank returns once every rank
// has joined, after which rank 0 removes the file.
class Comm {
public:
  explicit Comm(const spak::rt::dist::World& world) {
    ncclUniqueId id;
    if (world.rank == 0) {
      SPAK_NCCL_CHECK(ncclGetUniqueId(&id));
      spak::rt::dist::publish_id(world.id_file, &id, sizeof id);
    } else {
      const std::string bytes =
          spak::rt::dist::wait_for_id(world.id_file, sizeof id, spak::rt::dist::id_timeout_s(), world.rank);
      std::memcpy(&id, bytes.data(), sizeof id);
    }
    SPAK_NCCL_CHECK(ncclCommInitRank(&comm_, world.size, id, world.rank));
    if (world.rank == 0) ::unlink(world.id_file.c_str());
  }
  ~Comm() {
    if (!comm_) return;
    if (std::uncaught_exceptions() > 0)
      ncclCommAbort(comm_);  // a failing rank must not wait for peers that may never come
    else
      ncclCommDestroy(comm_);
  }
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;
  void group_start() { SPAK_NCCL_CHECK(ncclGroupStart()); }
  void group_end() { SPAK_NCCL_CHECK(ncclGroupEnd()); }
  void average(const float* send, float* recv, size_t n, cudaStream_t stream) {
    SPAK_NCCL_CHECK(ncclAllReduce(send, recv, n, ncclFloat32, ncclAvg, comm_, stream));
  }

private:
  ncclComm_t comm_ = nullptr;
};
#else
class Comm {  // built without NCCL: never constructed (run() refuses more than one rank)
public:
  explicit Comm(const spak::rt::dist::World&) { spak::rt::fail("this trainer was built without NCCL"); }
  void group_start() {}
  void group_end() {}
  void average(const float*, float*, size_t, cudaStream_t) {}
};
#endif

}  // namespace dp

)cpp";

const char *const kCppDevice = R"cpp(// ==== Where the steps run: the CPU ==================================================================================
// The host functions work on the arena itself. The workspace (activations, gradients, scratch) is one
// 256-byte-aligned host block, sized once by size_workspace() before training.
class Device {
public:
  explicit Device(spak::rt::Arena& arena) : arena_(arena) {
    io_ = make_io(arena.data(), ints_);
  }

  std::string name() const { return "cpu"; }
  void upload() {}    // the step reads and updates the host arena directly
  void download() {}
  void end_training() {}
  // The learning-rate schedule's length (--steps), step[1] of every train step.
  void set_schedule_steps(int64_t n) { io_.step[1] = int32_t(n); }

  // Runs each host function once at the largest T on a scratch copy of the arena and of the small buffers,
  // growing the workspace until the run fits. Allocations grow with T, so no later call needs more; the real
  // arena is never touched by the probe (a train step updates its arguments in place).
  void size_workspace() {
    std::vector<float> scratch(arena_.data(), arena_.data() + arena_.total_floats());
    std::vector<int32_t> ints(ints_.size(), 0);
    const StepIO probe = make_io(scratch.data(), ints);
    fit([&] { call_train_step(ctx_, probe, kMaxT); });
    if (kHasInfer) fit([&] { call_infer(ctx_, probe, kMaxT, kMaxT - 1); });
    if (kHasForward) fit([&] { call_forward(ctx_, probe, kMaxT); });
  }

  StepResult train_step(int64_t step, const Example& ex) {
    stage(ex);
    *io_.step = int32_t(step);
    ctx_.reset();
    const StepOutputs out = call_train_step(ctx_, io_, ex.T);
    StepResult r;
    r.loss = double(*out.loss);
    r.grad_norm = out.grad_norm ? double(*out.grad_norm) : 0.0;
    r.status = *io_.status;
    return r;
  }

  double eval_loss(const Example& ex, int32_t& status) {
    stage(ex);
    ctx_.reset();
    const double loss = double(*call_forward(ctx_, io_, ex.T));
    status = *io_.status;
    return loss;
  }

  std::vector<float> next_logits(const std::vector<int32_t>& context, int32_t& status) {
    Example ex;
    const int64_t pos = context_batch(context, ex);
    stage(ex);
    ctx_.reset();
    const float* row = call_infer(ctx_, io_, ex.T, pos);
    status = *io_.status;
    return std::vector<float>(row, row + kVocab);
  }

private:
  // ints = [step, total_steps, status, tokens (kBatch * kMaxT), targets (kBatch * kMaxT)].
  StepIO make_io(float* arena_base, std::vector<int32_t>& ints) const {
    StepIO io;
    io.arena = arena_base;
    io.section_floats = arena_.section_floats();
    for (const auto& t : arena_.layout().tensors()) io.offsets.push_back(t.offset);
    ints.assign(size_t(3 + 2 * kBatch * kMaxT), 0);
    io.step = &ints[0];
    io.status = &ints[2];
    io.tokens = &ints[3];
    io.targets = &ints[size_t(3 + kBatch * kMaxT)];
    return io;
  }

  void stage(const Example& ex) {
    std::copy(ex.x.begin(), ex.x.end(), io_.tokens);
    std::copy(ex.y.begin(), ex.y.end(), io_.targets);
  }

  template <class Run>
  void fit(Run&& run) {
    for (;;) {
      try {
        ctx_.reset();
        run();
        return;
      } catch (const std::runtime_error& e) {
        const size_t need = workspace_needed(e.what());
        if (need == 0) throw;
        reserve(std::max(need, 2 * ctx_.capacity));
      }
    }
  }

  void reserve(size_t bytes) {
    workspace_.reset(static_cast<unsigned char*>(::operator new(bytes, std::align_val_t(256))));
    ctx_.base = workspace_.get();
    ctx_.capacity = bytes;
  }

  struct AlignedFree {
    void operator()(unsigned char* p) const { ::operator delete(p, std::align_val_t(256)); }
  };
  spak::rt::Arena& arena_;
  std::vector<int32_t> ints_;
  StepIO io_;
  std::unique_ptr<unsigned char, AlignedFree> workspace_;
  spak_gen::StepContext ctx_;
};

)cpp";

const char *const kCudaDevice = R"cpp(// ==== Where the steps run: one CUDA device ==========================================================================
// Parameters and optimizer state live in ONE cudaMalloc with the arena's layout; the host Arena is the mirror for
// init, --init-from, --save and checkpoints (upload / download). A step stages the batch and the step counter in
// pinned memory, copies them in with cudaMemcpyAsync, runs @train_step on one stream and reads back the loss and the
// status flag once, after the step: no host synchronisation inside a step. With CUDA graphs (the default) the
// launches of a step are captured once per T, the second time a T is seen (the first run is eager, so one-time
// setup in the launchers happens outside a capture), and replayed afterwards: one cudaGraphLaunch per step.
class Device {
public:
  Device(spak::rt::Arena& arena, bool use_graphs, const spak::rt::dist::World& world)
      : arena_(arena), use_graphs_(use_graphs), world_(world) {
    // Rank r of this host uses GPU r (SPAK_LOCAL_RANK); a launcher that shows each rank one GPU means device 0.
    int visible = 0;
    if (cudaGetDeviceCount(&visible) != cudaSuccess) visible = 0;  // require_cuda_device reports the error
    device_name_ = spak::rt::require_cuda_device(visible == 1 ? 0 : world.local_rank);
    SPAK_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    ctx_.stream = stream_;
    SPAK_CUDA_CHECK(cudaMalloc(&d_arena_, arena_bytes()));
    SPAK_CUDA_CHECK(cudaMalloc(&d_ints_, ints_bytes()));
    SPAK_CUDA_CHECK(cudaMemset(d_ints_, 0, ints_bytes()));
    SPAK_CUDA_CHECK(cudaMallocHost(&h_ints_, ints_bytes()));
    SPAK_CUDA_CHECK(cudaMallocHost(&h_floats_, size_t(2 + kVocab) * sizeof(float)));
    io_ = make_io(d_arena_, d_ints_);
    // The data-parallel step: always with more than one rank; SPAK_SPLIT_STEP=1 runs it in one process (no NCCL)
    // to compare it with the compiled @train_step.
    const char* split = std::getenv("SPAK_SPLIT_STEP");
    split_ = world_.distributed() || (split && std::string(split) == "1");
    if (split_) setup_split();
  }
  ~Device() {  // errors are ignored here: the process is ending or already failing
    for (auto& g : graphs_)
      if (g.second.exec) cudaGraphExecDestroy(g.second.exec);
    comm_.reset();
    for (cudaEvent_t e : bucket_done_) cudaEventDestroy(e);
    if (grads_ready_) cudaEventDestroy(grads_ready_);
    if (comm_stream_) cudaStreamDestroy(comm_stream_);
    cudaFree(d_dp_);
    cudaFreeHost(h_sched_);
    cudaFree(workspace_);
    cudaFree(d_arena_);
    cudaFree(d_ints_);
    cudaFreeHost(h_ints_);
    cudaFreeHost(h_floats_);
    if (stream_) cudaStreamDestroy(stream_);
  }
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  std::string name() const {
    if (split_)
      return cat("cuda (", device_name_, world_.distributed() ? cat(", ", world_.size, " ranks, NCCL") : ", split step",
                 ", ", buckets_.size(), " buckets)");
    return cat("cuda (", device_name_, use_graphs_ ? ", graphs" : "", ")");
  }
  void upload() { SPAK_CUDA_CHECK(cudaMemcpy(d_arena_, arena_.data(), arena_bytes(), cudaMemcpyHostToDevice)); }
  // Data parallel: the last step's collectives are done (train_step synchronised); every rank destroys its NCCL
  // communicator here, at the same point, so rank 0's evaluation / sampling afterwards involves no peer.
  void end_training() {
    if (!comm_) return;
    SPAK_CUDA_CHECK(cudaStreamSynchronize(comm_stream_));
    comm_.reset();
  }
  void download() { SPAK_CUDA_CHECK(cudaMemcpy(arena_.data(), d_arena_, arena_bytes(), cudaMemcpyDeviceToHost)); }
  // The learning-rate schedule's length (--steps) into step[1] on the device, once, before training (a captured
  // step reads it from there, so it stays a plain device buffer).
  void set_schedule_steps(int64_t n) {
    total_steps_ = n;
    h_ints_[1] = int32_t(n);
    SPAK_CUDA_CHECK(cudaMemcpy(io_.step + 1, &h_ints_[1], sizeof(int32_t), cudaMemcpyHostToDevice));
  }

  // Runs each host function once at the largest T on a device copy of the arena and of the small buffers, growing
  // the workspace until the run fits. Allocations grow with T, so no later call needs more, and the workspace (and
  // so every pointer a captured graph holds) never moves afterwards. The real arena is not touched.
  void size_workspace() {
    float* scratch = nullptr;
    int32_t* ints = nullptr;
    SPAK_CUDA_CHECK(cudaMalloc(&scratch, arena_bytes()));
    SPAK_CUDA_CHECK(cudaMalloc(&ints, ints_bytes()));
    SPAK_CUDA_CHECK(cudaMemcpy(scratch, d_arena_, arena_bytes(), cudaMemcpyDeviceToDevice));
    SPAK_CUDA_CHECK(cudaMemset(ints, 0, ints_bytes()));
    const StepIO probe = make_io(scratch, ints);
    fit([&] { call_train_step(ctx_, probe, kMaxT); });
    if (split_) fit([&] { call_backward(ctx_, probe, kMaxT); });
    if (kHasInfer) fit([&] { call_infer(ctx_, probe, kMaxT, kMaxT - 1); });
    if (kHasForward) fit([&] { call_forward(ctx_, probe, kMaxT); });
    SPAK_CUDA_CHECK(cudaStreamSynchronize(stream_));
    SPAK_CUDA_CHECK(cudaFree(scratch));
    SPAK_CUDA_CHECK(cudaFree(ints));
  }

  StepResult train_step(int64_t step, const Example& ex) {
    stage(ex, step);
    const StepOutputs out = split_ ? split_step(step, ex.T) : use_graphs_ ? replay(ex.T) : eager(ex.T);
    SPAK_CUDA_CHECK(cudaMemcpyAsync(&h_floats_[0], out.loss, sizeof(float), cudaMemcpyDeviceToHost, stream_));
    if (out.grad_norm)
      SPAK_CUDA_CHECK(
          cudaMemcpyAsync(&h_floats_[1], out.grad_norm, sizeof(float), cudaMemcpyDeviceToHost, stream_));
    SPAK_CUDA_CHECK(cudaMemcpyAsync(&h_ints_[2], io_.status, sizeof(int32_t), cudaMemcpyDeviceToHost, stream_));
    SPAK_CUDA_CHECK(cudaStreamSynchronize(stream_));
    StepResult r;
    r.loss = double(h_floats_[0]);
    r.grad_norm = out.grad_norm ? double(h_floats_[1]) : 0.0;
    r.status = h_ints_[2];
    return r;
  }

  double eval_loss(const Example& ex, int32_t& status) {
    stage(ex, -1);
    ctx_.reset();
    const float* loss = call_forward(ctx_, io_, ex.T);
    SPAK_CUDA_CHECK(cudaMemcpyAsync(&h_floats_[0], loss, sizeof(float), cudaMemcpyDeviceToHost, stream_));
    SPAK_CUDA_CHECK(cudaMemcpyAsync(&h_ints_[2], io_.status, sizeof(int32_t), cudaMemcpyDeviceToHost, stream_));
    SPAK_CUDA_CHECK(cudaStreamSynchronize(stream_));
    status = h_ints_[2];
    return double(h_floats_[0]);
  }

  std::vector<float> next_logits(const std::vector<int32_t>& context, int32_t& status) {
    Example ex;
    const int64_t pos = context_batch(context, ex);
    stage(ex, -1);
    ctx_.reset();
    const float* row = call_infer(ctx_, io_, ex.T, pos);
    SPAK_CUDA_CHECK(
        cudaMemcpyAsync(&h_floats_[2], row, size_t(kVocab) * sizeof(float), cudaMemcpyDeviceToHost, stream_));
    SPAK_CUDA_CHECK(cudaMemcpyAsync(&h_ints_[2], io_.status, sizeof(int32_t), cudaMemcpyDeviceToHost, stream_));
    SPAK_CUDA_CHECK(cudaStreamSynchronize(stream_));
    status = h_ints_[2];
    return std::vector<float>(&h_floats_[2], &h_floats_[2] + kVocab);
  }

private:
  struct Graph {
    cudaGraphExec_t exec = nullptr;
    StepOutputs out;
    int eager_runs = 0;
  };

  size_t arena_bytes() const { return arena_.total_floats() * sizeof(float); }
  static size_t ints_bytes() { return size_t(3 + 2 * kBatch * kMaxT) * sizeof(int32_t); }

  // ints = [step, total_steps, status, tokens (kBatch * kMaxT), targets (kBatch * kMaxT)] in device memory.
  StepIO make_io(float* arena_base, int32_t* ints) const {
    StepIO io;
    io.arena = arena_base;
    io.section_floats = arena_.section_floats();
    for (const auto& t : arena_.layout().tensors()) io.offsets.push_back(t.offset);
    io.step = ints;
    io.status = ints + 2;
    io.tokens = ints + 3;
    io.targets = ints + 3 + kBatch * kMaxT;
    return io;
  }

  // The batch (and the step counter, when step >= 0) into pinned memory, then asynchronously to the device. The
  // pinned buffer is reused only after the stream synchronisation that ends every call.
  void stage(const Example& ex, int64_t step) {
    int32_t* tokens = h_ints_ + 3;
    int32_t* targets = h_ints_ + 3 + kBatch * kMaxT;
    std::copy(ex.x.begin(), ex.x.end(), tokens);
    std::copy(ex.y.begin(), ex.y.end(), targets);
    const size_t bytes = ex.x.size() * sizeof(int32_t);
    SPAK_CUDA_CHECK(cudaMemcpyAsync(io_.tokens, tokens, bytes, cudaMemcpyHostToDevice, stream_));
    SPAK_CUDA_CHECK(cudaMemcpyAsync(io_.targets, targets, bytes, cudaMemcpyHostToDevice, stream_));
    if (step >= 0) {
      h_ints_[0] = int32_t(step);
      SPAK_CUDA_CHECK(cudaMemcpyAsync(io_.step, h_ints_, sizeof(int32_t), cudaMemcpyHostToDevice, stream_));
    }
  }

  StepOutputs eager(int64_t T) {
    ctx_.reset();
    return call_train_step(ctx_, io_, T);
  }

  // ---- the data-parallel step (kCudaDistDevice above) ----
  void setup_split() {
    std::vector<size_t> bytes;
    for (const auto& t : arena_.layout().tensors()) bytes.push_back(t.numel * sizeof(float));
    buckets_ = spak::rt::dist::plan_buckets(bytes, spak::rt::dist::bucket_cap_bytes());
    for (size_t i = 0; i < kSections.size(); ++i) {
      if (kSections[i] == "adam_m") sec_m_ = int(i);
      if (kSections[i] == "adam_v") sec_v_ = int(i);
    }
    if (sec_m_ < 0 || sec_v_ < 0) spak::rt::fail("the data-parallel step needs the adam_m and adam_v arena sections");
    SPAK_CUDA_CHECK(cudaMalloc(&d_dp_, (8 + size_t(kNumParams) * dp::kNormBlocks) * sizeof(float)));
    SPAK_CUDA_CHECK(cudaMemset(d_dp_, 0, (8 + size_t(kNumParams) * dp::kNormBlocks) * sizeof(float)));
    SPAK_CUDA_CHECK(cudaMallocHost(&h_sched_, 4 * sizeof(float)));
    if (!world_.distributed()) return;  // one process: NCCL is never touched
    SPAK_CUDA_CHECK(cudaStreamCreateWithFlags(&comm_stream_, cudaStreamNonBlocking));
    SPAK_CUDA_CHECK(cudaEventCreateWithFlags(&grads_ready_, cudaEventDisableTiming));
    bucket_done_.resize(buckets_.size());
    for (cudaEvent_t& e : bucket_done_) SPAK_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    comm_ = std::make_unique<dp::Comm>(world_);
  }

  // @backward -> bucketed all-reduce (average) on comm_stream_ -> the optimizer on stream_, each bucket's part as
  // soon as its all-reduce is done (with clipping: the sums of squares per bucket, then the norm, then the updates).
  // Launched eagerly (no CUDA graph).
  StepOutputs split_step(int64_t step, int64_t T) {
    const double t = double(step + 1);
    h_sched_[0] = float(learning_rate(step, total_steps_));
    h_sched_[1] = float(1.0 - std::pow(kBeta1, t));
    h_sched_[2] = float(1.0 - std::pow(kBeta2, t));
    float* loss = d_dp_;        // [1]: the loss averaged over the ranks
    float* clip = d_dp_ + 1;    // [2]: global gradient norm, clip factor
    float* sched = d_dp_ + 4;   // [3]: lr, 1 - beta1^t, 1 - beta2^t
    float* partial = d_dp_ + 8; // [kNumParams * kNormBlocks]
    SPAK_CUDA_CHECK(cudaMemcpyAsync(sched, h_sched_, 3 * sizeof(float), cudaMemcpyHostToDevice, stream_));
    ctx_.reset();
    const BackwardOutputs b = call_backward(ctx_, io_, T);
    const auto& tensors = arena_.layout().tensors();
    if (world_.distributed()) {
      SPAK_CUDA_CHECK(cudaEventRecord(grads_ready_, stream_));
      SPAK_CUDA_CHECK(cudaStreamWaitEvent(comm_stream_, grads_ready_, 0));
      for (size_t k = 0; k < buckets_.size(); ++k) {
        comm_->group_start();
        for (size_t p : buckets_[k].tensors) comm_->average(b.grads[p], b.grads[p], tensors[p].numel, comm_stream_);
        if (k + 1 == buckets_.size()) comm_->average(b.loss, loss, 1, comm_stream_);
        comm_->group_end();
        SPAK_CUDA_CHECK(cudaEventRecord(bucket_done_[k], comm_stream_));
      }
    } else {
      SPAK_CUDA_CHECK(cudaMemcpyAsync(loss, b.loss, sizeof(float), cudaMemcpyDeviceToDevice, stream_));
    }
    auto update = [&](size_t p, const float* factor) {
      const StepIO& io = io_;
      dp::adam<<<dp::blocks_for(int64_t(tensors[p].numel)), dp::kThreads, 0, stream_>>>(
          io.tensor(0, int(p)), b.grads[p], io.tensor(sec_m_, int(p)), io.tensor(sec_v_, int(p)),
          int64_t(tensors[p].numel),
          sched, factor, float(kBeta1), float(kBeta2), float(kAdamEps), float(kWeightDecay[p]));
      SPAK_CUDA_CHECK(cudaPeekAtLastError());
    };
    for (size_t k = 0; k < buckets_.size(); ++k) {
      if (world_.distributed()) SPAK_CUDA_CHECK(cudaStreamWaitEvent(stream_, bucket_done_[k], 0));
      for (size_t p : buckets_[k].tensors) {
        if (kGradClip > 0) {
          dp::sumsq<<<dp::kNormBlocks, dp::kThreads, 0, stream_>>>(b.grads[p], int64_t(tensors[p].numel),
                                                                    partial + p * dp::kNormBlocks);
          SPAK_CUDA_CHECK(cudaPeekAtLastError());
        } else {
          update(p, nullptr);
        }
      }
    }
    StepOutputs out;
    out.loss = loss;
    if (kGradClip > 0) {
      dp::clip_factor<<<1, dp::kThreads, 0, stream_>>>(partial, kNumParams * dp::kNormBlocks, float(kGradClip), clip);
      SPAK_CUDA_CHECK(cudaPeekAtLastError());
      for (size_t p = 0; p < size_t(kNumParams); ++p) update(p, clip);
      out.grad_norm = clip;
    }
    return out;
  }

  // One graph per T: the launches, grid sizes and workspace offsets of a step depend only on T.
  StepOutputs replay(int64_t T) {
    Graph& g = graphs_[T];
    if (!g.exec) {
      if (g.eager_runs++ == 0) return eager(T);
      cudaGraph_t graph = nullptr;
      SPAK_CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
      try {
        g.out = eager(T);
      } catch (...) {
        cudaStreamEndCapture(stream_, &graph);
        if (graph) cudaGraphDestroy(graph);
        throw;
      }
      SPAK_CUDA_CHECK(cudaStreamEndCapture(stream_, &graph));
      const cudaError_t err = cudaGraphInstantiate(&g.exec, graph, 0);
      cudaGraphDestroy(graph);
      SPAK_CUDA_CHECK(err);
    }
    SPAK_CUDA_CHECK(cudaGraphLaunch(g.exec, stream_));
    return g.out;
  }

  template <class Run>
  void fit(Run&& run) {
    for (;;) {
      try {
        ctx_.reset();
        run();
        return;
      } catch (const std::runtime_error& e) {
        const size_t need = workspace_needed(e.what());
        if (need == 0) throw;
        reserve(std::max(need, 2 * ctx_.capacity));
      }
    }
  }

  void reserve(size_t bytes) {
    SPAK_CUDA_CHECK(cudaStreamSynchronize(stream_));  // kernels of the failed attempt may still use the old block
    SPAK_CUDA_CHECK(cudaFree(workspace_));
    workspace_ = nullptr;
    SPAK_CUDA_CHECK(cudaMalloc(&workspace_, bytes));
    ctx_.base = static_cast<unsigned char*>(workspace_);
    ctx_.capacity = bytes;
  }

  spak::rt::Arena& arena_;
  bool use_graphs_;
  spak::rt::dist::World world_;
  bool split_ = false;  // the data-parallel step (@backward + all-reduce + optimizer) instead of @train_step
  int64_t total_steps_ = 0;
  int sec_m_ = -1, sec_v_ = -1;  // arena sections of the Adam moments
  std::vector<spak::rt::dist::Bucket> buckets_;
  std::unique_ptr<dp::Comm> comm_;
  cudaStream_t comm_stream_ = nullptr;
  cudaEvent_t grads_ready_ = nullptr;
  std::vector<cudaEvent_t> bucket_done_;
  float* d_dp_ = nullptr;     // device: loss, [norm, factor], schedule, norm partials
  float* h_sched_ = nullptr;  // pinned: lr, 1 - beta1^t, 1 - beta2^t
  std::string device_name_;
  cudaStream_t stream_ = nullptr;
  float* d_arena_ = nullptr;
  int32_t* d_ints_ = nullptr;
  int32_t* h_ints_ = nullptr;   // pinned: [step, total_steps, status, tokens, targets]
  float* h_floats_ = nullptr;   // pinned: [loss, grad norm, logits (kVocab)]
  void* workspace_ = nullptr;
  StepIO io_;
  spak_gen::StepContext ctx_;
  std::map<int64_t, Graph> graphs_;
};

)cpp";

//===----------------------------------------------------------------------===//
// Data classes: one `TrainData` per spak.train.data kind (docs/driver.md: adding a kind)
//===----------------------------------------------------------------------===//

const char *const kDocumentsData = R"cpp(// ==== Data: $DATA_KIND (one document per line; step s trains on document s mod N) ================================
class TrainData {
public:
  static TrainData load(const std::string& path) {
    TrainData d;
    d.docs_ = spak::rt::Documents::load(path);
    return d;
  }
  // random.shuffle(docs) with the run's RNG.
  void shuffle(spak::rt::PyRandom& rng) { docs_.shuffle(rng); }
  int64_t vocab_size() const { return docs_.tokenizer().vocab_size(); }
  std::string describe() const {
    return cat(base_name(docs_.path()), " (", docs_.size(), " docs, vocab ", vocab_size(), ")");
  }
  // The next document: inputs = [BOS] + characters, targets = the same shifted by one, T = min(kMaxT, len - 1).
  // With N ranks a step consumes N documents and rank r trains on the r-th (documents s*N .. s*N + N - 1).
  void next(spak::rt::PyRandom& /*rng*/, Example& ex, const spak::rt::dist::World& world) {
    for (int r = 0; r < world.size; ++r) {
      spak::rt::Documents::Example e = docs_.next_example(int(kMaxT));
      if (r != world.rank) continue;
      ex.T = int64_t(e.inputs.size());
      ex.x = std::move(e.inputs);
      ex.y = std::move(e.targets);
    }
  }
  uint64_t cursor() const { return docs_.cursor(); }  // documents consumed
  void set_cursor(uint64_t c) { docs_.set_cursor(c); }
  bool has_val() const { return false; }
  void eval_batch(bool, int64_t, Example&) const { spak::rt::fail("documents data has no validation split"); }
  // Samples start at BOS and end at BOS.
  int32_t sample_start() const { return docs_.tokenizer().bos(); }
  bool stops_sample(int32_t tok) const { return tok == docs_.tokenizer().bos(); }
  std::string decode(int32_t tok) const { return docs_.tokenizer().decode_token(tok); }

private:
  spak::rt::Documents docs_;
};

)cpp";

const char *const kTextData = R"cpp(// ==== Data: $DATA_KIND (character-level; the first 1 - kValFraction for training, the rest for validation) =========
class TrainData {
public:
  static TrainData load(const std::string& path) {
    TrainData d;
    d.text_ = spak::rt::CharText::load(path, 1.0 - kValFraction);
    return d;
  }
  void shuffle(spak::rt::PyRandom&) {}  // batches are drawn at random offsets: there is no order to shuffle
  int64_t vocab_size() const { return text_.tokenizer().vocab_size(); }
  std::string describe() const {
    return cat(base_name(text_.path()), " (", text_.train().size(), " train + ", text_.val().size(),
               " val chars, vocab ", vocab_size(), ")");
  }
  // nanoGPT's get_batch: kBatch random offsets drawn from the run's RNG. With N ranks every rank draws the global
  // batch (N * kBatch offsets, so the RNG stays the same everywhere) and trains on its block of kBatch rows.
  void next(spak::rt::PyRandom& rng, Example& ex, const spak::rt::dist::World& world) {
    text_.train().random_batch(rng, int(kBatch * world.size), int(kMaxT), batch_);
    take_shard(batch_, world, ex);
    consumed_ += uint64_t(kBatch * world.size * kMaxT);
  }
  uint64_t cursor() const { return consumed_; }  // tokens consumed (informational: the RNG state decides batches)
  void set_cursor(uint64_t c) { consumed_ = c; }
  bool has_val() const { return text_.val().size() > size_t(kBatch * kMaxT); }
  // Evaluation batch i of a split: consecutive rows from the start of the split (the same batches every time).
  void eval_batch(bool val, int64_t i, Example& ex) const {
    uint64_t at = uint64_t(i) * uint64_t(kBatch * kMaxT);
    spak::rt::Batch b;
    (val ? text_.val() : text_.train()).sequential_batch(at, int(kBatch), int(kMaxT), b);
    ex.x = std::move(b.x);
    ex.y = std::move(b.y);
    ex.T = kMaxT;
  }
  // Samples start at a newline (nanoGPT's sample.py), or token 0 when the text has none.
  int32_t sample_start() const {
    const int32_t nl = text_.tokenizer().find('\n');
    return nl >= 0 ? nl : 0;
  }
  bool stops_sample(int32_t) const { return false; }
  std::string decode(int32_t tok) const { return text_.tokenizer().decode_token(tok); }

private:
  spak::rt::CharText text_;
  spak::rt::Batch batch_;
  uint64_t consumed_ = 0;
};

)cpp";

const char *const kTokensData = R"cpp(// ==== Data: $DATA_KIND (raw little-endian uint16 token ids; a separate validation file) ===========================
class TrainData {
public:
  static TrainData load(const std::string& path) {
    TrainData d;
    d.path_ = path;
    d.train_ = spak::rt::load_u16_tokens(path, kVocab);
    if (kValPath[0] != '\0') d.val_ = spak::rt::load_u16_tokens(val_path(path), kVocab);
    return d;
  }
  // The validation file: beside the training file first (an explicit --data elsewhere brings its split along),
  // then where the data files are searched.
  static std::string val_path(const std::string& train_path) {
    size_t slash = train_path.find_last_of('/');
    std::string beside = (slash == std::string::npos ? std::string() : train_path.substr(0, slash + 1)) +
                         base_name(kValPath);
    return spak::rt::file_exists(beside) ? beside : find_data_file(kValPath, kValHint);
  }
  void shuffle(spak::rt::PyRandom&) {}  // batches are drawn at random offsets: there is no order to shuffle
  int64_t vocab_size() const { return kVocab; }  // every id was checked against it when loading
  std::string describe() const {
    return cat(base_name(path_), " (", train_.size(), " train + ", val_.size(), " val tokens, vocab ", kVocab, ")");
  }
  // nanoGPT's get_batch: kBatch random offsets drawn from the run's RNG. With N ranks every rank draws the global
  // batch (N * kBatch offsets, so the RNG stays the same everywhere) and trains on its block of kBatch rows.
  void next(spak::rt::PyRandom& rng, Example& ex, const spak::rt::dist::World& world) {
    train_.random_batch(rng, int(kBatch * world.size), int(kMaxT), batch_);
    take_shard(batch_, world, ex);
    consumed_ += uint64_t(kBatch * world.size * kMaxT);
  }
  uint64_t cursor() const { return consumed_; }  // tokens consumed (informational: the RNG state decides batches)
  void set_cursor(uint64_t c) { consumed_ = c; }
  bool has_val() const { return val_.size() > size_t(kBatch * kMaxT); }
  // Evaluation batch i of a split: consecutive rows from the start of the split (the same batches every time).
  void eval_batch(bool val, int64_t i, Example& ex) const {
    uint64_t at = uint64_t(i) * uint64_t(kBatch * kMaxT);
    spak::rt::Batch b;
    (val ? val_ : train_).sequential_batch(at, int(kBatch), int(kMaxT), b);
    ex.x = std::move(b.x);
    ex.y = std::move(b.y);
    ex.T = kMaxT;
  }
  // No tokenizer ships with raw ids: samples start from the first token of the training data and print ids.
  int32_t sample_start() const { return train_.tokens().empty() ? 0 : train_.tokens()[0]; }
  bool stops_sample(int32_t) const { return false; }
  std::string decode(int32_t tok) const { return cat(tok, " "); }

private:
  std::string path_;
  spak::rt::TokenSplit train_, val_;
  spak::rt::Batch batch_;
  uint64_t consumed_ = 0;
};

)cpp";

} // namespace spak::target::driver
