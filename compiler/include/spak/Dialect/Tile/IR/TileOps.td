//===- TileOps.td - spak_tile operations -----------------------------------===//
//
// Host side:   kernel, launch, alloc, view, dim
// Kernel side: program_id, load, store, atomic_add, mma, reduce, broadcast,
//              constant, iota, mask, cmp, select, extract, unary/binary math,
//              return. Loops are scf.for with loop-carried tiles; scalar index
//              math is arith.
//
//===----------------------------------------------------------------------===//

#ifndef SPAK_TILE_OPS
#define SPAK_TILE_OPS

include "spak/Dialect/Tile/IR/TileDialect.td"
include "spak/Dialect/Tile/IR/TileAttrs.td"
include "spak/Dialect/Tile/IR/TileTypes.td"
include "mlir/IR/OpBase.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/IR/RegionKindInterface.td"
include "mlir/Interfaces/FunctionInterfaces.td"
include "mlir/Interfaces/CallInterfaces.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"

//===----------------------------------------------------------------------===//
// Kernels and launches
//===----------------------------------------------------------------------===//

def Tile_KernelOp : Tile_Op<"kernel", [
    IsolatedFromAbove, Symbol, FunctionOpInterface, AutomaticAllocationScope]> {
  let summary = "one kernel: a tile program run by a grid of program instances";
  let description = [{
    ```mlir
    spak_tile.kernel @linear_0(%x: !spak_tile.buffer<?x16xf32>,
                               %w: !spak_tile.buffer<64x16xf32>,
                               %y: !spak_tile.buffer<?x64xf32>)
        attributes {grid = ["ceildiv(M, 64)", "ceildiv(N, 64)"],
                    math = "y[m, n] = sum_k x[m, k] * w[n, k]",
                    config = #spak_tile.config<{...}>} {
      ...
      spak_tile.return
    }
    ```
    Arguments are global buffers or scalars (index, integers, floats); kernels
    return nothing and write their outputs through buffers. `grid` describes
    each grid axis (1 to 3) in words for the emitted comment; the launch
    supplies the extents. `math` is the formula the emitters print above the
    kernel; `config` holds the laws that shaped it.
  }];
  let arguments = (ins
    SymbolNameAttr:$sym_name,
    TypeAttrOf<FunctionType>:$function_type,
    StrArrayAttr:$grid,
    StrAttr:$math,
    OptionalAttr<Tile_ConfigAttr>:$config,
    OptionalAttr<DictArrayAttr>:$arg_attrs,
    OptionalAttr<DictArrayAttr>:$res_attrs
  );
  let regions = (region SizedRegion<1>:$body);
  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
  let builders = [OpBuilder<(ins "::llvm::StringRef":$name, "::mlir::FunctionType":$type,
                                 "::llvm::ArrayRef<::llvm::StringRef>":$grid,
                                 "::llvm::StringRef":$math)>];
  let extraClassDeclaration = [{
    ::llvm::ArrayRef<::mlir::Type> getArgumentTypes() { return getFunctionType().getInputs(); }
    ::llvm::ArrayRef<::mlir::Type> getResultTypes() { return getFunctionType().getResults(); }
    ::mlir::Region *getCallableRegion() { return &getBody(); }
    unsigned getGridRank() { return getGrid().size(); }
    /// Creates the entry block with one argument per function input.
    ::mlir::Block *addEntryBlock();
    /// Per argument: whether the body stores into it (store / atomic_add).
    ::llvm::SmallVector<bool> getWrittenArguments();
  }];
}

def Tile_ReturnOp : Tile_Op<"return", [Pure, HasParent<"KernelOp">, Terminator, ReturnLike]> {
  let summary = "ends a kernel";
  let assemblyFormat = "attr-dict";
}

def Tile_LaunchOp : Tile_Op<"launch", [
    DeclareOpInterfaceMethods<SymbolUserOpInterface>, AttrSizedOperandSegments]> {
  let summary = "launches a kernel over a grid";
  let description = [{
    ```mlir
    spak_tile.launch @linear_0 [%gm, %gn] (%x, %w, %y)
        : (!spak_tile.buffer<?x16xf32>, !spak_tile.buffer<64x16xf32>, !spak_tile.buffer<?x64xf32>)
    ```
    The host-side step function is a sequence of launches over buffers (so it
    can be captured as one CUDA graph). One grid extent per kernel grid axis;
    argument types must match the kernel signature exactly.
  }];
  let arguments = (ins FlatSymbolRefAttr:$kernel, Variadic<Index>:$grid,
                       Variadic<AnyType>:$args);
  let assemblyFormat = [{
    $kernel `[` $grid `]` `(` $args `)` attr-dict `:` `(` qualified(type($args)) `)`
  }];
}

