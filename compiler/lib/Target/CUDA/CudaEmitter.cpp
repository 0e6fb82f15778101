//===- CudaEmitter.cpp - spak_tile -> CUDA C++ (target cuda) --------------===//
//
// The straightforward, correct mapping (docs/codegen.md):
//
//   * one CTA per program instance: program_id(0/1/2) = blockIdx.x/y/z;
//     blockDim.x = 32 * warps, `warps` from the kernel config (a law);
//   * a register tile of N elements is spread over the CTA: thread `tid` owns
//     elements e = tid + s * NT (s = 0 .. ceil(N / NT) - 1), held in a
//     per-thread array indexed only by the unrolled `s`;
//     a shared-memory tile (`smem` memory space, e.g. a pipelined load stage)
//     lives in dynamic shared memory, one region per tile value;
//   * element-wise ops (load/store with masks, math, iota/mask/cmp/select)
//     touch only the thread's own elements: no communication;
//   * reduce: in registers where the layout allows (fragment rows: quad
//     shuffles; axis 0 with the columns dividing the threads; a row a multiple
//     of the threads long: slots, warp shuffles, the warps' partials through
//     scratch); otherwise the source goes to shared memory, one warp per
//     output element strides the reduced axis and combines with warp shuffles;
//   * tile broadcast / mma / extract read other threads' elements through a
//     shared-memory scratch area, between __syncthreads() barriers;
//   * mma: a register tile of a shape some mma produces (rank 2, M % 16 and
//     N % 8 dividing over the warps) uses the *fragment layout* of the
//     m16n8 tensor-core accumulator instead of e = tid + s * NT: the CTA's
//     warps split the tile WM x WN, each warp owns MI x NI blocks of 16 x 8,
//     and lane (g = lane / 4, t = lane % 4) holds rows g, g + 8 and columns
//     2t, 2t + 1 of every block (slot s = ((mi * NI + ni) * 4 + r)). Every
//     other op of such a tile still visits its elements through the same
//     slots, so the layout is invisible to the rest of the kernel. The mma
//     itself reads its operands from shared memory and, by the law
//     `mma_bits`, either runs register-blocked fp32 FMAs on CUDA cores (32:
//     exact fp32, the same k order as the cpp target) or bf16
//     mma.sync.m16n8k16 on tensor cores with fp32 accumulation (16).
//     Shapes that do not fit fall back to one output element per thread.
//
// Every kernel gets a host launcher `launch_<k>(grid, stream, args...)` that
// launches `<<<grid, 32 * warps, smem bytes, stream>>>` with no host sync, so
// a host step can be captured into a CUDA graph.
//
//===----------------------------------------------------------------------===//
#include "../Common/Codegen.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/StringExtras.h"

#include <array>
#include <cmath>
#include <map>
#include <optional>
#include <set>

using namespace mlir;
using namespace spak::tile;

namespace spak::target::detail {
namespace {

constexpr int64_t kStaticSmemLimit = 48 * 1024;  // more needs cudaFuncSetAttribute
constexpr int64_t kMaxSmemPerBlock = 232448;     // H100: 227 KiB opt-in per block
// Row padding (elements) of shared f32 tiles read by fragment mma's: 4 floats = 16 bytes keeps rows 16-byte aligned
// (vector loads) and shifts successive rows by 4 of the 32 four-byte banks, so the 8 rows a quad-group reads per
// fragment land in different banks (docs/codegen.md, "Fragment layout").
constexpr int64_t kSmemRowPad = 4;
constexpr int64_t kSmemRowPadBf16 = 8;  // the same 16 bytes for bf16 tiles
// Registers a kernel needs beyond its largest mma accumulator (addresses, loop state, operand fragments): ptxas asks
// for 154 to compile a 128-register accumulator (wgmma m64n256 over 2 warpgroups), so 16 is a lower bound.
constexpr int64_t kMinFreeRegisters = 16;

int64_t align16(int64_t n) { return (n + 15) & ~int64_t(15); }

int64_t elementBytes(Type t) {
  if (t.isInteger(1))
    return 1;
  return std::max<int64_t>(1, t.getIntOrFloatBitWidth() / 8);
}

int64_t tileBytes(TileType t) { return numElements(t) * elementBytes(t.getElementType()); }

bool inSmem(Type t) {
  auto tt = dyn_cast<TileType>(t);
  return tt && tt.getMemorySpace() == MemorySpace::smem;
}

std::string lowestText(Type elt) {
  if (isa<FloatType>(elt))
    return elt.isF32() ? "(-INFINITY)" : "double(-INFINITY)";
  if (elt.isInteger(1))
    return "false";
  switch (elt.getIntOrFloatBitWidth()) {
  case 8: return "int8_t(-128)";
  case 16: return "int16_t(-32768)";
  case 32: return "INT32_MIN";
  default: return "INT64_MIN";
  }
}

/// Horner text of the row-major linear index of `idx` in `shape`.
std::string linearIndex(ArrayRef<int64_t> shape, ArrayRef<std::string> idx) {
  std::string acc = idx[0];
  for (size_t d = 1; d < shape.size(); ++d) {
    if (shape[d] != 1 && acc != "0") {
      bool compound = acc.find_first_of("+*") != std::string::npos;
      acc = cat(compound ? "(" + acc + ")" : acc, " * ", shape[d]);
    }
    if (idx[d] != "0")
      acc = acc == "0" ? idx[d] : cat(acc, " + ", idx[d]);
  }
  return acc;
}

class CudaKernelEmitter : public KernelEmitterBase {
public:
  CudaKernelEmitter(KernelOp kernel, SourceWriter &w, bool allowStaging = true)
      : KernelEmitterBase(kernel, w), allowStaging_(allowStaging) {}
  /// emit() failed only because the staging area of the epilogue stores pushed shared memory past the limit: emit
  /// again without it (paired stores).
  bool stagingOverflow() const { return stagingOverflow_; }

  LogicalResult emit() {
    FailureOr<std::string> params = paramListText(kernel_, params_);
    if (failed(params))
      return failure();
    // Threads per CTA from the `warps` law.
    std::string warpsNote = "warps = 4  <- default (docs/dialects/tile.md)";
    if (auto config = kernel_.getConfigAttr())
      if (LawAttr law = config.getLaw("warps")) {
        if (!law.isInteger() || law.getInt() < 1 || law.getInt() > 32)
          return kernel_.emitOpError("law 'warps' must be an integer in [1, 32] for target cuda, got ")
                 << lawValueText(law);
        warps_ = law.getInt();
        warpsNote = cat("warps = ", warps_, "  <- ", lawProvenanceText(law));
      }
    nt_ = 32 * warps_;
    if (failed(planFragments()))
      return failure();
    // The vector layout (law vec_width; kernels without mma's): see vecOf.
    {
      bool mma = false;
      kernel_.walk([&](MmaOp) { mma = true; });
      if (LawAttr law = kernel_.getConfigAttr() ? kernel_.getConfigAttr().getLaw("vec_width") : LawAttr();
          !mma && law && law.isInteger() && (law.getInt() == 2 || law.getInt() == 4 || law.getInt() == 8)) {
        vec_ = law.getInt();
        vecNote_ = cat("vec_width = ", vec_, "  <- ", lawProvenanceText(law));
      }
      if (!mma) {
        LawAttr rt = kernel_.getConfigAttr() ? kernel_.getConfigAttr().getLaw("row_tile") : LawAttr();
        rep_ = rt && rt.isInteger() && rt.getInt() >= 1 ? rt.getInt() : 1;
      }
    }
    // Staged epilogue stores (law ctas_per_sm = 1, mma on tensor cores): see kStageBlocks.
    {
      LawAttr cps = kernel_.getConfigAttr() ? kernel_.getConfigAttr().getLaw("ctas_per_sm") : LawAttr();
      bool oneCta = cps && cps.isInteger() && cps.getInt() == 1;
      bool mma = false;
      kernel_.walk([&](MmaOp m) { mma = mma || (fragOf(m.getResult().getType()) && tensorCoreMma(m)); });
      stageEpilogues_ = allowStaging_ && oneCta && mma && mmaSchedule_ >= 9;
    }
    planScratch();
    tileTop_ = align16(scratchBytes_);

    std::string name = sanitizeIdentifier(kernel_.getSymName());
    writeKernelBanner(w_, kernel_, cat("cuda: one CTA of ", nt_, " threads per program instance (", warpsNote, ")"));
    // The body is emitted first (it sizes shared memory), then wrapped.
    std::string bodyText;
    {
      SourceWriter inner;
      inner.indent();
      std::swap(inner, w_);
      LogicalResult ok = emitBody();
      std::swap(inner, w_);
      if (failed(ok))
        return failure();
      bodyText = inner.take();
    }
    int64_t smemBytes = std::max(tileTop_, tileHigh_);
    if (smemBytes > kMaxSmemPerBlock && stageEpilogues_ && smemBytes - align16(scratchBytes_) <= kMaxSmemPerBlock) {
      stagingOverflow_ = true;  // the caller emits the kernel again without the staging area
      return failure();
    }
    if (smemBytes > kMaxSmemPerBlock)
      return kernel_.emitOpError("'") << kernel_.getSymName() << "' needs "
             << smemBytes << " bytes of shared memory per CTA for target cuda; the most any supported GPU "
             << "gives one block is " << kMaxSmemPerBlock << " (reduce the tile-size laws)";

    // An mma accumulator lives in registers: with a register cap below it plus a few for addresses and loop state,
    // ptxas cannot compile the kernel at all ("insufficient registers"), so say which laws collide. The largest
    // accumulator, in registers per thread:
    int64_t acc = 0;
    std::string accShape;
    kernel_.walk([&](MmaOp m) {
      TileType t = m.getResult().getType();
      if (fragOf(t) && numElements(t) / nt_ > acc) {
        acc = numElements(t) / nt_;
        accShape = shapeText(t.getShape());
      }
    });
    // The threads alone cap registers: __launch_bounds__(threads) leaves ptxas 64K / threads (128 at 512 threads).
    if (int64_t cap = std::min<int64_t>(255, 65536 / nt_); acc + kMinFreeRegisters > cap)
      return kernel_.emitOpError("'") << kernel_.getSymName() << "' runs " << nt_ << " threads per CTA (law warps = "
             << warps_ << "), which caps registers at " << cap << " per thread, but the " << accShape
             << " mma accumulator alone takes " << acc << " of them (and at least " << kMinFreeRegisters
             << " more are needed): lower tile_m x tile_n for this kernel kind";
    // `ctas_per_sm`: the minimum blocks per SM of __launch_bounds__ (ptxas then keeps registers per thread within
    // 64K / (ctas * threads), spilling if it must).
    std::string bounds = cat(nt_);
    if (auto config = kernel_.getConfigAttr())
      if (LawAttr law = config.getLaw("ctas_per_sm"); law && law.isInteger() && law.getInt() > 1) {
        if (law.getInt() * nt_ > 2048)
          return kernel_.emitOpError("law 'ctas_per_sm' = ")
                 << law.getInt() << " asks for " << law.getInt() * nt_
                 << " threads per SM; an SM holds at most 2048 (lower it or the warps law)";
        int64_t cap = std::min<int64_t>(255, 65536 / (law.getInt() * nt_));
        if (acc + kMinFreeRegisters > cap)
          return kernel_.emitOpError("law 'ctas_per_sm' = ")
                 << law.getInt() << " (" << lawProvenanceText(law) << ") caps registers at " << cap
                 << " per thread, but the " << accShape << " mma accumulator alone takes " << acc
                 << " of them (and at least " << kMinFreeRegisters
                 << " more are needed): lower ctas_per_sm or the tile laws";
        bounds = cat(nt_, ", ", law.getInt());
        w_.line(cat("// ctas_per_sm = ", law.getInt(), "  <- ", lawProvenanceText(law), ": at most ",
                    65536 / (law.getInt() * nt_), " registers per thread"));
      }
    // Schedule 9: the TMA rings' tensor maps, built by the launcher, are __grid_constant__ parameters.
    std::string kernelParams = *params, tmaArgs;
    for (const TmaParam &t : tmaParams_) {
      kernelParams += cat(kernelParams.empty() ? "" : ", ", "const __grid_constant__ spak_gen::TmaMap ", t.name);
      tmaArgs += cat(", ", t.name);
    }
    w_.line(cat("__global__ void __launch_bounds__(", bounds, ") ", name, "(", kernelParams, ") {"));
    w_.indent();
    w_.line(cat("// shared memory: ", scratchBytes_, " B scratch (cross-thread exchange) + ", smemBytes - align16(scratchBytes_),
                " B of smem tiles = ", smemBytes, " B"));
    w_.line(tmaParams_.empty() ? "extern __shared__ __align__(16) unsigned char spak_smem[];"
                               : "extern __shared__ __align__(1024) unsigned char spak_smem[];  // TMA rings: "
                                 "swizzles repeat every 1024 bytes");
    static const char *axes[] = {"x", "y", "z"};
    for (unsigned a = 0; a < kernel_.getGridRank() && a < 3; ++a)
      w_.line(cat("const int64_t program_", axes[a], " = blockIdx.", axes[a], ";  // this program instance (64-bit offsets)"));
    for (unsigned a = 0; a < kernel_.getGridRank() && a < 3; ++a)
      w_.line(cat("(void)program_", axes[a], ";"));
    w_.line("const int tid = threadIdx.x;");
    w_.line("const int lane = tid & 31, warp = tid >> 5;");
    w_.line("(void)lane; (void)warp; (void)spak_smem;");
    for (auto &[shape, f] : frags_)
      w_.line(cat("const int ", f.base, " = ((warp / ", f.wn, ") * ", f.m / f.wm, " + (lane >> 2)) * ", f.n,
                  " + (warp % ", f.wn, ") * ", f.n / f.wn, " + 2 * (lane & 3);  // fragment layout of ", f.m,
                  "x", f.n, " tiles: warps ", f.wm, " x ", f.wn, ", ", f.mi, " x ", f.ni, " blocks of 16 x 8 each"));
    for (auto &[shape, f] : frags_) {
      w_.line(cat("const int ", f.base, "_r = (warp / ", f.wn, ") * ", f.m / f.wm, " + (lane >> 2), ", f.base,
                  "_c = (warp % ", f.wn, ") * ", f.n / f.wn, " + 2 * (lane & 3);  // its row and column"));
      w_.line(cat("(void)", f.base, "; (void)", f.base, "_r; (void)", f.base, "_c;"));
    }
    for (auto &[m, r] : rows_)
      w_.line(cat("const int ", r.base, " = warp * ", m / r.wm, " + (lane >> 2); (void)", r.base, ";  // row layout of ", m,
                  "x1 tiles: rows ", r.base, " + 16 * i + {0, 8}, the same in the 4 lanes of a quad"));
    if (std::string u = unusedDimsText(params_); !u.empty())
      w_.line(u);
    w_.dedent();
    w_.raw(bodyText);
    w_.line("}");
    w_.blank();

    std::string fwd = forwardArgsText(params_);
    decl_ = cat("void launch_", name, "(const spak_gen::Grid& grid, cudaStream_t stream", params->empty() ? "" : ", ",
                *params, ")");
    w_.line(decl_ + " {");
    w_.indent();
    w_.line("if (grid.x <= 0 || grid.y <= 0 || grid.z <= 0) return;  // empty grid: nothing to do");
    w_.line("if (grid.x > 2147483647 || grid.y > 65535 || grid.z > 65535)");
    w_.line(cat("  throw std::runtime_error(\"spak: grid of ", name, " exceeds CUDA limits: \" + std::to_string(grid.x) + "
                "\" x \" + std::to_string(grid.y) + \" x \" + std::to_string(grid.z));"));
    w_.line(cat("constexpr size_t smem_bytes = ", smemBytes, ";"));
    if (smemBytes > kStaticSmemLimit) {
      w_.line("static bool smem_configured = false;  // more than 48 KiB needs an opt-in, once per process");
      w_.line("if (!smem_configured) {");
      w_.line(cat("  SPAK_CUDA_CHECK(cudaFuncSetAttribute(", name,
                  ", cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem_bytes)));"));
      w_.line("  smem_configured = true;");
      w_.line("}");
    }
    if (!tmaParams_.empty()) {
      w_.line("static spak_gen::TmaCache tma_cache;  // the TMA rings' tensor maps (mma_schedule = 9), by buffer");
      for (auto [i, t] : llvm::enumerate(tmaParams_))
        w_.line(cat("const spak_gen::TmaMap& ", t.name, " = tma_cache.get(", i, ", ", t.buffer, ", ", t.cols, ", ",
                    t.rows, ", ", t.pitch, ", ", t.box, ", ", t.boxRows, ", \"", name, "\");  // ", t.buffer, ": ",
                    t.rows, " x ", t.cols, " bf16 in boxes of ", t.boxRows, " x ", t.box));
    }
    w_.line(cat(name, "<<<dim3(unsigned(grid.x), unsigned(grid.y), unsigned(grid.z)), ", nt_,
                ", smem_bytes, stream>>>(", fwd, tmaArgs, ");"));
    w_.line("SPAK_CUDA_CHECK(cudaPeekAtLastError());  // launch errors only: no synchronisation");
    w_.dedent();
    w_.line("}");
    w_.blank();
    return success();
  }

  std::string declaration() const { return decl_ + ";"; }
  const std::set<int64_t> &wgmmaShapes() const { return wgmmaNs_; }

protected:
  // ---- storage -------------------------------------------------------------
  // Element loops visit a tile in the layout of its shape whatever its memory space: a shared tile (a k-loop operand
  // of the mma's own shape, say) is written element by element next to register tiles of that shape (its mask), and
  // both must agree on which element slot s is.
  int64_t slots(TileType t) const {
    if (const RowLayout *r = rowOf(t, /*anySpace=*/true))
      return 2 * r->mi;  // rows g and g + 8 of each 16-row block (the 4 lanes of a quad hold the same rows)
    if (repOf(t))
      return numElements(t);
    return (numElements(t) + nt_ - 1) / nt_;
  }
  /// The replicated layout: in a kernel without mma's, a register tile of at most rep_ elements (law row_tile of a
  /// row kernel: a row tile's per-row statistics; 1 elsewhere: scalars) is held whole by every thread. Computing it is
  /// redundant and free; what it saves is the exchange: a row reduction's partials are combined by every thread
  /// (no scratch round trip to one owner), and broadcasting it back over the row tile reads registers (no barrier
  /// pair). Stores from it write the same value from every thread; atomics are made by thread 0 only.
  bool repOf(TileType t) const {
    return rep_ > 0 && t.getMemorySpace() != MemorySpace::smem && t.getRank() <= 2 && numElements(t) <= rep_;
  }

  void declareTile(TileType type, const std::string &name) override {
    std::string elt = *cxxScalarType(type.getElementType());
    if (type.getMemorySpace() == MemorySpace::smem) {
      int64_t off = tileTop_;
      bool loadedBf16 = type.getElementType().isBF16();
      if (loadedBf16 || bf16Operand(declaring_)) {
        // bf16 bits: a tile loaded from a bf16 buffer (spak-bf16-operands) outside a cp.async ring, rows padded by 16
        // bytes when only fragment mma's read it; or an f32 tile read only by bf16 tensor-core mma's, kept as bf16
        // (rounded once, on the way in), rows padded by 16 bytes.
        int64_t cols = type.getShape()[1];
        int64_t pitch = !loadedBf16 || paddedPitch(declaring_) > 0 ? cols + kSmemRowPadBf16 : cols;
        pitch_[name] = {cols, pitch};
        bf16_.insert(name);
        tileTop_ = align16(tileTop_ + type.getShape()[0] * pitch * 2);
        std::string what = loadedBf16 ? cat(" bf16 tile in shared memory, rows ", pitch, " apart")
                                      : cat(" ", elt, " tile in shared memory as bf16 (mma operand only; ", mmaBitsNote_,
                                            "; ", mmaScheduleNote_, "), rows ", pitch,
                                            " apart (padded: successive rows start ", (pitch / 2) % 32, " banks apart)");
        w_.line(cat("uint16_t* ", name, " = reinterpret_cast<uint16_t*>(spak_smem + ", off, ");  // ",
                    shapeText(type.getShape()), what));
        return;
      }
      if (int64_t pitch = paddedPitch(declaring_); pitch > 0) {
        int64_t cols = type.getShape()[1];
        pitch_[name] = {cols, pitch};
        tileTop_ = align16(tileTop_ + type.getShape()[0] * pitch * elementBytes(type.getElementType()));
        w_.line(cat(elt, "* ", name, " = reinterpret_cast<", elt, "*>(spak_smem + ", off, ");  // ",
                    shapeText(type.getShape()), " ", elt, " tile in shared memory, rows ", pitch,
                    " apart (padded: successive rows start ", (pitch - cols) % 32, " banks apart, for the mma reads)"));
        return;
      }
      tileTop_ = align16(tileTop_ + tileBytes(type));
      w_.line(cat(elt, "* ", name, " = reinterpret_cast<", elt, "*>(spak_smem + ", off, ");  // ",
                  shapeText(type.getShape()), " ", elt, " tile in shared memory"));
      return;
    }
    w_.line(cat(elt, " ", name, "[", slots(type), "];  // ", shapeText(type.getShape()), " ", elt, ": ",
                slots(type), " per thread"));
  }

