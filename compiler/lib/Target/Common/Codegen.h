//===- Codegen.h - shared machinery of the C++ and CUDA emitters -*- C++ -*-===//
//
// Private to SpakTarget. Both targets walk the same IR the same way:
//
//   * SourceWriter      indentation-aware text output
//   * KernelEmitterBase walks one spak_tile.kernel: names values, prints scalar
//                       index math (arith), scf.for loops with loop-carried
//                       tiles, and the "per element" tile ops (constant, iota,
//                       mask, cmp, select, unary/binary math, scalar broadcast,
//                       load, store, atomic_add) through three target hooks:
//                       how a tile is declared, how an element loop is opened,
//                       and how one element of a tile is named. The ops that
//                       move data between elements (reduce, tile broadcast,
//                       mma, extract) are target-specific.
//   * HostEmitter       turns host func.func's (alloc/view/dim/launch/arith)
//                       into C++ functions calling `launch_<kernel>(...)`.
//
//===----------------------------------------------------------------------===//
#ifndef SPAK_LIB_TARGET_COMMON_CODEGEN_H
#define SPAK_LIB_TARGET_COMMON_CODEGEN_H

#include "spak/Dialect/Tile/IR/Tile.h"
#include "spak/Target/Target.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringSet.h"

#include <functional>
#include <string>

namespace spak::target::detail {

//===----------------------------------------------------------------------===//
// Text output
//===----------------------------------------------------------------------===//

class SourceWriter {
public:
  /// Writes one line at the current indentation.
  void line(llvm::StringRef text);
  /// Writes an empty line.
  void blank() { text_ += "\n"; }
  /// Writes `text` verbatim (may span lines).
  void raw(llvm::StringRef text) { text_ += text.str(); }
  /// Inserts a line (at the current indentation) at byte `pos` of the text.
  void insertLine(size_t pos, llvm::StringRef text) {
    text_.insert(pos, std::string(static_cast<size_t>(depth_) * 2, ' ') + text.str() + "\n");
  }
  size_t size() const { return text_.size(); }
  void indent() { ++depth_; }
  void dedent() { --depth_; }
  std::string take() { return std::move(text_); }
  const std::string &str() const { return text_; }

private:
  std::string text_;
  int depth_ = 0;
};

/// Concatenates streamable values into a string.
template <typename... Args> std::string cat(Args &&...args) {
  std::string s;
  llvm::raw_string_ostream os(s);
  (os << ... << args);
  return s;
}

//===----------------------------------------------------------------------===//
// Types and literals
//===----------------------------------------------------------------------===//

/// The C++ spelling of a scalar element type (f32 -> float, index -> int64_t,
/// i1 -> bool, ...); fails for types the targets do not support (f16, bf16, ...).
mlir::FailureOr<std::string> cxxScalarType(mlir::Type type);
/// A C++ literal of `type` holding `value` (floats keep full precision, with
/// INFINITY / NAN spelled out).
std::string floatLiteral(double value, mlir::Type type);
/// The literal 0 of an element type (the value a masked load gives).
std::string zeroOf(mlir::Type elt);
std::string intLiteral(int64_t value, mlir::Type type);
/// A C identifier made from `name` (non-identifier characters become '_', a
/// leading digit or a C++/CUDA keyword gets a suffix).
std::string sanitizeIdentifier(llvm::StringRef name);
/// "64x16xf32" style shape text for comments.
std::string shapeText(llvm::ArrayRef<int64_t> shape);
/// The law's value as text ("64", "-1e+20").
std::string lawValueText(tile::LawAttr law);
/// "rules/targets/sm90_h100.dsl:9:3", or "default (docs/dialects/tile.md)".
std::string lawProvenanceText(tile::LawAttr law);
/// Number of elements of a tile.
int64_t numElements(tile::TileType type);

/// The C++ parameters of one kernel argument: a buffer becomes its data
/// pointer plus one int64_t per dynamic dimension, a scalar stays a scalar.
struct KernelParam {
  std::string name;   ///< argument base name (buffer pointer or scalar)
  mlir::Type type;    ///< BufferType or scalar
  bool written = false; ///< a buffer the kernel stores / atomically adds into
};
/// Base names for the kernel's arguments (`spak.name` arg attribute if given,
/// else arg<N>), with `written` filled in from the kernel body.
std::vector<KernelParam> kernelParams(tile::KernelOp kernel);
/// The parameter list text "const float* arg0, int64_t arg0_d0, float* arg1".
mlir::FailureOr<std::string> paramListText(tile::KernelOp kernel,
                                           llvm::ArrayRef<KernelParam> params);
/// "(void)arg0_d0; ..." for every dynamic-dim parameter (a kernel may not read them).
std::string unusedDimsText(llvm::ArrayRef<KernelParam> params);
/// The argument list text "arg0, arg0_d0, arg1" (forwarding the parameters).
std::string forwardArgsText(llvm::ArrayRef<KernelParam> params);

/// The header comment above a kernel: its math, grid and the laws of its config.
void writeKernelBanner(SourceWriter &w, tile::KernelOp kernel, llvm::StringRef targetNote);

/// Scalar (arith) op -> C++ right-hand side. `literal` is set when the result
/// is a constant that can be used inline. handled=false for non-arith ops.
mlir::FailureOr<std::string> scalarExprText(mlir::Operation *op,
                                            const std::function<std::string(mlir::Value)> &exprOf,
                                            bool &handled, bool &literal);

//===----------------------------------------------------------------------===//
// Kernel walker
//===----------------------------------------------------------------------===//

class KernelEmitterBase {
public:
  KernelEmitterBase(tile::KernelOp kernel, SourceWriter &w);
  virtual ~KernelEmitterBase() = default;

protected:
  // ---- naming ------------------------------------------------------------
  /// The C++ expression for an SSA value (a variable name, or a literal for
  /// constants and static dims).
  std::string expr(mlir::Value v);
  /// Binds `v` to a fresh variable named `<hint><N>` and returns the name.
  std::string bindNew(mlir::Value v, llvm::StringRef hint);
  void bind(mlir::Value v, llvm::StringRef text) { names_[v] = text.str(); }
  std::string fresh(llvm::StringRef hint);
  /// The name hint of the op that defines a tile ("ld", "acc", "max", ...).
  static std::string hintFor(mlir::Operation *op);

