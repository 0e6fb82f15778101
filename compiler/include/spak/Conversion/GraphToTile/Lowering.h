//===- Lowering.h - the graph → tile lowering context and op table -*- C++ -*-===//
//
// spak-lower-graph-to-tile lowers each spak_graph op of a host function to
// one or more spak_tile.kernel ops (tile programs) plus, in the host function,
// the `alloc` / `view` / `launch` that run them over buffers. This header is
// the seam between the driver (GraphToTile.cpp) and the files that lower one
// family of ops each:
//
//   GraphToTileForward.cpp    linear matmul norms softmax cross_entropy
//                             attention elementwise (with broadcasting) reshape
//   GraphToTileData.cpp       embed positions split concat transpose reduce_sum
//                             broadcast_like zeros_like dropout(p = 0)
//   GraphToTileBackward.cpp   relu_grad gelu_grad rmsnorm_grad layernorm_grad
//                             softmax_grad cross_entropy_grad attention_grad
//                             embed_grad
//   GraphToTileOptimizer.cpp  adam (AdamW) clip_grad_norm
//   FusedRegions.cpp          (fusion; optional) fused-region ops
//
// Each file provides a `populate...Lowerings(LoweringTable &)` function that
// registers one `OpLoweringFn` per op name. A lowering reads the op through
// `Lowering::op()` (operands in the ODS order, attributes by name), maps each
// result tensor to a buffer (`allocFor`, or `map` for a host-side view), and
// builds kernels with `newKernel` + `KernelBuilder` and launches with `launch`.
//
// The fusion hook: when compiler/lib/Conversion/GraphToTile/FusedRegions.cpp
// exists, CMake compiles it and defines SPAK_HAVE_FUSED_REGIONS, and the
// driver calls `populateFusedRegionLowerings(table)` after the built-in
// families; an entry it registers for an op name overrides a built-in one.
//
//===----------------------------------------------------------------------===//
#ifndef SPAK_CONVERSION_GRAPHTOTILE_LOWERING_H
#define SPAK_CONVERSION_GRAPHTOTILE_LOWERING_H

#include "spak/Dialect/Graph/Graph.h"
#include "spak/Dialect/Tile/IR/Tile.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/StringMap.h"

#include <functional>
#include <string>

namespace spak::tile {

//===----------------------------------------------------------------------===//
// KernelBuilder: small builders for kernel bodies
//===----------------------------------------------------------------------===//

/// Builds inside one kernel body: index math, constants, masks, tile math.
struct KernelBuilder {
  mlir::OpBuilder &b;
  mlir::Location loc;

  // Scalar index math (arith).
  mlir::Value idx(int64_t v);
  mlir::Value mul(mlir::Value a, mlir::Value c);
  mlir::Value mul(mlir::Value a, int64_t c);
  mlir::Value add(mlir::Value a, mlir::Value c);
  mlir::Value add(mlir::Value a, int64_t c);
  mlir::Value divui(mlir::Value a, int64_t c);
  mlir::Value remui(mlir::Value a, int64_t c);
  mlir::Value minIdx(mlir::Value a, mlir::Value c);
  /// Block `ceildiv(extent, tile) - 1 - pid` of a grid axis of ceildiv(extent, tile) programs: the last block first.
  /// Causal attention's query blocks grow in work with their index; launched heaviest first, the light ones fill the
  /// last wave instead of the heavy ones trailing it.
  mlir::Value lastFirst(mlir::Value pid, mlir::Value extent, int64_t tile);
  mlir::Value pid(int64_t axis);
  mlir::Value dim(mlir::Value buf, int64_t i);
  /// An index scalar as an f32 scalar (counts: rows, N).
  mlir::Value indexToF32(mlir::Value v);

