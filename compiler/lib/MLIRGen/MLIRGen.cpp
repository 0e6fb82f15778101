//===- MLIRGen.cpp - the DSL's AST (after Sema) → the spak_graph dialect --------------------------------------===//
//
// See spak/MLIRGen/MLIRGen.h for the module MLIRGen produces. The forward graph is generated twice: once as
// @forward (inputs + targets → loss) and once as @infer (inputs → the logits that feed cross_entropy), which the
// trainer uses for sampling. Both walk the same statements with the same code; @infer stops at the loss.
//
//===----------------------------------------------------------------------------------------------------------------===//
#include "spak/MLIRGen/MLIRGen.h"

#include "spak/Dialect/Graph/Graph.h"
#include "spak/Dialect/Tile/IR/Tile.h"
#include "spak/dsl/Sema.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Verifier.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <map>
#include <optional>
#include <sstream>

using namespace mlir;
namespace dsl = spak::dsl;

namespace spak {

void registerMLIRGenDialects(MLIRContext &ctx) {
  ctx.getOrLoadDialect<func::FuncDialect>();
  ctx.getOrLoadDialect<graph::GraphDialect>();
  ctx.getOrLoadDialect<tile::TileDialect>();
}

namespace {

/// "file:line:col" of a DSL location (the provenance string attributes carry).
std::string provenance(const dsl::SourceLoc &loc) {
  if (!loc.valid())
    return "default";
  // Paths under the working directory are shown relative to it ("rules/targets/sm90_h100.dsl:9:7"), so emitted
  // code does not depend on where the checkout lives.
  std::string file = loc.file;
  llvm::SmallString<256> cwd;
  if (!llvm::sys::fs::current_path(cwd)) {
    std::string prefix = std::string(cwd.str()) + "/";
    if (file.rfind(prefix, 0) == 0)
      file = file.substr(prefix.size());
  }
  return file + ":" + std::to_string(loc.line) + ":" + std::to_string(loc.col);
}

/// A compact source-like rendering of an expression (rule `when`/`apply` strings, init descriptions).
void printExpr(const dsl::Expr &e, std::ostream &os) {
  using namespace dsl;
  switch (e.kind) {
  case ExprKind::Number: os << e.as<NumberExpr>()->text; return;
  case ExprKind::String: os << '"' << e.as<StringExpr>()->value << '"'; return;
  case ExprKind::Bool: os << (e.as<BoolExpr>()->value ? "true" : "false"); return;
  case ExprKind::Ident: os << e.as<IdentExpr>()->name; return;
  case ExprKind::Member: {
    auto *m = e.as<MemberExpr>();
    printExpr(*m->base, os);
    os << '.' << m->member;
    return;
  }
  case ExprKind::Index: {
    auto *ix = e.as<IndexExpr>();
    printExpr(*ix->base, os);
    os << '[';
    for (size_t i = 0; i < ix->indices.size(); ++i) {
      if (i) os << ", ";
      printExpr(*ix->indices[i], os);
    }
    os << ']';
    return;
  }
  case ExprKind::Call: {
    auto *c = e.as<CallExpr>();
    os << c->callee << '(';
    bool first = true;
    for (auto &a : c->args) {
      if (!first) os << ", ";
      first = false;
      printExpr(*a, os);
    }
    for (auto &k : c->kwargs) {
      if (!first) os << ", ";
      first = false;
      os << k.name << ": ";
      printExpr(*k.value, os);
    }
    os << ')';
    return;
  }
  case ExprKind::Unary: {
    auto *u = e.as<UnaryExpr>();
    os << spelling(u->op);
    printExpr(*u->operand, os);
    return;
  }
  case ExprKind::Binary: {
    auto *b = e.as<BinaryExpr>();
    printExpr(*b->lhs, os);
    os << ' ' << spelling(b->op) << ' ';
    printExpr(*b->rhs, os);
    return;
  }
  case ExprKind::List: {
    auto *l = e.as<ListExpr>();
    os << '[';
    for (size_t i = 0; i < l->elements.size(); ++i) {
      if (i) os << ", ";
      printExpr(*l->elements[i], os);
    }
    os << ']';
    return;
  }
  case ExprKind::Map:
  case ExprKind::Constructor: {
    const std::vector<MapEntry> *entries;
    if (auto *c = e.as<ConstructorExpr>()) {
      os << c->name << ' ';
      entries = &c->entries;
    } else {
      entries = &e.as<MapExpr>()->entries;
    }
    os << "{ ";
    for (size_t i = 0; i < entries->size(); ++i) {
      if (i) os << ", ";
      os << (*entries)[i].key << ": ";
      printExpr(*(*entries)[i].value, os);
    }
    os << " }";
    return;
  }
  case ExprKind::Range: {
    auto *r = e.as<RangeExpr>();
    printExpr(*r->lo, os);
    os << "..";
    printExpr(*r->hi, os);
    return;
  }
  }
}

std::string exprString(const dsl::Expr *e) {
  if (!e)
    return "";
  std::ostringstream os;
  printExpr(*e, os);
  return os.str();
}

/// The result of evaluating a forward expression: one SSA value, several (split), or a compile-time constant.
struct GenValue {
  SmallVector<Value, 1> values;
  std::optional<dsl::ConstValue> constant;
  bool isTensor() const { return values.size() == 1; }
};

class Generator {
public:
  Generator(MLIRContext &ctx, const dsl::Program &prog, dsl::DiagnosticEngine &diags, const MLIRGenOptions &opts)
      : ctx(ctx), prog(prog), diags(diags), opts(opts), b(&ctx) {}

