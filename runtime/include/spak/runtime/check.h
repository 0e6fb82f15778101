// spak/runtime/check.h — error reporting for generated trainers.
//
// Every failure a user can cause (missing file, bad flag, corrupt checkpoint, NaN loss) becomes a spak::rt::Error
// with a precise message; the trainer's main wraps its body in spak::rt::run_main(), which prints `error: <message>`
// to stderr and returns a non-zero exit code (1 for runtime errors, 2 for usage errors). Nothing here aborts or
// prints a stack trace.
//
//   SPAK_CHECK(n > 0, "batch size must be positive, got ", n);   // throws spak::rt::Error("batch size ...")
//   spak::rt::fail_io("cannot open", path, errno);                // "cannot open 'x': No such file or directory"
//   int main(int argc, char** argv) { return spak::rt::run_main([&] { ...; return 0; }); }
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace spak::rt {

// A user-facing runtime failure (bad data, I/O, corrupt file, NaN). Exit code 1.
class Error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// A command-line usage failure (unknown flag, bad number). Exit code 2.
class UsageError : public Error {
public:
  using Error::Error;
};

enum ExitCode : int { kExitOk = 0, kExitError = 1, kExitUsage = 2 };

// Concatenates any streamable values into one string: cat("x = ", 3, "!") == "x = 3!".
template <class... Args>
std::string cat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}

[[noreturn]] inline void fail(const std::string& message) { throw Error(message); }
[[noreturn]] inline void fail_usage(const std::string& message) { throw UsageError(message); }

// The text of an errno value ("No such file or directory").
inline std::string errno_text(int err) { return std::strerror(err); }

// Throws "<what> '<path>': <errno text>", e.g. fail_io("cannot open", "data/x.txt", errno).
[[noreturn]] inline void fail_io(const std::string& what, const std::string& path, int err) {
  throw Error(cat(what, " '", path, "': ", errno_text(err)));
}

// Runs the trainer body; maps exceptions to `error: ...` on stderr and an exit code. The body returns an exit code.
template <class Body>
int run_main(Body&& body) noexcept {
  try {
    return body();
  } catch (const UsageError& e) {
    std::fprintf(stderr, "error: %s\n(run with --help for usage)\n", e.what());
    return kExitUsage;
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return kExitError;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "error: out of memory\n");
    return kExitError;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: internal error: %s\n", e.what());
    return kExitError;
  } catch (...) {
    std::fprintf(stderr, "error: internal error: unknown exception\n");
    return kExitError;
  }
}

}  // namespace spak::rt

// SPAK_CHECK(cond, parts...): throws spak::rt::Error(cat(parts...)) when cond is false.
#define SPAK_CHECK(cond, ...)                                  \
  do {                                                         \
    if (!(cond)) ::spak::rt::fail(::spak::rt::cat(__VA_ARGS__)); \
  } while (0)
