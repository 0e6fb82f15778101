//===- GraphFusionOps.td - fused regions of spak_graph --------------------===//
//
// `spak_graph.fused` groups graph ops that one rule of the rule library
// (rules/fusion.dsl) decided to run as ONE kernel, and `spak_graph.yield`
// ends its body. The fusion passes (lib/Transforms/Fusion*.cpp) create the
// regions; the lowering (lib/Conversion/GraphToTile/FusedRegions.cpp) turns
// each region into a single spak_tile.kernel; the reference interpreter runs
// a region by running its body, so a fused function means exactly what the
// unfused one does. docs/fusion.md describes every kind.
//
// Included from GraphOps.td (one line), so the ops are part of the dialect's
// op list; the verifiers live in lib/Dialect/Graph/GraphFusionOps.cpp.
//
//===----------------------------------------------------------------------===//
#ifndef SPAK_GRAPH_FUSION_OPS
#define SPAK_GRAPH_FUSION_OPS

include "spak/Dialect/Graph/GraphBase.td"

def Graph_FusedOp : Graph_Op<"fused", [IsolatedFromAbove, RecursiveMemoryEffects, SingleBlock]> {
  let summary = "A region of graph ops fused by a rule into one kernel";
  let description = [{
    ```mlir
    %q, %k = spak_graph.fused "norm_linear" (%x, %wq, %wk)
        {rule = "Fuse RMSNorm", rule_loc = "rules/fusion.dsl:4:3"}
        : (tensor<1x?x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>)
        -> (tensor<1x?x16xf32>, tensor<1x?x16xf32>) {
    ^bb0(%a: tensor<1x?x16xf32>, %b: tensor<16x16xf32>, %c: tensor<16x16xf32>):
      %n = spak_graph.rmsnorm %a {eps = 1.0e-05 : f64} : (tensor<1x?x16xf32>) -> tensor<1x?x16xf32>
      %0 = spak_graph.linear %n, %b : (tensor<1x?x16xf32>, tensor<16x16xf32>) -> tensor<1x?x16xf32>
      %1 = spak_graph.linear %n, %c : (tensor<1x?x16xf32>, tensor<16x16xf32>) -> tensor<1x?x16xf32>
      spak_graph.yield %0, %1 : tensor<1x?x16xf32>, tensor<1x?x16xf32>
    }
    ```
    The body is isolated from above: its block arguments are the region's
    operands, in order, with the same types; `spak_graph.yield` returns the
    region's results. The body holds the original graph ops unchanged, so its
    meaning is the unfused graph's. `kind` says which fused kernel the body
    becomes, and the verifier checks that the body has that kind's shape:

    | kind | body |
    |---|---|
    | `norm_linear` | `rmsnorm(%arg0)`, then one or more `linear(norm, w [, b])` of one output width; yields the linears |
    | `linear_bias_gelu` | `linear(x, w [, b])`, `gelu(linear)`; yields the gelu [and the linear] |
    | `linear_residual` | `linear(x, w [, b])`, `add(linear, r)` or `add(r, linear)` of one type; yields the add [and the linear] |
    | `softmax_xent` | `cross_entropy(l, t)`, `cross_entropy_grad(g, l, t)`; yields (loss, dlogits) |
    | `multi_tensor_adam` | one or more `adam` with equal attributes and one step; yields (p', m', v') of each, in order |

    (The flash-attention rule chooses an algorithm for a single op, so it
    marks the attention op with `spak.fusion` instead of making a region.)
    `rule` is the rule's name and `rule_loc` where it was written
    ("file:line:col"), or "option:force" / "" when a pass option or a test
    made the region without a rule; `spakc explain` and the emitted kernels
    cite both.
  }];
  let arguments = (ins Variadic<AnyRankedTensor>:$inputs, StrAttr:$kind, StrAttr:$rule,
                       DefaultValuedStrAttr<StrAttr, "">:$rule_loc);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $kind `(` $inputs `)` attr-dict `:` functional-type($inputs, $results) $body
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
  let skipDefaultBuilders = 1;
  let builders = [
    OpBuilder<(ins "::mlir::TypeRange":$resultTypes, "::mlir::ValueRange":$inputs,
                   "::llvm::StringRef":$kind, "::llvm::StringRef":$rule,
                   "::llvm::StringRef":$ruleLoc)>
  ];
  let extraClassDeclaration = [{
    /// The kinds a region may have (the table above), in documentation order.
    static ::llvm::ArrayRef<::llvm::StringLiteral> knownKinds();
    /// The body's single block.
    ::mlir::Block &getBodyBlock() { return getBody().front(); }
    /// The ops of the body, without the terminator.
    auto getBodyOps() { return getBodyBlock().without_terminator(); }
    /// "rule \"Fuse RMSNorm\" (rules/fusion.dsl:4:3)" for comments and messages.
    std::string describeRule();
  }];
}

def Graph_YieldOp : Graph_Op<"yield", [Pure, HasParent<"FusedOp">, Terminator]> {
  let summary = "Returns the results of a fused region";
  let arguments = (ins Variadic<AnyRankedTensor>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
}

#endif // SPAK_GRAPH_FUSION_OPS
