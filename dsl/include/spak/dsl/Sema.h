//===- Sema.h - semantic analysis and the front end's single entry point --------------------------------*- C++ -*-===//
//
// THE API THE REST OF THE COMPILER USES
//
//   spak::dsl::SourceManager sm;
//   spak::dsl::DiagnosticEngine diags(sm);
//   diags.setOutput(&std::cerr);
//   spak::dsl::LoadOptions opts;                 // opts.target = "sm_90"; opts.rulesDir = ".../rules";
//   std::unique_ptr<spak::dsl::Program> prog = spak::dsl::loadProgram("model.dsl", opts, diags);
//   if (!prog || diags.hasErrors()) return 1;   // every problem was already reported with file:line:col
//
// loadProgram parses the file and (transitively) its imports, then runs Sema:
//   * imports resolve relative to the importing file, then against the rules dir (LoadOptions::rulesDir, else env
//     SPAK_RULES_DIR, else <source tree>/rules); cycles are an "import cycle" error listing the chain;
//   * config values are evaluated in order (int64 or double), parameter shapes/inits checked and every parameter is
//     expanded per group index with its final export name;
//   * the forward graph's names are resolved (args, config, params incl. `layer[i].x` inside `repeat i`, locals),
//     ops and their arities/keyword args are checked, and `loss` must be assigned;
//   * the target is selected (LoadOptions::target, else the one imported target) and its laws evaluated;
//   * rules are collected from imported `rules` libraries and the system's `knowledge` blocks;
//   * the train block becomes TrainSettings;
//   * blocks the compiler does not use draw one warning each.
// A Program is returned whenever the files parsed (even with Sema errors, so tools can still dump the AST); it is
// nullptr only when the main file could not be read or parsed.
//
//===----------------------------------------------------------------------------------------------------------------===//
#pragma once

#include "spak/dsl/AST.h"
#include "spak/dsl/Diagnostics.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace spak::dsl {

//===-- Options -----------------------------------------------------------------------------------------------------===//

struct LoadOptions {
  std::string target;   // --target NAME ("" = the imported target, else none)
  std::string rulesDir; // --rules-dir ("" = env SPAK_RULES_DIR, else SPAK_DEFAULT_RULES_DIR = <source tree>/rules)
  bool runSema = true;  // false: parse + imports only (spakc --emit=ast on broken models still dumps)
  bool warnUnused = true; // the "block 'x' is not used by the compiler" warnings
};

/// The rules directory loadProgram would use for `opts` (after env/default fallbacks).
std::string resolveRulesDir(const LoadOptions &opts);

//===-- Sema results ------------------------------------------------------------------------------------------------===//

/// A resolved constant (config entry, law, train setting operand).
struct ConstValue {
  bool isInteger = true;
  int64_t i = 0;
  double f = 0;
  double asDouble() const { return isInteger ? double(i) : f; }
};

/// One `config { key: value }` entry, evaluated.
struct ConfigValue {
  std::string name;
  SourceLoc loc;
  ConstValue value;
};

/// A parameter initializer: normal(mean, std) | uniform(lo, hi) | zeros | ones.
struct InitSpec {
  enum class Kind { Normal, Uniform, Zeros, Ones };
  Kind kind = Kind::Zeros;
  double a = 0; // mean (normal) / lo (uniform)
  double b = 0; // std (normal) / hi (uniform)
  SourceLoc loc;
};
const char *kindName(InitSpec::Kind kind);

/// One parameter tensor after group expansion: `layer[0].attn_wq` → exportName "layer0.attn_wq".
struct ParamInstance {
  std::string name;        // the declared name (`attn_wq`, `ln_1.weight`)
  std::string group;       // "" for top-level params
  int64_t groupIndex = -1; // -1 for top-level params
  std::string exportName;  // final checkpoint name (`layer0.attn_wq`, `transformer.h.3.ln_1.weight`)
  std::vector<int64_t> shape;
  int64_t numel = 0;
  InitSpec init;
  SourceLoc loc; // of the declaration
  const ParamDecl *decl = nullptr;
};

/// A hardware law with its value and where it came from.
struct LawValue {
  std::string name;
  ConstValue value;
  SourceLoc origin; // the law's declaration (file:line:col)
};

