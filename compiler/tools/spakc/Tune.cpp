//===- Tune.cpp - spakc tune: run the model's tuning space on the GPU, write the winning laws back -----------------===//
//
//   spakc tune MODEL.dsl [--target NAME] [--rules-dir DIR] [-o DIR] [--dry-run]
//
// 1. The sweep space: the system's `tuning_space { law: [v, ...] }` and `engineering_loop NAME { parameter X: [...]
//    measure { metric: ... objective: ... } }` blocks (kept in the AST by the front end). Names map to laws
//    (tile_m, K_Lat → k_lat, v_load_latency → v_lat, ...); names that are no law of this compiler (occupancy, causal,
//    tile_d) are listed as ignored. Values are checked like laws (positive; tile sizes powers of two).
// 2. The plan: the cartesian product of the swept laws. Every variant is compiled in memory (the laws overridden in
//    `spak.laws`, same provenance) and its kernels hashed: the plan says how many kernels each variant changes versus
//    the rules as they are, and a variant whose kernels equal an earlier one's is skipped (nothing to measure).
//    --dry-run prints the plan and stops; it needs no GPU.
// 3. Real mode (needs nvidia-smi and nvcc): build the cpp target once as the reference (losses of `train --steps N`),
//    then per variant write the cuda project under DIR/variant-<i>, build it, run `train --steps N --log ...`,
//    read `ms/step` from the `summary:` line, compare the losses with the reference (max |Δ| ≤ 1e-3). Results go to
//    DIR/tune-results.csv and DIR/tune-results.json. The fastest correct variant wins: its laws are written into the
//    target rules file in place (LawRewriter.h: only the value tokens change) and a `fact` with the evidence (metric,
//    value, baseline, date, device, steps) is appended to the target block. N = $SPAK_TUNE_STEPS (default 50).
// DIR defaults to out/<model>-tune. docs/rules.md documents the command the lead runs on the H100.
//
//===----------------------------------------------------------------------------------------------------------------===//
// Pipeline.h defines openOutput without `inline`; keep this translation unit's copy private. Nothing here uses it.
#define openOutput spakc_tune_openOutput
#include "Pipeline.h"
#undef openOutput

#include "LawRewriter.h"
#include "spak/Rules/Laws.h"

#include "llvm/Support/FormatVariadic.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <set>