  // Tiles.
  TileType f32(llvm::ArrayRef<int64_t> shape, MemorySpace s = MemorySpace::reg);
  TileType i32(llvm::ArrayRef<int64_t> shape);
  mlir::Value splat(TileType t, double v, LawAttr law = {});
  mlir::Value splatInt(TileType t, int64_t v);
  mlir::Value splatBool(llvm::ArrayRef<int64_t> shape, bool v);
  /// In-bounds mask of a tile at `offsets` against `bounds`.
  mlir::Value bounds(TileType t, llvm::ArrayRef<mlir::Value> offsets,
                     llvm::ArrayRef<mlir::Value> bnds);
  /// a && b on masks (select(a, b, false)); a null operand is "all true".
  mlir::Value andMask(mlir::Value a, mlir::Value c);
  mlir::Value load(TileType t, mlir::Value buf, llvm::ArrayRef<mlir::Value> offsets,
                   mlir::Value mask = {}, LawAttr latency = {}, mlir::IntegerAttr stage = {});
  void store(mlir::Value v, mlir::Value buf, llvm::ArrayRef<mlir::Value> offsets,
             mlir::Value mask = {});
  void atomicAdd(mlir::Value v, mlir::Value buf, llvm::ArrayRef<mlir::Value> offsets,
                 mlir::Value mask = {});
  mlir::Value bcast(mlir::Value v, TileType to);
  mlir::Value reduce(ReduceKind k, mlir::Value v, int64_t axis);
  mlir::Value select(mlir::Value c, mlir::Value t, mlir::Value f);
  mlir::Value cmp(CmpPredicate p, mlir::Value x, mlir::Value y);
  mlir::Value mma(TileType acc, mlir::Value a, mlir::Value bt, mlir::Value c, bool ta, bool tb);
  mlir::Value addT(mlir::Value x, mlir::Value y);
  mlir::Value subT(mlir::Value x, mlir::Value y);
  mlir::Value mulT(mlir::Value x, mlir::Value y);
  mlir::Value divT(mlir::Value x, mlir::Value y);
  mlir::Value maxT(mlir::Value x, mlir::Value y);
  mlir::Value exp(mlir::Value x);
  mlir::Value log(mlir::Value x);
  mlir::Value sqrt(mlir::Value x);
  mlir::Value rsqrt(mlir::Value x);
  mlir::Value tanh(mlir::Value x);
  /// gelu(x), tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), on tiles of type `t`.
  mlir::Value gelu(mlir::Value x, TileType t);
  /// gelu'(x) of the same approximation (gelu_grad = dy · gelu'(x); the matmul_gelu_grad epilogue).
  mlir::Value geluDeriv(mlir::Value x, TileType t);
  /// A for loop with loop-carried values; `body(iv, iterArgs)` returns the
  /// yielded values (empty when there are none).
  mlir::scf::ForOp loop(mlir::Value lb, mlir::Value ub, mlir::Value step, mlir::ValueRange init,
                        llvm::function_ref<llvm::SmallVector<mlir::Value>(mlir::Value,
                                                                          mlir::ValueRange)>
                            body);
  void ret();
};

//===----------------------------------------------------------------------===//
// Lowering: the state of lowering one host function
//===----------------------------------------------------------------------===//

class Lowering;
/// Lowers `L.op()`; on failure it has emitted a diagnostic.
using OpLoweringFn = std::function<mlir::LogicalResult(Lowering &L)>;
/// op name without the dialect prefix ("linear", "attention_grad") → lowering.
using LoweringTable = llvm::StringMap<OpLoweringFn>;

void populateForwardLowerings(LoweringTable &table);
void populateDataLowerings(LoweringTable &table);
void populateBackwardLowerings(LoweringTable &table);
void populateOptimizerLowerings(LoweringTable &table);
/// Defined in FusedRegions.cpp (the fusion engineer's file) when it exists.
void populateFusedRegionLowerings(LoweringTable &table);
/// All of the above, in that order.
void populateGraphToTileLowerings(LoweringTable &table);

class Lowering {
public:
  Lowering(mlir::ModuleOp module, const LoweringTable &table);

