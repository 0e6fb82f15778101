#!/usr/bin/env python3
"""dist_e2e.py -- data-parallel training support of the generated cuda project, without a GPU (docs/distributed.md).

  spak-run     spakc writes the MicroGPT cuda project; its launcher runtime/spak_run.cpp is built with the host C++
               compiler and run: ranks get SPAK_RANK 0..N-1, SPAK_WORLD_SIZE, SPAK_LOCAL_RANK, one SPAK_NCCL_ID_FILE
               and NCCL_NVLS_ENABLE=0 (an explicit value is kept); a failing rank's status is returned and the other
               ranks are stopped; usage errors exit 2; an unknown program exits 127
  nccl-build   the same project configured with -DSPAK_NCCL=ON and built with CMake (nvcc + nccl.h + libnccl, no GPU):
               main.cu compiles warning-free with SPAK_NCCL, `train` and `spak-run` link; `train --help` works; two
               ranks without a GPU fail cleanly (exit 1, one line per rank, spak-run non-zero); a world size without
               an id file is a usage error (exit 2)

Exit status: 0 pass, 1 fail (with the reason), 77 skip (no nvcc / NCCL / data).
"""

import argparse
import os
import subprocess
import sys
import time

SKIP = 77


class Fail(Exception):
    pass


def run(cmd, expect=0, env=None, timeout=600, cwd=None):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
    if expect is not None and p.returncode != expect:
        raise Fail(f"{' '.join(cmd)}\n  exit {p.returncode}, expected {expect}\n  stdout: {p.stdout[-3000:]}\n"
                   f"  stderr: {p.stderr[-3000:]}")
    return p


def generate(a):
    proj = os.path.join(a.work, "project")
    run([a.spakc, "compile", a.dsl, "-o", proj, "--target", "cuda", "-q", "--no-unused-warnings"])
    for f in ("runtime/spak_run.cpp", "runtime/spak/runtime/launcher.h", "runtime/spak/runtime/dist.h"):
        if not os.path.exists(os.path.join(proj, f)):
            raise Fail(f"the generated project lacks {f}")
    return proj


def cmd_spak_run(a):
    proj = generate(a)
    exe = os.path.join(a.work, "spak-run")
    run([a.cxx, "-std=c++17", "-O1", "-Wall", "-Wextra", "-Werror", "-I", os.path.join(proj, "runtime"),
         os.path.join(proj, "runtime", "spak_run.cpp"), "-o", exe])
    check_launcher(exe)


def check_launcher(exe):
    failures = []
    env = dict(os.environ)
    env.pop("NCCL_NVLS_ENABLE", None)

    p = run([exe, "-n", "2", "--", "sh", "-c",
             'echo "rank=$SPAK_RANK local=$SPAK_LOCAL_RANK size=$SPAK_WORLD_SIZE nvls=$NCCL_NVLS_ENABLE '
             'id=$SPAK_NCCL_ID_FILE"'], env=env)
    lines = sorted(p.stdout.split("\n")[:-1])
    ranks = [dict(kv.split("=", 1) for kv in line.split()) for line in lines]
    if [r["rank"] for r in ranks] != ["0", "1"] or any(r["local"] != r["rank"] or r["size"] != "2" or
                                                       r["nvls"] != "0" for r in ranks):
        failures.append(f"rank environment: {lines}")
    if len({r["id"] for r in ranks}) != 1 or not ranks[0]["id"].endswith("/nccl.id"):
        failures.append(f"every rank must get the same SPAK_NCCL_ID_FILE: {lines}")
    elif os.path.exists(os.path.dirname(ranks[0]["id"])):
        failures.append(f"spak-run left its id directory behind: {os.path.dirname(ranks[0]['id'])}")

    p = run([exe, "-n", "1", "sh", "-c", "echo nvls=$NCCL_NVLS_ENABLE"], env=dict(env, NCCL_NVLS_ENABLE="1"))
    if p.stdout.strip() != "nvls=1":
        failures.append(f"an explicit NCCL_NVLS_ENABLE must be kept: {p.stdout!r}")

    p = run([exe, "-n", "2", "--", "/bin/false"], expect=None)
    if p.returncode != 1:
        failures.append(f"spak-run -n 2 -- /bin/false: exit {p.returncode}, expected 1")

    # Rank 1 fails at once; rank 0 would sleep for a minute: it must be stopped, and rank 1's status returned.
    t0 = time.time()
    p = run([exe, "-n", "2", "--", "sh", "-c", 'if [ "$SPAK_RANK" = 1 ]; then exit 3; fi; exec sleep 60'],
            expect=None, timeout=50)
    if p.returncode != 3 or time.time() - t0 > 20 or "rank 1 exited with status 3" not in p.stderr:
        failures.append(f"failure propagation: exit {p.returncode} after {time.time() - t0:.1f} s, stderr "
                        f"{p.stderr!r}")

    p = run([exe, "-n", "2", "--", "sh", "-c", "kill -9 $$"], expect=None)
    if p.returncode != 137 or "signal 9" not in p.stderr:
        failures.append(f"a killed rank: exit {p.returncode}, stderr {p.stderr!r}")

    p = run([exe, "-n", "2", "--", "/nonexistent/train"], expect=None)
    if p.returncode != 127 or "cannot run '/nonexistent/train'" not in p.stderr:
        failures.append(f"unknown program: exit {p.returncode}, stderr {p.stderr!r}")

    for args, msg in ((["./train"], "missing -n N"), (["-n", "2"], "missing the program"),
                      (["-n", "0", "x"], "got '0'"), (["--bogus", "x"], "unknown option '--bogus'")):
        p = run([exe] + args, expect=None)
        if p.returncode != 2 or msg not in p.stderr or "usage: spak-run" not in p.stderr:
            failures.append(f"spak-run {' '.join(args)}: exit {p.returncode}, stderr {p.stderr!r}")
    p = run([exe, "--help"])
    if "usage: spak-run -n N" not in p.stdout:
        failures.append("--help prints no usage")
    if failures:
        raise Fail("\n".join(failures))
    print("spak-run: rank environment, failure propagation, usage errors as documented")


