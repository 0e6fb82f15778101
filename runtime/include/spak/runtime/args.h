// spak/runtime/args.h — the command-line parser of generated trainers (the contract is docs/trainer-cli.md).
//
//   train [--data PATH] [--steps N] [--seed S] [--no-shuffle] [--init-from FILE] [--save FILE] [--log FILE]
//         [--sample N] [--resume FILE] [--checkpoint FILE] [--stop-after K] [--device cpu|cuda] [--help]
//
// `--flag value` and `--flag=value` are both accepted. An unknown flag, a missing value, a malformed or out-of-range
// number, a flag given twice or a stray positional argument throws spak::rt::UsageError (exit code 2 through
// run_main). ArgParser is generic, so a generated trainer can register model-specific flags next to the standard ones.
//
//   spak::rt::TrainerArgs defaults;  defaults.steps = 1000;  defaults.data = "names/names.txt";
//   spak::rt::TrainerArgs a = spak::rt::parse_trainer_args(argc, argv, defaults, "MicroGPT trainer (spakc)");
//   if (a.help) return 0;   // usage already printed to stdout
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "spak/runtime/check.h"

namespace spak::rt {

class ArgParser {
public:
  explicit ArgParser(std::string prog, std::string about = "") : prog_(std::move(prog)), about_(std::move(about)) {}

  void add_flag(const std::string& name, bool* dst, bool value_when_set, const std::string& help) {
    add(name, "", help, [dst, value_when_set](const std::string&) { *dst = value_when_set; }, false);
  }
  void add_string(const std::string& name, std::string* dst, const std::string& metavar, const std::string& help) {
    add(name, metavar, help, [dst, name](const std::string& v) {
      if (v.empty()) fail_usage(cat(name, " needs a non-empty value"));
      *dst = v;
    });
  }
  // An integer in [min, max].
  void add_int(const std::string& name, int64_t* dst, const std::string& metavar, const std::string& help,
               int64_t min = 0, int64_t max = INT64_MAX) {
    add(name, metavar, help, [dst, name, min, max](const std::string& v) { *dst = parse_int(name, v, min, max); });
  }
  void add_u64(const std::string& name, uint64_t* dst, const std::string& metavar, const std::string& help) {
    add(name, metavar, help, [dst, name](const std::string& v) { *dst = parse_u64(name, v); });
  }
  void add_choice(const std::string& name, std::string* dst, const std::vector<std::string>& choices,
                  const std::string& help) {
    std::string metavar;
    for (size_t i = 0; i < choices.size(); ++i) metavar += cat(i ? "|" : "", choices[i]);
    add(name, metavar, help, [dst, name, choices, metavar](const std::string& v) {
      for (const auto& c : choices)
        if (v == c) {
          *dst = v;
          return;
        }
      fail_usage(cat(name, " must be one of ", metavar, ", got '", v, "'"));
    });
  }

  // Parses argv[1..argc). Returns false when --help was given (usage printed to stdout), true otherwise.
  bool parse(int argc, const char* const* argv) {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg == "--help" || arg == "-h") {
        std::fputs(usage().c_str(), stdout);
        return false;
      }
      if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) fail_usage(cat("unexpected argument '", arg, "'"));
      std::string name = arg, value;
      bool inline_value = false;
      size_t eq = arg.find('=');
      if (eq != std::string::npos) {
        name = arg.substr(0, eq);
        value = arg.substr(eq + 1);
        inline_value = true;
      }
      Option* opt = find(name);
      if (!opt) fail_usage(cat("unknown flag '", name, "'", suggestion(name)));
      if (opt->seen) fail_usage(cat(name, " given more than once"));
      opt->seen = true;
      if (!opt->takes_value) {
        if (inline_value) fail_usage(cat(name, " takes no value"));
      } else if (!inline_value) {
        if (i + 1 >= argc) fail_usage(cat(name, " needs a value (", opt->metavar, ")"));
        value = argv[++i];
      }
      opt->apply(value);
    }
    return true;
  }

  std::string usage() const {
    std::string s = "usage: " + prog_ + " [options]\n";
    if (!about_.empty()) s += about_ + "\n";
    s += "\noptions:\n";
    for (const auto& o : opts_) {
      std::string left = "  " + o.name + (o.metavar.empty() ? "" : " " + o.metavar);
      if (left.size() < 24) left.resize(24, ' '); else left += "  ";
      s += left + o.help + "\n";
    }
    s += "  --help                show this help and exit\n";
    return s;
  }

  bool given(const std::string& name) const {
    for (const auto& o : opts_)
      if (o.name == name) return o.seen;
    return false;
  }

  static int64_t parse_int(const std::string& flag, const std::string& v, int64_t min, int64_t max) {
    errno = 0;
    char* end = nullptr;
    bool starts_ok = !v.empty() && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9'));
    long long x = starts_ok ? std::strtoll(v.c_str(), &end, 10) : 0;
    if (!starts_ok || !end || *end != '\0' || errno == ERANGE)
      fail_usage(cat(flag, " expects an integer, got '", v, "'"));
    if (x < min || x > max)
      fail_usage(max == INT64_MAX ? cat(flag, " must be at least ", min, ", got ", x)
                                  : cat(flag, " must be in [", min, ", ", max, "], got ", x));
    return int64_t(x);
  }
  static uint64_t parse_u64(const std::string& flag, const std::string& v) {
    errno = 0;
    char* end = nullptr;
    bool digits = !v.empty() && v.find_first_not_of("0123456789") == std::string::npos;
    unsigned long long x = digits ? std::strtoull(v.c_str(), &end, 10) : 0;
    if (!digits || errno == ERANGE) fail_usage(cat(flag, " expects a non-negative integer, got '", v, "'"));
    return uint64_t(x);
  }

