// spak/runtime/rng.h — the seeded random number generator of generated trainers: a bit-exact re-implementation of
// CPython's `random` module (MT19937 seeded through init_by_array, random(), getrandbits(), _randbelow(), shuffle(),
// gauss(), choices(weights=...)).
//
// Why CPython's: MicroGPT's reference (microgpt.py) does `random.seed(42); random.shuffle(docs)` and then draws every
// weight with `random.gauss(0, 0.08)` from the same stream; a trainer using PyRandom(42) the same way gets the same
// document order and the same initial weights, bit for bit. The output is reproducible across compilers and
// platforms (no std::*_distribution, whose results are implementation-defined); only std::log/sqrt/cos/sin are used,
// which are correctly rounded or within 1 ulp on glibc, as CPython's are (CPython calls the same libm).
//
//   spak::rt::PyRandom rng(42);
//   rng.shuffle(docs);                       // == random.shuffle(docs)
//   float w = float(rng.gauss(0.0, 0.08));   // == random.gauss(0, 0.08)
//   size_t tok = rng.choice_weighted(p, n);  // == random.choices(range(n), weights=p)[0]
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "spak/runtime/check.h"

namespace spak::rt {

class PyRandom {
public:
  static constexpr int kN = 624;
  static constexpr int kM = 397;
  // Serialized state: 624 MT words, the index, a has-gauss flag and the cached gauss value (2 words).
  static constexpr size_t kStateWords = kN + 4;

  explicit PyRandom(uint64_t seed_value = 0) { seed(seed_value); }

  // == random.seed(n) for a non-negative int n (CPython seeds MT19937 with n's 32-bit words, least significant first).
  void seed(uint64_t n) {
    uint32_t key[2] = {uint32_t(n & 0xffffffffu), uint32_t(n >> 32)};
    init_by_array(key, key[1] != 0 ? 2 : 1);
  }

  // == random.seed(n) for an arbitrarily large non-negative int given as 32-bit words, least significant first.
  void seed_words(const std::vector<uint32_t>& words) {
    size_t len = words.size();
    while (len > 1 && words[len - 1] == 0) --len;  // CPython drops leading zero words
    if (len == 0) {
      uint32_t zero = 0;
      init_by_array(&zero, 1);
    } else {
      init_by_array(words.data(), len);
    }
  }

  // One tempered 32-bit MT19937 output (CPython's genrand_uint32).
  uint32_t next_u32() {
    static constexpr uint32_t kMag01[2] = {0x0u, 0x9908b0dfu};
    if (index_ >= kN) {
      int kk = 0;
      for (; kk < kN - kM; kk++) {
        uint32_t y = (mt_[kk] & 0x80000000u) | (mt_[kk + 1] & 0x7fffffffu);
        mt_[kk] = mt_[kk + kM] ^ (y >> 1) ^ kMag01[y & 0x1u];
      }
      for (; kk < kN - 1; kk++) {
        uint32_t y = (mt_[kk] & 0x80000000u) | (mt_[kk + 1] & 0x7fffffffu);
        mt_[kk] = mt_[kk + (kM - kN)] ^ (y >> 1) ^ kMag01[y & 0x1u];
      }
      uint32_t y = (mt_[kN - 1] & 0x80000000u) | (mt_[0] & 0x7fffffffu);
      mt_[kN - 1] = mt_[kM - 1] ^ (y >> 1) ^ kMag01[y & 0x1u];
      index_ = 0;
    }
    uint32_t y = mt_[index_++];
    y ^= (y >> 11);
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= (y >> 18);
    return y;
  }

  // == random.random(): a double in [0, 1) with 53 random bits.
  double random() {
    uint32_t a = next_u32() >> 5, b = next_u32() >> 6;
    return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
  }

  // == random.getrandbits(k) for 0 <= k <= 64 (words are consumed least significant first, as CPython does).
  uint64_t getrandbits(int k) {
    SPAK_CHECK(k >= 0 && k <= 64, "getrandbits: k must be in [0, 64], got ", k);
    if (k == 0) return 0;
    if (k <= 32) return next_u32() >> (32 - k);
    uint64_t lo = next_u32();
    uint64_t hi = next_u32() >> (64 - k);
    return lo | (hi << 32);
  }

  // == random._randbelow(n) (rejection sampling on getrandbits(n.bit_length())): uniform in [0, n). n must be > 0.
  uint64_t randbelow(uint64_t n) {
    SPAK_CHECK(n > 0, "randbelow: the bound must be positive");
    int k = 0;
    for (uint64_t t = n; t; t >>= 1) ++k;
    uint64_t r = getrandbits(k);
    while (r >= n) r = getrandbits(k);
    return r;
  }