def Tile_AllocOp : Tile_Op<"alloc", [MemoryEffects<[MemAlloc]>]> {
  let summary = "allocates a global buffer (host side)";
  let description = [{
    `%b = spak_tile.alloc(%rows) : !spak_tile.buffer<?x64xf32>` — one index
    operand per dynamic dimension, in order. The emitted trainer carves
    buffers out of one arena; the contents are undefined until written.
  }];
  let arguments = (ins Variadic<Index>:$dynamicSizes);
  let results = (outs Tile_AnyBuffer:$result);
  let assemblyFormat = "`(` $dynamicSizes `)` attr-dict `:` qualified(type($result))";
  let hasVerifier = 1;
}

def Tile_ViewOp : Tile_Op<"view", [Pure]> {
  let summary = "reinterprets a contiguous buffer with another shape";
  let description = [{
    `%x2 = spak_tile.view %x : !spak_tile.buffer<?x?x16xf32> to !spak_tile.buffer<?x16xf32>`
    — e.g. [B, T, C] activations seen as [B*T, C] rows. Element types must be
    equal; when both shapes are static their element counts must agree.
  }];
  let arguments = (ins Tile_AnyBuffer:$source);
  let results = (outs Tile_AnyBuffer:$result);
  let assemblyFormat = "$source attr-dict `:` qualified(type($source)) `to` qualified(type($result))";
  let hasVerifier = 1;
}

def Tile_DimOp : Tile_Op<"dim", [Pure]> {
  let summary = "one dimension of a buffer";
  let description = [{
    `%t = spak_tile.dim %x, 0 : !spak_tile.buffer<?x16xf32>` — folds to a
    constant for static dimensions.
  }];
  let arguments = (ins Tile_AnyBuffer:$source, I64Attr:$index);
  let results = (outs Index:$result);
  let assemblyFormat = "$source `,` $index attr-dict `:` qualified(type($source))";
  let hasVerifier = 1;
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Program instance, memory
//===----------------------------------------------------------------------===//

def Tile_ProgramIdOp : Tile_Op<"program_id", [Pure]> {
  let summary = "this program instance's index along a grid axis";
  let arguments = (ins ConfinedAttr<I64Attr, [IntMinValue<0>, IntMaxValue<2>]>:$axis);
  let results = (outs Index:$result);
  let assemblyFormat = "$axis attr-dict";
  let hasVerifier = 1;
}

class Tile_MemOp<string mnemonic, list<Trait> traits = []>
    : Tile_Op<mnemonic, !listconcat(traits, [AttrSizedOperandSegments])> {
  let hasVerifier = 1;
  code memOpDecl = [{
    /// The buffer dimension that tile dimension `i` runs along.
    unsigned getBufferDimOfTileDim(unsigned i) {
      return getBuffer().getType().getRank() - getTileType().getRank() + i;
    }
  }];
}

def Tile_LoadOp : Tile_MemOp<"load", [MemoryEffects<[MemRead]>,
    OptionalTypesMatchWith<"the mask is the tile's shape in i1", "result", "mask",
        "::llvm::cast<::spak::tile::TileType>($_self).getMaskType()">]> {
  let summary = "loads a tile from a buffer";
  let description = [{
    ```mlir
    %k = spak_tile.load %kbuf[%row, %col] mask %m stage 0
           {latency = #spak_tile.law<"k_lat", 2, "rules/targets/sm90_h100.dsl:12:3">}
           : !spak_tile.buffer<?x16xf32> -> !spak_tile.tile<64x4xf32, smem>
    ```
    One offset per buffer dimension, in elements; the tile covers the
    trailing dimensions of the buffer starting at the offsets (leading buffer
    dimensions are indexed by their offset only). Masked-off lanes read 0.
    `latency` is the pipeline depth (prefetch distance, in loop iterations) the
    emitter should keep in flight, as the law that set it; `stage` names the
    software-pipeline stage. A tile that cannot evenly cover a static buffer
    dimension must carry a mask (the pow2-masking contract).
  }];
  let arguments = (ins Tile_AnyBuffer:$buffer, Variadic<Index>:$offsets,
                       Optional<Tile_MaskTile>:$mask,
                       OptionalAttr<Tile_LawAttr>:$latency,
                       OptionalAttr<ConfinedAttr<I64Attr, [IntMinValue<0>]>>:$stage);
  let results = (outs Tile_AnyTile:$result);
  let assemblyFormat = [{
    $buffer `[` $offsets `]` (`mask` $mask^)? (`stage` $stage^)? attr-dict `:` qualified(type($buffer)) `->` qualified(type($result))
  }];
  let extraClassDeclaration = memOpDecl # [{
    TileType getTileType() { return getResult().getType(); }
  }];
}