  OwningOpRef<ModuleOp> run() {
    if (!prog.model || !prog.model->forward) {
      diags.error(prog.system ? prog.system->loc : dsl::SourceLoc{prog.main->path, 1, 1, 0},
                  "the system has no model with a forward(...) graph: nothing to compile");
      return nullptr;
    }
    module = ModuleOp::create(loc(prog.model->loc));
    addModuleAttributes();
    b.setInsertionPointToEnd(module->getBody());
    if (!genFunction(/*infer=*/false) || !genFunction(/*infer=*/true))
      return nullptr;
    if (failed(verify(*module))) {
      diags.error(prog.model->forward->loc, "internal error: the generated graph module does not verify (see the "
                                            "MLIR diagnostics above)");
      return nullptr;
    }
    return std::move(module);
  }

private:
  MLIRContext &ctx;
  const dsl::Program &prog;
  dsl::DiagnosticEngine &diags;
  const MLIRGenOptions &opts;
  OpBuilder b;
  OwningOpRef<ModuleOp> module;
  bool failed_ = false;

  // Per-function state.
  bool inferMode = false;
  std::map<std::string, GenValue> locals;
  std::map<std::string, Value> inputs;                 // forward args by name
  std::map<std::string, std::pair<std::string, unsigned>> symbolicDims; // T -> (arg, dim index)
  std::map<const dsl::ParamInstance *, Value> paramArgs;
  std::map<std::string, int64_t> loopVars;
  Value inferLogits;

  Location loc(const dsl::SourceLoc &l) {
    if (!l.valid())
      return UnknownLoc::get(&ctx);
    return FileLineColLoc::get(&ctx, l.file, l.line, l.col);
  }

  void error(const dsl::SourceLoc &l, const std::string &msg) {
    diags.error(l, msg);
    failed_ = true;
  }

  int64_t batchSize() const {
    if (opts.batch > 0)
      return opts.batch;
    return prog.train.getInt("batch", 1);
  }

  //===-- module attributes -------------------------------------------------------------------------------------===//

  Attribute settingAttr(const dsl::SettingValue &v) {
    using K = dsl::SettingValue::Kind;
    switch (v.kind) {
    case K::Int: return b.getI64IntegerAttr(v.i);
    case K::Float: return b.getF64FloatAttr(v.f);
    case K::Bool: return b.getBoolAttr(v.b);
    case K::String:
    case K::Name: return b.getStringAttr(v.s);
    case K::List: {
      SmallVector<Attribute> elems;
      for (auto &e : v.args)
        elems.push_back(settingAttr(e));
      return b.getArrayAttr(elems);
    }
    case K::Call: {
      SmallVector<NamedAttribute> fields;
      fields.push_back(b.getNamedAttr("kind", b.getStringAttr(v.s)));
      SmallVector<Attribute> args;
      for (auto &a : v.args)
        args.push_back(settingAttr(a));
      if (!args.empty())
        fields.push_back(b.getNamedAttr("args", b.getArrayAttr(args)));
      for (auto &[k, kv] : v.kwargs)
        fields.push_back(b.getNamedAttr(k, settingAttr(kv)));
      return b.getDictionaryAttr(fields);
    }
    }
    return b.getUnitAttr();
  }