  // == random.shuffle(x) (Fisher-Yates from the back, j = _randbelow(i + 1)).
  template <class T>
  void shuffle(std::vector<T>& x) {
    for (size_t i = x.size(); i-- > 1;) {
      size_t j = size_t(randbelow(uint64_t(i) + 1));
      std::swap(x[i], x[j]);
    }
  }

  // == random.gauss(mu, sigma): Box-Muller producing pairs, the second one cached (CPython's gauss_next).
  double gauss(double mu = 0.0, double sigma = 1.0) {
    double z;
    if (has_gauss_next_) {
      z = gauss_next_;
      has_gauss_next_ = false;
    } else {
      const double two_pi = 6.283185307179586;  // CPython's TWOPI = 2.0 * pi
      double x2pi = random() * two_pi;
      double g2rad = std::sqrt(-2.0 * std::log(1.0 - random()));
      z = std::cos(x2pi) * g2rad;
      gauss_next_ = std::sin(x2pi) * g2rad;
      has_gauss_next_ = true;
    }
    return mu + z * sigma;
  }

  // Fills dst[0..n) with gauss(mu, sigma) in order (row-major init, as microgpt.py's `matrix` lambda draws).
  void fill_gauss(float* dst, size_t n, double mu, double sigma) {
    for (size_t i = 0; i < n; ++i) dst[i] = float(gauss(mu, sigma));
  }

  // == random.choices(range(n), weights=w)[0]: cumulative sums in order, bisect_right(cum, random() * total).
  template <class W>
  size_t choice_weighted(const W* w, size_t n) {
    SPAK_CHECK(n > 0, "choice_weighted: no weights");
    std::vector<double> cum(n);
    double acc = 0.0;
    for (size_t i = 0; i < n; ++i) {
      acc += double(w[i]);
      cum[i] = acc;
    }
    double total = cum[n - 1];
    SPAK_CHECK(total > 0.0 && std::isfinite(total), "choice_weighted: total of weights must be positive and finite, got ",
               total);
    double x = random() * total;
    size_t lo = 0, hi = n - 1;  // CPython bisects over [0, n-1) so the answer is at most n-1
    while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      if (x < cum[mid]) hi = mid; else lo = mid + 1;
    }
    return lo;
  }

  // The full state (for checkpoints): restore it with set_state() to continue the exact same stream.
  std::vector<uint32_t> state() const {
    std::vector<uint32_t> s(mt_, mt_ + kN);
    s.push_back(uint32_t(index_));
    s.push_back(has_gauss_next_ ? 1u : 0u);
    uint64_t bits;
    std::memcpy(&bits, &gauss_next_, sizeof bits);
    s.push_back(uint32_t(bits & 0xffffffffu));
    s.push_back(uint32_t(bits >> 32));
    return s;
  }

  void set_state(const std::vector<uint32_t>& s) {
    SPAK_CHECK(s.size() == kStateWords, "RNG state has ", s.size(), " words, expected ", kStateWords);
    SPAK_CHECK(s[kN] <= uint32_t(kN) && s[kN + 1] <= 1u, "RNG state is corrupt (index ", s[kN], ", flag ", s[kN + 1],
               ")");
    std::memcpy(mt_, s.data(), sizeof mt_);
    index_ = int(s[kN]);
    has_gauss_next_ = s[kN + 1] != 0;
    uint64_t bits = uint64_t(s[kN + 2]) | (uint64_t(s[kN + 3]) << 32);
    std::memcpy(&gauss_next_, &bits, sizeof bits);
  }

private:
  void init_genrand(uint32_t s) {
    mt_[0] = s;
    for (int i = 1; i < kN; i++) mt_[i] = 1812433253u * (mt_[i - 1] ^ (mt_[i - 1] >> 30)) + uint32_t(i);
    index_ = kN;
  }

  void init_by_array(const uint32_t* key, size_t key_length) {
    init_genrand(19650218u);
    size_t i = 1, j = 0;
    for (size_t k = (size_t(kN) > key_length ? size_t(kN) : key_length); k; k--) {
      mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1664525u)) + key[j] + uint32_t(j);
      i++;
      j++;
      if (i >= size_t(kN)) {
        mt_[0] = mt_[kN - 1];
        i = 1;
      }
      if (j >= key_length) j = 0;
    }
    for (size_t k = kN - 1; k; k--) {
      mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1566083941u)) - uint32_t(i);
      i++;
      if (i >= size_t(kN)) {
        mt_[0] = mt_[kN - 1];
        i = 1;
      }
    }
    mt_[0] = 0x80000000u;
    has_gauss_next_ = false;  // random.seed() also resets gauss_next
    gauss_next_ = 0.0;
  }

  uint32_t mt_[kN];
  int index_ = kN + 1;
  bool has_gauss_next_ = false;
  double gauss_next_ = 0.0;
};

}  // namespace spak::rt
