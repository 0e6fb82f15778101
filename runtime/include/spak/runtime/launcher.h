// spak/runtime/launcher.h -- `spak-run`, the launcher of data-parallel trainers (docs/distributed.md):
//
//   spak-run -n N [--] PROGRAM [ARGS...]
//
// starts N copies of PROGRAM on this host, rank i with SPAK_RANK=i, SPAK_LOCAL_RANK=i (its CUDA device),
// SPAK_WORLD_SIZE=N, SPAK_LOCAL_WORLD_SIZE=N and SPAK_NCCL_ID_FILE=<a fresh private directory>/nccl.id (rank 0 writes
// the NCCL unique id there, the others read it); NCCL_NVLS_ENABLE=0 unless already set. SIGINT / SIGTERM / SIGHUP
// are forwarded to every rank. When a rank fails (non-zero exit or a signal) the others get SIGTERM (SIGKILL after
// SPAK_RUN_GRACE seconds, default 10) and spak-run exits with the failed rank's status (128 + signal for a signal).
// Exit 0 when every rank exits 0; 2 on a usage error; 127 when PROGRAM cannot be started.
// parse_launch_args is separate (and unit-tested); launcher_main is the program (runtime/spak_run.cpp calls it).
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "spak/runtime/check.h"
#include "spak/runtime/dist.h"

namespace spak::rt::launch {

struct Options {
  int nprocs = 0;
  std::vector<std::string> command;  // PROGRAM ARGS...
  bool help = false;
};

inline const char* usage_text() {
  return "usage: spak-run -n N [--] PROGRAM [ARGS...]\n"
         "  Runs N ranks of PROGRAM (one per GPU of this host) for data-parallel training through NCCL.\n"
         "  Each rank gets SPAK_RANK, SPAK_LOCAL_RANK (= its CUDA device), SPAK_WORLD_SIZE, SPAK_LOCAL_WORLD_SIZE and\n"
         "  SPAK_NCCL_ID_FILE; NCCL_NVLS_ENABLE=0 unless set. If one rank fails the others are stopped and spak-run\n"
         "  exits with its status.\n"
         "  -n, --nprocs N   number of ranks (1..1024)\n"
         "  -h, --help       this text\n"
         "  example: spak-run -n 2 -- ./build/train --steps 100 --log run.jsonl\n";
}

inline int parse_nprocs(const std::string& v) {
  if (v.empty() || v.size() > 5) fail_usage(cat("-n expects a number of ranks (1..1024), got '", v, "'"));
  int n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') fail_usage(cat("-n expects a number of ranks (1..1024), got '", v, "'"));
    n = n * 10 + (c - '0');
  }
  if (n < 1 || n > 1024) fail_usage(cat("-n expects a number of ranks (1..1024), got '", v, "'"));
  return n;
}

// Options end at `--` or at the first argument that is not an option: everything after is the command, passed
// through untouched (so `spak-run -n 2 ./train --steps 5` works without `--`).
inline Options parse_launch_args(int argc, const char* const* argv) {
  Options o;
  bool have_n = false;
  int i = 1;
  for (; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a == "-h" || a == "--help") {
      o.help = true;
      return o;
    }
    std::string value;
    if (a == "-n" || a == "--nprocs" || a == "-np") {
      if (i + 1 >= argc) fail_usage(cat(a, " needs a value: the number of ranks"));
      value = argv[++i];
    } else if (a.rfind("--nprocs=", 0) == 0) {
      value = a.substr(9);
    } else if (a.rfind("-n", 0) == 0 && a.size() > 2 && a[2] != '-') {
      value = a.substr(2);
    } else if (!a.empty() && a[0] == '-') {
      fail_usage(cat("unknown option '", a, "' (spak-run takes -n N, then the program; put -- before a program "
                                         "whose name starts with '-')"));
    } else {
      break;  // the program
    }
    if (have_n) fail_usage("-n given twice");
    o.nprocs = parse_nprocs(value);
    have_n = true;
  }
  for (; i < argc; ++i) o.command.emplace_back(argv[i]);
  if (!have_n) fail_usage("missing -n N: the number of ranks to start");
  if (o.command.empty()) fail_usage("missing the program to run (spak-run -n N -- PROGRAM [ARGS...])");
  return o;
}

namespace detail {
inline volatile sig_atomic_t g_signal = 0;
inline void on_signal(int sig) { g_signal = sig; }

inline void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  ::nanosleep(&ts, nullptr);
}

// The exit status spak-run reports for a child's wait status.
inline int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

inline std::string describe(int status) {
  if (WIFEXITED(status)) return cat("exited with status ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return cat("was killed by signal ", WTERMSIG(status), " (", ::strsignal(WTERMSIG(status)), ")");
  return "ended";
}
}  // namespace detail

