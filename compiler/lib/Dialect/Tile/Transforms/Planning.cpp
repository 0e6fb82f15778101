//===- Planning.cpp - spak-apply-laws, spak-stability-floor, spak-pow2-masking ===//
//
// The three passes that prepare graph ops for tiling. They only attach
// attributes (see Passes.td); the lowering reads them.
//
//===----------------------------------------------------------------------===//
#include "spak/Dialect/Tile/Transforms/Passes.h"
#include "spak/Rules/Laws.h"
#include "llvm/ADT/DenseMap.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/StringMap.h"

#include <limits>

namespace spak::tile {
#define GEN_PASS_DEF_APPLYLAWS
#define GEN_PASS_DEF_STABILITYFLOOR
#define GEN_PASS_DEF_POW2MASKING
#include "spak/Dialect/Tile/Transforms/Passes.h.inc"
} // namespace spak::tile

using namespace mlir;
using namespace spak;
using namespace spak::tile;
using rules::KernelKind;

namespace {

//===----------------------------------------------------------------------===//
// spak-apply-laws
//===----------------------------------------------------------------------===//

struct ApplyLawsPass : spak::tile::impl::ApplyLawsBase<ApplyLawsPass> {
  using ApplyLawsBase::ApplyLawsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    if (failed(rules::verifyModuleLaws(module)))
      return signalPassFailure();

    // Pass options override a law for every kernel.
    const std::pair<StringRef, int64_t> overrides[] = {
        {"tile_m", tileM}, {"tile_n", tileN},   {"tile_k", tileK},
        {"k_lat", kLat},   {"v_lat", vLat},     {"stages", stages},
        {"warps", warps},  {"row_tile", rowTile}, {"vec_width", vecWidth}, {"mma_bits", mmaBits},
        {"min_ctas", minCtas}, {"split_k_chunk", splitKChunk}, {"mma_schedule", mmaSchedule}};
    llvm::StringMap<LawAttr> options;
    Builder b(ctx);
    for (auto [name, value] : overrides) {
      if (value == 0)
        continue;
      const rules::LawDefault *d = rules::findLawDefault(name);
      if (value < 0 || (d->mustBePowerOf2 && !rules::isPowerOf2(value))) {
        module.emitError() << "option for law '" << name << "' must be a positive"
                           << (d->mustBePowerOf2 ? " power of two" : " integer") << ", got " << value;
        return signalPassFailure();
      }
      std::string flag = ("option:" + name).str();
      std::replace(flag.begin(), flag.end(), '_', '-');
      options[name] = LawAttr::get(ctx, name, b.getI64IntegerAttr(value), flag);
    }

    // Each kind's config once: an option, else a law scoped to the kind (`law matmul.warps = 8`), else the target's
    // law (`law warps`), else the default.
    llvm::DenseMap<unsigned, ConfigAttr> configs;
    auto configFor = [&](KernelKind kind) {
      ConfigAttr &c = configs[static_cast<unsigned>(kind)];
      if (!c) {
        SmallVector<NamedAttribute> laws;
        for (StringLiteral name : rules::lawsForKind(kind)) {
          auto it = options.find(name);
          laws.push_back(b.getNamedAttr(name, it != options.end() ? it->second
                                                                   : rules::lookupLawFor(module, kind, name)));
        }
        c = ConfigAttr::get(ctx, b.getDictionaryAttr(laws));
      }
      return c;
    };
    module.walk([&](Operation *op) {
      KernelKind kind = rules::classifyGraphOp(op->getName().getStringRef());
      if (kind != KernelKind::None)
        op->setAttr(rules::kTileConfigAttr, configFor(kind));
    });
  }
};

//===----------------------------------------------------------------------===//
// spak-stability-floor
//===----------------------------------------------------------------------===//

struct StabilityFloorPass : spak::tile::impl::StabilityFloorBase<StabilityFloorPass> {
  using StabilityFloorBase::StabilityFloorBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    LawAttr law;
    if (floor != 0.0) {
      if (!std::isfinite(floor) || floor >= 0) {
        module.emitError() << "option floor must be a finite negative number, got " << floor;
        return signalPassFailure();
      }
      law = LawAttr::get(ctx, "stability_floor", Builder(ctx).getF64FloatAttr(floor),
                         "option:floor");
    } else {
      FailureOr<LawAttr> fromRules = rules::stabilityFloor(module);
      if (failed(fromRules))
        return signalPassFailure();
      law = *fromRules;
    }
    module.walk([&](Operation *op) {
      if (rules::usesStabilityFloor(op->getName().getStringRef()))
        op->setAttr(rules::kFloorAttr, law);
    });
  }
};