  Attribute constAttr(const dsl::ConstValue &v) {
    return v.isInteger ? Attribute(b.getI64IntegerAttr(v.i)) : Attribute(b.getF64FloatAttr(v.f));
  }

  void addModuleAttributes() {
    ModuleOp m = *module;
    if (prog.system)
      m->setAttr(kSystemAttr, b.getStringAttr(prog.system->name));
    m->setAttr(kModelAttr, b.getStringAttr(prog.model->name));

    SmallVector<NamedAttribute> config;
    for (auto &c : prog.config)
      config.push_back(b.getNamedAttr(c.name, constAttr(c.value)));
    m->setAttr(kConfigAttr, b.getDictionaryAttr(config));

    if (prog.hasTarget) {
      const auto &t = prog.target;
      m->setAttr(kTargetAttr, b.getDictionaryAttr({b.getNamedAttr("name", b.getStringAttr(t.name)),
                                                   b.getNamedAttr("device", b.getStringAttr(t.device)),
                                                   b.getNamedAttr("arch", b.getStringAttr(t.arch)),
                                                   b.getNamedAttr("loc", b.getStringAttr(provenance(t.loc)))}));
      SmallVector<NamedAttribute> laws;
      for (auto &law : t.laws)
        laws.push_back(b.getNamedAttr(
            law.name, tile::LawAttr::get(&ctx, law.name, constAttr(law.value), provenance(law.origin))));
      m->setAttr("spak.laws", b.getDictionaryAttr(laws));
      m->setAttr("spak.stability_floor",
                 tile::LawAttr::get(&ctx, "stability_floor", b.getF64FloatAttr(t.stabilityFloor),
                                    t.stabilityFloorIsDefault ? "default" : provenance(t.stabilityFloorOrigin)));
    }

    SmallVector<Attribute> rules;
    for (auto &r : prog.rules) {
      std::string apply;
      for (size_t i = 0; i < r.apply.size(); ++i)
        apply += (i ? "; " : "") + exprString(r.apply[i]);
      rules.push_back(graph::RuleAttr::get(&ctx, r.name, apply, r.enabled, r.priority, provenance(r.loc)));
    }
    m->setAttr(graph::kRulesAttr, b.getArrayAttr(rules));

    if (prog.train.present) {
      SmallVector<NamedAttribute> train;
      for (auto &[k, v] : prog.train.settings)
        train.push_back(b.getNamedAttr(k, settingAttr(v)));
      // Flatten the optimizer's hyper-parameters for the optimizer-step pass: optimizer = "adam", lr = ..., ...
      if (auto *optv = prog.train.find("optimizer"); optv && optv->kind == dsl::SettingValue::Kind::Call) {
        for (auto &[k, v] : optv->kwargs)
          if (v.isNumber())
            train.push_back(b.getNamedAttr(k, b.getF64FloatAttr(v.asDouble())));
      }
      // Names may repeat between the flattened optimizer fields and the train block (last one wins: the
      // optimizer's own field is more specific); keep the dictionary well-formed by de-duplicating.
      llvm::StringMap<unsigned> seen;
      SmallVector<NamedAttribute> uniq;
      for (auto &na : train) {
        auto [it, inserted] = seen.try_emplace(na.getName().getValue(), uniq.size());
        if (inserted)
          uniq.push_back(na);
        else
          uniq[it->second] = na;
      }
      if (auto *optv = prog.train.find("optimizer"); optv && optv->kind == dsl::SettingValue::Kind::Call)
        for (auto &na : uniq)
          if (na.getName() == "optimizer")
            na.setValue(b.getStringAttr(optv->s));
      if (auto *sched = prog.train.find("schedule"); sched && sched->kind == dsl::SettingValue::Kind::Call) {
        for (auto &na : uniq)
          if (na.getName() == "schedule")
            na.setValue(b.getStringAttr(sched->s));
        for (auto &[k, v] : sched->kwargs)
          if (v.isNumber() && !seen.count(k))
            uniq.push_back(b.getNamedAttr(k, b.getF64FloatAttr(v.asDouble())));
      }
      m->setAttr(graph::kTrainAttr, b.getDictionaryAttr(uniq));
    }
  }

