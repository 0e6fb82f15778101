// Unit tests for spak/runtime/args.h: the trainer's command-line contract (docs/trainer-cli.md).
#include "test_util.h"

#include <vector>

#include "spak/runtime/args.h"

using namespace spak::rt;

namespace {
TrainerArgs parse(std::vector<const char*> argv) {
  argv.insert(argv.begin(), "train");
  TrainerArgs d;
  d.steps = 1000;
  d.data = "names/names.txt";
  return parse_trainer_args(int(argv.size()), argv.data(), d, "test trainer");
}
}  // namespace

TEST_CASE("args: defaults and every standard flag", "[args]") {
  TrainerArgs a = parse({});
  CHECK(a.steps == 1000);
  CHECK(a.seed == 42);
  CHECK(a.shuffle);
  CHECK(a.device == "cpu");
  CHECK(!a.help);

  a = parse({"--data", "x.txt", "--steps=5", "--seed", "18446744073709551615", "--no-shuffle", "--init-from", "i.st",
             "--save", "s.st", "--log", "l.jsonl", "--sample", "20", "--device", "cuda", "--checkpoint", "c.st", "--stop-after", "4"});
  CHECK(a.data == "x.txt");
  CHECK(a.steps == 5);
  CHECK(a.seed == 18446744073709551615ull);
  CHECK(!a.shuffle);
  CHECK(a.init_from == "i.st");
  CHECK(a.save == "s.st");
  CHECK(a.log == "l.jsonl");
  CHECK(a.sample == 20);
  CHECK(a.device == "cuda");
  CHECK(a.checkpoint == "c.st");
  CHECK(a.stop_after == 4);
  CHECK(parse({}).stop_after == -1);
  CHECK(parse({"--resume", "r.st"}).resume == "r.st");
  CHECK(parse({"--steps", "0"}).steps == 0);
}

TEST_CASE("args: --help prints usage and stops", "[args]") {
  TrainerArgs a = parse({"--steps", "3", "--help", "--bogus"});
  CHECK(a.help);
  ArgParser p("train", "about");
  TrainerArgs t;
  add_trainer_options(p, t);
  std::string u = p.usage();
  for (const char* f : {"--data PATH", "--steps N", "--seed S", "--no-shuffle", "--init-from FILE", "--save FILE",
                        "--log FILE", "--sample N", "--resume FILE", "--checkpoint FILE", "--stop-after K", "--device cpu|cuda", "--help"})
    CHECK(u.find(f) != std::string::npos);
}

TEST_CASE("args: bad input is a usage error with a precise message", "[args]") {
  REQUIRE_THROWS_AS(parse({"--stepz", "3"}), UsageError);
  REQUIRE_ERROR_CONTAINS(parse({"--stepz", "3"}), "unknown flag '--stepz' (did you mean --steps?)");
  REQUIRE_ERROR_CONTAINS(parse({"--frobnicate"}), "unknown flag '--frobnicate'");
  REQUIRE_ERROR_CONTAINS(parse({"--steps", "abc"}), "--steps expects an integer, got 'abc'");
  REQUIRE_ERROR_CONTAINS(parse({"--steps", "12x"}), "--steps expects an integer, got '12x'");
  REQUIRE_ERROR_CONTAINS(parse({"--steps", "-5"}), "--steps must be at least 0, got -5");
  REQUIRE_ERROR_CONTAINS(parse({"--steps", "99999999999999999999"}), "expects an integer");
  REQUIRE_ERROR_CONTAINS(parse({"--seed", "-1"}), "--seed expects a non-negative integer, got '-1'");
  REQUIRE_ERROR_CONTAINS(parse({"--steps"}), "--steps needs a value (N)");
  REQUIRE_ERROR_CONTAINS(parse({"--device", "tpu"}), "--device must be one of cpu|cuda, got 'tpu'");
  REQUIRE_ERROR_CONTAINS(parse({"--no-shuffle=1"}), "--no-shuffle takes no value");
  REQUIRE_ERROR_CONTAINS(parse({"--steps", "1", "--steps", "2"}), "--steps given more than once");
  REQUIRE_ERROR_CONTAINS(parse({"extra"}), "unexpected argument 'extra'");
  REQUIRE_ERROR_CONTAINS(parse({"--data="}), "--data needs a non-empty value");
  REQUIRE_ERROR_CONTAINS(parse({"--resume", "a", "--init-from", "b"}), "cannot be combined");
  REQUIRE_ERROR_CONTAINS(parse({"--steps", "10", "--stop-after", "11"}), "--stop-after 11 is past --steps 10");
}

TEST_CASE("args: run_main maps errors to exit codes", "[args]") {
  CHECK(run_main([] { return 0; }) == 0);
  CHECK(run_main([]() -> int { throw UsageError("bad flag"); }) == kExitUsage);
  CHECK(run_main([]() -> int { throw Error("bad data"); }) == kExitError);
  CHECK(run_main([]() -> int {
          SPAK_CHECK(1 + 1 == 3, "math is broken: ", 1 + 1);
          return 0;
        }) == kExitError);
}
