//===- Explain.cpp - spakc explain: which rules and laws shaped each kernel ----------------------------------------===//
//
//   spakc explain MODEL.dsl [--kernel NAME] [--target NAME] [--rules-dir DIR] [--no-fusion]
//
// Compiles the model to the tile stage in three steps so nothing is lost on the way:
//   1. front end → graph → train graph (autodiff, optimizer step, fusion) with the fusion passes asked to record
//      why they did not fuse (`spak.record_fusion_refusals` → `spak.fusion_refused`, see FusionUtils.h);
//   2. spak-apply-laws, spak-stability-floor, spak-pow2-masking: the graph ops now carry their tile config, floor
//      and padded extents; they are collected here per source location ("sources");
//   3. spak-lower-graph-to-tile (+ spak-dedup-kernels unless --no-dedup, like `spakc compile`): every kernel is
//      matched back to its source by location (and by its fused kind or family name when several graph ops share a
//      location, e.g. attention and attention_grad).
// Then prints, per kernel: where it came from (graph op or fused region, DSL location), the fusion rule that made
// it, its math line, every law with value and provenance, the stability floor, the padding; and per fusion rule:
// how often it fired, which kernels it produced, and every place it was refused with the reason. Output is plain
// text on stdout (docs/rules.md shows it); errors are `spakc: error:` lines and exit 1.
//
//===----------------------------------------------------------------------------------------------------------------===//
// Pipeline.h defines openOutput without `inline`; keep this translation unit's copy private (see the report to the
// Pipeline.h owner). Nothing here uses it.
#define openOutput spakc_explain_openOutput
#include "Pipeline.h"
#undef openOutput

#include "spak/Dialect/Tile/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "spak/Rules/Laws.h"

#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringMap.h"

#include <map>
#include <set>