  /// The vector layout: a register tile of rank 1 or 2 in a kernel without mma's, whose rows hold a multiple of
  /// vec_width * NT elements (law vec_width), gives each thread runs of vec_width consecutive elements: slot s holds
  /// element e = (tid + (s / V) * NT) * V + s % V. The warp's loads and stores then move 16 bytes per lane (f32, V
  /// = 4) instead of 4, with the same rows per slot as the linear layout (row r is slots [r * cols / NT, (r + 1) *
  /// cols / NT)), so reductions over a row and broadcasts read the same slots. Returns V, or 0 for the linear layout.
  int64_t vecOf(TileType t) const {
    if (vec_ <= 1 || t.getMemorySpace() == MemorySpace::smem || t.getRank() < 1 || t.getRank() > 2)
      return 0;
    int64_t cols = t.getShape().back();
    return cols > 0 && cols % (vec_ * nt_) == 0 ? vec_ : 0;
  }
  std::string vecElementText(int64_t v) const {
    return cat("(tid + (s / ", v, ") * ", nt_, ") * ", v, " + s % ", v);
  }
  /// `name[s]` -> `name`, for the slot reads a vector access can re-index to s + j (nullopt: another expression).
  static std::optional<std::string> slotBase(const std::string &x) {
    if (x.size() <= 3 || x.compare(x.size() - 3, 3, "[s]") != 0 ||
        x.substr(0, x.size() - 3).find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") !=
            std::string::npos)
      return std::nullopt;
    return x.substr(0, x.size() - 3);
  }
  /// Opens the loop over a vector-layout tile's runs: s steps by V, i0 / i1 (or i0 for rank 1) are the run's first
  /// element, `p` its address in `buffer` (elements i1 .. i1 + V - 1 of a row are consecutive in memory).
  void openVectorRuns(TileType t, int64_t v, Value buffer, ValueRange offsets, const std::string &elt, bool isConst) {
    w_.line("#pragma unroll");
    w_.line(cat("for (int s = 0; s < ", slots(t), "; s += ", v, ") {  // vector layout (", vecNote_, "): slots s .. s + ",
                v - 1, " are ", v, " consecutive elements"));
    w_.indent();
    if (t.getRank() == 2) {
      int64_t cols = t.getShape()[1], groups = cols / (v * nt_);
      w_.line(cat("const int i0 = s / ", cols / nt_, ", i1 = ",
                  groups == 1 ? cat("tid * ", v) : cat("(tid + (s / ", v, " % ", groups, ") * ", nt_, ") * ", v), ";"));
    } else {
      w_.line(cat("const int i0 = (tid + (s / ", v, ") * ", nt_, ") * ", v, ";"));
    }
    w_.line(cat(isConst ? "const " : "", elt, "* p = &", addressText(buffer, offsets, t.getRank()), ";"));
  }
  /// A vector-layout access of tile `t` under `mask`: the run length V, the run's bytes and the condition under which
  /// one vector op moves it (every element in the mask, the address aligned); nullopt: the element loop instead (no
  /// vector layout, a run size without a vector op, or a mask that is not a plain slot read).
  struct VectorRun {
    int64_t v, bytes;
    std::optional<std::string> mask;  // the mask tile's name, when there is one
    std::string whole;                // "m[s + 0] && ... && spak_gen::vec_aligned<bytes>(p)"
  };
  std::optional<VectorRun> vectorRun(TileType t, Value mask) {
    int64_t v = vecOf(t);
    if (!v || failed(cxxScalarType(t.getElementType())))
      return std::nullopt;
    int64_t bytes = v * elementBytes(t.getElementType());
    if (bytes != 4 && bytes != 8 && bytes != 16 && bytes != 32)
      return std::nullopt;
    VectorRun r{v, bytes, std::nullopt, ""};
    if (mask) {
      r.mask = slotBase(elem(mask));
      if (!r.mask)
        return std::nullopt;
      for (int64_t j = 0; j < v; ++j)
        r.whole += cat(*r.mask, "[s + ", j, "] && ");
    }
    r.whole += cat("spak_gen::vec_aligned<", bytes, ">(p)");
    return r;
  }
  /// A load of a vector-layout tile from global memory: one vector load per run when its elements are all in the mask
  /// and its address is aligned (16 bytes, or the run's size), element by element otherwise (a ragged edge, a view
  /// at an odd offset).
  bool emitVectorLoad(LoadOp l) override {
    TileType t = l.getTileType();
    std::optional<VectorRun> r = asyncLoads_.count(l) || prefetch_.count(l) ? std::nullopt : vectorRun(t, l.getMask());
    if (!r)
      return false;
    std::string n = defineTile(l.getResult());
    openVectorRuns(t, r->v, l.getBuffer(), l.getOffsets(), *cxxScalarType(t.getElementType()), /*isConst=*/true);
    w_.line(cat("if (", r->whole, ") {"));
    w_.line(cat("  spak_gen::vec_load<", r->bytes, ">(&", n, "[s], p);"));
    w_.line("} else {");
    w_.indent();
    w_.line("#pragma unroll");
    w_.line(cat("for (int j = 0; j < ", r->v, "; ++j) ", n, "[s + j] = ",
                r->mask ? cat(*r->mask, "[s + j] ? p[j] : ", zeroOf(t.getElementType())) : std::string("p[j]"), ";"));
    w_.dedent();
    w_.line("}");
    w_.dedent();
    w_.line("}");
    return true;
  }
  /// A store of a vector-layout tile: the same runs as emitVectorLoad.
  bool emitVectorStore(StoreOp op) override {
    auto t = cast<TileType>(op.getValue().getType());
    std::optional<VectorRun> r = vectorRun(t, op.getMask());
    std::optional<std::string> val = r ? slotBase(elem(op.getValue())) : std::nullopt;
    if (!val)
      return false;
    openVectorRuns(t, r->v, op.getBuffer(), op.getOffsets(), *cxxScalarType(t.getElementType()), /*isConst=*/false);
    w_.line(cat("if (", r->whole, ") {"));
    w_.line(cat("  spak_gen::vec_store<", r->bytes, ">(p, &", *val, "[s]);"));
    w_.line("} else {");
    w_.indent();
    w_.line("#pragma unroll");
    w_.line(cat("for (int j = 0; j < ", r->v, "; ++j) ", r->mask ? cat("if (", *r->mask, "[s + j]) ") : std::string(),
                "p[j] = ", *val, "[s + j];"));
    w_.dedent();
    w_.line("}");
    w_.dedent();
    w_.line("}");
    return true;
  }

  void openElementLoop(TileType type, bool needIndices) override {
    int64_t n = numElements(type);
    if (repOf(type)) {
      w_.line("#pragma unroll");
      w_.line(cat("for (int s = 0; s < ", n, "; ++s) {"));
      w_.indent();
      fragEPos_ = static_cast<int64_t>(w_.size());
      fragEText_ = "const int e = s;  // replicated in every thread";
      if (type.getRank() == 2) {
        int64_t cols = type.getShape()[1];
        fragIdx_ = {cols == 1 ? std::string("s") : cat("s / ", cols), cols == 1 ? std::string("0") : cat("s % ", cols)};
      }
      guarded_ = false;
      allThreads_ = true;
      indexShape_.assign(type.getShape().begin(), type.getShape().end());
      indexPos_ = needIndices ? static_cast<int64_t>(w_.size()) : -1;
      return;
    }
    if (const RowLayout *r = rowOf(type, /*anySpace=*/true)) {
      w_.line("#pragma unroll");
      w_.line(cat("for (int s = 0; s < ", slots(type), "; ++s) {"));
      w_.indent();
      fragEPos_ = static_cast<int64_t>(w_.size());
      fragEText_ = cat("const int e = ", r->base, " + (s >> 1) * 16 + (s & 1) * 8;  // row layout");
      fragIdx_ = {cat(r->base, " + (s >> 1) * 16 + (s & 1) * 8"), "0"};
      guarded_ = false;
      replicated_ = true;
      indexShape_.assign(type.getShape().begin(), type.getShape().end());
      indexPos_ = needIndices ? static_cast<int64_t>(w_.size()) : -1;
      return;
    }
    if (const Frag *f = fragOf(type, /*anySpace=*/true)) {
      w_.line("#pragma unroll");
      w_.line(cat("for (int s = 0; s < ", slots(type), "; ++s) {"));
      w_.indent();
      fragEPos_ = static_cast<int64_t>(w_.size());
      fragEText_ = cat("const int e = ", fragElementText(*f, "s"), ";  // fragment layout");
      fragIdx_ = {fragRowText(*f), fragColText(*f) + " + (s & 1)"};
      guarded_ = false;
      indexShape_.assign(type.getShape().begin(), type.getShape().end());
      indexPos_ = needIndices ? static_cast<int64_t>(w_.size()) : -1;
      return;
    }
    if (int64_t v = vecOf(type)) {
      w_.line("#pragma unroll");
      w_.line(cat("for (int s = 0; s < ", slots(type), "; ++s) {"));
      w_.indent();
      fragEPos_ = static_cast<int64_t>(w_.size());
      fragEText_ = cat("const int e = ", vecElementText(v), ";  // vector layout");
      if (type.getRank() == 2) {
        int64_t cols = type.getShape()[1], groups = cols / (v * nt_);
        fragIdx_ = {cat("s / ", cols / nt_),
                    groups == 1 ? cat("tid * ", v, " + s % ", v)
                                : cat("(tid + (s / ", v, " % ", groups, ") * ", nt_, ") * ", v, " + s % ", v)};
      }
      guarded_ = false;
      indexShape_.assign(type.getShape().begin(), type.getShape().end());
      indexPos_ = needIndices ? static_cast<int64_t>(w_.size()) : -1;
      return;
    }
    w_.line("#pragma unroll");
    w_.line(cat("for (int s = 0, e = tid; s < ", slots(type), "; ++s, e += ", nt_, ") {"));
    w_.indent();
    guarded_ = n % nt_ != 0;
    if (guarded_) {
      w_.line(cat("if (e < ", n, ") {"));
      w_.indent();
    }
    indexShape_.assign(type.getShape().begin(), type.getShape().end());
    indexPos_ = needIndices ? static_cast<int64_t>(w_.size()) : -1;
  }

  void closeElementLoop() override {
    // A fragment-layout loop computes `e` only when the body (or its indices) uses it.
    bool needE = false;
    if (fragEPos_ >= 0)
      needE = usesIdentifier(llvm::StringRef(w_.str()).drop_front(fragEPos_), "e");
    // Declare just the indices the loop body uses (nvcc warns about the others).
    if (indexPos_ >= 0) {
      llvm::StringRef body = llvm::StringRef(w_.str()).drop_front(indexPos_);
      SmallVector<bool> used;
      for (size_t d = 0; d < indexShape_.size(); ++d)
        used.push_back(usesIdentifier(body, cat("i", d)));
      std::string decl;
      if (fragEPos_ >= 0 && indexShape_.size() == 2) {
        // Fragment / row layouts: the row and column of slot s directly (a base plus a constant once unrolled),
        // not decomposed from e.
        SmallVector<std::string> kept;
        for (int d = 0; d < 2; ++d)
          if (used[d])
            kept.push_back(cat("i", d, " = ", fragIdx_[d]));
        if (!kept.empty())
          decl = "const int " + llvm::join(kept, ", ") + ";";
      } else if (fragEPos_ < 0 && indexShape_.size() == 2 && (nt_ % indexShape_[1] == 0 || indexShape_[1] % nt_ == 0)) {
        // Default layout, e = tid + s * NT: when a row holds a multiple or a divisor of NT elements, the row and
        // column of slot s are tid's plus a constant once unrolled, so every slot's address is one base pointer
        // plus an immediate offset (not a 64-bit pointer per slot, held in registers).
        int64_t cols = indexShape_[1];
        std::string i0 = nt_ % cols == 0 ? cat("tid / ", cols, " + s * ", nt_ / cols)
                                          : cat("s / ", cols / nt_);
        std::string i1 = nt_ % cols == 0 ? cat("tid % ", cols) : cat("tid + (s % ", cols / nt_, ") * ", nt_);
        if (cols == 1)
          i1 = "0";
        SmallVector<std::string> kept;
        if (used[0])
          kept.push_back(cat("i0 = ", i0));
        if (used[1])
          kept.push_back(cat("i1 = ", i1));
        if (!kept.empty())
          decl = "const int " + llvm::join(kept, ", ") + ";";
      } else {
        decl = indexDecl(indexShape_, "e", "i", used);
        if (!decl.empty())
          needE = needE || fragEPos_ >= 0;
      }
      if (!decl.empty())
        w_.insertLine(indexPos_, decl);
      indexPos_ = -1;
    }
    if (fragEPos_ >= 0) {
      if (needE)
        w_.insertLine(fragEPos_, fragEText_);
      fragEPos_ = -1;
    }
    replicated_ = false;
    allThreads_ = false;
    if (guarded_) {
      w_.dedent();
      w_.line("}");
      guarded_ = false;
    }
    w_.dedent();
    w_.line("}");
  }

  std::string elemOf(const std::string &name, TileType type) override {
    if (type.getMemorySpace() != MemorySpace::smem)
      return name + "[s]";
    auto it = pitch_.find(name);
    if (it == pitch_.end())
      return name + "[e]";
    return cat(name, "[e + (e / ", it->second.first, ") * ", it->second.second - it->second.first, "]");
  }

  std::string storeElem(const std::string &name, TileType type, const std::string &value) override {
    if (bf16_.count(name) && !type.getElementType().isBF16())
      return cat(elemOf(name, type), " = spak_gen::bf16_bits(", value, ");");
    return cat(elemOf(name, type), " = ", value, ";");
  }

  /// Under mma_schedule = 3, bf16 operand tiles of a k-loop whose load carries a pipeline depth (law `stages`, `k_lat`,
  /// ...) of 2 or more are prefetched into registers one k-step ahead.
  bool pipelineLoad(LoadOp l) override {
    LawAttr lat = l.getLatencyAttr();
    if (!lat || !lat.isInteger() || lat.getInt() < 2)
      return false;
    // Schedule 4 pipelines only what its rings carry: measured on the H100 (2026-11-23, docs/benchmarks.md), schedule
    // 3's register prefetch slows the attention kernels (attention_grad_dq 254 -> 614 us) more than it helps them.
    if (mmaSchedule_ >= 4)
      return ringable(l);
    return mmaSchedule_ == 3 && bf16Operand(l.getResult());
  }

  // ---- mma_schedule = 4: k-tiles through cp.async rings (docs/cuda-mma.md) ---------------------------------------
  /// Schedule 7: the most shared memory one attention k-loop's rings may take (of kMaxSmemPerBlock).
  static constexpr int64_t kAttentionRingBytes = 160 * 1024;
  /// A k-loop load that a cp.async ring can carry: a rank-2 f32 tile read only as an operand of fragment mma's, whose
  /// rows are a multiple of 4 elements (16-byte chunks) and whose mask, if any, is a bounds mask (per chunk: a row
  /// test and a count of valid leading elements).
  bool ringable(LoadOp l) const {
    TileType t = l.getTileType();
    // The rings carry the matmul main loop, whose depth law is `stages` (rules: "cp.async/TMA pipeline stages of
    // the matmul main loop"); attention's K/V loads (k_lat, v_lat) keep synchronous bf16 tiles: as f32 rings their
    // 128 x 64 tiles would leave one CTA per SM.
    // Schedule 7 lifts that: the attention kernels hold one CTA per SM anyway (their registers), so f32 rings as deep
    // as k_lat / v_lat fit, and their 16-byte copies replace per-element loads that convert on the way in.
    llvm::StringRef latName = l.getLatencyAttr().getName();
    bool attention = latName == "k_lat" || latName == "v_lat";
    if (latName != "stages" && !(mmaSchedule_ >= 7 && attention))
      return false;
    // ... as long as the loop's attention rings leave room for its other shared tiles (attention_grad_dq loads four
    // 128 x 64 tiles a step: it keeps synchronous loads).
    if (attention) {
      auto loop = dyn_cast<scf::ForOp>(l->getParentOp());
      if (!loop)
        return false;
      int64_t bytes = 0;
      for (LoadOp o : loop.getBody()->getOps<LoadOp>()) {
        LawAttr lat = o.getLatencyAttr();
        if (!lat || !lat.isInteger() || (lat.getName() != "k_lat" && lat.getName() != "v_lat") ||
            o.getTileType().getRank() != 2)
          continue;
        TileType t = o.getTileType();
        bytes += lat.getInt() * t.getShape()[0] * (t.getShape()[1] + 8) * elementBytes(t.getElementType());
      }
      if (bytes > kAttentionRingBytes)
        return false;
    }
    int64_t chunk = t.getElementType().isBF16() ? 8 : 4;  // elements per 16-byte cp.async chunk
    if (t.getRank() != 2 || !(t.getElementType().isF32() || t.getElementType().isBF16()) || t.getShape()[1] % chunk != 0 ||
        cast<BufferType>(l.getBuffer().getType()).getRank() < 2 || paddedPitch(l.getResult()) <= 0)
      return false;
    if (Value m = l.getMask()) {
      auto mk = m.getDefiningOp<MaskOp>();
      if (!mk || mk.getKind() == MaskKind::causal || mk.getOffsets().size() != 2 || mk.getBounds().size() != 2)
        return false;
    }
    return true;
  }
  /// Whether every mma reads two k-adjacent elements of the tile's rows per operand register (a row-major, b^T): then
  /// one 8-byte read each, and rows 8 floats apart keep a half-warp's reads on distinct banks; else 4 apart.
  static bool adjacentPairs(Value v) {
    for (OpOperand &use : v.getUses()) {
      auto m = cast<MmaOp>(use.getOwner());
      if ((use.get() == m.getA() && m.getTransposeA()) || (use.get() == m.getB() && !m.getTransposeB()))
        return false;
    }
    return true;
  }
  // ---- mma_schedule = 9: the matmul rings filled by the tensor memory accelerator (docs/cuda-mma.md) -----------
  /// A tensor map the launcher builds for one of this kernel's TMA rings (a __grid_constant__ parameter each).
  struct TmaParam {
    std::string name, buffer, cols, rows;  // host expressions of the tensor's extent
    int64_t pitch = 0, box = 0, boxRows = 0;
  };
  /// An index the host launcher can evaluate as well: a constant, or a dimension of an argument buffer (the launcher
  /// has the kernel's parameters).
  std::optional<std::string> hostIndexText(Value v) {
    if (auto c = v.getDefiningOp<arith::ConstantOp>())
      if (auto i = dyn_cast<IntegerAttr>(c.getValue()))
        return std::to_string(i.getInt());
    if (auto d = v.getDefiningOp<DimOp>())
      if (isa<BlockArgument>(d.getSource()) && bufferNames_.count(d.getSource()))
        return bufferDimText(d.getSource(), d.getIndex());
    return std::nullopt;
  }
  /// How a wgmma ring load is copied by TMA, if it can be: a bf16 tile of R <= 256 rows (a multiple of 8) and C
  /// columns read from a rank-2 bf16 argument whose rows are a static multiple of 16 bytes apart, as C / E boxes of
  /// R x E (E = 64, 32 or 16 elements: one 128-, 64- or 32-byte swizzle span), masked at most by the tensor's own
  /// bounds (TMA reads zeros past them) with extents the launcher can compute.
  std::optional<TmaParam> tmaPlan(LoadOp l) {
    if (mmaSchedule_ < 9)
      return std::nullopt;
    TileType t = l.getTileType();
    auto bt = cast<BufferType>(l.getBuffer().getType());
    if (!t.getElementType().isBF16() || !bt.getElementType().isBF16() || bt.getRank() != 2 || t.getRank() != 2 ||
        !isa<BlockArgument>(l.getBuffer()) || !bufferNames_.count(l.getBuffer()) || bt.isDynamicDim(1) ||
        (bt.getShape()[1] * 2) % 16)
      return std::nullopt;
    int64_t rows = t.getShape()[0], cols = t.getShape()[1], box = std::min<int64_t>(cols, 64);
    if ((box != 64 && box != 32 && box != 16) || cols % box || rows % 8 || rows > 256)
      return std::nullopt;
    TmaParam p;
    p.buffer = bufferNames_.lookup(l.getBuffer());
    p.pitch = bt.getShape()[1];
    p.box = box;
    p.boxRows = rows;
    if (Value m = l.getMask()) {
      auto mk = m.getDefiningOp<MaskOp>();
      if (!mk || mk.getKind() == MaskKind::causal || mk.getOffsets().size() != 2 || mk.getBounds().size() != 2 ||
          mk.getOffsets()[0] != l.getOffsets()[0] || mk.getOffsets()[1] != l.getOffsets()[1])
        return std::nullopt;
      std::optional<std::string> r = hostIndexText(mk.getBounds()[0]), c = hostIndexText(mk.getBounds()[1]);
      if (!r || !c)
        return std::nullopt;
      p.rows = *r;
      p.cols = *c;
    } else {
      p.rows = bufferDimText(l.getBuffer(), 0);
      p.cols = std::to_string(bt.getShape()[1]);
    }
    return p;
  }