namespace spakc {
namespace {

/// One swept law.
struct Axis {
  std::string law;         // law name (tile_m)
  std::string spelled;     // as written in the model (Tile_M)
  SourceLoc loc;           // of the name in the model
  std::vector<int64_t> values;
};

struct Space {
  std::vector<Axis> axes;
  std::vector<std::string> ignored; // "occupancy (line:col): not a law of this compiler"
  std::string metric = "ms/step";
  std::string objective = "minimize";
  std::string from; // "tuning_space at file:line:col" / "engineering_loop X at ..."
};

std::string lawFor(const std::string &spelled) {
  std::string n;
  for (char c : spelled) n += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::map<std::string, std::string> aliases = {
      {"k_load_latency", "k_lat"}, {"v_load_latency", "v_lat"}, {"klat", "k_lat"},   {"vlat", "v_lat"},
      {"num_stages", "stages"},    {"num_warps", "warps"},      {"ln_tile_m", "row_tile"}};
  if (auto it = aliases.find(n); it != aliases.end()) return it->second;
  return spak::rules::findLawDefault(n) ? n : std::string();
}

void addAxis(Space &sp, DiagnosticEngine &diags, const std::string &name, SourceLoc loc, const Expr *value) {
  std::string law = lawFor(name);
  if (law.empty()) {
    sp.ignored.push_back(fmt::format("{} ({}:{}): not a law of this compiler", name, loc.line, loc.col));
    return;
  }
  for (const Axis &a : sp.axes)
    if (a.law == law) {
      diags.warning(loc, fmt::format("'{}' sweeps law '{}' again; the first sweep ({}:{}) is used", name, law,
                                     a.loc.line, a.loc.col));
      return;
    }
  auto *list = value ? value->as<ListExpr>() : nullptr;
  if (!list || list->elements.empty()) {
    diags.error(value ? value->loc : loc, fmt::format("'{}' must be a non-empty list of integers, e.g. [32, 64]", name));
    return;
  }
  Axis a{law, name, loc, {}};
  const spak::rules::LawDefault *d = spak::rules::findLawDefault(law);
  for (const auto &e : list->elements) {
    auto *n = e->as<NumberExpr>();
    if (!n || !n->isInteger || n->intValue <= 0) {
      diags.error(e->loc, fmt::format("values of '{}' must be positive integers", name));
      return;
    }
    if (d && d->mustBePowerOf2 && !spak::rules::isPowerOf2(n->intValue)) {
      diags.error(e->loc, fmt::format("law '{}' must be a power of two, got {}", law, n->intValue));
      return;
    }
    if (std::find(a.values.begin(), a.values.end(), n->intValue) == a.values.end()) a.values.push_back(n->intValue);
  }
  sp.axes.push_back(std::move(a));
}

Space readSpace(const Program &prog, DiagnosticEngine &diags) {
  Space sp;
  if (!prog.system) return sp;
  for (const auto &e : prog.system->entries) {
    auto *b = e->as<BlockEntry>();
    if (!b) continue;
    if (b->head() == "tuning_space") {
      sp.from += (sp.from.empty() ? "" : "; ") + ("tuning_space at " + b->loc.str());
      for (const auto &c : b->entries)
        if (auto *p = c->as<PropertyEntry>()) addAxis(sp, diags, p->key, p->keyLoc, p->value.get());
    } else if (b->head() == "engineering_loop") {
      sp.from += (sp.from.empty() ? "" : "; ") +
                 ("engineering_loop " + (b->words.size() > 1 ? b->words[1].text + " " : "") + "at " + b->loc.str());
      for (const auto &c : b->entries) {
        if (auto *p = c->as<ParameterEntry>()) addAxis(sp, diags, p->name, p->nameLoc, p->value.get());
        if (auto *m = c->as<BlockEntry>(); m && m->head() == "measure")
          for (const auto &me : m->entries)
            if (auto *p = me->as<PropertyEntry>(); p && p->value)
              if (auto *s = p->value->as<StringExpr>()) {
                if (p->key == "metric") sp.metric = s->value;
                if (p->key == "objective") sp.objective = s->value;
              }
      }
    }
  }
  return sp;
}

/// The kernel families a kernel's laws say it belongs to.
std::string familyOf(spak::tile::KernelOp k) {
  auto cfg = k->getAttrOfType<spak::tile::ConfigAttr>("config");
  if (!cfg) return "other";
  if (cfg.getLaw("k_lat")) return "attention";
  if (cfg.getLaw("tile_k")) return "matmul";
  if (cfg.getLaw("row_tile")) return "row";
  if (cfg.getLaw("vec_width")) return "elementwise";
  return "other";
}

using Variant = std::vector<std::pair<std::string, int64_t>>;

std::string describe(const Variant &v) {
  std::string s;
  for (const auto &[law, value] : v) s += (s.empty() ? "" : " ") + law + "=" + std::to_string(value);
  return s;
}

/// A compiled variant: the module and the cpp kernels' texts by name.
struct Compiled {
  std::unique_ptr<Compiler> compiler;
  std::map<std::string, std::string> kernels;
  std::map<std::string, std::set<std::string>> familyLaws; // family → laws its kernels read
  std::map<std::string, int> familySize;
};

/// Compiles the model with `overrides` applied to the module's laws (same provenance, so only the values differ).
bool compileVariant(const Options &o, Session &s, const Variant &overrides, Compiled &out) {
  out.compiler = std::make_unique<Compiler>(o);
  Compiler &c = *out.compiler;
  if (!c.load(s) || !c.generate(s)) return false;
  mlir::ModuleOp m = c.module();
  mlir::MLIRContext *ctx = m.getContext();
  mlir::Builder b(ctx);
  llvm::SmallVector<mlir::NamedAttribute> laws;
  if (auto d = m->getAttrOfType<mlir::DictionaryAttr>(spak::rules::kLawsAttr)) laws.append(d.begin(), d.end());
  for (const auto &[law, value] : overrides) {
    std::string prov = "option:tune";
    for (auto &na : laws)
      if (na.getName() == law)
        if (auto la = llvm::dyn_cast<spak::tile::LawAttr>(na.getValue())) prov = la.getProvenance().str();
    auto attr = spak::tile::LawAttr::get(ctx, law, b.getI64IntegerAttr(value), prov);
    auto it = std::find_if(laws.begin(), laws.end(), [&](auto &na) { return na.getName() == law; });
    if (it != laws.end()) it->setValue(attr);
    else laws.push_back(b.getNamedAttr(law, attr));
  }
  m->setAttr(spak::rules::kLawsAttr, b.getDictionaryAttr(laws));
  if (!c.lowerTo(Level::Tile)) return false;
  auto unit = spak::target::emitUnit(m, spak::target::TargetKind::Cpp, c.emitOptions());
  if (mlir::failed(unit)) return false;
  for (const auto &k : unit->kernelSources) out.kernels[k.name] = k.text;
  for (auto k : m.getOps<spak::tile::KernelOp>()) {
    std::string fam = familyOf(k);
    ++out.familySize[fam];
    if (auto cfg = k->getAttrOfType<spak::tile::ConfigAttr>("config"))
      for (auto na : cfg.getLaws()) out.familyLaws[fam].insert(na.getName().str());
  }
  return true;
}

std::string captureShell(const std::string &cmd) {
  std::string out;
  if (FILE *p = popen((cmd + " 2>/dev/null").c_str(), "r")) {
    char buf[512];
    while (fgets(buf, sizeof buf, p)) out += buf;
    pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

/// Losses of a JSONL log ({"step":N,"loss":X,...} lines), in order.
std::vector<double> readLosses(const std::string &path) {
  std::vector<double> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("\"event\"") != std::string::npos) continue;
    size_t p = line.find("\"loss\":");
    if (p == std::string::npos) continue;
    out.push_back(std::strtod(line.c_str() + p + 7, nullptr));
  }
  return out;
}

/// ms/step of the trainer's `summary:` line (docs/trainer-cli.md), NaN when absent.
double readMsPerStep(const std::string &path) {
  std::ifstream in(path);
  std::string line;
  double ms = std::nan("");
  while (std::getline(in, line)) {
    if (line.rfind("summary:", 0) != 0) continue;
    size_t p = line.rfind(" ms/step");
    if (p == std::string::npos) continue;
    size_t b = line.rfind(' ', p - 1);
    ms = std::strtod(line.c_str() + (b == std::string::npos ? 0 : b + 1), nullptr);
  }
  return ms;
}

std::string today() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", std::gmtime(&t));
  return buf;
}

} // namespace