  /// Lowers every non-external function of the module that holds graph ops
  /// or tensor arguments.
  mlir::LogicalResult run();

  //--- the op being lowered -------------------------------------------------
  mlir::Operation *op() const { return currentOp; }
  mlir::Location loc() const { return currentOp->getLoc(); }
  mlir::ModuleOp getModule() const { return module; }
  /// Host-side builder; its insertion point is just before the graph op.
  mlir::OpBuilder b;

  //--- values and types -----------------------------------------------------
  /// The buffer a tensor value lowered to.
  mlir::Value buf(mlir::Value tensor) const { return map.lookupOrDefault(tensor); }
  /// The tensor type of a graph value (function arguments keep theirs here).
  mlir::Type ttype(mlir::Value v) const;
  mlir::RankedTensorType rtype(mlir::Value v) const {
    return llvm::dyn_cast<mlir::RankedTensorType>(ttype(v));
  }
  /// Records that graph value `tensor` lives in `buffer` (views, in-place).
  void mapValue(mlir::Value tensor, mlir::Value buffer) { map.map(tensor, buffer); }
  static mlir::Type bufferTypeFor(mlir::Type t);

  //--- host side --------------------------------------------------------------
  /// Host view of `buffer` with a new shape (identity if equal).
  mlir::Value view(mlir::Value buffer, llvm::ArrayRef<int64_t> shape);
  /// [d0, ..., dn-1, C] → [d0*...*dn-1, C].
  mlir::Value rows2D(mlir::Value buffer);
  /// [d0, ..., dn] → [d0*...*dn].
  mlir::Value flat(mlir::Value buffer);
  /// Allocates the buffer of `result` (mapped); each dynamic dim is read from
  /// an operand buffer of the same rank that is dynamic in that dim.
  mlir::FailureOr<mlir::Value> allocFor(mlir::Value result);
  /// Allocates the buffer of `result` (mapped); dynamic dim i is dim
  /// `dimOf[i].second` of buffer `dimOf[i].first` (one entry per result dim).
  /// Allocates and maps the buffer of `result`, each dynamic dim i taken from dim i of the buffer `source`.
  mlir::Value allocWithDimsOf(mlir::Value result, mlir::Value source);
  mlir::Value allocFor(mlir::Value result,
                       llvm::ArrayRef<std::pair<mlir::Value, int64_t>> dimOf);
  /// A scratch buffer; `dynamicSizes` one per dynamic dim of `shape`.
  mlir::Value alloc(llvm::ArrayRef<int64_t> shape, mlir::Type elt,
                    mlir::ValueRange dynamicSizes = {});
  /// `ceildiv(dim(buffer, i), tile)`.
  mlir::Value gridFromDim(mlir::Value buffer, int64_t dimIndex, int64_t tileExtent);
  /// Host-side index constant, `dim`, and `ceildiv(v, d)`.
  mlir::Value hostIdx(int64_t v);
  mlir::Value hostDim(mlir::Value buffer, int64_t i);
  mlir::Value hostCeilDiv(mlir::Value v, int64_t d);
  /// The status buffer (`!spak_tile.buffer<1xi32>`, a trailing host-function
  /// argument with the `spak.status` attribute), added on first use. Kernels
  /// set status[0] = 1 when they meet an id outside its range.
  mlir::Value statusBuffer();

  //--- kernels ----------------------------------------------------------------
  /// A fresh kernel `@<base>_<n>` before the host function, with an entry
  /// block; the caller fills it (KernelBuilder at the block start) and ends it
  /// with `KernelBuilder::ret`.
  KernelOp newKernel(llvm::StringRef base, llvm::ArrayRef<mlir::Value> args,
                     llvm::ArrayRef<llvm::StringRef> grid, llvm::StringRef math,
                     ConfigAttr config);
  void launch(KernelOp kernel, llvm::ArrayRef<mlir::Value> grid,
              llvm::ArrayRef<mlir::Value> args);

