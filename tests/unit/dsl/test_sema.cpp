// Unit tests of Sema and loadProgram: config evaluation, parameter expansion and export names, shapes,
// duplicates, forward-graph names and op arities, imports and cycles, target selection, rules, train settings.
#include "Helpers.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>

using namespace spak::dsl;
namespace fs = std::filesystem;

namespace {
const char *kMicro = R"(
import "targets/sm90_h100.dsl"
import "fusion.dsl"
system M {
  model GPT {
    config { vocab: 27, n_embd: 16, n_head: 4, n_layer: 2, block_size: 16, head_dim: n_embd / n_head, std: 0.08 }
    param wte[vocab, n_embd] ~ normal(0, std)
    param lm_head[vocab, n_embd] ~ normal(0, std / sqrt(2 * n_layer))
    group layer[n_layer] as "layer{i}." {
      param attn_wq[n_embd, n_embd] ~ normal(0, std)
      param mlp_fc1[4 * n_embd, n_embd] ~ uniform(-1, 1)
    }
    forward(tokens: i32[T], targets: i32[T]) {
      x = rmsnorm(embed(wte, tokens), eps: 1e-5)
      repeat i in n_layer { x = x + linear(relu(linear(x, layer[i].mlp_fc1)), layer[i].attn_wq) }
      loss = cross_entropy(linear(x, lm_head), targets)
    }
  }
  train { data: documents("names.txt", bos: true)  steps: 100  seq_len: block_size
          optimizer: adam { lr: 0.01 }  schedule: linear_decay  sample { count: 3 } }
}
)";

struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("spak_dsl_test_" + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string write(const std::string &name, const std::string &text) {
    fs::path p = path / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
};
} // namespace

TEST_CASE("a complete model resolves config, params, export names, target, rules and train", "[sema]") {
  Fixture fx;
  auto prog = fx.load(kMicro);
  REQUIRE(prog);
  CHECK(fx.errors() == "");
  REQUIRE(prog->config.size() == 7);
  CHECK(prog->findConfig("head_dim")->value.isInteger);
  CHECK(prog->findConfig("head_dim")->value.i == 4);
  CHECK_FALSE(prog->findConfig("std")->value.isInteger);
  // 2 top-level + 2 layers x 2 params, groups expanded index by index
  REQUIRE(prog->params.size() == 6);
  CHECK(prog->params[0].exportName == "wte");
  CHECK(prog->params[2].exportName == "layer0.attn_wq");
  CHECK(prog->params[3].exportName == "layer0.mlp_fc1");
  CHECK(prog->params[5].exportName == "layer1.mlp_fc1");
  CHECK(prog->params[5].shape == std::vector<int64_t>{64, 16});
  CHECK(prog->params[5].numel == 1024);
  CHECK(prog->params[5].init.kind == InitSpec::Kind::Uniform);
  CHECK(prog->params[1].init.b == Approx(0.04));
  CHECK(prog->params[4].groupIndex == 1);
  // target from the import, laws with origins
  REQUIRE(prog->hasTarget);
  CHECK(prog->target.name == "sm_90");
  CHECK(prog->target.arch == "sm_90a");
  REQUIRE(prog->target.law("tile_m"));
  CHECK(prog->target.law("tile_m")->value.i == 64);
  CHECK(prog->target.law("tile_m")->origin.file.find("sm90_h100.dsl") != std::string::npos);
  CHECK(prog->target.law("tile_m")->origin.line > 0);
  CHECK_FALSE(prog->target.stabilityFloorIsDefault);
  CHECK(prog->target.stabilityFloor == -1e20);
  // rules from fusion.dsl
  CHECK(prog->rules.size() >= 5);
  CHECK(prog->rules[0].name == "Fuse RMSNorm");
  CHECK(prog->rules[0].priority == 10);
  CHECK(prog->rules[0].library == "Fusion");
  // train
  REQUIRE(prog->train.present);
  CHECK(prog->train.getInt("steps", 0) == 100);
  CHECK(prog->train.getInt("seq_len", 0) == 16); // resolved through config
  const SettingValue *opt = prog->train.find("optimizer");
  REQUIRE(opt);
  CHECK(opt->kind == SettingValue::Kind::Call);
  CHECK(opt->s == "adam");
  CHECK(opt->kwarg("lr")->asDouble() == Approx(0.01));
  CHECK(prog->train.find("schedule")->s == "linear_decay");
  CHECK(prog->train.find("sample")->kwarg("count")->i == 3);
  CHECK(prog->train.find("data")->args[0].s == "names.txt");
}

TEST_CASE("lookupParam resolves forward references with loop variables", "[sema]") {
  Fixture fx;
  auto prog = fx.load(kMicro);
  REQUIRE(prog);
  const ForwardDecl &fw = *prog->model->forward;
  // repeat i { x = x + linear(relu(linear(x, layer[i].mlp_fc1)), layer[i].attn_wq) }
  const Stmt &rep = *fw.body[1];
  const auto *add = rep.body[0]->value->as<BinaryExpr>();
  const auto *outer = add->rhs->as<CallExpr>();
  const Expr &ref = *outer->args[1];
  const ParamInstance *p = prog->lookupParam(ref, {{"i", 1}});
  REQUIRE(p);
  CHECK(p->exportName == "layer1.attn_wq");
  CHECK(prog->lookupParam(ref, {{"i", 7}}) == nullptr);
  auto *c = fw.body[0]->value->as<CallExpr>()->args[0]->as<CallExpr>();
  CHECK(prog->lookupParam(*c->args[0])->exportName == "wte");
}

