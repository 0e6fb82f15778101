//===- AST.h - the spakc DSL abstract syntax tree -------------------------------------------------------*- C++ -*-===//
//
// A plain C++ AST for SPAK-style .dsl files (no ANTLR types). Every node carries a SourceLoc (file, line, col).
//
// Shape of the tree
//   File            front matter (key/value lines), imports, top-level Decls (system / target / rules).
//   Decl            SystemDecl | TargetDecl | RulesDecl; each owns an ordered list of Entries (everything in its block).
//   Entry           one item inside a block. Generic kinds (Property, Assign, Law, Block, Directive, Rule, Fact,
//                   Invariant, Hint, State, Parameter, Procedure, Return) and the typed model language
//                   (Model, Train, Param, Group, Forward). Blocks nest: BlockEntry/ModelDecl/... own child Entries.
//   Expr            Number, String, Bool, Ident, Member (a.b), Index (x[i]), Call (f(a, k: v)), Unary, Binary,
//                   List, Map, Constructor (adam { lr: 0.01 }), Range (0..n-1).
//
// Ownership: nodes are owned through std::unique_ptr; the typed "view" members (e.g. RuleEntry::when,
// ModelDecl::params, TargetDecl::laws) are non-owning pointers into the node's own `entries`, so they stay valid as
// long as the node lives (nodes are heap-allocated and never moved after construction).
//
// Casting: `e->as<CallExpr>()` returns nullptr when the kind differs (like llvm::dyn_cast), `e->is<CallExpr>()`.
//
// Semantic results (resolved config, expanded parameters, selected target, rules, train settings) live in Sema.h.
//
//===----------------------------------------------------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace spak::dsl {

//===-- Source locations ------------------------------------------------------------------------------------------===//

/// A position in a source file: 1-based line and column (columns count bytes). `length` is the number of columns the
/// construct spans on its first line (0 = unknown); diagnostics draw `^~~~` from it.
struct SourceLoc {
  std::string file;
  uint32_t line = 0;
  uint32_t col = 0;
  uint32_t length = 0;

  bool valid() const { return line != 0; }
  /// "file:line:col"
  std::string str() const;
};

//===-- Expressions -----------------------------------------------------------------------------------------------===//

enum class ExprKind { Number, String, Bool, Ident, Member, Index, Call, Unary, Binary, List, Map, Constructor, Range };

enum class UnaryOp { Neg, Plus, Not };

enum class BinaryOp {
  Or,     // ||
  And,    // &&
  Eq,     // ==
  Ne,     // !=
  Lt,     // <
  Le,     // <=
  Gt,     // >
  Ge,     // >=
  Alt,    // |   (alternatives: "DRAM_BW" | "L2_Conflict")
  Add,    // +
  Sub,    // -
  Mul,    // *
  Div,    // /
  Mod,    // %
  MatMul, // @
  Pow,    // **
};

const char *spelling(UnaryOp op);
const char *spelling(BinaryOp op);
const char *kindName(ExprKind kind);

struct Expr {
  const ExprKind kind;
  SourceLoc loc;

  explicit Expr(ExprKind k, SourceLoc l = {}) : kind(k), loc(std::move(l)) {}
  virtual ~Expr() = default;
  Expr(const Expr &) = delete;
  Expr &operator=(const Expr &) = delete;

  template <class T> bool is() const { return kind == T::Kind; }
  template <class T> const T *as() const { return is<T>() ? static_cast<const T *>(this) : nullptr; }
  template <class T> T *as() { return is<T>() ? static_cast<T *>(this) : nullptr; }
};
using ExprPtr = std::unique_ptr<Expr>;

/// `42`, `0.08`, `1e-8`. `text` is the literal as written; `value` its double value; `isInteger` when the literal has
/// no '.'/exponent and fits int64 (then `intValue` holds it). A leading '-' is a UnaryExpr, never part of the literal.
struct NumberExpr : Expr {
  static constexpr ExprKind Kind = ExprKind::Number;
  std::string text;
  double value = 0;
  bool isInteger = false;
  int64_t intValue = 0;
  NumberExpr() : Expr(Kind) {}
};

/// `"text"` or `'text'`; `value` has escapes decoded.
struct StringExpr : Expr {
  static constexpr ExprKind Kind = ExprKind::String;
  std::string value;
  StringExpr() : Expr(Kind) {}
};

