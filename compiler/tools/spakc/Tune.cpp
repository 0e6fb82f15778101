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
// 3. --prepare -o DIR (no GPU needed): DIR/reference-cpp (the cpp project of the rules as they are),
//    DIR/variant-<n> (the cuda project of every variant that is not a duplicate), DIR/data/ (the training data the
//    trainers look up), DIR/plan.json (model + its sha256, target, the laws as they are, the baseline kernels' hash,
//    the variants) and DIR/run-sweep.sh: a bash script that needs only cmake, a C++ compiler, nvcc and nvidia-smi.
//    It builds every project (several at once, -j split), runs the cpp reference once and each variant
//    $SPAK_TUNE_REPEATS times (`train --steps max(N, the model's steps) --stop-after N --log ...`), takes the
//    median of the per-step "ms" after the warm-up steps, and appends one JSON line per variant to
//    DIR/results.jsonl (status ok / build_failed / run_failed / not_run, ms_per_step, losses, device, date).
//    $SPAK_TUNE_BUDGET_S stops it early; the unrun variants are recorded as not_run.
// 4. --ingest DIR [--results FILE]: refuses a plan that does not match the model / rules as they are now (unless
//    --force), checks every variant's losses against the reference (max |dloss| <= 1e-3), writes
//    DIR/tune-results.csv/.json, prints the sweep as a markdown table, and writes the fastest correct variant's laws
//    into the target rules file in place (LawRewriter.h: only the value tokens change; one atomic rename) with a
//    `fact` carrying the evidence (metric, value, baseline, date and device of the results, steps).
// 5. Without --dry-run/--prepare/--ingest (one machine with a GPU): prepare, run DIR/run-sweep.sh, ingest.
//    N = $SPAK_TUNE_STEPS (default 50).
// DIR defaults to out/<model>-tune. docs/rules.md documents the command the lead runs on the H100.
//
//===----------------------------------------------------------------------------------------------------------------===//
// Pipeline.h defines openOutput without `inline`; keep this translation unit's copy private. Nothing here uses it.
#define openOutput spakc_tune_openOutput
#include "Pipeline.h"
#undef openOutput

#include "LawRewriter.h"
#include "TuneOptions.h"
#include "spak/Rules/Laws.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <optional>
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
  if (size_t dot = n.find('.'); dot != std::string::npos) {  // `attention.warps`: a law scoped to one kernel kind
    std::string base = lawFor(n.substr(dot + 1));
    if (base.empty()) return std::string();
    std::string scoped = n.substr(0, dot) + "." + base;
    return spak::rules::checkScopedLaw(scoped).empty() ? scoped : std::string();
  }
  return spak::rules::findLawDefault(n) ? n : std::string();
}

/// The unscoped law of a (possibly kind-scoped) law name: `attention.warps` → `warps`.
std::string baseLaw(const std::string &law) {
  size_t dot = law.find('.');
  return dot == std::string::npos ? law : law.substr(dot + 1);
}

/// Whether kernels of family (= kernel kind) `fam`, reading `laws`, read swept law `law`: the law itself, or a law
/// scoped to that kind (`matmul.warps`) where the rules do not scope it yet (the family reads the plain `warps`).
bool familyReads(const std::string &fam, const std::set<std::string> &laws, const std::string &law) {
  if (laws.count(law)) return true;
  size_t dot = law.find('.');
  return dot != std::string::npos && law.substr(0, dot) == fam && laws.count(law.substr(dot + 1)) > 0;
}

