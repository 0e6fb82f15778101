//===- Passes.td - tile planning passes (laws, floor, pow2 masking) -------===//
//
// These passes run on the graph (spak_graph ops inside a module) before
// --spak-lower-graph-to-tile and annotate each op that will become a kernel:
//   spak.tile_config = #spak_tile.config<...>   (spak-apply-laws)
//   spak.floor       = #spak_tile.law<"stability_floor", ...> (spak-stability-floor)
//   spak.extents     = {m = #spak_tile.extent<?, 64>, ...}    (spak-pow2-masking)
//
//===----------------------------------------------------------------------===//
#ifndef SPAK_TILE_TRANSFORMS_PASSES
#define SPAK_TILE_TRANSFORMS_PASSES

include "mlir/Pass/PassBase.td"

def ApplyLaws : Pass<"spak-apply-laws", "::mlir::ModuleOp"> {
  let summary = "Attach the hardware laws (tile sizes, latencies, stages) to kernel-bound graph ops";
  let description = [{
    Reads the module's `spak.laws` dictionary (set by spakc from the selected
    target file; laws that are absent take their documented default, with
    provenance "default") and attaches `spak.tile_config` to every graph op
    that becomes a kernel, holding the laws its kernel kind reads:
    matmul/linear (tile_m, tile_n, tile_k, stages, warps), attention (tile_m,
    tile_n, k_lat, v_lat, warps), row-wise ops (row_tile, warps), elementwise
    ops (vec_width, warps). A pass option overrides a law everywhere and
    records provenance "option:<flag>". Malformed laws (not positive, not a
    power of two where a tile size must be) are errors.
  }];
  let options = [
    Option<"tileM", "tile-m", "int64_t", "0", "override law tile_m (0: from the rules)">,
    Option<"tileN", "tile-n", "int64_t", "0", "override law tile_n (0: from the rules)">,
    Option<"tileK", "tile-k", "int64_t", "0", "override law tile_k (0: from the rules)">,
    Option<"kLat", "k-lat", "int64_t", "0", "override law k_lat (0: from the rules)">,
    Option<"vLat", "v-lat", "int64_t", "0", "override law v_lat (0: from the rules)">,
    Option<"stages", "stages", "int64_t", "0", "override law stages (0: from the rules)">,
    Option<"warps", "warps", "int64_t", "0", "override law warps (0: from the rules)">,
    Option<"rowTile", "row-tile", "int64_t", "0", "override law row_tile (0: from the rules)">,
    Option<"vecWidth", "vec-width", "int64_t", "0", "override law vec_width (0: from the rules)">,
    Option<"mmaBits", "mma-bits", "int64_t", "0", "override law mma_bits (0: from the rules; 32 or 16)">,
    Option<"minCtas", "min-ctas", "int64_t", "0", "override law min_ctas (0: from the rules)">,
    Option<"splitKChunk", "split-k-chunk", "int64_t", "0", "override law split_k_chunk (0: from the rules)">,
    Option<"mmaSchedule", "mma-schedule", "int64_t", "0", "override law mma_schedule (0: from the rules; 1 or 2)">
  ];
  let dependentDialects = ["::spak::tile::TileDialect"];
}

def StabilityFloor : Pass<"spak-stability-floor", "::mlir::ModuleOp"> {
  let summary = "Set the masking value of attention/softmax/cross-entropy to the stability floor";
  let description = [{
    Masked logits take the module's stability floor (`spak.stability_floor`,
    else `spak.laws.stability_floor`, else -1e20), never -inf: with -inf,
    exp(s - m) is exp(-inf - (-inf)) = NaN for a fully masked row. The pass
    attaches `spak.floor = #spak_tile.law<"stability_floor", v, provenance>`
    to attention, attention_grad, softmax, cross_entropy and
    cross_entropy_grad. A floor that is -inf, +inf, NaN or not negative is
    an error. `floor` overrides the value (provenance "option:floor").
  }];
  let options = [
    Option<"floor", "floor", "double", "0.0", "override the stability floor (0: from the rules)">
  ];
  let dependentDialects = ["::spak::tile::TileDialect"];
}

