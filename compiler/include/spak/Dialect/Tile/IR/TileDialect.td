//===- TileDialect.td - the spak_tile dialect definition ------------------===//
//
// spak_tile: kernels as tile programs. A `spak_tile.kernel` is one GPU (or
// portable C++) kernel written over tiles held in registers or shared memory;
// host functions launch kernels over global buffers with `spak_tile.launch`.
// Tile shapes, pipeline depths and mask constants arrive as law attributes that
// remember where they came from (rules file:line:col, or "default").
//
//===----------------------------------------------------------------------===//

#ifndef SPAK_TILE_DIALECT
#define SPAK_TILE_DIALECT

include "mlir/IR/OpBase.td"

def Tile_Dialect : Dialect {
  let name = "spak_tile";
  let cppNamespace = "::spak::tile";
  let summary = "Tile programs: kernels over register/shared-memory tiles";
  let description = [{
    The tile dialect sits between the tensor-level `spak_graph` dialect and the
    CUDA / portable C++ emitters. Each kernel is a tile program: it reads tiles
    from global buffers (`load`, with latency/stage hints and tail masks), does
    matrix-multiply-accumulate, reductions and elementwise math on whole tiles,
    and writes tiles back (`store`, `atomic_add`). Scalar index math uses the
    `arith` dialect and loops use `scf.for` with loop-carried tiles.
  }];
  let useDefaultTypePrinterParser = 1;
  let useDefaultAttributePrinterParser = 1;
  let hasConstantMaterializer = 1;
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::scf::SCFDialect"];
  let extraClassDeclaration = [{
    void registerTypes();
    void registerAttributes();
  }];
}

class Tile_Op<string mnemonic, list<Trait> traits = []>
    : Op<Tile_Dialect, mnemonic, traits>;

#endif // SPAK_TILE_DIALECT