struct BoolExpr : Expr {
  static constexpr ExprKind Kind = ExprKind::Bool;
  bool value = false;
  BoolExpr() : Expr(Kind) {}
};

/// A bare name (`x`, `n_embd`, `inf`, `float`).
struct IdentExpr : Expr {
  static constexpr ExprKind Kind = ExprKind::Ident;
  std::string name;
  IdentExpr() : Expr(Kind) {}
};

/// `base.member` (`K.T`, `trace.all`, `layer[i].attn_wq`, `h[i].ln_1.weight`). Paths nest to the left.
struct MemberExpr : Expr {
  static constexpr ExprKind Kind = ExprKind::Member;
  ExprPtr base;
  std::string member;
  SourceLoc memberLoc;
  MemberExpr() : Expr(Kind) {}
};

/// `base[i, j]` (`layer[i]`, `A[i_tile, k_tile]`).
struct IndexExpr : Expr {
  static constexpr ExprKind Kind = ExprKind::Index;
  ExprPtr base;
  std::vector<ExprPtr> indices;
  IndexExpr() : Expr(Kind) {}
};

/// `name: value` or `name = value` inside a call's parentheses.
struct KeywordArg {
  std::string name;
  SourceLoc loc; // of the name
  ExprPtr value;
  bool usedEquals = false; // written `k = v` rather than `k: v`
};

/// `callee(args..., k: v, ...)`; `callee` is a (possibly dotted) name such as `linear` or `ct.load`.
struct CallExpr : Expr {
  static constexpr ExprKind Kind = ExprKind::Call;
  std::string callee;
  SourceLoc calleeLoc;
  std::vector<ExprPtr> args;
  std::vector<KeywordArg> kwargs;
  CallExpr() : Expr(Kind) {}
  const KeywordArg *kwarg(const std::string &name) const;
};

struct UnaryExpr : Expr {
  static constexpr ExprKind Kind = ExprKind::Unary;
  UnaryOp op = UnaryOp::Neg;
  ExprPtr operand;
  UnaryExpr() : Expr(Kind) {}
};

/// `lhs op rhs`; `loc` is the operator's location.
struct BinaryExpr : Expr {
  static constexpr ExprKind Kind = ExprKind::Binary;
  BinaryOp op = BinaryOp::Add;
  ExprPtr lhs, rhs;
  BinaryExpr() : Expr(Kind) {}
};

struct ListExpr : Expr {
  static constexpr ExprKind Kind = ExprKind::List;
  std::vector<ExprPtr> elements;
  ListExpr() : Expr(Kind) {}
};

/// One `key: value` of a map or constructor; the key is a name or a string.
struct MapEntry {
  std::string key;
  SourceLoc keyLoc;
  ExprPtr value;
};

/// `{ k: v, ... }` in value position.
struct MapExpr : Expr {
  static constexpr ExprKind Kind = ExprKind::Map;
  std::vector<MapEntry> entries;
  MapExpr() : Expr(Kind) {}
  const MapEntry *find(const std::string &key) const;
};

/// `name { k: v ... }` in value position (`adam { lr: 0.01 }`, `cosine { warmup: 100 }`).
struct ConstructorExpr : Expr {
  static constexpr ExprKind Kind = ExprKind::Constructor;
  std::string name;
  std::vector<MapEntry> entries;
  ConstructorExpr() : Expr(Kind) {}
  const MapEntry *find(const std::string &key) const;
};

/// `lo..hi` (inclusive, as in the seeds' `for k in 0..n-1:`).
struct RangeExpr : Expr {
  static constexpr ExprKind Kind = ExprKind::Range;
  ExprPtr lo, hi;
  RangeExpr() : Expr(Kind) {}
};

/// "a.b.c" when `e` is an Ident or a chain of Members over an Ident; std::nullopt otherwise.
std::optional<std::string> dottedName(const Expr &e);

//===-- Entries ---------------------------------------------------------------------------------------------------===//

enum class EntryKind {
  Property,  // key qualifiers*: value
  Assign,    // name = value
  Law,       // law name = value
  Block,     // words+ { entries }
  Directive, // words+
  Rule,      // rule "Name" { ... }
  Fact,      // fact name(params)? { ... }
  Invariant, // invariant Name { ... }
  Hint,      // hint "Name" { ... }
  State,     // state name: type (= value)?
  Parameter, // parameter Name: value   (engineering loops)
  Procedure, // procedure name: statements...
  Return,    // return expr             (inside facts)
  Model,     // model Name? { ... }     (inside system)
  Train,     // train { ... }           (inside system)
  Param,     // param name[shape] ~ init as "export"
  Group,     // group name[count] as "prefix{i}." { params }
  Forward,   // forward(args) { statements }
};
const char *kindName(EntryKind kind);

