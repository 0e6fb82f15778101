// A malformed spak.rules is a precise error, not a crash.
// RUN: not spak-opt %s -spak-fusion 2>&1 | FileCheck %s
// CHECK: error: 'spak.rules' entry #0 is not a #spak_graph.rule: "fuse"
module attributes {spak.rules = ["fuse"]} {
}
