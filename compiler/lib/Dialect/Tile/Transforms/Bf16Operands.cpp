//===- Bf16Operands.cpp - matmul operands read from bf16 copies -----------===//
//
// spak-bf16-operands (cuda target, `mma_bits = 16` and `mma_schedule = 5`):
// the bf16 tensor-core mma rounds its operands to bf16 anyway, so a matmul
// k-loop that reads f32 activations and weights from global memory moves
// twice the bytes it uses. This pass gives such a kernel bf16 buffers
// instead, and has the host step make each bf16 copy once:
//
//  1. Kernels. An argument buffer of a kernel whose laws say mma_bits = 16,
//     mma_schedule >= 5 is retyped to bf16 when every use is a `dim` or a
//     k-loop load (depth law `stages`: the matmul main loop) of a rank-2
//     shared tile read only as operand a / b of mma's whose other operand is
//     such a load too (an mma takes two operands of one type), whose k is a
//     multiple of 16 and whose result splits into 16 x 8 blocks over the
//     kernel's warps (the tensor-core path; else the mma runs in fp32) and
//     is at least the laws' tile_m x tile_n (a tile the bounds shrank is a
//     matmul too small for a copy to pay). The loads then produce bf16
//     tiles; nothing else in the kernel changes. Under mma_schedule >= 8
//     attention's k-loop tiles qualify too (depth law k_lat / v_lat, no
//     minimum size), each alone: the mma's other operand (Q in registers,
//     P computed) stays f32 beside the bf16 one.
//  2. Host functions. Before a launch of a retyped kernel, each retyped
//     argument gets a bf16 copy: an alloc of the same shape and a launch of
//     the cast kernel `@cast_bf16` (flat, `vec_width * 32 * warps` elements per
//     program, the elementwise laws) over 1 x n views of both. Copies are
//     reused while their source is unchanged: a launch that writes any view
//     of a buffer (store / atomic_add into that argument) and any call drop
//     the copies of that buffer, so a weight is cast once per step for its
//     forward and backward matmuls, an activation once for its forward use
//     and its weight-gradient matmul.
//
//  3. Inputs of f32 kernels (rules "BF16 Logits", apply bf16_logits, and
//     "BF16 GELU Input", apply bf16_gelu_input, with law mma_bits = 16 for
//     the matmuls): the cross-entropy row kernels' logits and the GELU
//     backward's saved pre-activation are read as bf16, each loaded tile
//     converted to f32 at once (bf16InputKernel / retypeInput); the host gets
//     a copy as in step 2, which spak-bf16-producers folds into the producer.
//
// The cpp target never sees this pass (it computes in fp32); spakc runs it on
// the module the CUDA emitter gets (Target.cpp), spak-opt for the lit tests.
//
//===----------------------------------------------------------------------===//
#include "spak/Dialect/Tile/Transforms/Passes.h"
#include "HostViews.h"
#include "spak/Dialect/Graph/Graph.h"
#include "spak/Rules/Laws.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/SmallSet.h"

namespace spak::tile {
#define GEN_PASS_DEF_BF16OPERANDS
#include "spak/Dialect/Tile/Transforms/Passes.h.inc"
} // namespace spak::tile

using namespace mlir;
using namespace spak::tile;

