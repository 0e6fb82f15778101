//===- ASTDump.cpp - the readable, deterministic AST dump of `spakc compile --emit=ast` -------------------------===//
//
// One node per line, two spaces of indent per level, each line ending in <line:col>. Strings are printed quoted
// with C escapes; numbers as written. Labels ("shape:", "init:", "when:") name a node's role where it is not obvious.
//
//===----------------------------------------------------------------------------------------------------------------===//
#include "spak/dsl/Parser.h"

#include <fmt/format.h>

#include <ostream>

namespace spak::dsl {
namespace {

std::string quote(const std::string &s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    case '\t': out += "\\t"; break;
    case '\r': out += "\\r"; break;
    default:
      if ((unsigned char)c < 0x20) out += fmt::format("\\x{:02x}", unsigned((unsigned char)c));
      else out += c;
    }
  }
  return out + "\"";
}

std::string at(const SourceLoc &l) { return fmt::format("<{}:{}>", l.line, l.col); }

std::string wordText(const Word &w) { return w.kind == Word::Kind::String ? quote(w.text) : w.text; }

std::string wordsText(const std::vector<Word> &ws) {
  std::string s;
  for (const auto &w : ws) {
    if (!s.empty()) s += ' ';
    s += wordText(w);
  }
  return s;
}

class Dumper {
public:
  explicit Dumper(std::ostream &os) : os_(os) {}

  void line(unsigned indent, const std::string &text) { os_ << std::string(indent * 2, ' ') << text << '\n'; }

  void expr(const Expr *e, unsigned ind, const std::string &label = "") {
    std::string pre = label.empty() ? "" : label + ": ";
    if (!e) {
      line(ind, pre + "<none>");
      return;
    }
    switch (e->kind) {
    case ExprKind::Number: {
      auto *n = e->as<NumberExpr>();
      line(ind, fmt::format("{}Number {}{} {}", pre, n->text, n->isInteger ? " int" : "", at(e->loc)));
      break;
    }
    case ExprKind::String: line(ind, pre + "String " + quote(e->as<StringExpr>()->value) + " " + at(e->loc)); break;
    case ExprKind::Bool:
      line(ind, pre + "Bool " + (e->as<BoolExpr>()->value ? "true" : "false") + " " + at(e->loc));
      break;
    case ExprKind::Ident: line(ind, pre + "Ident " + e->as<IdentExpr>()->name + " " + at(e->loc)); break;
    case ExprKind::Member: {
      auto *m = e->as<MemberExpr>();
      line(ind, pre + "Member ." + m->member + " " + at(e->loc));
      expr(m->base.get(), ind + 1);
      break;
    }
    case ExprKind::Index: {
      auto *x = e->as<IndexExpr>();
      line(ind, pre + "Index " + at(e->loc));
      expr(x->base.get(), ind + 1, "base");
      for (const auto &i : x->indices) expr(i.get(), ind + 1, "index");
      break;
    }
    case ExprKind::Call: {
      auto *c = e->as<CallExpr>();
      line(ind, pre + "Call " + c->callee + " " + at(e->loc));
      for (const auto &a : c->args) expr(a.get(), ind + 1);
      for (const auto &k : c->kwargs) expr(k.value.get(), ind + 1, "kw " + k.name);
      break;
    }
    case ExprKind::Unary: {
      auto *u = e->as<UnaryExpr>();
      line(ind, pre + "Unary '" + spelling(u->op) + "' " + at(e->loc));
      expr(u->operand.get(), ind + 1);
      break;
    }
    case ExprKind::Binary: {
      auto *b = e->as<BinaryExpr>();
      line(ind, pre + "Binary '" + spelling(b->op) + "' " + at(e->loc));
      expr(b->lhs.get(), ind + 1);
      expr(b->rhs.get(), ind + 1);
      break;
    }
    case ExprKind::List: {
      auto *l = e->as<ListExpr>();
      line(ind, fmt::format("{}List size={} {}", pre, l->elements.size(), at(e->loc)));
      for (const auto &x : l->elements) expr(x.get(), ind + 1);
      break;
    }
    case ExprKind::Map: {
      auto *m = e->as<MapExpr>();
      line(ind, pre + "Map " + at(e->loc));
      for (const auto &x : m->entries) expr(x.value.get(), ind + 1, "key " + x.key);
      break;
    }
    case ExprKind::Constructor: {
      auto *c = e->as<ConstructorExpr>();
      line(ind, pre + "Constructor " + c->name + " " + at(e->loc));
      for (const auto &x : c->entries) expr(x.value.get(), ind + 1, "key " + x.key);
      break;
    }
    case ExprKind::Range: {
      auto *r = e->as<RangeExpr>();
      line(ind, pre + "Range " + at(e->loc));
      expr(r->lo.get(), ind + 1, "lo");
      expr(r->hi.get(), ind + 1, "hi");
      break;
    }
    }
  }