def Tile_StoreOp : Tile_MemOp<"store", [MemoryEffects<[MemWrite]>,
    OptionalTypesMatchWith<"the mask is the tile's shape in i1", "value", "mask",
        "::llvm::cast<::spak::tile::TileType>($_self).getMaskType()">]> {
  let summary = "stores a tile into a buffer";
  let description = [{
    `spak_tile.store %acc, %y[%row, %col] mask %m : !spak_tile.tile<64x64xf32>, !spak_tile.buffer<?x64xf32>`
    Same addressing and mask contract as `load`; masked-off lanes are not written.
  }];
  let arguments = (ins Tile_AnyTile:$value, Tile_AnyBuffer:$buffer, Variadic<Index>:$offsets,
                       Optional<Tile_MaskTile>:$mask);
  let assemblyFormat = [{
    $value `,` $buffer `[` $offsets `]` (`mask` $mask^)? attr-dict `:` qualified(type($value)) `,` qualified(type($buffer))
  }];
  let extraClassDeclaration = memOpDecl # [{
    TileType getTileType() { return getValue().getType(); }
  }];
}

def Tile_AtomicAddOp : Tile_MemOp<"atomic_add", [MemoryEffects<[MemRead, MemWrite]>,
    OptionalTypesMatchWith<"the mask is the tile's shape in i1", "value", "mask",
        "::llvm::cast<::spak::tile::TileType>($_self).getMaskType()">]> {
  let summary = "atomically adds a tile into a buffer";
  let description = [{
    `spak_tile.atomic_add %g, %dwte[%id, %c0] mask %m : !spak_tile.tile<1x16xf32>, !spak_tile.buffer<27x16xf32>`
    Used where several program instances accumulate into the same rows
    (embedding backward). Same addressing and mask contract as `store`.
  }];
  let arguments = (ins Tile_FloatTile:$value, Tile_AnyBuffer:$buffer, Variadic<Index>:$offsets,
                       Optional<Tile_MaskTile>:$mask);
  let assemblyFormat = [{
    $value `,` $buffer `[` $offsets `]` (`mask` $mask^)? attr-dict `:` qualified(type($value)) `,` qualified(type($buffer))
  }];
  let extraClassDeclaration = memOpDecl # [{
    TileType getTileType() { return getValue().getType(); }
  }];
}

//===----------------------------------------------------------------------===//
// Compute
//===----------------------------------------------------------------------===//

def Tile_MmaOp : Tile_Op<"mma", [Pure, AllTypesMatch<["acc", "result"]>]> {
  let summary = "matrix multiply-accumulate on tiles: op(a) · op(b) + acc";
  let description = [{
    ```mlir
    %acc1 = spak_tile.mma %a, %b, %acc {transpose_b}
              : !spak_tile.tile<64x32xf32>, !spak_tile.tile<64x32xf32> -> !spak_tile.tile<64x64xf32>
    ```
    With op(a) of shape MxK and op(b) of shape KxN, the accumulator is MxN.
    `transpose_a`/`transpose_b` read the operand transposed (b as NxK is the
    `linear` weight layout W[N, K]).
  }];
  let arguments = (ins Tile_FloatTile:$a, Tile_FloatTile:$b, Tile_FloatTile:$acc,
                       UnitAttr:$transpose_a, UnitAttr:$transpose_b);
  let results = (outs Tile_FloatTile:$result);
  let assemblyFormat = [{
    $a `,` $b `,` $acc attr-dict `:` qualified(type($a)) `,` qualified(type($b)) `->` qualified(type($result))
  }];
  let hasVerifier = 1;
}

