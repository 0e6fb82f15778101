//===- Sema.cpp - semantic analysis of a loaded program ---------------------------------------------------------===//
//
// Checks and resolves, in order: targets (selection, laws, stability floor), rules, the system (one per file),
// the model (config values, parameters and groups with export names, the forward graph), the train block, and the
// "not used by the compiler" warnings. Sema keeps going after an error so one run reports as much as it can.
//
//===----------------------------------------------------------------------------------------------------------------===//
#include "SemaInternal.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <limits>
#include <map>
#include <set>

namespace spak::dsl {

//===-- Op table ----------------------------------------------------------------------------------------------------===//

const std::vector<OpInfo> &forwardOps() {
  static const std::vector<OpInfo> ops = {
      {"embed", 2, 2, {}},
      {"positions", 1, 1, {}},
      {"linear", 2, 3, {}},
      {"rmsnorm", 1, 1, {"eps"}},
      {"layernorm", 3, 3, {"eps"}},
      {"relu", 1, 1, {}},
      {"gelu", 1, 1, {}},
      {"attention", 3, 3, {"heads", "causal"}},
      {"split", 2, 3, {"axis"}},
      {"softmax", 1, 1, {}},
      {"cross_entropy", 2, 2, {}},
      {"dropout", 1, 1, {"p"}},
  };
  return ops;
}

const OpInfo *findForwardOp(const std::string &name) {
  for (const auto &op : forwardOps())
    if (name == op.name) return &op;
  return nullptr;
}

const char *kindName(InitSpec::Kind kind) {
  switch (kind) {
  case InitSpec::Kind::Normal: return "normal";
  case InitSpec::Kind::Uniform: return "uniform";
  case InitSpec::Kind::Zeros: return "zeros";
  case InitSpec::Kind::Ones: return "ones";
  }
  return "?";
}

//===-- Result helpers ----------------------------------------------------------------------------------------------===//

const LawValue *TargetInfo::law(const std::string &n) const {
  for (const auto &l : laws)
    if (l.name == n) return &l;
  return nullptr;
}

const SettingValue *SettingValue::kwarg(const std::string &key) const {
  for (const auto &kv : kwargs)
    if (kv.first == key) return &kv.second;
  return nullptr;
}

const SettingValue *TrainSettings::find(const std::string &key) const {
  for (const auto &kv : settings)
    if (kv.first == key) return &kv.second;
  return nullptr;
}

int64_t TrainSettings::getInt(const std::string &key, int64_t dflt) const {
  const SettingValue *v = find(key);
  if (!v || !v->isNumber()) return dflt;
  return v->kind == SettingValue::Kind::Int ? v->i : int64_t(v->f);
}

double TrainSettings::getDouble(const std::string &key, double dflt) const {
  const SettingValue *v = find(key);
  return v && v->isNumber() ? v->asDouble() : dflt;
}

const ConfigValue *Program::findConfig(const std::string &name) const {
  for (const auto &c : config)
    if (c.name == name) return &c;
  return nullptr;
}

const ParamInstance *Program::findParam(const std::string &exportName) const {
  for (const auto &p : params)
    if (p.exportName == exportName) return &p;
  return nullptr;
}

namespace {

/// The kernel kinds a law may be scoped to (`law matmul.warps = 8`; spak::rules::KernelKind on the compiler side).
bool knownKernelKind(const std::string &kind) {
  return kind == "matmul" || kind == "attention" || kind == "attention_grad" || kind == "row" ||
         kind == "elementwise";
}
std::string unknownKindMessage(const std::string &kind, const std::string &law) {
  return "unknown kernel kind '" + kind + "' in law '" + law +
         "' (a law scoped to one kind: matmul, attention, attention_grad, row or elementwise)";
}

//===-- Constant evaluation -----------------------------------------------------------------------------------------===//

std::string fmtNum(const ConstValue &v) {
  if (v.isInteger) return std::to_string(v.i);
  std::string s = fmt::format("{}", v.f);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0"; // 2.0 stays visibly real
  return s;
}

/// Evaluates integer/float constant expressions over an environment; reports through `diags` when given.
class ConstEval {
public:
  ConstEval(const std::map<std::string, ConstValue> &env, DiagnosticEngine *diags) : env_(env), diags_(diags) {}

  std::optional<ConstValue> eval(const Expr &e) {
    switch (e.kind) {
    case ExprKind::Number: {
      auto *n = e.as<NumberExpr>();
      if (n->isInteger) return ConstValue{true, n->intValue, double(n->intValue)};
      if (!std::isfinite(n->value)) return fail(e.loc, "number '" + n->text + "' is out of range");
      return ConstValue{false, 0, n->value};
    }
    case ExprKind::Ident: {
      auto *id = e.as<IdentExpr>();
      auto it = env_.find(id->name);
      if (it != env_.end()) return it->second;
      if (id->name == "<error>") return std::nullopt;
      return fail(e.loc, "use of undeclared name '" + id->name + "'");
    }
    case ExprKind::Unary: {
      auto *u = e.as<UnaryExpr>();
      auto v = eval(*u->operand);
      if (!v) return std::nullopt;
      if (u->op == UnaryOp::Not) return fail(e.loc, "'!' is not allowed in a numeric expression");
      if (u->op == UnaryOp::Neg) {
        if (v->isInteger) {
          if (v->i == std::numeric_limits<int64_t>::min()) return fail(e.loc, "integer overflow");
          v->i = -v->i;
          v->f = double(v->i);
        } else {
          v->f = -v->f;
        }
      }
      return v;
    }
    case ExprKind::Binary: return binary(*e.as<BinaryExpr>());
    case ExprKind::Call: return call(*e.as<CallExpr>());
    default:
      return fail(e.loc, std::string("expected a numeric expression, found ") + describe(e));
    }
  }

  static std::string describe(const Expr &e) {
    switch (e.kind) {
    case ExprKind::String: return "a string";
    case ExprKind::Bool: return "a boolean";
    case ExprKind::List: return "a list";
    case ExprKind::Map: return "a map";
    case ExprKind::Constructor: return "'" + e.as<ConstructorExpr>()->name + " { ... }'";
    case ExprKind::Range: return "a range";
    case ExprKind::Member:
    case ExprKind::Index: return "'" + dottedName(e).value_or("an indexed value") + "'";
    default: return "an expression";
    }
  }

private:
  const std::map<std::string, ConstValue> &env_;
  DiagnosticEngine *diags_;

  std::optional<ConstValue> fail(const SourceLoc &l, const std::string &msg) {
    if (diags_) diags_->error(l, msg);
    return std::nullopt;
  }

  static ConstValue real(double d) { return ConstValue{false, 0, d}; }
  static ConstValue integer(int64_t i) { return ConstValue{true, i, double(i)}; }

