// test_conflicts.cpp — Sema's rule conflicts (docs/rules.md "Conflicts"): the same apply at two priorities, enabled
// by one rule and disabled by another, one rule name in two libraries; exact repeats are warnings; rules that apply
// different fusions, or that are both disabled, do not conflict.
#include "spak/dsl/Sema.h"

#include <catch2/catch.hpp>

using namespace spak::dsl;

namespace {

struct Loaded {
  SourceManager sm;
  DiagnosticEngine diags{sm};
  std::unique_ptr<Program> prog;
  explicit Loaded(const std::string &text) {
    LoadOptions opts;
    opts.rulesDir = std::string(SPAK_SOURCE_DIR) + "/rules";
    opts.warnUnused = false;
    prog = loadProgramFromString(std::string(SPAK_SOURCE_DIR) + "/t/rules.dsl", text, opts, diags);
  }
  /// "severity line:col message" of every diagnostic, one per line.
  std::string all() const {
    std::string s;
    for (const auto &d : diags.diagnostics())
      s += std::string(d.severity == Severity::Error ? "error" : d.severity == Severity::Warning ? "warning" : "note") +
           " " + std::to_string(d.loc.line) + ":" + std::to_string(d.loc.col) + " " + d.message + "\n";
    return s;
  }
};

std::string rule(const std::string &name, const std::string &apply, int priority, bool enabled = true) {
  return "  rule \"" + name + "\" {\n    when: op == x\n    apply: " + apply + "\n    priority: " +
         std::to_string(priority) + "\n" + (enabled ? "" : "    enabled: false\n") + "  }\n";
}

} // namespace

TEST_CASE("the same apply at two priorities is an error at the second rule, noting the first", "[rules][conflict]") {
  Loaded l("rules A {\n" + rule("One", "fuse_norm_into_linear", 10) + "}\nrules B {\n" +
           rule("Two", "fuse_norm_into_linear", 15) + "}\n");
  INFO(l.all());
  CHECK(l.diags.hasErrors());
  CHECK(l.all() == "error 9:8 conflicting rules: 'Two' applies 'fuse_norm_into_linear' at priority 15, but 'One' "
                   "applies it at priority 10\nnote 2:8 previous definition is here\n");
}

TEST_CASE("apply spellings are compared without whitespace and quotes", "[rules][conflict]") {
  Loaded l("rules A {\n" + rule("One", "epilogue(bias, gelu)", 20) + "}\nrules B {\n" +
           rule("Two", "epilogue(bias,gelu)", 20, /*enabled=*/false) + "}\n");
  INFO(l.all());
  CHECK(l.all().find("error 9:8 conflicting rules: 'Two' disables 'apply: epilogue(bias,gelu)', which 'One' enables") !=
        std::string::npos);
}

TEST_CASE("one rule name in two libraries is an error", "[rules][conflict]") {
  Loaded l("rules A {\n" + rule("Same", "fuse_softmax_xent", 30) + "}\nrules B {\n" +
           rule("Same", "online_softmax", 40) + "}\n");
  INFO(l.all());
  CHECK(l.all().find("error 9:8 conflicting rules: rule 'Same' (in 'B') is also defined in 'A'") != std::string::npos);
  CHECK(l.all().find("note 2:8 previous definition is here") != std::string::npos);
}

TEST_CASE("an exact repeat under another name warns; different applies and two disabled rules are fine",
          "[rules][conflict]") {
  Loaded repeat("rules A {\n" + rule("One", "online_softmax", 40) + "}\nrules B {\n" +
                rule("Copy", "online_softmax", 40) + "}\n");
  INFO(repeat.all());
  CHECK(!repeat.diags.hasErrors());
  CHECK(repeat.all().find("warning 9:8 rule 'Copy' repeats rule 'One'") != std::string::npos);

  Loaded fine("rules A {\n" + rule("One", "online_softmax", 40) + rule("Two", "fuse_softmax_xent", 40) +
              "}\nrules B {\n" + rule("Off1", "multi_tensor_update", 1, false) + rule("Off2", "multi_tensor_update", 2, false) +
              "}\n");
  INFO(fine.all());
  CHECK(fine.all().empty());
}

TEST_CASE("the shipped rule library has no conflicts", "[rules][conflict]") {
  Loaded l("import \"targets/sm90_h100.dsl\"\nimport \"fusion.dsl\"\n");
  INFO(l.all());
  CHECK(l.all().empty());
  CHECK(l.prog->rules.size() == 14);  // fusion.dsl: 8 graph fusions + "BF16 Copy In Producer", "BF16 Logits", "BF16 GELU Input", "BF16 Bias Gradients", "Vocab Padding", "Attention Reads QKV"
}