struct Entry {
  const EntryKind kind;
  SourceLoc loc; // of the first token of the entry

  explicit Entry(EntryKind k) : kind(k) {}
  virtual ~Entry() = default;
  Entry(const Entry &) = delete;
  Entry &operator=(const Entry &) = delete;

  template <class T> bool is() const { return kind == T::Kind; }
  template <class T> const T *as() const { return is<T>() ? static_cast<const T *>(this) : nullptr; }
  template <class T> T *as() { return is<T>() ? static_cast<T *>(this) : nullptr; }
};
using EntryPtr = std::unique_ptr<Entry>;

/// A word of a block head, directive or property qualifier: a (dotted) name, a string or a number.
struct Word {
  enum class Kind { Name, String, Number };
  Kind kind = Kind::Name;
  std::string text; // names as written (dotted), strings decoded, numbers as written
  SourceLoc loc;
};

/// `key: value`, `step 1: "..."` (qualifiers = [1]). Keys may repeat within a block.
struct PropertyEntry : Entry {
  static constexpr EntryKind Kind = EntryKind::Property;
  std::string key;
  SourceLoc keyLoc;
  std::vector<Word> qualifiers;
  ExprPtr value;
  PropertyEntry() : Entry(Kind) {}
};

/// `name = value` (`stability_floor = -1e20`); `name` may be dotted.
struct AssignEntry : Entry {
  static constexpr EntryKind Kind = EntryKind::Assign;
  std::string name;
  SourceLoc nameLoc;
  ExprPtr value;
  AssignEntry() : Entry(Kind) {}
};

/// `law name = value`.
struct LawEntry : Entry {
  static constexpr EntryKind Kind = EntryKind::Law;
  std::string name;
  SourceLoc nameLoc;
  ExprPtr value;
  LawEntry() : Entry(Kind) {}
};

/// `words { entries }`: `baseline { }`, `step "Verify" { }`, `llm.query { }`, `type T matches { }`, `config { }`.
struct BlockEntry : Entry {
  static constexpr EntryKind Kind = EntryKind::Block;
  std::vector<Word> words; // never empty
  std::vector<EntryPtr> entries;
  BlockEntry() : Entry(Kind) {}
  const std::string &head() const { return words.front().text; }
};

/// `words` alone: `artifact "x.md"`, `emit TraceItem.Performance`.
struct DirectiveEntry : Entry {
  static constexpr EntryKind Kind = EntryKind::Directive;
  std::vector<Word> words; // never empty
  DirectiveEntry() : Entry(Kind) {}
};

/// Common base of blocks with a name and entries (rule, fact, invariant, hint).
struct NamedBlockBase : Entry {
  std::string name; // the string or identifier after the keyword
  SourceLoc nameLoc;
  std::vector<EntryPtr> entries;
  explicit NamedBlockBase(EntryKind k) : Entry(k) {}
  /// First Property with this key (qualifier-free or not), nullptr if none.
  const struct PropertyEntry *property(const std::string &key) const;
  /// All Properties with this key, in order.
  std::vector<const struct PropertyEntry *> properties(const std::string &key) const;
};

/// `rule "Name" { when: e  apply: e  priority: n ... }`. when/apply/priority are views into `entries`; `apply` may
/// repeat (the seeds do). Everything else (source, reason, recommend, step 1: ...) stays in `entries`.
struct RuleEntry : NamedBlockBase {
  static constexpr EntryKind Kind = EntryKind::Rule;
  const PropertyEntry *when = nullptr;
  std::vector<const PropertyEntry *> apply;
  const PropertyEntry *priority = nullptr;
  RuleEntry() : NamedBlockBase(Kind) {}
};

/// A fact's parameter `t: TraceItem.Performance`.
struct FactParam {
  std::string name;
  SourceLoc loc;
  ExprPtr type; // may be null when written without a type
};

/// `fact name { ... }` or `fact name(t: T) { return expr }`.
struct FactEntry : NamedBlockBase {
  static constexpr EntryKind Kind = EntryKind::Fact;
  bool hasParams = false;
  std::vector<FactParam> params;
  FactEntry() : NamedBlockBase(Kind) {}
};