  std::optional<ConstValue> binary(const BinaryExpr &b) {
    auto l = eval(*b.lhs);
    auto r = eval(*b.rhs);
    if (!l || !r) return std::nullopt;
    bool ints = l->isInteger && r->isInteger;
    int64_t out = 0;
    switch (b.op) {
    case BinaryOp::Add:
      if (ints) return __builtin_add_overflow(l->i, r->i, &out) ? fail(b.loc, "integer overflow") : integer(out);
      return real(l->asDouble() + r->asDouble());
    case BinaryOp::Sub:
      if (ints) return __builtin_sub_overflow(l->i, r->i, &out) ? fail(b.loc, "integer overflow") : integer(out);
      return real(l->asDouble() - r->asDouble());
    case BinaryOp::Mul:
      if (ints) return __builtin_mul_overflow(l->i, r->i, &out) ? fail(b.loc, "integer overflow") : integer(out);
      return real(l->asDouble() * r->asDouble());
    case BinaryOp::Div:
      if (r->asDouble() == 0) return fail(b.loc, "division by zero");
      if (ints) {
        if (l->i == std::numeric_limits<int64_t>::min() && r->i == -1) return fail(b.loc, "integer overflow");
        if (l->i % r->i != 0)
          return fail(b.loc, fmt::format("division is not exact: {} / {} (write {}.0 / {} for a real number)", l->i,
                                         r->i, l->i, r->i));
        return integer(l->i / r->i);
      }
      return real(l->asDouble() / r->asDouble());
    case BinaryOp::Mod:
      if (!ints) return fail(b.loc, "'%' needs integer operands");
      if (r->i == 0) return fail(b.loc, "division by zero");
      if (l->i == std::numeric_limits<int64_t>::min() && r->i == -1) return integer(0);
      return integer(l->i % r->i);
    case BinaryOp::Pow: {
      if (ints && r->i >= 0) {
        int64_t acc = 1;
        for (int64_t k = 0; k < r->i; ++k) {
          if (__builtin_mul_overflow(acc, l->i, &acc)) return fail(b.loc, "integer overflow");
          if (acc == 0 || acc == 1) break;
        }
        return integer(acc);
      }
      return real(std::pow(l->asDouble(), r->asDouble()));
    }
    default:
      return fail(b.loc, std::string("operator '") + spelling(b.op) + "' is not allowed in a numeric expression");
    }
  }

  std::optional<ConstValue> call(const CallExpr &c) {
    static const std::set<std::string> unary = {"sqrt", "exp", "log", "abs"};
    static const std::set<std::string> binaryFns = {"min", "max", "pow"};
    bool isUnary = unary.count(c.callee) != 0, isBinary = binaryFns.count(c.callee) != 0;
    if (!isUnary && !isBinary)
      return fail(c.calleeLoc, "unknown function '" + c.callee + "' in a constant expression");
    size_t want = isUnary ? 1 : 2;
    if (c.args.size() != want || !c.kwargs.empty())
      return fail(c.loc, fmt::format("'{}' expects {} argument{}, got {}", c.callee, want, want == 1 ? "" : "s",
                                     c.args.size() + c.kwargs.size()));
    std::vector<ConstValue> a;
    for (const auto &x : c.args) {
      auto v = eval(*x);
      if (!v) return std::nullopt;
      a.push_back(*v);
    }
    if (c.callee == "sqrt") {
      if (a[0].asDouble() < 0) return fail(c.loc, "sqrt of a negative number");
      return real(std::sqrt(a[0].asDouble()));
    }
    if (c.callee == "exp") return real(std::exp(a[0].asDouble()));
    if (c.callee == "log") {
      if (a[0].asDouble() <= 0) return fail(c.loc, "log of a non-positive number");
      return real(std::log(a[0].asDouble()));
    }
    if (c.callee == "abs") return a[0].isInteger && a[0].i != std::numeric_limits<int64_t>::min()
                                      ? integer(a[0].i < 0 ? -a[0].i : a[0].i)
                                      : real(std::fabs(a[0].asDouble()));
    if (c.callee == "pow") return real(std::pow(a[0].asDouble(), a[1].asDouble()));
    bool ints = a[0].isInteger && a[1].isInteger;
    if (c.callee == "min") return ints ? integer(std::min(a[0].i, a[1].i)) : real(std::min(a[0].asDouble(), a[1].asDouble()));
    return ints ? integer(std::max(a[0].i, a[1].i)) : real(std::max(a[0].asDouble(), a[1].asDouble()));
  }
};

//===-- Sema --------------------------------------------------------------------------------------------------------===//

class Sema {
public:
  explicit Sema(detail::SemaContext &ctx) : ctx_(ctx), prog_(ctx.prog), diags_(ctx.diags) {}

  void run() {
    selectTarget();
    collectRules();
    const File &main = *prog_.main;
    for (const auto &d : main.decls) {
      auto *s = d->as<SystemDecl>();
      if (!s) continue;
      if (prog_.system) {
        diags_.error(s->nameLoc, "only one system per file: '" + s->name + "'");
        diags_.note(prog_.system->nameLoc, "first system '" + prog_.system->name + "' is here");
        continue;
      }
      prog_.system = s;
    }
    if (prog_.system) {
      system(*prog_.system);
    }
    checkRuleConflicts();
  }

private:
  detail::SemaContext &ctx_;
  Program &prog_;
  DiagnosticEngine &diags_;
  std::map<std::string, ConstValue> configEnv_;
  std::map<std::string, const ConfigValue *> configByName_;

  // Names of the model's namespace: config, params, groups (for redefinition checks).
  struct ModelName {
    enum Kind { Config, Param, Group } kind;
    SourceLoc loc;
    const GroupDecl *group = nullptr;
    const ParamDecl *param = nullptr;
  };
  std::map<std::string, ModelName> modelNames_;

  void redefinition(const std::string &what, const std::string &name, const SourceLoc &here, const SourceLoc &prev) {
    diags_.error(here, "redefinition of " + what + " '" + name + "'");
    diags_.note(prev, "previous definition is here");
  }

  //===-- targets -------------------------------------------------------------------------------------------------===//

  void selectTarget() {
    struct Found {
      const TargetDecl *decl;
      const detail::LoadedFile *file;
    };
    std::vector<Found> imported;
    std::map<std::string, const TargetDecl *> byName;
    for (const auto &lf : ctx_.files) {
      for (const auto &d : lf.file->decls) {
        auto *t = d->as<TargetDecl>();
        if (!t) continue;
        if (auto it = byName.find(t->name); it != byName.end()) {
          redefinition("target", t->name, t->nameLoc, it->second->nameLoc);
          continue;
        }
        byName[t->name] = t;
        imported.push_back({t, &lf});
      }
    }
    const TargetDecl *chosen = nullptr;
    if (!ctx_.opts.target.empty()) {
      if (auto it = byName.find(ctx_.opts.target); it != byName.end()) {
        chosen = it->second;
      } else {
        std::vector<std::string> available;
        const File *f = ctx_.findTarget ? ctx_.findTarget(ctx_.opts.target, available) : nullptr;
        if (f) {
          for (const auto &d : f->decls)
            if (auto *t = d->as<TargetDecl>(); t && t->name == ctx_.opts.target) chosen = t;
        } else {
          for (const auto &[n, t] : byName) available.push_back(n);
          std::sort(available.begin(), available.end());
          available.erase(std::unique(available.begin(), available.end()), available.end());
          std::string list;
          for (const auto &a : available) list += (list.empty() ? "" : ", ") + a;
          diags_.error(SourceLoc{}, fmt::format("unknown target '{}' (--target); known targets: {}",
                                                ctx_.opts.target, list.empty() ? "none" : list));
          return;
        }
      }
    } else if (!imported.empty()) {
      // Different targets imported (directly or transitively): ambiguous without --target.
      const Found &first = imported.front();
      for (size_t i = 1; i < imported.size(); ++i) {
        const Found &other = imported[i];
        SourceLoc here = other.file->importedAt.valid() ? other.file->importedAt : other.decl->nameLoc;
        SourceLoc there = first.file->importedAt.valid() ? first.file->importedAt : first.decl->nameLoc;
        diags_.error(here, fmt::format("conflicting targets: '{}' is imported here but '{}' was already imported "
                                       "(choose one with --target)",
                                       other.decl->name, first.decl->name));
        diags_.note(there, fmt::format("target '{}' imported here", first.decl->name));
        lawDifferences(*other.decl, *first.decl);
      }
      chosen = first.decl;
    }
    if (!chosen) return;
    evaluateTarget(*chosen);
  }

