//===- Parser.cpp - lex + parse a .dsl file with ANTLR4 and build the plain AST ---------------------------------===//
//
// Steps: (1) the ANTLR lexer produces every token; (2) a filter reports lexical errors (invalid characters,
// unterminated strings/comments), drops comments and keeps only the newlines that separate entries (see the grammar's
// header); (3) the ANTLR parser runs over the filtered tokens with an error strategy that words messages like a
// compiler ("expected ':', found '}'") and recovers so several errors are reported per run; (4) the parse tree is
// converted to the AST of AST.h. No ANTLR type or exception escapes this file.
//
//===----------------------------------------------------------------------------------------------------------------===//
#include "spak/dsl/Parser.h"

#include "SpakLexer.h"
#include "SpakParser.h"

#include <antlr4-runtime.h>
#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <set>

using spak_antlr::SpakLexer;
using spak_antlr::SpakParser;
using P = spak_antlr::SpakParser;

namespace spak::dsl {
namespace {

//===-- Tokens ----------------------------------------------------------------------------------------------------===//

bool isNameToken(size_t t) {
  switch (t) {
  case P::ID: case P::IMPORT: case P::SYSTEM: case P::TARGET: case P::RULES: case P::RULE: case P::FACT:
  case P::INVARIANT: case P::LAW: case P::HINT: case P::STATE: case P::PARAMETER: case P::PROCEDURE: case P::RETURN:
  case P::PARAM: case P::GROUP: case P::FORWARD: case P::REPEAT: case P::IN: case P::AS: case P::FOR:
    return true;
  default:
    return false;
  }
}

/// Tokens after which a newline ends an entry/statement.
bool canEndEntry(size_t t) {
  return isNameToken(t) || t == P::TRUE || t == P::FALSE || t == P::NUMBER || t == P::STRING || t == P::RPAREN ||
         t == P::RBRACK || t == P::RBRACE;
}

std::string quoteText(const std::string &text) {
  std::string s = text.size() > 40 ? text.substr(0, 37) + "..." : text;
  return "'" + s + "'";
}

std::string describeToken(const antlr4::Token *t) {
  if (!t) return "end of file";
  switch (t->getType()) {
  case antlr4::Token::EOF: return "end of file";
  case P::NL: return "newline";
  case P::STRING: return "string " + (t->getText().size() > 40 ? t->getText().substr(0, 37) + "...\"" : t->getText());
  case P::NUMBER: return "number '" + t->getText() + "'";
  default: return quoteText(t->getText());
  }
}

SourceLoc tokenLoc(const std::string &file, const antlr4::Token *t) {
  SourceLoc l;
  l.file = file;
  if (!t) return l;
  l.line = uint32_t(t->getLine());
  l.col = uint32_t(t->getCharPositionInLine()) + 1;
  std::string text = t->getType() == antlr4::Token::EOF ? std::string() : t->getText();
  size_t nl = text.find('\n');
  l.length = uint32_t(nl == std::string::npos ? text.size() : nl);
  return l;
}

//===-- Syntax error reporting ------------------------------------------------------------------------------------===//

/// Words an expected-token set ("':' or '='", "a name", "an expression").
std::string describeExpected(const antlr4::misc::IntervalSet &set, const antlr4::dfa::Vocabulary &vocab) {
  std::vector<size_t> toks;
  for (ssize_t t : set.toList()) toks.push_back(size_t(t));
  std::set<std::string> items;
  bool name = false, expr = false;
  unsigned exprStarts = 0;
  for (size_t t : toks) {
    if (t == P::LPAREN || t == P::LBRACK || t == P::NUMBER || t == P::STRING || t == P::MINUS || t == P::NOT ||
        t == P::TRUE)
      ++exprStarts;
  }
  expr = exprStarts >= 4;
  std::vector<std::string> out;
  for (size_t t : toks) {
    if (isNameToken(t)) { name = true; continue; }
    if (expr && (t == P::LPAREN || t == P::LBRACK || t == P::LBRACE || t == P::NUMBER || t == P::STRING ||
                 t == P::MINUS || t == P::PLUS || t == P::NOT || t == P::TRUE || t == P::FALSE))
      continue;
    std::string d;
    if (t == antlr4::Token::EOF) d = "end of file";
    else if (t == P::NL) d = "newline";
    else if (t == P::NUMBER) d = "a number";
    else if (t == P::STRING) d = "a string";
    else if (t == P::FRONT_MATTER) continue;
    else d = vocab.getDisplayName(t);
    if (items.insert(d).second) out.push_back(d);
  }
  if (expr) out.insert(out.begin(), "an expression");
  else if (name) out.insert(out.begin(), "a name");
  if (out.empty() || out.size() > 4) return "";
  std::string s;
  for (size_t i = 0; i < out.size(); ++i) {
    if (i) s += (i + 1 == out.size()) ? " or " : ", ";
    s += out[i];
  }
  return s;
}

class ErrorStrategy : public antlr4::DefaultErrorStrategy {
protected:
  void reportNoViableAlternative(antlr4::Parser *p, const antlr4::NoViableAltException &e) override {
    p->notifyErrorListeners(e.getOffendingToken(), "unexpected " + describeToken(e.getOffendingToken()), nullptr);
  }
  void reportInputMismatch(antlr4::Parser *p, const antlr4::InputMismatchException &e) override {
    std::string exp = describeExpected(e.getExpectedTokens(), p->getVocabulary());
    std::string msg = exp.empty() ? "unexpected " + describeToken(e.getOffendingToken())
                                  : "expected " + exp + ", found " + describeToken(e.getOffendingToken());
    p->notifyErrorListeners(e.getOffendingToken(), msg, nullptr);
  }
  void reportFailedPredicate(antlr4::Parser *p, const antlr4::FailedPredicateException &e) override {
    p->notifyErrorListeners(e.getOffendingToken(), "unexpected " + describeToken(e.getOffendingToken()), nullptr);
  }
  void reportUnwantedToken(antlr4::Parser *p) override {
    if (inErrorRecoveryMode(p)) return;
    beginErrorCondition(p);
    antlr4::Token *t = p->getCurrentToken();
    std::string exp = describeExpected(getExpectedTokens(p), p->getVocabulary());
    std::string msg = "unexpected " + describeToken(t);
    if (!exp.empty()) msg += "; expected " + exp;
    p->notifyErrorListeners(t, msg, nullptr);
  }
  void reportMissingToken(antlr4::Parser *p) override {
    if (inErrorRecoveryMode(p)) return;
    beginErrorCondition(p);
    antlr4::Token *t = p->getCurrentToken();
    std::string exp = describeExpected(getExpectedTokens(p), p->getVocabulary());
    std::string msg = exp.empty() ? "unexpected " + describeToken(t)
                                  : "expected " + exp + ", found " + describeToken(t);
    p->notifyErrorListeners(t, msg, nullptr);
  }
};

class ErrorListener : public antlr4::BaseErrorListener {
public:
  ErrorListener(const std::string &file, DiagnosticEngine &diags) : file_(file), diags_(diags) {}
  void syntaxError(antlr4::Recognizer *, antlr4::Token *offending, size_t line, size_t col, const std::string &msg,
                   std::exception_ptr) override {
    if (ignoreEOF && offending && offending->getType() == antlr4::Token::EOF) return;
    SourceLoc l = offending ? tokenLoc(file_, offending) : SourceLoc{file_, uint32_t(line), uint32_t(col + 1), 0};
    // One error per position: ANTLR's recovery can report the same token twice.
    auto key = std::make_pair(l.line, l.col);
    if (!seen_.insert(key).second) return;
    diags_.error(l, msg);
    ++count;
  }
  unsigned count = 0;
  bool ignoreEOF = false;

private:
  std::string file_;
  DiagnosticEngine &diags_;
  std::set<std::pair<uint32_t, uint32_t>> seen_;
};

//===-- Token filter ----------------------------------------------------------------------------------------------===//

/// Reports lexical errors, drops comments, keeps significant newlines. Returns false on a fatal lexical problem
/// (unterminated front matter), after which parsing is pointless.
bool filterTokens(bool &unclosedAtEOF, std::vector<std::unique_ptr<antlr4::Token>> &in, std::vector<std::unique_ptr<antlr4::Token>> &out,
                  const std::string &file, const std::string &text, DiagnosticEngine &diags) {
  std::vector<std::pair<size_t, SourceLoc>> brackets; // open brackets: type and location
  size_t prev = 0; // previous significant token type (0 = none)
  std::unique_ptr<antlr4::Token> pendingNL;
  bool first = true;
  for (auto &tok : in) {
    size_t type = tok->getType();
    if (first) {
      first = false;
      if (type == P::MINUS && tok->getStartIndex() == 0 && text.compare(0, 3, "---") == 0) {
        size_t eol = text.find('\n');
        std::string rest = text.substr(0, eol);
        bool onlyDashes = rest.find_first_not_of("- \t\r", 3) == std::string::npos;
        if (onlyDashes) {
          diags.error(tokenLoc(file, tok.get()), "unterminated front matter: no closing '---' line");
          return false;
        }
      }
    }
    if (type == P::ERROR_CHAR) {
      std::string t = tok->getText();
      unsigned char c = t.empty() ? 0 : (unsigned char)t[0];
      std::string shown = (c >= 0x20 && c < 0x7f) ? "'" + t + "'" : fmt::format("\\x{:02X}", unsigned(c));
      diags.error(tokenLoc(file, tok.get()), "invalid character " + shown);
      continue;
    }
    if (type == P::UNTERMINATED_STRING) {
      diags.error(tokenLoc(file, tok.get()), "unterminated string literal");
      // Recover as a string that ends at the end of the line, so the parser does not cascade.
      auto *ct = new antlr4::CommonToken(tok.get());
      ct->setType(P::STRING);
      ct->setText(tok->getText() + tok->getText().substr(0, 1));
      tok.reset(ct);
      type = P::STRING;
    }
    if (type == P::BLOCK_COMMENT) {
      const std::string &t = tok->getText();
      if (t.size() < 4 || t.compare(t.size() - 2, 2, "*/") != 0) {
        SourceLoc l = tokenLoc(file, tok.get());
        l.length = 2;
        diags.error(l, "unterminated /* comment");
      }
      if (t.find('\n') == std::string::npos) continue;
      // A multi-line comment separates like a newline: fall through as an NL.
      type = P::NL;
    } else if (tok->getChannel() != antlr4::Token::DEFAULT_CHANNEL) {
      continue;
    }
    if (type == P::NL) {
      bool inParens =
          !brackets.empty() && (brackets.back().first == P::LPAREN || brackets.back().first == P::LBRACK);
      if (inParens || !canEndEntry(prev) || pendingNL) continue;
      if (tok->getType() != P::NL) {
        auto *ct = new antlr4::CommonToken(tok.get());
        ct->setType(P::NL);
        ct->setText("\n");
        pendingNL.reset(ct);
      } else {
        pendingNL = std::move(tok);
      }
      continue;
    }
    if (pendingNL) {
      if (type != P::LBRACE) out.push_back(std::move(pendingNL));
      pendingNL.reset();
    }
    if (type == P::LPAREN || type == P::LBRACK || type == P::LBRACE) brackets.push_back({type, tokenLoc(file, tok.get())});
    else if ((type == P::RPAREN || type == P::RBRACK || type == P::RBRACE) && !brackets.empty()) brackets.pop_back();
    prev = type;
    out.push_back(std::move(tok));
  }
  if (!brackets.empty()) {
    // Unclosed brackets at the end of the file: say which one, like clang ("to match this '{'").
    SourceLoc eof{file, 1, 1, 0};
    for (char c : text) {
      if (c == '\n') {
        ++eof.line;
        eof.col = 1;
      } else {
        ++eof.col;
      }
    }
    auto [type, at] = brackets.back();
    const char *close = type == P::LBRACE ? "}" : type == P::LPAREN ? ")" : "]";
    const char *open = type == P::LBRACE ? "{" : type == P::LPAREN ? "(" : "[";
    diags.error(eof, fmt::format("expected '{}' at end of file", close));
    diags.note(at, fmt::format("to match this '{}'", open));
    unclosedAtEOF = true;
  }
  return true;
}

//===-- Parse tree → AST ------------------------------------------------------------------------------------------===//

std::string decodeString(const std::string &lit) {
  if (lit.size() < 2) return lit;
  const size_t end = lit.size() - 1; // the closing quote
  std::string s;
  for (size_t i = 1; i < end; ++i) {
    char c = lit[i];
    if (c != '\\' || i + 1 >= end) {
      s += c;
      continue;
    }
    char n = lit[++i];
    switch (n) {
    case 'n': s += '\n'; break;
    case 't': s += '\t'; break;
    case 'r': s += '\r'; break;
    case '0': s += '\0'; break;
    default: s += n; break; // \\ \" \' and unknown escapes keep the character
    }
  }
  return s;
}

enum class Ctx { Top, System, Target, Rules, Model, Generic };

class Builder {
public:
  Builder(std::string file, DiagnosticEngine &diags) : file_(std::move(file)), diags_(diags) {}