TEST_CASE("stability floor defaults to -1e20 and says so", "[sema]") {
  Fixture fx;
  auto prog = fx.load("target t \"X\" { law tile_m = 32 }\nsystem S { }");
  REQUIRE(prog);
  CHECK(fx.errors() == "");
  REQUIRE(prog->hasTarget);
  CHECK(prog->target.stabilityFloorIsDefault);
  CHECK(prog->target.stabilityFloor == -1e20);
  CHECK_FALSE(prog->target.stabilityFloorOrigin.valid());
}

TEST_CASE("the target option overrides the imported target and unknown targets are errors", "[sema][target]") {
  {
    Fixture fx;
    LoadOptions o;
    o.target = "sm_120";
    auto prog = fx.load(kMicro, o);
    REQUIRE(prog);
    CHECK(fx.errors() == "");
    CHECK(prog->target.name == "sm_120");
    CHECK(prog->target.law("tile_n")->value.i == 64);
  }
  {
    Fixture fx;
    LoadOptions o;
    o.target = "sm_999";
    fx.load(kMicro, o);
    CHECK(fx.hasError("unknown target 'sm_999'"));
    CHECK(fx.hasError("sm_120"));
  }
  {
    Fixture fx;
    fx.load("import \"targets/sm90_h100.dsl\"\nimport \"targets/sm120_rtx5070.dsl\"\nsystem S { }");
    CHECK(fx.hasError("2:8: conflicting targets: 'sm_120'"));
  }
}

TEST_CASE("config values are checked for order, exact division, overflow and unknown names", "[sema]") {
  Fixture fx;
  fx.load("system S { model M { config { a: b  b: 4  c: 7 / 2  d: 9223372036854775807 + 1  e: 1 / 0 } "
          "forward(x: f32[T]) { loss = x } } }");
  CHECK(fx.hasError("use of undeclared name 'b'"));
  CHECK(fx.hasError("division is not exact: 7 / 2"));
  CHECK(fx.hasError("integer overflow"));
  CHECK(fx.hasError("division by zero"));
}

TEST_CASE("shapes, duplicates and initializers", "[sema]") {
  Fixture fx;
  fx.load(R"(system S { model M {
    config { n: 4, n: 5 }
    param a[n, 0] ~ zeros
    param b[n / 2.0] ~ ones
    param c[n] ~ normal(0)
    param c[n] ~ ones
    param d[n] ~ uniform(2, 1)
    group g[0] { param w[n] ~ ones }
    forward(x: f32[T]) { loss = x } } })");
  CHECK(fx.hasError("redefinition of config value 'n'"));
  CHECK(fx.hasError("shape dimension must be positive, got 0"));
  CHECK(fx.hasError("shape dimension must be an integer, got 2.0"));
  CHECK(fx.hasError("'normal' expects 2 arguments (mean, std), got 1"));
  CHECK(fx.hasError("redefinition of parameter 'c'"));
  CHECK(fx.hasError("uniform range is empty"));
  CHECK(fx.hasError("group size must be positive, got 0"));
  // the redefinition carries a note
  bool note = false;
  for (const auto &d : fx.diags.diagnostics()) note |= d.severity == Severity::Note && d.message == "previous definition is here";
  CHECK(note);
}

TEST_CASE("forward names, op arities, keyword args and loss are checked", "[sema]") {
  Fixture fx;
  fx.load(R"(system S { model M {
    config { n: 4 }
    param w[n, n] ~ ones
    group layer[1] { param q[n, n] ~ ones }
    forward(x: f32[T, n]) {
      a = embed(w)
      b = linear(x, w, w, w)
      c = layernorm(x, w)
      d = attention(x, x, x, heads: n, causal: true, window: 3)
      e = frobnicate(x)
      f = linear(x, layer[0].k)
      g = linear(x, layer[1].q)
      h = undefined_thing + x
      i = split(x, 2, axis: 1)
      j = softmax(x, x)
    } } })");
  CHECK(fx.hasError("'embed' expects 2 arguments, got 1"));
  CHECK(fx.hasError("'linear' expects 2 or 3 arguments, got 4"));
  CHECK(fx.hasError("'layernorm' expects 3 arguments, got 2"));
  CHECK(fx.hasError("unknown keyword argument 'window' for 'attention' (expected heads, causal)"));
  CHECK(fx.hasError("unknown op 'frobnicate'"));
  CHECK(fx.hasError("group 'layer' has no parameter 'k'"));
  CHECK(fx.hasError("group index 1 is out of range"));
  CHECK(fx.hasError("use of undeclared name 'undefined_thing'"));
  CHECK(fx.hasError("'softmax' expects 1 argument, got 2"));
  CHECK(fx.hasError("forward does not assign 'loss'"));
  CHECK_FALSE(fx.hasError("split"));
}

