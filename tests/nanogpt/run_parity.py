#!/usr/bin/env python3
"""run_parity.py -- NanoGPT numerical parity: spakc's cpp lowering vs the float64 PyTorch reference (docs/nanogpt.md).

Steps (all outputs under --work):
  1. tests/reference/nanogpt_ref.py writes init weights, the batches, step-0 logits/loss/gradients, 10 steps of losses
     and the final parameters (ref/). Exit 77 = SKIP when PyTorch is not importable.
  2. spakc compile DSL -o proj --target cpp  (the generated project: cpp/model.h kernels.cpp step.cpp)
  3. spakc compile DSL --emit=tile -> manifest.txt: per host function, what each argument/result is (spak.param,
     spak.adam_m/v, spak.step, spak.input, spak.status, spak.loss, spak.grad_of, spak.grad_norm, spak.in_place_of)
  4. compiles tests/nanogpt/nanogpt_parity.cpp with the emitted kernels.cpp + step.cpp (direct c++ calls, -O2)
  5. runs it: a table (tensor, max abs err, rel err) and exit 1 on any failure.
  6. with --expect-fail-with M (repeatable): reruns the harness against a reference built with nanogpt_ref.py
     --mutate M (a deliberate deviation: erf GELU, LN eps, attention scale, no causal mask, weight decay on all
     parameters, old warmup, no clipping) and requires the check to FAIL -- proof that it can.

Usage: run_parity.py --spakc build-ng/bin/spakc [--dsl examples/nanogpt/tiny.dsl] [--work DIR] [--cxx c++]
                     [--spakc-flag=--no-fusion ...] [--tol 1e-4] [--expect-fail-with gelu_erf ...]
Exit: 0 all checks pass, 1 a check failed or a step errored, 77 skipped (no PyTorch).
"""

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SKIP = 77