  SourceLoc loc(const antlr4::Token *t) const { return tokenLoc(file_, t); }
  SourceLoc loc(antlr4::ParserRuleContext *c) const { return c ? loc(c->getStart()) : SourceLoc{file_, 0, 0, 0}; }
  SourceLoc loc(antlr4::tree::TerminalNode *n) const { return n ? loc(n->getSymbol()) : SourceLoc{file_, 0, 0, 0}; }

  std::unique_ptr<File> buildFile(P::FileContext *ctx) {
    auto f = std::make_unique<File>();
    f->path = file_;
    if (auto *fm = ctx->FRONT_MATTER()) {
      f->hasFrontMatter = true;
      frontMatter(fm->getSymbol(), *f);
    }
    for (auto *item : ctx->topItem()) {
      if (auto *im = item->importDecl()) {
        ImportDecl d;
        d.loc = loc(im);
        if (im->STRING()) {
          d.path = decodeString(im->STRING()->getText());
          d.pathLoc = loc(im->STRING());
          f->imports.push_back(std::move(d));
        }
      } else if (auto *sd = item->systemDecl()) {
        auto d = std::make_unique<SystemDecl>();
        d->loc = loc(sd);
        setName(*d, sd->name());
        if (sd->block()) entries(sd->block(), d->entries, Ctx::System);
        for (auto &e : d->entries) {
          if (!d->model) d->model = e->as<ModelDecl>();
          if (!d->train) d->train = e->as<TrainDecl>();
        }
        f->decls.push_back(std::move(d));
      } else if (auto *td = item->targetDecl()) {
        auto d = std::make_unique<TargetDecl>();
        d->loc = loc(td);
        setName(*d, td->name());
        if (td->STRING()) {
          d->device = decodeString(td->STRING()->getText());
          d->deviceLoc = loc(td->STRING());
        }
        if (td->block()) entries(td->block(), d->entries, Ctx::Target);
        for (auto &e : d->entries) {
          if (auto *l = e->as<LawEntry>()) d->laws.push_back(l);
          else if (auto *a = e->as<AssignEntry>(); a && a->name == "stability_floor" && !d->stabilityFloor)
            d->stabilityFloor = a;
          else if (auto *p = e->as<PropertyEntry>();
                   p && p->key == "stability_floor" && p->qualifiers.empty() && !d->stabilityFloor)
            d->stabilityFloor = p;
          else d->properties.push_back(e.get());
        }
        f->decls.push_back(std::move(d));
      } else if (auto *rd = item->rulesDecl()) {
        auto d = std::make_unique<RulesDecl>();
        d->loc = loc(rd);
        setName(*d, rd->name());
        if (rd->block()) entries(rd->block(), d->entries, Ctx::Rules);
        for (auto &e : d->entries)
          if (auto *r = e->as<RuleEntry>()) d->rules.push_back(r);
        f->decls.push_back(std::move(d));
      }
    }
    return f;
  }

private:
  std::string file_;
  DiagnosticEngine &diags_;