struct InvariantEntry : NamedBlockBase {
  static constexpr EntryKind Kind = EntryKind::Invariant;
  InvariantEntry() : NamedBlockBase(Kind) {}
};

struct HintEntry : NamedBlockBase {
  static constexpr EntryKind Kind = EntryKind::Hint;
  HintEntry() : NamedBlockBase(Kind) {}
};

/// `state best_tflops: float = 0.0` (type = float, value = 0.0) or `state current_design: "x"` (type = null,
/// value = "x"). With `= value` the expression after ':' is the type; without it, it is the value.
struct StateEntry : Entry {
  static constexpr EntryKind Kind = EntryKind::State;
  std::string name;
  SourceLoc nameLoc;
  ExprPtr type;  // may be null
  ExprPtr value; // may be null (`state n: int`)
  StateEntry() : Entry(Kind) {}
};

/// `parameter Tile_M: [64]` (engineering loops).
struct ParameterEntry : Entry {
  static constexpr EntryKind Kind = EntryKind::Parameter;
  std::string name;
  SourceLoc nameLoc;
  ExprPtr value;
  ParameterEntry() : Entry(Kind) {}
};

/// One statement of kernel pseudo-code. Nesting under `for ...:` is recovered from indentation: a statement belongs
/// to the closest preceding `for` whose column is smaller than its own.
struct ProcStmt {
  enum class Kind { Expr, Assign, For };
  Kind kind = Kind::Expr;
  SourceLoc loc;
  // Expr: `value` (e.g. `store(C[i, j], acc)`).
  // Assign: `target op value`, op one of "=", "+=", "-=", "*=", "/=".
  ExprPtr target;
  std::string op;
  ExprPtr value;
  // For: `for var in range:` + body.
  std::string var;
  SourceLoc varLoc;
  ExprPtr range;
  std::vector<std::unique_ptr<ProcStmt>> body;
};
using ProcStmtPtr = std::unique_ptr<ProcStmt>;

/// `procedure name:` followed by pseudo-code statements up to the end of the enclosing block.
struct ProcedureEntry : Entry {
  static constexpr EntryKind Kind = EntryKind::Procedure;
  std::string name;
  SourceLoc nameLoc;
  std::vector<ProcStmtPtr> body;
  ProcedureEntry() : Entry(Kind) {}
};

/// `return expr` (inside `fact name(params) { }`).
struct ReturnEntry : Entry {
  static constexpr EntryKind Kind = EntryKind::Return;
  ExprPtr value;
  ReturnEntry() : Entry(Kind) {}
};

//===-- The model language ----------------------------------------------------------------------------------------===//

/// `param name[d0, d1] ~ init as "export"`. `name` may be dotted (`ln_1.weight`). `init` is null when omitted (Sema
/// reports it). `exportName` is empty when there is no `as`.
struct ParamDecl : Entry {
  static constexpr EntryKind Kind = EntryKind::Param;
  std::string name;
  SourceLoc nameLoc;
  std::vector<ExprPtr> shape;
  ExprPtr init;
  std::string exportName;
  SourceLoc exportLoc;
  ParamDecl() : Entry(Kind) {}
};

/// `group name[count] as "prefix{i}." { param ... }`. `exportPrefix` is empty when there is no `as` (then the
/// prefix is `<name>{i}.`).
struct GroupDecl : Entry {
  static constexpr EntryKind Kind = EntryKind::Group;
  std::string name;
  SourceLoc nameLoc;
  ExprPtr count;
  std::string exportPrefix;
  SourceLoc exportLoc;
  std::vector<std::unique_ptr<ParamDecl>> params;
  GroupDecl() : Entry(Kind) {}
};

/// A forward argument `tokens: i32[T]`.
struct ForwardArg {
  std::string name;
  SourceLoc loc;
  std::string dtype; // i32, f32, ...
  SourceLoc dtypeLoc;
  std::vector<ExprPtr> shape; // symbolic dims are IdentExprs (T)
};

/// A forward statement: `target = value` or `repeat var in count { body }`.
struct Stmt {
  enum class Kind { Assign, Repeat };
  Kind kind = Kind::Assign;
  SourceLoc loc;
  // Assign
  std::string target;
  SourceLoc targetLoc;
  ExprPtr value;
  // Repeat
  std::string var;
  SourceLoc varLoc;
  ExprPtr count;
  std::vector<std::unique_ptr<Stmt>> body;
};
using StmtPtr = std::unique_ptr<Stmt>;