  //===-- functions -------------------------------------------------------------------------------------------===//

  Type elementType(const std::string &dtype, const dsl::SourceLoc &l) {
    if (dtype == "i32")
      return b.getI32Type();
    if (dtype == "f32")
      return b.getF32Type();
    if (dtype == "i64")
      return b.getI64Type();
    error(l, "unsupported argument dtype '" + dtype + "' (expected i32, i64 or f32)");
    return b.getI32Type();
  }

  DictionaryAttr initAttr(const dsl::InitSpec &init) {
    return b.getDictionaryAttr({b.getNamedAttr("kind", b.getStringAttr(dsl::kindName(init.kind))),
                                b.getNamedAttr("a", b.getF64FloatAttr(init.a)),
                                b.getNamedAttr("b", b.getF64FloatAttr(init.b)),
                                b.getNamedAttr("loc", b.getStringAttr(provenance(init.loc)))});
  }

  bool genFunction(bool infer) {
    inferMode = infer;
    locals.clear();
    inputs.clear();
    symbolicDims.clear();
    paramArgs.clear();
    loopVars.clear();
    inferLogits = nullptr;
    const dsl::ForwardDecl &fwd = *prog.model->forward;

    // Signature: data inputs (targets only for @forward), then every parameter instance in declaration order.
    SmallVector<Type> argTypes;
    SmallVector<DictionaryAttr> argAttrs;
    SmallVector<const dsl::ForwardArg *> dataArgs;
    for (auto &a : fwd.args) {
      if (infer && a.name == "targets")
        continue;
      SmallVector<int64_t> shape{batchSize()};
      for (unsigned d = 0; d < a.shape.size(); ++d) {
        auto c = prog.evalConst(*a.shape[d]);
        if (c && c->isInteger) {
          shape.push_back(c->i);
        } else {
          shape.push_back(ShapedType::kDynamic);
          if (auto *id = a.shape[d]->as<dsl::IdentExpr>())
            symbolicDims.try_emplace(id->name, a.name, d + 1);
        }
      }
      argTypes.push_back(RankedTensorType::get(shape, elementType(a.dtype, a.dtypeLoc)));
      argAttrs.push_back(b.getDictionaryAttr({b.getNamedAttr(graph::kInputAttr, b.getStringAttr(a.name))}));
      dataArgs.push_back(&a);
    }
    for (auto &p : prog.params) {
      argTypes.push_back(RankedTensorType::get(p.shape, b.getF32Type()));
      argAttrs.push_back(b.getDictionaryAttr({b.getNamedAttr(graph::kParamAttr, b.getStringAttr(p.exportName)),
                                              b.getNamedAttr(kInitAttr, initAttr(p.init))}));
    }

    auto fnType = b.getFunctionType(argTypes, {});
    auto fn = func::FuncOp::create(b, loc(fwd.loc), infer ? "infer" : "forward", fnType);
    fn->setAttr(infer ? StringRef(kInferAttr) : StringRef(graph::kForwardAttr), b.getUnitAttr());
    fn.setAllArgAttrs(argAttrs);
    Block *entry = fn.addEntryBlock();
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(entry);

    unsigned argNo = 0;
    for (auto *a : dataArgs)
      inputs[a->name] = entry->getArgument(argNo++);
    for (auto &p : prog.params)
      paramArgs[&p] = entry->getArgument(argNo++);

    genStmts(fwd.body);
    if (failed_)
      return false;

    Value result;
    if (infer) {
      result = inferLogits;
      if (!result) {
        error(fwd.loc, "the forward graph's loss is not cross_entropy(logits, targets): cannot derive the sampling "
                       "function @infer");
        return false;
      }
    } else {
      auto it = locals.find("loss");
      if (it == locals.end() || !it->second.isTensor()) {
        error(fwd.loc, "the forward graph must assign a tensor to 'loss'");
        return false;
      }
      result = it->second.values[0];
    }
    func::ReturnOp::create(b, loc(fwd.loc), ValueRange{result});
    fn.setType(b.getFunctionType(argTypes, {result.getType()}));
    if (!infer)
      fn.setResultAttr(0, graph::kLossAttr, b.getUnitAttr());
    return true;
  }