  void frontMatter(antlr4::Token *tok, File &f) {
    const std::string text = tok->getText();
    uint32_t line = uint32_t(tok->getLine());
    size_t pos = 0;
    bool firstLine = true;
    while (pos < text.size()) {
      size_t eol = text.find('\n', pos);
      std::string l = text.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
      if (!l.empty() && l.back() == '\r') l.pop_back();
      uint32_t thisLine = line++;
      pos = eol == std::string::npos ? text.size() : eol + 1;
      if (firstLine) { firstLine = false; continue; } // the opening ---
      std::string trimmed = l;
      while (!trimmed.empty() && (trimmed.back() == ' ' || trimmed.back() == '\t')) trimmed.pop_back();
      if (trimmed == "---") break; // closing
      size_t ws = l.find_first_not_of(" \t");
      if (ws == std::string::npos || l[ws] == '#') continue;
      size_t colon = l.find(':');
      if (colon == std::string::npos) {
        diags_.error(SourceLoc{file_, thisLine, uint32_t(ws + 1), uint32_t(trimmed.size() - ws)},
                     "front matter line must be 'key: value'");
        continue;
      }
      FrontMatterItem item;
      size_t kend = colon;
      while (kend > ws && (l[kend - 1] == ' ' || l[kend - 1] == '\t')) --kend;
      item.key = l.substr(ws, kend - ws);
      item.keyLoc = SourceLoc{file_, thisLine, uint32_t(ws + 1), uint32_t(kend - ws)};
      size_t vs = l.find_first_not_of(" \t", colon + 1);
      if (vs != std::string::npos) {
        size_t ve = l.find_last_not_of(" \t");
        item.value = l.substr(vs, ve + 1 - vs);
        item.valueLoc = SourceLoc{file_, thisLine, uint32_t(vs + 1), uint32_t(ve + 1 - vs)};
      } else {
        item.valueLoc = SourceLoc{file_, thisLine, uint32_t(colon + 2), 0};
      }
      if (item.key.empty()) {
        diags_.error(SourceLoc{file_, thisLine, uint32_t(ws + 1), 1}, "front matter line must be 'key: value'");
        continue;
      }
      f.frontMatter.push_back(std::move(item));
    }
  }

