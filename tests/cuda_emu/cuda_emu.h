// cuda_emu.h: run spakc's generated CUDA kernels on the CPU (host-only C++20, g++ / clang, Linux).
//
// Include this INSTEAD of <cuda_runtime.h> / <cuda_bf16.h> (it defines SPAK_CUDA_EMULATION, which makes the generated
// prelude skip <cuda_bf16.h> and call spak_emu::mma_bf16_16816 instead of the mma.sync inline asm). The kernel text
// needs two rewrites that no header can do (tests/cuda_emu/gen_emu_test.py does them):
//   name<<<grid, threads, smem, stream>>>(args);        ->  spak_emu::launch(name, grid, threads, smem, stream, args);
//   extern __shared__ __align__(N) unsigned char spak_smem[];  ->  unsigned char* spak_smem = spak_emu::smem();
//
// Execution model. A launch runs its CTAs on a few worker OS threads (SPAK_EMU_WORKERS, default: hardware threads,
// at most 4); each worker runs one CTA at a time. The CTA's threads are cooperative fibers (ucontext) on the worker:
// a fiber runs until it reaches a barrier (__syncthreads, or the warp-wide exchange of __shfl_xor_sync / the emulated
// mma), then the next fiber runs. This is a legal CUDA schedule (independent thread scheduling), deterministic, and
// much faster than 128 OS threads meeting at std::barrier on a 2-core machine. Odd CTAs run their threads in reverse
// order (SPAK_EMU_ORDER=forward|reverse|alternate, default alternate), so a missing __syncthreads tends to show up as
// a result that differs from the reference. Emulation errors (a barrier that not every thread reaches: divergent
// __syncthreads / shuffles, threads that exit while others wait) abort with a message naming the kernel's CTA.
//
// Dynamic shared memory is a per-CTA 1024-byte-aligned buffer (the swizzled layouts of TMA / wgmma are functions of the
// shared address: their pattern repeats every 1024 bytes) of the launch's size, filled with 0xFF bytes (NaN floats)
// before each CTA (SPAK_EMU_SMEM_FILL=<byte>), so reads of shared memory no thread wrote show up as NaN.
#pragma once

#ifndef SPAK_CUDA_EMULATION
#define SPAK_CUDA_EMULATION 1
#endif

#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <math.h>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

// ---- CUDA keywords --------------------------------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(...)
#define __align__(n) alignas(n)
#define __restrict__ __restrict
#define __grid_constant__
// __shared__ is deliberately not defined: static shared arrays would need per-CTA storage (rewrite them like spak_smem).

// ---- runtime types ---------------------------------------------------------------------------------------------------
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct uint3 {
  unsigned x = 0, y = 0, z = 0;
};
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorIllegalState = 401,
  cudaErrorLaunchFailure = 719,
  cudaErrorStreamCaptureUnsupported = 900,
  cudaErrorStreamCaptureInvalidated = 901,
  cudaErrorStreamCaptureUnmatched = 903,
  cudaErrorStreamCaptureImplicit = 906,
  cudaErrorStreamCaptureWrongThread = 908,
};
// A stream (cuda_runtime_emu.h creates them; the kernel tests pass nullptr). While a capture is active
// (cudaStreamBeginCapture), `capture` collects the stream's work as closures instead of running it.
struct CUstream_st {
  std::vector<std::function<void()>>* capture = nullptr;
  void* graph = nullptr;  // the cudaGraph_t being captured
};
using cudaStream_t = CUstream_st*;
namespace spak_emu {
// Captures begun on this OS thread and not ended yet (cudaStreamCaptureModeThreadLocal / Global): synchronous calls
// (cudaMalloc, cudaMemcpy, cudaStreamSynchronize, ...) are errors while one is active, as on a GPU.
inline thread_local int captures_active = 0;
// Records `op` into the stream's capture and returns true, or returns false (run it now).
inline bool record(cudaStream_t s, std::function<void()> op) {
  if (!s || !s->capture) return false;
  s->capture->push_back(std::move(op));
  return true;
}
}  // namespace spak_emu
enum cudaFuncAttribute {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
  cudaFuncAttributePreferredSharedMemoryCarveout = 9,
};
inline const char* cudaGetErrorString(cudaError_t e) { return e == cudaSuccess ? "no error" : "emulated CUDA error"; }
inline cudaError_t cudaPeekAtLastError() { return cudaSuccess; }
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
inline cudaError_t cudaDeviceSynchronize() {
  return spak_emu::captures_active ? cudaErrorStreamCaptureUnsupported : cudaSuccess;
}
inline cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  if (s && s->capture) return cudaErrorStreamCaptureUnsupported;
  return spak_emu::captures_active ? cudaErrorStreamCaptureImplicit : cudaSuccess;
}
template <typename F>
inline cudaError_t cudaFuncSetAttribute(F*, cudaFuncAttribute, int) { return cudaSuccess; }