  //--- planning attributes -----------------------------------------------------
  /// `spak.tile_config` of the op (diagnosed when missing).
  mlir::FailureOr<ConfigAttr> config();
  /// `spak.tile_config` if present, else a config of `laws` built from the
  /// module's `spak.laws` / defaults (ops the planning passes do not classify).
  ConfigAttr configOrModuleLaws(llvm::ArrayRef<llvm::StringLiteral> laws);
  mlir::FailureOr<ExtentAttr> extent(llvm::StringRef name);
  mlir::FailureOr<LawAttr> floorLaw();
  double floatAttr(llvm::StringRef name, double fallback);
  int64_t intAttr(llvm::StringRef name, int64_t fallback);
  bool boolAttr(llvm::StringRef name, bool fallback = false);

  /// Checks operand/result counts and that they are ranked tensors.
  mlir::LogicalResult expectOperands(unsigned lo, unsigned hi, unsigned results = 1);

  /// True when every use of `v` other than by the current op comes before it
  /// in the host block (so the current op may overwrite v's buffer).
  bool isLastUse(mlir::Value v) const;

  /// Softmax statistics a flash-attention forward saved for the
  /// attention_grad of the same q, k, v (key: that attention_grad op): `lse`
  /// [B, H, T, 1] = m + log l per query row, and the forward's output `out`
  /// [B, T, C]. The backward then reads them instead of recomputing the
  /// forward (FlashAttention-2). Only the optimizer updates buffers in place,
  /// so `out` is unchanged when the backward runs.
  struct SavedAttention {
    mlir::Value lse, out;
  };
  llvm::DenseMap<mlir::Operation *, SavedAttention> savedAttention;

  /// Values that are a column range of a wider buffer (rule apply
  /// `attention_reads_split`): the split's q, k, v are the columns [i·C,
  /// (i+1)·C) of the qkv buffer, attention_grad's dq, dk, dv those of the
  /// concat's. buf(v) is the wide buffer; the attention kernels add the offset.
  llvm::DenseMap<mlir::Value, int64_t> columnOffsets;
  int64_t columnOffset(mlir::Value v) const {
    auto it = columnOffsets.find(v);
    return it == columnOffsets.end() ? 0 : it->second;
  }

private:
  mlir::LogicalResult lowerFunc(mlir::func::FuncOp f);
  mlir::LogicalResult checkPlanned(mlir::Operation *op);

