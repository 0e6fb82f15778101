#!/usr/bin/env python3
"""compare_logs.py -- compare two JSONL loss logs ({"step":..,"loss":..} per line) step by step.

Usage: compare_logs.py A.jsonl B.jsonl [--rtol 1e-4] [--steps N] [--report-only]
Prints the number of common steps, the worst relative difference (and its step), the first step over the tolerance,
and the final losses / means of the last 100 of both. Exit 1 when a step differs by more than rtol (unless
--report-only), when a log is missing/empty/malformed, or when the logs have different step sets. rtol 0 means
bit-identical losses.
"""
import argparse
import json
import math
import sys


def load(path):
    out = {}
    try:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    raise SystemExit(f"error: {path}:{n}: not JSON: {e}")
                if "step" in rec and "loss" in rec and "event" not in rec:
                    out[int(rec["step"])] = float(rec["loss"])
    except OSError as e:
        raise SystemExit(f"error: cannot open '{path}': {e.strerror}")
    if not out:
        raise SystemExit(f"error: '{path}' has no loss lines")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--rtol", type=float, default=1e-4)
    ap.add_argument("--steps", type=int, default=0, help="compare only the first N steps (0: all)")
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args()
    a, b = load(args.a), load(args.b)
    steps = sorted(set(a) & set(b))
    if args.steps:
        steps = [s for s in steps if s <= args.steps]
    if set(a) != set(b) and not args.steps:
        print(f"error: the logs cover different steps ({len(a)} vs {len(b)} lines)")
        return 1
    worst, worst_step, first_bad = 0.0, None, None
    for s in steps:
        x, y = a[s], b[s]
        if not (math.isfinite(x) and math.isfinite(y)):
            rel = math.inf
        else:
            rel = abs(x - y) / max(abs(x), 1e-12) if x != y else 0.0
        if rel > worst or worst_step is None:
            worst, worst_step = rel, s
        if rel > args.rtol and first_bad is None:
            first_bad = s

    def tail_mean(d):
        ks = sorted(d)[-100:]
        return sum(d[k] for k in ks) / len(ks)

    last = steps[-1]
    print(f"compared {len(steps)} steps: worst rel diff {worst:.3e} at step {worst_step}; "
          f"final {a[last]:.6f} vs {b[last]:.6f}; mean of last 100 {tail_mean(a):.6f} vs {tail_mean(b):.6f}")
    if first_bad is not None:
        print(f"{'note' if args.report_only else 'FAIL'}: step {first_bad} differs by more than rtol {args.rtol:g} "
              f"({a[first_bad]!r} vs {b[first_bad]!r})")
        return 0 if args.report_only else 1
    print(f"OK: every step within rtol {args.rtol:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