// Built-in variables: per worker OS thread; the fiber scheduler sets threadIdx before it resumes a fiber.
inline thread_local uint3 blockIdx;
inline thread_local uint3 threadIdx;
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;

namespace spak_emu {

[[noreturn]] inline void fatal(const std::string& msg) {
  std::fprintf(stderr, "spak_emu: %s\n", msg.c_str());
  std::fflush(stderr);
  std::abort();
}

inline int env_int(const char* name, int dflt) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : dflt;
}

// ---- bf16 ------------------------------------------------------------------------------------------------------------
inline uint16_t float_to_bf16_rn(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40u);  // NaN stays a (quiet) NaN
  u += 0x7fffu + ((u >> 16) & 1u);                                             // round to nearest, ties to even
  return uint16_t(u >> 16);
}
inline float bf16_to_float(uint16_t h) {
  const uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// ---- fibers ----------------------------------------------------------------------------------------------------------
struct MmaRegs {
  uint32_t a[4];
  uint32_t b[2];
};

struct Warp {
  int lanes = 32;  // threads of the CTA in this warp
  int arrived = 0;
  uint64_t gen = 0;
  alignas(16) unsigned char xchg[2][32][16];  // __shfl_xor_sync payloads, double-buffered by barrier generation
  MmaRegs mma[2][32];                         // mma operand registers, double-buffered the same way
};

struct Worker;
inline thread_local Worker* tl_worker = nullptr;

struct Worker {
  static constexpr size_t kStack = size_t(1) << 20;  // bytes per fiber (kernels keep big register tiles)
  static constexpr size_t kGuard = 4096;

  int nt = 0;               // threads per CTA
  size_t stacks_for = 0;    // fibers the stack region holds
  unsigned char* region = nullptr;
  size_t region_bytes = 0;
  std::vector<ucontext_t> ctx;
  std::vector<char> done;
  ucontext_t sched{};
  int cur = 0;
  uint64_t events = 0;      // barrier arrivals and thread exits (progress, for deadlock detection)
  int cta_arrived = 0;
  uint64_t cta_gen = 0;
  std::vector<Warp> warps;
  std::vector<unsigned char, std::allocator<unsigned char>> smem_store;
  unsigned char* smem = nullptr;
  const std::function<void()>* body = nullptr;
  const char* kernel_name = "kernel";
  // static __shared__ arrays of the CTA (the rewrite turns `__shared__ T x[N];` into spak_emu::shared_var calls):
  // one zone per declaration (keyed by a static tag), filled like the dynamic shared memory before each CTA
  struct StaticShared {
    const void* tag;
    std::vector<unsigned char> store;
    bool fresh;
  };
  std::vector<StaticShared> statics;

  ~Worker() {
    if (region) munmap(region, region_bytes);
  }

  void ensure_stacks(int n) {
    if (size_t(n) <= stacks_for) return;
    if (region) munmap(region, region_bytes);
    region_bytes = size_t(n) * (kStack + kGuard);
    void* p = mmap(nullptr, region_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) fatal("mmap of fiber stacks failed");
    region = static_cast<unsigned char*>(p);
    for (int i = 0; i < n; ++i) mprotect(region + size_t(i) * (kStack + kGuard), kGuard, PROT_NONE);  // overflow traps
    stacks_for = size_t(n);
  }

  static void entry() {
    Worker* w = tl_worker;
    (*w->body)();
    w->done[w->cur] = 1;
    ++w->events;
    // returning resumes uc_link (the scheduler)
  }

  void yield() { swapcontext(&ctx[cur], &sched); }

  void run_cta(int nthreads, size_t smem_bytes, bool reverse) {
    nt = nthreads;
    ensure_stacks(nt);
    ctx.assign(nt, ucontext_t{});
    done.assign(nt, 0);
    warps.assign((nt + 31) / 32, Warp{});
    for (int w = 0; w < int(warps.size()); ++w) warps[w].lanes = std::min(32, nt - 32 * w);
    cta_arrived = 0;
    cta_gen = 0;
    smem_store.assign(smem_bytes + 1024, static_cast<unsigned char>(env_int("SPAK_EMU_SMEM_FILL", 0xFF)));
    smem = reinterpret_cast<unsigned char*>((reinterpret_cast<uintptr_t>(smem_store.data()) + 1023) & ~uintptr_t(1023));
    for (auto& st : statics) st.fresh = false;
    for (int i = 0; i < nt; ++i) {
      getcontext(&ctx[i]);
      ctx[i].uc_stack.ss_sp = region + size_t(i) * (kStack + kGuard) + kGuard;
      ctx[i].uc_stack.ss_size = kStack;
      ctx[i].uc_link = &sched;
      makecontext(&ctx[i], &Worker::entry, 0);
    }
    int finished = 0;
    while (finished < nt) {
      const uint64_t before = events;
      for (int k = 0; k < nt; ++k) {
        const int i = reverse ? nt - 1 - k : k;
        if (done[i]) continue;
        cur = i;
        threadIdx = uint3{unsigned(i), 0, 0};
        swapcontext(&sched, &ctx[i]);
        if (done[i]) ++finished;
      }
      if (finished < nt && events == before)
        fatal(std::string("deadlock in ") + kernel_name + " CTA (" + std::to_string(blockIdx.x) + ", " +
              std::to_string(blockIdx.y) + ", " + std::to_string(blockIdx.z) + "): " + std::to_string(nt - finished) +
              " threads wait at a barrier that the others never reach (divergent __syncthreads / warp exchange, " +
              "or threads that returned early)");
    }
  }

  void cta_sync() {
    const uint64_t g = cta_gen;
    ++events;
    if (++cta_arrived == nt) {
      cta_arrived = 0;
      ++cta_gen;
      return;
    }
    while (cta_gen == g) yield();
  }

  // Warp barrier; returns the buffer parity of this exchange.
  int warp_sync(Warp& w) {
    const uint64_t g = w.gen;
    ++events;
    if (++w.arrived == w.lanes) {
      w.arrived = 0;
      ++w.gen;
      return int(g & 1);
    }
    while (w.gen == g) yield();
    return int(g & 1);
  }
  Warp& my_warp() { return warps[cur >> 5]; }
};

inline Worker& worker() {
  if (!tl_worker) fatal("CUDA device function called outside an emulated launch");
  return *tl_worker;
}

inline unsigned char* smem() { return worker().smem; }

// Storage of one static `__shared__` declaration (tag: the address of a static variable next to it) in this CTA.
inline void* shared_var(const void* tag, size_t bytes) {
  Worker& w = worker();
  for (auto& st : w.statics) {
    if (st.tag != tag) continue;
    if (!st.fresh) {
      st.store.assign(bytes + 16, static_cast<unsigned char>(env_int("SPAK_EMU_SMEM_FILL", 0xFF)));
      st.fresh = true;
    }
    return reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(st.store.data()) + 15) & ~uintptr_t(15));
  }
  w.statics.push_back({tag, {}, false});
  return shared_var(tag, bytes);
}