namespace {

/// An integer law of the kernel's config, `fallback` when it has none.
int64_t lawInt(KernelOp kernel, llvm::StringRef name, int64_t fallback) {
  ConfigAttr cfg = kernel.getConfigAttr();
  LawAttr law = cfg ? cfg.getLaw(name) : LawAttr();
  return law && law.isInteger() ? law.getInt() : fallback;
}

/// Whether `kernel`'s laws ask for bf16 operand copies.
bool wantsBf16Operands(KernelOp kernel) {
  return lawInt(kernel, "mma_bits", 0) == 16 && lawInt(kernel, "mma_schedule", 0) >= 5;
}

/// The kernel argument a load reads, if it reads one directly.
BlockArgument loadedArg(Value operand) {
  auto l = operand.getDefiningOp<LoadOp>();
  return l ? dyn_cast<BlockArgument>(l.getBuffer()) : BlockArgument();
}

/// Whether the cuda emitter gives an mma producing `t` its tensor-core fragment layout: the tile splits into 16 x 8
/// blocks over the kernel's `warps` (some wm x wn = warps with M % 16 wm == 0 and N % 8 wn == 0). Otherwise the mma
/// runs on CUDA cores in fp32, and bf16 operands would only lose precision.
bool tensorCoreShape(TileType t, int64_t warps) {
  if (t.getRank() != 2 || warps <= 0)
    return false;
  for (int64_t wm = 1; wm <= warps; wm *= 2)
    if (warps % wm == 0 && t.getShape()[0] % (16 * wm) == 0 && t.getShape()[1] % (8 * (warps / wm)) == 0)
      return true;
  return false;
}

/// Whether `use` is operand a or b of an mma that takes the tensor-core path with an f32 accumulator (k a multiple of
/// 16, the result split into 16 x 8 blocks over `warps`) and whose result is at least `minM x minN`.
bool tensorCoreOperand(OpOperand &use, int64_t warps, int64_t minM, int64_t minN) {
  auto m = dyn_cast<MmaOp>(use.getOwner());
  if (!m || use.get() == m.getAcc() || !m.getAcc().getType().getElementType().isF32())
    return false;
  TileType a = m.getA().getType(), r = m.getResult().getType();
  int64_t k = m.getTransposeA() ? a.getShape()[0] : a.getShape()[1];
  return k % 16 == 0 && tensorCoreShape(r, warps) && r.getShape()[0] >= minM && r.getShape()[1] >= minN;
}

/// Step 1 for one kernel: the argument numbers to retype (empty: none).
llvm::SmallVector<unsigned> bf16Args(KernelOp kernel) {
  int64_t warps = lawInt(kernel, "warps", 4);
  // mma_schedule >= 8: attention's k-loop tiles read bf16 copies too (their cp.async rings move half the bytes).
  bool attentionOperands = lawInt(kernel, "mma_schedule", 0) >= 8;
  // A matmul whose output tile the bounds shrank below the laws' tile_m x tile_n (MicroGPT: 16 x 16 tiles) is too
  // small for a copy to pay: the cast launches cost more than the bytes they save (measured: MicroGPT 0.10 -> 0.12
  // ms/step on the H100 with a copy per operand, docs/benchmarks.md).
  int64_t minM = lawInt(kernel, "tile_m", 0), minN = lawInt(kernel, "tile_n", 0);
  // Attention's k-loop tiles (K / V, Q / dO: depth laws k_lat, v_lat) qualify too: their results are head-dim wide
  // (64 < tile_n), so no minimum applies to them, and the mma's other operand may stay f32 (a register tile the
  // kernel computes, or Q loaded once before the loop): the tensor cores round it to bf16 anyway.
  llvm::SmallSet<unsigned, 4> attentionArgs;
  auto ringLoadOfMmaOperands = [&](Operation *user, Value arg) {
    auto l = dyn_cast<LoadOp>(user);
    LawAttr lat = l ? l.getLatencyAttr() : LawAttr();
    if (!l || l.getBuffer() != arg || !lat || !l->getParentOfType<scf::ForOp>() ||
        l.getTileType().getRank() != 2 || l.getTileType().getMemorySpace() != MemorySpace::smem ||
        l.getResult().use_empty())
      return false;
    bool attention = attentionOperands && (lat.getName() == "k_lat" || lat.getName() == "v_lat");
    if (lat.getName() != "stages" && !attention)
      return false;
    if (attention)
      attentionArgs.insert(cast<BlockArgument>(arg).getArgNumber());
    return llvm::all_of(l.getResult().getUses(), [&](OpOperand &use) {
      return tensorCoreOperand(use, warps, attention ? 0 : minM, attention ? 0 : minN);
    });
  };
  // An attention kernel's tiles loaded once (no depth law) and read only as tensor-core mma operands qualify too
  // (schedule >= 8): a shared tile (dkdv's K / V, staged as bf16 anyway), or a register tile that is only operand a
  // of mma's whose rows split over the warps (Q in the forward and dq: the cuda emitter packs it into bf16 pairs
  // once). The tensor cores round them to bf16 in the same way, so the results keep their bits; and the producer of
  // q, k, v then writes only its bf16 copy when nothing else reads the f32 one (spak-bf16-producers).
  bool attentionKernel = false;
  if (attentionOperands)
    kernel.walk([&](LoadOp l) {
      if (LawAttr lat = l.getLatencyAttr())
        attentionKernel = attentionKernel || lat.getName() == "k_lat" || lat.getName() == "v_lat";
    });
  auto onceLoadOfMmaOperands = [&](Operation *user, Value arg) {
    auto l = dyn_cast<LoadOp>(user);
    if (!attentionKernel || !l || l.getBuffer() != arg || l.getLatencyAttr() || l.getTileType().getRank() != 2 ||
        l.getResult().use_empty())
      return false;
    TileType t = l.getTileType();
    bool shared = t.getMemorySpace() == MemorySpace::smem;
    bool ok = llvm::all_of(l.getResult().getUses(), [&](OpOperand &use) {
      if (!tensorCoreOperand(use, warps, 0, 0))
        return false;
      auto m = cast<MmaOp>(use.getOwner());
      return shared || (use.getOperandNumber() == 0 && !m.getTransposeA() && m.getB() != l.getResult() &&
                        t.getShape()[0] % (16 * warps) == 0);
    });
    if (ok)
      attentionArgs.insert(cast<BlockArgument>(arg).getArgNumber());
    return ok;
  };
  llvm::SetVector<unsigned> cand;
  Block &entry = kernel.getBody().front();
  for (BlockArgument arg : entry.getArguments()) {
    auto bt = dyn_cast<BufferType>(arg.getType());
    if (!bt || !bt.getElementType().isF32() || bt.getRank() < 2)
      continue;
    bool any = false, ok = llvm::all_of(arg.getUsers(), [&](Operation *user) {
      if (isa<DimOp>(user))
        return true;
      any = true;
      return ringLoadOfMmaOperands(user, arg) || onceLoadOfMmaOperands(user, arg);
    });
    if (ok && any)
      cand.insert(arg.getArgNumber());
  }
  // A matmul's two operands become bf16 together or not at all: one bf16 copy saves half the bytes of one operand
  // and costs a cast launch. Attention's loop tiles go alone (the other operand is read once or computed).
  for (bool changed = true; changed;) {
    changed = false;
    kernel.walk([&](MmaOp m) {
      BlockArgument a = loadedArg(m.getA()), b = loadedArg(m.getB());
      bool aIn = a && cand.contains(a.getArgNumber()), bIn = b && cand.contains(b.getArgNumber());
      if (aIn == bIn || (aIn && attentionArgs.contains(a.getArgNumber())) ||
          (bIn && attentionArgs.contains(b.getArgNumber())))
        return;
      cand.remove(aIn ? a.getArgNumber() : b.getArgNumber());
      changed = true;
    });
  }
  llvm::SmallVector<unsigned> out(cand.begin(), cand.end());
  llvm::sort(out);
  return out;
}

/// A kernel argument read from a bf16 copy though the kernel computes in f32 (with bf16 matmuls: law mma_bits = 16):
/// each loaded tile is converted to f32 at once. The copy is then folded into the argument's producer by
/// spak-bf16-producers, which drops the f32 buffer when nothing else reads it: the producer writes, and this kernel
/// reads, half the bytes.
///  * Rule "BF16 Logits" (apply `bf16_logits`): the cross-entropy row kernels (`fused_softmax_xent_*`,
///    `cross_entropy_rows_*`) read their logits, argument 0 (GPT-2: 16384 x 50304, 3.3 GB as f32); the softmax, its
///    sums and the loss stay f32, as PyTorch's autocast computes them.
///  * Rule "BF16 GELU Input" (apply `bf16_gelu_input`): the GELU backward (`gelu_grad_*`) reads the saved
///    pre-activation x, argument 1 (gelu_grad(dy, x); GPT-2: 16384 x 3072 per layer), which the MLP's first matmul
///    then stores in bf16 only: PyTorch's autocast saves that linear's output in bf16 too.
///  * Rule "BF16 Bias Gradients" (apply `bf16_bias_grads`): the first stage of a two-stage column sum
///    (`reduce_cols_partial_*`: a bias gradient, the sum of dY over the B*T rows) reads dY, argument 0, from the
///    bf16 copy the dY matmuls read too; the partial sums stay f32. The GELU backward then writes its output in bf16
///    only (GPT-2: 16384 x 3072 per layer): PyTorch's autocast sums the bias gradient from the bf16 dY as well.
///    Only where a copy exists already at every launch (a cast kernel just for a column sum would move more bytes
///    than it saves): tiny.dsl's qkv gradient, which its matmuls read as f32, keeps an f32 column sum.
struct Bf16Input {
  llvm::StringLiteral apply, rule;
  llvm::SmallVector<llvm::StringLiteral, 2> prefixes, excluded;
  unsigned arg;
  bool reuseOnly = false;  // only where every launch finds a bf16 copy already made for other kernels (no cast pass)
};
const llvm::SmallVector<Bf16Input, 2> &bf16Inputs() {
  static const llvm::SmallVector<Bf16Input, 2> inputs = {
      {"bf16_logits", "BF16 Logits", {"fused_softmax_xent_", "cross_entropy_rows_"}, {"fused_softmax_xent_sum"}, 0},
      {"bf16_gelu_input", "BF16 GELU Input", {"gelu_grad_"}, {}, 1},
      {"bf16_bias_grads", "BF16 Bias Gradients", {"reduce_cols_partial_"}, {}, 0, /*reuseOnly=*/true},
  };
  return inputs;
}

/// Whether `kernel` is one of `in`'s kernels and its argument reads like an input that may come from a bf16 copy:
/// an f32 buffer that the kernel only loads into register tiles (and asks the dims of).
bool bf16InputKernel(KernelOp kernel, const Bf16Input &in) {
  llvm::StringRef name = kernel.getSymName();
  if (!llvm::any_of(in.prefixes, [&](llvm::StringRef p) { return name.starts_with(p); }) ||
      llvm::any_of(in.excluded, [&](llvm::StringRef p) { return name.starts_with(p); }))
    return false;
  Block &entry = kernel.getBody().front();
  if (entry.getNumArguments() <= in.arg)
    return false;
  BlockArgument arg = entry.getArgument(in.arg);
  auto bt = dyn_cast<BufferType>(arg.getType());
  if (!bt || !bt.getElementType().isF32() || kernel.getWrittenArguments()[in.arg])
    return false;
  bool any = false;
  for (Operation *user : arg.getUsers()) {
    if (isa<DimOp>(user))
      continue;
    auto l = dyn_cast<LoadOp>(user);
    if (!l || l.getBuffer() != arg || l.getTileType().getMemorySpace() != MemorySpace::reg)
      return false;
    any = true;
  }
  return any;
}

/// Retypes argument `idx` of such a kernel to bf16: each load reads bf16 and converts to f32 for its users.
void retypeInput(KernelOp kernel, unsigned idx) {
  Block &entry = kernel.getBody().front();
  Type bf16 = BFloat16Type::get(kernel.getContext());
  BlockArgument arg = entry.getArgument(idx);
  auto bt = cast<BufferType>(arg.getType());
  arg.setType(BufferType::get(bt.getShape(), bf16));
  for (Operation *user : llvm::to_vector(arg.getUsers()))
    if (auto l = dyn_cast<LoadOp>(user)) {
      TileType f32T = l.getTileType();
      l.getResult().setType(f32T.withElementType(bf16));
      OpBuilder b(l->getContext());
      b.setInsertionPointAfter(l);
      Value wide = ConvertOp::create(b, l.getLoc(), f32T, l.getResult());
      l.getResult().replaceAllUsesExcept(wide, wide.getDefiningOp());
    }
  SmallVector<Type> inputs(entry.getArgumentTypes());
  kernel.setFunctionTypeAttr(TypeAttr::get(FunctionType::get(kernel.getContext(), inputs, {})));
}

/// Retypes the arguments `idx` of `kernel` and their loads to bf16.
void retype(KernelOp kernel, llvm::ArrayRef<unsigned> idx) {
  Block &entry = kernel.getBody().front();
  Type bf16 = BFloat16Type::get(kernel.getContext());
  for (unsigned i : idx) {
    BlockArgument arg = entry.getArgument(i);
    auto bt = cast<BufferType>(arg.getType());
    arg.setType(BufferType::get(bt.getShape(), bf16));
    for (Operation *user : arg.getUsers())
      if (auto l = dyn_cast<LoadOp>(user))
        l.getResult().setType(l.getTileType().withElementType(bf16));
  }
  SmallVector<Type> inputs(entry.getArgumentTypes());
  kernel.setFunctionTypeAttr(TypeAttr::get(FunctionType::get(kernel.getContext(), inputs, {})));
}

struct Bf16OperandsPass : spak::tile::impl::Bf16OperandsBase<Bf16OperandsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = module.getContext();
    llvm::DenseMap<StringAttr, llvm::SmallVector<unsigned>> retyped;
    llvm::DenseMap<StringAttr, llvm::SmallVector<bool>> writes;
    // Kernels of a reuse-only rule, and per launch of one the copy it would read (null: none at that point).
    llvm::DenseMap<StringAttr, const Bf16Input *> reuseCandidates;
    llvm::SmallVector<std::tuple<LaunchOp, const Bf16Input *, Value>> reuseLaunches;
    // Rules "BF16 Logits", "BF16 GELU Input": only with bf16 matmuls (exact fp32 runs, mma_bits = 32, keep f32).
    LawAttr mmaBits = spak::rules::lookupLawFor(module, spak::rules::KernelKind::Matmul, "mma_bits");
    bool bf16Matmuls = mmaBits && mmaBits.isInteger() && mmaBits.getInt() == 16;
    for (KernelOp kernel : module.getOps<KernelOp>()) {
      if (wantsBf16Operands(kernel))
        if (auto idx = bf16Args(kernel); !idx.empty()) {
          retype(kernel, idx);
          retyped[kernel.getSymNameAttr()] = idx;
        }
      for (const Bf16Input &in : bf16Inputs())
        if (bf16Matmuls && spak::graph::findEnabledRule(module, in.apply) && bf16InputKernel(kernel, in)) {
          if (in.reuseOnly) {
            reuseCandidates[kernel.getSymNameAttr()] = &in;
            continue;
          }
          retypeInput(kernel, in.arg);
          retyped[kernel.getSymNameAttr()].push_back(in.arg);
          kernel.setMath((kernel.getMath() + "; argument " + llvm::Twine(in.arg) +
                          " read from a bf16 copy (rule \"" + in.rule + "\")").str());
        }
      writes[kernel.getSymNameAttr()] = kernel.getWrittenArguments();
    }
    if (retyped.empty())  // no copies, so no reuse-only kernel could read one
      return;