  std::string nameText(P::NameContext *n) const { return n ? n->getText() : std::string(); }

  void setName(Decl &d, P::NameContext *n) {
    d.name = nameText(n);
    d.nameLoc = loc(n);
  }

  std::string pathText(P::PathContext *p, SourceLoc *l = nullptr) const {
    if (!p) return {};
    std::string s;
    for (auto *n : p->name()) {
      if (!s.empty()) s += '.';
      s += n->getText();
    }
    if (l) {
      *l = loc(p);
      l->length = uint32_t(p->getStop() && p->getStop()->getLine() == p->getStart()->getLine()
                               ? p->getStop()->getCharPositionInLine() + p->getStop()->getText().size() -
                                     p->getStart()->getCharPositionInLine()
                               : s.size());
    }
    return s;
  }

  Word word(P::WordContext *w) {
    Word out;
    out.loc = loc(w);
    if (w->STRING()) {
      out.kind = Word::Kind::String;
      out.text = decodeString(w->STRING()->getText());
    } else if (w->NUMBER()) {
      out.kind = Word::Kind::Number;
      out.text = w->NUMBER()->getText();
    } else {
      out.kind = Word::Kind::Name;
      out.text = pathText(w->path(), &out.loc);
    }
    return out;
  }

  std::vector<Word> words(const std::vector<P::WordContext *> &ws) {
    std::vector<Word> out;
    for (auto *w : ws) out.push_back(word(w));
    return out;
  }

  std::string nameOrString(antlr4::tree::TerminalNode *str, P::NameContext *n, SourceLoc &l) {
    if (str) {
      l = loc(str);
      return decodeString(str->getText());
    }
    l = loc(n);
    return nameText(n);
  }

  void entries(P::BlockContext *b, std::vector<EntryPtr> &out, Ctx ctx) {
    for (auto *e : b->entry())
      if (auto entry = buildEntry(e, ctx)) out.push_back(std::move(entry));
  }

  template <class T> void namedBlockEntries(T &node, P::BlockContext *b) {
    if (b) entries(b, node.entries, Ctx::Generic);
  }

