//===- Laws.cpp - hardware-law lookup, defaults, kernel classes -----------===//
#include "spak/Rules/Laws.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/StringSwitch.h"

#include <cmath>

using namespace mlir;
using namespace spak;
using namespace spak::rules;

// Keep in sync with docs/dialects/tile.md ("Laws and their defaults"). The
// defaults are the seed's RTX 5070 laws (rules/targets/sm120_rtx5070.dsl),
// the most conservative measured set.
static const LawDefault kLawDefaults[] = {
    {"tile_m", 64, "rows of the output tile per CTA (matmul, attention query rows)", true},
    {"tile_n", 64, "columns of the output tile per CTA; key/value rows per attention step", true},
    {"tile_k", 32, "depth of one matmul k-step", true},
    {"k_lat", 2, "loads in flight for attention K tiles", false},
    {"v_lat", 5, "loads in flight for attention V tiles (causal)", false},
    {"stages", 2, "software-pipeline stages of the matmul main loop", false},
    {"warps", 4, "warps per CTA", true},
    {"row_tile", 4, "rows per CTA of row-wise kernels (norms, softmax, cross-entropy)", true},
    {"vec_width", 4, "elements per thread per memory op in elementwise and row kernels (cuda: the vector layout's "
                     "runs; 1 = one element per op)", true},
    {"row_chunk", 1024, "columns per loop step of the online-softmax row kernels (softmax, cross-entropy) over rows "
                        "wider than one tile (a vocabulary)", true},
    {"mma_bits", 32, "operand precision of tile mma on the cuda target: 32 = fp32 on CUDA cores, 16 = bf16 tensor "
                     "cores with fp32 accumulation (the cpp target always computes in fp32)", true},
    {"mma_schedule", 1, "cuda mma schedule: 1 = fragment accumulators, operands staged in shared memory; 2 = also "
                         "padded shared rows and warps owning whole rows of softmax tiles (quad-shuffle reductions, "
                         "operand A from registers), bf16 shared operands; 3 = also k-loops prefetching the next "
                         "k-tile into registers during the mma; 4 = schedule 2 with the matmul main loop through "
                         "cp.async rings of `stages` shared k-tiles; 5 = bf16 operand copies and ldmatrix; 6 = the "
                         "matmul k-loops on wgmma (sm_90a); 7 / 8 = attention's k-loops through f32 / bf16 rings; 9 = "
                         "8 with the matmul rings filled by TMA in swizzled boxes (sm_90a; docs/cuda-mma.md)", false},
    {"min_ctas", 96, "CTA target of a matmul launch: a static output tile grid below it splits k (split-K)", false},
    {"split_k_chunk", 4096, "k extent per CTA of a split-K matmul's first stage (rounded up to tile_k)", false},
    {"colsum_steps", 16, "column sums (bias gradients, layernorm dw / db): loop steps of row_tile * vec_width rows "
                         "per stage-1 program (its chunk of rows)", false},
    {"pad_vocab", 64, "the lm_head's classes (a cross-entropy's logits columns) are padded to a multiple of this "
                      "when a rule says apply: pad_vocab (nanoGPT's 50257 -> 50304); 1 = no padding", false},
    {"fast_exp", 0, "cuda: 1 = exp of f32 tiles through the hardware approximation (__expf: ex2.approx, a few ulp "
                    "in the softmax range), 0 = expf (the accurate libm sequence); the cpp target always calls std::exp",
     false},
    {"ctas_per_sm", 1, "cuda: CTAs of a kernel each SM should hold at once (__launch_bounds__ minimum blocks: caps "
                       "registers per thread at 64K / (ctas * threads)); 1 = no cap", false},
};

ArrayRef<LawDefault> rules::lawDefaults() { return kLawDefaults; }

const LawDefault *rules::findLawDefault(StringRef name) {
  for (const LawDefault &d : kLawDefaults)
    if (d.name == name)
      return &d;
  return nullptr;
}

tile::LawAttr rules::defaultLaw(MLIRContext *ctx, StringRef name) {
  const LawDefault *d = findLawDefault(name);
  if (!d)
    return {};
  Builder b(ctx);
  return tile::LawAttr::get(ctx, name, b.getI64IntegerAttr(d->value), kDefaultProvenance);
}

tile::LawAttr rules::lookupLaw(ModuleOp module, StringRef name) {
  if (auto laws = module->getAttrOfType<DictionaryAttr>(kLawsAttr))
    if (Attribute a = laws.get(name))
      return dyn_cast<tile::LawAttr>(a);
  return defaultLaw(module.getContext(), name);
}