int runTune(const Options &o) {
  Session s;
  auto prog = loadProgram(o.input, o.load, s.diags);
  if (!prog || s.diags.hasErrors()) return s.finish(1);
  if (!prog->hasTarget) {
    std::cerr << "spakc: error: tune needs a hardware target: import one (e.g. \"targets/sm90_h100.dsl\") or pass "
                 "--target NAME\n";
    return s.finish(1);
  }
  Space sp = readSpace(*prog, s.diags);
  if (s.diags.hasErrors()) return s.finish(1);
  if (sp.axes.empty()) {
    std::cerr << "spakc: error: " << o.input
              << " has no tuning space: add `tuning_space { tile_m: [32, 64, 128] }` (or an engineering_loop with "
                 "`parameter` lines) to the system\n";
    return s.finish(1);
  }
  const TargetInfo &t = prog->target;
  std::string targetFile = t.loc.file;

  // The variants, in order (the first axis varies slowest).
  std::vector<Variant> variants(1);
  for (const Axis &a : sp.axes) {
    std::vector<Variant> next;
    for (const Variant &v : variants)
      for (int64_t value : a.values) {
        Variant w = v;
        w.push_back({a.law, value});
        next.push_back(std::move(w));
      }
    variants = std::move(next);
  }

  Options quiet = o;
  quiet.quiet = true;
  quiet.load.warnUnused = false;
  Compiled base;
  if (!compileVariant(quiet, s, {}, base)) return s.finish(1);

  std::ostream &os = std::cout;
  os << "tune " << o.input << " for target " << t.name << " \"" << t.device << "\" (" << targetFile << ")\n";
  os << "sweep space (" << sp.from << "):\n";
  for (const Axis &a : sp.axes) {
    const LawValue *now = t.law(a.law);
    std::vector<std::string> vals, readers;
    for (int64_t v : a.values) vals.push_back(std::to_string(v));
    for (const auto &[fam, laws] : base.familyLaws)
      if (laws.count(a.law)) readers.push_back(fmt::format("{} ({} kernels)", fam, base.familySize[fam]));
    os << fmt::format("  {:<10} [{}]  now {} ({})  read by: {}\n", a.law, llvm::join(vals, ", "),
                      now ? std::to_string(now->value.i) : "default",
                      now ? now->origin.str() : std::string("docs/dialects/tile.md"),
                      readers.empty() ? std::string("no kernel of this model") : llvm::join(readers, ", "));
  }
  for (const auto &ig : sp.ignored) os << "  ignored: " << ig << "\n";
  os << "metric: " << sp.metric << " (" << sp.objective
     << "); measured as the trainer's summary ms/step, lower is better; correctness: losses within 1e-3 of the cpp "
        "target's\n";

  // Compile every variant to see what it changes (and which ones are duplicates).
  struct Planned {
    Variant v;
    int changed = 0;
    int sameAs = -1; // index of an earlier variant with identical kernels
    std::map<std::string, std::string> kernels;
  };
  std::vector<Planned> plan;
  for (const Variant &v : variants) {
    Compiled c;
    if (!compileVariant(quiet, s, v, c)) return s.finish(1);
    Planned p{v, 0, -1, std::move(c.kernels)};
    for (const auto &[name, text] : p.kernels) {
      auto it = base.kernels.find(name);
      p.changed += it == base.kernels.end() || it->second != text;
    }
    for (size_t i = 0; i < plan.size() && p.sameAs < 0; ++i)
      if (plan[i].kernels == p.kernels) p.sameAs = static_cast<int>(i);
    plan.push_back(std::move(p));
  }
  int toRun = 0;
  for (const auto &p : plan) toRun += p.sameAs < 0;
  os << "variants: " << plan.size() << " (";
  for (size_t i = 0; i < sp.axes.size(); ++i) os << (i ? " x " : "") << sp.axes[i].values.size();
  os << "), " << toRun << " to measure\n";
  for (size_t i = 0; i < plan.size(); ++i) {
    const Planned &p = plan[i];
    os << fmt::format("  #{:<3} {:<40} ", i + 1, describe(p.v));
    if (p.sameAs >= 0) os << "same kernels as #" << p.sameAs + 1 << ": skipped\n";
    else if (p.changed == 0) os << "the rules as they are (baseline)\n";
    else os << p.changed << " of " << p.kernels.size() << " kernels differ from the rules as they are\n";
  }
  std::string dir = o.output.empty() ? defaultProjectDir(*base.compiler, o.input) + "-tune" : o.output;
  const char *stepsEnv = std::getenv("SPAK_TUNE_STEPS");
  int64_t steps = stepsEnv ? std::strtoll(stepsEnv, nullptr, 10) : 50;
  if (steps <= 1) steps = 50;
  os << "run: per variant: " << dir << "/variant-<n> (cuda project), cmake build, train --steps " << steps
     << "; reference: " << dir << "/reference-cpp\n";
  os << "results: " << dir << "/tune-results.csv, " << dir << "/tune-results.json; winner → " << targetFile
     << " (law lines + a fact with the evidence)\n";
  if (o.dryRun) return s.finish(0);

  // ---- real mode --------------------------------------------------------------------------------------------------
  if (!commandWorks("nvidia-smi -L")) {
    std::cerr << "spakc: error: 'spakc tune' measures on an NVIDIA GPU and none was found (nvidia-smi -L failed); "
                 "run with --dry-run to print the plan\n";
    return s.finish(1);
  }
  if (!commandWorks("command -v nvcc") && !llvm::sys::fs::exists("/usr/local/cuda/bin/nvcc")) {
    std::cerr << "spakc: error: 'spakc tune' builds the cuda target and nvcc was not found\n";
    return s.finish(1);
  }
  std::string device = captureShell("nvidia-smi --query-gpu=name --format=csv,noheader | head -n1");
  std::string gen = commandWorks("command -v ninja") ? " -G Ninja" : "";
  std::string jobs = std::to_string(std::max(1u, std::thread::hardware_concurrency()));
  auto buildAndRun = [&](Compiler &c, const std::string &pdir, const std::string &target, const std::string &log,
                         const std::string &out) -> int {
    if (!writeProject(quiet, c, pdir, target)) return 1;
    std::string build = pdir + "/build-" + target;
    if (int rc = runShell(o, "cmake" + gen + " -S " + shellQuote(pdir) + " -B " + shellQuote(build) +
                                 " -DCMAKE_BUILD_TYPE=Release -DSPAK_TARGET=" + target + " >" +
                                 shellQuote(build + ".log") + " 2>&1 && cmake --build " + shellQuote(build) + " -j " +
                                 jobs + " >>" + shellQuote(build + ".log") + " 2>&1"))
      return rc;
    return runShell(o, shellQuote(build + "/train") + " --steps " + std::to_string(steps) + " --log " +
                           shellQuote(log) + " >" + shellQuote(out) + " 2>&1");
  };
  llvm::sys::fs::create_directories(dir);
  progress(o, "reference: cpp target, " + std::to_string(steps) + " steps");
  if (int rc = buildAndRun(*base.compiler, dir + "/reference-cpp", "cpp", dir + "/reference-cpp.jsonl",
                           dir + "/reference-cpp.out")) {
    std::cerr << "spakc: error: the cpp reference failed (exit " << rc << "); see " << dir << "/reference-cpp*\n";
    return s.finish(1);
  }
  std::vector<double> refLoss = readLosses(dir + "/reference-cpp.jsonl");

  struct Result {
    double ms = std::nan("");
    double maxDiff = std::nan("");
    bool correct = false;
    std::string status;
  };
  std::vector<Result> results(plan.size());
  for (size_t i = 0; i < plan.size(); ++i) {
    Result &r = results[i];
    if (plan[i].sameAs >= 0) {
      r = results[plan[i].sameAs];
      r.status = "same kernels as #" + std::to_string(plan[i].sameAs + 1);
      continue;
    }
    progress(o, fmt::format("variant #{} of {}: {}", i + 1, plan.size(), describe(plan[i].v)));
    Compiled c;
    if (!compileVariant(quiet, s, plan[i].v, c)) return s.finish(1);
    std::string vdir = dir + "/variant-" + std::to_string(i + 1);
    int rc = buildAndRun(*c.compiler, vdir, "cuda", vdir + ".jsonl", vdir + ".out");
    if (rc) {
      r.status = "failed (exit " + std::to_string(rc) + ", see " + vdir + ".out)";
      continue;
    }
    r.ms = readMsPerStep(vdir + ".out");
    std::vector<double> loss = readLosses(vdir + ".jsonl");
    r.maxDiff = 0;
    for (size_t k = 0; k < std::min(loss.size(), refLoss.size()); ++k)
      r.maxDiff = std::max(r.maxDiff, std::fabs(loss[k] - refLoss[k]));
    r.correct = loss.size() == refLoss.size() && !loss.empty() && r.maxDiff <= 1e-3 && !std::isnan(r.ms);
    r.status = r.correct ? "ok" : loss.size() != refLoss.size() ? "wrong number of steps" : "losses differ";
  }

  // Results table (CSV + JSON).
  std::string csv = "variant";
  for (const Axis &a : sp.axes) csv += "," + a.law;
  csv += ",ms_per_step,max_loss_diff,correct,kernels_changed,status\n";
  std::string json = "{\n  \"model\": \"" + o.input + "\",\n  \"target\": \"" + t.name + "\",\n  \"device\": \"" +
                     device + "\",\n  \"date\": \"" + today() + "\",\n  \"steps\": " + std::to_string(steps) +
                     ",\n  \"variants\": [\n";
  int winner = -1, baseline = -1;
  for (size_t i = 0; i < plan.size(); ++i) {
    const Result &r = results[i];
    csv += std::to_string(i + 1);
    for (const auto &[law, value] : plan[i].v) csv += "," + std::to_string(value);
    csv += fmt::format(",{},{},{},{},\"{}\"\n", std::isnan(r.ms) ? std::string("") : fmt::format("{:.4f}", r.ms),
                       std::isnan(r.maxDiff) ? std::string("") : fmt::format("{:.3g}", r.maxDiff),
                       r.correct ? 1 : 0, plan[i].changed, r.status);
    json += fmt::format("    {{\"variant\": {}, \"laws\": {{", i + 1);
    for (size_t k = 0; k < plan[i].v.size(); ++k)
      json += fmt::format("{}\"{}\": {}", k ? ", " : "", plan[i].v[k].first, plan[i].v[k].second);
    json += fmt::format("}}, \"ms_per_step\": {}, \"max_loss_diff\": {}, \"correct\": {}, \"kernels_changed\": {}, "
                        "\"status\": \"{}\"}}{}\n",
                        std::isnan(r.ms) ? std::string("null") : fmt::format("{:.4f}", r.ms),
                        std::isnan(r.maxDiff) ? std::string("null") : fmt::format("{:.3g}", r.maxDiff),
                        r.correct ? "true" : "false", plan[i].changed, r.status, i + 1 < plan.size() ? "," : "");
    if (plan[i].changed == 0 && plan[i].sameAs < 0) baseline = static_cast<int>(i);
    if (r.correct && plan[i].sameAs < 0 && (winner < 0 || r.ms < results[winner].ms)) winner = static_cast<int>(i);
  }
  json += "  ],\n  \"winner\": " + (winner < 0 ? std::string("null") : std::to_string(winner + 1)) + "\n}\n";
  bool changedFile = false;
  std::string err;
  if (!spak::target::writeFileIfChanged(dir + "/tune-results.csv", csv, changedFile, err) ||
      !spak::target::writeFileIfChanged(dir + "/tune-results.json", json, changedFile, err)) {
    std::cerr << "spakc: error: " << err << "\n";
    return s.finish(1);
  }
  os << "results: " << dir << "/tune-results.csv\n" << csv;
  if (winner < 0) {
    std::cerr << "spakc: error: no variant built, ran and matched the cpp reference; the rules file is unchanged\n";
    return s.finish(1);
  }

  // Write the winner back: law values in place, a fact with the evidence.
  bool ok = false;
  std::string text = readFile(targetFile, ok);
  if (!ok) {
    std::cerr << "spakc: error: cannot read '" << targetFile << "'\n";
    return s.finish(1);
  }
  for (const auto &[law, value] : plan[winner].v)
    if (!rewrite::setLaw(text, law, std::to_string(value), err) &&
        !rewrite::appendToTarget(text, t.name, "law " + law + " = " + std::to_string(value) + "\n", err)) {
      std::cerr << "spakc: error: " << targetFile << ": " << err << "\n";
      return s.finish(1);
    }
  std::string fact = "fact tuned_" + today().substr(0, 4) + today().substr(5, 2) + today().substr(8, 2) + " {\n";
  fact += "  laws: \"" + describe(plan[winner].v) + "\"\n";
  fact += fmt::format("  metric: \"{}\"\n  value: {:.4f}\n", sp.metric == "ms/step" ? sp.metric : "ms/step",
                      results[winner].ms);
  if (baseline >= 0 && !std::isnan(results[baseline].ms))
    fact += fmt::format("  baseline: {:.4f}\n", results[baseline].ms);
  fact += "  date: \"" + today() + "\"\n  device: \"" + device + "\"\n";
  fact += "  evidence: \"spakc tune " + o.input + ", " + std::to_string(steps) + " steps, " +
          std::to_string(toRun) + " variants, " + dir + "/tune-results.csv\"\n}\n";
  if (!rewrite::appendToTarget(text, t.name, fact, err) ||
      !spak::target::writeFileIfChanged(targetFile, text, changedFile, err)) {
    std::cerr << "spakc: error: " << targetFile << ": " << err << "\n";
    return s.finish(1);
  }
  os << "winner: #" << winner + 1 << " " << describe(plan[winner].v) << fmt::format(" ({:.4f} ms/step)", results[winner].ms)
     << "; written to " << targetFile << "\n";
  return s.finish(0);
}

} // namespace spakc
