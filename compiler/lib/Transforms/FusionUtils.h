//===- FusionUtils.h - shared helpers of the fusion passes ------*- C++ -*-===//
//
// Private to lib/Transforms/Fusion*.cpp:
//  - rule lookup: which #spak_graph.rule of the module's `spak.rules` asks for
//    a fusion (matched on its `apply`, whitespace and quotes ignored), and the
//    decision fuse / do not fuse with the provenance the region records;
//  - region building: wrap a set of graph ops of one block into a
//    spak_graph.fused region (clones in the body, uses rewired, originals
//    erased when unused), refusing when that would break dominance.
//
//===----------------------------------------------------------------------===//
#ifndef SPAK_LIB_TRANSFORMS_FUSIONUTILS_H
#define SPAK_LIB_TRANSFORMS_FUSIONUTILS_H

#include "spak/Dialect/Graph/Graph.h"

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace spak::fusion {

/// Whether a fusion applies, and the provenance a region records.
struct Decision {
  bool fuse = false;
  std::string rule;  // rule name, or "option:force"
  std::string loc;   // "file:line:col", "option:<flag>" or ""
  int64_t priority = 0;
  bool rulePresent = false; // a rule with this apply exists (enabled or not)
};

/// Looks for a rule whose normalized apply is one of `applies`. An enabled
/// rule wins over a disabled one; among equals, the first in `spak.rules`.
/// Fails (diagnosed on the module) when `spak.rules` is not an array of
/// #spak_graph.rule. With `force`, decides to fuse even without a rule.
mlir::FailureOr<Decision> decide(mlir::ModuleOp module, llvm::ArrayRef<llvm::StringRef> applies,
                                 bool force, int64_t defaultPriority);

/// Wraps clones of `ops` (graph ops of one block, body order as given) into a
/// `spak_graph.fused` region of `kind`, placed right after the last of `ops`
/// in the block, yielding `outputs` (results of `ops`). Uses of `outputs`
/// outside `ops` are redirected to the region's results; then each of `ops`
/// left without uses is erased. Returns null, changing nothing, when a use
/// of an output precedes that position (the region could not dominate it).
graph::FusedOp buildRegion(llvm::ArrayRef<mlir::Operation *> ops, llvm::ArrayRef<mlir::Value> outputs,
                           llvm::StringRef kind, const Decision &decision);

/// The ops of the function bodies of `module` (top level of each block: ops
/// already inside a fused region are not visited), in order, collected first
/// so callers may rewrite while iterating.
llvm::SmallVector<mlir::Operation *> topLevelOps(mlir::ModuleOp module);

/// The rule/apply tables shared by the pipeline and the passes.
struct FusionRule {
  llvm::StringLiteral pass;                    // pass argument
  llvm::ArrayRef<llvm::StringRef> applies;     // accepted spellings of `apply`
  int64_t defaultPriority;                     // rules/fusion.dsl's priority
};
llvm::ArrayRef<llvm::StringRef> normLinearApplies();
llvm::ArrayRef<llvm::StringRef> geluEpilogueApplies();
llvm::ArrayRef<llvm::StringRef> residualEpilogueApplies();
llvm::ArrayRef<llvm::StringRef> geluGradEpilogueApplies();
llvm::ArrayRef<llvm::StringRef> softmaxXentApplies();
llvm::ArrayRef<llvm::StringRef> attentionApplies();
llvm::ArrayRef<llvm::StringRef> adamApplies();

/// Why a fusion did not happen (read by `spakc explain`). Recording is opt-in:
/// only when the module carries the unit attribute `spak.record_fusion_refusals`
/// does each pass append `{rule, rule_loc, kind, op, loc, func, reason}` entries
/// to the module's `spak.fusion_refused` array (op/loc/func empty for refusals
/// of the whole module, e.g. a disabled rule). Without it, nothing changes.
inline constexpr llvm::StringLiteral kRecordRefusalsAttr = "spak.record_fusion_refusals";
inline constexpr llvm::StringLiteral kRefusedAttr = "spak.fusion_refused";
void recordRefusal(mlir::ModuleOp module, mlir::Operation *at, llvm::StringRef kind,
                   const Decision &decision, llvm::ArrayRef<llvm::StringRef> applies,
                   const llvm::Twine &reason);
/// "user(s): a, b" — the distinct op names (without dialect prefix) reading `v`.
std::string describeUsers(mlir::Value v);

/// Attributes of the attention pass: `spak.fusion = {kind, rule, rule_loc}` on
/// attention / attention_grad marked for the flash kernels; `spak.unfused =
/// "online_softmax"` on attention to decompose (rule disabled or absent).
inline constexpr llvm::StringLiteral kFusionAttr = "spak.fusion";
inline constexpr llvm::StringLiteral kUnfusedAttr = "spak.unfused";

} // namespace spak::fusion

#endif // SPAK_LIB_TRANSFORMS_FUSIONUTILS_H