  void genStmts(const std::vector<dsl::StmtPtr> &stmts) {
    for (auto &s : stmts) {
      if (failed_ || (inferMode && inferLogits))
        return;
      if (s->kind == dsl::Stmt::Kind::Assign) {
        GenValue v = genExpr(*s->value);
        if (failed_)
          return;
        locals[s->target] = std::move(v);
      } else {
        auto n = prog.evalConst(*s->count, loopVars);
        if (!n || !n->isInteger || n->i < 0) {
          error(s->count->loc, "repeat count must be a non-negative integer constant");
          return;
        }
        for (int64_t i = 0; i < n->i; ++i) {
          loopVars[s->var] = i;
          genStmts(s->body);
          if (failed_)
            return;
        }
        loopVars.erase(s->var);
      }
    }
  }

  //===-- expressions -----------------------------------------------------------------------------------------===//

  Value tensorOf(const dsl::Expr &e) {
    GenValue v = genExpr(e);
    if (failed_)
      return nullptr;
    if (!v.isTensor()) {
      error(e.loc, v.constant ? "expected a tensor here, found a constant"
                              : "expected one tensor here, found " + std::to_string(v.values.size()));
      return nullptr;
    }
    return v.values[0];
  }

  std::optional<double> kwNumber(const dsl::CallExpr &c, const char *name) {
    auto *k = c.kwarg(name);
    if (!k)
      return std::nullopt;
    auto v = prog.evalConst(*k->value, loopVars);
    if (!v) {
      error(k->value->loc, std::string("keyword '") + name + "' must be a constant number");
      return std::nullopt;
    }
    return v->asDouble();
  }

  std::optional<bool> kwBool(const dsl::CallExpr &c, const char *name) {
    auto *k = c.kwarg(name);
    if (!k)
      return std::nullopt;
    if (auto *bv = k->value->as<dsl::BoolExpr>())
      return bv->value;
    error(k->value->loc, std::string("keyword '") + name + "' must be true or false");
    return std::nullopt;
  }

  template <typename OpT>
  Value create(const dsl::Expr &e, ValueRange operands, ArrayRef<NamedAttribute> attrs = {}) {
    // The graph ops infer their result types (InferTypeOpInterface); invalid shapes surface as MLIR diagnostics at
    // the op's location. Check the inference first so the DSL user gets a DSL diagnostic instead.
    SmallVector<Type> types;
    OperationState probe(loc(e.loc), OpT::getOperationName());
    probe.addOperands(operands);
    probe.addAttributes(attrs);
    std::string msg;
    {
      ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
        llvm::raw_string_ostream os(msg);
        os << d;
        return success();
      });
      auto &props = probe.getOrAddProperties<typename OpT::Properties>();
      auto info = probe.name.getRegisteredInfo();
      DictionaryAttr dict = probe.attributes.getDictionary(&ctx);
      auto emitErr = [&]() { return mlir::emitError(probe.location); };
      // Ops without properties keep their attributes in the dictionary; only ops with properties convert them.
      bool propsOk = true;
      if constexpr (!std::is_same_v<typename OpT::Properties, mlir::EmptyProperties>)
      {
        propsOk = succeeded(info->setOpPropertiesFromAttribute(probe.name, OpaqueProperties(&props), dict, emitErr));
        // Default-valued attributes the DSL left out (e.g. attention's scale): what Operation::create would fill in.
        OpT::populateDefaultProperties(probe.name, props);
      }
      if (!propsOk ||
          failed(OpT::inferReturnTypes(&ctx, probe.location, operands, dict, OpaqueProperties(&props),
                                       probe.regions, types))) {
        error(e.loc, "invalid operands for '" + OpT::getOperationName().str().substr(11) + "': " +
                         (msg.empty() ? std::string("shapes do not match") : msg));
        return nullptr;
      }
    }
    auto op = OpT::create(b, loc(e.loc), operands, attrs);
    return op->getResult(0);
  }