  /// Under schedule 4 pipelineLoad selects only ringable loads; a loop nested in a ring loop prefetches through
  /// registers instead (one ring loop at a time).
  bool asyncPipeline(ArrayRef<LoadOp>) const override { return mmaSchedule_ >= 4 && !ringLoop_; }

  LogicalResult asyncPrologue(scf::ForOp op, ArrayRef<LoadOp> piped) override {
    ringLoop_ = op;
    ringOrder_.assign(piped.begin(), piped.end());
    // Schedule 7's attention loops release their shared tiles afterwards, unless a shared tile leaves the loop.
    bool attentionRings =
        llvm::any_of(piped, [](LoadOp l) { return l.getLatencyAttr().getName() != "stages"; }) &&
        llvm::none_of(op.getResultTypes(), [](Type t) {
          auto tt = dyn_cast<TileType>(t);
          return tt && tt.getMemorySpace() == MemorySpace::smem;
        });
    ringTop_ = attentionRings ? tileTop_ : -1;
    ringStep_ = fresh("kstep");
    ringMinDepth_ = INT64_MAX;
    int64_t maxDepth = 0;
    // Schedule 9: when every ring of the loop is a wgmma ring TMA can fill, all of one depth, thread 0 copies each
    // k-step's tiles with the tensor memory accelerator and the slots' mbarriers say when they have landed.
    std::vector<std::optional<TmaParam>> plans;
    for (LoadOp l : piped) {
      TileType t = l.getTileType();
      plans.push_back(t.getElementType().isBF16() && t.getShape()[0] % 8 == 0 && wgmmaRing(l) &&
                              l.getLatencyAttr().getInt() == LoadOp(piped.front()).getLatencyAttr().getInt()
                          ? tmaPlan(l)
                          : std::nullopt);
    }
    bool tmaLoop = !piped.empty() && llvm::all_of(plans, [](const auto &p) { return p.has_value(); });
    tmaBars_.clear();
    tmaBytes_ = 0;
    for (size_t li = 0; li < piped.size(); ++li) {
      LoadOp l = piped[li];
      TileType t = l.getTileType();
      LawAttr lat = l.getLatencyAttr();
      Ring r;
      r.depth = lat.getInt();
      r.rows = t.getShape()[0];
      r.cols = t.getShape()[1];
      r.bf16 = t.getElementType().isBF16();
      // f32: rows 8 floats apart when every read is an 8-byte pair (a half-warp on 32 distinct banks), else 4; bf16:
      // 16 bytes of padding (rows 4 words apart modulo 32 banks: a fragment read's 8 rows x 4 lanes are distinct).
      r.pitch = r.cols + (r.bf16 ? kSmemRowPadBf16 : adjacentPairs(l.getResult()) ? 8 : 4);
      // Schedule 6: the tensor cores read the slots themselves (wgmma descriptors): 8 x 8 core matrices of 128
      // contiguous bytes, 8-column blocks padded by 32 bytes (wgmmaPitch; bench/gpu/wgmma_probe.cu).
      r.wgmma = r.bf16 && r.rows % 8 == 0 && wgmmaRing(l);
      if (r.wgmma)  // `pitch` is then the elements between two 8-column blocks: rows * 8 + 16 (see wgmmaPitch)
        r.pitch = wgmmaPitch(r.rows);
      r.ring = fresh("ring");
      r.first = l == piped.front();
      ringMinDepth_ = std::min(ringMinDepth_, r.depth);
      maxDepth = std::max(maxDepth, r.depth);
      int64_t off = tileTop_;
      r.slot = r.wgmma ? (r.cols / 8) * r.pitch : r.rows * r.pitch;
      if (tmaLoop) {
        const TmaParam &plan = *plans[li];
        r.tma = true;
        r.box = plan.box;
        r.slot = r.rows * r.cols;
        r.map = cat("tmap", tmaParams_.size());
        tmaParams_.push_back(plan);
        tmaParams_.back().name = r.map;
        off = (tileTop_ + 1023) / 1024 * 1024;  // the swizzle pattern repeats every 1024 bytes of shared address
        tmaBytes_ += r.slot * 2;
      }
      tileTop_ = align16(off + r.depth * r.slot * (r.bf16 ? 2 : 4));
      const char *elt = r.bf16 ? "uint16_t" : "float";
      if (r.tma)
        w_.line(cat(elt, "* ", r.ring, " = reinterpret_cast<", elt, "*>(spak_smem + ", off, ");  // ", r.depth, " x ",
                    shapeText(t.getShape()), " bf16 k-tiles in shared memory: a ring filled by TMA (", lat.getName(),
                    " = ", lawValueText(lat), "  <- ", lawProvenanceText(lat), "; ", mmaScheduleNote_, "), ",
                    r.cols / r.box, " box(es) of ", r.rows, " x ", r.box, " per k-tile in the ", 2 * r.box,
                    "-byte swizzle: element (r, c) at byte (c / ", r.box, ") * ", r.rows * r.box * 2, " + r * ",
                    2 * r.box, " + 2 * (c % ", r.box, "), 16-byte chunk XOR (r * ", 2 * r.box, " / 128) % ",
                    r.box / 8));
      else
        w_.line(cat(elt, "* ", r.ring, " = reinterpret_cast<", elt, "*>(spak_smem + ", off, ");  // ", r.depth, " x ",
                    shapeText(t.getShape()), r.bf16 ? " bf16" : " f32",
                    " k-tiles in shared memory: a ring filled by cp.async (",
                    lat.getName(), " = ", lawValueText(lat), "  <- ", lawProvenanceText(lat), "; ", mmaScheduleNote_,
                    r.wgmma ? cat("), in wgmma core matrices: element (r, c) at (c / 8) * ", r.pitch,
                                  " + (r / 8) * 64 + (r % 8) * 8 + c % 8")
                            : cat("), rows ", r.pitch, " apart")));
      rings_[l] = r;
    }
    // Schedule 6: when every ring of the loop feeds its one wgmma, which accumulates into the loop-carried tile in
    // place, that k-step's wgmma's stay in flight through the next k-step's barrier and copies (wgmma_wait<1>). The
    // slot refilled in k-step s is then the one k-step s - 2 read (complete in every warpgroup once all threads pass
    // the barrier), so the rings run depth - 2 k-steps ahead instead of depth - 1.
    ringLag_ = 1;
    wgmmaPipe_ = MmaOp();
    if (ringMinDepth_ >= 3 && llvm::all_of(piped, [&](LoadOp l) { return rings_[l].wgmma; })) {
      SmallVector<MmaOp> mmas;
      op.getBody()->walk([&](MmaOp m) { mmas.push_back(m); });
      if (mmas.size() == 1 && inPlaceAccumulator(mmas[0], op)) {
        wgmmaPipe_ = mmas[0];
        ringLag_ = 2;
      }
    }
    std::string lb = expr(op.getLowerBound()), step = expr(op.getStep()), ub = expr(op.getUpperBound());
    if (tmaLoop) {
      // Schedule 10: with the loop's one wgmma in flight across k-steps, the warps release each slot on a second
      // mbarrier once its wgmma's are done, and thread 0 waits for that release before refilling it: no CTA-wide
      // barrier in the k-loop; the rings run depth - 1 k-steps ahead.
      tmaRelease_ = mmaSchedule_ >= 10 && wgmmaPipe_;
      if (tmaRelease_)
        ringLag_ = 1;
      int64_t boff = align16(tileTop_);
      tileTop_ = align16(boff + (tmaRelease_ ? 16 : 8) * maxDepth);
      tmaBars_ = fresh("bars");
      w_.line(cat("uint64_t* ", tmaBars_, " = reinterpret_cast<uint64_t*>(spak_smem + ", boff, ");  // ", maxDepth,
                  " mbarriers: k-step s's k-tiles have landed in slot s % ", maxDepth, " (phase parity (s / ",
                  maxDepth, ") % 2)",
                  tmaRelease_ ? cat("; then ", maxDepth, " more: every warp is done reading slot s % ", maxDepth,
                                    " (one arrival per warp)")
                              : std::string()));
      if (op->getParentOfType<scf::ForOp>())
        w_.line("__syncthreads();  // no thread still waits on these barriers from the enclosing loop's last trip");
      w_.line("if (tid == 0) {");
      w_.line("  spak_gen::check_smem_align1024(spak_smem);");
      w_.line(cat("  for (int s = 0; s < ", maxDepth, "; ++s) spak_gen::mbar_init(&", tmaBars_, "[s], 1);"));
      if (tmaRelease_)
        w_.line(cat("  for (int s = 0; s < ", maxDepth, "; ++s) spak_gen::mbar_init(&", tmaBars_, "[", maxDepth,
                    " + s], ", warps_, ");"));
      w_.line("  spak_gen::mbar_fence_init();");
      w_.line("}");
      w_.line("__syncthreads();  // the barriers are initialised before anyone waits on them");
    }
    // The first k-tiles of every ring, in flight before the loop: TMA boxes copied by thread 0 (schedule 9), or one
    // cp.async group per k-step.
    w_.line(cat("// the first k-tiles of every ring in flight before the loop (ring depth - ", ringLag_, " of each",
                tmaLoop ? "), copied by thread 0 with TMA" : "; one cp.async group per k-step)"));
    for (int64_t st = 0; st + ringLag_ < maxDepth; ++st) {
      std::string kv = st == 0 ? lb : cat(lb, " + ", st, " * ", step);
      w_.line(cat("if (", tmaLoop ? "tid == 0 && " : "", kv, " < ", ub, ") {  // k-step ", st));
      w_.indent();
      if (tmaLoop)
        emitTmaStep(std::to_string(st), st, kv);
      else
        for (LoadOp l : piped) {
          const Ring &r = rings_[l];
          if (st + ringLag_ < r.depth && failed(emitAsyncCopy(l, cat(r.ring, " + ", st * r.slot), cat("(", kv, ")"))))
            return failure();
        }
      w_.dedent();
      w_.line("}");
      if (!tmaLoop)
        w_.line("spak_gen::cp_async_commit();");
    }
    return success();
  }

  LogicalResult asyncLoad(LoadOp l) override {
    const Ring &r = rings_[l];
    TileType t = l.getTileType();
    if (r.first) {
      std::string iv = expr(ringLoop_.getInductionVar()), lb = expr(ringLoop_.getLowerBound()),
                  step = expr(ringLoop_.getStep()), ub = expr(ringLoop_.getUpperBound());
      w_.line(cat("const int64_t ", ringStep_, " = (", iv, " - ", lb, ") / ", step,
                  ";  // this k-step's index: ring slot ", ringStep_, " % depth"));
      if (!tmaBars_.empty())
        w_.line(cat("spak_gen::mbar_wait(&", tmaBars_, "[", ringStep_, " % ", r.depth, "], uint32_t(", ringStep_, " / ",
                    r.depth, ") & 1u);  // this k-step's boxes have landed"));
      if (!tmaBars_.empty() && !tmaRelease_) {  // schedule 9: a CTA barrier frees the slot refilled next
        int64_t depth = r.depth, d = depth - ringLag_;
        w_.line(ringLag_ == 1 ? "__syncthreads();  // the slots refilled below were last read in the previous k-step, "
                                "by every warp"
                              : "__syncthreads();  // the wgmma's of k-step - 2 (the slots refilled below) are "
                                "complete in every warpgroup");
        std::string kn = cat(iv, " + ", d, " * ", step);
        w_.line(cat("if (tid == 0 && ", kn, " < ", ub, ") {  // k-step ", ringStep_, " + ", d, " by TMA, in flight "
                    "during the mma of the next ", d));
        w_.indent();
        emitTmaStep(cat("(", ringStep_, " + ", d, ") % ", depth), std::nullopt, kn);
        w_.dedent();
        w_.line("}");
      }
    }
    if (r.first && tmaBars_.empty()) {
      std::string iv = expr(ringLoop_.getInductionVar()), step = expr(ringLoop_.getStep()),
                  ub = expr(ringLoop_.getUpperBound());
      int64_t ahead = ringMinDepth_ - ringLag_ - 1;
      w_.line(cat("spak_gen::cp_async_wait<", ahead, ">();  // this thread's copies of this k-step have landed (",
                  ahead, " later k-steps may stay in flight)"));
      if (llvm::any_of(ringOrder_, [&](LoadOp o) { return rings_[o].wgmma; }))
        w_.line("spak_gen::fence_proxy_async();  // this thread's ring writes, visible to the wgmma's (async proxy)");
      w_.line(ringLag_ == 1 ? "__syncthreads();  // every thread's copies are visible, and the slots refilled below "
                              "were last read in the previous k-step"
                            : "__syncthreads();  // every thread's copies are visible, and the wgmma's of k-step - 2 "
                              "(the slots refilled below) are complete in every warpgroup");
      for (LoadOp o : ringOrder_) {
        const Ring &q = rings_[o];
        int64_t d = q.depth - ringLag_;
        std::string kn = cat(iv, " + ", d, " * ", step);
        w_.line(cat("if (", kn, " < ", ub, ") {  // k-step ", ringStep_, " + ", d, " into ", q.ring,
                    ", in flight during the mma of the next ", d));
        w_.indent();
        if (failed(emitAsyncCopy(o, cat(q.ring, " + ((", ringStep_, " + ", d, ") % ", q.depth, ") * ",
                                        q.slot),
                                 cat("(", kn, ")"))))
          return failure();
        w_.dedent();
        w_.line("}");
      }
      w_.line("spak_gen::cp_async_commit();");
    }
    std::string n = bindNew(l.getResult(), "ld");
    if (r.tma)
      tmaTiles_[n] = TmaTile{r.rows, r.cols, r.box};
    else if (r.wgmma)
      wgmmaPitch_[n] = r.pitch;
    else
      pitch_[n] = {r.cols, r.pitch};
    (r.bf16 ? bf16_ : ringTiles_).insert(n);
    w_.line(cat("const ", r.bf16 ? "uint16_t" : "float", "* ", n, " = ", r.ring, " + (", ringStep_, " % ", r.depth,
                ") * ", r.slot, ";  // this k-step's ", shapeText(t.getShape()), r.bf16 ? " bf16" : " f32",
                r.tma     ? " k-tile in swizzled TMA boxes"
                : r.wgmma ? " k-tile in wgmma core matrices"
                          : cat(" k-tile, rows ", r.pitch, " apart")));
    return success();
  }

  /// Schedule 10, after the k-step's wgmma wait: the previous k-step's slot is released by every warp (lane 0
  /// arrives), and thread 0 refills it with k-step + depth - 1 once all warps have released it.
  void emitTmaRelease() {
    LoadOp first = ringOrder_.front();
    int64_t depth = rings_[first].depth, d = depth - 1;
    std::string iv = expr(ringLoop_.getInductionVar()), step = expr(ringLoop_.getStep()),
                ub = expr(ringLoop_.getUpperBound()), ks = ringStep_;
    std::string prev = cat("(", ks, " + ", depth - 1, ") % ", depth);  // the slot of k-step - 1 (and of k-step + d)
    w_.line(cat("if (lane == 0 && ", ks, " > 0) spak_gen::mbar_arrive(&", tmaBars_, "[", depth, " + ", prev,
                "]);  // this warp is done with k-step - 1's slot"));
    std::string kn = cat(iv, " + ", d, " * ", step);
    w_.line(cat("if (tid == 0 && ", kn, " < ", ub, ") {  // k-step ", ks, " + ", d, " by TMA into that slot, once "
                "every warp has released it"));
    w_.indent();
    w_.line(cat("if (", ks, " > 0) spak_gen::mbar_wait(&", tmaBars_, "[", depth, " + ", prev, "], uint32_t((", ks,
                " - 1) / ", depth, ") & 1u);"));
    emitTmaStep(prev, std::nullopt, kn);
    w_.dedent();
    w_.line("}");
  }

  /// Thread 0's part of one k-step (induction value `kv`) into ring slot `slot` (a C expression; `literal` when it is
  /// a constant, for constant offsets): the k-step's bytes expected on the slot's mbarrier, then every ring's boxes.
  void emitTmaStep(const std::string &slot, std::optional<int64_t> literal, const std::string &kv) {
    std::string bar = cat("&", tmaBars_, "[", slot, "]");
    w_.line(cat("spak_gen::mbar_expect_tx(", bar, ", ", tmaBytes_, ");  // the bytes of this k-step's boxes"));
    for (LoadOp o : ringOrder_) {
      const Ring &q = rings_[o];
      emitTmaCopy(o, literal ? cat(q.ring, " + ", *literal * q.slot) : cat(q.ring, " + (", slot, ") * ", q.slot),
                  cat("(", kv, ")"), bar);
    }
  }

  /// Thread 0's TMA copies of `l`'s k-tile for induction value `kv` into the ring slot at `dst`, completing on `bar`:
  /// one box of R rows x E elements per E columns (the tensor map's box), at coordinates (column, row).
  void emitTmaCopy(LoadOp l, const std::string &dst, const std::string &kv, const std::string &bar) {
    Value iv = ringLoop_.getInductionVar();
    std::string savedIv = names_.lookup(iv);
    names_[iv] = kv;
    const Ring &r = rings_[l];
    std::string row = expr(l.getOffsets()[0]), col = expr(l.getOffsets()[1]);
    for (int64_t j = 0; j < r.cols / r.box; ++j)
      w_.line(cat("spak_gen::tma_load_2d(", dst, j ? cat(" + ", j * r.rows * r.box) : "", ", &", r.map, ", int(", col,
                  j ? cat(" + ", j * r.box) : "", "), int(", row, "), ", bar, ");"));
    names_[iv] = savedIv;
  }

  void asyncEpilogue() override {
    if (tmaBars_.empty())
      w_.line("spak_gen::cp_async_wait<0>();  // no copy outlives the loop");
    tmaBars_.clear();
    tmaRelease_ = false;
    // Schedule 7: the shared tiles of an attention ring loop (its rings and whatever the loop body staged) are dead
    // once every thread is past the loop; a later loop or tile reuses their bytes (attention_grad_dq runs two).
    if (ringTop_ >= 0) {
      w_.line("__syncthreads();  // every thread is done with this loop's shared tiles: later ones reuse their bytes");
      tileHigh_ = std::max(tileHigh_, tileTop_);
      tileTop_ = ringTop_;
      ringTop_ = -1;
    }
    if (wgmmaPipe_) {
      std::string acc = names_.lookup(wgmmaPipe_.getResult());
      w_.line("spak_gen::wgmma_wait<0>();  // the last k-step's wgmma's");
      w_.line(cat("spak_gen::wgmma_fence_operands<", slots(wgmmaPipe_.getResult().getType()), ">(", acc,
                  ");  // the accumulators are read from here on"));
    }
    wgmmaPipe_ = MmaOp();
    ringLag_ = 1;
    ringLoop_ = nullptr;
  }

  /// An mma whose accumulator is an iter arg of `loop` read by nothing else and whose result is only yielded back in
  /// its place: the emitter accumulates into the loop-carried tile itself (no copies in and out).
  static bool inPlaceAccumulator(MmaOp op, scf::ForOp loop) {
    auto ba = dyn_cast<BlockArgument>(op.getAcc());
    if (!ba || ba.getOwner() != loop.getBody() || ba.getArgNumber() == 0 || !ba.hasOneUse() ||
        !op.getResult().hasOneUse() || op->getParentOp() != loop.getOperation())
      return false;
    OpOperand &use = *op.getResult().getUses().begin();
    return isa<scf::YieldOp>(use.getOwner()) && use.getOperandNumber() == ba.getArgNumber() - 1;
  }