  EntryPtr buildEntry(P::EntryContext *e, Ctx ctx) {
    if (auto *c = e->procedureEntry()) return procedure(c);
    if (auto *c = e->lawEntry()) {
      auto n = std::make_unique<LawEntry>();
      n->loc = loc(c);
      n->name = nameText(c->name(0));
      if (c->name().size() > 1) n->name += "." + nameText(c->name(1));  // scoped to a kernel kind
      n->nameLoc = loc(c->name(0));
      n->value = expr(c->expr());
      return n;
    }
    if (auto *c = e->ruleEntry()) {
      auto n = std::make_unique<RuleEntry>();
      n->loc = loc(c);
      n->name = nameOrString(c->STRING(), c->name(), n->nameLoc);
      namedBlockEntries(*n, c->block());
      for (auto &x : n->entries) {
        auto *p = x->as<PropertyEntry>();
        if (!p || !p->qualifiers.empty()) continue;
        if (p->key == "when" && !n->when) n->when = p;
        else if (p->key == "apply") n->apply.push_back(p);
        else if (p->key == "priority" && !n->priority) n->priority = p;
      }
      return n;
    }
    if (auto *c = e->factEntry()) {
      auto n = std::make_unique<FactEntry>();
      n->loc = loc(c);
      n->name = nameText(c->name());
      n->nameLoc = loc(c->name());
      if (auto *ps = c->factParams()) {
        n->hasParams = true;
        for (auto *p : ps->factParam()) {
          FactParam fp;
          fp.name = nameText(p->name());
          fp.loc = loc(p->name());
          if (p->expr()) fp.type = expr(p->expr());
          n->params.push_back(std::move(fp));
        }
      }
      namedBlockEntries(*n, c->block());
      return n;
    }
    if (auto *c = e->invariantEntry()) {
      auto n = std::make_unique<InvariantEntry>();
      n->loc = loc(c);
      n->name = nameOrString(c->STRING(), c->name(), n->nameLoc);
      namedBlockEntries(*n, c->block());
      return n;
    }
    if (auto *c = e->hintEntry()) {
      auto n = std::make_unique<HintEntry>();
      n->loc = loc(c);
      n->name = nameOrString(c->STRING(), c->name(), n->nameLoc);
      namedBlockEntries(*n, c->block());
      return n;
    }
    if (auto *c = e->stateEntry()) {
      auto n = std::make_unique<StateEntry>();
      n->loc = loc(c);
      n->name = nameText(c->name());
      n->nameLoc = loc(c->name());
      auto xs = c->expr();
      if (c->ASSIGN() && xs.size() >= 2) {
        n->type = expr(xs[0]);
        n->value = expr(xs[1]);
      } else if (!xs.empty()) {
        n->value = expr(xs[0]);
      }
      return n;
    }
    if (auto *c = e->parameterEntry()) {
      auto n = std::make_unique<ParameterEntry>();
      n->loc = loc(c);
      n->name = nameText(c->name());
      n->nameLoc = loc(c->name());
      n->value = expr(c->expr());
      return n;
    }
    if (auto *c = e->paramDecl()) return param(c);
    if (auto *c = e->groupDecl()) {
      auto n = std::make_unique<GroupDecl>();
      n->loc = loc(c);
      n->name = nameText(c->name());
      n->nameLoc = loc(c->name());
      n->count = expr(c->expr());
      if (c->STRING()) {
        n->exportPrefix = decodeString(c->STRING()->getText());
        n->exportLoc = loc(c->STRING());
      }
      if (auto *body = c->groupBody())
        for (auto *p : body->paramDecl()) n->params.push_back(param(p));
      return n;
    }
    if (auto *c = e->forwardDecl()) return forward(c);
    if (auto *c = e->returnEntry()) {
      auto n = std::make_unique<ReturnEntry>();
      n->loc = loc(c);
      n->value = expr(c->expr());
      return n;
    }
    if (auto *c = e->assignEntry()) {
      auto n = std::make_unique<AssignEntry>();
      n->loc = loc(c);
      n->name = pathText(c->path(), &n->nameLoc);
      n->value = expr(c->expr());
      return n;
    }
    if (auto *c = e->propertyEntry()) {
      auto n = std::make_unique<PropertyEntry>();
      n->loc = loc(c);
      auto ws = words(c->word());
      if (ws.empty()) return nullptr;
      n->key = ws.front().text;
      n->keyLoc = ws.front().loc;
      n->qualifiers.assign(std::make_move_iterator(ws.begin() + 1), std::make_move_iterator(ws.end()));
      n->value = expr(c->expr());
      return n;
    }
    if (auto *c = e->blockEntry()) {
      auto ws = words(c->word());
      if (ws.empty()) return nullptr;
      const std::string head = ws.front().text;
      if (ctx == Ctx::System && head == "model" && ws.front().kind == Word::Kind::Name && ws.size() <= 2) {
        auto n = std::make_unique<ModelDecl>();
        n->loc = loc(c);
        if (ws.size() == 2) {
          n->name = ws[1].text;
          n->nameLoc = ws[1].loc;
        }
        if (c->block()) entries(c->block(), n->entries, Ctx::Model);
        for (auto &x : n->entries) {
          if (auto *b = x->as<BlockEntry>(); b && b->head() == "config" && b->words.size() == 1 && !n->config) {
            n->config = b;
            for (auto &ce : b->entries)
              if (auto *p = ce->as<PropertyEntry>()) n->configEntries.push_back(p);
          } else if (auto *p = x->as<ParamDecl>()) {
            n->params.push_back(p);
          } else if (auto *g = x->as<GroupDecl>()) {
            n->groups.push_back(g);
          } else if (auto *fw = x->as<ForwardDecl>(); fw && !n->forward) {
            n->forward = fw;
          }
        }
        return n;
      }
      if (ctx == Ctx::System && head == "train" && ws.front().kind == Word::Kind::Name && ws.size() == 1) {
        auto n = std::make_unique<TrainDecl>();
        n->loc = loc(c);
        if (c->block()) entries(c->block(), n->entries, Ctx::Generic);
        return n;
      }
      auto n = std::make_unique<BlockEntry>();
      n->loc = loc(c);
      n->words = std::move(ws);
      if (c->block()) entries(c->block(), n->entries, Ctx::Generic);
      return n;
    }
    if (auto *c = e->directiveEntry()) {
      auto n = std::make_unique<DirectiveEntry>();
      n->loc = loc(c);
      n->words = words(c->word());
      if (n->words.empty()) return nullptr;
      return n;
    }
    return nullptr;
  }

