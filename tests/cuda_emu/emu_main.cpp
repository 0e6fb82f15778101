// emu_main.cpp: run the generated cases (see emu_harness.h). Exit 0 when every kernel matches the cpp target.
//   cuda_emu_<config> [--kernel NAME]... [--list] [--keep-going]
// Prints one line per kernel: config, kernel, MATCH / MISMATCH, worst buffer, max |diff|, max |diff| / max |ref|,
// tolerance, seconds (emulated CUDA, cpp).
#include <algorithm>
#include <chrono>
#include <functional>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "emu_harness.h"

namespace {

constexpr int64_t kGuard = 64;  // elements of guard zone before and after every buffer
constexpr uint32_t kGuardBits = 0x7fc0dead;

size_t elt_size(emu_test::Dtype d) { return d == emu_test::Dtype::I64 ? 8 : 4; }

struct Storage {
  std::vector<unsigned char> bytes;
  size_t esz = 4;
  int64_t numel = 0;
  void* data() { return bytes.data() + kGuard * esz; }
  const void* data() const { return bytes.data() + kGuard * esz; }
};

Storage make(const emu_test::BufSpec& b, std::mt19937_64& rng) {
  Storage s;
  s.esz = elt_size(b.dtype);
  s.numel = b.numel;
  s.bytes.resize(size_t(b.numel + 2 * kGuard) * s.esz);
  for (size_t i = 0; i + 4 <= s.bytes.size(); i += 4) std::memcpy(&s.bytes[i], &kGuardBits, 4);
  if (b.dtype == emu_test::Dtype::F32) {
    std::uniform_real_distribution<float> u(float(b.lo), float(b.hi));
    float* p = static_cast<float*>(s.data());
    for (int64_t i = 0; i < b.numel; ++i) p[i] = u(rng);
  } else {
    std::uniform_int_distribution<int64_t> u(int64_t(b.lo), std::max(int64_t(b.lo), int64_t(b.hi) - 1));
    for (int64_t i = 0; i < b.numel; ++i) {
      const int64_t v = b.values.empty() ? u(rng) : b.values[size_t(i) % b.values.size()];
      if (b.dtype == emu_test::Dtype::I32) static_cast<int32_t*>(s.data())[i] = int32_t(v);
      else static_cast<int64_t*>(s.data())[i] = v;
    }
  }
  return s;
}

bool guards_intact(const Storage& s) {
  const size_t g = size_t(kGuard) * s.esz;
  for (size_t i = 0; i + 4 <= g; i += 4)
    if (std::memcmp(&s.bytes[i], &kGuardBits, 4) != 0) return false;
  for (size_t i = s.bytes.size() - g; i + 4 <= s.bytes.size(); i += 4)
    if (std::memcmp(&s.bytes[i], &kGuardBits, 4) != 0) return false;
  return true;
}

struct Diff {
  double max_abs = 0, max_ref = 0, rel = 0;
  int64_t worst = -1, bad = 0;
  bool nan_mismatch = false, guards = true;
};

Diff compare(const emu_test::BufSpec& b, const Storage& cu, const Storage& ref, double tol) {
  Diff d;
  d.guards = guards_intact(cu) && guards_intact(ref);
  if (b.dtype == emu_test::Dtype::F32) {
    const float* x = static_cast<const float*>(cu.data());
    const float* r = static_cast<const float*>(ref.data());
    for (int64_t i = 0; i < b.numel; ++i)
      if (std::isfinite(r[i])) d.max_ref = std::max(d.max_ref, double(std::fabs(r[i])));
    const double scale = std::max(d.max_ref, 1e-6);
    for (int64_t i = 0; i < b.numel; ++i) {
      if (std::isnan(x[i]) != std::isnan(r[i]) || std::isinf(x[i]) != std::isinf(r[i])) {
        d.nan_mismatch = true;
        ++d.bad;
        if (d.worst < 0) d.worst = i;
        continue;
      }
      if (!std::isfinite(r[i])) continue;
      const double e = std::fabs(double(x[i]) - double(r[i]));
      if (e > d.max_abs) {
        d.max_abs = e;
        if (!d.nan_mismatch) d.worst = i;
      }
      if (e / scale > tol) ++d.bad;
    }
    d.rel = d.max_abs / scale;
  } else {
    for (int64_t i = 0; i < b.numel; ++i) {
      int64_t x, r;
      if (b.dtype == emu_test::Dtype::I32) {
        x = static_cast<const int32_t*>(cu.data())[i];
        r = static_cast<const int32_t*>(ref.data())[i];
      } else {
        x = static_cast<const int64_t*>(cu.data())[i];
        r = static_cast<const int64_t*>(ref.data())[i];
      }
      if (x != r) {
        ++d.bad;
        d.max_abs = std::max(d.max_abs, double(std::llabs(x - r)));
        if (d.worst < 0) d.worst = i;
      }
    }
    d.rel = d.bad ? 1.0 : 0.0;
  }
  return d;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> only;
  bool list = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--kernel") && i + 1 < argc) only.push_back(argv[++i]);
    else if (!std::strcmp(argv[i], "--list")) list = true;
    else {
      std::fprintf(stderr, "usage: %s [--kernel NAME]... [--list]\n", argv[0]);
      return 2;
    }
  }
  std::vector<emu_test::Case> cases = emu_cases();
  if (list) {
    for (const auto& c : cases) std::printf("%s  %s\n", c.kernel.c_str(), c.info.c_str());
    return 0;
  }
  int failures = 0, ran = 0;
  std::printf("%-12s %-30s %-8s %-20s %10s %10s %6s %8s %6s %6s\n", "config", "kernel", "result", "worst buffer",
              "max|diff|", "rel", "tol", "written", "cuda_s", "cpp_s");
  for (const auto& c : cases) {
    if (!only.empty() && std::find(only.begin(), only.end(), c.kernel) == only.end()) continue;
    ++ran;
    std::mt19937_64 rng(0x5eed ^ std::hash<std::string>{}(c.kernel));
    std::vector<Storage> cu, ref, init;
    for (const auto& b : c.bufs) {
      cu.push_back(make(b, rng));
      ref.push_back(cu.back());
      init.push_back(cu.back());
    }
    std::vector<void*> pcu, pref;
    for (auto& s : cu) pcu.push_back(s.data());
    for (auto& s : ref) pref.push_back(s.data());
    const auto t0 = std::chrono::steady_clock::now();
    c.run_cuda(pcu.data());
    const auto t1 = std::chrono::steady_clock::now();
    c.run_cpp(pref.data());
    const auto t2 = std::chrono::steady_clock::now();
    bool ok = true;
    std::string worst = "-";
    double worst_abs = 0, worst_rel = 0;
    std::string notes;
    for (size_t i = 0; i < c.bufs.size(); ++i) {
      const Diff d = compare(c.bufs[i], cu[i], ref[i], c.tol);
      if (!d.guards) notes += " [" + c.bufs[i].name + ": write outside the buffer]";
      if (d.nan_mismatch) notes += " [" + c.bufs[i].name + ": NaN/inf where the other has none, first at " +
                                   std::to_string(d.worst) + "]";
      const bool bad = d.bad > 0 || !d.guards;
      if (bad) {
        ok = false;
        notes += " [" + c.bufs[i].name + ": " + std::to_string(d.bad) + " of " + std::to_string(c.bufs[i].numel) +
                 " elements off, worst at " + std::to_string(d.worst) + "]";
      }
      if (d.rel > worst_rel || (worst == "-" && d.rel >= worst_rel && d.max_abs > 0)) {
        worst_rel = d.rel;
        worst_abs = d.max_abs;
        worst = c.bufs[i].name;
      }
    }
    // Elements the reference changed: a kernel whose grid covers nothing matches vacuously.
    int64_t written = 0;
    for (size_t i = 0; i < c.bufs.size(); ++i)
      for (int64_t e = 0; e < c.bufs[i].numel; ++e)
        written += std::memcmp(static_cast<const unsigned char*>(ref[i].data()) + e * ref[i].esz,
                               static_cast<const unsigned char*>(init[i].data()) + e * init[i].esz, ref[i].esz) != 0;
    if (written == 0) notes += " [the reference wrote nothing]";
    if (!ok) ++failures;
    std::printf("%-12s %-30s %-8s %-20s %10.3e %10.3e %6.0e %8lld %6.2f %6.2f%s\n", emu_config_name,
                c.kernel.c_str(), ok ? "MATCH" : "MISMATCH", worst.c_str(), worst_abs, worst_rel, c.tol, (long long)written,
                std::chrono::duration<double>(t1 - t0).count(), std::chrono::duration<double>(t2 - t1).count(),
                notes.c_str());
    if (!ok) std::printf("    %s: %s\n", c.kernel.c_str(), c.info.c_str());
    std::fflush(stdout);
  }
  std::printf("%s: %d kernel(s), %d mismatch(es)\n", emu_config_name, ran, failures);
  return failures ? 1 : 0;
}