void addAxis(Space &sp, DiagnosticEngine &diags, const std::string &name, SourceLoc loc, const Expr *value) {
  std::string law = lawFor(name);
  if (law.empty()) {
    std::string why = name.find('.') != std::string::npos ? spak::rules::checkScopedLaw(name) : std::string();
    sp.ignored.push_back(fmt::format("{} ({}:{}): {}", name, loc.line, loc.col,
                                     why.empty() ? std::string("not a law of this compiler") : why));
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
  const spak::rules::LawDefault *d = spak::rules::findLawDefault(baseLaw(law));
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

/// A compiled variant: the module and the cuda kernels' texts by name.
struct Compiled {
  std::unique_ptr<Compiler> compiler;
  std::map<std::string, std::string> kernels;
  std::map<std::string, std::set<std::string>> familyLaws; // family → laws its kernels read
  std::map<std::string, int> familySize;
  std::map<std::string, std::string> family; // kernel → family
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
  auto has = [&](llvm::StringRef name) {
    return llvm::any_of(laws, [&](mlir::NamedAttribute &na) { return na.getName() == name; });
  };
  for (const auto &[law, value] : overrides) {
    if (law.find('.') != std::string::npos && !has(law)) {
      // A kind-scoped law the rules do not have yet: at the value its kind reads anyway (the plain law's), it is no
      // change (and adding it would only rename the kernels' law provenance).
      std::string base = baseLaw(law);
      auto plain = llvm::find_if(laws, [&](mlir::NamedAttribute &na) { return na.getName() == base; });
      auto la = plain != laws.end() ? llvm::dyn_cast<spak::tile::LawAttr>(plain->getValue())
                                    : spak::rules::defaultLaw(ctx, base);
      if (la && la.isInteger() && la.getInt() == value) continue;
    }
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
  // The cuda kernels are what the sweep measures: they decide "changed" and "duplicate".
  auto unit = spak::target::emitUnit(m, spak::target::TargetKind::Cuda, c.emitOptions());
  if (mlir::failed(unit)) return false;
  for (const auto &k : unit->kernelSources) out.kernels[k.name] = k.text;
  for (auto k : m.getOps<spak::tile::KernelOp>()) {
    std::string fam = familyOf(k);
    out.family[k.getSymName().str()] = fam;
    ++out.familySize[fam];
    if (auto cfg = k->getAttrOfType<spak::tile::ConfigAttr>("config"))
      for (auto na : cfg.getLaws()) {
        // A law the rules scope to this kernel's kind (`law attention.tile_m`, provenance "... (attention.tile_m)")
        // shadows the unscoped one: the family reads `attention.tile_m`, not `tile_m`.
        auto law = mlir::dyn_cast<spak::tile::LawAttr>(na.getValue());
        std::string scoped = fam + "." + na.getName().str();
        if (law && llvm::StringRef(law.getProvenance()).ends_with("(" + scoped + ")"))
          out.familyLaws[fam].insert(scoped);
        else
          out.familyLaws[fam].insert(na.getName().str());
      }
  }
  return true;
}

std::string today() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", std::gmtime(&t));
  return buf;
}

namespace json = llvm::json;

constexpr const char *kPlanFormat = "spakc-tune-plan-v1";
constexpr double kTolerance = 1e-3; // max |loss - reference loss| of a correct variant

std::string kernelsHash(const std::map<std::string, std::string> &kernels) {
  std::string all;
  for (const auto &[name, text] : kernels) all += name + '\0' + text + '\0';
  return sha256Hex(all);
}

/// The laws of the module as they are (`spak.laws`): name → integer value.
std::map<std::string, int64_t> moduleLaws(mlir::ModuleOp m) {
  std::map<std::string, int64_t> out;
  if (auto d = m->getAttrOfType<mlir::DictionaryAttr>(spak::rules::kLawsAttr))
    for (auto na : d)
      if (auto la = llvm::dyn_cast<spak::tile::LawAttr>(na.getValue()); la && la.isInteger())
        out[na.getName().str()] = la.getInt();
  return out;
}

/// bf16 tensor-core mma (law mma_bits = 16) rounds the operands: such a sweep holds losses to the bf16 bar of the
/// NanoGPT issue (2e-2) against the fp32 cpp reference; an all-fp32 sweep to kTolerance.
constexpr double kToleranceBf16 = 2e-2;
/// ... over the first kCheckStepsBf16 steps, the window of that bar: rounding the operands to bf16 makes a trajectory
/// drift chaotically from the fp32 one (the H100 MicroGPT sweep of 2026-11-23: every variant's losses bit-identical
/// to the others', 3.7e-3 from the cpp target's after 10 steps, 2.2e-2 after 30, 6.6e-2 after 100, at batch 1).
/// An fp32 sweep is checked over all its steps.
constexpr int64_t kCheckStepsBf16 = 10;
/// The loss window a sweep of this tolerance is checked over: 0 = every step.
int64_t checkStepsFor(double tolerance) { return tolerance > kTolerance ? kCheckStepsBf16 : 0; }
double toleranceFor(const std::map<std::string, int64_t> &laws, const Space &sp) {
  auto it = laws.find("mma_bits");
  bool bf16 = it != laws.end() && it->second == 16;
  for (const Axis &a : sp.axes)
    if (a.law == "mma_bits")
      for (int64_t v : a.values)
        bf16 = bf16 || v == 16;
  return bf16 ? kToleranceBf16 : kTolerance;
}

/// What the trainer runs: the .dsl's steps (the LR schedule's length) and its data files.
struct TrainInfo {
  int64_t steps = 0;
  std::vector<std::string> data; // relative paths as written in the .dsl
};
TrainInfo trainInfo(mlir::ModuleOp m) {
  TrainInfo ti;
  auto train = m->getAttrOfType<mlir::DictionaryAttr>("spak.train");
  if (!train) return ti;
  if (auto i = train.getAs<mlir::IntegerAttr>("steps")) ti.steps = i.getInt();
  else if (auto f = train.getAs<mlir::FloatAttr>("steps")) ti.steps = static_cast<int64_t>(f.getValueAsDouble());
  if (auto data = train.getAs<mlir::DictionaryAttr>("data")) {
    if (auto args = data.getAs<mlir::ArrayAttr>("args"); args && !args.empty())
      if (auto p = llvm::dyn_cast<mlir::StringAttr>(args[0])) ti.data.push_back(p.str());
    if (auto v = data.getAs<mlir::StringAttr>("val"); v && !v.getValue().empty()) ti.data.push_back(v.str());
  }
  return ti;
}

/// Where the trainer would find the data file `rel` from here (docs/trainer-cli.md): ./data/, ../shared/data/, then
/// data/ and ../shared/data/ of the model's folder and its parents. Empty when absent (or an absolute path).
std::string findData(const std::string &rel, const std::string &model) {
  if (llvm::sys::path::is_absolute(rel)) return llvm::sys::fs::exists(rel) ? rel : std::string();
  std::vector<std::string> bases = {"data", "../shared/data"};
  llvm::SmallString<256> dir(model);
  llvm::sys::fs::make_absolute(dir);
  for (int up = 0; up < 5 && !dir.empty(); ++up) {
    llvm::sys::path::remove_filename(dir);
    bases.push_back((dir + "/data").str());
    bases.push_back((dir + "/../shared/data").str());
  }
  for (const auto &b : bases)
    if (llvm::sys::fs::is_regular_file(b + "/" + rel)) return b + "/" + rel;
  return "";
}

std::string fmtMs(double ms) { return std::isnan(ms) ? std::string("") : fmt::format("{:.4f}", ms); }

bool writeText(const std::string &path, const std::string &text, std::string &err) {
  bool changed = false;
  if (!spak::target::writeFileIfChanged(path, text, changed, err)) return false;
  return true;
}

/// The script DIR/run-sweep.sh (docs/rules.md): plain bash + cmake + nvcc + nvidia-smi, no spakc.
const char *kRunSweep = R"SH(#!/usr/bin/env bash
# run-sweep.sh - written by `spakc tune --prepare` (@MODEL@, target @TARGET@, plan @PLAN_ID@).
# Runs on the GPU machine and needs only bash, cmake, a C++ compiler, nvcc and nvidia-smi (no spakc):
#   bash run-sweep.sh            then bring results.jsonl back: spakc tune MODEL --ingest DIR [--results FILE]
# 1. builds reference-cpp/ (cpp target) and every variant-<n>/ (cuda target): configure + build, several projects
#    at once (SPAK_TUNE_PARALLEL, default nproc/4), `-j` split between them; logs in <project>/build.log;
# 2. runs the reference once and each variant SPAK_TUNE_REPEATS times (@REPEATS@):
#    `train --steps max(STEPS, @MODEL_STEPS@) --stop-after STEPS --sample 0 --log <project>/run-<r>.jsonl`
#    (the .dsl's own schedule length, so a cosine warm-up is always shorter than --steps), STEPS = SPAK_TUNE_STEPS
#    (@STEPS@); a run's time is the median of the log's per-step "ms" after SPAK_TUNE_WARMUP (@WARMUP@) steps, a
#    variant's the median of its runs;
# 3. appends one JSON line per project to results.jsonl (SPAK_TUNE_RESULTS): variant, status (ok | build_failed |
#    run_failed | not_run), exit, ms_per_step, runs_ms, losses (run 1), device (nvidia-smi), date.
# A project that fails to build or run is recorded and the sweep goes on. SPAK_TUNE_BUDGET_S (seconds since the
# start, 0 = none) stops early: what is left is recorded as not_run. SPAK_TUNE_RUN_TIMEOUT_S (default 300) limits
# one trainer run. SPAK_TUNE_VARIANTS="1 4" runs a subset. Exit: 0 when results.jsonl is complete, 1 on a setup error.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PLAN_ID=@PLAN_ID@
MODEL_STEPS=@MODEL_STEPS@
STEPS=${SPAK_TUNE_STEPS:-@STEPS@}
REPEATS=${SPAK_TUNE_REPEATS:-@REPEATS@}
WARMUP=${SPAK_TUNE_WARMUP:-@WARMUP@}
BUDGET=${SPAK_TUNE_BUDGET_S:-0}
RUN_TIMEOUT=${SPAK_TUNE_RUN_TIMEOUT_S:-300}
RESULTS=${SPAK_TUNE_RESULTS:-$HERE/results.jsonl}
VARIANTS=${SPAK_TUNE_VARIANTS:-"@VARIANTS@"}
T0=$(date +%s)

die() { echo "run-sweep: error: $*" >&2; exit 1; }
say() { echo "run-sweep: $*"; }
for kv in "SPAK_TUNE_STEPS=$STEPS" "SPAK_TUNE_REPEATS=$REPEATS" "SPAK_TUNE_WARMUP=$WARMUP" \
          "SPAK_TUNE_BUDGET_S=$BUDGET" "SPAK_TUNE_RUN_TIMEOUT_S=$RUN_TIMEOUT"; do
  case ${kv#*=} in ''|*[!0-9]*) die "${kv%%=*} must be a non-negative integer, got '${kv#*=}'" ;; esac
done
(( STEPS >= 1 )) || die "SPAK_TUNE_STEPS must be at least 1"
(( REPEATS >= 1 )) || die "SPAK_TUNE_REPEATS must be at least 1"
for v in $VARIANTS; do
  case $v in ''|*[!0-9]*) die "SPAK_TUNE_VARIANTS: '$v' is not a variant number" ;; esac
done
command -v cmake >/dev/null 2>&1 || die "cmake not found"
command -v nvidia-smi >/dev/null 2>&1 || die "nvidia-smi not found: run this on the GPU machine"
DEVICE=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)
[ -n "$DEVICE" ] || die "nvidia-smi lists no GPU"
if ! command -v nvcc >/dev/null 2>&1; then
  [ -x /usr/local/cuda/bin/nvcc ] || die "nvcc not found (PATH, /usr/local/cuda/bin)"
  export PATH=/usr/local/cuda/bin:$PATH
fi

TOTAL=$(( STEPS > MODEL_STEPS ? STEPS : MODEL_STEPS ))
W=$WARMUP
if (( W >= STEPS )); then W=$(( STEPS > 1 ? 1 : 0 )); fi
GEN=()
command -v ninja >/dev/null 2>&1 && GEN=(-G Ninja)
TIMEOUT=()
command -v timeout >/dev/null 2>&1 && TIMEOUT=(timeout "$RUN_TIMEOUT")
NPROC=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 4)
PROJECTS=reference-cpp
for v in $VARIANTS; do PROJECTS="$PROJECTS variant-$v"; done
NPROJ=$(echo $PROJECTS | wc -w)
PAR=${SPAK_TUNE_PARALLEL:-$(( NPROC / 4 ))}
(( PAR < 1 )) && PAR=1
(( PAR > NPROJ )) && PAR=$NPROJ
JOBS=$(( NPROC / PAR ))
(( JOBS < 1 )) && JOBS=1