// Worker OS threads, started once and kept: a launch runs its job on `extra` of them and on the calling thread.
class Pool {
public:
  ~Pool() {
    {
      std::lock_guard<std::mutex> l(m_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  void run(int extra, const std::function<void()>& job) {
    if (extra <= 0) {
      job();
      return;
    }
    std::lock_guard<std::mutex> one_launch_at_a_time(run_m_);
    {
      std::unique_lock<std::mutex> l(m_);
      while (int(threads_.size()) < extra) {
        const int id = int(threads_.size());
        threads_.emplace_back([this, id] { loop(id); });
      }
      job_ = &job;
      active_ = extra;
      pending_ = extra;
      ++gen_;
    }
    cv_.notify_all();
    job();
    std::unique_lock<std::mutex> l(m_);
    done_.wait(l, [&] { return pending_ == 0; });
    job_ = nullptr;
  }

private:
  void loop(int id) {
    uint64_t seen = 0;
    for (;;) {
      const std::function<void()>* job;
      {
        std::unique_lock<std::mutex> l(m_);
        cv_.wait(l, [&] { return stop_ || gen_ != seen; });
        if (stop_) return;
        seen = gen_;
        if (id >= active_) continue;
        job = job_;
      }
      (*job)();
      {
        std::lock_guard<std::mutex> l(m_);
        if (--pending_ == 0) done_.notify_all();
      }
    }
  }
  std::mutex m_, run_m_;
  std::condition_variable cv_, done_;
  std::vector<std::thread> threads_;
  const std::function<void()>* job_ = nullptr;
  uint64_t gen_ = 0;
  int active_ = 0, pending_ = 0;
  bool stop_ = false;
};
inline Pool& pool() {
  static Pool p;
  return p;
}

// Runs `body` once per CTA thread for every CTA of `grid`.
inline void run_grid(const char* name, dim3 grid, int nt, size_t smem_bytes, const std::function<void()>& body) {
  if (nt <= 0 || nt > 1024) fatal(std::string("bad block size for ") + name + ": " + std::to_string(nt));
  const uint64_t total = uint64_t(grid.x) * grid.y * grid.z;
  if (total == 0) return;
  const int order = [] {
    const char* v = std::getenv("SPAK_EMU_ORDER");
    if (!v) return 2;
    if (!std::strcmp(v, "forward")) return 0;
    if (!std::strcmp(v, "reverse")) return 1;
    return 2;
  }();
  int nw = env_int("SPAK_EMU_WORKERS", std::min(4, int(std::max(1u, std::thread::hardware_concurrency()))));
  nw = int(std::max<uint64_t>(1, std::min<uint64_t>(uint64_t(std::max(1, nw)), total)));
  std::atomic<uint64_t> next{0};
  const std::function<void()> work = [&] {
    // one Worker per OS thread, kept across launches (its fiber stacks are mapped once)
    static thread_local Worker w;
    w.body = &body;
    w.kernel_name = name;
    tl_worker = &w;
    gridDim = grid;
    blockDim = dim3(unsigned(nt), 1, 1);
    for (uint64_t c; (c = next.fetch_add(1)) < total;) {
      blockIdx = uint3{unsigned(c % grid.x), unsigned((c / grid.x) % grid.y), unsigned(c / (uint64_t(grid.x) * grid.y))};
      const bool reverse = order == 1 || (order == 2 && (c & 1));
      w.run_cta(nt, smem_bytes, reverse);
    }
    tl_worker = nullptr;
  };
  pool().run(nw - 1, work);
}

// SPAK_EMU_PROFILE=1: at exit, the emulated time per kernel (stderr), most expensive first.
struct Profile {
  struct Entry {
    std::string name;
    uint64_t launches = 0, ctas = 0;
    int nt = 0;
    double seconds = 0;
  };
  bool on = env_int("SPAK_EMU_PROFILE", 0) != 0;
  std::mutex m;
  std::vector<Entry> entries;
  void add(const char* name, dim3 grid, int nt, std::chrono::steady_clock::duration d) {
    std::lock_guard<std::mutex> l(m);
    auto it = std::find_if(entries.begin(), entries.end(), [&](const Entry& e) { return e.name == name; });
    if (it == entries.end()) it = entries.insert(entries.end(), Entry{name});
    ++it->launches;
    it->ctas += uint64_t(grid.x) * grid.y * grid.z;
    it->nt = nt;
    it->seconds += std::chrono::duration<double>(d).count();
  }
  ~Profile() {
    if (!on) return;
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.seconds > b.seconds; });
    double total = 0;
    for (const auto& e : entries) total += e.seconds;
    std::fprintf(stderr, "spak_emu profile: %.3f s in %zu kernels\n", total, entries.size());
    for (const auto& e : entries)
      std::fprintf(stderr, "  %-32s %8.3f s  %6llu launches  %8llu CTAs x %4d threads\n", e.name.c_str(), e.seconds,
                   (unsigned long long)e.launches, (unsigned long long)e.ctas, e.nt);
  }
};
inline Profile& profile() {
  static Profile p;
  return p;
}

// kernel<<<grid, nt, smem, stream>>>(args...) after the driver's rewrite. Synchronous, or recorded (arguments by
// value) when the stream is being captured into a graph (cuda_runtime_emu.h).
// launch_named: the same with the kernel's name for diagnostics (what cuda_emu.py's rewrite emits).
template <typename... P, typename... A>
inline void launch_named(const char* name, void (*kernel)(P...), dim3 grid, int nt, size_t smem_bytes,
                         cudaStream_t stream, A&&... args) {
  auto params = std::make_shared<std::tuple<std::decay_t<P>...>>(std::forward<A>(args)...);
  auto run = [name, kernel, grid, nt, smem_bytes, params] {
    const std::function<void()> body = [&] { std::apply(kernel, *params); };
    const auto t0 = std::chrono::steady_clock::now();
    run_grid(name, grid, nt, smem_bytes, body);
    if (profile().on) profile().add(name, grid, nt, std::chrono::steady_clock::now() - t0);
  };
  if (!record(stream, run)) run();
}
template <typename... P, typename... A>
inline void launch(void (*kernel)(P...), dim3 grid, int nt, size_t smem_bytes, cudaStream_t stream, A&&... args) {
  launch_named("kernel", kernel, grid, nt, smem_bytes, stream, std::forward<A>(args)...);
}

// ---- warp exchange ---------------------------------------------------------------------------------------------------
template <typename T>
inline T shfl_xor(unsigned mask, T v, int lane_mask, int width) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 16, "shuffle payload");
  if (mask != 0xffffffffu || width != 32) fatal("__shfl_xor_sync: only full-warp masks and width 32 are emulated");
  Worker& wk = worker();
  Warp& w = wk.my_warp();
  const int lane = wk.cur & 31;
  const int slot = int(w.gen & 1);
  std::memcpy(w.xchg[slot][lane], &v, sizeof(T));
  wk.warp_sync(w);
  const int src = lane ^ lane_mask;
  if (src >= w.lanes) return v;
  T r;
  std::memcpy(&r, w.xchg[slot][src], sizeof(T));
  return r;
}

