// Unit tests of the DSL lexer/parser and AST construction (spak::dsl::parseFile).
#include "Helpers.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace spak::dsl;

namespace {
const Expr *propValue(const File &f, size_t decl, size_t entry) {
  auto &e = f.decls.at(decl)->entries.at(entry);
  auto *p = e->as<PropertyEntry>();
  REQUIRE(p);
  return p->value.get();
}
} // namespace

TEST_CASE("numbers keep their text, value and integer-ness", "[parser]") {
  Fixture fx;
  auto f = fx.parse("system S { a: 42  b: 0.08  c: 1e-8  d: -1e20  e: 99999999999999999999 f: 0.0000e+00 }");
  REQUIRE(f);
  CHECK(fx.diags.errorCount() == 0);
  auto *a = propValue(*f, 0, 0)->as<NumberExpr>();
  REQUIRE(a);
  CHECK(a->isInteger);
  CHECK(a->intValue == 42);
  auto *b = propValue(*f, 0, 1)->as<NumberExpr>();
  CHECK_FALSE(b->isInteger);
  CHECK(b->value == Approx(0.08));
  CHECK(b->text == "0.08");
  CHECK(propValue(*f, 0, 2)->as<NumberExpr>()->value == Approx(1e-8));
  auto *d = propValue(*f, 0, 3)->as<UnaryExpr>();
  REQUIRE(d);
  CHECK(d->op == UnaryOp::Neg);
  CHECK(d->operand->as<NumberExpr>()->text == "1e20");
  auto *e = propValue(*f, 0, 4)->as<NumberExpr>();
  CHECK_FALSE(e->isInteger); // does not fit int64: a double
  CHECK(propValue(*f, 0, 5)->as<NumberExpr>()->value == 0.0);
}

TEST_CASE("ranges are not mistaken for real numbers", "[parser]") {
  Fixture fx;
  auto f = fx.parse("system S { kernel K { procedure p:\n for k in 0..n-1:\n  x = 1\n } }");
  REQUIRE(f);
  CHECK(fx.diags.errorCount() == 0);
  auto *k = f->decls[0]->entries[0]->as<BlockEntry>();
  auto *p = k->entries[0]->as<ProcedureEntry>();
  REQUIRE(p);
  REQUIRE(p->body.size() == 1);
  CHECK(p->body[0]->kind == ProcStmt::Kind::For);
  auto *r = p->body[0]->range->as<RangeExpr>();
  REQUIRE(r);
  CHECK(r->lo->as<NumberExpr>()->intValue == 0);
  CHECK(r->hi->as<BinaryExpr>()->op == BinaryOp::Sub);
  CHECK(p->body[0]->body.size() == 1); // `x = 1` is indented under the for
}

TEST_CASE("strings decode escapes, both quote styles", "[parser]") {
  Fixture fx;
  auto f = fx.parse(R"(system S { a: "q\"x\n\t\\"  b: 'single \' q' })");
  REQUIRE(f);
  CHECK(fx.diags.errorCount() == 0);
  CHECK(propValue(*f, 0, 0)->as<StringExpr>()->value == "q\"x\n\t\\");
  CHECK(propValue(*f, 0, 1)->as<StringExpr>()->value == "single ' q");
}

TEST_CASE("comments of all three kinds are ignored", "[parser]") {
  Fixture fx;
  auto f = fx.parse("// line\n# hash\n/* block\n spanning */ system S { /* inline */ a: 1 # tail\n b: 2 // tail\n }");
  REQUIRE(f);
  CHECK(fx.diags.errorCount() == 0);
  CHECK(f->decls[0]->entries.size() == 2);
}

TEST_CASE("front matter values are verbatim, with locations", "[parser]") {
  Fixture fx;
  auto f = fx.parse("---\ntitle: \"T\"\nextraction-date: 2026-02-13\ntags: [A, B]\n---\nsystem S { }\n");
  REQUIRE(f);
  CHECK(fx.diags.errorCount() == 0);
  REQUIRE(f->hasFrontMatter);
  REQUIRE(f->frontMatter.size() == 3);
  CHECK(f->frontMatter[0].value == "\"T\"");
  CHECK(f->frontMatter[1].key == "extraction-date");
  CHECK(f->frontMatter[1].value == "2026-02-13");
  CHECK(f->frontMatter[2].value == "[A, B]");
  CHECK(f->frontMatter[2].keyLoc.line == 4);
  CHECK(f->decls[0]->loc.line == 6);
}