  GenValue tensor(Value v) {
    GenValue g;
    if (v)
      g.values.push_back(v);
    return g;
  }

  GenValue genExpr(const dsl::Expr &e) {
    using namespace dsl;
    switch (e.kind) {
    case ExprKind::Number: {
      GenValue g;
      auto *n = e.as<NumberExpr>();
      g.constant = n->isInteger ? ConstValue{true, n->intValue, 0} : ConstValue{false, 0, n->value};
      return g;
    }
    case ExprKind::Ident: {
      auto &name = e.as<IdentExpr>()->name;
      if (auto it = locals.find(name); it != locals.end())
        return it->second;
      if (auto it = inputs.find(name); it != inputs.end())
        return tensor(it->second);
      if (inferMode && name == "targets") {
        error(e.loc, "'targets' may only feed cross_entropy");
        return {};
      }
      if (auto *p = prog.lookupParam(e, loopVars))
        return tensor(paramArgs.at(p));
      if (auto c = prog.evalConst(e, loopVars)) {
        GenValue g;
        g.constant = *c;
        return g;
      }
      error(e.loc, "unknown name '" + name + "'");
      return {};
    }
    case ExprKind::Member:
    case ExprKind::Index: {
      if (auto *p = prog.lookupParam(e, loopVars))
        return tensor(paramArgs.at(p));
      // `qkv[1]`: one result of a multi-result local (split).
      if (auto *ix = e.as<IndexExpr>(); ix && ix->indices.size() == 1) {
        if (auto *id = ix->base->as<IdentExpr>(); id && locals.count(id->name)) {
          auto &vals = locals[id->name].values;
          auto i = prog.evalConst(*ix->indices[0], loopVars);
          if (!i || !i->isInteger || i->i < 0 || i->i >= (int64_t)vals.size()) {
            error(ix->indices[0]->loc, "index must be a constant in [0, " + std::to_string(vals.size()) + ")");
            return {};
          }
          return tensor(vals[i->i]);
        }
      }
      error(e.loc, "'" + exprString(&e) + "' does not name a parameter or a value");
      return {};
    }
    case ExprKind::Unary: {
      auto *u = e.as<UnaryExpr>();
      if (auto c = prog.evalConst(e, loopVars)) {
        GenValue g;
        g.constant = *c;
        return g;
      }
      if (u->op == UnaryOp::Neg) {
        Value x = tensorOf(*u->operand);
        if (!x)
          return {};
        return tensor(create<graph::ScaleOp>(e, {x}, {b.getNamedAttr("factor", b.getF64FloatAttr(-1.0))}));
      }
      if (u->op == UnaryOp::Plus)
        return genExpr(*u->operand);
      error(e.loc, "'!' is not a tensor operation");
      return {};
    }
    case ExprKind::Binary: return genBinary(*e.as<BinaryExpr>());
    case ExprKind::Call: return genCall(*e.as<CallExpr>());
    default:
      error(e.loc, std::string("a ") + kindName(e.kind) + " expression is not a tensor operation");
      return {};
    }
  }