  /// Notes for the laws two conflicting targets define differently (both locations), so the user sees what the
  /// choice of target decides.
  void lawDifferences(const TargetDecl &a, const TargetDecl &b) {
    std::map<std::string, ConstValue> empty;
    ConstEval ev(empty, nullptr);
    for (const LawEntry *la : a.laws)
      for (const LawEntry *lb : b.laws) {
        if (la->name != lb->name) continue;
        auto va = ev.eval(*la->value), vb = ev.eval(*lb->value);
        if (!va || !vb || va->asDouble() == vb->asDouble()) continue;
        diags_.note(la->nameLoc, fmt::format("law '{}' = {} in target '{}'", la->name, fmtNum(*va), a.name));
        diags_.note(lb->nameLoc, fmt::format("law '{}' = {} in target '{}'", lb->name, fmtNum(*vb), b.name));
        break;
      }
  }

  void evaluateTarget(const TargetDecl &t) {
    TargetInfo &ti = prog_.target;
    prog_.hasTarget = true;
    ti.name = t.name;
    ti.device = t.device;
    ti.loc = t.nameLoc;
    ti.decl = &t;
    std::map<std::string, ConstValue> empty;
    ConstEval ev(empty, &diags_);
    std::map<std::string, SourceLoc> seen;
    for (const LawEntry *l : t.laws) {
      if (auto it = seen.find(l->name); it != seen.end()) {
        redefinition("law", l->name, l->nameLoc, it->second);
        continue;
      }
      seen[l->name] = l->nameLoc;
      if (size_t dot = l->name.find('.'); dot != std::string::npos) {  // `law matmul.warps = 8`
        std::string kind = l->name.substr(0, dot);
        if (!knownKernelKind(kind)) {
          diags_.error(l->nameLoc, unknownKindMessage(kind, l->name));
          continue;
        }
      }
      auto v = ev.eval(*l->value);
      if (!v) continue;
      ti.laws.push_back(LawValue{l->name, *v, l->nameLoc});
    }
    if (t.stabilityFloor) {
      const Expr *value = nullptr;
      SourceLoc at = t.stabilityFloor->loc;
      if (auto *a = t.stabilityFloor->as<AssignEntry>()) value = a->value.get();
      if (auto *p = t.stabilityFloor->as<PropertyEntry>()) value = p->value.get();
      if (value) {
        if (auto v = ev.eval(*value)) {
          if (v->asDouble() >= 0)
            diags_.error(value->loc, "stability_floor must be negative, got " + fmtNum(*v));
          ti.stabilityFloor = v->asDouble();
          ti.stabilityFloorIsDefault = false;
          ti.stabilityFloorOrigin = at;
        }
      }
    }
    std::set<std::string> propSeen;
    for (const Entry *e : t.properties) {
      if (auto *p = e->as<PropertyEntry>()) {
        if (p->key == "stability_floor") {
          diags_.error(p->keyLoc, "duplicate stability_floor");
          if (t.stabilityFloor) diags_.note(t.stabilityFloor->loc, "previous definition is here");
          continue;
        }
        if (p->key == "arch") {
          if (auto *s = p->value->as<StringExpr>()) ti.arch = s->value;
          else diags_.error(p->value->loc, "'arch' must be a string such as \"sm_90a\"");
        }
      } else if (auto *a = e->as<AssignEntry>(); a && a->name == "stability_floor") {
        diags_.error(a->nameLoc, "duplicate stability_floor");
        if (t.stabilityFloor) diags_.note(t.stabilityFloor->loc, "previous definition is here");
      }
    }
  }

  //===-- rules ---------------------------------------------------------------------------------------------------===//

  void addRule(const RuleEntry &r, const std::string &library, bool requireWhenApply,
               std::map<std::string, const RuleEntry *> &seen) {
    if (auto it = seen.find(r.name); it != seen.end()) {
      diags_.error(r.nameLoc, "redefinition of rule '" + r.name + "'");
      diags_.note(it->second->nameLoc, "previous definition is here");
      return;
    }
    seen[r.name] = &r;
    RuleInfo ri;
    ri.name = r.name;
    ri.library = library;
    ri.loc = r.nameLoc;
    ri.decl = &r;
    if (r.when) ri.when = r.when->value.get();
    for (auto *a : r.apply) ri.apply.push_back(a->value.get());
    if (requireWhenApply) {
      if (!r.when) diags_.error(r.nameLoc, "rule '" + r.name + "' has no 'when:' condition");
      if (r.apply.empty()) diags_.error(r.nameLoc, "rule '" + r.name + "' has no 'apply:' action");
    }
    if (r.priority) {
      std::map<std::string, ConstValue> empty;
      auto *num = r.priority->value->as<NumberExpr>();
      if (num && num->isInteger) ri.priority = num->intValue;
      else if (requireWhenApply) diags_.error(r.priority->value->loc, "rule priority must be an integer");
    }
    if (auto *en = r.property("enabled")) {
      if (auto *b = en->value->as<BoolExpr>()) ri.enabled = b->value;
      else diags_.error(en->value->loc, "'enabled' must be true or false");
    }
    prog_.rules.push_back(std::move(ri));
  }

  void collectRules() {
    // Rule libraries: imported files first (load order), then the main file.
    std::vector<const File *> order;
    for (size_t i = 1; i < ctx_.files.size(); ++i) order.push_back(ctx_.files[i].file);
    order.push_back(prog_.main.get());
    for (const File *f : order) {
      for (const auto &d : f->decls) {
        auto *rd = d->as<RulesDecl>();
        if (!rd) continue;
        std::map<std::string, const RuleEntry *> seen;
        for (const auto &e : rd->entries) {
          if (auto *r = e->as<RuleEntry>()) {
            addRule(*r, rd->name, true, seen);
          } else if (f == prog_.main.get()) {
            diags_.warning(e->loc, std::string("entry '") + kindName(e->kind) +
                                       "' in a rules library is not used by the compiler; kept in the AST");
          }
        }
      }
    }
  }

  /// `apply` as the fusion passes match it (FusionUtils normalizeApply): the source-like text without whitespace
  /// and quotes; several applies joined by ';'. Empty when an apply is not a plain name/call/string.
  static bool applyText(const Expr &e, std::string &out) {
    if (auto *i = e.as<IdentExpr>()) return out += i->name, true;
    if (auto *st = e.as<StringExpr>()) {
      for (char c : st->value)
        if (!std::isspace(static_cast<unsigned char>(c)) && c != '"') out += c;
      return true;
    }
    if (auto *n = e.as<NumberExpr>()) return out += n->text, true;
    if (auto *m = e.as<MemberExpr>()) {
      if (!applyText(*m->base, out)) return false;
      return out += "." + m->member, true;
    }
    if (auto *c = e.as<CallExpr>()) {
      out += c->callee + "(";
      for (size_t i = 0; i < c->args.size(); ++i) {
        if (i) out += ",";
        if (!applyText(*c->args[i], out)) return false;
      }
      for (size_t i = 0; i < c->kwargs.size(); ++i) {
        if (i || !c->args.empty()) out += ",";
        out += c->kwargs[i].name + ":";
        if (!applyText(*c->kwargs[i].value, out)) return false;
      }
      return out += ")", true;
    }
    return false;
  }