namespace spakc {
namespace {

// The fusion passes' opt-in refusal records (compiler/lib/Transforms/FusionUtils.h, docs/fusion.md).
constexpr llvm::StringLiteral kRecordRefusals = "spak.record_fusion_refusals";
constexpr llvm::StringLiteral kRefused = "spak.fusion_refused";

using spak::tile::ConfigAttr;
using spak::tile::ExtentAttr;
using spak::tile::LawAttr;

/// "file:line:col" for each file location inside `loc`, joined by ", " (fused locations list every part; a part in
/// the same file as the one before is written "line:col").
std::string locText(mlir::Location loc) {
  std::string out, lastFile;
  loc->walk([&](mlir::Location l) {
    if (auto f = llvm::dyn_cast<mlir::FileLineColLoc>(l)) {
      std::string file = f.getFilename().str();
      out += (out.empty() ? "" : ", ") + (file == lastFile ? "" : file + ":") +
             fmt::format("{}:{}", f.getLine(), f.getColumn());
      lastFile = file;
    }
    return mlir::WalkResult::advance();
  });
  return out.empty() ? "unknown location" : out;
}

std::string shortName(llvm::StringRef opName) {
  auto [dialect, rest] = opName.split('.');
  return rest.empty() ? dialect.str() : rest.str();
}

std::string provenance(llvm::StringRef p) {
  return p == spak::rules::kDefaultProvenance ? "default (docs/dialects/tile.md)" : p.str();
}

std::string lawValue(LawAttr law) {
  if (law.isInteger()) return std::to_string(law.getInt());
  return fmt::format("{:g}", law.getFloat());
}

/// A kernel-bound graph op (or fused region) as it was right before the graph → tile lowering.
struct Source {
  std::string func;
  std::string op;                 // spak_graph.fused / spak_graph.attention / ...
  std::string kind;               // fused kind or spak.fusion kind ("" when not fused)
  std::vector<std::string> inner; // ops of a fused region, in body order
  std::vector<std::string> extents;
  LawAttr floor;
};

/// The padding line of one extent: only what is padded or masked is worth reading.
std::optional<std::string> describeExtent(const std::string &name, ExtentAttr e) {
  if (e.isDynamic()) return fmt::format("{}: dynamic, tiles of {} (masked tail)", name, e.getTile());
  if (!e.needsMask()) return std::nullopt; // covered exactly
  if (e.getTile() >= e.getSize())
    return fmt::format("{}: {} → {} (pow2 padding, lanes {}..{} masked)", name, e.getSize(), e.getTile(),
                       e.getSize(), e.getTile() - 1);
  int64_t padded = (e.getSize() + e.getTile() - 1) / e.getTile() * e.getTile();
  return fmt::format("{}: {} → {} (tiles of {}, masked tail)", name, e.getSize(), padded, e.getTile());
}

void collectExtents(mlir::Operation *op, const std::string &prefix, std::vector<std::string> &out) {
  auto dict = op->getAttrOfType<mlir::DictionaryAttr>(spak::rules::kExtentsAttr);
  if (!dict) return;
  for (mlir::NamedAttribute a : dict)
    if (auto e = llvm::dyn_cast<ExtentAttr>(a.getValue()))
      if (auto line = describeExtent(prefix + a.getName().str(), e))
        if (std::find(out.begin(), out.end(), *line) == out.end()) out.push_back(*line);
}

/// Sources by location text, in program order.
using SourceMap = std::map<std::string, std::vector<Source>>;

SourceMap collectSources(mlir::ModuleOp m) {
  SourceMap out;
  for (auto func : m.getOps<mlir::func::FuncOp>())
    for (mlir::Block &block : func.getBody())
      for (mlir::Operation &op : block) {
        if (!op.getDialect() || op.getDialect()->getNamespace() != "spak_graph") continue;
        Source s;
        s.func = func.getSymName().str();
        s.op = op.getName().getStringRef().str();
        if (auto k = op.getAttrOfType<mlir::StringAttr>("kind"); k && s.op == "spak_graph.fused") s.kind = k.str();
        if (auto f = op.getAttrOfType<mlir::DictionaryAttr>("spak.fusion"))
          if (auto k = f.getAs<mlir::StringAttr>("kind")) s.kind = k.str();
        if (s.op == "spak_graph.fused") {
          for (mlir::Region &r : op.getRegions())
            for (mlir::Operation &in : r.getOps()) {
              if (in.getName().getStringRef() == "spak_graph.yield") continue;
              s.inner.push_back(shortName(in.getName().getStringRef()));
              collectExtents(&in, shortName(in.getName().getStringRef()) + ".", s.extents);
              if (auto fl = in.getAttrOfType<LawAttr>(spak::rules::kFloorAttr)) s.floor = fl;
            }
        } else {
          collectExtents(&op, "", s.extents);
          if (auto fl = op.getAttrOfType<LawAttr>(spak::rules::kFloorAttr)) s.floor = fl;
        }
        out[locText(op.getLoc())].push_back(std::move(s));
      }
  return out;
}

/// The source a kernel was lowered from: same location; among several, the fused kind or the longest graph op
/// name the kernel's name starts with (attention_grad_dq_0 → attention_grad).
const Source *matchSource(const SourceMap &sources, spak::tile::KernelOp k) {
  auto it = sources.find(locText(k.getLoc()));
  if (it == sources.end() || it->second.empty()) return nullptr;
  const auto &cands = it->second;
  if (auto f = k->getAttrOfType<mlir::DictionaryAttr>("spak.fusion"))
    if (auto kind = f.getAs<mlir::StringAttr>("kind"))
      for (const Source &s : cands)
        if (s.kind == kind.str()) return &s;
  llvm::StringRef name = k.getSymName();
  const Source *best = nullptr;
  size_t bestLen = 0;
  for (const Source &s : cands) {
    std::string n = shortName(s.op);
    if (name.starts_with(n + "_") && n.size() > bestLen) {
      best = &s;
      bestLen = n.size();
    }
  }
  return best ? best : &cands.front();
}

/// Functions launching each kernel, in module order, and the distinct source locations of its launches (several
/// after spak-dedup-kernels merged identical kernels).
struct Launches {
  std::vector<std::string> funcs, locs;
};
std::map<std::string, Launches> launchers(mlir::ModuleOp m) {
  std::map<std::string, Launches> out;
  auto addOnce = [](std::vector<std::string> &v, const std::string &x) {
    if (std::find(v.begin(), v.end(), x) == v.end()) v.push_back(x);
  };
  for (auto func : m.getOps<mlir::func::FuncOp>())
    func.walk([&](mlir::Operation *op) {
      if (op->getName().getStringRef() != "spak_tile.launch") return;
      if (auto k = op->getAttrOfType<mlir::FlatSymbolRefAttr>("kernel")) {
        Launches &l = out[k.getValue().str()];
        addOnce(l.funcs, func.getSymName().str());
        addOnce(l.locs, locText(op->getLoc()));
      }
    });
  return out;
}

std::string join(const std::vector<std::string> &v, const std::string &sep, const std::string &pre = "") {
  std::string s;
  for (const auto &x : v) s += (s.empty() ? "" : sep) + pre + x;
  return s;
}

void printKernel(std::ostream &os, spak::tile::KernelOp k, const Source *src, const Launches &launches,
                 bool haveSources) {
  os << "kernel @" << k.getSymName().str();
  if (!launches.funcs.empty()) os << "  (launched by " << join(launches.funcs, ", ", "@") << ")";
  os << "\n";
  std::string where = locText(k.getLoc());
  if (src && src->op == "spak_graph.fused")
    os << "  from:     fused region '" << src->kind << "' [" << join(src->inner, " + ") << "] at " << where << "\n";
  else if (src)
    os << "  from:     " << src->op << " at " << where << "\n";
  else
    os << "  from:     " << (haveSources ? "(no graph op at this location) " : "") << where << "\n";
  std::vector<std::string> others;
  std::string file = where.substr(0, where.find(':') + 1); // "path:" of the kernel's own location
  for (const auto &l : launches.locs)
    if (l != where) others.push_back(l.rfind(file, 0) == 0 && file.size() > 1 ? l.substr(file.size()) : l);
  if (!others.empty())
    os << "  shared:   the same kernel also serves " << others.size() << " other op(s) at " << join(others, "; ")
       << " (spak-dedup-kernels)\n";
  if (auto f = k->getAttrOfType<mlir::DictionaryAttr>("spak.fusion")) {
    auto rule = f.getAs<mlir::StringAttr>("rule"), loc = f.getAs<mlir::StringAttr>("rule_loc");
    auto kind = f.getAs<mlir::StringAttr>("kind");
    os << "  fused by: rule \"" << (rule ? rule.str() : "?") << "\" (" << (loc ? loc.str() : "?") << ")"
       << (kind ? " as " + kind.str() : "") << "\n";
  } else {
    os << "  fused by: none (one graph op, one kernel)\n";
  }
  os << "  math:     " << k.getMath().str() << "\n";
  std::vector<std::string> grid;
  for (mlir::Attribute g : k.getGrid()) grid.push_back(llvm::cast<mlir::StringAttr>(g).str());
  os << "  grid:     " << join(grid, " x ") << "\n";
  auto cfg = k->getAttrOfType<ConfigAttr>("config");
  if (!cfg || cfg.getLaws().empty()) {
    os << "  laws:     none\n";
  } else {
    bool first = true;
    for (mlir::NamedAttribute a : cfg.getLaws()) {
      auto law = llvm::dyn_cast<LawAttr>(a.getValue());
      if (!law) continue;
      os << (first ? "  laws:     " : "            ") << fmt::format("{:<10} = {:<6} {}", a.getName().str(),
                                                                     lawValue(law), provenance(law.getProvenance()))
         << "\n";
      first = false;
    }
  }
  // The floor the kernel's masked logits use: its constants name the law.
  LawAttr floor;
  k.walk([&](mlir::Operation *op) {
    for (mlir::NamedAttribute a : op->getAttrs())
      if (auto law = llvm::dyn_cast<LawAttr>(a.getValue()); law && law.getName() == "stability_floor") floor = law;
  });
  if (!floor && src) floor = src->floor;
  if (floor)
    os << "  floor:    stability_floor = " << lawValue(floor) << "  " << provenance(floor.getProvenance()) << "\n";
  if (src) {
    if (src->extents.empty())
      os << "  padding:  none (every tiled dimension is covered exactly)\n";
    else
      for (size_t i = 0; i < src->extents.size(); ++i)
        os << (i ? "            " : "  padding:  ") << src->extents[i] << "\n";
  }
  os << "\n";
}

/// One refusal, grouped over the functions it happened in.
struct Refusal {
  std::string loc, op, kind, reason;
  std::vector<std::string> funcs;
};

void printRules(std::ostream &os, mlir::ModuleOp trainModule, mlir::ModuleOp tileModule,
                mlir::ArrayAttr refusedAttr, bool noFusion) {
  // Fired: regions (and attention ops marked for the flash kernels) per rule name, at the train stage.
  std::map<std::string, std::vector<std::string>> fired;
  if (trainModule)
    trainModule.walk([&](mlir::Operation *op) {
      if (op->getName().getStringRef() == "spak_graph.fused") {
        if (auto r = op->getAttrOfType<mlir::StringAttr>("rule")) fired[r.str()].push_back(locText(op->getLoc()));
      } else if (auto f = op->getAttrOfType<mlir::DictionaryAttr>("spak.fusion")) {
        if (auto r = f.getAs<mlir::StringAttr>("rule")) fired[r.str()].push_back(locText(op->getLoc()));
      }
    });
  std::map<std::string, std::vector<std::string>> kernelsByRule;
  for (auto k : tileModule.getOps<spak::tile::KernelOp>())
    if (auto f = k->getAttrOfType<mlir::DictionaryAttr>("spak.fusion"))
      if (auto r = f.getAs<mlir::StringAttr>("rule")) kernelsByRule[r.str()].push_back(k.getSymName().str());
  // The CUDA target's own rewrites (spak-bf16-operands, then spak-bf16-producers: rule apply bf16_copy_in_producer),
  // on a copy: the producer variants it makes, per rule.
  std::map<std::string, std::vector<std::string>> cudaKernelsByRule;
  {
    mlir::OwningOpRef<mlir::ModuleOp> cuda(tileModule.clone());
    mlir::PassManager pm(tileModule.getContext(), mlir::ModuleOp::getOperationName());
    pm.addPass(spak::tile::createBf16Operands());
    pm.addPass(spak::tile::createBf16Producers());
    if (mlir::succeeded(pm.run(*cuda)))
      for (auto k : cuda->getOps<spak::tile::KernelOp>()) {
        if (auto f = k->getAttrOfType<mlir::DictionaryAttr>("spak.bf16_copy"))
          if (auto r = f.getAs<mlir::StringAttr>("rule")) cudaKernelsByRule[r.str()].push_back(k.getSymName().str());
        if (k.getMath().contains("read from a bf16 copy (rule \"BF16 Logits\")"))
          cudaKernelsByRule[std::string("\x01") + "bf16_logits"].push_back(k.getSymName().str());
        if (k.getMath().contains("read from a bf16 copy (rule \"BF16 GELU Input\")"))
          cudaKernelsByRule[std::string("\x01") + "bf16_gelu_input"].push_back(k.getSymName().str());
        if (k.getMath().contains("read from a bf16 copy (rule \"BF16 Bias Gradients\")"))
          cudaKernelsByRule[std::string("\x01") + "bf16_bias_grads"].push_back(k.getSymName().str());
      }
  }

  // Refusals by rule name ("" = no rule), grouped by (loc, reason).
  std::map<std::string, std::vector<Refusal>> refused;
  std::map<std::string, std::string> applyOfMissing; // kind → apply, for fusions without a rule
  if (refusedAttr)
    for (mlir::Attribute a : refusedAttr) {
      auto d = llvm::dyn_cast<mlir::DictionaryAttr>(a);
      if (!d) continue;
      auto get = [&](const char *key) {
        auto s = d.getAs<mlir::StringAttr>(key);
        return s ? s.str() : std::string();
      };
      std::string rule = get("rule");
      if (rule.empty()) applyOfMissing[get("kind")] = get("apply");
      auto &list = refused[rule];
      Refusal r{get("loc"), get("op"), get("kind"), get("reason"), {}};
      auto it = std::find_if(list.begin(), list.end(), [&](const Refusal &x) {
        return x.loc == r.loc && x.reason == r.reason && x.kind == r.kind;
      });
      if (it == list.end()) {
        list.push_back(r);
        it = list.end() - 1;
      }
      std::string fn = get("func");
      if (!fn.empty() && std::find(it->funcs.begin(), it->funcs.end(), fn) == it->funcs.end()) it->funcs.push_back(fn);
    }

  auto printRefusals = [&](const std::vector<Refusal> &list) {
    for (const Refusal &r : list) {
      if (r.loc.empty())
        os << "    refused everywhere: " << r.reason << "\n";
      else
        os << "    refused at " << r.loc << " (" << shortName(r.op)
           << (r.funcs.empty() ? "" : " in " + join(r.funcs, ", ", "@")) << "): " << r.reason << "\n";
    }
  };

  os << "fusion rules\n";
  struct Row {
    spak::graph::RuleAttr rule;
    size_t index;
  };
  std::vector<Row> rows;
  if (auto list = tileModule->getAttrOfType<mlir::ArrayAttr>(spak::graph::kRulesAttr))
    for (auto [i, a] : llvm::enumerate(list))
      if (auto r = llvm::dyn_cast<spak::graph::RuleAttr>(a)) rows.push_back({r, i});
  std::stable_sort(rows.begin(), rows.end(),
                   [](const Row &a, const Row &b) { return a.rule.getPriority() < b.rule.getPriority(); });
  if (rows.empty()) os << "  (the module has no rules: import a rules library such as \"fusion.dsl\")\n";
  for (const Row &row : rows) {
    auto r = row.rule;
    std::string name = r.getName().str();
    os << fmt::format("  \"{}\"  apply {}  priority {}  {}  {}\n", name, r.getApply().str(), r.getPriority(),
                      r.getLoc().str(), r.getEnabled() ? "enabled" : "disabled");
    const auto &f = fired[name];
    const auto &ks = kernelsByRule[name];
    std::string apply = spak::graph::normalizeRuleApply(r.getApply());
    if (apply == "pow2_mask")
      os << "    not a fusion: spak-pow2-masking always plans the padding (see each kernel's padding line)\n";
    else if (apply == "attention_reads_split") {
      // The attention kernels name the rule in their math when they read q, k, v as column ranges.
      std::vector<std::string> ks2;
      for (auto k : tileModule.getOps<spak::tile::KernelOp>())
        if (k.getMath().contains("(rule " + name + ")")) ks2.push_back(k.getSymName().str());
      if (ks2.empty())
        os << "    lowering: no attention reads a split" << (r.getEnabled() ? " (q, k, v come from no last-axis split, "
                                                                              "or the split has other readers)" : "")
           << "\n";
      else
        os << "    lowering: no split / concat kernels; " << ks2.size() << " attention kernel(s) read q, k, v as column "
           << "ranges → kernels: " << join(ks2, ", ") << "\n";
    }
    else if (apply == "pad_vocab") {
      // spak-pad-vocab leaves `spak.valid_rows = V` on each padded parameter of @train_step.
      std::vector<std::string> padded;
      for (auto fn : tileModule.getOps<mlir::func::FuncOp>())
        if (fn->hasAttr("spak.train_step") || fn.getSymName() == "train_step")
          for (unsigned i = 0; i < fn.getNumArguments(); ++i)
            if (auto v = fn.getArgAttrOfType<mlir::IntegerAttr>(i, "spak.valid_rows"))
              if (auto t = llvm::dyn_cast<spak::tile::BufferType>(fn.getArgumentTypes()[i]))
                if (auto name = fn.getArgAttrOfType<mlir::StringAttr>(i, "spak.param"))
                  padded.push_back(fmt::format("{} {} -> {} rows", name.getValue().str(), v.getInt(),
                                               t.getShape()[0]));
      if (padded.empty())
        os << "    padded nothing" << (r.getEnabled() ? " (no lm_head needs it: its classes are a multiple of law "
                                                         "pad_vocab or fewer than one, or pad_vocab = 1)" : "") << "\n";
      else
        os << "    graph: padded " << join(padded, ", ") << " (the padding columns of the logits are outside the "
                                                             "softmax, the loss and sampling)\n";
    }
    else if (apply == "bf16_copy_in_producer") {
      const auto &cks = cudaKernelsByRule[name];
      if (cks.empty())
        os << "    cuda target: no producer variant" << (r.getEnabled() ? " (no bf16 operand copy has a single producer "
                                                                         "kernel, or mma_bits / mma_schedule ask for none)"
                                                                       : "") << "\n";
      else
        os << "    cuda target: " << cks.size() << " producer variant(s) → kernels: " << join(cks, ", ") << "\n";
    }
    else if (apply == "bf16_logits" || apply == "bf16_gelu_input" || apply == "bf16_bias_grads") {
      // f32 kernels' inputs read from bf16 copies
      const char *what = apply == "bf16_logits"       ? "bf16 logits"
                         : apply == "bf16_gelu_input" ? "a bf16 pre-activation"
                                                      : "a bf16 dY for a bias gradient";
      const char *none = apply == "bf16_logits"       ? " (law mma_bits is not 16, or no cross-entropy kernel)"
                         : apply == "bf16_gelu_input" ? " (law mma_bits is not 16, or no GELU backward)"
                                                      : " (law mma_bits is not 16, no two-stage column sum, or no bf16 copy of dY made before the sum)";
      const char *some = apply == "bf16_logits"       ? " cross-entropy kernel(s) read the logits from a bf16 copy: "
                         : apply == "bf16_gelu_input" ? " GELU backward kernel(s) read the pre-activation from a bf16 copy: "
                                                      : " column-sum kernel(s) read dY from a bf16 copy: ";
      const auto &cks = cudaKernelsByRule["\x01" + apply];
      if (cks.empty() || !r.getEnabled())
        os << "    cuda target: no kernel reads " << what << (!r.getEnabled() ? "" : none) << "\n";
      else
        os << "    cuda target: " << cks.size() << some << join(cks, ", ") << "\n";
    }
    else if (noFusion)
      os << "    not run: --no-fusion\n";
    else if (f.empty() && ks.empty() && refused[name].empty())
      os << "    fired 0 times" << (r.getEnabled() ? " (no fusion pass implements this apply)" : "") << "\n";
    else
      os << "    fired " << f.size() << " time(s)" << (ks.empty() ? "" : " → kernels: " + join(ks, ", ")) << "\n";
    printRefusals(refused[name]);
  }
  if (!refused[""].empty()) {
    os << "fusions without a rule\n";
    for (const auto &[kind, apply] : applyOfMissing) os << "  " << kind << " (apply " << apply << ")\n";
    printRefusals(refused[""]);
  }
}

/// Kernel names close to `want`: substring matches and small edit distances, best first.
std::vector<std::string> closeNames(const std::string &want, const std::vector<std::string> &names) {
  std::vector<std::pair<unsigned, std::string>> scored;
  for (const auto &n : names) {
    unsigned d = llvm::StringRef(n).edit_distance(want, true, 8);
    bool sub = n.find(want) != std::string::npos || want.find(n) != std::string::npos;
    if (sub || d <= std::max<size_t>(2, want.size() / 3)) scored.push_back({sub ? 0 : d, n});
  }
  std::sort(scored.begin(), scored.end());
  std::vector<std::string> out;
  for (size_t i = 0; i < scored.size() && i < 8; ++i) out.push_back(scored[i].second);
  return out;
}

} // namespace

int runExplain(const Options &o) {
  Session s;
  Compiler c(o);
  if (!c.load(s)) return s.finish(1);
  if (!c.generate(s)) return s.finish(1);
  mlir::ModuleOp m = c.module();
  bool fromSource = detectLevel(m) != Level::Tile;
  if (fromSource) m->setAttr(kRecordRefusals, mlir::UnitAttr::get(m.getContext()));
  if (!c.lowerTo(Level::Train)) return s.finish(1);

  mlir::OwningOpRef<mlir::ModuleOp> trainCopy;
  SourceMap sources;
  mlir::ArrayAttr refused;
  if (fromSource) {
    m->removeAttr(kRecordRefusals);
    refused = m->getAttrOfType<mlir::ArrayAttr>(kRefused);
    m->removeAttr(kRefused);
    trainCopy = m.clone();
    mlir::PassManager planning(m.getContext(), mlir::ModuleOp::getOperationName());
    planning.addPass(spak::tile::createApplyLaws());
    planning.addPass(spak::tile::createStabilityFloor());
    planning.addPass(spak::tile::createPow2Masking());
    if (mlir::failed(planning.run(m))) return s.finish(1);
    sources = collectSources(m);
    mlir::PassManager lower(m.getContext(), mlir::ModuleOp::getOperationName());
    lower.addPass(spak::createLowerGraphToTile());
    if (!o.noDedup) lower.addPass(spak::tile::createDedupKernels()); // as `spakc compile` does
    if (mlir::failed(lower.run(m))) return s.finish(1);
  }

  std::vector<spak::tile::KernelOp> kernels;
  std::vector<std::string> names;
  for (auto k : m.getOps<spak::tile::KernelOp>()) {
    kernels.push_back(k);
    names.push_back(k.getSymName().str());
  }
  if (!o.kernel.empty() && std::find(names.begin(), names.end(), o.kernel) == names.end()) {
    std::vector<std::string> close = closeNames(o.kernel, names);
    std::cerr << "spakc: error: no kernel named '" << o.kernel << "' in " << o.input << " ("
              << kernels.size() << " kernels)";
    if (!close.empty()) std::cerr << "; did you mean: " << join(close, ", ") << "?";
    std::cerr << "\n";
    if (close.empty()) std::cerr << "spakc: note: run 'spakc explain " << o.input << "' to list every kernel\n";
    return s.finish(1);
  }

  std::ostream &os = std::cout;
  auto target = m->getAttrOfType<mlir::DictionaryAttr>("spak.target");
  os << "explain " << o.input;
  if (target) {
    auto get = [&](const char *key) {
      auto a = target.getAs<mlir::StringAttr>(key);
      return a ? a.str() : std::string("?");
    };
    os << "  (target " << get("name") << " \"" << get("device") << "\", " << get("loc") << ")";
  } else {
    os << "  (no target: every law is its documented default)";
  }
  os << "\n  rules digest: " << c.rulesDigest() << "\n  kernels: " << kernels.size() << "\n\n";

  auto launchedBy = launchers(m);
  for (auto k : kernels) {
    if (!o.kernel.empty() && k.getSymName() != o.kernel) continue;
    printKernel(os, k, fromSource ? matchSource(sources, k) : nullptr, launchedBy[k.getSymName().str()], fromSource);
  }
  if (o.kernel.empty()) {
    if (fromSource)
      printRules(os, trainCopy ? *trainCopy : mlir::ModuleOp(), m, refused, o.noFusion);
    else
      os << "fusion rules: not available for a tile-stage .mlir input (explain the .dsl to see fired/refused "
            "rules)\n";
  }
  return s.finish(0);
}

} // namespace spakc