/// `forward(args) { statements }`; the loss is the value assigned to `loss`.
struct ForwardDecl : Entry {
  static constexpr EntryKind Kind = EntryKind::Forward;
  std::vector<ForwardArg> args;
  std::vector<StmtPtr> body;
  ForwardDecl() : Entry(Kind) {}
};

/// `model Name? { ... }` inside a system. `config`, `params`, `groups`, `forward` are views into `entries`; every
/// other entry (the seeds' `type X matches {}`, `state ...`) is kept there too.
struct ModelDecl : Entry {
  static constexpr EntryKind Kind = EntryKind::Model;
  std::string name; // empty for `model { }`
  SourceLoc nameLoc;
  std::vector<EntryPtr> entries;
  const BlockEntry *config = nullptr;           // the (first) `config { }` block
  std::vector<const PropertyEntry *> configEntries; // its `key: value` entries, in order
  std::vector<const ParamDecl *> params;        // top-level params, in order
  std::vector<const GroupDecl *> groups;        // in order
  const ForwardDecl *forward = nullptr;         // the (first) forward
  ModelDecl() : Entry(Kind) {}
};

/// `train { ... }` inside a system; entries kept in order (Sema turns them into TrainSettings).
struct TrainDecl : Entry {
  static constexpr EntryKind Kind = EntryKind::Train;
  std::vector<EntryPtr> entries;
  TrainDecl() : Entry(Kind) {}
};

//===-- Top level -------------------------------------------------------------------------------------------------===//

struct FrontMatterItem {
  std::string key;
  SourceLoc keyLoc;
  std::string value; // verbatim text after "key:" (trimmed), e.g. `2026-02-13`, `[A, B]`, `"quoted"`
  SourceLoc valueLoc;
};

struct ImportDecl {
  std::string path; // as written
  SourceLoc loc;    // of `import`
  SourceLoc pathLoc;
};

enum class DeclKind { System, Target, Rules };
const char *kindName(DeclKind kind);

struct Decl {
  const DeclKind kind;
  SourceLoc loc;
  std::string name;
  SourceLoc nameLoc;
  std::vector<EntryPtr> entries;

  explicit Decl(DeclKind k) : kind(k) {}
  virtual ~Decl() = default;
  Decl(const Decl &) = delete;
  Decl &operator=(const Decl &) = delete;

  template <class T> bool is() const { return kind == T::Kind; }
  template <class T> const T *as() const { return is<T>() ? static_cast<const T *>(this) : nullptr; }
  template <class T> T *as() { return is<T>() ? static_cast<T *>(this) : nullptr; }
};
using DeclPtr = std::unique_ptr<Decl>;

/// `system Name { ... }`; `model`/`train` are views of the first such entries.
struct SystemDecl : Decl {
  static constexpr DeclKind Kind = DeclKind::System;
  const ModelDecl *model = nullptr;
  const TrainDecl *train = nullptr;
  SystemDecl() : Decl(Kind) {}
};

/// `target sm_90 "NVIDIA H100 80GB HBM3" { law ... stability_floor = -1e20  arch: "sm_90a" ... }`.
struct TargetDecl : Decl {
  static constexpr DeclKind Kind = DeclKind::Target;
  std::string device; // the string after the name; empty if absent
  SourceLoc deviceLoc;
  std::vector<const LawEntry *> laws;       // in order
  const Entry *stabilityFloor = nullptr;    // AssignEntry or PropertyEntry `stability_floor`, null if absent
  std::vector<const Entry *> properties;    // every other entry (arch, sms, ...)
  TargetDecl() : Decl(Kind) {}
};

/// `rules Name { rule ... }`.
struct RulesDecl : Decl {
  static constexpr DeclKind Kind = DeclKind::Rules;
  std::vector<const RuleEntry *> rules;
  RulesDecl() : Decl(Kind) {}
};

/// One parsed .dsl file.
struct File {
  std::string path; // as given to the parser
  bool hasFrontMatter = false;
  std::vector<FrontMatterItem> frontMatter;
  std::vector<ImportDecl> imports;
  std::vector<DeclPtr> decls;
};

} // namespace spak::dsl