  void entries(const std::vector<EntryPtr> &es, unsigned ind) {
    for (const auto &e : es) entry(*e, ind);
  }

  void param(const ParamDecl &p, unsigned ind) {
    std::string s = "Param " + p.name;
    if (!p.exportName.empty()) s += " as " + quote(p.exportName);
    line(ind, s + " " + at(p.loc));
    for (const auto &d : p.shape) expr(d.get(), ind + 1, "dim");
    expr(p.init.get(), ind + 1, "init");
  }

  void procStmt(const ProcStmt &s, unsigned ind) {
    switch (s.kind) {
    case ProcStmt::Kind::Expr:
      line(ind, "ExprStmt " + at(s.loc));
      expr(s.value.get(), ind + 1);
      break;
    case ProcStmt::Kind::Assign:
      line(ind, "AssignStmt '" + s.op + "' " + at(s.loc));
      expr(s.target.get(), ind + 1, "target");
      expr(s.value.get(), ind + 1, "value");
      break;
    case ProcStmt::Kind::For:
      line(ind, "For " + s.var + " " + at(s.loc));
      expr(s.range.get(), ind + 1, "in");
      for (const auto &b : s.body) procStmt(*b, ind + 1);
      break;
    }
  }

  void stmt(const Stmt &s, unsigned ind) {
    if (s.kind == Stmt::Kind::Assign) {
      line(ind, "Assign " + s.target + " " + at(s.loc));
      expr(s.value.get(), ind + 1);
    } else {
      line(ind, "Repeat " + s.var + " " + at(s.loc));
      expr(s.count.get(), ind + 1, "count");
      for (const auto &b : s.body) stmt(*b, ind + 1);
    }
  }

