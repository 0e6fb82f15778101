// Unit tests of the law helpers: law/config/extent attribute construction, defaults and
// provenance, spak.laws lookup and validation, the stability floor, kernel classes, pow2 math.
#include "spak/Rules/Laws.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>

using namespace mlir;
using namespace spak;

namespace {
struct Fixture {
  MLIRContext ctx;
  Builder b{&ctx};
  std::string lastError;
  ScopedDiagnosticHandler handler{&ctx, [this](Diagnostic &d) {
                                    lastError = d.str();
                                    return success();
                                  }};
  Fixture() { ctx.loadDialect<tile::TileDialect>(); }

  tile::LawAttr law(StringRef name, int64_t v, StringRef prov) {
    return tile::LawAttr::get(&ctx, name, b.getI64IntegerAttr(v), prov);
  }
  ModuleOp module(ArrayRef<NamedAttribute> laws) {
    ModuleOp m = ModuleOp::create(UnknownLoc::get(&ctx));
    if (!laws.empty())
      m->setAttr(rules::kLawsAttr, b.getDictionaryAttr(laws));
    return m;
  }
};
} // namespace

TEST_CASE("law attributes carry value and provenance", "[tile][laws]") {
  Fixture f;
  tile::LawAttr l = f.law("tile_m", 64, "rules/targets/sm90_h100.dsl:9:3");
  CHECK(l.getName() == "tile_m");
  CHECK(l.isInteger());
  CHECK(l.getInt() == 64);
  CHECK(l.getFloat() == 64.0);
  CHECK(l.getProvenance() == "rules/targets/sm90_h100.dsl:9:3");
  CHECK_FALSE(l.isDefault());
  // Uniqued: the same law is the same attribute.
  CHECK(l == f.law("tile_m", 64, "rules/targets/sm90_h100.dsl:9:3"));
  CHECK(l != f.law("tile_m", 64, "default"));

  tile::LawAttr floor = tile::LawAttr::get(&f.ctx, "stability_floor", f.b.getF64FloatAttr(-1e20), "default");
  CHECK_FALSE(floor.isInteger());
  CHECK(floor.getFloat() == -1e20);

  // Verification rejects a missing provenance and a non-numeric value.
  auto emit = [&] { return emitError(UnknownLoc::get(&f.ctx)); };
  CHECK(failed(tile::LawAttr::verify(emit, "tile_m", f.b.getI64IntegerAttr(64), "")));
  CHECK(f.lastError.find("needs a provenance") != std::string::npos);
  CHECK(failed(tile::LawAttr::verify(emit, "tile_m", f.b.getStringAttr("64"), "default")));
}

TEST_CASE("defaults are documented laws with provenance \"default\"", "[tile][laws]") {
  Fixture f;
  const std::pair<const char *, int64_t> expected[] = {
      {"tile_m", 64}, {"tile_n", 64}, {"tile_k", 32}, {"k_lat", 2},    {"v_lat", 5},
      {"stages", 2},  {"warps", 4},   {"row_tile", 4}, {"vec_width", 4}, {"row_chunk", 1024}, {"mma_bits", 32},
      {"mma_schedule", 1}, {"min_ctas", 96}, {"split_k_chunk", 4096}, {"colsum_steps", 16}, {"pad_vocab", 64}, {"fast_exp", 0}, {"ctas_per_sm", 1}};
  CHECK(rules::lawDefaults().size() == std::size(expected));
  for (auto [name, value] : expected) {
    tile::LawAttr d = rules::defaultLaw(&f.ctx, name);
    REQUIRE(d);
    CHECK(d.getInt() == value);
    CHECK(d.isDefault());
  }
  CHECK_FALSE(rules::defaultLaw(&f.ctx, "no_such_law"));
}

TEST_CASE("lookupLaw prefers spak.laws and falls back to the default", "[tile][laws]") {
  Fixture f;
  ModuleOp m = f.module({f.b.getNamedAttr("tile_n", f.law("tile_n", 128, "h100.dsl:10:3"))});
  CHECK(rules::lookupLaw(m, "tile_n").getInt() == 128);
  CHECK(rules::lookupLaw(m, "tile_n").getProvenance() == "h100.dsl:10:3");
  CHECK(rules::lookupLaw(m, "tile_m").getInt() == 64);
  CHECK(rules::lookupLaw(m, "tile_m").isDefault());
  CHECK(succeeded(rules::verifyModuleLaws(m)));
  m->erase();
}