  /// Rules that contradict each other, across every library and knowledge block:
  ///  * one rule name defined in two places (rule names key the provenance of every fused kernel);
  ///  * the same `apply` enabled by two rules with different priorities (which order would the passes run in?);
  ///  * the same `apply` enabled by one rule and disabled by another (does the fusion happen?).
  /// Same apply, same state and priority under another name is a warning (the first rule is the one recorded).
  void checkRuleConflicts() {
    std::map<std::string, const RuleInfo *> byName;
    std::map<std::string, const RuleInfo *> byApply;
    for (const RuleInfo &r : prog_.rules) {
      if (auto it = byName.find(r.name); it != byName.end()) {
        if (it->second->library != r.library) { // same library: already a redefinition error
          diags_.error(r.loc, fmt::format("conflicting rules: rule '{}' (in '{}') is also defined in '{}'", r.name,
                                          r.library, it->second->library));
          diags_.note(it->second->loc, "previous definition is here");
        }
        continue;
      }
      byName[r.name] = &r;
      if (r.apply.empty()) continue;
      std::string key;
      bool ok = true;
      for (size_t i = 0; i < r.apply.size() && ok; ++i) {
        if (i) key += ";";
        ok = r.apply[i] && applyText(*r.apply[i], key);
      }
      if (!ok || key.empty()) continue;
      auto [it, inserted] = byApply.emplace(key, &r);
      if (inserted) continue;
      const RuleInfo &prev = *it->second;
      if (prev.enabled != r.enabled) {
        diags_.error(r.loc, fmt::format("conflicting rules: '{}' {} 'apply: {}', which '{}' {}", r.name,
                                        r.enabled ? "enables" : "disables", key, prev.name,
                                        prev.enabled ? "enables" : "disables (enabled: false)"));
        diags_.note(prev.loc, "previous definition is here");
      } else if (r.enabled && prev.priority != r.priority) {
        diags_.error(r.loc, fmt::format("conflicting rules: '{}' applies '{}' at priority {}, but '{}' applies it at "
                                        "priority {}",
                                        r.name, key, r.priority, prev.name, prev.priority));
        diags_.note(prev.loc, "previous definition is here");
      } else if (r.enabled) {
        diags_.warning(r.loc, fmt::format("rule '{}' repeats rule '{}' (same apply '{}', same priority); only '{}' is "
                                          "recorded on the fused kernels",
                                          r.name, prev.name, key, prev.name));
        diags_.note(prev.loc, "previous definition is here");
      }
    }
  }

  //===-- system --------------------------------------------------------------------------------------------------===//

  static std::string blockLabel(const std::vector<Word> &words) {
    std::string s;
    for (size_t i = 0; i < words.size() && i < 2; ++i) {
      if (words[i].kind != Word::Kind::Name) break;
      s += (s.empty() ? "" : " ") + words[i].text;
    }
    return s.empty() ? words.front().text : s;
  }

  void unused(const Entry &e, const char *where) {
    if (!ctx_.opts.warnUnused) return;
    std::string what;
    switch (e.kind) {
    case EntryKind::Block: what = "block '" + blockLabel(e.as<BlockEntry>()->words) + "'"; break;
    case EntryKind::Directive: what = "directive '" + blockLabel(e.as<DirectiveEntry>()->words) + "'"; break;
    case EntryKind::Property: what = "property '" + e.as<PropertyEntry>()->key + "'"; break;
    case EntryKind::Assign: what = "assignment '" + e.as<AssignEntry>()->name + "'"; break;
    case EntryKind::State: what = "state '" + e.as<StateEntry>()->name + "'"; break;
    case EntryKind::Parameter: what = "parameter '" + e.as<ParameterEntry>()->name + "'"; break;
    case EntryKind::Procedure: what = "procedure '" + e.as<ProcedureEntry>()->name + "'"; break;
    case EntryKind::Law: what = "law '" + e.as<LawEntry>()->name + "'"; break;
    default: what = std::string(kindName(e.kind)) + " entry"; break;
    }
    diags_.warning(e.loc, what + where + " is not used by the compiler; kept in the AST");
  }

  void system(const SystemDecl &s) {
    const ModelDecl *model = nullptr;
    const TrainDecl *train = nullptr;
    std::map<std::string, SourceLoc> systemLaws;
    for (const auto &e : s.entries) {
      if (auto *m = e->as<ModelDecl>()) {
        if (model) {
          diags_.error(m->loc, "duplicate model block in system '" + s.name + "'");
          diags_.note(model->loc, "previous definition is here");
          continue;
        }
        model = m;
        prog_.model = m;
        modelDecl(*m);
        continue;
      }
      if (auto *t = e->as<TrainDecl>()) {
        if (train) {
          diags_.error(t->loc, "duplicate train block in system '" + s.name + "'");
          diags_.note(train->loc, "previous definition is here");
          continue;
        }
        train = t;
        continue;
      }
      if (auto *b = e->as<BlockEntry>(); b && b->head() == "knowledge" && b->words.size() == 1) {
        knowledge(s, *b);
        continue;
      }
      if (e->is<RuleEntry>()) {
        std::map<std::string, const RuleEntry *> seen;
        addRule(*e->as<RuleEntry>(), s.name, false, seen);
        continue;
      }
      if (auto *l = e->as<LawEntry>()) {
        systemLaw(*l, s, systemLaws);
        continue;
      }
      unused(*e, "");
    }
    if (train) trainDecl(*train);
  }

  /// `law NAME = V` / `law KIND.NAME = V` in a system: this model's own value of a law of the selected target (a
  /// model whose shapes want other tiles than the target's default, say). It replaces the target's law of that name
  /// (kernels then name the system's line as the law's provenance); `--law` still overrides it for one run.
  void systemLaw(const LawEntry &l, const SystemDecl &s, std::map<std::string, SourceLoc> &seen) {
    if (!prog_.hasTarget) {
      diags_.error(l.nameLoc, "law '" + l.name + "' in system '" + s.name +
                                  "' changes a law of the target, but no target is selected (import a "
                                  "targets/*.dsl file)");
      return;
    }
    if (auto it = seen.find(l.name); it != seen.end()) {
      redefinition("law", l.name, l.nameLoc, it->second);
      return;
    }
    seen[l.name] = l.nameLoc;
    if (size_t dot = l.name.find('.'); dot != std::string::npos) {
      std::string kind = l.name.substr(0, dot);
      if (!knownKernelKind(kind)) {
        diags_.error(l.nameLoc, unknownKindMessage(kind, l.name));
        return;
      }
    }
    std::map<std::string, ConstValue> empty;
    ConstEval ev(empty, &diags_);
    auto v = ev.eval(*l.value);
    if (!v) return;
    for (LawValue &t : prog_.target.laws)
      if (t.name == l.name) {
        t.value = *v;
        t.origin = l.nameLoc;
        return;
      }
    prog_.target.laws.push_back(LawValue{l.name, *v, l.nameLoc});
  }

  void knowledge(const SystemDecl &s, const BlockEntry &b) {
    std::map<std::string, const RuleEntry *> seen;
    for (const auto &e : b.entries) {
      if (auto *r = e->as<RuleEntry>()) addRule(*r, s.name + ".knowledge", false, seen);
      // facts, invariants and hints are recorded knowledge: kept, checked by nobody, no warning
    }
    for (const auto &e : b.entries) lawRefs(e.get());
  }

  /// `law.NAME` references (in knowledge entries) must name a law of the selected target.
  void lawRefs(const Entry *e) {
    if (auto *p = e->as<PropertyEntry>()) lawRefsExpr(p->value.get());
    if (auto *n = dynamic_cast<const NamedBlockBase *>(e))
      for (const auto &c : n->entries) lawRefs(c.get());
    if (auto *b = e->as<BlockEntry>())
      for (const auto &c : b->entries) lawRefs(c.get());
  }

  void lawRefsExpr(const Expr *x) {
    if (!x) return;
    if (auto *m = x->as<MemberExpr>()) {
      if (auto *id = m->base->as<IdentExpr>(); id && id->name == "law") {
        if (!prog_.hasTarget)
          diags_.error(m->loc, "'law." + m->member + "' refers to a hardware law, but no target is selected");
        else if (!prog_.target.law(m->member))
          diags_.error(m->memberLoc, "unknown law '" + m->member + "' (target '" + prog_.target.name + "')");
        return;
      }
      lawRefsExpr(m->base.get());
      return;
    }
    if (auto *b = x->as<BinaryExpr>()) { lawRefsExpr(b->lhs.get()); lawRefsExpr(b->rhs.get()); }
    if (auto *u = x->as<UnaryExpr>()) lawRefsExpr(u->operand.get());
    if (auto *l = x->as<ListExpr>()) for (const auto &y : l->elements) lawRefsExpr(y.get());
    if (auto *c = x->as<CallExpr>()) {
      for (const auto &y : c->args) lawRefsExpr(y.get());
      for (const auto &k : c->kwargs) lawRefsExpr(k.value.get());
    }
  }

