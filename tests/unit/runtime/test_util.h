// Shared helpers for the runtime unit tests: a scratch directory, file writing, and expecting spak::rt::Error.
#pragma once

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "spak/runtime/check.h"

namespace spak_test {

// A fresh directory under $TMPDIR (or /tmp), removed at exit of the test.
class TempDir {
public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/spak-rt-XXXXXX";
    path_ = mkdtemp(tmpl.data()) ? tmpl : throw std::runtime_error("mkdtemp failed");
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

private:
  std::string path_;
};

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f << bytes;
}

// Runs a shell command, returns its stdout (empty if it failed).
inline std::string run_capture(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = pclose(p);
  return rc == 0 ? out : std::string();
}

inline bool have_python() { return std::ifstream("/usr/bin/python3").good(); }

}  // namespace spak_test

// Expects `expr` to throw spak::rt::Error whose message contains `substr`.
#define REQUIRE_ERROR_CONTAINS(expr, substr) \
  REQUIRE_THROWS_WITH(expr, Catch::Matchers::Contains(substr))