StringRef rules::kindName(KernelKind kind) {
  switch (kind) {
  case KernelKind::Matmul: return "matmul";
  case KernelKind::Attention: return "attention";
  case KernelKind::Row: return "row";
  case KernelKind::Elementwise: return "elementwise";
  case KernelKind::AttentionGrad: return "attention_grad";
  case KernelKind::None: break;
  }
  return "";
}

bool rules::splitScopedLaw(StringRef key, KernelKind &kind, StringRef &law) {
  auto [scope, base] = key.split('.');
  if (base.empty())
    return false;
  kind = llvm::StringSwitch<KernelKind>(scope)
             .Case("matmul", KernelKind::Matmul)
             .Case("attention", KernelKind::Attention)
             .Case("row", KernelKind::Row)
             .Case("elementwise", KernelKind::Elementwise)
             .Case("attention_grad", KernelKind::AttentionGrad)
             .Default(KernelKind::None);
  law = base;
  return true;
}

std::string rules::checkScopedLaw(StringRef key) {
  KernelKind kind;
  StringRef law;
  if (!splitScopedLaw(key, kind, law))
    return "";
  if (kind == KernelKind::None)
    return ("unknown kernel kind '" + key.split('.').first + "' (kinds: matmul, attention, attention_grad, row, elementwise)").str();
  if (!findLawDefault(law))
    return ("unknown law '" + law + "'").str();
  if (!llvm::is_contained(lawsForKind(kind), law)) {
    std::string reads;
    for (StringRef l : lawsForKind(kind))
      reads += (reads.empty() ? "" : ", ") + l.str();
    return (kindName(kind) + " kernels do not read law '" + law + "' (they read " + reads + ")").str();
  }
  return "";
}

tile::LawAttr rules::lookupLawFor(ModuleOp module, KernelKind kind, StringRef name) {
  if (auto laws = module->getAttrOfType<DictionaryAttr>(kLawsAttr))
    if (auto scoped = dyn_cast_or_null<tile::LawAttr>(laws.get((kindName(kind) + "." + name).str())))
      return tile::LawAttr::get(module.getContext(), name, scoped.getValue(),
                                (scoped.getProvenance() + " (" + scoped.getName() + ")").str());
  if (kind == KernelKind::AttentionGrad)  // the backward kernels take the forward's laws unless scoped themselves
    return lookupLawFor(module, KernelKind::Attention, name);
  return lookupLaw(module, name);
}

LogicalResult rules::verifyModuleLaws(ModuleOp module) {
  Attribute raw = module->getAttr(kLawsAttr);
  if (!raw)
    return success();
  auto laws = dyn_cast<DictionaryAttr>(raw);
  if (!laws)
    return module.emitError() << "'" << kLawsAttr << "' must be a dictionary of #spak_tile.law, got "
                              << raw;
  for (NamedAttribute entry : laws) {
    StringRef key = entry.getName().getValue();
    auto law = dyn_cast<tile::LawAttr>(entry.getValue());
    if (!law)
      return module.emitError() << "'" << kLawsAttr << "' entry '" << key
                                << "' must be a #spak_tile.law, got " << entry.getValue();
    if (law.getName() != key)
      return module.emitError() << "'" << kLawsAttr << "' entry '" << key << "' holds law '"
                                << law.getName() << "'";
    StringRef base = key;
    KernelKind kind;
    if (splitScopedLaw(key, kind, base)) {
      // `law matmul.warps = 8`: the law for one kernel kind (more specific than `law warps`)
      if (std::string why = checkScopedLaw(key); !why.empty())
        return module.emitError() << "law '" << key << "' (" << law.getProvenance() << "): " << why;
    }
    const LawDefault *d = findLawDefault(base);
    if (!d)
      continue; // laws the compiler does not read (yet) are kept, not judged
    if (!law.isInteger() || law.getInt() <= 0)
      return module.emitError() << "law '" << key << "' (" << law.getProvenance()
                                << ") must be a positive integer";
    if (d->mustBePowerOf2 && !isPowerOf2(law.getInt()))
      return module.emitError() << "law '" << key << "' = " << law.getInt() << " ("
                                << law.getProvenance() << ") must be a power of two";
  }
  return success();
}

