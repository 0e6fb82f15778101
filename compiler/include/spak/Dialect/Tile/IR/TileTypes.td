//===- TileTypes.td - spak_tile types --------------------------------------===//
//
// !spak_tile.tile<64x32xf32>        a tile in registers (the default space)
// !spak_tile.tile<64x32xf32, smem>  a tile staged in shared memory
// !spak_tile.buffer<?x16xf32>       a row-major global buffer (kernel argument)
//
//===----------------------------------------------------------------------===//

#ifndef SPAK_TILE_TYPES
#define SPAK_TILE_TYPES

include "spak/Dialect/Tile/IR/TileDialect.td"
include "spak/Dialect/Tile/IR/TileAttrs.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/BuiltinTypeInterfaces.td"

class Tile_Type<string name, string typeMnemonic, list<Trait> traits = []>
    : TypeDef<Tile_Dialect, name, traits> {
  let mnemonic = typeMnemonic;
}

def Tile_TileType : Tile_Type<"Tile", "tile"> {
  let summary = "a statically shaped tile of elements held by one CTA";
  let description = [{
    A tile is the unit every tile op works on: a statically shaped block of
    elements owned by one program instance (CTA). The memory space says where
    the emitter keeps it: `reg` (registers, the default, elided when printed)
    or `smem` (shared memory, e.g. a pipelined load stage). All dimensions are
    static and positive; tail handling uses masks, never dynamic tile shapes.
  }];
  let parameters = (ins
    ArrayRefParameter<"int64_t">:$shape,
    "::mlir::Type":$elementType,
    "::spak::tile::MemorySpace":$memorySpace
  );
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let builders = [
    TypeBuilderWithInferredContext<(ins "::llvm::ArrayRef<int64_t>":$shape,
        "::mlir::Type":$elementType,
        CArg<"::spak::tile::MemorySpace", "::spak::tile::MemorySpace::reg">:$memorySpace), [{
      return $_get(elementType.getContext(), shape, elementType, memorySpace);
    }]>
  ];
  let extraClassDeclaration = [{
    int64_t getRank() const { return getShape().size(); }
    int64_t getNumElements() const;
    /// The same tile with another element type (e.g. i1 for masks).
    TileType withElementType(::mlir::Type type) const;
    /// The mask of this tile: same shape, i1 elements, in registers.
    TileType getMaskType() const;
    /// The same tile with another shape.
    TileType withShape(::llvm::ArrayRef<int64_t> shape) const;
  }];
}

def Tile_BufferType : Tile_Type<"Buffer", "buffer"> {
  let summary = "a row-major global-memory buffer, possibly with dynamic dims";
  let description = [{
    Kernel arguments and host-side tensors after lowering. Row-major and
    contiguous; `?` marks a dimension only known at run time (the sequence
    length T, the batch rows B*T). `spak_tile.dim` reads a dimension.
  }];
  let parameters = (ins
    ArrayRefParameter<"int64_t">:$shape,
    "::mlir::Type":$elementType
  );
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let builders = [
    TypeBuilderWithInferredContext<(ins "::llvm::ArrayRef<int64_t>":$shape,
        "::mlir::Type":$elementType), [{
      return $_get(elementType.getContext(), shape, elementType);
    }]>
  ];
  let extraClassDeclaration = [{
    int64_t getRank() const { return getShape().size(); }
    bool isDynamicDim(unsigned i) const { return ::mlir::ShapedType::isDynamic(getShape()[i]); }
    unsigned getNumDynamicDims() const;
  }];
}

def Tile_AnyTile : Type<CPred<"::llvm::isa<::spak::tile::TileType>($_self)">, "tile",
                        "::spak::tile::TileType">;
def Tile_AnyBuffer : Type<CPred<"::llvm::isa<::spak::tile::BufferType>($_self)">, "buffer",
                          "::spak::tile::BufferType">;
def Tile_FloatTile : Type<And<[Tile_AnyTile.predicate,
    CPred<"::llvm::isa<::mlir::FloatType>(::llvm::cast<::spak::tile::TileType>($_self).getElementType())">]>,
    "tile of floats", "::spak::tile::TileType">;
def Tile_MaskTile : Type<And<[Tile_AnyTile.predicate,
    CPred<"::llvm::cast<::spak::tile::TileType>($_self).getElementType().isInteger(1)">]>,
    "tile of i1 (a mask)", "::spak::tile::TileType">;
def Tile_IntTile : Type<And<[Tile_AnyTile.predicate,
    CPred<"::llvm::isa<::mlir::IntegerType>(::llvm::cast<::spak::tile::TileType>($_self).getElementType())">]>,
    "tile of integers", "::spak::tile::TileType">;
/// Scalars that may cross the host/kernel boundary or be broadcast into tiles.
def Tile_Scalar : AnyTypeOf<[Index, AnySignlessInteger, AnyFloat]>;

#endif // SPAK_TILE_TYPES