def find_nccl(nvcc):
    roots = [os.environ.get("NCCL_HOME", ""), os.path.dirname(os.path.dirname(os.path.realpath(nvcc))), "/usr"]
    for r in roots:
        if r and os.path.exists(os.path.join(r, "include", "nccl.h")):
            return os.path.join(r, "include")
    return None


def cmd_nccl_build(a):
    if not a.nvcc or not os.access(a.nvcc, os.X_OK):
        print("SKIP: no nvcc")
        raise SystemExit(SKIP)
    inc = find_nccl(a.nvcc)
    if not inc:
        print("SKIP: no nccl.h")
        raise SystemExit(SKIP)
    proj = generate(a)
    main_cu = os.path.join(proj, "cuda", "main.cu")
    text = open(main_cu).read()
    for needle in ("ncclAllReduce", "ncclAvg", "call_backward", "plan_buckets", "cudaStreamWaitEvent"):
        if needle not in text:
            raise Fail(f"main.cu lacks {needle}")
    # The NCCL path compiles warning-free (as e2e_microgpt_cuda_compile does for the single-GPU path).
    run([a.nvcc, "-std=c++17", "-gencode", "arch=compute_90a,code=sm_90a", "-I", os.path.join(proj, "cuda"),
         "-I", os.path.join(proj, "runtime"), "-I", inc, "-DSPAK_NCCL=1", "-DSPAK_PROJECT_DIR=\"" + proj + "\"",
         "-Xcompiler", "-Wall,-Wextra", "-Werror", "all-warnings", "-c", main_cu,
         "-o", os.path.join(a.work, "main_nccl.o")])
    build = os.path.join(proj, "build")
    p = run(["cmake", "-S", proj, "-B", build, "-DCMAKE_BUILD_TYPE=Release", "-DSPAK_NCCL=ON",
             f"-DCMAKE_CUDA_COMPILER={a.nvcc}", f"-DCMAKE_CXX_COMPILER={a.cxx}"])
    if "data-parallel training through NCCL: ON" not in p.stdout:
        raise Fail(f"CMake did not enable NCCL:\n{p.stdout[-2000:]}")
    run(["cmake", "--build", build, "-j2"], timeout=900)
    train, launcher = os.path.join(build, "train"), os.path.join(build, "spak-run")
    nm = run(["nm", "-D", "--undefined-only", train], expect=None).stdout + \
        run(["ldd", train], expect=None).stdout
    if "nccl" not in nm:
        raise Fail("train does not link libnccl")
    failures = []
    p = run([train, "--help"])
    if "--no-cuda-graph" not in p.stdout:
        failures.append("train --help: no usage")
    env = dict(os.environ, SPAK_NCCL_ID_TIMEOUT="5")
    # No GPU here: every rank fails with one clean line; spak-run reports it and fails.
    p = run([launcher, "-n", "2", "--", train, "--data", a.data, "--steps", "2"], expect=None, env=env, timeout=120)
    errs = [ln for ln in p.stderr.split("\n") if ln.startswith("error: ")]
    if p.returncode == 0 or not errs or "spak-run: rank" not in p.stderr:
        failures.append(f"two ranks without a GPU: exit {p.returncode}, stderr {p.stderr[-1500:]!r}")
    # A world of two without an id file (not started by spak-run): usage error before anything else.
    p = run([train, "--data", a.data], expect=None, env=dict(env, SPAK_RANK="0", SPAK_WORLD_SIZE="2"))
    if p.returncode != 2 or "SPAK_NCCL_ID_FILE" not in p.stderr:
        failures.append(f"world size 2 without SPAK_NCCL_ID_FILE: exit {p.returncode}, stderr {p.stderr!r}")
    p = run([train, "--data", a.data], expect=None, env=dict(env, SPAK_RANK="2", SPAK_WORLD_SIZE="2"))
    if p.returncode != 2 or "rank 2 is not below the world size 2" not in p.stderr:
        failures.append(f"rank 2 of 2: exit {p.returncode}, stderr {p.stderr!r}")
    check_launcher(launcher)
    if failures:
        raise Fail("\n".join(failures))
    print("the NCCL build of the cuda project compiles, links and fails cleanly without a GPU")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["spak-run", "nccl-build"])
    ap.add_argument("--work", required=True)
    ap.add_argument("--spakc", required=True)
    ap.add_argument("--dsl", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--cxx", default="c++")
    ap.add_argument("--nvcc")
    a = ap.parse_args()
    if not os.path.exists(a.data):
        print(f"SKIP: no data file {a.data}")
        return SKIP
    os.makedirs(a.work, exist_ok=True)
    try:
        globals()["cmd_" + a.command.replace("-", "_")](a)
    except Fail as e:
        print(f"FAIL: {e}")
        return 1
    except subprocess.TimeoutExpired as e:
        print(f"FAIL: timeout: {e}")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