TEST_CASE("a dashed line later in the file is not front matter", "[parser]") {
  Fixture fx;
  auto f = fx.parse("system S { }\n---\nx: 1\n---\n");
  CHECK(fx.diags.errorCount() > 0);
}

TEST_CASE("keywords are soft and usable as keys and names", "[parser]") {
  Fixture fx;
  auto f = fx.parse("system rules { rule: 1 state: 2 param: 3 in: 4 for: 5 as: 6 repeat: 7 target: 8 import: 9 }");
  REQUIRE(f);
  CHECK(fx.errors() == "");
  CHECK(f->decls[0]->name == "rules");
  CHECK(f->decls[0]->entries.size() == 9);
}

TEST_CASE("entries separate by newline, space or comma and directives end at newlines", "[parser]") {
  Fixture fx;
  auto f = fx.parse("system S { build {\n artifact \"a.md\"\n artifact \"b.md\" { x: 1 }\n }\n t { a: 1, b: 2 c: 3 } }");
  REQUIRE(f);
  CHECK(fx.errors() == "");
  auto *build = f->decls[0]->entries[0]->as<BlockEntry>();
  REQUIRE(build->entries.size() == 2);
  CHECK(build->entries[0]->is<DirectiveEntry>());
  CHECK(build->entries[1]->is<BlockEntry>());
  CHECK(f->decls[0]->entries[1]->as<BlockEntry>()->entries.size() == 3);
}

TEST_CASE("nested blocks, maps, constructors and calls", "[parser]") {
  Fixture fx;
  auto f = fx.parse("system S { train { optimizer: adam { lr: 0.01, beta1: 0.9 } data: documents(\"x\", bos: true, "
                    "n = 2) d: { a: { b: [1, 2] } } } }");
  REQUIRE(f);
  CHECK(fx.errors() == "");
  auto *sys = f->decls[0]->as<SystemDecl>();
  REQUIRE(sys->train);
  auto *opt = sys->train->entries[0]->as<PropertyEntry>()->value->as<ConstructorExpr>();
  REQUIRE(opt);
  CHECK(opt->name == "adam");
  CHECK(opt->entries.size() == 2);
  auto *data = sys->train->entries[1]->as<PropertyEntry>()->value->as<CallExpr>();
  REQUIRE(data);
  CHECK(data->callee == "documents");
  CHECK(data->args.size() == 1);
  REQUIRE(data->kwargs.size() == 2);
  CHECK_FALSE(data->kwargs[0].usedEquals);
  CHECK(data->kwargs[1].usedEquals);
  auto *m = sys->train->entries[2]->as<PropertyEntry>()->value->as<MapExpr>();
  REQUIRE(m);
  CHECK(m->find("a")->value->as<MapExpr>()->find("b")->value->is<ListExpr>());
}

TEST_CASE("operator precedence", "[parser]") {
  Fixture fx;
  auto f = fx.parse("system S { a: 1 + 2 * 3 ** 2  b: -x ** 2  c: p == q && r || s  d: \"A\" | \"B\" | \"C\" }");
  REQUIRE(f);
  CHECK(fx.errors() == "");
  auto *a = propValue(*f, 0, 0)->as<BinaryExpr>();
  CHECK(a->op == BinaryOp::Add);
  CHECK(a->rhs->as<BinaryExpr>()->op == BinaryOp::Mul);
  CHECK(a->rhs->as<BinaryExpr>()->rhs->as<BinaryExpr>()->op == BinaryOp::Pow);
  auto *b = propValue(*f, 0, 1)->as<UnaryExpr>();
  REQUIRE(b); // -(x ** 2)
  CHECK(b->operand->as<BinaryExpr>()->op == BinaryOp::Pow);
  CHECK(propValue(*f, 0, 2)->as<BinaryExpr>()->op == BinaryOp::Or);
  CHECK(propValue(*f, 0, 3)->as<BinaryExpr>()->op == BinaryOp::Alt);
}