// d += A * B, mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 (PTX ISA fragment layouts, g = lane >> 2,
// t = lane & 3): A 16x16 row-major in a[0..3] = (g, 2t..2t+1), (g+8, 2t..), (g, 2t+8..), (g+8, 2t+8..); B 16x8 in
// b[0..1] = (k 2t..2t+1, col g), (k 2t+8.., col g); D d[0..3] = (g, 2t), (g, 2t+1), (g+8, 2t), (g+8, 2t+1). The low
// 16 bits of a register hold the lower k. Products of bf16 values are exact in fp32; sums are fp32, in k order.
inline void mma_bf16_16816(float* d, const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  Worker& wk = worker();
  Warp& w = wk.my_warp();
  if (w.lanes != 32) fatal("mma in a partial warp");
  const int lane = wk.cur & 31;
  const int slot = int(w.gen & 1);
  std::memcpy(w.mma[slot][lane].a, a, sizeof(a));
  std::memcpy(w.mma[slot][lane].b, b, sizeof(b));
  wk.warp_sync(w);
  const MmaRegs* r = w.mma[slot];
  auto A = [&](int row, int k) {
    const int src = (row & 7) * 4 + ((k & 7) >> 1);
    const int reg = (row >= 8 ? 1 : 0) + (k >= 8 ? 2 : 0);
    return bf16_to_float(uint16_t(r[src].a[reg] >> ((k & 1) * 16)));
  };
  auto B = [&](int k, int col) {
    const int src = col * 4 + ((k & 7) >> 1);
    const int reg = k >= 8 ? 1 : 0;
    return bf16_to_float(uint16_t(r[src].b[reg] >> ((k & 1) * 16)));
  };
  const int g = lane >> 2, t = lane & 3;
  for (int i = 0; i < 4; ++i) {
    const int row = g + (i >= 2 ? 8 : 0), col = 2 * t + (i & 1);
    float acc = d[i];
    for (int k = 0; k < 16; ++k) acc += A(row, k) * B(k, col);
    d[i] = acc;
  }
}

