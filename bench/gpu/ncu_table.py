#!/usr/bin/env python3
"""Per-kernel table of an ncu CSV (`ncu --metrics gpu__time_duration.sum --csv --print-units base ...`).

  ncu_table.py PROF.csv STEPS [ROWS]

Prints the total kernel time per step and a markdown table of the kernels by GPU time: launches per step, ms per step,
share, µs per launch (the ROWS (40) largest). STEPS is how many train steps the profiled run made (the table divides
by it; kernels outside the steps, e.g. the end-of-run eval, are counted in too).
"""
import collections
import csv
import re
import sys


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    path, steps = sys.argv[1], int(sys.argv[2])
    limit = int(sys.argv[3]) if len(sys.argv) > 3 else 40
    rows = list(csv.DictReader([l for l in open(path) if l.startswith('"')]))
    tot, cnt = collections.defaultdict(float), collections.Counter()
    for r in rows:
        if r.get("Metric Name") != "gpu__time_duration.sum":
            continue
        n = re.sub(r"^void ", "", r["Kernel Name"].split("(")[0])
        tot[n] += float(r["Metric Value"].replace(",", "")) / 1e6
        cnt[n] += 1
    if not tot:
        sys.exit("ncu_table: no gpu__time_duration.sum rows in %s" % path)
    all_ms = sum(tot.values())
    print(f"ncu, {steps} eager steps (+ kernels outside them): {all_ms/steps:.2f} ms/step of kernel time, "
          f"{sum(cnt.values())/steps:.0f} launches/step")
    print("| kernel | launches/step | ms/step | share | us each |")
    print("|---|---|---|---|---|")
    for n in sorted(tot, key=lambda n: -tot[n])[:limit]:
        print(f"| {n} | {cnt[n]/steps:g} | {tot[n]/steps:.3f} | {100*tot[n]/all_ms:.1f}% | {1000*tot[n]/cnt[n]:.1f} |")


if __name__ == "__main__":
    main()