  /// The cp.async copies of `l`'s k-tile for induction value `kv` into the ring slot at `dst`: 16-byte chunks of 4
  /// floats (4-byte copies when a chunk is not 16-byte aligned), zero-filled past the mask's bounds.
  LogicalResult emitAsyncCopy(LoadOp l, const std::string &dst, const std::string &kv) {
    Value iv = ringLoop_.getInductionVar();
    std::string savedIv = names_.lookup(iv);
    names_[iv] = kv;
    const Ring &r = rings_[l];
    Value buffer = l.getBuffer();
    unsigned rank = cast<BufferType>(buffer.getType()).getRank();
    std::string buf = bufferNames_.lookup(buffer);
    int64_t ce = r.bf16 ? 8 : 4;  // elements per 16-byte chunk
    int64_t perRow = r.cols / ce, chunks = r.rows * perRow, per = (chunks + nt_ - 1) / nt_;
    std::string count = std::to_string(ce);
    if (Value m = l.getMask()) {
      auto mk = m.getDefiningOp<MaskOp>();
      auto off = [&](unsigned d) {
        std::string o = expr(mk.getOffsets()[d]);
        return o == "0" ? cat("i", d) : cat(o, " + i", d);
      };
      count = cat("spak_gen::valid_n<", ce, ">(", off(0), " < ", expr(mk.getBounds()[0]), ", int64_t(",
                  expr(mk.getBounds()[1]), ") - (", off(1), "))");
    }
    w_.line("{");
    w_.indent();
    w_.line(cat("const bool vec = spak_gen::aligned16(", buf, ") && (", bufferDimText(buffer, rank - 1),
                ") % ", ce, " == 0 && (", expr(l.getOffsets()[rank - 1]), ") % ", ce,
                " == 0;  // 16-byte chunks stay aligned"));
    w_.line("#pragma unroll");
    w_.line(cat("for (int s = 0, c = tid; s < ", per, "; ++s, c += ", nt_, ") {"));
    w_.indent();
    if (chunks % nt_) {
      w_.line(cat("if (c >= ", chunks, ") break;"));
    }
    std::string at = cat("i0 * ", r.pitch, " + i1");
    w_.line(cat("const int i0 = c / ", perRow, ", i1 = (c % ", perRow, ") * ", ce, ";"));
    if (r.wgmma)  // core matrix (i0 / 8, i1 / 8), row i0 % 8
      at = cat("(i1 >> 3) * ", r.pitch, " + (i0 >> 3) * 64 + (i0 & 7) * 8");
    w_.line(cat("const int n = ", count, ";  // valid leading elements of this chunk"));
    w_.line(cat(r.bf16 ? "spak_gen::cp_async_bf16x8(" : "spak_gen::cp_async_f32x4(", dst, " + ", at, ", n > 0 ? &",
                addressText(buffer, l.getOffsets(), 2), " : ", buf, ", n, vec);"));
    w_.dedent();
    w_.line("}");
    w_.dedent();
    w_.line("}");
    names_[iv] = savedIv;
    return success();
  }
  int64_t registerSlots(TileType t) override { return slots(t); }

  /// A shared tile read only as an operand of bf16 tensor-core mma's (mma_bits = 16, mma_schedule = 2): stored as
  /// bf16, half the bytes and no conversion in the mma loop.
  bool bf16Operand(Value v) const {
    if (mmaBits_ != 16 || paddedPitch(v) <= 0)
      return false;
    for (OpOperand &use : v.getUses())
      if (!tensorCoreMma(cast<MmaOp>(use.getOwner())))
        return false;
    return true;
  }

  /// Whether mma `m` runs on bf16 tensor cores: mma_bits = 16, k a multiple of 16, f32 or bf16 operands (f32 ones are
  /// rounded to bf16; spak-bf16-operands may leave one of each), an f32 accumulator.
  bool tensorCoreMma(MmaOp m) const {
    TileType a = m.getA().getType(), b = m.getB().getType();
    int64_t k = m.getTransposeA() ? a.getShape()[0] : a.getShape()[1];
    auto f32OrBf16 = [](TileType t) { return t.getElementType().isF32() || t.getElementType().isBF16(); };
    return mmaBits_ == 16 && k % 16 == 0 && f32OrBf16(a) && f32OrBf16(b) &&
           m.getResult().getType().getElementType().isF32();
  }

  /// Row pitch (elements) for a shared tile read only as an operand of fragment mma's, else 0.
  int64_t paddedPitch(Value v) const {
    if (!v || mmaSchedule_ < 2)
      return 0;
    auto t = dyn_cast<TileType>(v.getType());
    if (!t || t.getRank() != 2 || !(t.getElementType().isF32() || t.getElementType().isBF16()) || v.use_empty())
      return 0;
    for (OpOperand &use : v.getUses()) {
      auto m = dyn_cast<MmaOp>(use.getOwner());
      if (!m || use.get() == m.getAcc() || !fragOf(m.getResult().getType()))
        return 0;
    }
    // 16 bytes of padding keep every row 16-byte aligned and move successive rows 4 banks on.
    return t.getShape()[1] + kSmemRowPad;
  }

  /// The row pitch of a shared operand pointer (its natural row length unless padded).
  int64_t pitchOf(const std::string &ptr, int64_t natural) const {
    auto it = pitch_.find(ptr);
    return it == pitch_.end() ? natural : it->second.second;
  }

  /// A store of a fragment-layout f32 tile into an f32 buffer: slots s and s + 1 (s even) are adjacent columns of
  /// one row, written with one 8-byte store when both are in bounds and the address is 8-byte aligned (the 4-byte
  /// stores of a warp fill half of every 32-byte sector they touch: twice the L2 write requests).
  bool emitPairedStore(StoreOp op) override {
    Value value = op.getValue(), mask = op.getMask();
    auto t = cast<TileType>(value.getType());
    auto bt = cast<BufferType>(op.getBuffer().getType());
    const Frag *f = fragOf(t);
    // f32 pairs in one 8-byte store; bf16 pairs (spak-bf16-producers' copies) in one 4-byte store.
    bool bf16 = t.getElementType().isBF16() && bt.getElementType().isBF16();
    if (!f || !(bf16 || (t.getElementType().isF32() && bt.getElementType().isF32())) || bt.getRank() < 2)
      return false;
    // Only plain slot reads (`name[s]`) can be re-indexed to s + 1.
    std::optional<std::string> v = slotBase(elem(value)),
                               m = mask ? slotBase(elem(mask)) : std::optional<std::string>("");
    if (!v || !m)
      return false;
    if (stagedStore(op) && emitStagedStore(op, *f, bf16, *v))
      return true;
    std::string m0 = mask ? cat(*m, "[s]") : "true", m1 = mask ? cat(*m, "[s + 1]") : "true";
    w_.line("#pragma unroll");
    w_.line(cat("for (int s = 0; s < ", slots(t), "; s += 2) {  // slots s, s + 1: columns i1, i1 + 1 of row i0"));
    w_.indent();
    w_.line(cat("const int i0 = ", fragRowText(*f), ", i1 = ", fragColText(*f), ";"));
    w_.line(cat(bf16 ? "uint16_t" : "float", "* p = &", addressText(op.getBuffer(), op.getOffsets(), 2), ";"));
    w_.line(cat("if (", mask ? cat(m0, " && ", m1, " && ") : "", bf16 ? "spak_gen::aligned4(p)) {" : "spak_gen::aligned8(p)) {"));
    w_.line(cat(bf16 ? "  spak_gen::st_bf16x2(p, " : "  spak_gen::st_f32x2(p, ", *v, "[s], ", *v, "[s + 1]);"));
    w_.line("} else {");
    w_.line(cat("  if (", m0, ") p[0] = ", *v, "[s];"));
    w_.line(cat("  if (", m1, ") p[1] = ", *v, "[s + 1];"));
    w_.line("}");
    w_.dedent();
    w_.line("}");
    return true;
  }

  void beforeTileWrite(TileType t) override {
    if (t.getMemorySpace() != MemorySpace::smem)
      return;
    // Two barriers in a row are one: a barrier just written (another shared tile complete, say; only comments and
    // shared tile pointers since) already orders this write after every earlier reader.
    llvm::StringRef text = llvm::StringRef(w_.str()).rtrim();
    while (!text.empty()) {
      size_t nl = text.rfind('\n');
      llvm::StringRef last = text.substr(nl == llvm::StringRef::npos ? 0 : nl + 1).trim();
      if (last.starts_with("__syncthreads();"))
        return;
      bool comment = last.starts_with("//");
      bool smemPointer = last.contains("= reinterpret_cast<") && last.contains("(spak_smem + ");
      if ((!comment && !smemPointer) || nl == llvm::StringRef::npos)
        break;
      text = text.take_front(nl).rtrim();
    }
    w_.line("__syncthreads();  // earlier readers of this shared tile are done");
  }
  void afterTileWrite(TileType t) override {
    if (t.getMemorySpace() == MemorySpace::smem)
      w_.line("__syncthreads();  // the shared tile is complete for every thread");
  }

  std::string programIdText(unsigned axis) override {
    static const char *names[] = {"program_x", "program_y", "program_z"};
    return names[axis];
  }

  std::string mathCall(llvm::StringRef fn, Type type, llvm::StringRef x) override {
    if (fastExp_ && fn == "exp" && type.isF32())  // law fast_exp = 1: ex2.approx (see fastExpNote_ in the banner)
      return cat("__expf(", x, ")");
    return cat(fn, type.isF32() ? "f" : "", "(", x, ")");
  }

  std::string maxCall(Type, llvm::StringRef a, llvm::StringRef b) override {
    return cat("spak_gen::max_of(", a, ", ", b, ")");
  }

  std::string atomicAddText(llvm::StringRef lvalue, llvm::StringRef value) override {
    if (replicated_)  // the 4 lanes of a quad hold the same element: one adds it
      return cat("if ((lane & 3) == 0) atomicAdd(&", lvalue, ", ", value, ")");
    if (allThreads_)  // every thread holds the element: one adds it
      return cat("if (tid == 0) atomicAdd(&", lvalue, ", ", value, ")");
    return cat("atomicAdd(&", lvalue, ", ", value, ")");
  }

  /// A register tile loaded once and read only as the register operand a of bf16 tensor-core mma's (attention's Q in
  /// the forward and dq: the query rows a warp owns): its slots become bf16 pairs right after the load (f32 rounded
  /// as the re-packing would, or bf16 bits from a bf16 copy paired), the form every k-step's mma reads. The loaded
  /// registers die there: half the registers an f32 tile held, and no re-packing in the loop; the same bits.
  bool packedA(Value v) const {
    auto l = v.getDefiningOp<LoadOp>();
    TileType t = dyn_cast<TileType>(v.getType());
    if (!l || !t || !(t.getElementType().isF32() || t.getElementType().isBF16()) || inSmem(t) || !fragOf(t) ||
        slots(t) % 2 || v.use_empty() ||
        asyncLoads_.count(l) || prefetch_.count(l))
      return false;
    return llvm::all_of(v.getUses(), [&](OpOperand &use) {
      auto m = dyn_cast<MmaOp>(use.getOwner());
      return m && use.getOperandNumber() == 0 && m.getB() != v && m.getAcc() != v && registerA(m);
    });
  }
  void afterElementwise(Operation *op) override {
    if (op->getNumResults() != 1 || !packedA(op->getResult(0)))
      return;
    std::string n = expr(op->getResult(0));
    int64_t pairs = slots(cast<TileType>(op->getResult(0).getType())) / 2;
    w_.line(cat("uint32_t ", n, "_bf16[", pairs, "];  // ", n, " as bf16 pairs: it is read only as the register operand "
                "a of tensor-core mma's (", mmaBitsNote_, ")"));
    w_.line("#pragma unroll");
    bool bits = cast<TileType>(op->getResult(0).getType()).getElementType().isBF16();  // loaded from a bf16 copy
    w_.line(cat("for (int s = 0; s < ", pairs, "; ++s) ", n, "_bf16[s] = spak_gen::", bits ? "pair_bf16" : "pack_bf16",
                "(", n, "[2 * s], ", n, "[2 * s + 1]);"));
  }

  LogicalResult emitTargetOp(Operation *op) override {
    if (auto r = dyn_cast<ReduceOp>(op))
      return emitReduce(r);
    if (auto b = dyn_cast<BroadcastOp>(op))
      return emitBroadcast(b);
    if (auto m = dyn_cast<MmaOp>(op))
      return emitMma(m);
    if (auto x = dyn_cast<ExtractOp>(op))
      return emitExtract(x);
    return op->emitOpError("is not supported by the cuda emitter");
  }

private:
  // ---- fragment layout (see the file header) --------------------------------
  struct RowLayout {
    int64_t m = 0;           // rows
    int64_t wm = 1, mi = 1;  // warps along the rows, 16-row blocks per warp
    std::string base;        // this lane's first row
  };
  struct Frag {
    int64_t m = 0, n = 0;    // tile shape
    int64_t wm = 1, wn = 1;  // warps along rows / columns
    int64_t mi = 1, ni = 1;  // 16 x 8 blocks per warp along rows / columns
    std::string base;        // per-thread element index of slot 0
  };

  static bool usesIdentifier(llvm::StringRef body, llvm::StringRef id) {
    for (size_t p = body.find(id); p != llvm::StringRef::npos; p = body.find(id, p + 1)) {
      bool before = p == 0 || !(llvm::isAlnum(body[p - 1]) || body[p - 1] == '_');
      bool after = p + id.size() >= body.size() || !(llvm::isAlnum(body[p + id.size()]) || body[p + id.size()] == '_');
      if (before && after)
        return true;
    }
    return false;
  }

  /// The fragment layout of a register tile, or null for the default layout.
  const Frag *fragOf(TileType t, bool anySpace = false) const {
    if ((!anySpace && t.getMemorySpace() == MemorySpace::smem) || t.getRank() != 2)
      return nullptr;
    auto it = frags_.find({t.getShape()[0], t.getShape()[1]});
    return it == frags_.end() ? nullptr : &it->second;
  }

  /// The row of slot s of a fragment-layout tile, and the column of its even slot (slot s | 1 is the next column).
  static std::string fragRowText(const Frag &f) {
    return cat(f.base, "_r + ((s >> 2) / ", f.ni, ") * 16 + ((s >> 1) & 1) * 8");
  }
  static std::string fragColText(const Frag &f) { return cat(f.base, "_c + ((s >> 2) % ", f.ni, ") * 8"); }

  /// Element index of slot `s` (an expression) of a fragment-layout tile.
  static std::string fragElementText(const Frag &f, llvm::StringRef s) {
    return cat(f.base, " + (((", s, " >> 2) / ", f.ni, ") * 16 + ((", s, " >> 1) & 1) * 8) * ", f.n, " + ((", s,
               " >> 2) % ", f.ni, ") * 8 + (", s, " & 1)");
  }

  /// Reads a law of the kernel that must take one of the `allowed` values (`fallback` when absent); `note` becomes the
  /// "name = value  <- provenance" text the kernel comments cite.
  LogicalResult readChoiceLaw(llvm::StringRef name, int64_t fallback, ArrayRef<int64_t> allowed,
                              llvm::StringRef meaning, int64_t &value, std::string &note) {
    value = fallback;
    note = cat(name, " = ", fallback, "  <- default (docs/dialects/tile.md)");
    if (auto config = kernel_.getConfigAttr())
      if (LawAttr law = config.getLaw(name)) {
        if (!law.isInteger() || !llvm::is_contained(allowed, law.getInt()))
          return kernel_.emitOpError("law '") << name << "' must be " << meaning << " for target cuda, got "
                                              << lawValueText(law) << " (" << lawProvenanceText(law) << ")";
        value = law.getInt();
        note = cat(name, " = ", value, "  <- ", lawProvenanceText(law));
      }
    return success();
  }

  /// The laws choosing the mma arithmetic and schedule.
  LogicalResult readMmaLaws() {
    std::string fastExpNote;
    if (failed(readChoiceLaw("fast_exp", 0, {0, 1}, "0 (expf) or 1 (__expf, the hardware approximation)", fastExp_,
                             fastExpNote)))
      return failure();
    if (failed(readChoiceLaw("mma_bits", 32, {32, 16},
                             "32 (fp32 on CUDA cores) or 16 (bf16 tensor cores, fp32 accumulation)", mmaBits_,
                             mmaBitsNote_)))
      return failure();
    return readChoiceLaw("mma_schedule", 1, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
                         "1 (staged operands), 2 (padded shared rows, row-owning warps, bf16 shared operands), 3 "
                         "(2 + k-loops prefetching the next k-tile into registers), 4 (2 + k-loops through cp.async "
                         "rings of shared k-tiles, as deep as their load law), 5 (4 with the matmul operands read "
                         "from bf16 copies: spak-bf16-operands) or 6 (5 with the matmul k-loops on wgmma: warpgroup mma's "
                         "reading the bf16 rings through shared-memory descriptors, sm_90a) or 7 (6 with attention's "
                         "K / V / Q / dO k-loop loads through f32 cp.async rings too) or 8 (7 with those attention "
                         "tiles read from bf16 copies, bf16 rings, and register tiles staged for tensor-core mma's as "
                         "bf16) or 9 (8 with the matmul rings filled by TMA in swizzled boxes, completing on mbarriers, "
                         "sm_90a) or 10 (9 with the ring slots released on mbarriers: no CTA barrier in the k-loop)",
                         mmaSchedule_, mmaScheduleNote_);
  }

  /// Gives every register-tile shape an mma produces a fragment layout, when
  /// the shape divides into 16 x 8 blocks over the CTA's warps.
  LogicalResult planFragments() {
    if (failed(readMmaLaws()))
      return failure();
    kernel_.walk([&](MmaOp op) {
      TileType t = op.getResult().getType();
      if (t.getMemorySpace() == MemorySpace::smem || t.getRank() != 2)
        return;
      int64_t m = t.getShape()[0], n = t.getShape()[1];
      if (frags_.count({m, n}))
        return;
      // The split of the warps with the squarest warp tile.
      std::optional<Frag> best;
      double bestScore = 0;
      for (int64_t wm = 1; wm <= warps_; wm *= 2) {
        if (warps_ % wm)
          continue;
        int64_t wn = warps_ / wm;
        if (m % (16 * wm) || n % (8 * wn))
          continue;
        double score = std::abs(std::log2(double(m / wm)) - std::log2(double(n / wn)));
        if (!best || score < bestScore) {
          best = Frag{m, n, wm, wn, m / wm / 16, n / wn / 8, cat("frag_", m, "x", n)};
          bestScore = score;
        }
      }
      if (best)
        frags_[{m, n}] = *best;
    });
    // Schedule 6: an mma that runs as wgmma takes the warpgroup accumulator layout, which is the m16n8 fragment layout
    // with the warps stacked along the rows (WM = warps, WN = 1, one 16-row block each): warp w of warpgroup g holds
    // rows 64 g + 16 w + {lane / 4, lane / 4 + 8} of every 8-column block.
    kernel_.walk([&](MmaOp op) {
      if (!wgmmaMma(op))
        return;
      TileType t = op.getResult().getType();
      int64_t m = t.getShape()[0], n = t.getShape()[1];
      frags_[{m, n}] = Frag{m, n, warps_, 1, 1, n / 8, cat("frag_", m, "x", n)};
    });
    // Row layout: where a kernel reduces a fragment tile along its rows (softmax) or feeds one to an mma as the
    // register operand A (P * V), every warp takes whole rows (WN = 1): the row reductions then stay inside the 4
    // lanes of a quad and A's fragments come straight from the accumulator registers (no shared memory).
    std::set<int64_t> rowM;
    if (mmaSchedule_ < 2)
      return success();
    kernel_.walk([&](Operation *op) {
      if (auto r = dyn_cast<ReduceOp>(op)) {
        TileType t = r.getSource().getType();
        if (r.getAxis() == 1 && fragOf(t))
          rowM.insert(t.getShape()[0]);
      } else if (auto m = dyn_cast<MmaOp>(op)) {
        TileType a = m.getA().getType();
        if (!m.getTransposeA() && fragOf(a))
          rowM.insert(a.getShape()[0]);
      }
    });
    for (int64_t m : rowM) {
      if (m % (16 * warps_))
        continue;
      for (auto &[shape, f] : frags_)
        if (shape.first == m)
          f = Frag{m, shape.second, warps_, 1, m / warps_ / 16, shape.second / 8, f.base};
      rows_[m] = RowLayout{m, warps_, m / warps_ / 16, cat("row_", m)};
    }
    return success();
  }

  /// mma_schedule = 6: an mma that runs as wgmma.mma_async.m64nNk16 (sm_90a): bf16 operands loaded by two ringable
  /// loads of one k-loop (cp.async rings, depth law `stages`), an f32 result of 16 x `warps` rows (one warpgroup per
  /// 64 rows) and n a multiple of 8 up to 256, k a multiple of 16.
  bool wgmmaMma(MmaOp op) const {
    if (mmaSchedule_ < 6 || mmaBits_ != 16 || warps_ % 4)
      return false;
    TileType a = op.getA().getType(), b = op.getB().getType(), dst = op.getResult().getType();
    if (!a.getElementType().isBF16() || !b.getElementType().isBF16() || !dst.getElementType().isF32() ||
        dst.getRank() != 2 || dst.getMemorySpace() == MemorySpace::smem)
      return false;
    int64_t k = op.getTransposeA() ? a.getShape()[0] : a.getShape()[1];
    int64_t m = dst.getShape()[0], n = dst.getShape()[1];
    if (k % 16 || m != 16 * warps_ || n % 8 || n > 256)
      return false;
    auto la = op.getA().getDefiningOp<LoadOp>(), lb = op.getB().getDefiningOp<LoadOp>();
    return la && lb && la->getParentOp() == lb->getParentOp() && isa<scf::ForOp>(la->getParentOp()) &&
           ringable(la) && ringable(lb);
  }
  /// Elements between two 8-column blocks of an R-row wgmma ring slot: R / 8 core matrices of 64 plus 16 of padding.
  /// The padding (32 bytes) puts the 4 chunks a quarter-warp copies into one row (threads in row-major order, the
  /// order the L2 serves best) on distinct banks: chunk j of row r lands at 32 j + 16 r modulo 128 bytes.
  static int64_t wgmmaPitch(int64_t rows) { return rows * 8 + 16; }
  /// A ring load read only by wgmma's: its slots take the wgmma core-matrix layout instead of padded rows.
  bool wgmmaRing(LoadOp l) const {
    if (l.getResult().use_empty())
      return false;
    for (OpOperand &use : l.getResult().getUses()) {
      auto m = dyn_cast<MmaOp>(use.getOwner());
      if (!m || use.get() == m.getAcc() || !wgmmaMma(m))
        return false;
    }
    return true;
  }