  //===-- model ---------------------------------------------------------------------------------------------------===//

  void modelDecl(const ModelDecl &m) {
    bool typed = m.config || !m.params.empty() || !m.groups.empty() || m.forward;
    for (const auto &e : m.entries) {
      if (e.get() == m.config || e->is<ParamDecl>() || e->is<GroupDecl>() || e.get() == m.forward) continue;
      if (auto *b = e->as<BlockEntry>(); b && b->head() == "config" && b->words.size() == 1) {
        diags_.error(b->loc, "duplicate config block");
        diags_.note(m.config->loc, "previous definition is here");
        continue;
      }
      if (auto *f = e->as<ForwardDecl>()) {
        diags_.error(f->loc, "duplicate forward");
        diags_.note(m.forward->loc, "previous definition is here");
        continue;
      }
      unused(*e, " in model");
    }
    if (!typed) return;
    config(m);
    params(m);
    if (!m.forward) {
      diags_.error(m.loc, "model" + (m.name.empty() ? std::string() : " '" + m.name + "'") +
                              " has no forward(...) { ... }");
      return;
    }
    forward(*m.forward);
  }

  void config(const ModelDecl &m) {
    if (!m.config) return;
    ConstEval ev(configEnv_, &diags_);
    for (const auto &e : m.config->entries) {
      auto *p = e->as<PropertyEntry>();
      if (!p || !p->qualifiers.empty()) {
        diags_.error(e->loc, "expected 'name: value' in config");
        continue;
      }
      if (auto it = modelNames_.find(p->key); it != modelNames_.end()) {
        redefinition("config value", p->key, p->keyLoc, it->second.loc);
        continue;
      }
      auto v = ev.eval(*p->value);
      modelNames_[p->key] = ModelName{ModelName::Config, p->keyLoc};
      if (!v) continue;
      prog_.config.push_back(ConfigValue{p->key, p->keyLoc, *v});
      configEnv_[p->key] = *v;
    }
    for (const auto &c : prog_.config) configByName_[c.name] = &c;
  }

  /// A positive integer from a shape/count expression; reports and returns nullopt otherwise.
  std::optional<int64_t> positiveInt(const Expr &e, const char *what) {
    ConstEval ev(configEnv_, &diags_);
    auto v = ev.eval(e);
    if (!v) return std::nullopt;
    if (!v->isInteger) {
      diags_.error(e.loc, fmt::format("{} must be an integer, got {}", what, fmtNum(*v)));
      return std::nullopt;
    }
    if (v->i <= 0) {
      diags_.error(e.loc, fmt::format("{} must be positive, got {}", what, v->i));
      return std::nullopt;
    }
    return v->i;
  }

  std::optional<InitSpec> initSpec(const ParamDecl &p) {
    if (!p.init) {
      diags_.error(p.nameLoc, "parameter '" + p.name + "' has no initializer (add '~ normal(0, 0.02)', '~ zeros' "
                                                          "or '~ ones')");
      return std::nullopt;
    }
    const Expr &e = *p.init;
    InitSpec s;
    s.loc = e.loc;
    std::string name;
    const CallExpr *call = e.as<CallExpr>();
    if (auto *id = e.as<IdentExpr>()) name = id->name;
    else if (call) name = call->callee;
    else {
      diags_.error(e.loc, "expected an initializer (normal(mean, std), uniform(lo, hi), zeros or ones)");
      return std::nullopt;
    }
    size_t nargs = call ? call->args.size() : 0;
    if (call && !call->kwargs.empty()) {
      diags_.error(call->kwargs.front().loc, "initializer '" + name + "' takes no keyword arguments");
      return std::nullopt;
    }
    if (name == "zeros" || name == "ones") {
      if (nargs != 0) {
        diags_.error(e.loc, fmt::format("'{}' takes no arguments, got {}", name, nargs));
        return std::nullopt;
      }
      s.kind = name == "zeros" ? InitSpec::Kind::Zeros : InitSpec::Kind::Ones;
      return s;
    }
    if (name == "normal" || name == "uniform") {
      if (!call || nargs != 2) {
        diags_.error(e.loc, fmt::format("'{}' expects 2 arguments ({}), got {}", name,
                                        name == "normal" ? "mean, std" : "lo, hi", nargs));
        return std::nullopt;
      }
      ConstEval ev(configEnv_, &diags_);
      auto a = ev.eval(*call->args[0]);
      auto b = ev.eval(*call->args[1]);
      if (!a || !b) return std::nullopt;
      s.a = a->asDouble();
      s.b = b->asDouble();
      if (name == "normal") {
        s.kind = InitSpec::Kind::Normal;
        if (s.b < 0) {
          diags_.error(call->args[1]->loc, "standard deviation must not be negative, got " + fmtNum(*b));
          return std::nullopt;
        }
      } else {
        s.kind = InitSpec::Kind::Uniform;
        if (s.a > s.b) {
          diags_.error(call->loc, fmt::format("uniform range is empty: lo {} > hi {}", fmtNum(*a), fmtNum(*b)));
          return std::nullopt;
        }
      }
      return s;
    }
    diags_.error(call ? call->calleeLoc : e.loc,
                 "unknown initializer '" + name + "' (expected normal, uniform, zeros or ones)");
    return std::nullopt;
  }

  std::map<std::string, SourceLoc> exportNames_;

  void addInstance(const ParamDecl &p, const std::vector<int64_t> &shape, const std::optional<InitSpec> &init,
                   const std::string &group, int64_t index, std::string exportName) {
    if (auto it = exportNames_.find(exportName); it != exportNames_.end()) {
      diags_.error(p.exportName.empty() ? p.nameLoc : p.exportLoc,
                   "two parameters export the same name '" + exportName + "'");
      diags_.note(it->second, "previous definition is here");
      return;
    }
    exportNames_[exportName] = p.exportName.empty() ? p.nameLoc : p.exportLoc;
    ParamInstance pi;
    pi.name = p.name;
    pi.group = group;
    pi.groupIndex = index;
    pi.exportName = std::move(exportName);
    pi.shape = shape;
    pi.numel = 1;
    for (int64_t d : shape)
      if (__builtin_mul_overflow(pi.numel, d, &pi.numel)) pi.numel = std::numeric_limits<int64_t>::max();
    if (init) pi.init = *init;
    pi.loc = p.loc;
    pi.decl = &p;
    prog_.params.push_back(std::move(pi));
  }

  std::optional<std::vector<int64_t>> shapeOf(const ParamDecl &p) {
    if (p.shape.empty()) {
      diags_.error(p.nameLoc, "parameter '" + p.name + "' has an empty shape");
      return std::nullopt;
    }
    std::vector<int64_t> shape;
    bool ok = true;
    for (const auto &d : p.shape) {
      auto v = positiveInt(*d, "shape dimension");
      if (v) shape.push_back(*v);
      else ok = false;
    }
    if (!ok) return std::nullopt;
    return shape;
  }

  static std::string replaceIndex(std::string s, int64_t i) {
    const std::string key = "{i}";
    for (size_t pos = s.find(key); pos != std::string::npos; pos = s.find(key, pos))
      s.replace(pos, key.size(), std::to_string(i));
    return s;
  }

  std::map<std::string, int64_t> groupCounts_;