def Pow2Masking : Pass<"spak-pow2-masking", "::mlir::ModuleOp"> {
  let summary = "Record padded tile extents for non-power-of-two and dynamic dims";
  let description = [{
    For every op carrying `spak.tile_config`, records how tiles cover each
    dimension the kernel tiles, as `spak.extents = {name = #spak_tile.extent<size, tile>}`:
    matmul/linear m/n/k by tile_m/tile_n/tile_k, attention q/kv rows by
    tile_m/tile_n and the head dim d by its next power of two, row-wise ops
    rows by row_tile and the row length cols by its next power of two (384 →
    512, 768 → 1024, 50257 → 65536), elementwise ops the flat element count by
    vec_width·32·warps. Dynamic dims (T) are recorded as `?`. An extent whose
    size is dynamic or not a multiple of its tile needs masked loads/stores;
    the lowering emits exactly those masks. Requires spak-apply-laws first.

    Bounded dynamic dims: a tile never exceeds the next power of two of the
    largest size its dimension can take. A dynamic dim is at most
    `max-dynamic` (option), else spak.train's batch · seq_len (the trainer's
    largest T times the batch: T itself, or B·T flattened), else unbounded.
    So MicroGPT's T ≤ 16 gets 16-row matmul and attention tiles instead of
    tile_m = 64 / tile_n = 128 rows, 7/8 of them masked. Only the tile
    shrinks: the size stays `?`, masks and grids follow the run-time T, so a
    longer T is still correct (more programs / loop steps). Elementwise block
    sizes are not extents and do not change.
  }];
  let options = [
    Option<"maxDynamic", "max-dynamic", "int64_t", "0",
           "upper bound of any dynamic dim (0: spak.train batch * seq_len when present; <0: unbounded)">
  ];
  let dependentDialects = ["::spak::tile::TileDialect"];
}


def DedupKernels : Pass<"spak-dedup-kernels", "::mlir::ModuleOp"> {
  let summary = "Merge structurally identical spak_tile.kernel ops (one kernel per distinct tile program)";
  let description = [{
    The graph → tile lowering emits one kernel per op instance, so a 12-layer
    model has twelve copies of the same layernorm, matmul or attention tile
    program. This pass keeps the first kernel of each class of kernels that
    are identical apart from their name (same signature, grid, math, laws
    and body; locations ignored), points every `spak_tile.launch` of the
    others at it and erases them. Emitted code and its compile time shrink
    accordingly (GPT-2 124M: 1357 → a few hundred kernels); host functions
    are unchanged apart from the launched symbol. spakc runs it after the
    graph → tile lowering (`--no-dedup` keeps every kernel).
  }];
}

def Bf16Operands : Pass<"spak-bf16-operands", "::mlir::ModuleOp"> {
  let summary = "Matmul k-loops read bf16 copies of their operands, made once by a cast kernel (cuda, mma_schedule = 5)";
  let description = [{
    With `mma_bits = 16` the tensor-core mma rounds its operands to bf16, so
    a k-loop reading f32 activations and weights moves twice the bytes it
    uses. In kernels whose laws say `mma_bits = 16` and `mma_schedule >= 5`,
    an argument read only by k-loop loads (depth law `stages`) that feed mma
    operands (both operands of each such mma, k a multiple of 16) becomes a
    bf16 buffer and its loads bf16 tiles. Every host-function launch of such a
    kernel gets a bf16 copy of the argument: an alloc and a launch of
    `@cast_bf16` (one flat elementwise kernel, `vec_width * 32 * warps`
    elements per program), reused until a launch writes that buffer (or any
    view of it) or a call intervenes. spakc runs it only on the module the
    CUDA emitter gets; the cpp target keeps fp32 operands. With
    `mma_schedule >= 8`, attention's k-loop tiles (depth law k_lat / v_lat,
    read only as tensor-core mma operands) get bf16 copies too, each alone:
    the mma's other operand may stay f32.
  }];
  let dependentDialects = ["::spak::tile::TileDialect", "::mlir::arith::ArithDialect"];
}

def Bf16Producers : Pass<"spak-bf16-producers", "::mlir::ModuleOp"> {
  let summary = "The kernel that writes an f32 buffer also writes its bf16 copy; the cast launch goes (cuda, after spak-bf16-operands)";
  let description = [{
    A `@cast_bf16` launch (spak-bf16-operands) re-reads an f32 buffer that,
    for activations and gradients, a kernel wrote shortly before. When the
    buffer is an alloc of the host function with exactly one writing launch
    before the cast, and that kernel touches the argument only with stores of
    f32 register tiles, the pass gives the producer a variant
    (`<family>_bf16_<n>`) whose every such store has a twin: the value
    converted to bf16 stored at the same offsets under the same mask into an
    appended bf16 argument. The copy is allocated before the producer's
    launch (the old copy alloc becomes a view of it) and the cast launch is
    erased. When nothing but the producer and the erased casts uses the f32
    buffer, the variant drops the f32 stores (the argument stays, unwritten).
    Weight casts (function arguments) stay.
  }];
  let dependentDialects = ["::spak::tile::TileDialect", "::mlir::arith::ArithDialect"];
}

#endif // SPAK_TILE_TRANSFORMS_PASSES