  std::unique_ptr<ParamDecl> param(P::ParamDeclContext *c) {
    auto n = std::make_unique<ParamDecl>();
    n->loc = loc(c);
    n->name = pathText(c->path(), &n->nameLoc);
    if (auto *l = c->exprList())
      for (auto *x : l->expr()) n->shape.push_back(expr(x));
    if (c->expr()) n->init = expr(c->expr());
    if (c->STRING()) {
      n->exportName = decodeString(c->STRING()->getText());
      n->exportLoc = loc(c->STRING());
    }
    return n;
  }

  std::unique_ptr<ForwardDecl> forward(P::ForwardDeclContext *c) {
    auto n = std::make_unique<ForwardDecl>();
    n->loc = loc(c);
    for (auto *a : c->forwardArg()) {
      ForwardArg fa;
      auto names = a->name();
      if (names.size() < 2) continue;
      fa.name = names[0]->getText();
      fa.loc = loc(names[0]);
      fa.dtype = names[1]->getText();
      fa.dtypeLoc = loc(names[1]);
      if (auto *l = a->exprList())
        for (auto *x : l->expr()) fa.shape.push_back(expr(x));
      n->args.push_back(std::move(fa));
    }
    if (c->stmtBlock()) stmts(c->stmtBlock(), n->body);
    return n;
  }

  void stmts(P::StmtBlockContext *b, std::vector<StmtPtr> &out) {
    for (auto *s : b->stmt()) {
      auto st = std::make_unique<Stmt>();
      st->loc = loc(s);
      if (auto *r = dynamic_cast<P::RepeatStmtContext *>(s)) {
        st->kind = Stmt::Kind::Repeat;
        st->var = nameText(r->name());
        st->varLoc = loc(r->name());
        st->count = expr(r->expr());
        if (r->stmtBlock()) stmts(r->stmtBlock(), st->body);
      } else if (auto *a = dynamic_cast<P::AssignStmtContext *>(s)) {
        st->kind = Stmt::Kind::Assign;
        st->target = nameText(a->name());
        st->targetLoc = loc(a->name());
        st->value = expr(a->expr());
      } else {
        continue;
      }
      out.push_back(std::move(st));
    }
  }

  EntryPtr procedure(P::ProcedureEntryContext *c) {
    auto n = std::make_unique<ProcedureEntry>();
    n->loc = loc(c);
    n->name = nameText(c->name());
    n->nameLoc = loc(c->name());
    // Flat statements first, then nesting from columns: a statement belongs to the closest open `for` whose column
    // is smaller than its own.
    std::vector<ProcStmt *> open; // open `for` statements, innermost last
    for (auto *s : c->procStmt()) {
      auto st = std::make_unique<ProcStmt>();
      st->loc = loc(s);
      if (auto *f = dynamic_cast<P::ProcForContext *>(s)) {
        st->kind = ProcStmt::Kind::For;
        st->var = nameText(f->name());
        st->varLoc = loc(f->name());
        st->range = expr(f->expr());
      } else if (auto *x = dynamic_cast<P::ProcExprOrAssignContext *>(s)) {
        auto xs = x->expr();
        if (xs.empty()) continue;
        if (x->assignOp() && xs.size() >= 2) {
          st->kind = ProcStmt::Kind::Assign;
          st->target = expr(xs[0]);
          st->op = x->assignOp()->getText();
          st->value = expr(xs[1]);
        } else {
          st->kind = ProcStmt::Kind::Expr;
          st->value = expr(xs[0]);
        }
      } else {
        continue;
      }
      while (!open.empty() && open.back()->loc.col >= st->loc.col) open.pop_back();
      ProcStmt *raw = st.get();
      if (open.empty()) n->body.push_back(std::move(st));
      else open.back()->body.push_back(std::move(st));
      if (raw->kind == ProcStmt::Kind::For) open.push_back(raw);
    }
    return n;
  }

  //===-- expressions ---------------------------------------------------------------------------------------------===//

  ExprPtr errorExpr(antlr4::ParserRuleContext *c) {
    // Only reachable after a syntax error was reported: keep the tree well-formed.
    auto n = std::make_unique<IdentExpr>();
    n->loc = loc(c);
    n->name = "<error>";
    return n;
  }

  template <class T> std::unique_ptr<T> binary(antlr4::ParserRuleContext *c, BinaryOp op, antlr4::Token *opTok,
                                               const std::vector<P::ExprContext *> &xs) {
    auto n = std::make_unique<BinaryExpr>();
    n->loc = loc(opTok);
    n->op = op;
    n->lhs = xs.size() > 0 ? expr(xs[0]) : errorExpr(c);
    n->rhs = xs.size() > 1 ? expr(xs[1]) : errorExpr(c);
    return n;
  }

