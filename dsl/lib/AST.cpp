//===- AST.cpp - small helpers of the DSL AST (names of kinds, lookups) ------------------------------------------===//
#include "spak/dsl/AST.h"

namespace spak::dsl {

std::string SourceLoc::str() const {
  return file + ":" + std::to_string(line) + ":" + std::to_string(col);
}

const char *spelling(UnaryOp op) {
  switch (op) {
  case UnaryOp::Neg: return "-";
  case UnaryOp::Plus: return "+";
  case UnaryOp::Not: return "!";
  }
  return "?";
}

const char *spelling(BinaryOp op) {
  switch (op) {
  case BinaryOp::Or: return "||";
  case BinaryOp::And: return "&&";
  case BinaryOp::Eq: return "==";
  case BinaryOp::Ne: return "!=";
  case BinaryOp::Lt: return "<";
  case BinaryOp::Le: return "<=";
  case BinaryOp::Gt: return ">";
  case BinaryOp::Ge: return ">=";
  case BinaryOp::Alt: return "|";
  case BinaryOp::Add: return "+";
  case BinaryOp::Sub: return "-";
  case BinaryOp::Mul: return "*";
  case BinaryOp::Div: return "/";
  case BinaryOp::Mod: return "%";
  case BinaryOp::MatMul: return "@";
  case BinaryOp::Pow: return "**";
  }
  return "?";
}

const char *kindName(ExprKind kind) {
  switch (kind) {
  case ExprKind::Number: return "Number";
  case ExprKind::String: return "String";
  case ExprKind::Bool: return "Bool";
  case ExprKind::Ident: return "Ident";
  case ExprKind::Member: return "Member";
  case ExprKind::Index: return "Index";
  case ExprKind::Call: return "Call";
  case ExprKind::Unary: return "Unary";
  case ExprKind::Binary: return "Binary";
  case ExprKind::List: return "List";
  case ExprKind::Map: return "Map";
  case ExprKind::Constructor: return "Constructor";
  case ExprKind::Range: return "Range";
  }
  return "?";
}

const char *kindName(EntryKind kind) {
  switch (kind) {
  case EntryKind::Property: return "Property";
  case EntryKind::Assign: return "Assign";
  case EntryKind::Law: return "Law";
  case EntryKind::Block: return "Block";
  case EntryKind::Directive: return "Directive";
  case EntryKind::Rule: return "Rule";
  case EntryKind::Fact: return "Fact";
  case EntryKind::Invariant: return "Invariant";
  case EntryKind::Hint: return "Hint";
  case EntryKind::State: return "State";
  case EntryKind::Parameter: return "Parameter";
  case EntryKind::Procedure: return "Procedure";
  case EntryKind::Return: return "Return";
  case EntryKind::Model: return "Model";
  case EntryKind::Train: return "Train";
  case EntryKind::Param: return "Param";
  case EntryKind::Group: return "Group";
  case EntryKind::Forward: return "Forward";
  }
  return "?";
}

const char *kindName(DeclKind kind) {
  switch (kind) {
  case DeclKind::System: return "System";
  case DeclKind::Target: return "Target";
  case DeclKind::Rules: return "Rules";
  }
  return "?";
}

const KeywordArg *CallExpr::kwarg(const std::string &name) const {
  for (const auto &k : kwargs)
    if (k.name == name) return &k;
  return nullptr;
}

const MapEntry *MapExpr::find(const std::string &key) const {
  for (const auto &e : entries)
    if (e.key == key) return &e;
  return nullptr;
}

const MapEntry *ConstructorExpr::find(const std::string &key) const {
  for (const auto &e : entries)
    if (e.key == key) return &e;
  return nullptr;
}

std::optional<std::string> dottedName(const Expr &e) {
  if (auto *id = e.as<IdentExpr>()) return id->name;
  if (auto *m = e.as<MemberExpr>()) {
    if (!m->base) return std::nullopt;
    auto base = dottedName(*m->base);
    if (!base) return std::nullopt;
    return *base + "." + m->member;
  }
  return std::nullopt;
}

const PropertyEntry *NamedBlockBase::property(const std::string &key) const {
  for (const auto &e : entries)
    if (auto *p = e->as<PropertyEntry>(); p && p->key == key) return p;
  return nullptr;
}

std::vector<const PropertyEntry *> NamedBlockBase::properties(const std::string &key) const {
  std::vector<const PropertyEntry *> out;
  for (const auto &e : entries)
    if (auto *p = e->as<PropertyEntry>(); p && p->key == key) out.push_back(p);
  return out;
}

} // namespace spak::dsl