TEST_CASE("model language params, groups and forward with repeat", "[parser]") {
  Fixture fx;
  auto f = fx.parse(R"(system S { model GPT {
    config { n: 4 }
    param ln_f.weight[n] ~ ones as "transformer.ln_f.weight"
    group h[2] as "transformer.h.{i}." { param ln_1.weight[n] ~ ones  param w[n, n] ~ normal(0, 0.02) }
    forward(tokens: i32[T], targets: i32[T]) {
      x = embed(w, tokens); repeat i in 2 { x = x + linear(x, h[i].w) }
      loss = cross_entropy(x, targets)
    }
  } })");
  REQUIRE(f);
  CHECK(fx.errors() == "");
  auto *sys = f->decls[0]->as<SystemDecl>();
  REQUIRE(sys->model);
  const ModelDecl &m = *sys->model;
  CHECK(m.name == "GPT");
  REQUIRE(m.config);
  CHECK(m.configEntries.size() == 1);
  REQUIRE(m.params.size() == 1);
  CHECK(m.params[0]->name == "ln_f.weight");
  CHECK(m.params[0]->exportName == "transformer.ln_f.weight");
  REQUIRE(m.groups.size() == 1);
  CHECK(m.groups[0]->exportPrefix == "transformer.h.{i}.");
  CHECK(m.groups[0]->params.size() == 2);
  REQUIRE(m.forward);
  CHECK(m.forward->args.size() == 2);
  CHECK(m.forward->args[0].dtype == "i32");
  REQUIRE(m.forward->body.size() == 3);
  CHECK(m.forward->body[1]->kind == Stmt::Kind::Repeat);
  CHECK(m.forward->body[1]->body.size() == 1);
}

TEST_CASE("every node has a location", "[parser]") {
  Fixture fx;
  auto f = fx.parse("system S {\n  rule \"R\" { when: a == b }\n}");
  REQUIRE(f);
  auto *r = f->decls[0]->entries[0]->as<RuleEntry>();
  REQUIRE(r);
  CHECK(r->loc.line == 2);
  CHECK(r->loc.col == 3);
  CHECK(r->nameLoc.col == 8);
  REQUIRE(r->when);
  CHECK(r->when->value->loc.line == 2);
  CHECK(r->when->value->loc.col == 22); // the operator
  CHECK(r->loc.file == "test.dsl");
}

TEST_CASE("syntax errors are reported with locations and the parser recovers", "[parser]") {
  Fixture fx;
  auto f = fx.parse("system S {\n  a: 1)\n  b: \n}\nsystem T { c: ] }\n");
  CHECK(fx.diags.errorCount() >= 2);
  CHECK(fx.hasError("2:7: unexpected ')'"));
}

TEST_CASE("lexical errors", "[parser]") {
  Fixture fx;
  fx.parse("system S { a: \"open\n b: $ c: /* never closed");
  CHECK(fx.hasError("1:15: unterminated string literal"));
  CHECK(fx.hasError("2:5: invalid character '$'"));
  CHECK(fx.hasError("2:10: unterminated /* comment"));
}

TEST_CASE("deep nesting is an error, not a crash", "[parser]") {
  Fixture fx;
  std::string deep = "system S { a: " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }";
  fx.parse(deep);
  CHECK(fx.hasError("nesting too deep"));
  Fixture fx2;
  std::string blocks;
  for (int i = 0; i < 3000; ++i) blocks += "b { ";
  fx2.parse("system S { " + blocks);
  CHECK(fx2.diags.hasErrors());
  Fixture fx3;
  fx3.parse("system S { a: " + std::string(20000, '-') + "1 }");
  CHECK(fx3.hasError("nesting too deep"));
}

TEST_CASE("all shared seed files and the repo's examples/rules parse without errors", "[parser][seeds]") {
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  for (const auto &e : fs::directory_iterator(fs::path(SPAK_SHARED_DIR) / "spak-examples"))
    if (e.path().extension() == ".dsl") files.push_back(e.path());
  CHECK(files.size() == 8);
  files.push_back(fs::path(SPAK_SOURCE_DIR) / "examples/microgpt/microgpt.dsl");
  for (const auto &e : fs::recursive_directory_iterator(fs::path(SPAK_SOURCE_DIR) / "rules"))
    if (e.path().extension() == ".dsl") files.push_back(e.path());
  for (const auto &p : files) {
    INFO(p.string());
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    Fixture fx;
    auto f = fx.parse(ss.str(), p.string());
    REQUIRE(f);
    CHECK(fx.errors() == "");
    CHECK_FALSE(f->decls.empty());
    std::ostringstream dump;
    dumpAST(*f, dump);
    CHECK(dump.str().size() > 100);
  }
}