elapsed() { echo $(( $(date +%s) - T0 )); }
over_budget() { (( BUDGET > 0 && $(elapsed) + ${1:-0} >= BUDGET )); }
jstr() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\t'/ }; printf '"%s"' "$s"; }
median() {
  sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) { print "null"; exit }
    if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
run_ms() { # the median per-step "ms" after the warm-up steps of one --log file
  awk -v w="$W" '/"event"/ { next }
    match($0, /"step":[0-9]+/) { s = substr($0, RSTART + 7, RLENGTH - 7) + 0; if (s <= w) next
      if (match($0, /"ms":[-+0-9.eE]+/)) print substr($0, RSTART + 5, RLENGTH - 5) }' "$1" 2>/dev/null | median
}
losses() { # the losses of one --log file, comma-separated (null for a non-finite one)
  awk '/"event"/ { next }
    match($0, /"loss":[^,}]*/) { v = substr($0, RSTART + 7, RLENGTH - 7)
      if (v !~ /^-?[0-9][0-9.]*([eE][-+]?[0-9]+)?$/) v = "null"; printf "%s%s", sep, v; sep = "," }' "$1" 2>/dev/null
}
record() { # record PROJECT STATUS EXIT MS RUNS LOSSES NOTE
  local v=${1#variant-}
  [ "$1" = reference-cpp ] && v='"reference"'
  printf '{"plan":"%s","variant":%s,"dir":"%s","status":"%s","exit":%s,"ms_per_step":%s,"runs_ms":[%s],"steps":%s,"warmup":%s,"losses":[%s],"device":%s,"date":"%s","note":%s}\n' \
    "$PLAN_ID" "$v" "$1" "$2" "$3" "$4" "$5" "$STEPS" "$W" "$6" "$(jstr "$DEVICE")" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    "$(jstr "$7")" >>"$RESULTS"
  say "$(printf '%-14s %-12s %s %s' "$1" "$2" "${4/null/-}" "$7")"
}
build() { # configure + build one project; the exit status goes to <project>/build.status
  local p=$1 target=cuda
  [ "$p" = reference-cpp ] && target=cpp
  if [ ! -f "$HERE/$p/CMakeLists.txt" ]; then mkdir -p "$HERE/$p"; echo missing >"$HERE/$p/build.status"; return; fi
  if over_budget; then echo budget >"$HERE/$p/build.status"; return; fi
  { cmake ${GEN[@]+"${GEN[@]}"} -S "$HERE/$p" -B "$HERE/$p/build" -DCMAKE_BUILD_TYPE=Release -DSPAK_TARGET=$target &&
    cmake --build "$HERE/$p/build" -j "$JOBS"; } >"$HERE/$p/build.log" 2>&1
  echo $? >"$HERE/$p/build.status"
}

say "$DEVICE: $NPROJ projects ($PROJECTS), $STEPS steps (--steps $TOTAL --stop-after $STEPS), $REPEATS runs per variant, warm-up $W, budget ${BUDGET}s"
say "building, $PAR at a time, -j $JOBS each"
for p in $PROJECTS; do
  rm -f "$HERE/$p/build.status"
  while (( $(jobs -rp | wc -l) >= PAR )); do wait -n 2>/dev/null || sleep 1; done
  build "$p" &
done
wait
say "built in $(elapsed)s"

: >"$RESULTS" || die "cannot write $RESULTS"
LAST=0
for p in $PROJECTS; do
  st=$(cat "$HERE/$p/build.status" 2>/dev/null || echo missing)
  case $st in
    0) ;;
    budget) record "$p" not_run null null "" "" "budget of ${BUDGET}s spent before its build"; continue ;;
    missing) record "$p" build_failed null null "" "" "no project $p/ in $HERE"; continue ;;
    *) record "$p" build_failed "$st" null "" "" "exit $st, see $p/build.log: $(tail -n 3 "$HERE/$p/build.log" | tr '\n' ' ' | cut -c 1-300)"; continue ;;
  esac
  if over_budget "$LAST"; then record "$p" not_run null null "" "" "budget of ${BUDGET}s spent ($(elapsed)s)"; continue; fi
  n=$REPEATS
  [ "$p" = reference-cpp ] && n=1
  runs="" rc=0 t=$(date +%s) r=0
  while (( r < n )); do
    r=$(( r + 1 ))
    if (( r > 1 )) && over_budget; then break; fi
    (cd "$HERE" && ${TIMEOUT[@]+"${TIMEOUT[@]}"} "$HERE/$p/build/train" --steps "$TOTAL" --stop-after "$STEPS" --sample 0 \
      --log "$HERE/$p/run-$r.jsonl" >"$HERE/$p/run-$r.out" 2>&1)
    rc=$?
    (( rc == 0 )) || break
    runs="$runs${runs:+,}$(run_ms "$HERE/$p/run-$r.jsonl")"
  done
  [ "$p" = reference-cpp ] || LAST=$(( $(date +%s) - t ))
  if (( rc != 0 )); then
    why="exit $rc"
    (( rc == 124 )) && why="timed out after ${RUN_TIMEOUT}s"
    record "$p" run_failed "$rc" null "$runs" "$(losses "$HERE/$p/run-$r.jsonl")" \
      "run $r: $why, see $p/run-$r.out: $(tail -n 2 "$HERE/$p/run-$r.out" | tr '\n' ' ' | cut -c 1-300)"
    continue
  fi
  ms=$(echo "$runs" | tr ',' '\n' | grep -v null | median)
  record "$p" ok 0 "$ms" "$runs" "$(losses "$HERE/$p/run-1.jsonl")" ""
done
say "done in $(elapsed)s: $RESULTS ($(wc -l <"$RESULTS") lines)"
)SH";
} // namespace