def run(cmd, **kw):
    print("+ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    return subprocess.run(cmd, **kw)


def must(cmd, what, **kw):
    r = run(cmd, **kw)
    if r.returncode != 0:
        print(f"run_parity: {what} failed (exit {r.returncode})", file=sys.stderr)
        sys.exit(1)
    return r


# ---- the manifest from the tile IR ---------------------------------------------------------------------------------

def split_top(s, sep=","):
    """Split at `sep` outside (), [], {}, <> and strings."""
    out, depth, cur, instr = [], 0, [], False
    for i, c in enumerate(s):
        if instr:
            cur.append(c)
            if c == '"' and s[i - 1] != "\\":
                instr = False
            continue
        if c == '"':
            instr = True
        elif c in "([{<":
            depth += 1
        elif c in ")]}>":
            depth -= 1
        if c == sep and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
    if "".join(cur).strip():
        out.append("".join(cur).strip())
    return out


def matching(s, i):
    """Index of the bracket closing s[i]."""
    pairs = {"(": ")", "{": "}", "[": "]", "<": ">"}
    depth, instr = 0, False
    for j in range(i, len(s)):
        c = s[j]
        if instr:
            if c == '"' and s[j - 1] != "\\":
                instr = False
            continue
        if c == '"':
            instr = True
        elif c in pairs:
            depth += 1
        elif c in pairs.values():
            depth -= 1
            if depth == 0:
                return j
    raise ValueError("unbalanced brackets in a func.func signature")


def parse_entry(text):
    """'!spak_tile.buffer<4x?xi32> {spak.input = "tokens"}' -> (dtype, dims, attrs dict of strings)."""
    m = re.match(r"(?:%\w+\s*:\s*)?!spak_tile\.buffer<([^>]*)>\s*(\{.*\})?\s*$", text, re.S)
    if not m:
        raise ValueError(f"unexpected host-function type: {text[:120]}")
    parts = m.group(1).split("x")
    dtype, dims = parts[-1], ["?" if d == "?" else str(int(d)) for d in parts[:-1]]
    attrs = {}
    if m.group(2):
        for a in split_top(m.group(2)[1:-1]):
            k, _, v = a.partition("=")
            attrs[k.strip()] = v.strip()
    return dtype, dims, attrs


def role_of(attrs):
    unq = lambda v: v.strip('"')
    for key, role in (("spak.grad_of", "grad_of"), ("spak.adam_m", "adam_m"), ("spak.adam_v", "adam_v"),
                      ("spak.param", "param"), ("spak.input", "input")):
        if key in attrs:
            return role, unq(attrs[key])
    for key, role in (("spak.step", "step"), ("spak.status", "status"), ("spak.loss", "loss"),
                      ("spak.grad_norm", "grad_norm")):
        if key in attrs:
            return role, "-"
    return "value", "-"


def manifest_from_tile(tile_ir, functions=("forward", "backward", "train_step", "infer")):
    lines = []
    for fn in functions:
        m = re.search(r"func\.func @" + fn + r"\(", tile_ir)
        if not m:
            raise ValueError(f"no func.func @{fn} in the tile IR")
        open_paren = m.end() - 1
        close = matching(tile_ir, open_paren)
        args = split_top(tile_ir[open_paren + 1:close])
        rest = tile_ir[close + 1:]
        rm = re.match(r"\s*->\s*", rest)
        results = []
        if rm:
            rest = rest[rm.end():]
            if rest.startswith("("):
                results = split_top(rest[1:matching(rest, 0)])
            else:
                end = re.search(r"\s+(attributes\s|\{\s*$|\{\n)", rest, re.M)
                results = [rest[:end.start()] if end else rest.split("\n")[0]]
        lines.append(f"fn {fn}")
        for kind, entries in (("arg", args), ("res", results)):
            for i, e in enumerate(entries):
                dtype, dims, attrs = parse_entry(e)
                role, name = role_of(attrs)
                inplace = attrs.get("spak.in_place_of", "-1").split(":")[0].strip()
                # spak.valid_rows (rule pad_vocab): the real leading rows of a padded parameter (0: not padded).
                valid = attrs.get("spak.valid_rows", "0").split(":")[0].strip()
                lines.append(f"{kind} {i} {role} {name} {dtype} {','.join(dims) if dims else '-'} {inplace} {valid}")
    return "\n".join(lines) + "\n"


# ---- main ----------------------------------------------------------------------------------------------------------

def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spakc", required=True)
    ap.add_argument("--dsl", default=os.path.join(REPO, "examples", "nanogpt", "tiny.dsl"))
    ap.add_argument("--work", default=None, help="work directory (default: a fresh temporary one)")
    ap.add_argument("--cxx", default=os.environ.get("CXX", "c++"))
    ap.add_argument("--python", default="/usr/bin/python3", help="interpreter with torch for the reference")
    ap.add_argument("--spakc-flag", action="append", default=[], help="extra spakc compile flag (repeatable)")
    ap.add_argument("--tol", default="1e-4")
    ap.add_argument("--param-tol", default="1e-4")
    ap.add_argument("--expect-fail-with", action="append", default=[], metavar="MUTATION",
                    help="after passing, rerun against nanogpt_ref.py --mutate MUTATION and require a failure")
    ap.add_argument("--ref-arg", action="append", default=[], help="extra nanogpt_ref.py argument (repeatable)")
    args = ap.parse_args(argv)

    work = args.work or tempfile.mkdtemp(prefix="nanogpt_parity.")
    os.makedirs(work, exist_ok=True)
    ref_dir, proj = os.path.join(work, "ref"), os.path.join(work, "proj")

    # 1. reference
    r = run([args.python, os.path.join(REPO, "tests", "reference", "nanogpt_ref.py"), "--dsl", args.dsl,
             "--out", ref_dir] + args.ref_arg)
    if r.returncode == SKIP:
        print("SKIP: the PyTorch reference cannot run (python3-torch missing); parity not checked")
        return SKIP
    if r.returncode != 0:
        print("run_parity: the reference failed", file=sys.stderr)
        return 1

    # 2. + 3. the generated project and the manifest
    must([args.spakc, "compile", args.dsl, "-o", proj, "--target", "cpp"] + args.spakc_flag, "spakc -o")
    tile = must([args.spakc, "compile", args.dsl, "--emit=tile"] + args.spakc_flag, "spakc --emit=tile",
                stdout=subprocess.PIPE, text=True).stdout
    manifest = os.path.join(work, "manifest.txt")
    with open(manifest, "w") as f:
        f.write(manifest_from_tile(tile))

    # 4. build: the two generated sources in parallel, then the harness
    cpp = os.path.join(proj, "cpp")
    flags = ["-std=c++17", "-O2", "-I", cpp, "-I", os.path.join(REPO, "runtime", "include")]
    objs, running = [], []
    for src in (os.path.join(cpp, "kernels.cpp"), os.path.join(cpp, "step.cpp"), os.path.join(HERE, "nanogpt_parity.cpp")):
        obj = os.path.join(work, os.path.basename(src) + ".o")
        cmd = [args.cxx] + flags + ["-c", src, "-o", obj]
        print("+ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
        running.append((src, subprocess.Popen(cmd)))
        objs.append(obj)
        while len(running) >= 2 or (running and len(objs) == 3):  # at most two compilers (2 shared cores)
            src_done, p = running.pop(0)
            if p.wait() != 0:
                print(f"run_parity: compiling {src_done} failed", file=sys.stderr)
                return 1
    exe = os.path.join(work, "nanogpt_parity")
    must([args.cxx] + objs + ["-o", exe], "linking the harness")

    # 5. run against the reference
    harness = [exe, "--manifest", manifest, "--tol", args.tol, "--param-tol", args.param_tol]
    r = run(harness + ["--ref-dir", ref_dir])
    if r.returncode != 0:
        return 1

    # 6. sensitivity: a reference that deliberately deviates from nanoGPT must make the same check fail
    missed = []
    for mut in args.expect_fail_with:
        mref = os.path.join(work, "ref-" + mut)
        must([args.python, os.path.join(REPO, "tests", "reference", "nanogpt_ref.py"), "--dsl", args.dsl,
              "--out", mref, "--mutate", mut] + args.ref_arg, f"the reference with --mutate {mut}",
             stdout=subprocess.DEVNULL)
        r = run(harness + ["--ref-dir", mref], stdout=subprocess.PIPE, text=True)
        fails = [l for l in r.stdout.splitlines() if l.endswith("FAIL")]
        caught = r.returncode == 1 and "NANOGPT PARITY FAILED" in r.stdout
        print(f"mutation {mut}: {'detected' if caught else 'NOT DETECTED'} ({len(fails)} failing checks"
              + (f", first: {fails[0].split()[0]} {fails[0].split()[1]}" if fails else "") + ")")
        if not caught:
            missed.append(mut)
    if missed:
        print(f"run_parity: the check did not detect: {', '.join(missed)}", file=sys.stderr)
        return 1
    return 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