  ExprPtr expr(P::ExprContext *c) {
    if (!c) return errorExpr(nullptr);
    if (auto *x = dynamic_cast<P::PrimaryExprContext *>(c)) return primary(x->primary());
    if (auto *x = dynamic_cast<P::MemberExprContext *>(c)) {
      auto n = std::make_unique<MemberExpr>();
      n->loc = loc(c);
      n->base = expr(x->expr());
      n->member = nameText(x->name());
      n->memberLoc = loc(x->name());
      return n;
    }
    if (auto *x = dynamic_cast<P::IndexExprContext *>(c)) {
      auto n = std::make_unique<IndexExpr>();
      n->loc = loc(c);
      n->base = expr(x->expr());
      if (auto *l = x->exprList())
        for (auto *i : l->expr()) n->indices.push_back(expr(i));
      return n;
    }
    if (auto *x = dynamic_cast<P::CallExprContext *>(c)) {
      auto n = std::make_unique<CallExpr>();
      n->loc = loc(c);
      ExprPtr callee = expr(x->expr());
      if (auto name = dottedName(*callee)) {
        n->callee = *name;
        n->calleeLoc = callee->loc;
        n->calleeLoc.length = uint32_t(name->size());
      } else {
        diags_.error(callee->loc, "only a name can be called");
        n->callee = "<error>";
        n->calleeLoc = callee->loc;
      }
      if (auto *args = x->callArgs()) {
        for (auto *a : args->callArg()) {
          if (auto *k = dynamic_cast<P::KeywordArgContext *>(a)) {
            KeywordArg ka;
            ka.name = nameText(k->name());
            ka.loc = loc(k->name());
            ka.value = expr(k->expr());
            ka.usedEquals = k->ASSIGN() != nullptr;
            n->kwargs.push_back(std::move(ka));
          } else if (auto *p = dynamic_cast<P::PositionalArgContext *>(a)) {
            if (!n->kwargs.empty())
              diags_.error(loc(p), "positional argument after a keyword argument");
            n->args.push_back(expr(p->expr()));
          }
        }
      }
      return n;
    }
    if (auto *x = dynamic_cast<P::CtorExprContext *>(c)) {
      auto n = std::make_unique<ConstructorExpr>();
      n->loc = loc(c);
      ExprPtr head = expr(x->expr());
      if (auto name = dottedName(*head)) {
        n->name = *name;
      } else {
        diags_.error(x->LBRACE() ? loc(x->LBRACE()) : loc(c), "unexpected '{' after an expression");
        n->name = "<error>";
      }
      mapEntries(x->mapEntries(), n->entries);
      return n;
    }
    if (auto *x = dynamic_cast<P::PowExprContext *>(c))
      return binary<BinaryExpr>(c, BinaryOp::Pow, x->POW() ? x->POW()->getSymbol() : c->getStart(), x->expr());
    if (auto *x = dynamic_cast<P::UnaryExprContext *>(c)) {
      auto n = std::make_unique<UnaryExpr>();
      n->loc = loc(c);
      size_t t = x->op ? x->op->getType() : size_t(P::MINUS);
      n->op = t == P::MINUS ? UnaryOp::Neg : t == P::PLUS ? UnaryOp::Plus : UnaryOp::Not;
      n->operand = expr(x->expr());
      return n;
    }
    if (auto *x = dynamic_cast<P::MulExprContext *>(c)) {
      size_t t = x->op ? x->op->getType() : size_t(P::STAR);
      BinaryOp op = t == P::STAR ? BinaryOp::Mul : t == P::SLASH ? BinaryOp::Div
                    : t == P::PERCENT ? BinaryOp::Mod : BinaryOp::MatMul;
      return binary<BinaryExpr>(c, op, x->op ? x->op : c->getStart(), x->expr());
    }
    if (auto *x = dynamic_cast<P::AddExprContext *>(c)) {
      size_t t = x->op ? x->op->getType() : size_t(P::PLUS);
      return binary<BinaryExpr>(c, t == P::PLUS ? BinaryOp::Add : BinaryOp::Sub, x->op ? x->op : c->getStart(),
                                x->expr());
    }
    if (auto *x = dynamic_cast<P::RangeExprContext *>(c)) {
      auto n = std::make_unique<RangeExpr>();
      n->loc = loc(c);
      auto xs = x->expr();
      n->lo = xs.size() > 0 ? expr(xs[0]) : errorExpr(c);
      n->hi = xs.size() > 1 ? expr(xs[1]) : errorExpr(c);
      return n;
    }
    if (auto *x = dynamic_cast<P::RelExprContext *>(c)) {
      size_t t = x->op ? x->op->getType() : size_t(P::LT);
      BinaryOp op = t == P::LT ? BinaryOp::Lt : t == P::LE ? BinaryOp::Le : t == P::GT ? BinaryOp::Gt : BinaryOp::Ge;
      return binary<BinaryExpr>(c, op, x->op ? x->op : c->getStart(), x->expr());
    }
    if (auto *x = dynamic_cast<P::EqExprContext *>(c)) {
      size_t t = x->op ? x->op->getType() : size_t(P::EQ);
      return binary<BinaryExpr>(c, t == P::EQ ? BinaryOp::Eq : BinaryOp::Ne, x->op ? x->op : c->getStart(),
                                x->expr());
    }
    if (auto *x = dynamic_cast<P::AltExprContext *>(c))
      return binary<BinaryExpr>(c, BinaryOp::Alt, x->BAR() ? x->BAR()->getSymbol() : c->getStart(), x->expr());
    if (auto *x = dynamic_cast<P::AndExprContext *>(c))
      return binary<BinaryExpr>(c, BinaryOp::And, x->AND() ? x->AND()->getSymbol() : c->getStart(), x->expr());
    if (auto *x = dynamic_cast<P::OrExprContext *>(c))
      return binary<BinaryExpr>(c, BinaryOp::Or, x->OR() ? x->OR()->getSymbol() : c->getStart(), x->expr());
    return errorExpr(c);
  }