TEST_CASE("every op in the table is accepted at its arity", "[sema]") {
  for (const auto &op : forwardOps()) {
    for (unsigned n = op.minArgs; n <= op.maxArgs; ++n) {
      Fixture fx;
      std::string args;
      for (unsigned k = 0; k < n; ++k) args += k ? ", x" : "x";
      fx.load("system S { model M { config { n: 4 } forward(x: f32[T, n]) { loss = " + std::string(op.name) + "(" +
              args + ") } } }");
      INFO(op.name << " with " << n << " args");
      CHECK(fx.errors() == "");
    }
  }
}

TEST_CASE("imports resolve relative first then against the rules dir and cycles report the chain", "[sema][imports]") {
  TempDir dir;
  dir.write("lib/local.dsl", "rules Local { rule \"L\" { when: a  apply: b } }");
  dir.write("a.dsl", "import \"b.dsl\"\n");
  dir.write("b.dsl", "import \"c.dsl\"\n");
  dir.write("c.dsl", "import \"a.dsl\"\n");
  std::string main = dir.write("main.dsl", "import \"lib/local.dsl\"\nimport \"fusion.dsl\"\nimport \"a.dsl\"\nsystem S { }");
  Fixture fx;
  LoadOptions o;
  o.rulesDir = std::string(SPAK_SOURCE_DIR) + "/rules";
  auto prog = loadProgram(main, o, fx.diags);
  REQUIRE(prog);
  CHECK(fx.hasError("import cycle: a.dsl -> b.dsl -> c.dsl -> a.dsl"));
  CHECK(prog->imports.size() == 5); // local, fusion, a, b, c
  REQUIRE(prog->rules.size() >= 2);
  CHECK(prog->rules[0].name == "L"); // import order
}

TEST_CASE("diamond imports load once and missing files are reported", "[sema][imports]") {
  TempDir dir;
  dir.write("shared.dsl", "rules Shared { rule \"S\" { when: a  apply: b } }");
  dir.write("x.dsl", "import \"shared.dsl\"");
  dir.write("y.dsl", "import \"shared.dsl\"");
  std::string main = dir.write("main.dsl", "import \"x.dsl\"\nimport \"y.dsl\"\nimport \"nope.dsl\"\nsystem S { }");
  Fixture fx;
  auto prog = loadProgram(main, LoadOptions{}, fx.diags);
  REQUIRE(prog);
  CHECK(prog->imports.size() == 3);
  CHECK(prog->rules.size() == 1);
  CHECK(fx.hasError("3:8: cannot find import 'nope.dsl'"));
  Fixture fx2;
  CHECK(loadProgram((dir.path / "missing.dsl").string(), LoadOptions{}, fx2.diags) == nullptr);
  CHECK(fx2.hasError("no such file"));
}

TEST_CASE("unused blocks draw exactly one warning each", "[sema]") {
  Fixture fx;
  auto prog = fx.load("system S { baseline { a: 1 b { c: 2 } }  build { artifact \"x\" } model { type T { } state s: 1 } }");
  REQUIRE(prog);
  CHECK(fx.errors() == "");
  std::vector<std::string> warnings;
  for (const auto &d : fx.diags.diagnostics())
    if (d.severity == Severity::Warning) warnings.push_back(d.message);
  REQUIRE(warnings.size() == 4);
  CHECK(warnings[0] == "block 'baseline' is not used by the compiler; kept in the AST");
  CHECK(warnings[1] == "block 'build' is not used by the compiler; kept in the AST");
  CHECK(warnings[2] == "block 'type T' in model is not used by the compiler; kept in the AST");
  CHECK(warnings[3] == "state 's' in model is not used by the compiler; kept in the AST");
}

TEST_CASE("the diagnostic format is clang's", "[diagnostics]") {
  SourceManager sm;
  DiagnosticEngine diags(sm);
  sm.add("f.dsl", "line one\n  bad token here\n");
  diags.error(SourceLoc{"f.dsl", 2, 3, 3}, "oops");
  diags.warning(SourceLoc{"f.dsl", 1, 1, 0}, "hmm");
  CHECK(diags.format(diags.diagnostics()[0]) == "f.dsl:2:3: error: oops\n  bad token here\n  ^~~\n");
  CHECK(diags.summary() == "1 error, 1 warning generated.");
  diags.setColors(true);
  CHECK(diags.format(diags.diagnostics()[0]).find("\033[") != std::string::npos);
}

TEST_CASE("all seed files load (parse + Sema) with warnings only", "[sema][seeds]") {
  for (const auto &e : fs::directory_iterator(fs::path(SPAK_SHARED_DIR) / "spak-examples")) {
    if (e.path().extension() != ".dsl") continue;
    INFO(e.path().string());
    Fixture fx;
    LoadOptions o;
    o.rulesDir = std::string(SPAK_SOURCE_DIR) + "/rules";
    auto prog = loadProgram(e.path().string(), o, fx.diags);
    REQUIRE(prog);
    CHECK(fx.errors() == "");
    CHECK(prog->system);
  }
}
