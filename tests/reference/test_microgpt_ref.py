#!/usr/bin/env python3
"""Checks that microgpt_ref.py IS microgpt.py: the loss anchors of ../shared/docs/MODELS.md (step 1 = 3.3660,
step 1000 = 2.6497, mean of the last 100 = 2.2761), the first samples Karpathy published for microgpt.py, the
backward pass against finite differences, and the --dump-init / --init-from / --docs-out round trip.
Run: /usr/bin/python3 tests/reference/test_microgpt_ref.py [NAMES_TXT]   (exit 0 = all passed; NAMES_TXT defaults
to ../shared/data/names/names.txt). Registered with ctest as microgpt_reference_anchors."""

import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.path.join(HERE, "microgpt_ref.py")
DATA = sys.argv[1] if len(sys.argv) > 1 else None
failures = []


def check(cond, what):
    print(("ok      " if cond else "FAILED  ") + what)
    if not cond:
        failures.append(what)


def run(*args):
    if DATA and "--data" not in args:
        args = ("--data", DATA) + args
    p = subprocess.run([sys.executable, REF, *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def losses(path):
    with open(path) as f:
        return [json.loads(line)["loss"] for line in f]


with tempfile.TemporaryDirectory() as tmp:
    log, init, docs, log2 = (os.path.join(tmp, n) for n in ("ref.jsonl", "init.safetensors", "docs.txt", "b.jsonl"))
    rc, out, err = run("--log", log, "--dump-init", init, "--docs-out", docs, "--sample", "5")
    check(rc == 0, f"1000-step run exits 0 ({err.strip()})")
    if rc != 0:
        sys.exit(1)
    L = losses(log)
    check(len(L) == 1000, f"1000 logged steps (got {len(L)})")
    check(abs(L[0] - 3.3660) < 5e-5, f"step 1 loss {L[0]:.6f} == 3.3660")
    check(abs(L[999] - 2.6497) < 5e-5, f"step 1000 loss {L[999]:.6f} == 2.6497")
    mean100 = sum(L[-100:]) / 100
    check(abs(mean100 - 2.2761) < 5e-5, f"mean of the last 100 losses {mean100:.6f} == 2.2761")
    # microgpt.py's published samples after its 1000 steps (karpathy.github.io/2026/02/12/microgpt).
    names = [line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("sample")]
    check(names == ["kamon", "ann", "karai", "jaire", "vialan"], f"first 5 samples {names}")
    with open(docs) as f:
        first = [next(f).strip() for _ in range(3)]
    check(first == ["yuheng", "diondre", "xavien"], f"shuffled order starts {first}")

    rc, out, _ = run("--check-grad")
    check(rc == 0 and "ok" in out, "backward pass matches central finite differences")

    rc, _, err = run("--steps", "100", "--init-from", init, "--no-shuffle", "--data", docs, "--log", log2)
    L2 = losses(log2) if rc == 0 else [float("nan")]
    check(rc == 0 and len(L2) == 100, f"--init-from + --no-shuffle run exits 0 ({err.strip()})")
    # Not identical: float32-rounded init and a 100-step lr decay (num_steps = --steps) instead of 1000.
    check(abs(L2[0] - L[0]) < 1e-6, f"step 1 with the float32 init differs by {abs(L2[0] - L[0]):.1e} (< 1e-6)")

    rc, _, err = run("--data", os.path.join(tmp, "missing.txt"))
    check(rc == 1 and "cannot open" in err and "missing.txt" in err, f"missing data -> exit 1: {err.strip()}")
    rc, _, err = run("--init-from", docs)
    check(rc == 1 and "not a valid safetensors file" in err, f"bad weights file -> exit 1: {err.strip()}")

print(f"{len(failures)} failed" if failures else "all passed")
sys.exit(1 if failures else 0)