  /// A row reduction of a fragment tile into a row-layout tile: quad shuffles, no shared memory.
  bool quadReduce(ReduceOp op) const {
    const Frag *f = fragOf(op.getSource().getType());
    const RowLayout *r = rowOf(op.getResult().getType());
    return f && r && op.getAxis() == 1 && f->wn == 1 && f->m == r->m;
  }
  /// A broadcast of a row-layout tile along the rows of a fragment tile: register moves only.
  bool rowBroadcast(BroadcastOp op) const {
    auto src = dyn_cast<TileType>(op.getSource().getType());
    const RowLayout *r = src ? rowOf(src) : nullptr;
    const Frag *f = fragOf(op.getResult().getType());
    return r && f && f->wn == 1 && f->m == r->m;
  }
  /// A bf16 mma whose operand a is a fragment tile of this warp's rows: operands from registers.
  bool registerA(MmaOp op) const {
    TileType a = op.getA().getType(), dst = op.getResult().getType();
    const Frag *f = fragOf(dst), *fa = fragOf(a);
    // Its operand registers are its accumulator registers re-packed: a must be an f32 register tile, or a bf16 one
    // loaded from a bf16 copy (spak-bf16-operands: attention's Q), packed into pairs once after its load.
    bool tensorCores = tensorCoreMma(op) && (a.getElementType().isF32() || a.getElementType().isBF16());
    return f && fa && tensorCores && !op.getTransposeA() && fa->wn == 1 && f->wn == 1 && fa->wm == f->wm &&
           fa->m == f->m;
  }

  // ---- staged epilogue stores -----------------------------------------------------------------------------
  // A fragment tile's store to global memory goes through a per-warp staging area of shared memory, kStageBlocks
  // 8-column blocks (16 rows x 32 columns) at a time: the warp writes its slots there (pairs), then reads rows back
  // and stores 16 bytes per lane, 8 (f32) or 4 (bf16) lanes covering a row's 128 / 64 contiguous bytes. The paired
  // stores wrote 8 or 4 bytes per lane, a quad's 32 or 16 bytes per row: twice to four times the store instructions,
  // and half sectors for bf16. Only __syncwarp inside (each warp owns its rows), one CTA barrier after the store.
  static constexpr int64_t kStageBlocks = 4;      // 8-column blocks per staging step: 32 columns
  static constexpr int64_t kStagePitch = 40;      // elements per staged row: 32 + 8 (f32 pairs of 8 rows hit distinct banks)
  static int64_t stageBytes(int64_t warps) { return warps * 16 * kStagePitch * 4; }

  /// A store that goes through the staging area: a fragment tile (f32 into f32, bf16 into bf16) of a kernel that
  /// holds one CTA per SM (law ctas_per_sm = 1: the staging bytes would cost a second CTA's shared memory), whose
  /// warps each own 8-column blocks in multiples of kStageBlocks, unmasked or masked by bounds.
  bool stagedStore(StoreOp op) const {
    if (!stageEpilogues_)
      return false;
    auto t = cast<TileType>(op.getValue().getType());
    auto bt = cast<BufferType>(op.getBuffer().getType());
    const Frag *f = fragOf(t);
    if (!f || bt.getRank() < 2 || f->ni % kStageBlocks || t.getRank() != 2)
      return false;
    bool f32 = t.getElementType().isF32() && bt.getElementType().isF32();
    bool bf16 = t.getElementType().isBF16() && bt.getElementType().isBF16();
    if (!f32 && !bf16)
      return false;
    if (Value mask = op.getMask()) {
      auto mk = mask.getDefiningOp<MaskOp>();
      if (!mk || mk.getKind() != MaskKind::bounds || mk.getOffsets().size() != 2)
        return false;
    }
    return true;
  }

  bool emitStagedStore(StoreOp op, const Frag &f, bool bf16, const std::string &v) {
    std::string elt = bf16 ? "uint16_t" : "float";
    int64_t per16 = bf16 ? 8 : 4;                       // elements in 16 bytes
    int64_t cols = kStageBlocks * 8, perRow = cols / per16, chunks = 16 * perRow;  // 16-byte chunks of a step
    MaskOp mk = op.getMask() ? op.getMask().getDefiningOp<MaskOp>() : MaskOp();
    w_.line(cat("{  // staged through shared memory, ", cols, " columns at a time: 16-byte stores of whole row pieces"));
    w_.indent();
    w_.line(cat(elt, "* stg = reinterpret_cast<", elt, "*>(spak_smem + 0) + warp * ", 16 * kStagePitch,
                ";  // this warp's 16 x ", kStagePitch, " staging rows (scratch)"));
    w_.line(cat("const int row0 = (warp / ", f.wn, ") * ", f.m / f.wm, ", col0 = (warp % ", f.wn, ") * ", f.n / f.wn,
                ";  // this warp's first row and column"));
    w_.line("#pragma unroll");
    w_.line(cat("for (int mi = 0; mi < ", f.mi, "; ++mi) {"));
    w_.indent();
    w_.line("#pragma unroll");
    w_.line(cat("for (int c = 0; c < ", f.ni, "; c += ", kStageBlocks, ") {"));
    w_.indent();
    w_.line("__syncwarp();  // the previous step's reads are done");
    w_.line("#pragma unroll");
    w_.line(cat("for (int j = 0; j < ", kStageBlocks, "; ++j) {"));
    w_.indent();
    w_.line(cat("const int s = (mi * ", f.ni, " + c + j) * 4;  // slots s, s + 1: row lane / 4; s + 2, s + 3: 8 rows down"));
    std::string st = bf16 ? "spak_gen::st_bf16x2" : "spak_gen::st_f32x2";
    w_.line(cat(st, "(&stg[(lane >> 2) * ", kStagePitch, " + j * 8 + 2 * (lane & 3)], ", v, "[s], ", v, "[s + 1]);"));
    w_.line(cat(st, "(&stg[((lane >> 2) + 8) * ", kStagePitch, " + j * 8 + 2 * (lane & 3)], ", v, "[s + 2], ", v,
                "[s + 3]);"));
    w_.dedent();
    w_.line("}");
    w_.line("__syncwarp();");
    w_.line("#pragma unroll");
    w_.line(cat("for (int x = lane; x < ", chunks, "; x += 32) {"));
    w_.indent();
    w_.line(cat("const int r = x / ", perRow, ", cc = (x % ", perRow, ") * ", per16, ";"));
    w_.line("const int i0 = row0 + mi * 16 + r, i1 = col0 + c * 8 + cc;");
    w_.line(cat(elt, "* p = &", addressText(op.getBuffer(), op.getOffsets(), 2), ";"));
    w_.line(cat("const ", elt, "* q = &stg[r * ", kStagePitch, " + cc];"));
    std::string whole = mk ? cat(maskText(mk, {"i0", cat("i1 + ", per16 - 1)}), " && ") : std::string();
    w_.line(cat("if (", whole, "spak_gen::aligned16(p)) {"));
    w_.line("  spak_gen::copy16(p, q);");
    w_.line("} else {");
    w_.line("  #pragma unroll");
    w_.line(cat("  for (int e = 0; e < ", per16, "; ++e)"));
    w_.line(cat("    ", mk ? cat("if (", maskText(mk, {"i0", "i1 + e"}), ") ") : std::string(), "p[e] = q[e];"));
    w_.line("}");
    w_.dedent();
    w_.line("}");
    w_.dedent();
    w_.line("}");
    w_.dedent();
    w_.line("}");
    w_.line("__syncthreads();  // the staging area (scratch) is free again");
    w_.dedent();
    w_.line("}");
    return true;
  }

  /// The row layout of an [M, 1] register tile, or null.
  const RowLayout *rowOf(TileType t, bool anySpace = false) const {
    if ((!anySpace && t.getMemorySpace() == MemorySpace::smem) || t.getRank() != 2 || t.getShape()[1] != 1)
      return nullptr;
    auto it = rows_.find(t.getShape()[0]);
    return it == rows_.end() ? nullptr : &it->second;
  }

  /// mma into a fragment-layout result: operands from shared memory, the
  /// accumulator in registers.
  LogicalResult emitFragmentMma(MmaOp op, const Frag &f) {
    TileType a = op.getA().getType(), b = op.getB().getType(), dst = op.getResult().getType();
    bool ta = op.getTransposeA(), tb = op.getTransposeB();
    int64_t m = f.m, n = f.n;
    int64_t k = ta ? a.getShape()[0] : a.getShape()[1];
    // spak-bf16-operands: bf16 operands (a matmul's both; under schedule 8 an attention loop tile beside an f32
    // operand, which the tensor cores round to bf16 like any other).
    bool bf16In = a.getElementType().isBF16() || b.getElementType().isBF16();
    bool tensorCores = tensorCoreMma(op);
    bool inPlace = op == wgmmaPipe_;  // accumulates into the loop-carried tile itself
    std::string res = inPlace ? (names_[op.getResult()] = expr(op.getAcc())) : defineTile(op.getResult());
    w_.line(cat("// ", res, " = ", ta ? "a^T" : "a", " * ", tb ? "b^T" : "b", " + acc  (", shapeText(dst.getShape()),
                ", k = ", k, "), fragment layout: warps ", f.wm, " x ", f.wn, ", each ", m / f.wm, " x ", n / f.wn,
                (!tensorCores ? " on CUDA cores (fp32, register-blocked, k in order)"
                 : wgmmaMma(op) ? " on tensor cores (bf16 wgmma.mma_async, fp32 accumulation)"
                                : " on tensor cores (bf16 mma.sync.m16n8k16, fp32 accumulation)"),
                "; ", mmaBitsNote_, "; ", mmaScheduleNote_));
    if (bf16In && !tensorCores)
      return op.emitOpError("bf16 operands need the tensor-core path (mma_bits = 16, k a multiple of 16)");
    if (mmaBits_ == 16 && !tensorCores)
      w_.line(cat("// (mma_bits = 16 asks for tensor cores, but k = ", k,
                  " is not a multiple of 16 or the types are not f32: exact fp32 instead)"));
    const Frag *fa = fragOf(a);
    bool regA = registerA(op);
    if (regA)
      w_.line(cat("// a is a ", shapeText(a.getShape()), " fragment-layout tile whose rows this warp owns: its operand "
                  "registers are its accumulator registers, re-packed to bf16 (no shared memory)"));
    w_.line("{");
    w_.indent();
    bool stagedA = false, stagedB = false;
    std::string pa = regA ? expr(op.getA()) : shareOperand(op, op.getA(), 0, stagedA, "mma_a");
    std::string pb = shareOperand(op, op.getB(), stagedA ? stagedOperandBytes(op, op.getA()) : 0, stagedB, "mma_b");
    if (stagedA || stagedB)
      w_.line("__syncthreads();");
    int64_t pitchA = pitchOf(pa, ta ? m : k), pitchB = pitchOf(pb, tb ? k : n);
    // The accumulator: same shape, so the same layout; copied slot by slot.
    if (!inPlace) {
      openElementLoop(dst, false);
      w_.line(cat(elemOf(res, dst), " = ", elem(op.getAcc()), ";"));
      closeElementLoop();
    }
    auto wa = wgmmaPitch_.find(pa), wb = wgmmaPitch_.find(pb);
    auto qa = tmaTiles_.find(pa), qb = tmaTiles_.find(pb);
    bool wgA = wa != wgmmaPitch_.end() || qa != tmaTiles_.end(), wgB = wb != wgmmaPitch_.end() || qb != tmaTiles_.end();
    if (wgA != wgB || (qa == tmaTiles_.end()) != (qb == tmaTiles_.end()))
      return op.emitOpError("cuda emitter: the two operands of this mma are in different wgmma layouts");
    if (wgA) {
      if (stagedA || stagedB || !tensorCores || f.wn != 1 || f.mi != 1 || f.wm != warps_)
        return op.emitOpError("cuda emitter: a wgmma operand pair needs the warpgroup accumulator layout");
      std::string offA, offB, swzA, swzB;
      int64_t lboA, sboA, lboB, sboB;
      if (qa != tmaTiles_.end()) {
        // Schedule 9 (bench/gpu/tma_probe.cu checks these conventions on the GPU): swizzled TMA boxes of R rows x E
        // elements, W = 2 E bytes a row. K-major operands (a [m, k], b^T [n, k]) start at box k0 / E, byte
        // 2 (k0 % E) of the row; SBO = 8 W (the next 8 rows), LBO unused (16). MN-major ones (a^T [k, m], b [k, n])
        // start at row k0; LBO = R W (the next box: E more m / n), SBO = 8 W (the next 8 k).
        const TmaTile &A = qa->second, &B = qb->second;
        offA = ta ? cat("wg * ", 64 * A.rows, " + k0 * ", A.box)
                  : cat("wg * ", 64 * A.box, " + (k0 / ", A.box, ") * ", A.rows * A.box, " + k0 % ", A.box);
        lboA = ta ? A.rows * A.box * 2 : 16;
        sboA = 16 * A.box;
        offB = tb ? cat("(k0 / ", B.box, ") * ", B.rows * B.box, " + k0 % ", B.box) : cat("k0 * ", B.box);
        lboB = tb ? 16 : B.rows * B.box * 2;
        sboB = 16 * B.box;
        swzA = cat(", ", 2 * A.box);
        swzB = cat(", ", 2 * B.box);
      } else {
        // Schedule 6 (bench/gpu/wgmma_probe.cu checks these conventions on the GPU): K-major operands (a [m, k], b^T
        // [n, k]) step 8 k by LBO = the bytes between 8-column blocks and 8 rows by SBO = 128; MN-major ones (a^T
        // [k, m], b [k, n]) step 8 k by LBO = 128 and 8 m / n by SBO = the block stride. Warpgroup wg takes a's rows
        // 64 wg .. 64 wg + 63.
        int64_t pa8 = wa->second, pb8 = wb->second;  // elements between 8-column blocks
        offA = ta ? cat("wg * ", 8 * pa8, " + 8 * k0") : cat("wg * 512 + k0 * ", pa8 / 8);
        lboA = ta ? 128 : pa8 * 2;
        sboA = ta ? pa8 * 2 : 128;
        offB = tb ? cat("k0 * ", pb8 / 8) : std::string("8 * k0");
        lboB = tb ? pb8 * 2 : 128;
        sboB = tb ? 128 : pb8 * 2;
      }
      wgmmaNs_.insert(n);
      w_.line(cat("// wgmma.mma_async.m64n", n, "k16 (sm_90a): warpgroup wg = warp / 4 computes rows 64 wg .. 64 wg + 63; "
                  "the tensor cores read a (", ta ? "M-major" : "K-major", ") and b (", tb ? "K-major" : "N-major",
                  ") from the ring slots through shared-memory descriptors; ", mmaScheduleNote_));
      w_.line("const int wg = warp >> 2;");
      w_.line(inPlace ? "spak_gen::wgmma_fence();"
                      : "spak_gen::wgmma_fence();  // the accumulator registers were written above");
      w_.line("#pragma unroll");
      w_.line(cat("for (int k0 = 0; k0 < ", k, "; k0 += 16)"));
      w_.line(cat("  spak_gen::wgmma_m64n", n, "k16<", ta ? 1 : 0, ", ", tb ? 0 : 1, ">(", res,
                  ", spak_gen::wgmma_desc(", pa, " + ", offA, ", ", lboA, ", ", sboA, swzA, "), spak_gen::wgmma_desc(",
                  pb, " + ", offB, ", ", lboB, ", ", sboB, swzB, "));"));
      w_.line("spak_gen::wgmma_commit();");
      if (inPlace) {
        w_.line("spak_gen::wgmma_wait<1>();  // the previous k-step's wgmma's are done; this k-step's stay in flight "
                "(the accumulators are touched by nothing else until the wait after the loop)");
        if (tmaRelease_)
          emitTmaRelease();
      } else {
        w_.line("spak_gen::wgmma_wait<0>();  // done: the ring slots may be refilled and the accumulators read");
        w_.line(cat("spak_gen::wgmma_fence_operands<", n / 2, ">(", res, ");"));
      }
      w_.dedent();
      w_.line("}");
      return success();
    }
    auto aAt = [&](const std::string &row, const std::string &kk) {
      return ta ? cat(pa, "[(", kk, ") * ", pitchA, " + ", row, "]") : cat(pa, "[(", row, ") * ", pitchA, " + ", kk, "]");
    };
    auto bAt = [&](const std::string &kk, const std::string &col) {
      return tb ? cat(pb, "[(", col, ") * ", pitchB, " + ", kk, "]") : cat(pb, "[(", kk, ") * ", pitchB, " + ", col, "]");
    };
    // One operand register: elements k and k + 1 of a row of a (a column of b), as bf16. From a bf16 shared tile a
    // single 4-byte read where the two are adjacent (a row-major, b^T), else two 2-byte reads; from f32, rounded here.
    bool bfA = bf16_.count(pa) > 0, bfB = bf16_.count(pb) > 0;
    auto pairA = [&](const std::string &row, const std::string &kk) {
      if (bfA && !ta)
        return cat("spak_gen::ld_bf16x2(&", aAt(row, kk), ")");
      if (bfA)
        return cat("spak_gen::pair_bf16(", aAt(row, kk), ", ", aAt(row, kk + " + 1"), ")");
      if (ringTiles_.count(pa) && !ta)
        return cat("spak_gen::ld_pack_bf16(&", aAt(row, kk), ")");
      return cat("spak_gen::pack_bf16(", aAt(row, kk), ", ", aAt(row, kk + " + 1"), ")");
    };
    auto pairB = [&](const std::string &kk, const std::string &col) {
      if (bfB && tb)
        return cat("spak_gen::ld_bf16x2(&", bAt(kk, col), ")");
      if (bfB)
        return cat("spak_gen::pair_bf16(", bAt(kk, col), ", ", bAt(kk + " + 1", col), ")");
      if (ringTiles_.count(pb) && tb)
        return cat("spak_gen::ld_pack_bf16(&", bAt(kk, col), ")");
      return cat("spak_gen::pack_bf16(", bAt(kk, col), ", ", bAt(kk + " + 1", col), ")");
    };
    w_.line(cat("const int wrow = (warp / ", f.wn, ") * ", m / f.wm, " + (lane >> 2);  // this lane's first row"));
    w_.line(cat("const int wcol = (warp % ", f.wn, ") * ", n / f.wn, ";  // this warp's first column"));
    w_.line("const int quad = lane & 3;");
    // Schedule 5: bf16 shared operands (rows 16-byte aligned) are read with ldmatrix, four 8 x 8 blocks per
    // instruction (.trans where the tile's rows run along k for b, along m for a^T).
    auto ldmatrixOk = [&](const std::string &p, int64_t pitch) {
      return mmaSchedule_ >= 5 && bf16_.count(p) && pitch % 8 == 0;
    };
    bool ldA = !regA && ldmatrixOk(pa, pitchA), ldB = ldmatrixOk(pb, pitchB);
    if (ldA || ldB)
      w_.line(cat("// operands by ldmatrix (", ldA ? (ta ? "a: .trans" : "a") : "", ldA && ldB ? ", " : "",
                  ldB ? (tb ? "b" : "b: .trans") : "", "); ", mmaScheduleNote_));
    if (tensorCores) {
      // Operand fragments of the 16-wide k blocks. Schedule 5 double-buffers them: block k0 + 16 is read (ldmatrix)
      // while the mma's of block k0 run, so a warp does not wait on shared memory between them.
      bool dbl = mmaSchedule_ >= 5 && k > 16;
      auto fa_ = [&](const std::string &b) { return dbl ? cat("fa[", b, "]") : std::string("fa"); };
      auto fb_ = [&](const std::string &b) { return dbl ? cat("fb[", b, "]") : std::string("fb"); };
      // The fragments of k block `kv` (an expression) into buffer `b`.
      auto loadFragments = [&](const std::string &b, const std::string &kv) {
        std::string FA = fa_(b), FB = fb_(b);
        w_.line("#pragma unroll");
        w_.line(cat("for (int mi = 0; mi < ", f.mi, "; ++mi) {"));
        w_.indent();
        if (ldA) {
          // lane l addresses row l % 8 of block l / 8: blocks (rows 0-7 | 8-15) x (k 0-7 | 8-15) = a0..a3
          if (!ta)
            w_.line(cat("spak_gen::ldmatrix<4, false>(", FA, "[mi], &", pa,
                        "[(wrow0 + mi * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * ", pitchA, " + ", kv,
                        " + (lane >> 4) * 8]);"));
          else
            w_.line(cat("spak_gen::ldmatrix<4, true>(", FA, "[mi], &", pa, "[(", kv, " + (lane >> 4) * 8 + (lane & 7)) * ",
                        pitchA, " + wrow0 + mi * 16 + ((lane >> 3) & 1) * 8]);"));
        } else if (regA) {  // k block kv / 16 = accumulator blocks 2 (kv / 16) and 2 (kv / 16) + 1 of a's rows
          std::string blk = cat("(mi * ", fa->ni, " + ((", kv, ") >> 3)) * 4");
          std::string blk1 = cat("(mi * ", fa->ni, " + ((", kv, ") >> 3) + 1) * 4");
          // Register j of the fragment: slots (first, first + 1) of the accumulator layout. Packed once after its
          // load (pair p is slots 2p, 2p + 1), else rounded here (f32) or paired (bf16 bits).
          bool packed = packedA(op.getA());
          std::string pair = a.getElementType().isBF16() ? "spak_gen::pair_bf16(" : "spak_gen::pack_bf16(";
          for (int j = 0; j < 4; ++j) {
            const std::string &b = j < 2 ? blk : blk1;
            std::string lo = j % 2 ? " + 2" : "", hi = j % 2 ? " + 3" : " + 1";
            w_.line(packed ? cat(FA, "[mi][", j, "] = ", pa, "_bf16[(", b, ") / 2", j % 2 ? " + 1" : "", "];")
                           : cat(FA, "[mi][", j, "] = ", pair, pa, "[", b, lo, "], ", pa, "[", b, hi, "]);"));
          }
        } else {
          w_.line(cat("const int r0 = wrow + mi * 16, r1 = r0 + 8, c0 = ", kv, " + 2 * quad, c1 = c0 + 8;"));
          w_.line(cat(FA, "[mi][0] = ", pairA("r0", "c0"), ";"));
          w_.line(cat(FA, "[mi][1] = ", pairA("r1", "c0"), ";"));
          w_.line(cat(FA, "[mi][2] = ", pairA("r0", "c1"), ";"));
          w_.line(cat(FA, "[mi][3] = ", pairA("r1", "c1"), ";"));
        }
        w_.dedent();
        w_.line("}");
        if (ldB) {
          // two 8-column blocks per instruction: (block ni | ni + 1) x (k 0-7 | 8-15) = fb[ni][0..1], fb[ni + 1][0..1]
          std::string addr4 = tb ? cat("&", pb, "[(wcol + (ni + (lane >> 4)) * 8 + (lane & 7)) * ", pitchB, " + ", kv,
                                       " + ((lane >> 3) & 1) * 8]")
                                 : cat("&", pb, "[(", kv, " + ((lane >> 3) & 1) * 8 + (lane & 7)) * ", pitchB,
                                       " + wcol + (ni + (lane >> 4)) * 8]");
          w_.line("#pragma unroll");
          w_.line(cat("for (int ni = 0; ni + 1 < ", f.ni, "; ni += 2)"));
          w_.line(cat("  spak_gen::ldmatrix<4, ", tb ? "false" : "true", ">(&", FB, "[ni][0], ", addr4, ");"));
          if (f.ni % 2) {
            std::string last = std::to_string(f.ni - 1);
            std::string addr2 = tb ? cat("&", pb, "[(wcol + ", last, " * 8 + (lane & 7)) * ", pitchB, " + ", kv,
                                         " + ((lane >> 3) & 1) * 8]")
                                   : cat("&", pb, "[(", kv, " + ((lane >> 3) & 1) * 8 + (lane & 7)) * ", pitchB,
                                         " + wcol + ", last, " * 8]");
            w_.line(cat("spak_gen::ldmatrix<2, ", tb ? "false" : "true", ">(", FB, "[", last, "], ", addr2,
                        ");  // the odd last block"));
          }
        } else {
          w_.line("#pragma unroll");
          w_.line(cat("for (int ni = 0; ni < ", f.ni, "; ++ni) {"));
          w_.indent();
          w_.line(cat("const int col = wcol + ni * 8 + (lane >> 2), k1 = ", kv, " + 2 * quad, k2 = k1 + 8;"));
          w_.line(cat(FB, "[ni][0] = ", pairB("k1", "col"), ";"));
          w_.line(cat(FB, "[ni][1] = ", pairB("k2", "col"), ";"));
          w_.dedent();
          w_.line("}");
        }
      };
      w_.line(cat("const int wrow0 = (warp / ", f.wn, ") * ", m / f.wm, ";  // this warp's first row"));
      if (dbl) {
        w_.line(cat("uint32_t fa[2][", f.mi, "][4], fb[2][", f.ni,
                    "][2];  // two k blocks of operand fragments: this one and the next"));
        loadFragments("0", "0");
      }
      w_.line("#pragma unroll");
      w_.line(cat("for (int k0 = 0; k0 < ", k, "; k0 += 16) {"));
      w_.indent();
      if (dbl) {
        w_.line("const int kb = (k0 >> 4) & 1;  // this k block's fragment buffer (a constant once unrolled)");
        w_.line(cat("if (k0 + 16 < ", k, ") {  // the next k block's fragments, read during this block's mma's"));
        w_.indent();
        loadFragments("kb ^ 1", "k0 + 16");
        w_.dedent();
        w_.line("}");
      } else {
        w_.line(cat("uint32_t fa[", f.mi, "][4], fb[", f.ni, "][2];"));
        loadFragments("", "k0");
      }
      w_.line("#pragma unroll");
      w_.line(cat("for (int mi = 0; mi < ", f.mi, "; ++mi)"));
      w_.line("#pragma unroll");
      w_.line(cat("  for (int ni = 0; ni < ", f.ni, "; ++ni) spak_gen::mma_bf16_16816(&", res, "[(mi * ", f.ni,
                  " + ni) * 4], ", fa_("kb"), "[mi], ", fb_("kb"), "[ni]);"));
      w_.dedent();
      w_.line("}");
    } else {
      w_.line("#pragma unroll 2");
      w_.line(cat("for (int kk = 0; kk < ", k, "; ++kk) {"));
      w_.indent();
      w_.line(cat("float ra[", f.mi, "][2], rb[", f.ni, "][2];"));
      w_.line("#pragma unroll");
      w_.line(cat("for (int mi = 0; mi < ", f.mi, "; ++mi) {"));
      w_.line(cat("  ra[mi][0] = ", aAt("wrow + mi * 16", "kk"), ";"));
      w_.line(cat("  ra[mi][1] = ", aAt("wrow + mi * 16 + 8", "kk"), ";"));
      w_.line("}");
      w_.line("#pragma unroll");
      w_.line(cat("for (int ni = 0; ni < ", f.ni, "; ++ni) {"));
      w_.line(cat("  rb[ni][0] = ", bAt("kk", "wcol + ni * 8 + 2 * quad"), ";"));
      w_.line(cat("  rb[ni][1] = ", bAt("kk", "wcol + ni * 8 + 2 * quad + 1"), ";"));
      w_.line("}");
      w_.line("#pragma unroll");
      w_.line(cat("for (int mi = 0; mi < ", f.mi, "; ++mi)"));
      w_.line("#pragma unroll");
      w_.line(cat("  for (int ni = 0; ni < ", f.ni, "; ++ni)"));
      w_.line("#pragma unroll");
      w_.line("    for (int r = 0; r < 4; ++r)");
      w_.line(cat("      ", res, "[(mi * ", f.ni, " + ni) * 4 + r] += ra[mi][r >> 1] * rb[ni][r & 1];"));
      w_.dedent();
      w_.line("}");
    }
    if (stagedA || stagedB)
      w_.line("__syncthreads();  // scratch free again");
    w_.dedent();
    w_.line("}");
    return success();
  }