  void params(const ModelDecl &m) {
    for (const auto &e : m.entries) {
      if (auto *p = e->as<ParamDecl>()) {
        if (auto it = modelNames_.find(p->name); it != modelNames_.end()) {
          redefinition("parameter", p->name, p->nameLoc, it->second.loc);
          continue;
        }
        modelNames_[p->name] = ModelName{ModelName::Param, p->nameLoc, nullptr, p};
        auto shape = shapeOf(*p);
        auto init = initSpec(*p);
        if (!shape) continue;
        addInstance(*p, *shape, init, "", -1, p->exportName.empty() ? p->name : p->exportName);
      } else if (auto *g = e->as<GroupDecl>()) {
        if (auto it = modelNames_.find(g->name); it != modelNames_.end()) {
          redefinition("group", g->name, g->nameLoc, it->second.loc);
          continue;
        }
        modelNames_[g->name] = ModelName{ModelName::Group, g->nameLoc, g, nullptr};
        auto count = g->count ? positiveInt(*g->count, "group size") : std::nullopt;
        std::string prefix = g->exportPrefix.empty() ? g->name + "{i}." : g->exportPrefix;
        bool badPrefix = !g->exportPrefix.empty() && g->exportPrefix.find("{i}") == std::string::npos;
        if (badPrefix) diags_.error(g->exportLoc, "group export prefix must contain '{i}' (the group index)");
        std::map<std::string, SourceLoc> inGroup;
        std::vector<std::pair<const ParamDecl *, std::optional<std::vector<int64_t>>>> decls;
        std::vector<std::optional<InitSpec>> inits;
        for (const auto &p : g->params) {
          if (auto it = inGroup.find(p->name); it != inGroup.end()) {
            redefinition("parameter", p->name, p->nameLoc, it->second);
            continue;
          }
          inGroup[p->name] = p->nameLoc;
          decls.push_back({p.get(), shapeOf(*p)});
          inits.push_back(initSpec(*p));
        }
        if (!count) continue;
        groupCounts_[g->name] = *count;
        if (badPrefix) continue; // every index would export the same names
        for (int64_t i = 0; i < *count; ++i) {
          for (size_t k = 0; k < decls.size(); ++k) {
            const ParamDecl &p = *decls[k].first;
            if (!decls[k].second) continue;
            std::string exportName;
            if (!p.exportName.empty() && p.exportName.find("{i}") != std::string::npos)
              exportName = replaceIndex(p.exportName, i);
            else
              exportName = replaceIndex(prefix, i) + (p.exportName.empty() ? p.name : p.exportName);
            addInstance(p, *decls[k].second, inits[k], g->name, i, exportName);
          }
          if (exportNames_.size() > 1000000) break; // absurd group sizes: the errors above already say why
        }
      }
    }
  }

  //===-- forward -------------------------------------------------------------------------------------------------===//

  struct Scope {
    std::map<std::string, NameRef::Kind> names;
    std::map<std::string, SourceLoc> argLocs;
  };
  Scope scope_;
  std::map<std::string, int64_t> loopVars_; // var → count

  void forward(const ForwardDecl &f) {
    static const std::set<std::string> dtypes = {"i32", "i64", "u16", "f32", "f16", "bf16"};
    for (const auto &a : f.args) {
      if (auto it = scope_.argLocs.find(a.name); it != scope_.argLocs.end()) {
        redefinition("argument", a.name, a.loc, it->second);
        continue;
      }
      if (modelNames_.count(a.name)) {
        diags_.error(a.loc, "argument '" + a.name + "' shadows a config value or parameter");
        diags_.note(modelNames_[a.name].loc, "previous definition is here");
      }
      scope_.argLocs[a.name] = a.loc;
      scope_.names[a.name] = NameRef::Kind::Arg;
      if (!dtypes.count(a.dtype))
        diags_.error(a.dtypeLoc, "unknown element type '" + a.dtype + "' (expected i32, i64, u16, f32, f16 or bf16)");
      for (const auto &d : a.shape) {
        if (auto *id = d->as<IdentExpr>()) {
          if (configEnv_.count(id->name)) {
            positiveInt(*d, "dimension");
            continue;
          }
          // A symbolic dimension (T): bound at run time, usable in the body (positions(T)).
          if (!scope_.names.count(id->name)) scope_.names[id->name] = NameRef::Kind::Arg;
          continue;
        }
        positiveInt(*d, "dimension");
      }
    }
    bool assignsLoss = false;
    stmts(f.body, assignsLoss);
    if (!assignsLoss) diags_.error(f.loc, "forward does not assign 'loss' (the value training minimizes)");
  }

  void stmts(const std::vector<StmtPtr> &body, bool &assignsLoss) {
    for (const auto &s : body) {
      if (s->kind == Stmt::Kind::Assign) {
        if (s->value) fexpr(*s->value, true);
        if (auto it = modelNames_.find(s->target); it != modelNames_.end()) {
          diags_.error(s->targetLoc, "cannot assign to " +
                                         std::string(it->second.kind == ModelName::Config ? "config value"
                                                     : it->second.kind == ModelName::Param ? "parameter"
                                                                                            : "group") +
                                         " '" + s->target + "'");
          continue;
        }
        if (loopVars_.count(s->target)) {
          diags_.error(s->targetLoc, "cannot assign to loop variable '" + s->target + "'");
          continue;
        }
        if (auto it = scope_.names.find(s->target); it != scope_.names.end() && it->second == NameRef::Kind::Arg) {
          diags_.error(s->targetLoc, "cannot assign to argument '" + s->target + "'");
          continue;
        }
        scope_.names[s->target] = NameRef::Kind::Local;
        if (s->target == "loss") assignsLoss = true;
      } else {
        auto count = s->count ? positiveInt(*s->count, "repeat count") : std::nullopt;
        if (loopVars_.count(s->var) || scope_.names.count(s->var) || modelNames_.count(s->var)) {
          diags_.error(s->varLoc, "loop variable '" + s->var + "' shadows an existing name");
          continue;
        }
        loopVars_[s->var] = count.value_or(0);
        stmts(s->body, assignsLoss);
        loopVars_.erase(s->var);
      }
    }
  }

  /// Resolves a group reference `g[i].a.b`: checks the index and the parameter name.
  void groupRef(const Expr &whole, const IndexExpr &idx, const GroupDecl &g, const std::string &member,
                const SourceLoc &memberLoc) {
    if (idx.indices.size() != 1) {
      diags_.error(idx.loc, fmt::format("group '{}' takes one index, got {}", g.name, idx.indices.size()));
      return;
    }
    const Expr &i = *idx.indices[0];
    if (auto *id = i.as<IdentExpr>(); id && loopVars_.count(id->name)) {
      int64_t loopCount = loopVars_[id->name];
      auto gc = groupCounts_.find(g.name);
      if (gc != groupCounts_.end() && loopCount > gc->second)
        diags_.error(i.loc, fmt::format("loop variable '{}' runs to {} but group '{}' has {} entr{}", id->name,
                                        loopCount - 1, g.name, gc->second, gc->second == 1 ? "y" : "ies"));
    } else {
      ConstEval ev(configEnv_, &diags_);
      auto v = ev.eval(i);
      if (v) {
        auto gc = groupCounts_.find(g.name);
        if (!v->isInteger) diags_.error(i.loc, "group index must be an integer");
        else if (gc != groupCounts_.end() && (v->i < 0 || v->i >= gc->second))
          diags_.error(i.loc, fmt::format("group index {} is out of range (group '{}' has {} entr{})", v->i, g.name,
                                          gc->second, gc->second == 1 ? "y" : "ies"));
      }
    }
    if (member.empty()) {
      diags_.error(whole.loc, "'" + g.name + "[...]' names a group; select a parameter (" + g.name + "[i].name)");
      return;
    }
    for (const auto &p : g.params)
      if (p->name == member) return;
    diags_.error(memberLoc, "group '" + g.name + "' has no parameter '" + member + "'");
  }