  // ---- walking -----------------------------------------------------------
  mlir::LogicalResult emitBody();
  mlir::LogicalResult emitBlock(mlir::Block &block);
  mlir::LogicalResult emitOp(mlir::Operation *op);
  mlir::LogicalResult emitScalarOp(mlir::Operation *op, bool &handled);
  /// Declares and binds a tile result: `T name[...]` via declareTile.
  std::string defineTile(mlir::Value v);
  /// The value whose tile declareTile() is declaring (null for copies such as loop-carried tiles).
  mlir::Value declaring_;
  mlir::LogicalResult emitFor(mlir::scf::ForOp op);
  /// k-loop software pipeline (pipelineLoad): the loads of a loop body that are prefetched into registers one
  /// iteration ahead -> the register array holding the next k-tile.
  struct Prefetch {
    std::string regs;       // register array (slots of the shared tile's element loop)
    mlir::Value iv;         // the loop's induction variable
    std::string next;       // the next iteration's induction value, as text
    std::string guard;      // condition for a next iteration
    bool last = false;      // the last prefetched load of the body: the prefetch of all of them follows it
  };
  llvm::DenseMap<mlir::Operation *, Prefetch> prefetch_;
  llvm::SmallVector<mlir::Operation *> prefetchOrder_;
  /// Masks read only by prefetched loads: emitted with each prefetch, not where the loop body has them.
  llvm::DenseSet<mlir::Operation *> prefetchedMasks_;
  /// Emits `regs[slot] = tile element` of `load` for the induction value `ivText` (its mask recomputed for it).
  mlir::LogicalResult emitPrefetch(tile::LoadOp load, const Prefetch &p, const std::string &ivText);
  mlir::LogicalResult emitPrefetchedLoad(tile::LoadOp load);
  /// The element-wise tile ops shared by both targets.
  mlir::LogicalResult emitElementwise(mlir::Operation *op, bool &handled);
  /// The element address inside a buffer for a load/store/atomic at the
  /// current element loop position: "x[(o0 + i0) * 16 + (o1 + i1)]" index text.
  /// The global element of a load / store at the current element loop's indices i0, i1, ... (`index`: other index
  /// texts per tile dimension instead: the staged epilogue stores' row pieces).
  std::string addressText(mlir::Value buffer, mlir::ValueRange offsets, unsigned tileRank,
                          llvm::ArrayRef<std::string> index = {});
  /// The element of a mask at the current element loop's indices (`index`: other index texts, as for addressText).
  std::string maskText(spak::tile::MaskOp m, llvm::ArrayRef<std::string> index = {});
  /// The size of buffer dimension `d` as an expression.
  std::string bufferDimText(mlir::Value buffer, unsigned d);

