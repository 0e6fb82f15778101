// spak/runtime/log.h — progress lines, the JSONL loss log and timing helpers of generated trainers.
//
//   step    1 / 1000 | loss 3.3660 | lr 1.000e-02 | 0.88 ms/step | 18.2K tok/s        (stdout, one per logged step)
//   {"step":1,"loss":3.3659999370574951,"lr":0.01,"ms":0.88}                           (--log FILE, one per step)
//
// The progress line starts like microgpt.py's (`step {step:4d} / {num_steps:4d} | loss {loss:.4f}`) so the two are
// easy to compare. The JSONL log writes numbers with 17 significant digits (exact for doubles), NaN/Infinity as
// Python's json module does, and is flushed after every line, so a crashed run keeps every completed step.
//
//   spak::rt::Stopwatch sw;  ...;  double ms = sw.elapsed_ms();
//   spak::rt::print_progress(step, steps, loss, lr, ms, tokens_per_step);
//   spak::rt::JsonlLog log(path);  log.write(step, loss, {{"lr", lr}, {"ms", ms}});
#pragma once

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "spak/runtime/check.h"
#include "spak/runtime/json.h"

namespace spak::rt {

// ---- timing ---------------------------------------------------------------------------------------------------------

class Stopwatch {
public:
  using Clock = std::chrono::steady_clock;
  Stopwatch() : start_(Clock::now()) {}
  void restart() { start_ = Clock::now(); }
  double elapsed_ms() const { return std::chrono::duration<double, std::milli>(Clock::now() - start_).count(); }

private:
  Clock::time_point start_;
};

// The median of `v` (mean of the two middle values for an even count); 0 for an empty vector.
inline double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + long(mid), v.end());
  double hi = v[mid];
  if (v.size() % 2 == 1) return hi;
  double lo = *std::max_element(v.begin(), v.begin() + long(mid));
  return 0.5 * (lo + hi);
}

// Collects per-step times; skip the first `warmup` samples (JIT-free, but caches and clocks still warm up).
class StepTimes {
public:
  explicit StepTimes(size_t warmup = 0) : warmup_(warmup) {}
  void add(double ms) {
    if (seen_++ >= warmup_) ms_.push_back(ms);
  }
  size_t count() const { return ms_.size(); }
  double median_ms() const { return median(ms_); }
  double mean_ms() const {
    double s = 0;
    for (double x : ms_) s += x;
    return ms_.empty() ? 0.0 : s / double(ms_.size());
  }
  const std::vector<double>& samples() const { return ms_; }

private:
  size_t warmup_, seen_ = 0;
  std::vector<double> ms_;
};

// ---- progress line --------------------------------------------------------------------------------------------------

// "1.23M", "18.2K", "950" — a rate with a metric suffix.
inline std::string human_rate(double x) {
  char buf[32];
  if (x >= 1e9) std::snprintf(buf, sizeof buf, "%.2fG", x / 1e9);
  else if (x >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM", x / 1e6);
  else if (x >= 1e3) std::snprintf(buf, sizeof buf, "%.1fK", x / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", x);
  return buf;
}

// "step    1 / 1000 | loss 3.3660 | lr 1.000e-02 | 0.88 ms/step | 18.2K tok/s"
inline std::string format_progress(int64_t step, int64_t total, double loss, double lr, double ms_per_step,
                                   double tokens_per_step) {
  char buf[160];
  double tok_s = ms_per_step > 0 ? tokens_per_step * 1000.0 / ms_per_step : 0.0;
  std::snprintf(buf, sizeof buf, "step %4lld / %4lld | loss %.4f | lr %.3e | %.2f ms/step | %s tok/s",
                static_cast<long long>(step), static_cast<long long>(total), loss, lr, ms_per_step,
                human_rate(tok_s).c_str());
  return buf;
}

inline void print_progress(int64_t step, int64_t total, double loss, double lr, double ms_per_step,
                           double tokens_per_step) {
  std::fprintf(stdout, "%s\n", format_progress(step, total, loss, lr, ms_per_step, tokens_per_step).c_str());
  std::fflush(stdout);
}

// ---- JSONL loss log -------------------------------------------------------------------------------------------------

class JsonlLog {
public:
  JsonlLog() = default;  // disabled: write() does nothing
  // Opens `path` (truncating it, or appending when `append`, e.g. on --resume).
  explicit JsonlLog(const std::string& path, bool append = false) : path_(path) {
    f_ = std::fopen(path.c_str(), append ? "a" : "w");
    if (!f_) fail_io("cannot open log file", path, errno);
  }
  ~JsonlLog() {
    if (f_) std::fclose(f_);
  }
  JsonlLog(JsonlLog&& o) noexcept : path_(std::move(o.path_)), f_(o.f_) { o.f_ = nullptr; }
  JsonlLog& operator=(JsonlLog&& o) noexcept {
    if (this != &o) {
      if (f_) std::fclose(f_);
      path_ = std::move(o.path_);
      f_ = o.f_;
      o.f_ = nullptr;
    }
    return *this;
  }
  JsonlLog(const JsonlLog&) = delete;
  JsonlLog& operator=(const JsonlLog&) = delete;

  bool enabled() const { return f_ != nullptr; }

  // {"step":N,"loss":X,<extra fields in order>} + newline, flushed.
  void write(int64_t step, double loss, std::initializer_list<std::pair<const char*, double>> extra = {}) {
    if (!f_) return;
    std::string line = cat("{\"step\":", step, ",\"loss\":", json_number(loss));
    for (const auto& kv : extra) line += cat(",", json_quote(kv.first), ":", json_number(kv.second));
    line += "}\n";
    if (std::fputs(line.c_str(), f_) < 0 || std::fflush(f_) != 0) fail_io("cannot write log file", path_, errno);
  }

  // A free-form JSON object line (already serialized, without the newline), for events such as eval results.
  void write_raw(const std::string& json_object) {
    if (!f_) return;
    if (std::fprintf(f_, "%s\n", json_object.c_str()) < 0 || std::fflush(f_) != 0)
      fail_io("cannot write log file", path_, errno);
  }

private:
  std::string path_;
  std::FILE* f_ = nullptr;
};

}  // namespace spak::rt