def Tile_ReduceOp : Tile_Op<"reduce", [Pure]> {
  let summary = "reduces a tile along one axis (the axis is kept with extent 1)";
  let description = [{
    `%m = spak_tile.reduce max %s axis 1 : !spak_tile.tile<64x64xf32> -> !spak_tile.tile<64x1xf32>`
  }];
  let arguments = (ins Tile_ReduceKindAttr:$kind, Tile_AnyTile:$source,
                       ConfinedAttr<I64Attr, [IntMinValue<0>]>:$axis);
  let results = (outs Tile_AnyTile:$result);
  let assemblyFormat = "$kind $source `axis` $axis attr-dict `:` qualified(type($source)) `->` qualified(type($result))";
  let hasVerifier = 1;
}

def Tile_BroadcastOp : Tile_Op<"broadcast", [Pure]> {
  let summary = "broadcasts a scalar, or a tile's extent-1 dimensions, to a tile";
  let description = [{
    `%s = spak_tile.broadcast %lr : f32 -> !spak_tile.tile<1x64xf32>`
    `%m = spak_tile.broadcast %rowmax : !spak_tile.tile<64x1xf32> -> !spak_tile.tile<64x64xf32>`
  }];
  let arguments = (ins AnyTypeOf<[Tile_AnyTile, Tile_Scalar]>:$source);
  let results = (outs Tile_AnyTile:$result);
  let assemblyFormat = "$source attr-dict `:` qualified(type($source)) `->` qualified(type($result))";
  let hasVerifier = 1;
}