// ldmatrix.sync.aligned.m8n8.x{n}[.trans].shared.b16: lane l publishes its row address (row l % 8 of block l / 8),
// a warp barrier, then register i of lane l = row l / 4, columns 2 (l % 4), +1 of block i (trans: column l / 4, rows
// 2 (l % 4), +1), the lower column (row) in the low 16 bits. Lanes 16..31 of an x2 publish addresses nobody reads.
inline void ldmatrix(uint32_t* r, const uint16_t* row, int n, bool trans) {
  Worker& wk = worker();
  Warp& w = wk.my_warp();
  if (w.lanes != 32) fatal("ldmatrix in a partial warp");
  const int lane = wk.cur & 31;
  const int slot = int(w.gen & 1);
  std::memcpy(w.xchg[slot][lane], &row, sizeof(row));
  wk.warp_sync(w);
  auto rowOf = [&](int src) {
    const uint16_t* p;
    std::memcpy(&p, w.xchg[slot][src], sizeof(p));
    if (reinterpret_cast<uintptr_t>(p) & 15u) fatal("ldmatrix: a row address is not 16-byte aligned");
    return p;
  };
  const int g = lane >> 2, t = lane & 3;
  for (int i = 0; i < n; ++i) {
    uint16_t lo, hi;
    if (!trans) {
      const uint16_t* p = rowOf(8 * i + g);
      lo = p[2 * t];
      hi = p[2 * t + 1];
    } else {
      lo = rowOf(8 * i + 2 * t)[g];
      hi = rowOf(8 * i + 2 * t + 1)[g];
    }
    r[i] = uint32_t(lo) | (uint32_t(hi) << 16);
  }
}