private:
  struct Option {
    std::string name, metavar, help;
    std::function<void(const std::string&)> apply;
    bool takes_value = true;
    bool seen = false;
  };

  void add(const std::string& name, const std::string& metavar, const std::string& help,
           std::function<void(const std::string&)> apply, bool takes_value = true) {
    SPAK_CHECK(name.size() > 2 && name.compare(0, 2, "--") == 0, "flag names start with --: '", name, "'");
    SPAK_CHECK(find(name) == nullptr, "flag ", name, " registered twice");
    opts_.push_back(Option{name, metavar, help, std::move(apply), takes_value, false});
  }
  Option* find(const std::string& name) {
    for (auto& o : opts_)
      if (o.name == name) return &o;
    return nullptr;
  }
  const Option* find(const std::string& name) const {
    for (const auto& o : opts_)
      if (o.name == name) return &o;
    return nullptr;
  }
  // " (did you mean --steps?)" for a near miss (edit distance <= 2).
  std::string suggestion(const std::string& name) const {
    std::string best;
    size_t best_d = 3;
    for (const auto& o : opts_) {
      size_t d = edit_distance(name, o.name);
      if (d < best_d) {
        best_d = d;
        best = o.name;
      }
    }
    return best.empty() ? "" : " (did you mean " + best + "?)";
  }
  static size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= b.size(); ++j)
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      std::swap(prev, cur);
    }
    return prev[b.size()];
  }

  std::string prog_, about_;
  std::vector<Option> opts_;
};

// The standard trainer options (docs/trainer-cli.md). The generator fills the defaults from the .dsl.
struct TrainerArgs {
  std::string data;            // --data PATH (default: the .dsl's data path, resolved by the trainer)
  int64_t steps = 0;           // --steps N
  uint64_t seed = 42;          // --seed S
  bool shuffle = true;         // --no-shuffle clears it
  std::string init_from;       // --init-from FILE (safetensors weights)
  std::string save;            // --save FILE (final weights)
  std::string log;             // --log FILE (JSONL, one line per step)
  int64_t sample = 0;          // --sample N (names/text samples after training)
  std::string resume;          // --resume FILE (checkpoint)
  std::string checkpoint;      // --checkpoint FILE (write a resume checkpoint at the end)
  std::string save_best;       // --save-best FILE (the weights at the lowest validation loss so far)
  int64_t stop_after = -1;     // --stop-after K (stop after step K of --steps; -1: run all steps)
  std::string device = "cpu";  // --device cpu|cuda
  bool help = false;           // --help was given (usage printed; exit 0)
};

// Registers the standard options on `p`, writing into `a` (for trainers that add their own flags too).
inline void add_trainer_options(ArgParser& p, TrainerArgs& a) {
  p.add_string("--data", &a.data, "PATH", cat("training data (default: ", a.data.empty() ? std::string("none") : a.data, ")"));
  p.add_int("--steps", &a.steps, "N", cat("optimizer steps to run (default: ", a.steps, ")"));
  p.add_u64("--seed", &a.seed, "S", cat("seed of the RNG for shuffle, init and sampling (default: ", a.seed, ")"));
  p.add_flag("--no-shuffle", &a.shuffle, false, "keep the data's order (documents are not shuffled)");
  p.add_string("--init-from", &a.init_from, "FILE", "initial weights from a safetensors file instead of random init");
  p.add_string("--save", &a.save, "FILE", "write the final weights to a safetensors file");
  p.add_string("--log", &a.log, "FILE", "write one JSON line per step: {\"step\":N,\"loss\":X,...}");
  p.add_int("--sample", &a.sample, "N", cat("print N samples after training (default: ", a.sample, ")"));
  p.add_string("--resume", &a.resume, "FILE", "continue from a checkpoint (weights, optimizer, step, RNG, data)");
  p.add_string("--checkpoint", &a.checkpoint, "FILE", "write a resume checkpoint when training ends");
  p.add_string("--save-best", &a.save_best, "FILE",
               "after every evaluation that lowers the validation loss, write the weights to a safetensors file "
               "(nanoGPT's save-on-improvement)");
  p.add_int("--stop-after", &a.stop_after, "K", "stop after step K (the schedule still spans --steps); with "
                                                 "--checkpoint, a resumable partial run");
  p.add_choice("--device", &a.device, {"cpu", "cuda"}, "where to train (default: " + a.device + ")");
}

// Parses the standard options; `defaults` carries the model's defaults. Sets .help when usage was printed.
inline TrainerArgs parse_trainer_args(int argc, const char* const* argv, const TrainerArgs& defaults,
                                      const std::string& about = "") {
  TrainerArgs a = defaults;
  ArgParser p(argc > 0 && argv[0] ? argv[0] : "train", about);
  add_trainer_options(p, a);
  a.help = !p.parse(argc, argv);
  if (!a.help && !a.resume.empty() && !a.init_from.empty())
    fail_usage("--resume and --init-from cannot be combined (a checkpoint already holds the weights)");
  if (!a.help && a.stop_after > a.steps)
    fail_usage(cat("--stop-after ", a.stop_after, " is past --steps ", a.steps));
  return a;
}

}  // namespace spak::rt
