// test_rewriter.cpp — the line-preserving rewriter `spakc tune` uses on target rules files (LawRewriter.h): only the
// value token of the law changes, comment columns stay, other laws / comments / blank lines / other targets are
// untouched; facts go before the target's closing brace with the block's indentation; bad shapes are refused.
#include "LawRewriter.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using namespace spakc::rewrite;

namespace {
const char *kTarget = R"(// Hardware laws. Keep one law per line.
target sm_90 "H100" {
  arch: "sm_90a"

  law tile_m = 64            // rows of the output tile
  law tile_n = 128           // columns
  law tile_mm = 7
  // law tile_m = 1 (a comment, not a law)
  stability_floor = -1e20
}
target other "X" {
  law tile_m = 64
}
)";
} // namespace

TEST_CASE("setLaw changes only the value token and keeps the comment column", "[rules][rewriter]") {
  std::string text = kTarget, err;
  REQUIRE(setLaw(text, "tile_m", "128", err));
  std::string expected = kTarget;
  expected.replace(expected.find("  law tile_m = 64            //"), 31, "  law tile_m = 128           //");
  CHECK(text == expected);
  // Shorter values pad, so the comment stays in its column.
  REQUIRE(setLaw(text, "tile_m", "8", err));
  CHECK(text.find("  law tile_m = 8             // rows of the output tile\n") != std::string::npos);
  // The other target's tile_m, the prefix-sharing tile_mm and the commented-out line are untouched.
  CHECK(text.find("  law tile_mm = 7\n") != std::string::npos);
  CHECK(text.find("  // law tile_m = 1 (a comment, not a law)\n") != std::string::npos);
  CHECK(text.find("target other \"X\" {\n  law tile_m = 64\n}") != std::string::npos);
}

TEST_CASE("setLaw on a law without a comment, and on a missing law", "[rules][rewriter]") {
  std::string text = kTarget, err;
  REQUIRE(setLaw(text, "tile_mm", "16", err));
  CHECK(text.find("  law tile_mm = 16\n") != std::string::npos);
  std::string before = text;
  CHECK_FALSE(setLaw(text, "v_lat", "5", err));
  CHECK(err == "no line 'law v_lat = ...' in the rules file");
  CHECK(text == before);
}

TEST_CASE("appendToTarget inserts before the right closing brace with the block's indentation", "[rules][rewriter]") {
  std::string text = kTarget, err;
  REQUIRE(appendToTarget(text, "sm_90", "fact tuned {\n  value: 0.85\n  note: \"a } in a string\"\n}\n", err));
  CHECK(text.find("  stability_floor = -1e20\n  fact tuned {\n    value: 0.85\n    note: \"a } in a string\"\n  }\n}\n"
                  "target other") != std::string::npos);
  REQUIRE(appendToTarget(text, "other", "law v_lat = 4\n", err));
  CHECK(text.find("target other \"X\" {\n  law tile_m = 64\n  law v_lat = 4\n}\n") != std::string::npos);
  CHECK_FALSE(appendToTarget(text, "sm_120", "x\n", err));
  CHECK(err == "no 'target sm_120 ... {' line in the rules file");
  std::string oneLine = "target t \"T\" {\n  law a = 1 }\n";
  CHECK_FALSE(appendToTarget(oneLine, "t", "law b = 2\n", err));
}

TEST_CASE("the shipped H100 file: rewriting a law changes exactly one line", "[rules][rewriter]") {
  std::ifstream in(std::string(SPAK_SOURCE_DIR) + "/rules/targets/sm90_h100.dsl");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string original = ss.str(), text = original, err;
  REQUIRE(setLaw(text, "v_lat", "4", err));
  auto lines = [](const std::string &s) {
    std::vector<std::string> v;
    std::stringstream st(s);
    for (std::string l; std::getline(st, l);) v.push_back(l);
    return v;
  };
  auto a = lines(original), b = lines(text);
  REQUIRE(a.size() == b.size());
  int differing = 0;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i]) {
      ++differing;
      CHECK(b[i].find("law v_lat = 4 ") != std::string::npos);
      CHECK(b[i].find("// pipeline depth of attention V loads") == a[i].find("// pipeline depth of attention V loads"));
    }
  CHECK(differing == 1);
}