namespace {

/// One variant of the plan.
struct Planned {
  Variant v;
  int changed = 0;
  int sameAs = -1; // index of an earlier variant with identical kernels
  std::map<std::string, std::string> kernels;
  std::set<std::string> families; // families of the changed kernels
};

/// One line of results.jsonl (run-sweep.sh).
struct Measured {
  bool present = false;
  std::string status; // ok | build_failed | run_failed | not_run
  std::optional<int64_t> exit;
  double ms = std::nan("");
  std::vector<double> runs;   // ms/step of every repeat (runs_ms)
  std::vector<double> losses; // NaN for null
  std::string device, date, note, plan;
  int64_t steps = 0;
};

/// The outcome of one variant at ingest.
struct Outcome {
  double ms = std::nan("");
  double maxDiff = std::nan("");
  double spread = 0;  // max - min of the repeats' ms/step: the run-to-run noise of this variant
  bool correct = false;
  std::string status;
};

std::string variantsLine(const std::vector<Variant> &vs) {
  std::string s;
  for (const auto &v : vs) s += describe(v) + ";";
  return s;
}

bool readResults(const std::string &path, std::map<std::string, Measured> &out, std::string &err) {
  std::ifstream in(path);
  if (!in) {
    err = "cannot read '" + path + "'";
    return false;
  }
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto parsed = json::parse(line);
    if (!parsed) {
      err = fmt::format("{}:{}: not a JSON line: {}", path, n, llvm::toString(parsed.takeError()));
      return false;
    }
    const json::Object *obj = parsed->getAsObject();
    if (!obj) {
      err = fmt::format("{}:{}: expected a JSON object", path, n);
      return false;
    }
    std::string key;
    if (auto v = obj->getInteger("variant")) key = std::to_string(*v);
    else if (auto s = obj->getString("variant")) key = s->str();
    auto status = obj->getString("status");
    if (key.empty() || !status) {
      err = fmt::format("{}:{}: a result needs \"variant\" (a number or \"reference\") and \"status\"", path, n);
      return false;
    }
    Measured m;
    m.present = true;
    m.status = status->str();
    if (m.status != "ok" && m.status != "build_failed" && m.status != "run_failed" && m.status != "not_run") {
      err = fmt::format("{}:{}: unknown status '{}' (expected ok, build_failed, run_failed or not_run)", path, n,
                        m.status);
      return false;
    }
    if (auto e = obj->getInteger("exit")) m.exit = *e;
    if (auto ms = obj->getNumber("ms_per_step")) m.ms = *ms;
    if (auto st = obj->getInteger("steps")) m.steps = *st;
    if (const json::Array *rs = obj->getArray("runs_ms"))
      for (const json::Value &r : *rs)
        if (auto v = r.getAsNumber()) m.runs.push_back(*v);
    if (const json::Array *ls = obj->getArray("losses"))
      for (const json::Value &l : *ls) m.losses.push_back(l.getAsNumber().value_or(std::nan("")));
    if (auto s = obj->getString("device")) m.device = s->str();
    if (auto s = obj->getString("date")) m.date = s->str();
    if (auto s = obj->getString("note")) m.note = s->str();
    if (auto s = obj->getString("plan")) m.plan = s->str();
    out[key] = std::move(m); // a later line for the same variant wins (a re-run appended)
  }
  return true;
}