  /// `const int i0 = ..., i1 = ...;` decomposing linear `var` over `shape`,
  /// declaring only the dims marked in `used`; empty when none is used.
  static std::string indexDecl(ArrayRef<int64_t> shape, llvm::StringRef var, llvm::StringRef prefix,
                               ArrayRef<bool> used) {
    int64_t inner = 1;
    SmallVector<std::string> parts(shape.size());
    for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
      std::string q = inner == 1 ? var.str() : cat("(", var, " / ", inner, ")");
      parts[d] = d == 0 ? cat(prefix, d, " = ", q) : cat(prefix, d, " = ", q, " % ", shape[d]);
      inner *= shape[d];
    }
    SmallVector<std::string> kept;
    for (size_t d = 0; d < shape.size(); ++d)
      if (used[d])
        kept.push_back(parts[d]);
    return kept.empty() ? std::string() : "const int " + llvm::join(kept, ", ") + ";";
  }

  /// The most scratch any cross-thread op of this kernel needs.
  void planScratch() {
    kernel_.walk([&](Operation *op) {
      int64_t need = 0;
      auto staged = [&](Value v) { return inSmem(v.getType()) ? 0 : align16(tileBytes(cast<TileType>(v.getType()))); };
      if (auto r = dyn_cast<ReduceOp>(op))
        need = quadReduce(r)          ? 0
               : axisZeroInThreads(r) ? nt_ * 8  // one value per thread (8 bytes: f64 too)
               : axisOneInThreads(r)  ? align16(reduceRows(r.getSource().getType()) * warps_ * 8)  // per row and warp
                                      : staged(r.getSource()) + align16(tileBytes(r.getResult().getType()));
      else if (auto b = dyn_cast<BroadcastOp>(op))
        need = isa<TileType>(b.getSource().getType()) && !rowBroadcast(b) ? staged(b.getSource()) : 0;
      else if (auto m = dyn_cast<MmaOp>(op))
        need = (registerA(m) ? 0 : stagedOperandBytes(m, m.getA())) + stagedOperandBytes(m, m.getB());
      else if (auto x = dyn_cast<ExtractOp>(op))
        need = 16;
      else if (auto st = dyn_cast<StoreOp>(op); st && stagedStore(st))
        need = stageBytes(warps_);
      scratchBytes_ = std::max(scratchBytes_, need);
    });
  }

  /// Schedule 8: a register tile that an mma on tensor cores reads from scratch is staged as bf16 (rows padded by 16
  /// bytes, read with ldmatrix): half the bytes of f32, and the tensor cores round it to bf16 anyway.
  bool stageBf16(MmaOp m) const {
    return mmaSchedule_ >= 8 && tensorCoreMma(m) && fragOf(m.getResult().getType());
  }
  /// Scratch bytes of mma operand `v` (0 for a shared tile).
  int64_t stagedOperandBytes(MmaOp m, Value v) const {
    auto t = cast<TileType>(v.getType());
    if (inSmem(t))
      return 0;
    if (stageBf16(m) && t.getElementType().isF32())
      return align16(t.getShape()[0] * (t.getShape()[1] + kSmemRowPadBf16) * 2);
    return align16(tileBytes(t));
  }
  /// shareTile for operand `v` of `m`: under stageBf16, an f32 register tile is written as bf16 bits with padded
  /// rows (registered as a bf16 shared tile, so the mma reads it like one).
  std::string shareOperand(MmaOp m, Value v, int64_t offset, bool &staged, llvm::StringRef hint) {
    auto t = cast<TileType>(v.getType());
    if (inSmem(t) || !stageBf16(m) || !t.getElementType().isF32())
      return shareTile(v, offset, staged, hint);
    staged = true;
    std::string p = fresh(hint);
    int64_t cols = t.getShape()[1], pitch = cols + kSmemRowPadBf16;
    w_.line(cat("uint16_t* ", p, " = reinterpret_cast<uint16_t*>(spak_smem + ", offset, ");  // ", expr(v),
                " shared through scratch as bf16 (tensor-core operand; ", mmaScheduleNote_, "), rows ", pitch,
                " apart"));
    pitch_[p] = {cols, pitch};
    bf16_.insert(p);
    openElementLoop(t, false);
    w_.line(cat(p, "[e + (e / ", cols, ") * ", pitch - cols, "] = spak_gen::bf16_bits(", elem(v), ");"));
    closeElementLoop();
    return p;
  }

  /// Makes tile `v` readable by every thread: a shared tile is used in place,
  /// a register tile is copied to scratch at `offset`. Returns the pointer
  /// name and sets `staged` when a barrier is needed before reading.
  std::string shareTile(Value v, int64_t offset, bool &staged, llvm::StringRef hint) {
    auto t = cast<TileType>(v.getType());
    if (t.getMemorySpace() == MemorySpace::smem)
      return expr(v);
    staged = true;
    std::string elt = *cxxScalarType(t.getElementType());
    std::string p = fresh(hint);
    w_.line(cat(elt, "* ", p, " = reinterpret_cast<", elt, "*>(spak_smem + ", offset, ");  // ", expr(v),
                " shared through scratch"));
    openElementLoop(t, false);
    w_.line(cat(p, "[e] = ", elem(v), ";"));
    closeElementLoop();
    return p;
  }

  /// The identity of a sum / max reduction of `elt` values.
  static std::string reduceInit(Type elt, bool sum) {
    if (!sum)
      return lowestText(elt);
    return isa<FloatType>(elt) ? floatLiteral(0.0, elt) : std::string("0");
  }
  /// `acc` combined with `x` (statement).
  static std::string reduceStep(bool sum, llvm::StringRef acc, const std::string &x) {
    return sum ? cat(acc, " += ", x, ";") : cat(acc, " = spak_gen::max_of(", acc, ", ", x, ");");
  }

  /// After the barrier that follows the partials' writes: element e of the reduce result `n` (type `dst`) combines
  /// `count` partials from scratch, `first` then `ith` (an expression of e and i) for i = 1 .. count - 1, in that
  /// order (deterministic); then the barrier that frees the scratch.
  void combinePartials(const std::string &n, TileType dst, const std::string &elt, bool sum, int64_t count,
                       const std::string &first, const std::string &ith) {
    openElementLoop(dst, false);
    w_.line(cat(elt, " c = ", first, ";"));
    w_.line("#pragma unroll");
    w_.line(cat("for (int i = 1; i < ", count, "; ++i) ", reduceStep(sum, "c", ith)));
    w_.line(cat(elemOf(n, dst), " = c;"));
    closeElementLoop();
    w_.line("__syncthreads();  // scratch free again");
  }

  /// A reduce over axis 0 of a rank-2 register tile in the linear layout (element e = tid + threads * s) whose
  /// column count divides the threads: every slot of a thread is in its one column.
  bool axisZeroInThreads(ReduceOp op) const {
    TileType src = op.getSource().getType();
    if (op.getAxis() != 0 || src.getRank() != 2 || inSmem(src) || fragOf(src) || rowOf(src))
      return false;
    int64_t rows = src.getShape()[0], cols = src.getShape()[1];
    return cols > 0 && nt_ % cols == 0 && (rows * cols) % nt_ == 0;
  }

  /// A reduce over the last axis of a rank-2 (axis 1) or rank-1 (axis 0: one row) register tile in the linear
  /// layout whose row length is a multiple of the threads: each row is `cols / threads` consecutive slots of every
  /// thread (row-wise kernels: norms, softmax, cross-entropy chunks; the gradient norm's sums of squares).
  bool axisOneInThreads(ReduceOp op) const {
    TileType src = op.getSource().getType();
    if (op.getAxis() + 1 != src.getRank() || src.getRank() > 2 || inSmem(src) || fragOf(src) || rowOf(src))
      return false;
    int64_t cols = src.getShape().back();
    return cols >= nt_ && cols % nt_ == 0;
  }
  /// Rows of such a reduce (1 for rank 1).
  static int64_t reduceRows(TileType src) { return src.getRank() == 2 ? src.getShape()[0] : 1; }