//===----------------------------------------------------------------------===//
// spak-pow2-masking
//===----------------------------------------------------------------------===//

/// Product of all but the last dimension (dynamic if any is).
static int64_t leadingRows(ShapedType t) {
  int64_t rows = 1;
  for (int64_t d : t.getShape().drop_back()) {
    if (ShapedType::isDynamic(d))
      return ShapedType::kDynamic;
    rows *= d;
  }
  return rows;
}

static int64_t numElements(ShapedType t) {
  int64_t n = 1;
  for (int64_t d : t.getShape()) {
    if (ShapedType::isDynamic(d))
      return ShapedType::kDynamic;
    n *= d;
  }
  return n;
}

/// Upper bound of the product of `dims` when every dynamic dim is at most
/// `dynBound`; 0 when unknown (no bound, or an overflow).
static int64_t boundOf(ArrayRef<int64_t> dims, int64_t dynBound) {
  int64_t p = 1;
  for (int64_t d : dims) {
    int64_t v = ShapedType::isDynamic(d) ? dynBound : d;
    if (v <= 0 || p > std::numeric_limits<int64_t>::max() / v)
      return 0;
    p *= v;
  }
  return p;
}

/// The largest size a dynamic dim of `module` can take (see the pass
/// description), 0 when unbounded.
static int64_t dynamicDimBound(ModuleOp module, int64_t option) {
  if (option != 0)
    return option > 0 ? option : 0;
  auto train = module->getAttrOfType<DictionaryAttr>("spak.train");
  if (!train)
    return 0;
  auto seq = train.getAs<IntegerAttr>("seq_len");
  if (!seq || seq.getInt() <= 0)
    return 0;
  auto batch = train.getAs<IntegerAttr>("batch");
  int64_t b = batch && batch.getInt() > 0 ? batch.getInt() : 1;
  return boundOf({b, seq.getInt()}, 0);
}

struct Pow2MaskingPass : spak::tile::impl::Pow2MaskingBase<Pow2MaskingPass> {
  using Pow2MaskingBase::Pow2MaskingBase;

  /// Upper bound of every dynamic dim (0: unbounded), set per run.
  int64_t dynBound = 0;

  /// coverDim, with the tile of a dynamic size of known bound (the product of
  /// `dims`) clamped to the bound's next power of two.
  ExtentAttr cover(MLIRContext *ctx, int64_t size, ArrayRef<int64_t> dims, int64_t tile) {
    if (ShapedType::isDynamic(size))
      if (int64_t bound = boundOf(dims, dynBound))
        tile = std::min(tile, rules::nextPowerOf2(bound));
    return rules::coverDim(ctx, size, tile);
  }