FailureOr<tile::LawAttr> rules::stabilityFloor(ModuleOp module) {
  MLIRContext *ctx = module.getContext();
  Builder b(ctx);
  tile::LawAttr floor;
  if (Attribute raw = module->getAttr(kStabilityFloorAttr)) {
    if (auto law = dyn_cast<tile::LawAttr>(raw))
      floor = law;
    else if (auto f = dyn_cast<FloatAttr>(raw))
      floor = tile::LawAttr::get(ctx, "stability_floor", b.getF64FloatAttr(f.getValueAsDouble()),
                                 "module attribute");
    else
      return module.emitError() << "'" << kStabilityFloorAttr
                                << "' must be a #spak_tile.law or a float, got " << raw;
  } else if (auto laws = module->getAttrOfType<DictionaryAttr>(kLawsAttr)) {
    floor = dyn_cast_or_null<tile::LawAttr>(laws.get("stability_floor"));
  }
  if (!floor)
    return tile::LawAttr::get(ctx, "stability_floor", b.getF64FloatAttr(kDefaultStabilityFloor),
                              kDefaultProvenance);
  double v = floor.getFloat();
  if (std::isnan(v) || std::isinf(v))
    return module.emitError() << "stability floor must be a finite number, got "
                              << (std::isnan(v) ? "nan" : (v < 0 ? "-inf" : "inf")) << " ("
                              << floor.getProvenance()
                              << "): exp(-inf - (-inf)) is NaN; use a large negative number such as -1e20";
  if (v >= 0)
    return module.emitError() << "stability floor must be negative, got " << v << " ("
                              << floor.getProvenance() << ")";
  // Normalize integer floors (`stability_floor = -100000`) to a float law.
  if (floor.isInteger())
    floor = tile::LawAttr::get(ctx, "stability_floor", b.getF64FloatAttr(v), floor.getProvenance());
  return floor;
}

KernelKind rules::classifyGraphOp(StringRef opName) {
  if (!opName.consume_front("spak_graph."))
    return KernelKind::None;
  return llvm::StringSwitch<KernelKind>(opName)
      .Cases({"linear", "matmul"}, KernelKind::Matmul)
      .Case("attention", KernelKind::Attention)
      .Case("attention_grad", KernelKind::AttentionGrad)
      .Cases({"rmsnorm", "layernorm", "softmax", "cross_entropy", "rmsnorm_grad",
              "layernorm_grad", "softmax_grad", "cross_entropy_grad", "reduce_sum"},
             KernelKind::Row)
      .Cases({"embed", "positions", "add", "sub", "mul", "scale", "relu", "gelu", "relu_grad",
              "gelu_grad", "embed_grad", "adam", "adamw", "clip_grad_norm", "grad_norm_clip"},
             KernelKind::Elementwise)
      .Default(KernelKind::None);
}

ArrayRef<StringLiteral> rules::lawsForKind(KernelKind kind) {
  static const StringLiteral matmul[] = {"tile_m",        "tile_n",       "tile_k",     "stages",
                                         "warps",         "mma_bits",     "min_ctas",   "split_k_chunk",
                                         "mma_schedule",  "ctas_per_sm"};
  static const StringLiteral attention[] = {"tile_m", "tile_n",       "k_lat",       "v_lat",   "warps",
                                            "mma_bits", "mma_schedule", "ctas_per_sm", "fast_exp"};
  static const StringLiteral row[] = {"row_tile", "warps", "vec_width", "row_chunk", "fast_exp", "ctas_per_sm"};
  static const StringLiteral elementwise[] = {"vec_width", "warps", "fast_exp"};
  switch (kind) {
  case KernelKind::Matmul:
    return matmul;
  case KernelKind::Attention:
  case KernelKind::AttentionGrad:
    return attention;
  case KernelKind::Row:
    return row;
  case KernelKind::Elementwise:
    return elementwise;
  case KernelKind::None:
    break;
  }
  return {};
}

bool rules::usesStabilityFloor(StringRef opName) {
  return llvm::StringSwitch<bool>(opName)
      .Cases({"spak_graph.attention", "spak_graph.attention_grad", "spak_graph.softmax",
              "spak_graph.cross_entropy", "spak_graph.cross_entropy_grad"},
             true)
      .Default(false);
}

bool rules::isPowerOf2(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

int64_t rules::nextPowerOf2(int64_t v) {
  int64_t p = 1;
  while (p < v)
    p <<= 1;
  return p;
}

tile::ExtentAttr rules::coverDim(MLIRContext *ctx, int64_t size, int64_t tileExtent) {
  // A tile never exceeds the next power of two of a static dimension: a
  // 16-wide k dimension with tile_k = 32 uses 16-wide tiles and needs no mask.
  if (!ShapedType::isDynamic(size))
    tileExtent = std::min(tileExtent, nextPowerOf2(size));
  return tile::ExtentAttr::get(ctx, size, tileExtent);
}

tile::ExtentAttr rules::coverRowPow2(MLIRContext *ctx, int64_t size) {
  if (ShapedType::isDynamic(size))
    return {};
  return tile::ExtentAttr::get(ctx, size, nextPowerOf2(size));
}