// wgmma (mma_schedule = 6). The descriptor's start address is an offset into the CTA's shared memory.
inline uint32_t smem_offset(const void* p) {
  const unsigned char* b = smem();
  const unsigned char* q = static_cast<const unsigned char*>(p);
  if (q < b || q - b >= (1 << 18)) fatal("wgmma_desc: the operand tile is not in this CTA's shared memory");
  if ((q - b) & 15) fatal("wgmma_desc: the operand tile is not 16-byte aligned");
  return uint32_t(q - b);
}

// wgmma.mma_async.sync.aligned.m64nNk16.f32.bf16.bf16 with both operands in shared memory, no swizzle: this thread's
// N / 2 accumulators (warp w of the warpgroup: rows 16 w + lane / 4 (+ 8), columns 8 j + 2 (lane % 4) (+ 1), the
// m16n8 fragment order d[4 j + r]) += A B over 16 k, A and B decoded from the descriptors (start, LBO = bytes to the
// next 8 k, SBO = bytes to the next 8 m / n; 8 x 8 core matrices of 128 contiguous bytes, K-major: a row of 8 k in
// 16 bytes; MN-major (ta / tb): a row of 8 m / n in 16 bytes). Each thread reads shared memory itself: no exchange
// (the real instruction also reads the operands from shared memory, asynchronously until wgmma.wait_group).
//
// Swizzled operands (mma_schedule = 9: the descriptor's layout type, bits 62-63, is 1 / 2 / 3 for a W = 128 / 64 /
// 32-byte swizzle; the slots are filled by tma_load_2d below): K-major element (mn, k) at start + (mn / 8) SBO +
// (mn % 8) W + 2 k, MN-major element (mn, k) at start + (mn / E) LBO + (k / 8) SBO + (k % 8) W + 2 (mn % E), E = W / 2,
// then the address's 16-byte chunk bits [4, ...) XOR its bits [7, ...) (swizzle()); bench/gpu/tma_probe.cu checked
// these descriptors on the H100.
inline uint32_t swizzle(uint32_t off, int w) { return w ? off ^ (((off >> 7) & uint32_t(w / 16 - 1)) << 4) : off; }
inline void wgmma_m64k16(float* d, int n, uint64_t a, uint64_t b, int ta, int tb) {
  Worker& wk = worker();
  if (wk.nt % 128) fatal("wgmma in a CTA that is not whole warpgroups");
  auto field = [](uint64_t desc, int shift) { return uint32_t((desc >> shift) & 0x3FFFu) << 4; };
  const unsigned char* base = smem();
  auto at = [&](uint64_t desc, bool mnMajor, int mn, int k) {
    const int type = int(desc >> 62), w = type == 1 ? 128 : type == 2 ? 64 : type == 3 ? 32 : 0;
    uint32_t off;
    if (!w)
      off = field(desc, 0) + (mn / 8) * field(desc, 32) + (k / 8) * field(desc, 16) +
            (mnMajor ? (mn % 8) * 2 + (k % 8) * 16 : (mn % 8) * 16 + (k % 8) * 2);
    else if (!mnMajor)
      off = swizzle(field(desc, 0) + (mn / 8) * field(desc, 32) + (mn % 8) * w + k * 2, w);
    else
      off = swizzle(field(desc, 0) + (mn / (w / 2)) * field(desc, 16) + (k / 8) * field(desc, 32) + (k % 8) * w +
                        (mn % (w / 2)) * 2, w);
    const unsigned char* p = base + off;
    if (p + 2 > wk.smem_store.data() + wk.smem_store.size()) fatal("wgmma: an operand element lies past the CTA's shared memory");
    uint16_t v;
    std::memcpy(&v, p, 2);
    return bf16_to_float(v);
  };
  const int t = wk.cur & 127, warp = t >> 5, lane = t & 31;
  for (int i = 0; i < n / 2; ++i) {
    const int row = warp * 16 + (lane >> 2) + ((i >> 1) & 1) * 8, col = (i >> 2) * 8 + 2 * (lane & 3) + (i & 1);
    float acc = d[i];
    for (int k = 0; k < 16; ++k) acc += at(a, ta != 0, row, k) * at(b, tb != 0, col, k);
    d[i] = acc;
  }
}