  void entry(const Entry &e, unsigned ind) {
    switch (e.kind) {
    case EntryKind::Property: {
      auto &p = static_cast<const PropertyEntry &>(e);
      std::string q = p.qualifiers.empty() ? "" : " " + wordsText(p.qualifiers);
      line(ind, "Property " + p.key + q + " " + at(e.loc));
      expr(p.value.get(), ind + 1);
      break;
    }
    case EntryKind::Assign: {
      auto &a = static_cast<const AssignEntry &>(e);
      line(ind, "Assign " + a.name + " " + at(e.loc));
      expr(a.value.get(), ind + 1);
      break;
    }
    case EntryKind::Law: {
      auto &l = static_cast<const LawEntry &>(e);
      line(ind, "Law " + l.name + " " + at(e.loc));
      expr(l.value.get(), ind + 1);
      break;
    }
    case EntryKind::Block: {
      auto &b = static_cast<const BlockEntry &>(e);
      line(ind, "Block " + wordsText(b.words) + " " + at(e.loc));
      entries(b.entries, ind + 1);
      break;
    }
    case EntryKind::Directive:
      line(ind, "Directive " + wordsText(static_cast<const DirectiveEntry &>(e).words) + " " + at(e.loc));
      break;
    case EntryKind::Rule: {
      auto &r = static_cast<const RuleEntry &>(e);
      line(ind, "Rule " + quote(r.name) + " " + at(e.loc));
      entries(r.entries, ind + 1);
      break;
    }
    case EntryKind::Fact: {
      auto &f = static_cast<const FactEntry &>(e);
      line(ind, "Fact " + f.name + (f.hasParams ? fmt::format(" params={}", f.params.size()) : "") + " " + at(e.loc));
      for (const auto &p : f.params) {
        line(ind + 1, "FactParam " + p.name + " " + at(p.loc));
        if (p.type) expr(p.type.get(), ind + 2, "type");
      }
      entries(f.entries, ind + 1);
      break;
    }
    case EntryKind::Invariant: {
      auto &n = static_cast<const InvariantEntry &>(e);
      line(ind, "Invariant " + n.name + " " + at(e.loc));
      entries(n.entries, ind + 1);
      break;
    }
    case EntryKind::Hint: {
      auto &n = static_cast<const HintEntry &>(e);
      line(ind, "Hint " + quote(n.name) + " " + at(e.loc));
      entries(n.entries, ind + 1);
      break;
    }
    case EntryKind::State: {
      auto &s = static_cast<const StateEntry &>(e);
      line(ind, "State " + s.name + " " + at(e.loc));
      if (s.type) expr(s.type.get(), ind + 1, "type");
      if (s.value) expr(s.value.get(), ind + 1, "value");
      break;
    }
    case EntryKind::Parameter: {
      auto &p = static_cast<const ParameterEntry &>(e);
      line(ind, "Parameter " + p.name + " " + at(e.loc));
      expr(p.value.get(), ind + 1);
      break;
    }
    case EntryKind::Procedure: {
      auto &p = static_cast<const ProcedureEntry &>(e);
      line(ind, "Procedure " + p.name + " " + at(e.loc));
      for (const auto &s : p.body) procStmt(*s, ind + 1);
      break;
    }
    case EntryKind::Return:
      line(ind, "Return " + at(e.loc));
      expr(static_cast<const ReturnEntry &>(e).value.get(), ind + 1);
      break;
    case EntryKind::Model: {
      auto &m = static_cast<const ModelDecl &>(e);
      line(ind, "Model" + (m.name.empty() ? std::string() : " " + m.name) + " " + at(e.loc));
      entries(m.entries, ind + 1);
      break;
    }
    case EntryKind::Train:
      line(ind, "Train " + at(e.loc));
      entries(static_cast<const TrainDecl &>(e).entries, ind + 1);
      break;
    case EntryKind::Param: param(static_cast<const ParamDecl &>(e), ind); break;
    case EntryKind::Group: {
      auto &g = static_cast<const GroupDecl &>(e);
      std::string s = "Group " + g.name;
      if (!g.exportPrefix.empty()) s += " as " + quote(g.exportPrefix);
      line(ind, s + " " + at(e.loc));
      expr(g.count.get(), ind + 1, "count");
      for (const auto &p : g.params) param(*p, ind + 1);
      break;
    }
    case EntryKind::Forward: {
      auto &f = static_cast<const ForwardDecl &>(e);
      line(ind, "Forward " + at(e.loc));
      for (const auto &a : f.args) {
        line(ind + 1, "Arg " + a.name + ": " + a.dtype + " " + at(a.loc));
        for (const auto &d : a.shape) expr(d.get(), ind + 2, "dim");
      }
      for (const auto &s : f.body) stmt(*s, ind + 1);
      break;
    }
    }
  }

  void file(const File &f) {
    line(0, "File " + quote(f.path));
    if (f.hasFrontMatter) {
      line(1, "FrontMatter");
      for (const auto &i : f.frontMatter) line(2, i.key + ": " + i.value + " " + at(i.keyLoc));
    }
    for (const auto &i : f.imports) line(1, "Import " + quote(i.path) + " " + at(i.loc));
    for (const auto &d : f.decls) {
      std::string head = std::string(kindName(d->kind)) + " " + d->name;
      if (auto *t = d->as<TargetDecl>(); t && !t->device.empty()) head += " " + quote(t->device);
      line(1, head + " " + at(d->loc));
      entries(d->entries, 2);
    }
  }

private:
  std::ostream &os_;
};

} // namespace

void dumpAST(const File &file, std::ostream &os) { Dumper(os).file(file); }
void dumpExpr(const Expr &e, std::ostream &os, unsigned indent) { Dumper(os).expr(&e, indent); }

} // namespace spak::dsl
