//===- Laws.h - hardware laws, their defaults and provenance ----*- C++ -*-===//
//
// Helpers shared by the tile passes, the lowering and spakc:
//  - the table of known laws with their documented defaults
//    (docs/dialects/tile.md lists the same table),
//  - law lookup in a module's `spak.laws` dictionary with fallback to the
//    default (provenance "default"),
//  - the stability floor (`spak.stability_floor`, default -1e20),
//  - which graph ops become which kind of kernel, and the laws each kind uses,
//  - power-of-two / tile-cover arithmetic for pow2 masking.
//
//===----------------------------------------------------------------------===//
#ifndef SPAK_RULES_LAWS_H
#define SPAK_RULES_LAWS_H

#include "spak/Dialect/Tile/IR/Tile.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

namespace spak::rules {

/// Module attribute names (the contract between spakc and the passes).
inline constexpr llvm::StringLiteral kLawsAttr = "spak.laws";
inline constexpr llvm::StringLiteral kStabilityFloorAttr = "spak.stability_floor";
/// Attributes the planning passes put on graph ops.
inline constexpr llvm::StringLiteral kTileConfigAttr = "spak.tile_config";
inline constexpr llvm::StringLiteral kFloorAttr = "spak.floor";
inline constexpr llvm::StringLiteral kExtentsAttr = "spak.extents";

/// Provenance of a value that is not in any rules file.
inline constexpr llvm::StringLiteral kDefaultProvenance = "default";
inline constexpr double kDefaultStabilityFloor = -1e20;

struct LawDefault {
  llvm::StringLiteral name;
  int64_t value;
  llvm::StringLiteral meaning;
  bool mustBePowerOf2;
};

/// Every integer law the compiler reads, with its documented default.
llvm::ArrayRef<LawDefault> lawDefaults();
/// The default entry for `name`, or null when the compiler does not know it.
const LawDefault *findLawDefault(llvm::StringRef name);

/// `#spak_tile.law<name, default, "default">`; null for an unknown law.
tile::LawAttr defaultLaw(mlir::MLIRContext *ctx, llvm::StringRef name);

/// Law `name` from the module's `spak.laws` dictionary, or the default. Null
/// when neither exists or when the dictionary entry is not a law attribute
/// (use verifyModuleLaws first to diagnose that).
tile::LawAttr lookupLaw(mlir::ModuleOp module, llvm::StringRef name);

/// Checks `spak.laws`: a dictionary of law attributes, keys equal to law
/// names, known integer laws positive (and powers of two where required);
/// scoped keys (`matmul.warps`) name a kernel kind and a law that kind reads.
mlir::LogicalResult verifyModuleLaws(mlir::ModuleOp module);

/// The stability floor: `spak.stability_floor` (a law attribute or a float
/// attribute), else the `stability_floor` entry of `spak.laws`, else the
/// default -1e20. Fails, with a diagnostic on the module, for a value that is
/// not a number, not finite, or not negative.
mlir::FailureOr<tile::LawAttr> stabilityFloor(mlir::ModuleOp module);

/// What kind of kernel a graph op becomes.
/// AttentionGrad (attention_grad's dq and dkdv kernels) reads the attention laws: `attention_grad.NAME`, else
/// `attention.NAME`, else the target's `NAME`.
enum class KernelKind { None, Matmul, Attention, Row, Elementwise, AttentionGrad };
/// Classifies `spak_graph.<name>` by its op name ("spak_graph.linear").
KernelKind classifyGraphOp(llvm::StringRef opName);
/// The laws a kernel kind reads, in a fixed order.
llvm::ArrayRef<llvm::StringLiteral> lawsForKind(KernelKind kind);
/// True for ops that mask logits and therefore take the stability floor.
bool usesStabilityFloor(llvm::StringRef opName);
/// "matmul", "attention", "row", "elementwise", "attention_grad" ("" for None): the scope of a
/// kind's laws in a rules file, `law matmul.warps = 8`.
llvm::StringRef kindName(KernelKind kind);
/// Splits a scoped law name "matmul.warps" into its kind (None for an unknown
/// scope) and law; false for an unscoped name.
bool splitScopedLaw(llvm::StringRef key, KernelKind &kind, llvm::StringRef &law);
/// Why a scoped law name is wrong (unknown kind, unknown law, a law the kind
/// does not read), or "" when it is fine or not scoped.
std::string checkScopedLaw(llvm::StringRef key);
/// Law `name` for kernels of `kind`: the module's `<kind>.<name>` when the
/// rules scope it (named `name`, its provenance saying the scoped key), else
/// (attention_grad) the `attention.<name>` law, else lookupLaw(module, name).
tile::LawAttr lookupLawFor(mlir::ModuleOp module, KernelKind kind, llvm::StringRef name);

bool isPowerOf2(int64_t v);
/// Smallest power of two >= v (v >= 1).
int64_t nextPowerOf2(int64_t v);
/// The extent attribute for a dimension covered by tiles of `tile`, clamped
/// to the next power of two of a static size.
tile::ExtentAttr coverDim(mlir::MLIRContext *ctx, int64_t size, int64_t tile);
/// The extent attribute for a whole row held in one tile: the next power of
/// two (dynamic sizes cannot be held whole and return null).
tile::ExtentAttr coverRowPow2(mlir::MLIRContext *ctx, int64_t size);

/// Widest row a norm kernel holds in one tile (elements).
inline constexpr int64_t kMaxRowTile = 8192;
/// Column chunk of the online (max, sum) loop of softmax / cross-entropy.
inline constexpr int64_t kSoftmaxChunk = 1024;

} // namespace spak::rules

#endif // SPAK_RULES_LAWS_H