/// The selected target.
struct TargetInfo {
  std::string name;   // sm_90
  std::string device; // "NVIDIA H100 80GB HBM3"
  std::string arch;   // the `arch:` property if present ("sm_90a"), else ""
  std::vector<LawValue> laws;
  double stabilityFloor = -1e20;
  bool stabilityFloorIsDefault = true; // no stability_floor in the target: the documented default -1e20
  SourceLoc stabilityFloorOrigin;      // invalid when defaulted
  SourceLoc loc;
  const TargetDecl *decl = nullptr;
  const LawValue *law(const std::string &name) const;
};

/// A rule from a `rules` library or a system's knowledge block.
struct RuleInfo {
  std::string name;
  std::string library; // the `rules` decl name, or "<system>.knowledge"
  SourceLoc loc;
  bool enabled = true;  // `enabled: false` disables it
  int64_t priority = 0; // `priority:` if an integer, else 0
  const Expr *when = nullptr;
  std::vector<const Expr *> apply;
  const RuleEntry *decl = nullptr;
};

/// A resolved setting value (train block). Names that are config entries are replaced by their value; other names
/// (`linear_decay`) stay Names; calls/constructors/blocks (`documents("x", bos: true)`, `adam { lr: 0.01 }`,
/// `sample { count: 20 }`) become Calls with positional args and keyword args.
struct SettingValue {
  enum class Kind { Int, Float, Bool, String, Name, Call, List };
  Kind kind = Kind::Name;
  int64_t i = 0;
  double f = 0;
  bool b = false;
  std::string s; // String text, Name, or Call's callee
  std::vector<SettingValue> args;                               // Call args / List elements
  std::vector<std::pair<std::string, SettingValue>> kwargs;     // Call keyword args, in order
  SourceLoc loc;

  bool isNumber() const { return kind == Kind::Int || kind == Kind::Float; }
  double asDouble() const { return kind == Kind::Int ? double(i) : f; }
  const SettingValue *kwarg(const std::string &key) const;
};

struct TrainSettings {
  bool present = false;
  SourceLoc loc;
  std::vector<std::pair<std::string, SettingValue>> settings; // in order
  const TrainDecl *decl = nullptr;

  const SettingValue *find(const std::string &key) const;
  int64_t getInt(const std::string &key, int64_t dflt) const;
  double getDouble(const std::string &key, double dflt) const;
};

/// What a name in the forward graph refers to.
struct NameRef {
  enum class Kind { Arg, Config, Param, Local, LoopVar, Group };
  Kind kind = Kind::Local;
  std::string name;
};

/// Everything the front end knows after a successful load.
struct Program {
  std::unique_ptr<File> main;                 // the file given to loadProgram
  std::vector<std::unique_ptr<File>> imports; // every imported file, in load order (each loaded once)

  const SystemDecl *system = nullptr; // the main file's (first) system, may be null (rules-only files)
  const ModelDecl *model = nullptr;   // system->model
  std::vector<ConfigValue> config;    // in declaration order
  std::vector<ParamInstance> params;  // in declaration order, groups expanded index by index
  bool hasTarget = false;
  TargetInfo target;
  std::vector<RuleInfo> rules; // imported libraries in import order, then the system's knowledge rules
  TrainSettings train;

  const ConfigValue *findConfig(const std::string &name) const;
  const ParamInstance *findParam(const std::string &exportName) const;
  /// Evaluates a constant integer/float expression over config values (and `loopVars`); nullopt if not constant.
  std::optional<ConstValue> evalConst(const Expr &e, const std::map<std::string, int64_t> &loopVars = {}) const;
  /// The parameter a forward reference denotes (`wte`, `layer[i].attn_wq` with loopVars {i: 0}, `h[2].ln_1.weight`);
  /// nullptr if `ref` is not a parameter reference.
  const ParamInstance *lookupParam(const Expr &ref, const std::map<std::string, int64_t> &loopVars = {}) const;
};

/// The single entry point: parse `path` and its imports, run Sema. See the top of this file.
std::unique_ptr<Program> loadProgram(const std::string &path, const LoadOptions &opts, DiagnosticEngine &diags);

/// Same, with the main file's text given (tests, fuzzing). `path` names it in diagnostics and anchors its imports.
std::unique_ptr<Program> loadProgramFromString(const std::string &path, std::string text, const LoadOptions &opts,
                                               DiagnosticEngine &diags);

/// The forward ops Sema knows, with their positional arity and keyword args (the op table of docs/language.md).
struct OpInfo {
  const char *name;
  unsigned minArgs, maxArgs;
  std::vector<std::string> kwargs;
};
const std::vector<OpInfo> &forwardOps();
const OpInfo *findForwardOp(const std::string &name);

} // namespace spak::dsl