// mbarrier (mma_schedule = 9): word 0 holds the phase (bit 31), the arrival count (bits 16-30) and the arrivals still
// pending in this phase (bits 0-15); word 1 the transaction bytes still pending. A phase completes when both reach
// zero: the phase bit flips and the pending arrivals are reset. The CTA's threads are fibers of one OS thread, so no
// atomics are needed.
inline void mbar_words(const uint64_t* bar, uint32_t (&w)[2]) {
  const unsigned char* b = smem();
  const unsigned char* q = reinterpret_cast<const unsigned char*>(bar);
  if (q < b || q + 8 > worker().smem_store.data() + worker().smem_store.size() || (q - b) % 8)
    fatal("mbarrier: not an 8-byte aligned word of this CTA's shared memory");
  std::memcpy(w, bar, 8);
}
inline void mbar_init(uint64_t* bar, uint32_t count) {
  if (count < 1 || count > 0x7FFF) fatal("mbarrier.init: arrival count out of range");
  const uint32_t w[2] = {(count << 16) | count, 0};
  std::memcpy(bar, w, 8);
}
inline void mbar_settle(uint64_t* bar, uint32_t (&w)[2]) {
  ++worker().events;  // an arrival or completed bytes: progress (deadlock detection counts rounds without any)
  if ((w[0] & 0xFFFFu) == 0 && w[1] == 0) {
    const uint32_t count = (w[0] >> 16) & 0x7FFFu;
    w[0] = ((w[0] & 0x80000000u) ^ 0x80000000u) | (count << 16) | count;
  }
  std::memcpy(bar, w, 8);
}
inline void mbar_arrive_expect_tx(uint64_t* bar, uint32_t bytes) {
  uint32_t w[2];
  mbar_words(bar, w);
  if ((w[0] & 0xFFFFu) == 0) fatal("mbarrier.arrive: more arrivals than the barrier's count in one phase");
  w[0] -= 1;
  w[1] += bytes;
  mbar_settle(bar, w);
}
inline void mbar_complete_tx(uint64_t* bar, uint32_t bytes) {
  uint32_t w[2];
  mbar_words(bar, w);
  if (w[1] < bytes) fatal("mbarrier: a copy completed more bytes than the phase expects (expect_tx too small)");
  w[1] -= bytes;
  mbar_settle(bar, w);
}
// try_wait.parity in a loop: returns once the phase with this parity has completed (the phase bit differs from it).
inline void mbar_wait(uint64_t* bar, uint32_t parity) {
  for (long spins = 0;; ++spins) {
    uint32_t w[2];
    mbar_words(bar, w);
    if ((w[0] >> 31) != (parity & 1u)) return;
    if (spins > 100000000L) fatal("mbarrier wait: the phase never completes (a TMA copy or an arrival is missing)");
    worker().yield();
  }
}