  /// The tiled dimensions of `op`, or failure (diagnosed).
  LogicalResult extentsFor(Operation *op, KernelKind kind, ConfigAttr config,
                           SmallVectorImpl<NamedAttribute> &out) {
    MLIRContext *ctx = op->getContext();
    Builder b(ctx);
    auto shaped = [&](Value v) -> ShapedType {
      auto t = dyn_cast<ShapedType>(v.getType());
      return t && t.hasRank() ? t : ShapedType();
    };
    if (op->getNumOperands() == 0 || !shaped(op->getOperand(0)))
      return op->emitError("pow2 masking needs a ranked tensor first operand");
    ShapedType x = shaped(op->getOperand(0));
    auto add = [&](StringRef name, ExtentAttr e) { out.push_back(b.getNamedAttr(name, e)); };

    switch (kind) {
    case KernelKind::Matmul: {
      if (op->getNumOperands() < 2 || !shaped(op->getOperand(1)) || op->getNumResults() != 1 ||
          !shaped(op->getResult(0)))
        return op->emitError("expected two ranked tensor operands and one result");
      ShapedType w = shaped(op->getOperand(1)), y = shaped(op->getResult(0));
      if (x.getRank() < 1 || w.getRank() != 2 || y.getRank() < 1)
        return op->emitError("expected a rank-2 right-hand operand");
      int64_t k = x.getShape().back();
      // transpose_a (a BoolAttr, or a unit attr in older tests) reads a as [..., K, M].
      Attribute ta = op->getAttr("transpose_a");
      bool transA = ta && (isa<UnitAttr>(ta) || (isa<BoolAttr>(ta) && cast<BoolAttr>(ta).getValue()));
      if (op->getName().getStringRef() == "spak_graph.matmul" && transA) {
        if (x.getRank() < 2)
          return op->emitError("transpose_a needs a left-hand operand of rank >= 2");
        k = x.getShape()[x.getRank() - 2];
      }
      int64_t m = y.getRank() == 1 ? 1 : leadingRows(y);
      ArrayRef<int64_t> mDims = y.getRank() == 1 ? ArrayRef<int64_t>() : y.getShape().drop_back();
      add("m", cover(ctx, m, mDims, config.getInt("tile_m")));
      add("n", cover(ctx, y.getShape().back(), y.getShape().back(), config.getInt("tile_n")));
      // A dynamic contraction (dW = dYᵀ·X over the B·T rows) is covered by
      // masked tile_k steps.
      add("k", cover(ctx, k, k, config.getInt("tile_k")));
      return success();
    }
    case KernelKind::Attention:
    case KernelKind::AttentionGrad: {
      auto heads = op->getAttrOfType<IntegerAttr>("heads");
      if (!heads || heads.getInt() <= 0)
        return op->emitError("attention needs a positive integer 'heads' attribute");
      if (x.getRank() != 3)
        return op->emitError("attention expects [B, T, C] operands");
      int64_t c = x.getShape()[2], t = x.getShape()[1];
      if (ShapedType::isDynamic(c) || c % heads.getInt() != 0)
        return op->emitError("channel dim must be static and divisible by heads (")
               << heads.getInt() << ")";
      add("q", cover(ctx, t, t, config.getInt("tile_m")));
      add("kv", cover(ctx, t, t, config.getInt("tile_n")));
      add("d", rules::coverRowPow2(ctx, c / heads.getInt()));
      return success();
    }
    case KernelKind::Row: {
      // cross_entropy_grad(dloss, logits, targets): the rows are the logits'.
      if (op->getName().getStringRef() == "spak_graph.cross_entropy_grad" &&
          op->getNumOperands() >= 2 && shaped(op->getOperand(1)))
        x = shaped(op->getOperand(1));
      if (x.getRank() < 1 || ShapedType::isDynamic(x.getShape().back()))
        return op->emitError("the row length (last dim) must be static to be held in one tile");
      int64_t cols = x.getShape().back();
      add("rows", cover(ctx, x.getRank() == 1 ? 1 : leadingRows(x),
                        x.getRank() == 1 ? ArrayRef<int64_t>() : x.getShape().drop_back(),
                        config.getInt("row_tile")));
      StringRef name = op->getName().getStringRef();
      if (name.contains("softmax") || name.contains("cross_entropy")) {
        // Online max/sum over column chunks of law row_chunk columns: rows as wide as a vocabulary.
        add("cols", rules::coverDim(ctx, cols, config.getInt("row_chunk")));
        return success();
      }
      if (rules::nextPowerOf2(cols) > rules::kMaxRowTile)
        return op->emitError("row length ") << cols << " exceeds the widest row tile ("
                                            << rules::kMaxRowTile << ")";
      add("cols", rules::coverRowPow2(ctx, cols));
      return success();
    }
    case KernelKind::Elementwise: {
      ShapedType ref = op->getNumResults() == 1 && shaped(op->getResult(0))
                           ? shaped(op->getResult(0)) : x;
      int64_t block = config.getInt("vec_width") * 32 * config.getInt("warps");
      add("n", rules::coverDim(ctx, numElements(ref), block));
      return success();
    }
    case KernelKind::None:
      break;
    }
    return success();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    dynBound = dynamicDimBound(module, maxDynamic);
    WalkResult r = module.walk([&](Operation *op) {
      KernelKind kind = rules::classifyGraphOp(op->getName().getStringRef());
      if (kind == KernelKind::None)
        return WalkResult::advance();
      auto config = op->getAttrOfType<ConfigAttr>(rules::kTileConfigAttr);
      if (!config) {
        op->emitError("has no spak.tile_config; run --spak-apply-laws before --spak-pow2-masking");
        return WalkResult::interrupt();
      }
      for (StringLiteral law : rules::lawsForKind(kind))
        if (!config.getLaw(law) || !config.getLaw(law).isInteger()) {
          op->emitError("spak.tile_config lacks integer law '") << law << "'";
          return WalkResult::interrupt();
        }
      SmallVector<NamedAttribute> extents;
      if (failed(extentsFor(op, kind, config, extents)))
        return WalkResult::interrupt();
      op->setAttr(rules::kExtentsAttr, DictionaryAttr::get(op->getContext(), extents));
      return WalkResult::advance();
    });
    if (r.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