TEST_CASE("verifyModuleLaws rejects malformed laws", "[tile][laws]") {
  Fixture f;
  ModuleOp notPow2 = f.module({f.b.getNamedAttr("tile_m", f.law("tile_m", 96, "x.dsl:3:3"))});
  CHECK(failed(rules::verifyModuleLaws(notPow2)));
  CHECK(f.lastError.find("must be a power of two") != std::string::npos);
  ModuleOp zero = f.module({f.b.getNamedAttr("k_lat", f.law("k_lat", 0, "x.dsl:4:3"))});
  CHECK(failed(rules::verifyModuleLaws(zero)));
  ModuleOp unknownKept = f.module({f.b.getNamedAttr("sms", f.law("sms", 132, "x.dsl:5:3"))});
  CHECK(succeeded(rules::verifyModuleLaws(unknownKept)));
  notPow2->erase();
  zero->erase();
  unknownKept->erase();
}

TEST_CASE("the stability floor defaults to -1e20 and is never -inf or NaN", "[tile][floor]") {
  Fixture f;
  ModuleOp m = f.module({});
  FailureOr<tile::LawAttr> def = rules::stabilityFloor(m);
  REQUIRE(succeeded(def));
  CHECK(def->getFloat() == -1e20);
  CHECK(def->isDefault());

  m->setAttr(rules::kStabilityFloorAttr, f.b.getF64FloatAttr(-std::numeric_limits<double>::infinity()));
  CHECK(failed(rules::stabilityFloor(m)));
  CHECK(f.lastError.find("-inf") != std::string::npos);
  m->setAttr(rules::kStabilityFloorAttr, f.b.getF64FloatAttr(std::nan("")));
  CHECK(failed(rules::stabilityFloor(m)));
  m->setAttr(rules::kStabilityFloorAttr, f.b.getF64FloatAttr(1.0));
  CHECK(failed(rules::stabilityFloor(m)));
  m->setAttr(rules::kStabilityFloorAttr, f.law("stability_floor", -100000, "x.dsl:6:3"));
  FailureOr<tile::LawAttr> asInt = rules::stabilityFloor(m);
  REQUIRE(succeeded(asInt));
  CHECK_FALSE(asInt->isInteger()); // normalized to a float law, provenance kept
  CHECK(asInt->getFloat() == -100000.0);
  CHECK(asInt->getProvenance() == "x.dsl:6:3");
  m->erase();
}

TEST_CASE("graph ops map to kernel kinds and their laws", "[tile][laws]") {
  using rules::KernelKind;
  CHECK(rules::classifyGraphOp("spak_graph.linear") == KernelKind::Matmul);
  CHECK(rules::classifyGraphOp("spak_graph.attention") == KernelKind::Attention);
  CHECK(rules::classifyGraphOp("spak_graph.layernorm") == KernelKind::Row);
  CHECK(rules::classifyGraphOp("spak_graph.gelu") == KernelKind::Elementwise);
  CHECK(rules::classifyGraphOp("spak_graph.reshape") == KernelKind::None);
  CHECK(rules::classifyGraphOp("arith.addf") == KernelKind::None);
  CHECK(rules::lawsForKind(KernelKind::Attention).size() == 9);  // + mma_bits, mma_schedule, ctas_per_sm, fast_exp
  CHECK(rules::lawsForKind(KernelKind::Row).size() == 6);        // row_tile, warps, vec_width, row_chunk, fast_exp, ctas_per_sm
  CHECK(rules::usesStabilityFloor("spak_graph.cross_entropy"));
  CHECK_FALSE(rules::usesStabilityFloor("spak_graph.linear"));
}

TEST_CASE("pow2 extents pad non-power-of-two and dynamic dims", "[tile][pow2]") {
  Fixture f;
  CHECK(rules::nextPowerOf2(1) == 1);
  CHECK(rules::nextPowerOf2(65) == 128);
  CHECK(rules::nextPowerOf2(768) == 1024);
  CHECK(rules::isPowerOf2(64));
  CHECK_FALSE(rules::isPowerOf2(384));

  tile::ExtentAttr row = rules::coverRowPow2(&f.ctx, 768);
  CHECK(row.getTile() == 1024);
  CHECK(row.getPadded() == 1024);
  CHECK(row.needsMask());

  tile::ExtentAttr vocab = rules::coverDim(&f.ctx, 50257, 1024);
  CHECK(vocab.getPadded() == 50176 + 1024);
  CHECK(vocab.getNumTiles() == 50);
  CHECK(vocab.needsMask());

  tile::ExtentAttr even = rules::coverDim(&f.ctx, 768, 32);
  CHECK_FALSE(even.needsMask());
  CHECK(rules::coverDim(&f.ctx, 16, 32).getTile() == 16); // clamped to the dim's next pow2

  tile::ExtentAttr dyn = rules::coverDim(&f.ctx, ShapedType::kDynamic, 64);
  CHECK(dyn.isDynamic());
  CHECK(dyn.needsMask());
  CHECK(dyn.getTile() == 64);
  CHECK_FALSE(rules::coverRowPow2(&f.ctx, ShapedType::kDynamic));
}