// A tensor map (cuTensorMapEncodeTiled, 2-D bf16, row-major): what the emulated TMA copy needs.
struct TmaMap {
  const unsigned char* base = nullptr;
  uint64_t cols = 0, rows = 0, pitch_bytes = 0;
  uint32_t box_cols = 0, box_rows = 0;
  int swizzle = 0;  // bytes: 128, 64, 32 (0: none)
};
inline TmaMap tma_map_bf16(const void* base, uint64_t cols, uint64_t rows, uint64_t pitch, uint32_t box_cols,
                           uint32_t box_rows, int swizzle_bytes) {
  TmaMap m;
  m.base = static_cast<const unsigned char*>(base);
  m.cols = cols;
  m.rows = rows;
  m.pitch_bytes = pitch * 2;
  m.box_cols = box_cols;
  m.box_rows = box_rows;
  m.swizzle = swizzle_bytes;
  if (swizzle_bytes && box_cols * 2 != uint32_t(swizzle_bytes)) fatal("tensor map: the box's rows must be one swizzle span");
  return m;
}
// cp.async.bulk.tensor.2d...mbarrier::complete_tx::bytes: box (c0, c1) of the map into `dst`, row r of the box at
// r * box_cols * 2 bytes, each address swizzled (swizzle()); elements past the tensor's bounds read as zero. The copy
// runs at once and then completes the box's bytes on the mbarrier.
inline void tma_load_2d(void* dst, const TmaMap* m, int c0, int c1, uint64_t* bar) {
  const unsigned char* b = smem();
  unsigned char* q = static_cast<unsigned char*>(dst);
  const uint32_t bytes = m->box_cols * m->box_rows * 2;
  if (q < b || q + bytes > worker().smem_store.data() + worker().smem_store.size())
    fatal("tma_load_2d: the box does not fit in this CTA's shared memory");
  const uint32_t off = uint32_t(q - b);
  if (off % 128 || (m->swizzle && off % (8 * uint32_t(m->swizzle)))) fatal("tma_load_2d: destination misaligned for its swizzle");
  for (uint32_t r = 0; r < m->box_rows; ++r)
    for (uint32_t c = 0; c < m->box_cols; ++c) {
      const int64_t gr = int64_t(c1) + r, gc = int64_t(c0) + c;
      uint16_t v = 0;
      if (gr >= 0 && gc >= 0 && uint64_t(gr) < m->rows && uint64_t(gc) < m->cols)
        std::memcpy(&v, m->base + uint64_t(gr) * m->pitch_bytes + uint64_t(gc) * 2, 2);
      std::memcpy(q - off + swizzle(off + r * m->box_cols * 2 + c * 2, m->swizzle), &v, 2);
    }
  mbar_complete_tx(bar, bytes);
}

}  // namespace spak_emu

// ---- device intrinsics ---------------------------------------------------------------------------------------------
inline void __syncthreads() { spak_emu::worker().cta_sync(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) {
  if (mask != 0xffffffffu) spak_emu::fatal("__syncwarp: only the full mask is emulated");
  spak_emu::Worker& wk = spak_emu::worker();
  wk.warp_sync(wk.my_warp());
}
template <typename T>
inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
  return spak_emu::shfl_xor(mask, v, lane_mask, width);
}

template <typename T>
inline T atomicAdd(T* addr, T v) {
  return std::atomic_ref<T>(*addr).fetch_add(v);
}
template <typename T>
inline T atomicMax(T* addr, T v) {
  std::atomic_ref<T> r(*addr);
  T cur = r.load();
  while (cur < v && !r.compare_exchange_weak(cur, v)) {
  }
  return cur;
}
template <typename T>
inline T atomicExch(T* addr, T v) {
  return std::atomic_ref<T>(*addr).exchange(v);
}

inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
inline int __float_as_int(float f) {
  int i;
  std::memcpy(&i, &f, 4);
  return i;
}
inline unsigned __float_as_uint(float f) {
  unsigned i;
  std::memcpy(&i, &f, 4);
  return i;
}
inline float __int_as_float(int i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}
inline float __uint_as_float(unsigned i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}

// ---- cuda_bf16.h subset ----------------------------------------------------------------------------------------------
struct __nv_bfloat16 {
  uint16_t __x;
};
struct __attribute__((may_alias)) __nv_bfloat162 {
  __nv_bfloat16 x, y;  // x: the low 16 bits
};
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __nv_bfloat16{spak_emu::float_to_bf16_rn(f)}; }
inline __nv_bfloat16 __float2bfloat16(float f) { return __float2bfloat16_rn(f); }
inline float __bfloat162float(__nv_bfloat16 h) { return spak_emu::bf16_to_float(h.__x); }
inline __nv_bfloat162 __floats2bfloat162_rn(float lo, float hi) {
  return __nv_bfloat162{__float2bfloat16_rn(lo), __float2bfloat16_rn(hi)};
}