  /// A name/path/group reference in the forward graph. Returns true if it was one (and has been checked).
  bool reference(const Expr &e) {
    // Strip the member chain: base.m1.m2 → base, "m1.m2".
    const Expr *base = &e;
    std::vector<const MemberExpr *> chain;
    while (auto *m = base->as<MemberExpr>()) {
      chain.push_back(m);
      base = m->base.get();
    }
    std::string member;
    SourceLoc memberLoc;
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      if (member.empty()) memberLoc = (*it)->memberLoc;
      member += (member.empty() ? "" : ".") + (*it)->member;
    }
    if (auto *idx = base->as<IndexExpr>()) {
      auto *gid = idx->base->as<IdentExpr>();
      auto it = gid ? modelNames_.find(gid->name) : modelNames_.end();
      // `qkv[1]`: one part of a local holding several results (split); MLIRGen checks the part count.
      if (gid && member.empty() && it == modelNames_.end() && scope_.names.count(gid->name)) {
        if (idx->indices.size() != 1) {
          diags_.error(idx->loc, "a split result takes one index ('" + gid->name + "[0]')");
          return true;
        }
        ConstEval ev(configEnv_, &diags_);
        auto r = ev.eval(*idx->indices[0]);
        if (r && (!r->isInteger || r->i < 0))
          diags_.error(idx->indices[0]->loc, "the index of '" + gid->name + "' must be a non-negative integer constant");
        return true;
      }
      if (it == modelNames_.end() || it->second.kind != ModelName::Group) {
        diags_.error(idx->loc, "indexing is only allowed on parameter groups (layer[i].name) and on split results");
        return true;
      }
      groupRef(e, *idx, *it->second.group, member, memberLoc);
      return true;
    }
    auto *id = base->as<IdentExpr>();
    if (!id) return false;
    if (id->name == "<error>") return true;
    std::string full = member.empty() ? id->name : id->name + "." + member;
    if (auto it = modelNames_.find(full); it != modelNames_.end()) {
      if (it->second.kind == ModelName::Group)
        diags_.error(e.loc, "group '" + full + "' must be indexed (" + full + "[i].name)");
      return true;
    }
    if (!member.empty()) {
      if (auto it = modelNames_.find(id->name); it != modelNames_.end() && it->second.kind == ModelName::Group) {
        diags_.error(e.loc, "group '" + id->name + "' must be indexed (" + id->name + "[i]." + member + ")");
        return true;
      }
      if (scope_.names.count(id->name) || loopVars_.count(id->name) || modelNames_.count(id->name)) {
        diags_.error(memberLoc, "'" + id->name + "' has no member '" + member + "'");
        return true;
      }
      diags_.error(e.loc, "use of undeclared name '" + full + "'");
      return true;
    }
    if (scope_.names.count(id->name) || loopVars_.count(id->name)) return true;
    diags_.error(e.loc, "use of undeclared name '" + id->name + "'");
    return true;
  }

  void kwargValue(const CallExpr &c, const KeywordArg &k) {
    ConstEval ev(configEnv_, &diags_);
    const Expr &v = *k.value;
    if (k.name == "causal") {
      if (!v.is<BoolExpr>()) diags_.error(v.loc, "'causal' must be true or false");
      return;
    }
    if (k.name == "heads" || k.name == "axis") {
      auto r = ev.eval(v);
      if (!r) return;
      if (!r->isInteger) diags_.error(v.loc, "'" + k.name + "' must be an integer");
      else if (k.name == "heads" && r->i <= 0) diags_.error(v.loc, "'heads' must be positive");
      return;
    }
    if (k.name == "eps" || k.name == "p") {
      auto r = ev.eval(v);
      if (!r) return;
      double d = r->asDouble();
      if (k.name == "eps" && !(d > 0)) diags_.error(v.loc, "'eps' must be positive");
      if (k.name == "p" && !(d >= 0 && d < 1)) diags_.error(v.loc, "'p' must be in [0, 1)");
      return;
    }
    (void)c;
  }

  void fexpr(const Expr &e, bool top = false) {
    (void)top;
    switch (e.kind) {
    case ExprKind::Number: return;
    case ExprKind::Ident:
    case ExprKind::Member:
    case ExprKind::Index:
      reference(e);
      return;
    case ExprKind::Unary: {
      auto *u = e.as<UnaryExpr>();
      if (u->op == UnaryOp::Not) diags_.error(e.loc, "operator '!' is not supported in forward");
      fexpr(*u->operand);
      return;
    }
    case ExprKind::Binary: {
      auto *b = e.as<BinaryExpr>();
      if (b->op != BinaryOp::Add && b->op != BinaryOp::Sub && b->op != BinaryOp::Mul && b->op != BinaryOp::Div)
        diags_.error(e.loc, std::string("operator '") + spelling(b->op) +
                                "' is not supported in forward (use + - * / or an op)");
      fexpr(*b->lhs);
      fexpr(*b->rhs);
      return;
    }
    case ExprKind::Call: {
      auto *c = e.as<CallExpr>();
      const OpInfo *op = findForwardOp(c->callee);
      if (!op) {
        if (c->callee != "<error>") diags_.error(c->calleeLoc, "unknown op '" + c->callee + "'");
      } else {
        size_t n = c->args.size();
        if (n < op->minArgs || n > op->maxArgs) {
          std::string want = op->minArgs == op->maxArgs ? std::to_string(op->minArgs)
                                                        : fmt::format("{} or {}", op->minArgs, op->maxArgs);
          diags_.error(c->calleeLoc, fmt::format("'{}' expects {} argument{}, got {}", c->callee, want,
                                                 op->maxArgs == 1 ? "" : "s", n));
        }
        std::map<std::string, SourceLoc> seen;
        for (const auto &k : c->kwargs) {
          if (auto it = seen.find(k.name); it != seen.end()) {
            diags_.error(k.loc, "duplicate keyword argument '" + k.name + "'");
            diags_.note(it->second, "previous definition is here");
            continue;
          }
          seen[k.name] = k.loc;
          bool known = false;
          for (const auto &kw : op->kwargs) known |= kw == k.name;
          if (!known) {
            std::string list;
            for (const auto &kw : op->kwargs) list += (list.empty() ? "" : ", ") + kw;
            diags_.error(k.loc, "unknown keyword argument '" + k.name + "' for '" + c->callee + "'" +
                                    (list.empty() ? " (it takes none)" : " (expected " + list + ")"));
            continue;
          }
          kwargValue(*c, k);
        }
      }
      for (const auto &a : c->args) fexpr(*a);
      return;
    }
    default:
      diags_.error(e.loc, ConstEval::describe(e) + " is not allowed in forward");
      return;
    }
  }

  //===-- train ---------------------------------------------------------------------------------------------------===//

