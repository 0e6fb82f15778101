// Unit tests for spak/runtime/log.h: timing helpers, the progress line and the JSONL log.
#include "test_util.h"

#include <fstream>
#include <sstream>
#include <thread>

#include "spak/runtime/io.h"
#include "spak/runtime/log.h"

using namespace spak::rt;

TEST_CASE("log: median and step times", "[log]") {
  CHECK(median({}) == 0.0);
  CHECK(median({3.0}) == 3.0);
  CHECK(median({5.0, 1.0, 3.0}) == 3.0);
  CHECK(median({4.0, 1.0, 3.0, 2.0}) == 2.5);
  StepTimes t(2);
  for (double x : {100.0, 50.0, 1.0, 3.0, 2.0}) t.add(x);
  CHECK(t.count() == 3);
  CHECK(t.median_ms() == 2.0);
  CHECK(t.mean_ms() == 2.0);
  Stopwatch sw;
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(sw.elapsed_ms() >= 4.0);
}

TEST_CASE("log: progress line format", "[log]") {
  CHECK(format_progress(1, 1000, 3.36596, 0.01, 0.88, 16) ==
        "step    1 / 1000 | loss 3.3660 | lr 1.000e-02 | 0.88 ms/step | 18.2K tok/s");
  CHECK(format_progress(12000, 12000, 1.5, 6e-4, 35.9, 16384) ==
        "step 12000 / 12000 | loss 1.5000 | lr 6.000e-04 | 35.90 ms/step | 456.4K tok/s");
  CHECK(human_rate(2.5e6) == "2.50M");
  CHECK(human_rate(12) == "12");
}

TEST_CASE("log: JSONL lines are exact, flushed and appendable", "[log]") {
  spak_test::TempDir dir;
  std::string p = dir.file("loss.jsonl");
  {
    JsonlLog log(p);
    log.write(1, 3.3659999370574951, {{"lr", 0.01}});
    // Flushed per line: visible before the log is closed.
    CHECK(read_file(p) == "{\"step\":1,\"loss\":3.3659999370574951,\"lr\":0.01}\n");
    log.write(2, std::nan(""));
  }
  {
    JsonlLog log(p, /*append=*/true);
    log.write_raw("{\"event\":\"eval\",\"val_loss\":1.5}");
  }
  CHECK(read_file(p) ==
        "{\"step\":1,\"loss\":3.3659999370574951,\"lr\":0.01}\n{\"step\":2,\"loss\":NaN}\n"
        "{\"event\":\"eval\",\"val_loss\":1.5}\n");
  JsonlLog off;
  CHECK(!off.enabled());
  off.write(1, 1.0);  // a disabled log does nothing
  REQUIRE_ERROR_CONTAINS(JsonlLog(dir.file("no/dir/x.jsonl")), "cannot open log file '");
}