  LogicalResult emitReduce(ReduceOp op) {
    TileType src = op.getSource().getType(), dst = op.getResult().getType();
    unsigned axis = op.getAxis();
    bool sum = op.getKind() == ReduceKind::sum;
    std::string elt = *cxxScalarType(dst.getElementType());
    if (const Frag *f = fragOf(src))
      if (const RowLayout *r = rowOf(dst))
        if (quadReduce(op)) {
          std::string n = defineTile(op.getResult());
          std::string in = expr(op.getSource());
          // Four partial accumulators (partial 2 (ni % 2) + e takes element e of the lane's column pair in the
          // 8-column blocks of parity ni % 2), combined pairwise: the dependent chain is ni / 2 + 2 steps instead of
          // 2 * ni (a 128-wide attention score row: 10 instead of 32; ncu: attention's warps stall on dependencies).
          w_.line(cat("// ", n, " = ", sum ? "sum" : "max", " of ", in, " over axis ", axis, " (", shapeText(src.getShape()), " -> ",
                      shapeText(dst.getShape()), "): in registers, each lane combines its columns in 4 partials "
                      "(pairwise at the end), then the 4 lanes of its quad (shuffles)"));
          std::string init = reduceInit(dst.getElementType(), sum);
          auto comb = [&](const std::string &x) { return reduceStep(sum, "a", x); };
          w_.line("#pragma unroll");
          w_.line(cat("for (int s = 0; s < ", 2 * r->mi, "; ++s) {"));
          w_.indent();
          w_.line(cat(elt, " p[4] = {", init, ", ", init, ", ", init, ", ", init, "};"));
          w_.line("#pragma unroll");
          w_.line(cat("for (int ni = 0; ni < ", f->ni, "; ++ni) {"));
          w_.line(cat("  ", reduceStep(sum, "p[(ni & 1) * 2]", cat(in, "[((s >> 1) * ", f->ni, " + ni) * 4 + (s & 1) * 2]"))));
          w_.line(cat("  ", reduceStep(sum, "p[(ni & 1) * 2 + 1]", cat(in, "[((s >> 1) * ", f->ni, " + ni) * 4 + (s & 1) * 2 + 1]"))));
          w_.line("}");
          w_.line(cat(elt, " a = p[0];"));
          w_.line(reduceStep(sum, "a", "p[1]"));
          w_.line(reduceStep(sum, "p[2]", "p[3]"));
          w_.line(reduceStep(sum, "a", "p[2]"));
          w_.line(comb("__shfl_xor_sync(0xffffffffu, a, 1)"));
          w_.line(comb("__shfl_xor_sync(0xffffffffu, a, 2)"));
          w_.line(cat(n, "[s] = a;"));
          w_.dedent();
          w_.line("}");
          return success();
        }
    if (repOf(src) && repOf(dst)) {
      // Replicated in, replicated out: every thread combines the elements itself, in index order.
      std::string n = defineTile(op.getResult());
      std::string in = expr(op.getSource());
      int64_t extent = src.getShape()[axis], stride = 1;
      for (unsigned d = axis + 1; d < src.getRank(); ++d)
        stride *= src.getShape()[d];
      w_.line(cat("// ", n, " = ", sum ? "sum" : "max", " of ", in, " over axis ", axis, " (", shapeText(src.getShape()),
                  " -> ", shapeText(dst.getShape()), "): replicated, each thread combines them itself"));
      w_.line("#pragma unroll");
      w_.line(cat("for (int o = 0; o < ", numElements(dst), "; ++o) {"));
      w_.indent();
      // o -> the source index of its first element: (o / stride) * extent * stride + o % stride
      w_.line(cat("const int base = (o / ", stride, ") * ", extent * stride, " + o % ", stride, ";"));
      w_.line(cat(elt, " a = ", in, "[base];"));
      w_.line("#pragma unroll");
      w_.line(cat("for (int r = 1; r < ", extent, "; ++r) ", reduceStep(sum, "a", cat(in, "[base + r * ", stride, "]"))));
      w_.line(cat(n, "[o] = a;"));
      w_.dedent();
      w_.line("}");
      return success();
    }
    if (axisZeroInThreads(op)) {
      // A register tile in the linear layout whose width divides the CTA: thread tid holds column tid % cols in every
      // slot, so it sums its own slots; the threads / cols threads of a column then combine through scratch (none
      // when the tile is as wide as the CTA). The column sums' accumulators end this way (ColumnSum.h).
      int64_t cols = src.getShape()[1], groups = nt_ / cols;
      std::string n = defineTile(op.getResult());
      std::string in = expr(op.getSource());
      std::string init = reduceInit(dst.getElementType(), sum);
      auto comb = [&](const std::string &x) { return reduceStep(sum, "a", x); };
      w_.line(cat("// ", n, " = ", sum ? "sum" : "max", " of ", in, " over axis 0 (", shapeText(src.getShape()), " -> ",
                  shapeText(dst.getShape()), "): each thread combines its ", slots(src), " slots (rows of its column)",
                  groups > 1 ? cat(", then the ", groups, " threads of a column through scratch") : std::string()));
      w_.line("{");
      w_.indent();
      w_.line(cat(elt, " a = ", init, ";"));
      w_.line("#pragma unroll");
      w_.line(cat("for (int s = 0; s < ", slots(src), "; ++s) ", comb(cat(in, "[s]"))));
      if (groups == 1) {
        openElementLoop(dst, false);
        w_.line(cat(elemOf(n, dst), " = a;"));
        closeElementLoop();
      } else {
        w_.line(cat(elt, "* red = reinterpret_cast<", elt, "*>(spak_smem + 0);"));
        w_.line("red[tid] = a;");
        w_.line("__syncthreads();");
        combinePartials(n, dst, elt, sum, groups, "red[e]", cat("red[e + i * ", cols, "]"));
      }
      w_.dedent();
      w_.line("}");
      return success();
    }
    if (axisOneInThreads(op)) {
      // Row r of the source is slots [r * per, (r + 1) * per) of every thread: a thread combines its slots of the
      // row, the lanes of a warp shuffle, and the warps' partials meet in scratch, in warp order (deterministic).
      int64_t rows = reduceRows(src), per = src.getShape().back() / nt_;
      std::string n = defineTile(op.getResult());
      std::string in = expr(op.getSource());
      std::string init = reduceInit(dst.getElementType(), sum);
      auto comb = [&](const std::string &x) { return reduceStep(sum, "a", x); };
      w_.line(cat("// ", n, " = ", sum ? "sum" : "max", " of ", in, " over axis ", axis, " (", shapeText(src.getShape()), " -> ",
                  shapeText(dst.getShape()), "): each thread combines its ", per, " slot(s) of a row, the lanes of a "
                  "warp shuffle, then the ", warps_, " warps' partials through scratch"));
      w_.line("{");
      w_.indent();
      w_.line(cat(elt, "* red = reinterpret_cast<", elt, "*>(spak_smem + 0);"));
      w_.line("#pragma unroll");
      w_.line(cat("for (int r = 0; r < ", rows, "; ++r) {"));
      w_.indent();
      w_.line(cat(elt, " a = ", init, ";"));
      w_.line("#pragma unroll");
      w_.line(cat("for (int j = 0; j < ", per, "; ++j) ", comb(cat(in, "[r * ", per, " + j]"))));
      w_.line(cat("a = spak_gen::warp_", sum ? "sum" : "max", "(a);"));
      w_.line(cat("if (lane == 0) red[r * ", warps_, " + warp] = a;"));
      w_.dedent();
      w_.line("}");
      w_.line("__syncthreads();");
      combinePartials(n, dst, elt, sum, warps_, cat("red[e * ", warps_, "]"), cat("red[e * ", warps_, " + i]"));
      w_.dedent();
      w_.line("}");
      return success();
    }
    std::string n = defineTile(op.getResult());
    w_.line(cat("// ", n, " = ", sum ? "sum" : "max", " of ", expr(op.getSource()), " over axis ", axis, " (",
                shapeText(src.getShape()), " -> ", shapeText(dst.getShape()),
                "): one warp per output element, lanes stride the axis, shuffles combine"));
    w_.line("{");
    w_.indent();
    bool staged = false;
    std::string in = shareTile(op.getSource(), 0, staged, "red_in");
    int64_t outOff = inSmem(src) ? 0 : align16(tileBytes(src));
    w_.line(cat(elt, "* red_out = reinterpret_cast<", elt, "*>(spak_smem + ", outOff, ");"));
    if (staged)
      w_.line("__syncthreads();");
    int64_t outN = numElements(dst);
    int64_t stride = 1;
    for (unsigned d = axis + 1; d < src.getRank(); ++d)
      stride *= src.getShape()[d];
    w_.line(cat("for (int o = warp; o < ", outN, "; o += ", warps_, ") {"));
    w_.indent();
    {
      SmallVector<bool> used;
      for (unsigned d = 0; d < dst.getRank(); ++d)
        used.push_back(d != axis);
      std::string decl = indexDecl(dst.getShape(), "o", "o", used);
      if (!decl.empty())
        w_.line(decl);
    }
    SmallVector<std::string> idx;
    for (unsigned d = 0; d < src.getRank(); ++d)
      idx.push_back(d == axis ? std::string("0") : cat("o", d));
    w_.line(cat("const int base = ", linearIndex(src.getShape(), idx), ";"));
    w_.line(cat(elt, " a = ", reduceInit(dst.getElementType(), sum), ";"));
    std::string v = cat(in, "[base + r", stride == 1 ? "" : cat(" * ", stride), "]");
    w_.line(cat("for (int r = lane; r < ", src.getShape()[axis], "; r += 32) ", reduceStep(sum, "a", v)));
    w_.line(cat("a = spak_gen::warp_", sum ? "sum" : "max", "(a);"));
    w_.line("if (lane == 0) red_out[o] = a;");
    w_.dedent();
    w_.line("}");
    w_.line("__syncthreads();");
    beforeTileWrite(dst);
    openElementLoop(dst, false);
    w_.line(cat(elemOf(n, dst), " = red_out[e];"));
    closeElementLoop();
    w_.line("__syncthreads();  // scratch free again");
    w_.dedent();
    w_.line("}");
    return success();
  }

  /// Whether broadcasting replicated `src` into `dst` indexes src by constants per slot: a scalar, a replicated
  /// destination, or a [rows, 1] source into a register tile whose rows are whole slots (row i0 = s / per: the
  /// linear and vector layouts with rows a multiple of the CTA).
  bool repBroadcastLocal(TileType src, TileType dst) const {
    if (numElements(src) == 1 || repOf(dst))
      return true;
    if (inSmem(dst) || fragOf(dst) || rowOf(dst) || dst.getRank() != 2 || src.getRank() != 2 || src.getShape()[1] != 1)
      return false;
    return dst.getShape()[1] % nt_ == 0;
  }

  LogicalResult emitBroadcast(BroadcastOp op) {
    auto src = cast<TileType>(op.getSource().getType());
    TileType dst = op.getResult().getType();
    if (rowOf(src))
      if (const Frag *f = fragOf(dst))
        if (rowBroadcast(op)) {
          std::string n = defineTile(op.getResult());
          std::string in = expr(op.getSource());
          w_.line(cat("// ", n, " = ", in, " along the rows (", shapeText(src.getShape()), " -> ", shapeText(dst.getShape()),
                      "): the lane already holds its rows"));
          w_.line("#pragma unroll");
          w_.line(cat("for (int s = 0; s < ", slots(dst), "; ++s) ", n, "[s] = ", in, "[((s >> 2) / ", f->ni,
                      ") * 2 + ((s >> 1) & 1)];"));
          return success();
        }
    if (repOf(src) && repBroadcastLocal(src, dst)) {
      // A replicated source: every thread reads its registers (the index is a constant per slot once unrolled).
      std::string n = defineTile(op.getResult());
      std::string in = expr(op.getSource());
      beforeTileWrite(dst);
      openElementLoop(dst, true);
      SmallVector<std::string> idx;
      for (unsigned d = 0; d < src.getRank(); ++d)
        idx.push_back(src.getShape()[d] == 1 ? std::string("0") : cat("i", d));
      w_.line(cat(elemOf(n, dst), " = ", in, "[", src.getRank() ? linearIndex(src.getShape(), idx) : "0",
                  "];  // replicated source"));
      closeElementLoop();
      afterTileWrite(dst);
      return success();
    }
    std::string n = defineTile(op.getResult());
    w_.line("{");
    w_.indent();
    bool staged = false;
    std::string in = shareTile(op.getSource(), 0, staged, "bc_in");
    if (staged)
      w_.line("__syncthreads();");
    beforeTileWrite(dst);
    openElementLoop(dst, true);
    SmallVector<std::string> idx;
    for (unsigned d = 0; d < src.getRank(); ++d)
      idx.push_back(src.getShape()[d] == 1 ? std::string("0") : cat("i", d));
    w_.line(cat(elemOf(n, dst), " = ", in, "[", src.getRank() ? linearIndex(src.getShape(), idx) : "0", "];"));
    closeElementLoop();
    afterTileWrite(dst);
    if (staged)
      w_.line("__syncthreads();  // scratch free again");
    w_.dedent();
    w_.line("}");
    return success();
  }

  LogicalResult emitMma(MmaOp op) {
    if (const Frag *f = fragOf(op.getResult().getType()))
      return emitFragmentMma(op, *f);
    TileType a = op.getA().getType(), b = op.getB().getType(), dst = op.getResult().getType();
    bool ta = op.getTransposeA(), tb = op.getTransposeB();
    int64_t k = ta ? a.getShape()[0] : a.getShape()[1];
    std::string n = defineTile(op.getResult());
    std::string elt = *cxxScalarType(dst.getElementType());
    w_.line(cat("// ", n, " = ", ta ? "a^T" : "a", " * ", tb ? "b^T" : "b", " + acc  (", shapeText(dst.getShape()),
                ", k = ", k, "): operands in shared memory, each thread computes its own outputs on CUDA cores"
                " (this shape does not split into 16 x 8 blocks over the warps)."));
    w_.line("{");
    w_.indent();
    bool stagedA = false, stagedB = false;
    std::string pa = shareTile(op.getA(), 0, stagedA, "mma_a");
    std::string pb = shareTile(op.getB(), stagedA ? align16(tileBytes(a)) : 0, stagedB, "mma_b");
    if (stagedA || stagedB)
      w_.line("__syncthreads();");
    beforeTileWrite(dst);
    openElementLoop(dst, true);
    std::string aIdx = ta ? cat("kk * ", a.getShape()[1], " + i0") : cat("i0 * ", k, " + kk");
    std::string bIdx = tb ? cat("i1 * ", k, " + kk") : cat("kk * ", b.getShape()[1], " + i1");
    w_.line(cat(elt, " sum = ", elem(op.getAcc()), ";"));
    w_.line("#pragma unroll 4");
    auto rd = [](Type t, const std::string &p, const std::string &i) {
      return t.isBF16() ? cat("spak_gen::bf16_to_f32(", p, "[", i, "])") : cat(p, "[", i, "]");
    };
    w_.line(cat("for (int kk = 0; kk < ", k, "; ++kk) sum += ", rd(a.getElementType(), pa, aIdx), " * ",
                rd(b.getElementType(), pb, bIdx), ";"));
    w_.line(cat(elemOf(n, dst), " = sum;"));
    closeElementLoop();
    afterTileWrite(dst);
    if (stagedA || stagedB)
      w_.line("__syncthreads();  // scratch free again");
    w_.dedent();
    w_.line("}");
    return success();
  }

  LogicalResult emitExtract(ExtractOp op) {
    TileType src = op.getSource().getType();
    SmallVector<std::string> idx;
    for (int64_t p : op.getPosition())
      idx.push_back(std::to_string(p));
    int64_t pos = 0;
    for (auto [d, p] : llvm::enumerate(op.getPosition()))
      pos = pos * src.getShape()[d] + p;
    std::string elt = *cxxScalarType(op.getResult().getType());
    std::string n = bindNew(op.getResult(), "x");
    if (src.getMemorySpace() == MemorySpace::smem) {
      w_.line(cat("const ", elt, " ", n, " = ", expr(op.getSource()), "[", pos, "];"));
      return success();
    }
    w_.line(cat(elt, " ", n, ";"));
    if (repOf(src)) {
      w_.line(cat(n, " = ", expr(op.getSource()), "[", pos, "];  // replicated: every thread holds it"));
      return success();
    }
    if (fragOf(src) || rowOf(src) || vecOf(src)) {
      w_.line(cat("{  // element ", pos, " of a fragment/row/vector-layout tile: its owner shares it through scratch"));
      w_.indent();
      w_.line(cat(elt, "* slot = reinterpret_cast<", elt, "*>(spak_smem);"));
      openElementLoop(src, false);
      w_.line(cat("if (e == ", pos, ") *slot = ", elemOf(expr(op.getSource()), src), ";"));
      closeElementLoop();
      w_.line("__syncthreads();");
      w_.line(cat(n, " = *slot;"));
      w_.line("__syncthreads();");
      w_.dedent();
      w_.line("}");
      return success();
    }
    w_.line("{  // element " + std::to_string(pos) + " is owned by thread " + std::to_string(pos % nt_) +
            ": share it through scratch");
    w_.indent();
    w_.line(cat(elt, "* slot = reinterpret_cast<", elt, "*>(spak_smem);"));
    w_.line(cat("if (tid == ", pos % nt_, ") *slot = ", expr(op.getSource()), "[", pos / nt_, "];"));
    w_.line("__syncthreads();");
    w_.line(cat(n, " = *slot;"));
    w_.line("__syncthreads();");
    w_.dedent();
    w_.line("}");
    return success();
  }

  int64_t warps_ = 4;
  int64_t nt_ = 128;
  int64_t vec_ = 1;       // law vec_width when the kernel has no mma's (vecOf); 1: no vector layout
  int64_t rep_ = 0;       // tiles of at most this many elements are replicated in every thread (repOf); 0: none
  std::string vecNote_;
  int64_t scratchBytes_ = 0;
  bool allowStaging_ = true, stagingOverflow_ = false;
  bool stageEpilogues_ = false;  // fragment stores to global memory go through a per-warp staging area
  int64_t tileTop_ = 0;
  int64_t tileHigh_ = 0;  // the most tileTop_ reached before a ring loop's tiles were released (schedule 7)
  int64_t ringTop_ = -1;  // tileTop_ before the current attention ring loop (schedule 7), else -1
  bool guarded_ = false;
  SmallVector<int64_t> indexShape_;
  int64_t indexPos_ = -1;
  int64_t fragEPos_ = -1;
  std::string fragEText_;
  std::array<std::string, 2> fragIdx_;  // i0 / i1 of slot s in the current fragment / row-layout loop
  std::map<std::pair<int64_t, int64_t>, Frag> frags_;
  std::map<int64_t, RowLayout> rows_;
  bool replicated_ = false;
  bool allThreads_ = false;  // the current element loop is over a replicated tile (every thread, every element)
  llvm::StringMap<std::pair<int64_t, int64_t>> pitch_;  // padded shared tile -> (columns, row pitch)
  llvm::StringSet<> bf16_;                              // shared tiles stored as bf16 bits (bf16Operand)
  struct Ring {
    std::string ring;                              // the ring's base pointer
    int64_t depth = 0, rows = 0, cols = 0, pitch = 0;
    int64_t slot = 0;                              // elements per k-tile (rows * pitch, or the wgmma blocks)
    bool bf16 = false;                             // bf16 k-tiles (spak-bf16-operands), else f32
    bool first = false;                            // the body's first ring load: waits, refills every ring
    bool wgmma = false;                            // read only by wgmma's: 8 x 8 core matrices, no padding
    bool tma = false;                              // schedule 9: filled by TMA in swizzled boxes
    int64_t box = 0;                               // TMA: elements per box row (E = swizzle / 2)
    std::string map;                               // TMA: the kernel's tensor-map parameter
  };
  /// A TMA ring slot pointer (schedule 9): R x C bf16, C / E boxes of R rows x E elements, box j at j * R * E.
  struct TmaTile {
    int64_t rows = 0, cols = 0, box = 0;
  };
  llvm::StringMap<TmaTile> tmaTiles_;
  std::vector<TmaParam> tmaParams_;
  std::string tmaBars_;                            // the ring loop's mbarriers (schedule 9), else empty
  int64_t fastExp_ = 0;                            // law fast_exp: exp of f32 tiles as __expf
  bool tmaRelease_ = false;                        // schedule 10: slots released on mbarriers, no k-loop barrier
  int64_t tmaBytes_ = 0;                           // bytes one k-step's boxes bring
  llvm::DenseMap<Operation *, Ring> rings_;
  SmallVector<LoadOp> ringOrder_;                  // the ring loads of the loop being emitted, in body order
  scf::ForOp ringLoop_;                            // that loop (null outside one)
  std::string ringStep_;                           // its k-step counter
  int64_t ringMinDepth_ = 0;
  llvm::StringSet<> ringTiles_;                    // ring slot pointers (f32, rows 8-byte aligned)
  llvm::StringMap<int64_t> wgmmaPitch_;            // ring slot pointers in the wgmma core-matrix layout -> the
                                                   // elements between their 8-column blocks
  std::set<int64_t> wgmmaNs_;                      // the n of every wgmma.m64nNk16 this kernel issues
  MmaOp wgmmaPipe_;                                // the ring loop's wgmma kept in flight across k-steps, if any
  int64_t ringLag_ = 1;                            // k-steps between a slot's last read and its refill
  int64_t mmaBits_ = 32;
  std::string mmaBitsNote_;
  int64_t mmaSchedule_ = 1;
  std::string mmaScheduleNote_;
  std::string decl_;
};

std::string cudaPrelude() {
  return R"(
#define SPAK_CUDA_CHECK(expr)                                                                   \
  do {                                                                                          \
    cudaError_t spak_err_ = (expr);                                                             \
    if (spak_err_ != cudaSuccess)                                                               \
      throw std::runtime_error(std::string("spak: CUDA error in " #expr ": ") +                 \
                               cudaGetErrorString(spak_err_));                                  \
  } while (0)

#include <map>
#if !defined(SPAK_CUDA_EMULATION)  // tests/cuda_emu/cuda_emu.h: the CPU emulator provides the bf16 types
#include <cuda_bf16.h>
#include <cuda.h>          // CUtensorMap (TMA rings, mma_schedule = 9); the driver is reached through the runtime:
#include <cudaTypedefs.h>  // no -lcuda
#endif

namespace spak_gen {

// Two floats rounded to bf16 (round to nearest even), `lo` in the low half: one mma operand register.
__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&v);
}

// One float rounded to bf16 (the same rounding as pack_bf16): its bits, for mma operands kept in shared memory.
__device__ __forceinline__ uint16_t bf16_bits(float x) { return uint16_t(pack_bf16(x, 0.0f) & 0xffffu); }
// Two bf16 values as one mma operand register, `lo` in the low half.
__device__ __forceinline__ uint32_t pair_bf16(uint16_t lo, uint16_t hi) { return uint32_t(lo) | (uint32_t(hi) << 16); }
// Two adjacent bf16 values of shared memory (4-byte aligned: an even element of an even row pitch) as one register.
__device__ __forceinline__ uint32_t ld_bf16x2(const uint16_t* p) { return *reinterpret_cast<const uint32_t*>(p); }

// d += a * b on tensor cores: one m16n8k16 block, bf16 operands (a: 4 registers, row-major 16 x 16; b: 2 registers,
// 16 x 8 column-major), fp32 accumulators d[0..3] = rows g, g + 8 x columns 2t, 2t + 1 (PTX ISA, mma.m16n8k16).
__device__ __forceinline__ void mma_bf16_16816(float* d, const uint32_t (&a)[4], const uint32_t (&b)[2]) {
#if defined(SPAK_CUDA_EMULATION)
  spak_emu::mma_bf16_16816(d, a, b);  // the CPU emulator's warp-wide mma (tests/cuda_emu/cuda_emu.h)
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  asm volatile("trap;");  // bf16 mma.sync needs sm_80+: set law mma_bits = 32 for this GPU
#else
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}

// ldmatrix (mma_schedule = 5): the warp reads N (2 or 4) 8 x 8 blocks of bf16 from shared memory; lane l gives the
// address of row l % 8 of block l / 8 (16 bytes, 16-byte aligned). Register i of lane l then holds row l / 4, columns
// 2 (l % 4) and 2 (l % 4) + 1 of block i -- the m16n8k16 operand layout; with Trans, column l / 4 and rows 2 (l % 4),
// 2 (l % 4) + 1 (a block stored with its rows along k).
template <int N, bool Trans>
__device__ __forceinline__ void ldmatrix(uint32_t* r, const uint16_t* row) {
#if defined(SPAK_CUDA_EMULATION)
  spak_emu::ldmatrix(r, row, N, Trans);  // the CPU emulator's warp-wide exchange (tests/cuda_emu/cuda_emu.h)
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  (void)r; (void)row;
  asm volatile("trap;");  // bf16 mma operands need sm_80+: set law mma_bits = 32 for this GPU
#else
  const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(row));
  if constexpr (N == 4 && !Trans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(a));
  else if constexpr (N == 4)
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(a));
  else if constexpr (!Trans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(a));
  else
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(a));
#endif
}