  std::optional<SettingValue> setting(const Expr &e) {
    SettingValue v;
    v.loc = e.loc;
    switch (e.kind) {
    case ExprKind::String:
      v.kind = SettingValue::Kind::String;
      v.s = e.as<StringExpr>()->value;
      return v;
    case ExprKind::Bool:
      v.kind = SettingValue::Kind::Bool;
      v.b = e.as<BoolExpr>()->value;
      return v;
    case ExprKind::Ident:
      if (!configEnv_.count(e.as<IdentExpr>()->name)) {
        v.kind = SettingValue::Kind::Name;
        v.s = e.as<IdentExpr>()->name;
        return v;
      }
      [[fallthrough]];
    case ExprKind::Number:
    case ExprKind::Unary:
    case ExprKind::Binary: {
      ConstEval ev(configEnv_, &diags_);
      auto c = ev.eval(e);
      if (!c) return std::nullopt;
      if (c->isInteger) {
        v.kind = SettingValue::Kind::Int;
        v.i = c->i;
      } else {
        v.kind = SettingValue::Kind::Float;
        v.f = c->f;
      }
      return v;
    }
    case ExprKind::List: {
      v.kind = SettingValue::Kind::List;
      for (const auto &x : e.as<ListExpr>()->elements) {
        auto s = setting(*x);
        if (!s) return std::nullopt;
        v.args.push_back(std::move(*s));
      }
      return v;
    }
    case ExprKind::Call: {
      auto *c = e.as<CallExpr>();
      if (ConstEval(configEnv_, nullptr).eval(e)) { // sqrt(...), min(...): a number
        ConstEval ev(configEnv_, &diags_);
        auto n = ev.eval(e);
        v.kind = n->isInteger ? SettingValue::Kind::Int : SettingValue::Kind::Float;
        v.i = n->i;
        v.f = n->f;
        return v;
      }
      if (c->callee == "<error>") return std::nullopt; // already reported by the parser
      v.kind = SettingValue::Kind::Call;
      v.s = c->callee;
      for (const auto &a : c->args) {
        auto s = setting(*a);
        if (!s) return std::nullopt;
        v.args.push_back(std::move(*s));
      }
      if (!kwargs(c->kwargs, v)) return std::nullopt;
      return v;
    }
    case ExprKind::Constructor: {
      auto *c = e.as<ConstructorExpr>();
      v.kind = SettingValue::Kind::Call;
      v.s = c->name;
      std::map<std::string, SourceLoc> seen;
      for (const auto &me : c->entries) {
        if (auto it = seen.find(me.key); it != seen.end()) {
          redefinition("setting", me.key, me.keyLoc, it->second);
          return std::nullopt;
        }
        seen[me.key] = me.keyLoc;
        auto s = setting(*me.value);
        if (!s) return std::nullopt;
        v.kwargs.emplace_back(me.key, std::move(*s));
      }
      return v;
    }
    default:
      diags_.error(e.loc, ConstEval::describe(e) + " is not allowed in train");
      return std::nullopt;
    }
  }

  bool kwargs(const std::vector<KeywordArg> &ks, SettingValue &v) {
    std::map<std::string, SourceLoc> seen;
    for (const auto &k : ks) {
      if (auto it = seen.find(k.name); it != seen.end()) {
        diags_.error(k.loc, "duplicate keyword argument '" + k.name + "'");
        diags_.note(it->second, "previous definition is here");
        return false;
      }
      seen[k.name] = k.loc;
      auto s = setting(*k.value);
      if (!s) return false;
      v.kwargs.emplace_back(k.name, std::move(*s));
    }
    return true;
  }

  void expectPositiveInt(const std::string &key, const SettingValue &v) {
    if (v.kind != SettingValue::Kind::Int || v.i <= 0)
      diags_.error(v.loc, "'" + key + "' must be a positive integer");
  }

  void expectChoice(const std::string &key, const SettingValue &v, const std::set<std::string> &choices) {
    std::string list;
    for (const auto &c : choices) list += (list.empty() ? "" : ", ") + c;
    if ((v.kind != SettingValue::Kind::Name && v.kind != SettingValue::Kind::Call) || !choices.count(v.s))
      diags_.error(v.loc, "unknown " + key + " '" + (v.s.empty() ? "?" : v.s) + "' (expected " + list + ")");
  }

  void trainDecl(const TrainDecl &t) {
    TrainSettings &ts = prog_.train;
    ts.present = true;
    ts.loc = t.loc;
    ts.decl = &t;
    std::map<std::string, SourceLoc> seen;
    for (const auto &e : t.entries) {
      std::string key;
      SourceLoc keyLoc;
      std::optional<SettingValue> value;
      if (auto *p = e->as<PropertyEntry>(); p && p->qualifiers.empty()) {
        key = p->key;
        keyLoc = p->keyLoc;
        if (auto it = seen.find(key); it != seen.end()) {
          redefinition("train setting", key, keyLoc, it->second);
          continue;
        }
        seen[key] = keyLoc;
        value = setting(*p->value);
      } else if (auto *b = e->as<BlockEntry>(); b && b->words.size() == 1 && b->words[0].kind == Word::Kind::Name) {
        key = b->head();
        keyLoc = b->loc;
        if (auto it = seen.find(key); it != seen.end()) {
          redefinition("train setting", key, keyLoc, it->second);
          continue;
        }
        seen[key] = keyLoc;
        SettingValue v;
        v.kind = SettingValue::Kind::Call;
        v.s = key;
        v.loc = b->loc;
        bool ok = true;
        for (const auto &x : b->entries) {
          auto *p = x->as<PropertyEntry>();
          if (!p || !p->qualifiers.empty()) {
            diags_.error(x->loc, "expected 'name: value' in '" + key + "'");
            ok = false;
            continue;
          }
          auto s = setting(*p->value);
          if (!s) { ok = false; continue; }
          v.kwargs.emplace_back(p->key, std::move(*s));
        }
        if (ok) value = std::move(v);
      } else {
        diags_.error(e->loc, "expected 'name: value' or 'name { ... }' in train");
        continue;
      }
      if (!value) continue;
      if (key == "batch" || key == "steps" || key == "seq_len" || key == "log_every" || key == "eval_every" ||
          key == "eval_steps" || key == "grad_accum")
        expectPositiveInt(key, *value);
      else if (key == "seed" && (value->kind != SettingValue::Kind::Int || value->i < 0))
        diags_.error(value->loc, "'seed' must be a non-negative integer");
      else if (key == "optimizer") expectChoice("optimizer", *value, {"adam", "adamw", "sgd"});
      else if (key == "schedule") expectChoice("schedule", *value, {"constant", "linear_decay", "cosine"});
      else if (key == "data") expectChoice("data source", *value, {"documents", "text", "tokens"});
      else if (key == "grad_clip" && (!value->isNumber() || value->asDouble() < 0))
        diags_.error(value->loc, "'grad_clip' must be a non-negative number");
      ts.settings.emplace_back(key, std::move(*value));
    }
  }
};

} // namespace

namespace detail {
void runSema(SemaContext &ctx) {
  Sema s(ctx);
  s.run();
}
} // namespace detail

//===-- Program queries ---------------------------------------------------------------------------------------------===//

std::optional<ConstValue> Program::evalConst(const Expr &e, const std::map<std::string, int64_t> &loopVars) const {
  std::map<std::string, ConstValue> env;
  for (const auto &c : config) env[c.name] = c.value;
  for (const auto &[k, v] : loopVars) env[k] = ConstValue{true, v, double(v)};
  return ConstEval(env, nullptr).eval(e);
}

const ParamInstance *Program::lookupParam(const Expr &ref, const std::map<std::string, int64_t> &loopVars) const {
  const Expr *base = &ref;
  std::vector<const MemberExpr *> chain;
  while (auto *m = base->as<MemberExpr>()) {
    chain.push_back(m);
    base = m->base.get();
  }
  std::string member;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) member += (member.empty() ? "" : ".") + (*it)->member;
  if (auto *idx = base->as<IndexExpr>()) {
    auto *gid = idx->base->as<IdentExpr>();
    if (!gid || idx->indices.size() != 1 || member.empty()) return nullptr;
    auto i = evalConst(*idx->indices[0], loopVars);
    if (!i || !i->isInteger) return nullptr;
    for (const auto &p : params)
      if (p.group == gid->name && p.groupIndex == i->i && p.name == member) return &p;
    return nullptr;
  }
  auto *id = base->as<IdentExpr>();
  if (!id) return nullptr;
  std::string full = member.empty() ? id->name : id->name + "." + member;
  for (const auto &p : params)
    if (p.group.empty() && p.name == full) return &p;
  return nullptr;
}

} // namespace spak::dsl