int ingest(const Options &o, Session &s, const Program &prog, const Space &sp, const std::vector<Variant> &variants,
           Compiled &base) {
  const TuneOptions &to = tuneOptions();
  const TargetInfo &t = prog.target;
  std::string targetFile = t.loc.file;
  std::string dir = to.ingest;
  std::ostream &os = std::cout;
  auto fail = [&](const std::string &msg) {
    std::cerr << "spakc: error: " << msg << "\n";
    return s.finish(1);
  };

  bool ok = false;
  std::string planText = readFile(dir + "/plan.json", ok);
  if (!ok) return fail("cannot read '" + dir + "/plan.json': is '" + dir + "' the -o DIR of 'spakc tune --prepare'?");
  auto parsed = json::parse(planText);
  if (!parsed) return fail(dir + "/plan.json: not valid JSON: " + llvm::toString(parsed.takeError()));
  const json::Object *plan = parsed->getAsObject();
  if (!plan || plan->getString("format") != std::optional<llvm::StringRef>(kPlanFormat))
    return fail(dir + "/plan.json: not a plan of 'spakc tune --prepare' (format is not " + kPlanFormat + ")");
  std::string planId = plan->getString("id").value_or("").str();

  // The plan must describe the model and rules as they are now.
  std::vector<std::string> mismatch;
  std::string modelHash = sha256Hex(readFile(prog.main->path, ok));
  if (plan->getString("model_sha256").value_or("") != modelHash)
    mismatch.push_back(fmt::format("the model changed: plan.json has {} sha256 {}, {} now has {}",
                                   plan->getString("model").value_or("?").str(),
                                   plan->getString("model_sha256").value_or("?").str().substr(7, 12), o.input,
                                   modelHash.substr(7, 12)));
  if (plan->getString("target").value_or("") != t.name)
    mismatch.push_back(fmt::format("the target differs: plan.json is for '{}', this run is for '{}'",
                                   plan->getString("target").value_or("?").str(), t.name));
  std::map<std::string, int64_t> lawsNow = moduleLaws(base.compiler->module());
  if (const json::Object *pl = plan->getObject("laws")) {
    std::set<std::string> names;
    for (const auto &kv : *pl) names.insert(kv.first.str());
    for (const auto &kv : lawsNow) names.insert(kv.first);
    for (const std::string &n : names) {
      auto was = pl->getInteger(n);
      auto it = lawsNow.find(n);
      std::string now = it == lawsNow.end() ? "unset" : std::to_string(it->second);
      std::string then = was ? std::to_string(*was) : "unset";
      if (now != then)
        mismatch.push_back(fmt::format("law {} was {} when the plan was made, is {} now ({})", n, then, now,
                                       targetFile));
    }
  } else {
    mismatch.push_back("plan.json has no \"laws\"");
  }
  if (plan->getString("baseline_kernels_sha256").value_or("") != kernelsHash(base.kernels))
    mismatch.push_back("the kernels of the rules as they are differ from the plan's baseline (rules or fusion "
                       "changed, or another spakc)");
  std::vector<Variant> planned;
  const json::Array *pv = plan->getArray("variants");
  if (!pv || pv->empty()) return fail(dir + "/plan.json has no \"variants\"");
  struct PlanVariant {
    int changed = 0;
    int sameAs = -1;
    bool baseline = false;
  };
  std::vector<PlanVariant> meta;
  for (const json::Value &jv : *pv) {
    const json::Object *vo = jv.getAsObject();
    const json::Object *laws = vo ? vo->getObject("laws") : nullptr;
    if (!laws) return fail(dir + "/plan.json: a variant without \"laws\"");
    Variant v;
    for (const Axis &a : sp.axes)
      if (auto x = laws->getInteger(a.law)) v.push_back({a.law, *x});
    if (v.size() != laws->size()) {
      v.clear(); // the plan sweeps other laws: keep them, in the plan's order, for the report
      for (const auto &kv : *laws) v.push_back({kv.first.str(), kv.second.getAsInteger().value_or(0)});
    }
    planned.push_back(v);
    PlanVariant m;
    m.changed = static_cast<int>(vo->getInteger("kernels_changed").value_or(0));
    if (auto sa = vo->getInteger("same_as")) m.sameAs = static_cast<int>(*sa) - 1;
    m.baseline = vo->getBoolean("baseline").value_or(false);
    meta.push_back(m);
  }
  if (variantsLine(planned) != variantsLine(variants))
    mismatch.push_back(fmt::format("the sweep changed: the plan has {} variants ({} ...), the model's tuning space "
                                   "now gives {}",
                                   planned.size(), describe(planned.front()), variants.size()));
  bool ingested = !planId.empty() && [&] {
    bool rok = false;
    return readFile(targetFile, rok).find("plan " + planId) != std::string::npos;
  }();
  if (ingested) mismatch.push_back("this plan was already ingested: " + targetFile + " has a fact citing plan " +
                                   planId);
  if (!mismatch.empty()) {
    if (!to.force) {
      std::cerr << "spakc: error: " << dir << "/plan.json does not match " << o.input << " and the rules as they "
                << "are now:\n";
      for (const auto &m : mismatch) std::cerr << "  - " << m << "\n";
      std::cerr << "  prepare the sweep again (spakc tune " << o.input << " --prepare -o " << dir
                << ") and run it, or pass --force to ingest these results anyway\n";
      return s.finish(1);
    }
    for (const auto &m : mismatch) std::cerr << "spakc: warning: --force: " << m << "\n";
  }

  // The results.
  std::string resultsPath = to.results.empty() ? dir + "/results.jsonl" : to.results;
  if (!llvm::sys::fs::exists(resultsPath))
    return fail("no results: '" + resultsPath + "' does not exist; run " + dir +
                "/run-sweep.sh on the GPU machine and bring its results.jsonl back (--results FILE)");
  std::map<std::string, Measured> measured;
  std::string err;
  if (!readResults(resultsPath, measured, err)) return fail(err);
  for (const auto &[key, m] : measured) {
    if (!m.plan.empty() && !planId.empty() && m.plan != planId && !to.force)
      return fail(fmt::format("{}: the results of variant {} were measured for plan {}, but {}/plan.json is plan {} "
                              "(pass --force to use them anyway)",
                              resultsPath, key, m.plan, dir, planId));
    if (key != "reference") {
      long n = std::strtol(key.c_str(), nullptr, 10);
      if (n < 1 || n > static_cast<long>(planned.size()))
        return fail(fmt::format("{}: variant {} is not in the plan (1..{})", resultsPath, key, planned.size()));
    }
  }
  const Measured &ref = measured["reference"];
  bool refOk = ref.present && ref.status == "ok" && !ref.losses.empty();
  std::string device, date;
  int64_t steps = plan->getInteger("steps").value_or(0);
  for (const auto &[key, m] : measured)
    if (m.status == "ok") {
      if (device.empty()) device = m.device;
      if (date.empty() && m.date.size() >= 10) date = m.date.substr(0, 10);
      if (m.steps) steps = m.steps;
    }
  if (device.empty()) device = "unknown device";
  if (date.empty()) date = today();

  const double tolerance = plan->getNumber("tolerance").value_or(kTolerance);
  // Plans written before "check_steps" existed: the rule that writes it.
  int64_t checkSteps = plan->getInteger("check_steps").value_or(checkStepsFor(tolerance));
  if (refOk && checkSteps > static_cast<int64_t>(ref.losses.size())) checkSteps = ref.losses.size();
  const std::string window = checkSteps > 0 ? fmt::format(" over the first {} steps", checkSteps) : "";
  std::vector<Outcome> results(planned.size());
  int winner = -1, baseline = -1, measuredCount = 0;
  for (size_t i = 0; i < planned.size(); ++i) {
    Outcome &r = results[i];
    if (meta[i].sameAs >= 0 && meta[i].sameAs < static_cast<int>(i)) {
      r = results[meta[i].sameAs];
      r.status = "same kernels as #" + std::to_string(meta[i].sameAs + 1);
      continue;
    }
    if (meta[i].baseline || meta[i].changed == 0) baseline = static_cast<int>(i);
    auto it = measured.find(std::to_string(i + 1));
    if (it == measured.end()) {
      r.status = "missing from the results";
      continue;
    }
    const Measured &m = it->second;
    std::string note = m.note.empty() ? "" : ": " + m.note;
    if (m.status == "not_run") {
      r.status = "not run" + note;
      continue;
    }
    if (m.status == "build_failed") {
      r.status = "build failed" + note;
      continue;
    }
    if (m.status == "run_failed") {
      r.status = "run failed" + note;
      continue;
    }
    ++measuredCount;
    r.ms = m.ms;
    if (m.runs.size() >= 2)
      r.spread = *std::max_element(m.runs.begin(), m.runs.end()) - *std::min_element(m.runs.begin(), m.runs.end());
    if (!refOk) {
      r.status = "no reference to compare with (reference " + (ref.present ? ref.status : std::string("missing")) +
                 ")";
      continue;
    }
    r.maxDiff = 0;
    bool finite = true;
    size_t compared = std::min(m.losses.size(), ref.losses.size());
    if (checkSteps > 0) compared = std::min(compared, static_cast<size_t>(checkSteps));
    for (size_t k = 0; k < m.losses.size() && k < ref.losses.size(); ++k) {
      if (std::isnan(m.losses[k]) || std::isnan(ref.losses[k])) finite = false;
      else if (k < compared) r.maxDiff = std::max(r.maxDiff, std::fabs(m.losses[k] - ref.losses[k]));
    }
    if (!finite) r.status = "non-finite loss";
    else if (m.losses.size() != ref.losses.size())
      r.status = fmt::format("wrong number of steps ({} losses, the reference has {})", m.losses.size(),
                             ref.losses.size());
    else if (r.maxDiff > tolerance)
      r.status = fmt::format("losses differ (max |dloss| {:.3g} > {:g}{})", r.maxDiff, tolerance, window);
    else if (std::isnan(r.ms)) r.status = "no timing";
    else {
      r.correct = true;
      r.status = "ok";
    }
    if (r.correct && (winner < 0 || r.ms < results[winner].ms)) winner = static_cast<int>(i);
  }
  double baseMs = baseline >= 0 ? results[baseline].ms : std::nan("");
  // A law changes only for a win larger than the noise: the fastest variant must beat the (correct) baseline by more
  // than the run-to-run spread of either. Otherwise the rules stay as they are and the fact records the sweep.
  int fastest = winner;
  double noise = 0;
  if (winner >= 0 && baseline >= 0 && winner != baseline && results[baseline].correct) {
    noise = std::max(results[winner].spread, results[baseline].spread);
    if (!(results[winner].ms < baseMs - noise)) winner = baseline;
  }

  // tune-results.csv / .json
  std::string csv = "variant";
  for (const auto &[law, value] : planned.front()) csv += "," + law;
  csv += ",ms_per_step,max_loss_diff,correct,kernels_changed,status\n";
  json::Array jvariants;
  for (size_t i = 0; i < planned.size(); ++i) {
    const Outcome &r = results[i];
    csv += std::to_string(i + 1);
    json::Object laws;
    for (const auto &[law, value] : planned[i]) {
      csv += "," + std::to_string(value);
      laws[law] = value;
    }
    std::string st = r.status;
    std::replace(st.begin(), st.end(), '"', '\'');
    csv += fmt::format(",{},{},{},{},\"{}\"\n", fmtMs(r.ms),
                       std::isnan(r.maxDiff) ? std::string("") : fmt::format("{:.3g}", r.maxDiff), r.correct ? 1 : 0,
                       meta[i].changed, st);
    jvariants.push_back(json::Object{{"variant", static_cast<int64_t>(i + 1)},
                                     {"laws", std::move(laws)},
                                     {"ms_per_step", std::isnan(r.ms) ? json::Value(nullptr) : json::Value(r.ms)},
                                     {"max_loss_diff", std::isnan(r.maxDiff) ? json::Value(nullptr) : json::Value(r.maxDiff)},
                                     {"correct", r.correct},
                                     {"kernels_changed", meta[i].changed},
                                     {"status", r.status}});
  }
  json::Object out{{"model", o.input},
                   {"target", t.name},
                   {"device", device},
                   {"date", date},
                   {"steps", steps},
                   {"plan", planId},
                   {"results", resultsPath},
                   {"reference_ms_per_step", ref.present && !std::isnan(ref.ms) ? json::Value(ref.ms) : json::Value(nullptr)},
                   {"variants", std::move(jvariants)},
                   {"winner", winner < 0 ? json::Value(nullptr) : json::Value(static_cast<int64_t>(winner + 1))}};
  std::string jsonText;
  llvm::raw_string_ostream js(jsonText);
  js << llvm::formatv("{0:2}", json::Value(std::move(out))) << "\n";
  js.flush();
  if (!writeText(dir + "/tune-results.csv", csv, err) || !writeText(dir + "/tune-results.json", jsonText, err))
    return fail(err);

  // The sweep as a markdown table.
  os << "sweep of " << o.input << " on " << device << " (" << date << ", " << steps << " steps, plan "
     << planId << "; correct = losses within " << fmt::format("{:g}", tolerance) << " of the cpp target's" << window
     << "): " << dir << "/tune-results.csv\n\n";
  os << "| # |";
  for (const auto &[law, value] : planned.front()) os << " " << law << " |";
  os << " ms/step | vs baseline | max abs dloss | kernels changed | status |\n|---|";
  for (size_t k = 0; k < planned.front().size(); ++k) os << "---:|";
  os << "---:|---:|---:|---:|---|\n";
  for (size_t i = 0; i < planned.size(); ++i) {
    const Outcome &r = results[i];
    std::string mark = static_cast<int>(i) == winner && winner == baseline && fastest == winner
                           ? " (winner, baseline)"
                       : static_cast<int>(i) == winner ? (winner == baseline ? " (baseline, kept)" : " (winner)")
                       : static_cast<int>(i) == baseline ? " (baseline)"
                       : static_cast<int>(i) == fastest ? " (fastest, within noise)"
                                                         : "";
    os << "| " << i + 1 << mark << " |";
    for (const auto &[law, value] : planned[i]) os << " " << value << " |";
    std::string vs = std::isnan(r.ms) || std::isnan(baseMs) || baseMs <= 0 ? "" : fmt::format("{:+.1f}%", 100.0 * (r.ms / baseMs - 1.0));
    std::string st = r.status;
    for (size_t p = 0; (p = st.find('|', p)) != std::string::npos; p += 2) st.replace(p, 1, "\\|");
    os << " " << fmtMs(r.ms) << " | " << vs << " | "
       << (std::isnan(r.maxDiff) ? std::string("") : fmt::format("{:.2g}", r.maxDiff)) << " | " << meta[i].changed
       << " | " << st << " |\n";
  }
  os << "\nreference (cpp): " << (ref.present ? ref.status : std::string("missing"))
     << (ref.present && !std::isnan(ref.ms) ? fmt::format(", {:.4f} ms/step", ref.ms) : std::string("")) << "\n";
  if (winner < 0) {
    std::cerr << "spakc: error: no variant built, ran and matched the cpp reference"
              << (refOk ? "" : " (the reference has no losses)") << "; " << targetFile << " is unchanged\n";
    return s.finish(1);
  }

  const bool kept = winner == baseline && fastest != winner;
  if (kept)
    os << fmt::format("fastest: #{} {} at {:.4f} ms/step, {:.1f}% under the baseline's {:.4f}: within the run-to-run "
                      "spread ({:.4f} ms), so the laws stay as they are\n",
                      fastest + 1, describe(planned[fastest]), results[fastest].ms,
                      100.0 * (1.0 - results[fastest].ms / baseMs), baseMs, noise);

  // Write the winner back: law values in place, a fact with the evidence; one atomic rename.
  std::string text = readFile(targetFile, ok);
  if (!ok) return fail("cannot read '" + targetFile + "'");
  for (const auto &[law, value] : planned[winner])
    if (!rewrite::setLaw(text, law, std::to_string(value), err) &&
        !rewrite::appendToTarget(text, t.name, "law " + law + " = " + std::to_string(value) + "\n", err))
      return fail(targetFile + ": " + err + "; the file is unchanged");
  std::string factName = "tuned_" + date.substr(0, 4) + date.substr(5, 2) + date.substr(8, 2);
  for (int k = 2; text.find("fact " + factName + " ") != std::string::npos; ++k)
    factName = "tuned_" + date.substr(0, 4) + date.substr(5, 2) + date.substr(8, 2) + "_" + std::to_string(k);
  std::string fact = "fact " + factName + " {\n";
  fact += "  laws: \"" + describe(planned[winner]) + "\"\n";
  fact += fmt::format("  metric: \"ms/step\"\n  value: {:.4f}\n", results[winner].ms);
  if (!std::isnan(baseMs)) fact += fmt::format("  baseline: {:.4f}\n", baseMs);
  if (kept)
    fact += fmt::format("  note: \"baseline kept: the fastest variant ({}, {:.4f} ms/step) is within the run-to-run "
                        "spread of {:.4f} ms\"\n",
                        describe(planned[fastest]), results[fastest].ms, noise);
  fact += "  date: \"" + date + "\"\n  device: \"" + device + "\"\n";
  fact += fmt::format("  evidence: \"spakc tune {}, {} steps, {} of {} variants measured, losses within {:g} of the "
                      "cpp target's{}, {}/tune-results.csv, plan {}\"\n}}\n",
                      o.input, steps, measuredCount, planned.size(), tolerance, window, dir, planId);
  if (!rewrite::appendToTarget(text, t.name, fact, err)) return fail(targetFile + ": " + err + "; the file is unchanged");
  if (!writeText(targetFile, text, err)) return fail(err);
  os << (kept ? "kept: #" : "winner: #") << winner + 1 << " " << describe(planned[winner])
     << fmt::format(" ({:.4f} ms/step", results[winner].ms)
     << (std::isnan(baseMs) ? std::string("") : fmt::format(", baseline {:.4f}", baseMs)) << "); written to "
     << targetFile << " (laws + fact " << factName << ")\n";
  return s.finish(0);
}

} // namespace