// wgmma (mma_schedule = 6, sm_90a; bench/gpu/wgmma_probe.cu checks the conventions on the GPU). A shared operand
// tile is described by a 64-bit descriptor: its start address, LBO (bytes to the next 8 k) and SBO (bytes to the next
// 8 rows of m / n), no swizzle: 8 x 8 core matrices of 128 contiguous bytes. Other GPUs trap (set mma_schedule <= 5).
#if defined(__CUDA_ARCH__) && !defined(__CUDA_ARCH_FEAT_SM90_ALL) && !defined(SPAK_CUDA_EMULATION)
#define SPAK_NO_WGMMA 1
#endif
// Schedule 9 (TMA rings): `swizzle` = 128, 64 or 32 bytes sets the layout type (bits 62-63: 1, 2, 3), else none.
__device__ __forceinline__ uint64_t wgmma_desc(const void* tile, uint32_t lbo, uint32_t sbo, int swizzle = 0) {
#if defined(SPAK_CUDA_EMULATION)
  const uint32_t a = spak_emu::smem_offset(tile);
#else
  const uint32_t a = static_cast<uint32_t>(__cvta_generic_to_shared(tile));
#endif
  const uint64_t type = swizzle == 128 ? 1 : swizzle == 64 ? 2 : swizzle == 32 ? 3 : 0;
  return uint64_t((a & 0x3FFFFu) >> 4) | (uint64_t((lbo >> 4) & 0x3FFFu) << 16) |
         (uint64_t((sbo >> 4) & 0x3FFFu) << 32) | (type << 62);
}

// TMA rings (mma_schedule = 9, sm_90; bench/gpu/tma_probe.cu checks the conventions on the GPU). One thread copies a
// k-tile as boxes of R rows x E elements (E = W / 2 bf16: one W-byte swizzle span) with the tensor memory
// accelerator; the copies complete on the ring slot's mbarrier, which every thread waits for. Box element (r, c) lands
// at byte r * W + 2 c with the 16-byte chunk index XORed with (r * W / 128) % (W / 16); past the tensor's bounds
// the box reads zeros. Other GPUs trap (set mma_schedule <= 8).
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 900 && !defined(SPAK_CUDA_EMULATION)
#define SPAK_NO_TMA 1
#endif
#if defined(SPAK_CUDA_EMULATION)
using TmaMap = spak_emu::TmaMap;
#else
using TmaMap = CUtensorMap;
#endif
__device__ __forceinline__ void mbar_init(uint64_t* bar, uint32_t count) {
#if defined(SPAK_CUDA_EMULATION)
  spak_emu::mbar_init(bar, count);
#elif defined(SPAK_NO_TMA)
  (void)bar; (void)count;
  asm volatile("trap;");  // TMA rings need sm_90: set law mma_schedule <= 8 for this GPU
#else
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(static_cast<uint32_t>(__cvta_generic_to_shared(bar))),
               "r"(count) : "memory");
#endif
}
// After mbar_init, before the barriers are used by other threads or the copy engine.
__device__ __forceinline__ void mbar_fence_init() {
#if !defined(SPAK_CUDA_EMULATION) && !defined(SPAK_NO_TMA)
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
#endif
}
// One arrival that also expects `bytes` more transaction bytes in this phase (the TMA copies then complete them).
__device__ __forceinline__ void mbar_expect_tx(uint64_t* bar, uint32_t bytes) {
#if defined(SPAK_CUDA_EMULATION)
  spak_emu::mbar_arrive_expect_tx(bar, bytes);
#elif !defined(SPAK_NO_TMA)
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n"
               ::"r"(static_cast<uint32_t>(__cvta_generic_to_shared(bar))), "r"(bytes) : "memory");
#endif
}
// The TMA rings' swizzles are functions of the shared address: the dynamic shared memory must start 1024-aligned.
__device__ __forceinline__ void check_smem_align1024(const unsigned char* smem) {
#if defined(SPAK_CUDA_EMULATION)
  if (spak_emu::smem_offset(smem) % 1024) spak_emu::fatal("dynamic shared memory is not 1024-byte aligned");
#elif !defined(SPAK_NO_TMA)
  if (static_cast<uint32_t>(__cvta_generic_to_shared(smem)) % 1024) asm volatile("trap;");
#endif
}
// One arrival (no transaction bytes).
__device__ __forceinline__ void mbar_arrive(uint64_t* bar) {
#if defined(SPAK_CUDA_EMULATION)
  spak_emu::mbar_arrive_expect_tx(bar, 0);
#elif !defined(SPAK_NO_TMA)
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(static_cast<uint32_t>(__cvta_generic_to_shared(bar)))
               : "memory");
#endif
}
// Returns once the phase of this parity has completed.
__device__ __forceinline__ void mbar_wait(uint64_t* bar, uint32_t parity) {
#if defined(SPAK_CUDA_EMULATION)
  spak_emu::mbar_wait(bar, parity);
#elif !defined(SPAK_NO_TMA)
  const uint32_t a = static_cast<uint32_t>(__cvta_generic_to_shared(bar));
  uint32_t done = 0;
  while (!done)
    asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
                 : "=r"(done) : "r"(a), "r"(parity) : "memory");
#endif
}
// Box (c0 = column, c1 = row) of the tensor into `dst` (shared, aligned to the swizzle's 8-row span); completes its
// bytes on `bar`.
__device__ __forceinline__ void tma_load_2d(void* dst, const TmaMap* map, int c0, int c1, uint64_t* bar) {
#if defined(SPAK_CUDA_EMULATION)
  spak_emu::tma_load_2d(dst, map, c0, c1, bar);
#elif !defined(SPAK_NO_TMA)
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n"
      ::"r"(static_cast<uint32_t>(__cvta_generic_to_shared(dst))), "l"(reinterpret_cast<uint64_t>(map)), "r"(c0),
        "r"(c1), "r"(static_cast<uint32_t>(__cvta_generic_to_shared(bar)))
      : "memory");
#endif
}

// Host: the tensor map of a row-major bf16 tensor of `rows` x `cols` elements, rows `pitch` elements apart, read in
// boxes of box_rows x box_cols with a box_cols * 2-byte swizzle. `kernel` names the launch in errors.
inline TmaMap tma_map_bf16(const void* base, uint64_t cols, uint64_t rows, uint64_t pitch, uint32_t box_cols,
                           uint32_t box_rows, const char* kernel) {
  if (reinterpret_cast<uintptr_t>(base) % 16 || (pitch * 2) % 16 || cols == 0 || rows == 0 || cols > pitch ||
      cols >= (uint64_t(1) << 32) || rows >= (uint64_t(1) << 32))
    throw std::runtime_error(std::string("spak: ") + kernel + ": a TMA operand needs a 16-byte aligned base, rows a multiple "
                             "of 16 bytes apart and 1 .. 2^32 - 1 rows and columns (mma_schedule = 9); got " +
                             std::to_string(rows) + " x " + std::to_string(cols) + ", pitch " + std::to_string(pitch));
#if defined(SPAK_CUDA_EMULATION)
  return spak_emu::tma_map_bf16(base, cols, rows, pitch, box_cols, box_rows, int(box_cols * 2));
#else
  static PFN_cuTensorMapEncodeTiled_v12000 encode = [] {
    void* fn = nullptr;
    cudaDriverEntryPointQueryResult q{};
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &q) != cudaSuccess ||
        q != cudaDriverEntryPointSuccess || !fn)
      throw std::runtime_error("spak: the CUDA driver has no cuTensorMapEncodeTiled: TMA rings (mma_schedule = 9) "
                               "need a CUDA 12+ driver");
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(fn);
  }();
  const int w = int(box_cols * 2);
  CUtensorMap m;
  cuuint64_t dims[2] = {cols, rows};
  cuuint64_t strides[1] = {pitch * 2};
  cuuint32_t box[2] = {box_cols, box_rows};
  cuuint32_t step[2] = {1, 1};
  CUresult r = encode(&m, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, const_cast<void*>(base), dims, strides, box, step,
                      CU_TENSOR_MAP_INTERLEAVE_NONE,
                      w == 128 ? CU_TENSOR_MAP_SWIZZLE_128B : w == 64 ? CU_TENSOR_MAP_SWIZZLE_64B : CU_TENSOR_MAP_SWIZZLE_32B,
                      CU_TENSOR_MAP_L2_PROMOTION_L2_128B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS)
    throw std::runtime_error(std::string("spak: ") + kernel + ": cuTensorMapEncodeTiled failed with CUresult " +
                             std::to_string(int(r)));
  return m;
#endif
}
// A launcher's tensor maps, by operand, base address and extent: each encoded once (the trainer's buffers live as
// long as the process), so a launch costs one lookup per TMA operand.
class TmaCache {
 public:
  const TmaMap& get(int operand, const void* base, uint64_t cols, uint64_t rows, uint64_t pitch, uint32_t box_cols,
                    uint32_t box_rows, const char* kernel) {
    auto key = std::make_tuple(operand, base, cols, rows);
    auto it = maps_.find(key);
    if (it == maps_.end())
      it = maps_.emplace(key, tma_map_bf16(base, cols, rows, pitch, box_cols, box_rows, kernel)).first;
    return it->second;
  }

 private:
  std::map<std::tuple<int, const void*, uint64_t, uint64_t>, TmaMap> maps_;
};
// Shared memory written by this thread (cp.async, plain stores) is read next by the tensor cores: order the two
// proxies (each writing thread, before the barrier).
__device__ __forceinline__ void fence_proxy_async() {
#if !defined(SPAK_CUDA_EMULATION) && !defined(SPAK_NO_WGMMA)
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void wgmma_fence() {
#if !defined(SPAK_CUDA_EMULATION) && !defined(SPAK_NO_WGMMA)
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void wgmma_commit() {
#if !defined(SPAK_CUDA_EMULATION) && !defined(SPAK_NO_WGMMA)
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#endif
}
template <int N>
__device__ __forceinline__ void wgmma_wait() {
#if !defined(SPAK_CUDA_EMULATION) && !defined(SPAK_NO_WGMMA)
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
#endif
}
// After wgmma_wait: the accumulators are read only from here on (the compiler may not move their reads above it).
template <int N>
__device__ __forceinline__ void wgmma_fence_operands(float* d) {
#if !defined(SPAK_CUDA_EMULATION)
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+f"(d[i])::"memory");
#else
  (void)d;
#endif
}

// Two adjacent floats of shared memory (8-byte aligned) rounded to one bf16 mma operand register: one 8-byte read.
__device__ __forceinline__ uint32_t ld_pack_bf16(const float* p) {
#if defined(SPAK_CUDA_EMULATION)
  return pack_bf16(p[0], p[1]);
#else
  const float2 v = *reinterpret_cast<const float2*>(p);
  return pack_bf16(v.x, v.y);
#endif
}

// Asynchronous global -> shared copies (cp.async, sm_80+; mma_schedule = 4). A chunk is 4 floats of which the first
// `n` (0..4) are read from `src` and the rest zero-filled: one 16-byte copy when `vec` (both addresses 16-byte
// aligned), else 4-byte copies. The 16-byte copies go through L1 (.ca): on the H100 the L1 then asks L2 for whole
// lines, where .cg sends about one request per thread (bench/gpu/cp_async_probe.cu: 3.28 vs 2.46 TB/s). Without cp.async (older GPUs, the CPU emulator) the copy is synchronous, which the
// wait/barrier protocol around it makes equivalent.
__device__ __forceinline__ bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }
__device__ __forceinline__ bool aligned8(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 7u) == 0; }
// Two adjacent floats (8-byte aligned) in one store: the epilogues of fragment tiles.
__device__ __forceinline__ void st_f32x2(float* p, float a, float b) {
#if defined(SPAK_CUDA_EMULATION)
  p[0] = a;
  p[1] = b;
#else
  *reinterpret_cast<float2*>(p) = make_float2(a, b);
#endif
}
__device__ __forceinline__ bool aligned4(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 3u) == 0; }
// 16 bytes (both addresses 16-byte aligned) in one load and one store: the staged epilogues, shared -> global.
__device__ __forceinline__ void copy16(void* dst, const void* src) {
#if defined(SPAK_CUDA_EMULATION)
  __builtin_memcpy(dst, src, 16);
#else
  *reinterpret_cast<uint4*>(dst) = *reinterpret_cast<const uint4*>(src);
#endif
}
// Two adjacent bf16 values (4-byte aligned) in one store: fragment tiles' bf16 copies (spak-bf16-producers).
__device__ __forceinline__ void st_bf16x2(uint16_t* p, uint16_t a, uint16_t b) {
#if defined(SPAK_CUDA_EMULATION)
  p[0] = a;
  p[1] = b;
#else
  *reinterpret_cast<uint32_t*>(p) = uint32_t(a) | (uint32_t(b) << 16);
#endif
}
template <int N>
__device__ __forceinline__ int valid_n(bool row_ok, int64_t remaining) {
  return !row_ok || remaining <= 0 ? 0 : remaining >= N ? N : int(remaining);
}
__device__ __forceinline__ void cp_async_f32x4(float* dst, const float* src, int n, bool vec) {
#if defined(SPAK_CUDA_EMULATION) || (defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800)
  (void)vec;
  for (int j = 0; j < 4; ++j) dst[j] = j < n ? src[j] : 0.0f;
#else
  const unsigned d = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  if (vec) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 16, %2;\n" ::"r"(d), "l"(src), "r"(n * 4) : "memory");
  } else {
    for (int j = 0; j < 4; ++j)
      asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(d + 4u * j), "l"(j < n ? src + j : src),
                   "r"(j < n ? 4 : 0)
                   : "memory");
  }
#endif
}
// The same for 8 bf16 values (mma_schedule = 5: bf16 operand copies). A chunk that is not 16-byte aligned is copied
// synchronously (cp.async has no 2-byte copy); the wait/barrier protocol orders it like the asynchronous ones.
__device__ __forceinline__ void cp_async_bf16x8(uint16_t* dst, const uint16_t* src, int n, bool vec) {
#if defined(SPAK_CUDA_EMULATION) || (defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800)
  (void)vec;
  for (int j = 0; j < 8; ++j) dst[j] = j < n ? src[j] : uint16_t(0);
#else
  if (vec) {
    const unsigned d = static_cast<unsigned>(__cvta_generic_to_shared(dst));
    asm volatile("cp.async.ca.shared.global [%0], [%1], 16, %2;\n" ::"r"(d), "l"(src), "r"(n * 2) : "memory");
  } else {
    for (int j = 0; j < 8; ++j) dst[j] = j < n ? src[j] : uint16_t(0);
  }
#endif
}
__device__ __forceinline__ void cp_async_commit() {
#if !defined(SPAK_CUDA_EMULATION) && !(defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800)
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}
template <int N>
__device__ __forceinline__ void cp_async_wait() {
#if !defined(SPAK_CUDA_EMULATION) && !(defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800)
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
#endif
}

// The vector layout (law vec_width): a thread's run of consecutive elements moves in one memory op of BYTES (two
// of 16 for 32) when the address is aligned to min(BYTES, 16); the register side is copied by memcpy (registers once
// the slots' indices are constants).
template <int BYTES>
__device__ __forceinline__ bool vec_aligned(const void* p) {
  return (reinterpret_cast<uintptr_t>(p) & (BYTES >= 16 ? 15 : BYTES - 1)) == 0;
}
#if !defined(SPAK_CUDA_EMULATION)
// The word a run of BYTES (4, 8 or 16) moves in; 32 bytes move as two 16-byte words.
template <int BYTES> struct vec_word;
template <> struct vec_word<4> { using type = unsigned; };
template <> struct vec_word<8> { using type = uint2; };
template <> struct vec_word<16> { using type = uint4; };
#endif
template <int BYTES>
__device__ __forceinline__ void vec_load(void* dst, const void* src) {
  static_assert(BYTES == 4 || BYTES == 8 || BYTES == 16 || BYTES == 32, "vector runs of 4, 8, 16 or 32 bytes");
#if defined(SPAK_CUDA_EMULATION)
  memcpy(dst, src, BYTES);
#else
  if constexpr (BYTES == 32) {
    vec_load<16>(dst, src);
    vec_load<16>(static_cast<unsigned char*>(dst) + 16, static_cast<const unsigned char*>(src) + 16);
  } else {
    const typename vec_word<BYTES>::type w = *reinterpret_cast<const typename vec_word<BYTES>::type*>(src);
    memcpy(dst, &w, BYTES);
  }
#endif
}
template <int BYTES>
__device__ __forceinline__ void vec_store(void* dst, const void* src) {
  static_assert(BYTES == 4 || BYTES == 8 || BYTES == 16 || BYTES == 32, "vector runs of 4, 8, 16 or 32 bytes");
#if defined(SPAK_CUDA_EMULATION)
  memcpy(dst, src, BYTES);
#else
  if constexpr (BYTES == 32) {
    vec_store<16>(dst, src);
    vec_store<16>(static_cast<unsigned char*>(dst) + 16, static_cast<const unsigned char*>(src) + 16);
  } else {
    typename vec_word<BYTES>::type w;
    memcpy(&w, src, BYTES);
    *reinterpret_cast<typename vec_word<BYTES>::type*>(dst) = w;
  }
#endif
}

// Warp-wide combines: every lane ends with the result of all 32 lanes.
template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
template <typename T>
__device__ __forceinline__ T warp_max(T v) {
  for (int o = 16; o > 0; o >>= 1) v = max_of(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

}  // namespace spak_gen
)";
}

/// `wgmma_m64n<n>k16<TA, TB>(d, a, b)`: d (n / 2 fp32 accumulators per thread, the m16n8 fragment layout of the
/// warpgroup's 64 rows) += a * b over 16 k, bf16 operands from shared memory (descriptors); TA: a is M-major, TB: b
/// is N-major.
std::string wgmmaWrapperText(int64_t n) {
  std::string outs, cons;
  for (int64_t i = 0; i < n / 2; ++i) {
    outs += cat(i ? ", " : "", "%", i);
    cons += cat(i ? ", " : "", i % 8 == 0 ? "\n        " : "", "\"+f\"(d[", i, "])");
  }
  int64_t r = n / 2;
  return cat("template <int TA, int TB>\n__device__ __forceinline__ void wgmma_m64n", n,
             "k16(float* d, uint64_t a, uint64_t b) {\n#if defined(SPAK_CUDA_EMULATION)\n  spak_emu::wgmma_m64k16(d, ", n,
             ", a, b, TA, TB);  // tests/cuda_emu/cuda_emu.h\n#elif defined(SPAK_NO_WGMMA)\n  (void)d; (void)a; (void)b;\n"
             "  asm volatile(\"trap;\");  // wgmma needs sm_90a: set law mma_schedule <= 5 for this GPU\n#else\n"
             "  asm volatile(\n      \"{\\n.reg .pred p;\\nsetp.ne.b32 p, %", r + 2, ", 0;\\n\"\n"
             "      \"wgmma.mma_async.sync.aligned.m64n", n, "k16.f32.bf16.bf16 {", outs, "}, %", r, ", %", r + 1,
             ", p, 1, 1, %", r + 3, ", %", r + 4, ";\\n}\\n\"\n      :", cons,
             "\n      : \"l\"(a), \"l\"(b), \"r\"(1), \"n\"(TA), \"n\"(TB));\n#endif\n}\n");
}

} // namespace

FailureOr<EmittedUnit> emitCudaUnit(ModuleOp module, const EmitOptions &) {
  EmittedUnit unit;
  unit.kind = TargetKind::Cuda;
  SourceWriter decls, kernels, host;
  std::set<int64_t> wgmmaNs;
  for (auto kernel : module.getOps<KernelOp>()) {
    size_t start = kernels.size();
    SourceWriter text;
    auto ke = std::make_unique<CudaKernelEmitter>(kernel, text);
    if (failed(ke->emit())) {
      if (!ke->stagingOverflow())
        return failure();
      // The staged epilogue stores do not fit beside this kernel's rings: paired stores instead.
      text = SourceWriter();
      ke = std::make_unique<CudaKernelEmitter>(kernel, text, /*allowStaging=*/false);
      if (failed(ke->emit()))
        return failure();
    }
    kernels.raw(text.str());
    wgmmaNs.insert(ke->wgmmaShapes().begin(), ke->wgmmaShapes().end());
    decls.line(ke->declaration());
    unit.kernelSources.push_back({kernel.getSymName().str(), kernels.str().substr(start)});
  }
  SourceWriter hostDecls;
  if (failed(emitHostFunctions(module, TargetKind::Cuda, hostDecls, host, unit.hostFunctions)))
    return failure();
  std::string wrappers;
  for (int64_t n : wgmmaNs)
    wrappers += "\n" + wgmmaWrapperText(n);
  if (!wrappers.empty())
    wrappers = "\nnamespace spak_gen {\n\n// The wgmma shapes this unit's kernels issue (mma_schedule = 6).\n" + wrappers +
               "\n}  // namespace spak_gen\n";
  unit.prelude = commonPrelude(TargetKind::Cuda) + cudaPrelude() + wrappers +
                 "\nnamespace spak_gen {\n\n// Kernel launchers (asynchronous on `stream`).\n" + decls.take() +
                 "\n// Host step functions.\n" + hostDecls.take() + "\n}  // namespace spak_gen\n";
  unit.kernels = "namespace spak_gen {\n\n" + kernels.take() + "}  // namespace spak_gen\n";
  unit.host = "namespace spak_gen {\n\n" + host.take() + "}  // namespace spak_gen\n";
  return unit;
}

} // namespace spak::target::detail