def Tile_ConstantOp : Tile_Op<"constant", [Pure, ConstantLike]> {
  let summary = "a tile with every element equal to one value";
  let description = [{
    `%z = spak_tile.constant 0.000000e+00 : !spak_tile.tile<64x64xf32>`
    `%f = spak_tile.constant -1.000000e+20 {law = #spak_tile.law<"stability_floor", -1.000000e+20, "default">} : ...`
    The value is a float (f64 attribute) for float tiles and an integer for
    integer tiles. A constant that comes from a rule names it in `law`, and
    must then equal the law's value.
  }];
  let arguments = (ins AnyAttrOf<[F64Attr, I64Attr]>:$value, OptionalAttr<Tile_LawAttr>:$law);
  let results = (outs Tile_AnyTile:$result);
  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Tile_IotaOp : Tile_Op<"iota", [Pure]> {
  let summary = "each element is its index along one axis";
  let description = [{
    `%i = spak_tile.iota axis 1 : !spak_tile.tile<64x32xi32>` — element
    (r, c) is c. Add a broadcast offset for global column numbers.
  }];
  let arguments = (ins ConfinedAttr<I64Attr, [IntMinValue<0>]>:$axis);
  let results = (outs Tile_IntTile:$result);
  let assemblyFormat = "`axis` $axis attr-dict `:` qualified(type($result))";
  let hasVerifier = 1;
}

def Tile_MaskOp : Tile_Op<"mask", [Pure, AttrSizedOperandSegments]> {
  let summary = "a tail or causal mask for a tile at given offsets";
  let description = [{
    ```mlir
    // element (i, j) is (r0 + i < R) && (c0 + j < C): the in-bounds part of a tail tile
    %m = spak_tile.mask bounds [%r0, %c0] within [%R, %C] : !spak_tile.tile<64x1024xi1>
    // element (i, j) is (c0 + j <= r0 + i): key column not after query row
    %c = spak_tile.mask causal [%r0, %c0] : !spak_tile.tile<64x64xi1>
    ```
  }];
  let arguments = (ins Tile_MaskKindAttr:$kind, Variadic<Index>:$offsets, Variadic<Index>:$bounds);
  let results = (outs Tile_MaskTile:$result);
  let assemblyFormat = [{
    $kind `[` $offsets `]` (`within` `[` $bounds^ `]`)? attr-dict `:` qualified(type($result))
  }];
  let hasVerifier = 1;
}

def Tile_CmpOp : Tile_Op<"cmp", [Pure, AllTypesMatch<["lhs", "rhs"]>]> {
  let summary = "elementwise comparison, giving a mask";
  let description = [{
    `%pos = spak_tile.cmp gt, %x, %zero : !spak_tile.tile<4x64xf32> -> !spak_tile.tile<4x64xi1>`
  }];
  let arguments = (ins Tile_CmpPredicateAttr:$predicate, Tile_AnyTile:$lhs, Tile_AnyTile:$rhs);
  let results = (outs Tile_MaskTile:$result);
  let assemblyFormat = "$predicate `,` $lhs `,` $rhs attr-dict `:` qualified(type($lhs)) `->` qualified(type($result))";
  let hasVerifier = 1;
}

def Tile_SelectOp : Tile_Op<"select", [Pure, AllTypesMatch<["onTrue", "onFalse", "result"]>]> {
  let summary = "elementwise choice between two tiles by a mask";
  let description = [{
    `%s = spak_tile.select %causal, %scores, %floor : !spak_tile.tile<64x64xi1>, !spak_tile.tile<64x64xf32>`
  }];
  let arguments = (ins Tile_MaskTile:$condition, Tile_AnyTile:$onTrue, Tile_AnyTile:$onFalse);
  let results = (outs Tile_AnyTile:$result);
  let assemblyFormat = "$condition `,` $onTrue `,` $onFalse attr-dict `:` qualified(type($condition)) `,` qualified(type($result))";
  let hasVerifier = 1;
}

def Tile_ExtractOp : Tile_Op<"extract", [Pure]> {
  let summary = "one element of a tile as a scalar";
  let description = [{
    `%id = spak_tile.extract %ids[0] : !spak_tile.tile<1xi32> -> i32` — e.g. a
    token id that addresses an embedding row.
  }];
  let arguments = (ins Tile_AnyTile:$source, DenseI64ArrayAttr:$position);
  let results = (outs Tile_Scalar:$result);
  let assemblyFormat = "$source `` $position attr-dict `:` qualified(type($source)) `->` qualified(type($result))";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise math
//===----------------------------------------------------------------------===//

class Tile_UnaryOp<string mnemonic, string formula>
    : Tile_Op<mnemonic, [Pure, SameOperandsAndResultType]> {
  let summary = "elementwise " # formula;
  let arguments = (ins Tile_FloatTile:$x);
  let results = (outs Tile_FloatTile:$result);
  let assemblyFormat = "$x attr-dict `:` qualified(type($result))";
}

def Tile_ExpOp   : Tile_UnaryOp<"exp", "e^x">;
def Tile_Exp2Op  : Tile_UnaryOp<"exp2", "2^x">;
def Tile_LogOp   : Tile_UnaryOp<"log", "natural logarithm">;
def Tile_SqrtOp  : Tile_UnaryOp<"sqrt", "square root">;
def Tile_RsqrtOp : Tile_UnaryOp<"rsqrt", "1 / sqrt(x)">;
def Tile_TanhOp  : Tile_UnaryOp<"tanh", "hyperbolic tangent">;
def Tile_ReluOp  : Tile_UnaryOp<"relu", "max(x, 0)">;
def Tile_NegOp   : Tile_UnaryOp<"neg", "-x">;

def Tile_ConvertOp : Tile_Op<"convert", [Pure]> {
  let summary = "elementwise float conversion (f32 <-> bf16)";
  let description = [{
    ```mlir
    %h = spak_tile.convert %x : !spak_tile.tile<1x512xf32> -> !spak_tile.tile<1x512xbf16>
    ```
    Same shape and memory space, another float element type. Narrowing rounds
    to nearest even (NaN stays NaN); widening is exact. The emitters hold bf16
    as its 16 bits (`uint16_t`), so a bf16 buffer is half the bytes of f32.
    `spak-bf16-operands` makes the cast kernels that use it.
  }];
  let arguments = (ins Tile_FloatTile:$x);
  let results = (outs Tile_FloatTile:$result);
  let assemblyFormat = "$x attr-dict `:` qualified(type($x)) `->` qualified(type($result))";
  let hasVerifier = 1;
}

class Tile_BinaryOp<string mnemonic, string formula, Type operandType = Tile_AnyTile>
    : Tile_Op<mnemonic, [Pure, SameOperandsAndResultType]> {
  let summary = "elementwise " # formula;
  let arguments = (ins operandType:$lhs, operandType:$rhs);
  let results = (outs operandType:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` qualified(type($result))";
}

def Tile_AddOp : Tile_BinaryOp<"add", "a + b">;
def Tile_SubOp : Tile_BinaryOp<"sub", "a - b">;
def Tile_MulOp : Tile_BinaryOp<"mul", "a * b">;
def Tile_DivOp : Tile_BinaryOp<"div", "a / b", Tile_FloatTile>;
def Tile_MaxOp : Tile_BinaryOp<"max", "max(a, b)">;

#endif // SPAK_TILE_OPS