int runTune(const Options &o) {
  const TuneOptions &to = tuneOptions();
  Session s;
  if (to.prepare && o.dryRun) return s.finish((std::cerr << "spakc: error: --prepare and --dry-run exclude each other\n", 1));
  if (!to.ingest.empty() && (to.prepare || o.dryRun))
    return s.finish((std::cerr << "spakc: error: --ingest reads a prepared sweep; it does not combine with "
                                  "--prepare or --dry-run\n", 1));
  if (to.ingest.empty() && (!to.results.empty() || to.force))
    return s.finish((std::cerr << "spakc: error: --results and --force go with --ingest DIR\n", 1));
  if (to.prepare && o.output.empty())
    return s.finish((std::cerr << "spakc: error: --prepare needs -o DIR (the folder to carry to the GPU machine)\n", 1));
  if (!to.ingest.empty() && !o.output.empty() && o.output != to.ingest)
    return s.finish((std::cerr << "spakc: error: --ingest DIR reads and writes DIR; drop -o\n", 1));
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
  quiet.dryRun = false;
  quiet.load.warnUnused = false;
  Compiled base;
  if (!compileVariant(quiet, s, {}, base)) return s.finish(1);
  if (!to.ingest.empty()) return ingest(o, s, *prog, sp, variants, base);

  std::ostream &os = std::cout;
  os << "tune " << o.input << " for target " << t.name << " \"" << t.device << "\" (" << targetFile << ")\n";
  os << "sweep space (" << sp.from << "):\n";
  for (const Axis &a : sp.axes) {
    const LawValue *now = t.law(a.law);
    if (!now && a.law != baseLaw(a.law)) now = t.law(baseLaw(a.law));  // not scoped yet: the target's own law
    std::vector<std::string> vals, readers;
    for (int64_t v : a.values) vals.push_back(std::to_string(v));
    for (const auto &[fam, laws] : base.familyLaws)
      if (familyReads(fam, laws, a.law))
        readers.push_back(fmt::format("{} ({} kernels)", fam, base.familySize[fam]));
    os << fmt::format("  {:<10} [{}]  now {} ({})  read by: {}\n", a.law, llvm::join(vals, ", "),
                      now ? std::to_string(now->value.i) : "default",
                      now ? now->origin.str() : std::string("docs/dialects/tile.md"),
                      readers.empty() ? std::string("no kernel of this model") : llvm::join(readers, ", "));
  }
  for (const auto &ig : sp.ignored) os << "  ignored: " << ig << "\n";
  const double tolerance = toleranceFor(moduleLaws(base.compiler->module()), sp);
  os << "metric: " << sp.metric << " (" << sp.objective
     << "); measured as the median per-step ms of the trainer's --log, lower is better; correctness: losses within "
     << fmt::format("{:g}", tolerance) << " of the cpp target's"
     << (checkStepsFor(tolerance) > 0
             ? fmt::format(" over the first {} steps (bf16 mma operands: law mma_bits = 16)\n", checkStepsFor(tolerance))
             : std::string("\n"));

  // Compile every variant to see what it changes (and which ones are duplicates).
  std::vector<Planned> plan;
  for (const Variant &v : variants) {
    Compiled c;
    if (!compileVariant(quiet, s, v, c)) return s.finish(1);
    Planned p{v, 0, -1, std::move(c.kernels), {}};
    for (const auto &[name, text] : p.kernels) {
      auto it = base.kernels.find(name);
      if (it == base.kernels.end() || it->second != text) {
        ++p.changed;
        // A cuda producer variant (spak-bf16-producers: linear_2 -> linear_bf16_2, a second one linear_bf16_2_1)
        // belongs to its producer's family.
        auto f = c.family.find(name);
        if (f == c.family.end())
          if (size_t at = name.find("_bf16"); at != std::string::npos) {
            std::string base = name.substr(0, at) + name.substr(at + 5);
            f = c.family.find(base);
            if (size_t us = base.rfind('_'); f == c.family.end() && us != std::string::npos)
              f = c.family.find(base.substr(0, us));
          }
        p.families.insert(f == c.family.end() ? "other" : f->second);
      }
    }
    for (size_t i = 0; i < plan.size() && p.sameAs < 0; ++i)
      if (plan[i].kernels == p.kernels) p.sameAs = static_cast<int>(i);
    plan.push_back(std::move(p));
  }
  int toRun = 0, baseline = -1;
  for (size_t i = 0; i < plan.size(); ++i) {
    toRun += plan[i].sameAs < 0;
    if (plan[i].sameAs < 0 && plan[i].changed == 0 && baseline < 0) baseline = static_cast<int>(i);
  }
  os << "variants: " << plan.size() << " (";
  for (size_t i = 0; i < sp.axes.size(); ++i) os << (i ? " x " : "") << sp.axes[i].values.size();
  os << "), " << toRun << " to measure\n";
  for (size_t i = 0; i < plan.size(); ++i) {
    const Planned &p = plan[i];
    os << fmt::format("  #{:<3} {:<40} ", i + 1, describe(p.v));
    if (p.sameAs >= 0) os << "same kernels as #" << p.sameAs + 1 << ": skipped\n";
    else if (p.changed == 0) os << "the rules as they are (baseline)\n";
    else os << p.changed << " of " << p.kernels.size() << " kernels differ from the rules as they are ("
            << llvm::join(p.families, ", ") << ")\n";
  }
  std::string dir = o.output.empty() ? defaultProjectDir(*base.compiler, o.input) + "-tune" : o.output;
  const char *stepsEnv = std::getenv("SPAK_TUNE_STEPS");
  int64_t steps = stepsEnv ? std::strtoll(stepsEnv, nullptr, 10) : 50;
  if (steps < 1) {
    std::cerr << "spakc: error: SPAK_TUNE_STEPS must be a positive integer, got '" << stepsEnv << "'\n";
    return s.finish(1);
  }
  TrainInfo ti = trainInfo(base.compiler->module());
  int64_t repeats = 3, warmup = std::min<int64_t>(5, std::max<int64_t>(1, steps / 5));
  os << "run: " << dir << "/run-sweep.sh builds " << dir << "/reference-cpp (cpp) and " << dir
     << "/variant-<n> (cuda), runs train --steps " << std::max(steps, ti.steps) << " --stop-after " << steps << ", "
     << repeats << " times per variant\n";
  os << "results: " << dir << "/results.jsonl → " << dir << "/tune-results.csv, " << dir
     << "/tune-results.json; winner → " << targetFile << " (law lines + a fact with the evidence)\n";
  if (o.dryRun) return s.finish(0);

  bool oneShot = !to.prepare;
  if (oneShot) {
    if (!commandWorks("nvidia-smi -L")) {
      std::cerr << "spakc: error: 'spakc tune' measures on an NVIDIA GPU and none was found (nvidia-smi -L failed); "
                   "run with --dry-run to print the plan, or --prepare -o DIR to measure on another machine\n";
      return s.finish(1);
    }
    if (!commandWorks("command -v nvcc") && !llvm::sys::fs::exists("/usr/local/cuda/bin/nvcc")) {
      std::cerr << "spakc: error: 'spakc tune' builds the cuda target and nvcc was not found\n";
      return s.finish(1);
    }
  }

  // ---- prepare: the projects, the data, plan.json, run-sweep.sh ---------------------------------------------------
  std::string err;
  if (std::error_code ec = llvm::sys::fs::create_directories(dir)) {
    std::cerr << "spakc: error: cannot create '" << dir << "': " << ec.message() << "\n";
    return s.finish(1);
  }
  // Results of an earlier plan must never be read as this one's.
  for (const char *stale : {"results.jsonl", "tune-results.csv", "tune-results.json"})
    llvm::sys::fs::remove(dir + "/" + stale);
  progress(o, "writing " + dir + "/reference-cpp (cpp)");
  if (!writeProject(quiet, *base.compiler, dir + "/reference-cpp", "cpp")) return s.finish(1);
  std::vector<std::string> runOrder; // the baseline first, so it is measured even when the budget runs out
  if (baseline >= 0) runOrder.push_back(std::to_string(baseline + 1));
  for (size_t i = 0; i < plan.size(); ++i) {
    if (plan[i].sameAs >= 0 || static_cast<int>(i) == baseline) continue;
    runOrder.push_back(std::to_string(i + 1));
  }
  for (size_t i = 0; i < plan.size(); ++i) {
    if (plan[i].sameAs >= 0) continue;
    Compiled c;
    if (!compileVariant(quiet, s, plan[i].v, c)) return s.finish(1);
    std::string vdir = dir + "/variant-" + std::to_string(i + 1);
    progress(o, fmt::format("writing {} (cuda): {}", vdir, describe(plan[i].v)));
    if (!writeProject(quiet, *c.compiler, vdir, "cuda")) return s.finish(1);
  }
  std::vector<std::string> dataCopied;
  for (const std::string &rel : ti.data) {
    std::string from = findData(rel, prog->main->path);
    if (from.empty() || llvm::sys::path::is_absolute(rel)) {
      if (from.empty())
        std::cerr << "spakc: warning: the training data '" << rel << "' was not found here (data/, ../shared/data/); "
                  << "the trainers will look for it on the GPU machine (" << dir << "/data/" << rel << ")\n";
      continue;
    }
    std::string to2 = dir + "/data/" + rel;
    llvm::sys::fs::create_directories(llvm::sys::path::parent_path(to2));
    if (std::error_code ec = llvm::sys::fs::copy_file(from, to2)) {
      std::cerr << "spakc: error: cannot copy '" << from << "' to '" << to2 << "': " << ec.message() << "\n";
      return s.finish(1);
    }
    dataCopied.push_back("data/" + rel);
  }

  // plan.json
  bool ok = false;
  std::string modelHash = sha256Hex(readFile(prog->main->path, ok));
  std::map<std::string, int64_t> lawsNow = moduleLaws(base.compiler->module());
  std::string planId = sha256Hex(modelHash + kernelsHash(base.kernels) + variantsLine(variants) + targetFile +
                                 std::to_string(std::time(nullptr)) + std::to_string(steps))
                         .substr(7, 12); // 12 hex digits after "sha256:"
  json::Object laws;
  for (const auto &[law, value] : lawsNow) laws[law] = value;
  json::Array axes, jvariants;
  for (const Axis &a : sp.axes) {
    json::Array vals, readers;
    for (int64_t v : a.values) vals.push_back(v);
    for (const auto &[fam, fl] : base.familyLaws)
      if (familyReads(fam, fl, a.law)) readers.push_back(fam);
    axes.push_back(json::Object{{"law", a.law}, {"as", a.spelled}, {"values", std::move(vals)},
                                {"now", lawsNow.count(a.law) ? json::Value(lawsNow[a.law]) : json::Value(nullptr)},
                                {"read_by", std::move(readers)}});
  }
  for (size_t i = 0; i < plan.size(); ++i) {
    json::Object vl, v;
    for (const auto &[law, value] : plan[i].v) vl[law] = value;
    v["variant"] = static_cast<int64_t>(i + 1);
    v["laws"] = std::move(vl);
    v["kernels_changed"] = plan[i].changed;
    v["kernels"] = static_cast<int64_t>(plan[i].kernels.size());
    v["families_changed"] = json::Array(std::vector<json::Value>(plan[i].families.begin(), plan[i].families.end()));
    if (plan[i].sameAs >= 0) v["same_as"] = plan[i].sameAs + 1;
    else v["dir"] = "variant-" + std::to_string(i + 1);
    v["baseline"] = static_cast<int>(i) == baseline;
    jvariants.push_back(std::move(v));
  }
  json::Array order;
  for (const auto &r : runOrder) order.push_back(std::strtoll(r.c_str(), nullptr, 10));
  json::Array data;
  for (const auto &d : dataCopied) data.push_back(d);
  json::Object planObj{{"format", kPlanFormat},
                       {"id", planId},
                       {"spakc", SPAKC_VERSION},
                       {"created", today()},
                       {"model", o.input},
                       {"model_sha256", modelHash},
                       {"system", prog->system ? prog->system->name : std::string()},
                       {"target", t.name},
                       {"target_device", t.device},
                       {"target_file", targetFile},
                       {"laws", std::move(laws)},
                       {"baseline_kernels_sha256", kernelsHash(base.kernels)},
                       {"space", sp.from},
                       {"metric", "ms/step"},
                       {"objective", "minimize"},
                       {"axes", std::move(axes)},
                       {"steps", steps},
                       {"model_steps", ti.steps},
                       {"train_args", json::Array{"--steps", std::max(steps, ti.steps), "--stop-after", steps, "--sample", 0}},
                       {"repeats", repeats},
                       {"warmup_steps", warmup},
                       {"tolerance", tolerance},
                       {"check_steps", std::min(checkStepsFor(tolerance), steps)},
                       {"reference", json::Object{{"dir", "reference-cpp"}, {"target", "cpp"}}},
                       {"data", std::move(data)},
                       {"run_order", std::move(order)},
                       {"variants", std::move(jvariants)}};
  std::string planText;
  llvm::raw_string_ostream ps(planText);
  ps << llvm::formatv("{0:2}", json::Value(std::move(planObj))) << "\n";
  ps.flush();
  std::string script = kRunSweep;
  auto subst = [&](const std::string &key, const std::string &value) {
    for (size_t p = 0; (p = script.find(key, p)) != std::string::npos; p += value.size()) script.replace(p, key.size(), value);
  };
  subst("@MODEL@", o.input);
  subst("@TARGET@", t.name);
  subst("@PLAN_ID@", planId);
  subst("@MODEL_STEPS@", std::to_string(ti.steps));
  subst("@STEPS@", std::to_string(steps));
  subst("@REPEATS@", std::to_string(repeats));
  subst("@WARMUP@", std::to_string(warmup));
  subst("@VARIANTS@", llvm::join(runOrder, " "));
  if (!writeText(dir + "/plan.json", planText, err) || !writeText(dir + "/run-sweep.sh", script, err)) {
    std::cerr << "spakc: error: " << err << "\n";
    return s.finish(1);
  }
  llvm::sys::fs::setPermissions(dir + "/run-sweep.sh", llvm::sys::fs::all_read | llvm::sys::fs::all_exe |
                                                            llvm::sys::fs::owner_write);
  os << "prepared " << dir << ": plan.json (plan " << planId << "), run-sweep.sh, reference-cpp, "
     << runOrder.size() << " variant project(s)" << (dataCopied.empty() ? "" : ", " + llvm::join(dataCopied, ", "))
     << "\n";
  if (to.prepare) {
    os << "next: carry " << dir << " to the GPU machine, run `bash " << dir << "/run-sweep.sh` there "
       << "(SPAK_TUNE_BUDGET_S=seconds to cap it), bring " << dir << "/results.jsonl back, then: spakc tune "
       << o.input << (o.load.target.empty() ? "" : " --target " + o.load.target) << " --ingest " << dir
       << " [--results FILE]\n";
    return s.finish(0);
  }

  // ---- one shot: run the sweep here, then ingest ------------------------------------------------------------------
  if (int rc = runShell(o, "bash " + shellQuote(dir + "/run-sweep.sh"))) {
    std::cerr << "spakc: error: " << dir << "/run-sweep.sh failed (exit " << rc << ")\n";
    return s.finish(1);
  }
  tuneOptions().ingest = dir;
  return ingest(o, s, *prog, sp, variants, base);
}

} // namespace spakc
