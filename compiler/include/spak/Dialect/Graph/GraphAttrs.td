//===- GraphAttrs.td - attributes of the spak_graph dialect ---------------===//
//
// #spak_graph.rule: one rule of the rule library as the module carries it in
// `spak.rules` (name, what it applies, whether it is on, its priority and the
// file:line:col it came from, so every decision can cite its source).
//
//===----------------------------------------------------------------------===//
#ifndef SPAK_GRAPH_ATTRS
#define SPAK_GRAPH_ATTRS

include "spak/Dialect/Graph/GraphDialect.td"
include "mlir/IR/AttrTypeBase.td"

def Graph_RuleAttr : AttrDef<Graph_Dialect, "Rule"> {
  let mnemonic = "rule";
  let summary = "A rule from the rule library, with its source location";
  let description = [{
    ```mlir
    #spak_graph.rule<name = "fuse_rmsnorm", apply = "fuse(rmsnorm, linear)",
                     enabled = true, priority = 10, loc = "rules/fusion.dsl:12:3">
    ```
    `name` must be non-empty; `loc` is "file:line:col" (or "" when synthesized).
  }];
  let parameters = (ins
    StringRefParameter<"rule name">:$name,
    StringRefParameter<"the transformation it applies">:$apply,
    "bool":$enabled,
    "int64_t":$priority,
    StringRefParameter<"file:line:col of the rule">:$loc
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

#endif // SPAK_GRAPH_ATTRS
