// emu_harness.h: differential test of one model's kernels, emulated CUDA (cuda_emu.h) vs the cpp target.
// gen_emu_test.py writes emu_cases_<config>.cpp (one Case per kernel: buffers, grid, both launcher calls); emu_main.cpp
// runs every case on identical random inputs and compares every buffer afterwards (inputs and outputs alike), plus
// guard zones around each buffer (out-of-bounds writes).
#pragma once
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <limits>
#include <vector>

namespace emu_test {

enum class Dtype { F32, I32, I64 };

struct BufSpec {
  std::string name;  // "arg3 (?x64xf32)"
  Dtype dtype = Dtype::F32;
  int64_t numel = 0;
  double lo = -1.0, hi = 1.0;  // uniform init; integer buffers: [lo, hi)
  std::vector<int64_t> values;   // explicit initial integer values (repeated), instead of a random range
};

struct Case {
  std::string kernel;
  std::string info;  // grid and dims, for the report
  bool mma = false;  // uses the bf16 mma (tolerance of bf16 operands)
  double tol = 1e-5;
  std::vector<BufSpec> bufs;
  std::function<void(void* const*)> run_cuda;  // emulated CUDA launcher
  std::function<void(void* const*)> run_cpp;   // cpp target launcher
};

// A bf16 copy (round to nearest even, NaN kept) of n floats: what spak-bf16-operands' cast kernel gives a
// mma_schedule = 5 kernel in place of the f32 buffer the cpp kernel reads.
inline std::vector<uint16_t> bf16_copy(const void* p, int64_t n) {
  std::vector<uint16_t> out(static_cast<size_t>(n));
  const float* f = static_cast<const float*>(p);
  for (int64_t i = 0; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, &f[i], sizeof u);
    out[static_cast<size_t>(i)] = (u & 0x7fffffffu) > 0x7f800000u ? uint16_t((u >> 16) | 0x40u)
                                                                   : uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
  }
  return out;
}

// spak-bf16-producers: after a variant kernel ran, its bf16 copy `b` of the f32 output `p` (n = b.size()) must hold
// bf16 of every element of p (`keep`: the kernel wrote both; elements it did not write keep their initial values in
// both, since b started as bf16 of p's initial values). Where they differ, p becomes NaN, so the comparison with the
// cpp target fails on this buffer. Without `keep` the kernel left p unwritten: p takes b widened back to f32, which
// the comparison then checks against the cpp target's f32 result.
inline void check_twin(void* p, const std::vector<uint16_t>& b, bool keep) {
  float* f = static_cast<float*>(p);
  if (keep) {
    std::vector<uint16_t> want = bf16_copy(p, static_cast<int64_t>(b.size()));
    if (want != b)
      for (size_t i = 0; i < b.size(); ++i) f[i] = std::numeric_limits<float>::quiet_NaN();
    return;
  }
  for (size_t i = 0; i < b.size(); ++i) {
    uint32_t u = uint32_t(b[i]) << 16;
    std::memcpy(&f[i], &u, sizeof u);
  }
}

}  // namespace emu_test

// Defined by the generated emu_cases_<config>.cpp.
std::vector<emu_test::Case> emu_cases();
extern const char* const emu_config_name;