    int64_t block = elementsPerProgram(module);
    KernelOp cast = castKernel(module, block);
    if (!cast)
      return signalPassFailure();
    Type bf16 = BFloat16Type::get(ctx);

    for (auto fn : module.getOps<func::FuncOp>()) {
      if (fn.isExternal())
        continue;
      // (root buffer, type of the view launched) -> its bf16 copy
      llvm::DenseMap<std::pair<Value, Type>, Value> copies;
      for (Operation &op : llvm::make_early_inc_range(fn.getBody().front())) {
        if (isa<func::CallOp>(op)) {
          copies.clear();
          continue;
        }
        auto launch = dyn_cast<LaunchOp>(op);
        if (!launch)
          continue;
        StringAttr callee = launch.getKernelAttr().getAttr();
        if (auto it = reuseCandidates.find(callee); it != reuseCandidates.end()) {
          reuseLaunches.emplace_back(launch, it->second, copyOfRoot(copies, rootOf(launch.getArgs()[it->second->arg])));
        }
        if (auto it = retyped.find(callee); it != retyped.end()) {
          OpBuilder b(launch);
          Location loc = launch.getLoc();
          unsigned gridN = launch.getGrid().size();
          for (unsigned i : it->second) {
            Value src = launch.getArgs()[i];
            auto key = std::make_pair(rootOf(src), src.getType());
            Value &copy = copies[key];
            if (!copy)  // the same buffer's copy seen through another view (a view reshapes the whole buffer)
              if (Value existing = copyOfRoot(copies, key.first))
                copy = bf16View(b, loc, src, existing, bf16);
            if (!copy)
              copy = makeCopy(b, loc, src, cast, block, bf16);
            launch->setOperand(gridN + i, copy);
          }
        }
        auto w = writes.find(callee);
        if (w == writes.end())
          continue;
        for (auto [i, arg] : llvm::enumerate(launch.getArgs())) {
          if (i >= w->second.size() || !w->second[i] || !isa<BufferType>(arg.getType()))
            continue;
          Value root = rootOf(arg);
          llvm::SmallVector<std::pair<Value, Type>> stale;
          for (auto &[key, copy] : copies)
            if (key.first == root)
              stale.push_back(key);
          for (auto &key : stale)
            copies.erase(key);
        }
      }
    }
    applyReuse(reuseCandidates, reuseLaunches, module, bf16);
  }

  /// A bf16 copy made for `root` (under any view of it), or null.
  static Value copyOfRoot(const llvm::DenseMap<std::pair<Value, Type>, Value> &copies, Value root) {
    for (auto &[key, copy] : copies)
      if (key.first == root && copy)
        return copy;
    return Value();
  }
  /// `copy` seen with `src`'s shape (bf16 elements).
  static Value bf16View(OpBuilder &b, Location loc, Value src, Value copy, Type bf16) {
    return ViewOp::create(b, loc, BufferType::get(llvm::cast<BufferType>(src.getType()).getShape(), bf16), copy);
  }

  /// Reuse-only rules: a candidate kernel reads the bf16 copy when every one of its launches found one (then each
  /// launch reads a view of that copy shaped like its argument); otherwise it keeps its f32 input.
  static void applyReuse(llvm::DenseMap<StringAttr, const Bf16Input *> &candidates,
                         llvm::ArrayRef<std::tuple<LaunchOp, const Bf16Input *, Value>> launches, ModuleOp module,
                         Type bf16) {
    llvm::DenseMap<StringAttr, bool> allFound;
    for (auto [launch, in, copy] : launches) {
      StringAttr callee = launch.getKernelAttr().getAttr();
      auto [it, fresh] = allFound.try_emplace(callee, true);
      it->second = it->second && copy;
    }
    for (auto &[callee, ok] : allFound) {
      if (!ok)
        continue;
      auto kernel = SymbolTable::lookupNearestSymbolFrom<KernelOp>(module, callee);
      const Bf16Input *in = candidates.lookup(callee);
      if (!kernel || !in)
        continue;
      retypeInput(kernel, in->arg);
      kernel.setMath((kernel.getMath() + "; argument " + llvm::Twine(in->arg) + " read from a bf16 copy (rule \"" +
                      in->rule + "\")").str());
    }
    for (auto [launch, in, copy] : launches) {
      if (!allFound.lookup(launch.getKernelAttr().getAttr()))
        continue;
      OpBuilder b(launch);
      launch->setOperand(launch.getGrid().size() + in->arg,
                         bf16View(b, launch.getLoc(), launch.getArgs()[in->arg], copy, bf16));
    }
  }

  /// vec_width * 32 * warps of the elementwise kernels (their laws, else the defaults).
  static int64_t elementsPerProgram(ModuleOp module) {
    using spak::rules::KernelKind;
    auto law = [&](llvm::StringRef name) {
      LawAttr l = spak::rules::lookupLawFor(module, KernelKind::Elementwise, name);
      return l && l.isInteger() ? l.getInt() : 0;
    };
    return std::max<int64_t>(1, law("vec_width")) * 32 * std::max<int64_t>(1, law("warps"));
  }

  /// `@cast_bf16(src: buffer<1x?xf32>, dst: buffer<1x?xbf16>)`: dst = bf16(src), flat.
  KernelOp castKernel(ModuleOp module, int64_t block) {
    MLIRContext *ctx = module.getContext();
    if (auto existing = SymbolTable::lookupNearestSymbolFrom<KernelOp>(module, StringAttr::get(ctx, kCastKernel)))
      return existing;
    using spak::rules::KernelKind;
    Type f32 = Float32Type::get(ctx), bf16 = BFloat16Type::get(ctx);
    int64_t dyn = ShapedType::kDynamic;
    auto srcT = BufferType::get({1, dyn}, f32), dstT = BufferType::get({1, dyn}, bf16);
    OpBuilder b(ctx);
    b.setInsertionPointToStart(module.getBody());
    Location loc = module.getLoc();
    std::string grid = "ceildiv(n, " + std::to_string(block) + ")";
    auto kernel = KernelOp::create(b, loc, kCastKernel, b.getFunctionType({srcT, dstT}, {}),
                                   llvm::ArrayRef<llvm::StringRef>{grid},
                                   "dst[i] = bf16(src[i])  (round to nearest even; the bf16 operand copies of "
                                   "spak-bf16-operands)");
    SmallVector<NamedAttribute> laws;
    for (llvm::StringRef name : {"vec_width", "warps"})
      if (LawAttr l = spak::rules::lookupLawFor(module, KernelKind::Elementwise, name))
        laws.push_back(b.getNamedAttr(name, l));
    kernel.setConfigAttr(ConfigAttr::get(ctx, b.getDictionaryAttr(laws)));
    Block *entry = kernel.addEntryBlock();
    b.setInsertionPointToStart(entry);
    Value src = entry->getArgument(0), dst = entry->getArgument(1);
    Value pid = ProgramIdOp::create(b, loc, 0);
    Value off = arith::MulIOp::create(b, loc, pid, arith::ConstantIndexOp::create(b, loc, block));
    Value c0 = arith::ConstantIndexOp::create(b, loc, 0), c1 = arith::ConstantIndexOp::create(b, loc, 1);
    Value n = DimOp::create(b, loc, src, 1);
    auto tf = TileType::get({1, block}, f32), th = TileType::get({1, block}, bf16);
    Value mask = MaskOp::create(b, loc, tf.getMaskType(), MaskKind::bounds, ValueRange{c0, off}, ValueRange{c1, n});
    Value x = LoadOp::create(b, loc, tf, src, ValueRange{c0, off}, mask, LawAttr(), IntegerAttr());
    Value h = ConvertOp::create(b, loc, th, x);
    StoreOp::create(b, loc, h, dst, ValueRange{c0, off}, mask);
    ReturnOp::create(b, loc);
    return kernel;
  }

  /// Before `b`'s insertion point: a bf16 buffer shaped like `src` and the cast kernel's launch filling it.
  static Value makeCopy(OpBuilder &b, Location loc, Value src, KernelOp cast, int64_t block, Type bf16) {
    auto st = llvm::cast<BufferType>(src.getType());
    SmallVector<Value> sizes;
    for (unsigned d = 0; d < st.getRank(); ++d)
      if (st.isDynamicDim(d))
        sizes.push_back(DimOp::create(b, loc, src, d));
    auto dstT = BufferType::get(st.getShape(), bf16);
    Value copy = AllocOp::create(b, loc, dstT, sizes);
    int64_t dyn = ShapedType::kDynamic;
    Value flatSrc = ViewOp::create(b, loc, BufferType::get({1, dyn}, st.getElementType()), src);
    Value flatDst = ViewOp::create(b, loc, BufferType::get({1, dyn}, bf16), copy);
    Value n = DimOp::create(b, loc, flatSrc, 1);
    Value grid = arith::CeilDivUIOp::create(b, loc, n, arith::ConstantIndexOp::create(b, loc, block));
    LaunchOp::create(b, loc, cast.getSymName(), ValueRange{grid}, ValueRange{flatSrc, flatDst});
    return copy;
  }
};

} // namespace
