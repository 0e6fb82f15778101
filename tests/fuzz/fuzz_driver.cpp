// A portable mutation fuzzer for the DSL front end (no clang/libFuzzer needed).
//
//   spak_fuzz_driver [--runs=N] [--seed=S] [--timeout-ms=T] [--max-len=L] [--out=DIR] CORPUS_DIR_OR_FILE...
//
// Loads every *.dsl / *.txt file under the given paths as seeds, then runs N mutated inputs (deterministic for a
// given seed) through LLVMFuzzerTestOneInput. Mutations: byte flips, inserts, deletes, duplications of ranges,
// splices between seeds, and insertion of DSL tokens from a dictionary (keywords, brackets, operators, -1e20, ...).
// Failure = exit 1: a crash (SIGSEGV/SIGABRT/SIGFPE/SIGBUS, incl. the target's aborts on escaped exceptions) or an
// input that runs longer than the per-input time limit (a watchdog thread). The offending input is written to
// DIR/crash-<n>.dsl or DIR/timeout-<n>.dsl (DIR defaults to the current directory).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

namespace {

std::string gCurrent;                 // the input being run (for crash reports)
std::atomic<int64_t> gStartMs{-1};    // when it started (-1 = idle)
std::atomic<uint64_t> gRun{0};
std::string gOutDir = ".";
int64_t gTimeoutMs = 2000;

int64_t nowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

void saveInput(const char *kind) {
  char path[4096];
  std::snprintf(path, sizeof path, "%s/%s-%llu.dsl", gOutDir.c_str(), kind, (unsigned long long)gRun.load());
  int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    ssize_t w = ::write(fd, gCurrent.data(), gCurrent.size());
    (void)w;
    ::close(fd);
  }
  char msg[4200];
  int n = std::snprintf(msg, sizeof msg, "\nfuzz: %s on run %llu; input saved to %s\n", kind,
                        (unsigned long long)gRun.load(), path);
  ssize_t w = ::write(2, msg, size_t(n));
  (void)w;
}

void onCrash(int sig) {
  saveInput(sig == SIGABRT ? "crash-abort" : "crash");
  ::_exit(1);
}

void watchdog() {
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    int64_t s = gStartMs.load();
    if (s >= 0 && nowMs() - s > gTimeoutMs) {
      saveInput("timeout");
      ::_exit(1);
    }
  }
}

const std::vector<std::string> kDict = {
    "system ", "target ", "rules ", "rule ", "fact ", "invariant ", "law ", "hint ", "state ", "parameter ",
    "procedure p:\n", "return ", "param ", "group ", "forward(", "repeat i in ", " in ", " as ", "for k in 0..n-1:\n",
    "import \"fusion.dsl\"\n", "import \"targets/sm90_h100.dsl\"\n", "import \"x.dsl\"\n", "model M {", "train {",
    "config {", "{", "}", "(", ")", "[", "]", ",", ";", ":", "=", "==", "+=", "~", "..", ".", "@", "**", "|", "||",
    "&&", "!", "-", "-1e20", "1e-8", "0.08", "99999999999999999999999", "0", "\"", "\"str\"", "'s'", "\n", "\n---\n",
    "---\ntitle: x\n---\n", "//", "#", "/*", "*/", "true", "false", "loss = ", "layer[i].", "normal(0, 0.02)", "zeros",
    "linear(x, w)", "attention(q, k, v, heads: 4, causal: true)", "rmsnorm(x, eps: 1e-5)", "positions(T)",
    "{i}", "x: i32[T]", "n_embd / n_head", "adam { lr: 0.01 }", "\t", "\r\n", "\xff", "\x00",
};