  mlir::ModuleOp module;
  const LoweringTable &table;
  mlir::IRMapping map;
  mlir::func::FuncOp hostFunc;
  mlir::Operation *currentOp = nullptr;
  mlir::Value status;
  llvm::StringMap<unsigned> nameCounts;
  llvm::DenseMap<mlir::Value, mlir::Type> argTensorTypes;
};

//===----------------------------------------------------------------------===//
// Shared helpers
//===----------------------------------------------------------------------===//

/// Product of static dims; ShapedType::kDynamic if any is dynamic.
int64_t product(llvm::ArrayRef<int64_t> dims);
/// Shortest readable spelling of a number for a kernel's math comment.
std::string fmtNum(double v);
/// `ceildiv(<what>, <tile>)` for a kernel's grid description.
std::string ceilDivStr(llvm::StringRef what, int64_t tile);

/// The online (max, sum-of-exp) loop over column chunks of rows [r0, r0+rt)
/// of X: returns (m, l) with l = sum_c exp(x[r, c] - m[r]); out-of-range
/// columns take the stability floor. Shared by softmax, cross_entropy and
/// cross_entropy_grad. `forceMask`: mask the columns at C even when the
/// extents need no mask (C = the classes in front of vocabulary padding).
/// The enabled rule of the module whose apply is `attention_reads_split`
/// (its name goes into kernel comments); null when there is none.
spak::graph::RuleAttr attentionReadsSplitRule(mlir::Operation *anyOp);
/// True when rule apply `attention_reads_split` is enabled and `split` (last
/// axis, rank 3) feeds only flash attention (q, k, v) and attention_grad (q, k,
/// v): those read the split's input directly, so the split needs no kernel.
bool splitReadByAttention(mlir::Operation *split);
/// The concat (last axis, rank 3) that is the only user of each of
/// attention_grad's dq, dk, dv, in that order, when rule apply
/// `attention_reads_split` is enabled: attention_grad then writes into the
/// concat's buffer and the concat needs no kernel. Null otherwise.
mlir::Operation *concatOfAttentionGrad(mlir::Operation *grad);

/// The `classes` attribute of a cross_entropy / cross_entropy_grad (set by
/// spak-pad-vocab), when it is smaller than the logits' last dim: the
/// columns from it on are vocabulary padding.
std::optional<int64_t> classesOf(mlir::Operation *op);

/// Whether a row kernel's rows need no mask: a static row count the row tile divides, or one row per program (the
/// grid is the row count). Then the whole column chunks before a row's ragged tail run unmasked.
bool rowsInBounds(ExtentAttr er);

std::pair<mlir::Value, mlir::Value> emitOnlineMaxSum(KernelBuilder &k, mlir::Value X,
                                                     mlir::Value r0, mlir::Value R,
                                                     mlir::Value C, ExtentAttr er,
                                                     ExtentAttr ec, int64_t rt, LawAttr floor,
                                                     bool forceMask = false);

/// Elements per program of a flat map: vec_width · 32 · warps.
int64_t elementwiseBlock(ConfigAttr cfg);

/// adam's step operand read from its buffer `S` (type `stepT`: rank-0, or [s, N] of 2 elements) as two
/// tile<1xf32>: the 0-based step s and the schedule length (N when N > 0, else `defaultTotal`).
std::pair<mlir::Value, mlir::Value> emitStepScalars(KernelBuilder &k, mlir::Value S,
                                                    mlir::RankedTensorType stepT, int64_t defaultTotal);

/// The scheduled learning rate at step `s` (a tile<1xf32> holding the 0-based step) as a tile<1xf32>, with
/// `total` (a tile<1xf32>) the schedule length: warmup lr (s+1)/(W+1) for s < W, then constant / linear_decay
/// lr (1 - s/total) / cosine min_lr + (lr - min_lr) (1 + cos(pi r))/2 with r = (s - W)/(total - W) clamped to
/// [0, 1] (span 1 if total <= W; cos by an odd polynomial, |error| < 1e-9), min_lr once s > total.
/// Shared by the per-tensor and the multi-tensor adam lowerings (GraphToTileOptimizer.cpp).
mlir::Value emitLearningRate(KernelBuilder &k, mlir::Value s, double lr, llvm::StringRef schedule,
                             int64_t warmup, double minLr, mlir::Value total);

/// Computes one result tile from the operand tiles (all of type `t`).
using MapFn = llvm::function_ref<mlir::Value(KernelBuilder &k, llvm::ArrayRef<mlir::Value> xs,
                                             TileType t)>;
/// An elementwise f32 map `result = f(operands...)` with numpy trailing
/// broadcasting: a flat vectorised kernel when every operand has the result's
/// shape, else a grouped kernel (1-3 dim groups, the tile along the last).
/// Allocates and maps `result`. `shapes`, when given, overrides the operand
/// shapes used for broadcasting (same element count as the operand).
mlir::LogicalResult emitMap(Lowering &L, llvm::StringRef base, llvm::StringRef math,
                            mlir::ValueRange operands, mlir::Value result, ConfigAttr cfg,
                            MapFn f, llvm::ArrayRef<llvm::SmallVector<int64_t>> shapes = {});

} // namespace spak::tile

#endif // SPAK_CONVERSION_GRAPHTOTILE_LOWERING_H