  GenValue genBinary(const dsl::BinaryExpr &e) {
    using dsl::BinaryOp;
    if (auto c = prog.evalConst(e, loopVars)) {
      GenValue g;
      g.constant = *c;
      return g;
    }
    GenValue l = genExpr(*e.lhs);
    if (failed_)
      return {};
    GenValue r = genExpr(*e.rhs);
    if (failed_)
      return {};
    // tensor * constant, constant * tensor, tensor / constant → scale.
    if ((e.op == BinaryOp::Mul || e.op == BinaryOp::Div) && (l.constant || r.constant)) {
      if (l.constant && r.constant) {
        error(e.loc, "internal error: constant expression was not folded");
        return {};
      }
      const GenValue &t = l.constant ? r : l;
      double f = (l.constant ? *l.constant : *r.constant).asDouble();
      if (e.op == BinaryOp::Div) {
        if (l.constant) {
          error(e.loc, "dividing a constant by a tensor is not supported");
          return {};
        }
        if (f == 0) {
          error(e.rhs->loc, "division by zero");
          return {};
        }
        f = 1.0 / f;
      }
      if (!t.isTensor()) {
        error(e.loc, "expected a tensor operand");
        return {};
      }
      return tensor(create<graph::ScaleOp>(e, {t.values[0]}, {b.getNamedAttr("factor", b.getF64FloatAttr(f))}));
    }
    if (!l.isTensor() || !r.isTensor()) {
      error(e.loc, std::string("operator '") + dsl::spelling(e.op) + "' needs two tensors here");
      return {};
    }
    Value x = l.values[0], y = r.values[0];
    switch (e.op) {
    case BinaryOp::Add: return tensor(create<graph::AddOp>(e, {x, y}));
    case BinaryOp::Sub: return tensor(create<graph::SubOp>(e, {x, y}));
    case BinaryOp::Mul: return tensor(create<graph::MulOp>(e, {x, y}));
    case BinaryOp::MatMul: return tensor(create<graph::MatmulOp>(e, {x, y}));
    default:
      error(e.loc, std::string("operator '") + dsl::spelling(e.op) + "' is not a tensor operation");
      return {};
    }
  }

