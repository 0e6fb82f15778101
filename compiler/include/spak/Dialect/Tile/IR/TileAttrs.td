//===- TileAttrs.td - spak_tile attributes and enums -----------------------===//
//
// #spak_tile.law<"tile_m", 64, "rules/targets/sm90_h100.dsl:9:3">
//     one hardware law (or stability floor): name, value, provenance.
// #spak_tile.config<{tile_m = #spak_tile.law<...>, ...}>
//     the laws that shaped one kernel (tile sizes, stages, warps, latencies).
// #spak_tile.extent<768, 1024>
//     a tensor dimension and the tile extent that covers it (pow2 masking).
//
//===----------------------------------------------------------------------===//

#ifndef SPAK_TILE_ATTRS
#define SPAK_TILE_ATTRS

include "spak/Dialect/Tile/IR/TileDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def Tile_MemorySpace : I32EnumAttr<"MemorySpace", "where a tile lives", [
    I32EnumAttrCase<"reg", 0>, I32EnumAttrCase<"smem", 1>]> {
  let cppNamespace = "::spak::tile";
  let genSpecializedAttr = 0;
}

def Tile_ReduceKindAttr : I32EnumAttr<"ReduceKind", "reduction combiner", [
    I32EnumAttrCase<"max", 0>, I32EnumAttrCase<"sum", 1>]> {
  let cppNamespace = "::spak::tile";
}

def Tile_CmpPredicateAttr : I32EnumAttr<"CmpPredicate", "elementwise comparison", [
    I32EnumAttrCase<"lt", 0>, I32EnumAttrCase<"le", 1>, I32EnumAttrCase<"gt", 2>,
    I32EnumAttrCase<"ge", 3>, I32EnumAttrCase<"eq", 4>, I32EnumAttrCase<"ne", 5>]> {
  let cppNamespace = "::spak::tile";
}

def Tile_MaskKindAttr : I32EnumAttr<"MaskKind", "what a mask tests", [
    I32EnumAttrCase<"bounds", 0>, I32EnumAttrCase<"causal", 1>]> {
  let cppNamespace = "::spak::tile";
}

//===----------------------------------------------------------------------===//
// Attributes
//===----------------------------------------------------------------------===//

class Tile_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<Tile_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

def Tile_LawAttr : Tile_Attr<"Law", "law"> {
  let summary = "a hardware law or numeric rule, with its provenance";
  let description = [{
    `#spak_tile.law<"tile_m", 64, "rules/targets/sm90_h100.dsl:9:3">`

    The value is an integer (tile sizes, latencies, stages, warps) or a float
    (the stability floor). The provenance is `file:line:col` of the rule that
    set it, `"default"` for a documented default (docs/dialects/tile.md), or
    `"option:<flag>"` when a pass option overrode the rules.
  }];
  let parameters = (ins
    StringRefParameter<"law name">:$name,
    "::mlir::Attribute":$value,
    StringRefParameter<"where the value came from">:$provenance
  );
  let assemblyFormat = "`<` $name `,` custom<LawValue>($value) `,` $provenance `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    bool isInteger() const { return ::llvm::isa<::mlir::IntegerAttr>(getValue()); }
    /// The integer value (asserts isInteger()).
    int64_t getInt() const;
    /// The value as a double (integers convert).
    double getFloat() const;
    bool isDefault() const { return getProvenance() == "default"; }
  }];
}

def Tile_ConfigAttr : Tile_Attr<"Config", "config"> {
  let summary = "the laws that shaped one kernel";
  let description = [{
    `#spak_tile.config<{tile_m = #spak_tile.law<"tile_m", 64, "default">, ...}>`

    A dictionary from law name to law attribute; each key equals the law's
    name. `spak-apply-laws` attaches one to every graph op that becomes a
    kernel; the lowering copies it onto the `spak_tile.kernel`.
  }];
  let parameters = (ins "::mlir::DictionaryAttr":$laws);
  let assemblyFormat = "`<` $laws `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The law named `name`, or null.
    LawAttr getLaw(::llvm::StringRef name) const;
    /// The integer value of law `name`; the law must be present.
    int64_t getInt(::llvm::StringRef name) const;
  }];
}

def Tile_ExtentAttr : Tile_Attr<"Extent", "extent"> {
  let summary = "a dimension and the tile extent that covers it";
  let description = [{
    `#spak_tile.extent<768, 1024>` — a dimension of size 768 covered by tiles
    of 1024 (the next power of two). `#spak_tile.extent<?, 64>` — a dynamic
    dimension (e.g. T) covered by tiles of 64. The padded extent is the size
    rounded up to a multiple of the tile; accesses along the dimension need a
    mask when the size is dynamic or not a multiple of the tile.
  }];
  let parameters = (ins "int64_t":$size, "int64_t":$tile);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    bool isDynamic() const { return ::mlir::ShapedType::isDynamic(getSize()); }
    /// True when loads/stores along this dimension need a tail mask.
    bool needsMask() const { return isDynamic() || getSize() % getTile() != 0; }
    /// Size rounded up to a multiple of the tile (dynamic stays dynamic).
    int64_t getPadded() const;
    /// Number of tiles along the dimension (dynamic: ShapedType::kDynamic).
    int64_t getNumTiles() const;
  }];
}

#endif // SPAK_TILE_ATTRS