  void mapEntries(P::MapEntriesContext *c, std::vector<MapEntry> &out) {
    if (!c) return;
    for (auto *m : c->mapEntry()) {
      MapEntry me;
      if (m->STRING()) {
        me.key = decodeString(m->STRING()->getText());
        me.keyLoc = loc(m->STRING());
      } else {
        me.key = nameText(m->name());
        me.keyLoc = loc(m->name());
      }
      me.value = expr(m->expr());
      out.push_back(std::move(me));
    }
  }

  ExprPtr primary(P::PrimaryContext *c) {
    if (!c) return errorExpr(nullptr);
    if (auto *x = dynamic_cast<P::NumberLitContext *>(c)) {
      auto n = std::make_unique<NumberExpr>();
      n->loc = loc(c);
      n->text = x->getText();
      n->value = std::strtod(n->text.c_str(), nullptr);
      bool intLike = n->text.find_first_of(".eE") == std::string::npos;
      if (intLike) {
        int64_t v = 0;
        auto r = std::from_chars(n->text.data(), n->text.data() + n->text.size(), v);
        if (r.ec == std::errc() && r.ptr == n->text.data() + n->text.size()) {
          n->isInteger = true;
          n->intValue = v;
        }
      }
      return n;
    }
    if (auto *x = dynamic_cast<P::StringLitContext *>(c)) {
      auto n = std::make_unique<StringExpr>();
      n->loc = loc(c);
      n->value = decodeString(x->getText());
      return n;
    }
    if (auto *x = dynamic_cast<P::BoolLitContext *>(c)) {
      auto n = std::make_unique<BoolExpr>();
      n->loc = loc(c);
      n->value = x->TRUE() != nullptr;
      return n;
    }
    if (auto *x = dynamic_cast<P::NameRefContext *>(c)) {
      auto n = std::make_unique<IdentExpr>();
      n->loc = loc(c);
      n->name = nameText(x->name());
      return n;
    }
    if (auto *x = dynamic_cast<P::ParenExprContext *>(c)) return expr(x->expr());
    if (auto *x = dynamic_cast<P::ListLitContext *>(c)) {
      auto n = std::make_unique<ListExpr>();
      n->loc = loc(c);
      if (auto *l = x->exprList())
        for (auto *e : l->expr()) n->elements.push_back(expr(e));
      return n;
    }
    if (auto *x = dynamic_cast<P::MapLitContext *>(c)) {
      auto n = std::make_unique<MapExpr>();
      n->loc = loc(c);
      mapEntries(x->mapEntries(), n->entries);
      return n;
    }
    return errorExpr(c);
  }
};

} // namespace

std::unique_ptr<File> parseFile(const std::string &path, std::string textIn, DiagnosticEngine &diags) {
  const std::string &text = diags.sourceManager().add(path, std::move(textIn));
  try {
    antlr4::ANTLRInputStream input(text);
    SpakLexer lexer(&input);
    lexer.removeErrorListeners();
    std::vector<std::unique_ptr<antlr4::Token>> all = lexer.getAllTokens();
    std::vector<std::unique_ptr<antlr4::Token>> tokens;
    bool unclosedAtEOF = false;
    if (!filterTokens(unclosedAtEOF, all, tokens, path, text, diags)) return nullptr;

    antlr4::ListTokenSource source(std::move(tokens));
    antlr4::CommonTokenStream stream(&source);
    SpakParser parser(&stream);
    parser.nestingLimit = kMaxNestingDepth;
    ErrorListener listener(path, diags);
    listener.ignoreEOF = unclosedAtEOF; // already reported as "expected '}' at end of file"
    auto *interp = parser.getInterpreter<antlr4::atn::ParserATNSimulator>();
    P::FileContext *tree = nullptr;
    try {
      // Two-stage parse (the standard ANTLR recipe): fast SLL prediction with a bail-out strategy first; only if
      // that fails (a syntax error, or an input SLL cannot decide) reparse with full LL, recovery and reporting.
      // SLL is ~10x faster here: the generic entry forms (property/block/directive) share long prefixes.
      parser.removeErrorListeners();
      parser.setErrorHandler(std::make_shared<antlr4::BailErrorStrategy>());
      interp->setPredictionMode(antlr4::atn::PredictionMode::SLL);
      try {
        tree = parser.file();
      } catch (const antlr4::ParseCancellationException &) {
        parser.reset();
        parser.addErrorListener(&listener);
        parser.setErrorHandler(std::make_shared<ErrorStrategy>());
        interp->setPredictionMode(antlr4::atn::PredictionMode::LL);
        tree = parser.file();
      }
    } catch (const P::NestingTooDeep &e) {
      diags.error(tokenLoc(path, e.token), fmt::format("nesting too deep (more than {} levels)", kMaxNestingDepth));
      return nullptr;
    }
    Builder builder(path, diags);
    return builder.buildFile(tree);
  } catch (const std::exception &e) {
    diags.error(SourceLoc{path, 0, 0, 0}, std::string("internal parser error: ") + e.what());
  } catch (...) {
    diags.error(SourceLoc{path, 0, 0, 0}, "internal parser error");
  }
  return nullptr;
}

} // namespace spak::dsl