  // ---- target hooks ------------------------------------------------------
  /// Declares storage of a tile type named `name` (no initialisation).
  virtual void declareTile(tile::TileType type, const std::string &name) = 0;
  /// Opens / closes a loop visiting every element of a tile of `type`; inside,
  /// the multi-index is i0, i1, ... (when `needIndices`) and element names come
  /// from elem().
  virtual void openElementLoop(tile::TileType type, bool needIndices) = 0;
  virtual void closeElementLoop() = 0;
  /// The current element of the tile stored as `name` (of `type`) inside an
  /// element loop over its shape.
  virtual std::string elemOf(const std::string &name, tile::TileType type) = 0;
  std::string elem(mlir::Value v) { return elemOf(expr(v), llvm::cast<tile::TileType>(v.getType())); }
  /// The statement storing `value` into the current element of the tile stored as `name` (CUDA: operands kept as
  /// bf16 in shared memory round it on the way in).
  virtual std::string storeElem(const std::string &name, tile::TileType type, const std::string &value) {
    return elemOf(name, type) + " = " + value + ";";
  }
  /// Called around every write of a whole tile (CUDA: barriers for tiles in
  /// shared memory).
  /// Whether a load into shared memory inside a k-loop is prefetched into registers one iteration ahead (its
  /// global loads in flight during the mma of the current tile); the text of a register slot of such a copy.
  virtual bool pipelineLoad(tile::LoadOp) { return false; }
  /// Asynchronous k-loop pipeline (CUDA, mma_schedule = 4): the pipelined loads of a loop go through rings of shared
  /// tiles filled by asynchronous copies (cp.async) instead of register prefetch. asyncPrologue() runs before the
  /// loop (declares the rings, issues the first k-tiles), asyncLoad() at each such load inside it (waits for its
  /// k-tile and binds the tile to its ring slot), asyncEpilogue() after it.
  virtual bool asyncPipeline(llvm::ArrayRef<tile::LoadOp> piped) const { return false; }
  virtual mlir::LogicalResult asyncPrologue(mlir::scf::ForOp, llvm::ArrayRef<tile::LoadOp>) { return mlir::failure(); }
  virtual mlir::LogicalResult asyncLoad(tile::LoadOp) { return mlir::failure(); }
  virtual void asyncEpilogue() {}
  llvm::DenseSet<mlir::Operation *> asyncLoads_;
  virtual int64_t registerSlots(tile::TileType type) { return 0; }
  virtual std::string slotOf(const std::string &regs) { return regs + "[s]"; }
  /// A store the target writes its own way (CUDA: fragment tiles, two adjacent columns per 8-byte store); false
  /// when the generic element loop should.
  virtual bool emitPairedStore(tile::StoreOp) { return false; }
  /// A target's vector loads / stores of a whole tile (CUDA: the vector layout); false: the element loop.
  virtual bool emitVectorLoad(tile::LoadOp) { return false; }
  virtual bool emitVectorStore(tile::StoreOp) { return false; }
  /// After an elementwise op (a load, say) wrote its result tile: target-specific follow-up (the cuda target packs a
  /// tile read only as register mma operands into bf16 pairs).
  virtual void afterElementwise(mlir::Operation *) {}
  virtual void beforeTileWrite(tile::TileType) {}
  virtual void afterTileWrite(tile::TileType) {}
  /// program_id(axis) as an expression.
  virtual std::string programIdText(unsigned axis) = 0;
  /// A math function call on element type `type` ("std::exp(x)" / "expf(x)").
  virtual std::string mathCall(llvm::StringRef fn, mlir::Type type, llvm::StringRef x) = 0;
  virtual std::string maxCall(mlir::Type type, llvm::StringRef a, llvm::StringRef b) = 0;
  /// atomic_add of `value` into `lvalue`.
  virtual std::string atomicAddText(llvm::StringRef lvalue, llvm::StringRef value) = 0;
  /// Copies all elements of tile `src` into the storage `dstName` of type `dstType`.
  void copyTile(const std::string &dstName, tile::TileType dstType, mlir::Value src);
  /// Ops only the target knows (reduce, tile broadcast, mma, extract).
  virtual mlir::LogicalResult emitTargetOp(mlir::Operation *op) = 0;

  tile::KernelOp kernel_;
  SourceWriter &w_;
  std::vector<KernelParam> params_;
  llvm::DenseMap<mlir::Value, std::string> names_;
  llvm::DenseMap<mlir::Value, std::string> bufferNames_;
  unsigned counter_ = 0;
};

//===----------------------------------------------------------------------===//
// Host functions
//===----------------------------------------------------------------------===//

/// Emits every host func.func of the module as a C++ function
/// `R name(spak_gen::StepContext& ctx, args...)`; declarations go to `decls`.
mlir::LogicalResult emitHostFunctions(mlir::ModuleOp module, TargetKind kind, SourceWriter &decls,
                                      SourceWriter &defs, std::vector<std::string> &names);

/// The prelude shared by both targets (Grid, Buf, view, StepContext, ceildiv);
/// `cuda` adds the stream and the CUDA error check.
std::string commonPrelude(TargetKind kind);

} // namespace spak::target::detail

#endif // SPAK_LIB_TARGET_COMMON_CODEGEN_H