// The program. Returns the exit status.
inline int launcher_main(int argc, char** argv) {
  Options o;
  try {
    o = parse_launch_args(argc, argv);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "spak-run: error: %s\n%s", e.what(), usage_text());
    return kExitUsage;
  }
  if (o.help) {
    std::fputs(usage_text(), stdout);
    return 0;
  }
  double grace_s = 10.0;
  if (const char* g = std::getenv("SPAK_RUN_GRACE")) grace_s = std::max(0.0, std::atof(g));

  // A private directory for the id file: nothing of an earlier run can be read by mistake.
  const char* tmpdir_env = std::getenv("TMPDIR");
  std::string dir_template = cat(tmpdir_env && *tmpdir_env ? tmpdir_env : "/tmp", "/spak-run.XXXXXX");
  std::vector<char> dir_buf(dir_template.begin(), dir_template.end());
  dir_buf.push_back('\0');
  if (!::mkdtemp(dir_buf.data())) {
    std::fprintf(stderr, "spak-run: error: cannot create a directory '%s': %s\n", dir_template.c_str(),
                 std::strerror(errno));
    return 1;
  }
  const std::string dir = dir_buf.data();
  const std::string id_file = dir + "/nccl.id";
  ::setenv("NCCL_NVLS_ENABLE", "0", /*overwrite=*/0);  // NVLink SHARP (multicast) off unless the user set it

  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = detail::on_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);

  std::vector<pid_t> pids(size_t(o.nprocs), -1);
  std::vector<char*> cargv;
  for (auto& a : o.command) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  int first_fail = -1, fail_code = 0;
  for (int r = 0; r < o.nprocs; ++r) {
    const pid_t pid = ::fork();
    if (pid < 0) {
      std::fprintf(stderr, "spak-run: error: fork failed: %s\n", std::strerror(errno));
      first_fail = r;
      fail_code = 1;
      break;
    }
    if (pid == 0) {
      struct sigaction dfl;
      std::memset(&dfl, 0, sizeof dfl);
      dfl.sa_handler = SIG_DFL;
      for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &dfl, nullptr);
      const std::string rs = std::to_string(r), ns = std::to_string(o.nprocs);
      ::setenv("SPAK_RANK", rs.c_str(), 1);
      ::setenv("SPAK_LOCAL_RANK", rs.c_str(), 1);
      ::setenv("SPAK_WORLD_SIZE", ns.c_str(), 1);
      ::setenv("SPAK_LOCAL_WORLD_SIZE", ns.c_str(), 1);
      ::setenv("SPAK_NCCL_ID_FILE", id_file.c_str(), 1);
      ::execvp(cargv[0], cargv.data());
      std::fprintf(stderr, "spak-run: error: cannot run '%s': %s\n", cargv[0], std::strerror(errno));
      std::fflush(stderr);
      ::_exit(127);
    }
    pids[size_t(r)] = pid;
  }

  // Wait for every rank; forward signals; on the first failure stop the others.
  int live = 0;
  for (pid_t p : pids) live += p > 0 ? 1 : 0;
  bool stopping = first_fail >= 0;
  double stop_waited = 0.0;
  bool killed = false;
  auto signal_all = [&](int sig) {
    for (pid_t p : pids)
      if (p > 0) ::kill(p, sig);
  };
  if (stopping) signal_all(SIGTERM);
  int forwarded = 0;
  while (live > 0) {
    if (detail::g_signal != 0 && detail::g_signal != forwarded) {
      forwarded = detail::g_signal;
      signal_all(forwarded);
      detail::g_signal = 0;
      forwarded = 0;
    }
    int status = 0;
    const pid_t done = ::waitpid(-1, &status, WNOHANG);
    if (done > 0) {
      for (size_t r = 0; r < pids.size(); ++r) {
        if (pids[r] != done) continue;
        pids[r] = -1;
        --live;
        const int code = detail::exit_code_of(status);
        if (code != 0 && first_fail < 0) {
          first_fail = int(r);
          fail_code = code;
          if (live > 0)
            std::fprintf(stderr, "spak-run: rank %zu %s; stopping the other %d rank(s)\n", r,
                         detail::describe(status).c_str(), live);
          else
            std::fprintf(stderr, "spak-run: rank %zu %s\n", r, detail::describe(status).c_str());
          stopping = true;
          signal_all(SIGTERM);
        }
      }
      continue;
    }
    if (done < 0 && errno != EINTR) break;  // no children left
    detail::sleep_ms(20);
    if (stopping) {
      stop_waited += 0.02;
      if (!killed && stop_waited >= grace_s) {
        signal_all(SIGKILL);
        killed = true;
      }
    }
  }
  ::unlink(id_file.c_str());
  ::rmdir(dir.c_str());
  return first_fail >= 0 ? (fail_code != 0 ? fail_code : 1) : 0;
}

}  // namespace spak::rt::launch