  GenValue genCall(const dsl::CallExpr &c) {
    const std::string &op = c.callee;
    auto arg = [&](unsigned i) -> Value { return i < c.args.size() ? tensorOf(*c.args[i]) : Value(); };
    auto need = [&](unsigned n) -> bool {
      if (c.args.size() != n) {
        error(c.calleeLoc, "'" + op + "' takes " + std::to_string(n) + " argument(s), got " +
                               std::to_string(c.args.size()));
        return false;
      }
      return true;
    };
    auto eps = [&]() { return b.getNamedAttr("eps", b.getF64FloatAttr(kwNumber(c, "eps").value_or(1e-5))); };

    if (op == "embed") {
      if (!need(2)) return {};
      Value t = arg(0), ids = arg(1);
      if (!t || !ids) return {};
      return tensor(create<graph::EmbedOp>(c, {t, ids}));
    }
    if (op == "positions") {
      if (!need(1)) return {};
      // positions(T): T is a symbolic dim of a forward argument; the op reads it from that argument's last axis.
      Value ids;
      if (auto *id = c.args[0]->as<dsl::IdentExpr>()) {
        if (auto it = symbolicDims.find(id->name); it != symbolicDims.end())
          ids = inputs.at(it->second.first);
        else if (auto it2 = inputs.find(id->name); it2 != inputs.end())
          ids = it2->second;
      }
      if (!ids) {
        error(c.args[0]->loc, "positions(...) takes a sequence dimension of a forward argument (e.g. T) or an id "
                              "tensor");
        return {};
      }
      return tensor(create<graph::PositionsOp>(c, {ids}));
    }
    if (op == "linear") {
      if (c.args.size() < 2 || c.args.size() > 3) {
        error(c.calleeLoc, "'linear' takes 2 or 3 arguments (x, W[, b]), got " + std::to_string(c.args.size()));
        return {};
      }
      SmallVector<Value> ops;
      for (unsigned i = 0; i < c.args.size(); ++i) {
        ops.push_back(arg(i));
        if (!ops.back()) return {};
      }
      return tensor(create<graph::LinearOp>(c, ops));
    }
    if (op == "rmsnorm") {
      if (!need(1)) return {};
      Value x = arg(0);
      if (!x) return {};
      return tensor(create<graph::RmsNormOp>(c, {x}, {eps()}));
    }
    if (op == "layernorm") {
      if (!need(3)) return {};
      Value x = arg(0), w = arg(1), bb = arg(2);
      if (!x || !w || !bb) return {};
      return tensor(create<graph::LayerNormOp>(c, {x, w, bb}, {eps()}));
    }
    if (op == "relu" || op == "gelu") {
      if (!need(1)) return {};
      Value x = arg(0);
      if (!x) return {};
      return tensor(op == "relu" ? create<graph::ReluOp>(c, {x}) : create<graph::GeluOp>(c, {x}));
    }
    if (op == "softmax") {
      if (!need(1)) return {};
      Value x = arg(0);
      if (!x) return {};
      int64_t axis = (int64_t)kwNumber(c, "axis").value_or(-1);
      return tensor(create<graph::SoftmaxOp>(c, {x}, {b.getNamedAttr("axis", b.getI64IntegerAttr(axis))}));
    }
    if (op == "dropout") {
      if (!need(1)) return {};
      Value x = arg(0);
      if (!x) return {};
      double p = kwNumber(c, "p").value_or(0.0);
      if (p < 0 || p >= 1) {
        error(c.loc, "dropout probability must be in [0, 1)");
        return {};
      }
      if (p == 0 || inferMode)
        return tensor(x); // identity: no op at all (sampling never drops)
      return tensor(create<graph::DropoutOp>(c, {x}, {b.getNamedAttr("p", b.getF64FloatAttr(p))}));
    }
    if (op == "attention") {
      if (!need(3)) return {};
      Value q = arg(0), k = arg(1), v = arg(2);
      if (!q || !k || !v) return {};
      auto heads = kwNumber(c, "heads");
      if (!heads) {
        if (!failed_)
          error(c.calleeLoc, "'attention' needs heads: N");
        return {};
      }
      SmallVector<NamedAttribute> attrs{b.getNamedAttr("heads", b.getI64IntegerAttr((int64_t)*heads)),
                                        b.getNamedAttr("causal", b.getBoolAttr(kwBool(c, "causal").value_or(true)))};
      if (auto s = kwNumber(c, "scale"))
        attrs.push_back(b.getNamedAttr("scale", b.getF64FloatAttr(*s)));
      return tensor(create<graph::AttentionOp>(c, {q, k, v}, attrs));
    }
    if (op == "split") {
      if (c.args.size() < 2 || c.args.size() > 3) {
        error(c.calleeLoc, "'split' takes (x, parts[, axis])");
        return {};
      }
      Value x = arg(0);
      if (!x) return {};
      auto parts = prog.evalConst(*c.args[1], loopVars);
      if (!parts || !parts->isInteger || parts->i <= 0) {
        error(c.args[1]->loc, "split's part count must be a positive integer constant");
        return {};
      }
      int64_t axis = -1;
      if (c.args.size() == 3) {
        auto a = prog.evalConst(*c.args[2], loopVars);
        if (!a || !a->isInteger) {
          error(c.args[2]->loc, "split's axis must be an integer constant");
          return {};
        }
        axis = a->i;
      } else if (auto a = kwNumber(c, "axis")) {
        axis = (int64_t)*a;
      }
      auto ranked = cast<RankedTensorType>(x.getType());
      int64_t ax = axis < 0 ? axis + ranked.getRank() : axis;
      if (ax < 0 || ax >= ranked.getRank()) {
        error(c.loc, "split axis out of range");
        return {};
      }
      SmallVector<int64_t> shape(ranked.getShape());
      if (!ShapedType::isDynamic(shape[ax])) {
        if (shape[ax] % parts->i != 0) {
          error(c.loc, "split: dimension " + std::to_string(shape[ax]) + " is not divisible by " +
                           std::to_string(parts->i));
          return {};
        }
        shape[ax] /= parts->i;
      }
      SmallVector<Type> types(parts->i, RankedTensorType::get(shape, ranked.getElementType()));
      auto sop = graph::SplitOp::create(b, loc(c.loc), types, x, b.getI64IntegerAttr(parts->i),
                                        b.getI64IntegerAttr(axis));
      GenValue g;
      for (Value r : sop->getResults())
        g.values.push_back(r);
      return g;
    }
    if (op == "cross_entropy") {
      if (!need(2)) return {};
      Value logits = arg(0);
      if (!logits) return {};
      if (inferMode) {
        inferLogits = logits;
        return tensor(logits);
      }
      Value targets = arg(1);
      if (!targets) return {};
      return tensor(create<graph::CrossEntropyOp>(c, {logits, targets}));
    }
    error(c.calleeLoc, "unknown op '" + op + "'");
    return {};
  }
};

} // namespace

OwningOpRef<ModuleOp> mlirGen(MLIRContext &ctx, const dsl::Program &program, dsl::DiagnosticEngine &diags,
                              const MLIRGenOptions &options) {
  registerMLIRGenDialects(ctx);
  Generator gen(ctx, program, diags, options);
  return gen.run();
}

} // namespace spak