std::string mutate(std::mt19937_64 &rng, const std::vector<std::string> &seeds, std::string s, size_t maxLen) {
  auto pick = [&](size_t n) { return n ? size_t(rng() % n) : 0; };
  int count = 1 + int(rng() % 4);
  for (int k = 0; k < count; ++k) {
    switch (rng() % 7) {
    case 0: // flip a byte
      if (!s.empty()) s[pick(s.size())] ^= char(1 << (rng() % 8));
      break;
    case 1: // random byte insert
      s.insert(s.begin() + long(pick(s.size() + 1)), char(rng() % 256));
      break;
    case 2: { // delete a range
      if (s.empty()) break;
      size_t a = pick(s.size()), len = 1 + pick(std::min<size_t>(64, s.size() - a));
      s.erase(a, len);
      break;
    }
    case 3: { // duplicate a range
      if (s.empty()) break;
      size_t a = pick(s.size()), len = 1 + pick(std::min<size_t>(128, s.size() - a));
      s.insert(pick(s.size() + 1), s.substr(a, len));
      break;
    }
    case 4: { // splice from another seed
      const std::string &o = seeds[pick(seeds.size())];
      if (o.empty()) break;
      size_t a = pick(o.size()), len = 1 + pick(std::min<size_t>(256, o.size() - a));
      s.insert(pick(s.size() + 1), o.substr(a, len));
      break;
    }
    default: // dictionary token
      s.insert(pick(s.size() + 1), kDict[pick(kDict.size())]);
      break;
    }
  }
  if (s.size() > maxLen) s.resize(maxLen);
  return s;
}

} // namespace

int main(int argc, char **argv) {
  uint64_t runs = 20000, seed = 1;
  size_t maxLen = 8192;
  std::vector<std::string> paths;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&](const char *p) { return a.substr(std::strlen(p)); };
    if (a.rfind("--runs=", 0) == 0) runs = std::stoull(val("--runs="));
    else if (a.rfind("--seed=", 0) == 0) seed = std::stoull(val("--seed="));
    else if (a.rfind("--timeout-ms=", 0) == 0) gTimeoutMs = std::stoll(val("--timeout-ms="));
    else if (a.rfind("--max-len=", 0) == 0) maxLen = std::stoull(val("--max-len="));
    else if (a.rfind("--out=", 0) == 0) gOutDir = val("--out=");
    else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "spak_fuzz_driver: unknown option '%s'\n", a.c_str());
      return 2;
    } else paths.push_back(a);
  }
  namespace fs = std::filesystem;
  std::vector<std::string> seeds;
  auto add = [&](const fs::path &p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    seeds.push_back(ss.str());
  };
  for (const auto &p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> files;
      for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::recursive_directory_iterator();
           it.increment(ec))
        if (it->is_regular_file() && (it->path().extension() == ".dsl" || it->path().extension() == ".txt"))
          files.push_back(it->path());
      std::sort(files.begin(), files.end()); // deterministic order
      for (const auto &f : files) add(f);
    } else if (fs::is_regular_file(p, ec)) {
      add(p);
    } else {
      std::fprintf(stderr, "spak_fuzz_driver: warning: no such corpus path '%s'\n", p.c_str());
    }
  }
  if (seeds.empty()) seeds.push_back("system S { }");

  std::signal(SIGSEGV, onCrash);
  std::signal(SIGABRT, onCrash);
  std::signal(SIGFPE, onCrash);
  std::signal(SIGBUS, onCrash);
  std::signal(SIGILL, onCrash);
  std::thread(watchdog).detach();

  auto runOne = [&](const std::string &in) {
    gCurrent = in;
    gStartMs = nowMs();
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t *>(gCurrent.data()), gCurrent.size());
    gStartMs = -1;
  };
  int64_t t0 = nowMs();
  // Every seed once, unmutated, then the mutations.
  for (const auto &s : seeds) {
    ++gRun;
    runOne(s);
  }
  std::mt19937_64 rng(seed);
  for (uint64_t r = 0; r < runs; ++r) {
    ++gRun;
    const std::string &base = seeds[rng() % seeds.size()];
    runOne(mutate(rng, seeds, base, maxLen));
  }
  std::printf("spak_fuzz_driver: %zu seeds + %llu mutations, seed %llu, no crash, no timeout (%.1f s)\n",
              seeds.size(), (unsigned long long)runs, (unsigned long long)seed, double(nowMs() - t0) / 1000.0);
  return 0;
}
