#!/usr/bin/env python3
"""The WHOLE generated cuda trainer (main.cu, step.cu, every kernel) on the CPU, against the cpp trainer.

  trainer_emu.py build --spakc BIN --work DIR --config NAME [--cxx g++] [--jobs N]
      spakc writes the cuda + cpp projects of the config's model (rules as committed, or a copy with the config's
      laws); every .cu / .cuh file of cuda/ and the runtime headers are copied into DIR/<config>/emu/ with the
      emulator's rewrites (<<<>>> launches, extern / static __shared__, <cuda_runtime.h> -> cuda_runtime_emu.h) and
      built with the host compiler into DIR/<config>/train_cuda_emu (no nvcc, NCCL off); the cpp project is built
      with the host compiler into DIR/<config>/train_cpp (the generated CMake project is not used).
  trainer_emu.py compare --work DIR --config NAME --data FILE
      Runs train_cpp, train_cuda_emu (CUDA graphs) and train_cuda_emu --no-cuda-graph with the config's flags
      (--steps N --stop-after K --sample 0 --log X.jsonl) and compares the per-step losses of the JSONL logs:
      max |loss_cuda - loss_cpp| <= the config's tolerance, and the graph / no-graph runs within 1e-6 of each other.
      Prints the emulated ms / step. Exit 77 (ctest SKIP) when the data file is missing.
  trainer_emu.py test ...      build, then compare (what ctest runs).

Configs: microgpt_bf16 (examples/microgpt/microgpt.dsl, committed rules: bf16 tensor-core mma, tolerance 2e-2),
microgpt_fp32 (law mma_bits = 32: exact fp32 path, 1e-4), tiny_bf16 / tiny_fp32 (examples/nanogpt/tiny.dsl),
tiny_bf16_s3 (law mma_schedule = 3: k-loop register prefetch), tiny_bf16_s2 (schedule 2, attention 64 rows / 4 warps: the rules before schedule 4),
tiny_bf16_s4 (schedule 4: the rules before schedule 5's bf16 operand copies, which the plain configs now run).
"""
import argparse
import concurrent.futures
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cuda_emu  # noqa: E402  (rules_with_laws, SRC)

SRC = cuda_emu.SRC

CONFIGS = {
    # --sample 5: @infer through Device::next_logits; with fp32 the samples must equal the cpp trainer's
    "microgpt_bf16": dict(dsl="examples/microgpt/microgpt.dsl", laws={}, tol=2e-2, split=True,
                          args=["--steps", "1000", "--stop-after", "20", "--sample", "5"]),
    "microgpt_fp32": dict(dsl="examples/microgpt/microgpt.dsl", laws={"mma_bits": 32}, tol=1e-4, split=True,
                          same_samples=True, args=["--steps", "1000", "--stop-after", "20", "--sample", "5"]),
    # tiny.dsl is char-level with vocab 65: without tinyshakespeare/input.txt it trains on a synthetic text of the
    # same 65 characters (synthetic_text)
    "tiny_bf16": dict(dsl="examples/nanogpt/tiny.dsl", laws={}, tol=2e-2, synthetic=True,
                      args=["--steps", "200", "--stop-after", "5", "--sample", "0"]),
    "tiny_fp32": dict(dsl="examples/nanogpt/tiny.dsl", laws={"mma_bits": 32}, tol=1e-4, synthetic=True,
                      args=["--steps", "200", "--stop-after", "5", "--sample", "0"]),
    # law mma_schedule = 3: k-loops prefetching the next k-tile into registers
    "tiny_bf16_s3": dict(dsl="examples/nanogpt/tiny.dsl", laws={"mma_schedule": 3}, tol=2e-2, synthetic=True,
                         args=["--steps", "200", "--stop-after", "5", "--sample", "0"]),
    # schedule 2 with attention at 64 rows / 4 warps (the H100 rules before the cp.async schedule 4)
    "tiny_bf16_s2": dict(dsl="examples/nanogpt/tiny.dsl", laws=cuda_emu.S2, tol=2e-2, synthetic=True,
                         args=["--steps", "200", "--stop-after", "5", "--sample", "0"]),
    # schedule 4 with 3 stages: the rules before schedule 5's bf16 operand copies
    "tiny_bf16_s4": dict(dsl="examples/nanogpt/tiny.dsl", laws=cuda_emu.S4, tol=2e-2, synthetic=True,
                         args=["--steps", "200", "--stop-after", "5", "--sample", "0"]),
    # schedule 9: the matmul rings filled by TMA (tensor maps built and cached by the launchers, captured in the
    # CUDA graph as kernel parameters)
    "tiny_bf16_s9": dict(dsl="examples/nanogpt/tiny.dsl", laws={"mma_schedule": 9}, tol=2e-2, synthetic=True,
                         args=["--steps", "200", "--stop-after", "5", "--sample", "0"]),
}
TOL_GRAPH = 1e-6  # graph replay vs eager launches: the same kernels in the same order
TOL_SPLIT = 1e-4  # SPAK_SPLIT_STEP=1 (@backward + main.cu's dp:: optimizer kernels) vs the compiled @train_step
SHAKESPEARE_CHARS = "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def synthetic_text(path, n=120000):
    """A deterministic text over tiny shakespeare's 65 characters (every one occurs): words of lower-case letters,
    some capitalised, punctuation, line breaks."""
    import random
    rnd = random.Random(1234)
    lower = "abcdefghijklmnopqrstuvwxyz"
    out = [SHAKESPEARE_CHARS[1:] + "\n"]
    size = len(out[0])
    while size < n:
        w = "".join(rnd.choice(lower[:rnd.randint(6, 26)]) for _ in range(rnd.randint(1, 8)))
        if rnd.random() < 0.15:
            w = w.capitalize() if rnd.random() < 0.7 else w.upper()
        w += rnd.choice(" " * 12 + ",.;:!?'-&$3\n")
        out.append(w)
        size += len(w)
    open(path, "w").write("".join(out))


def log(msg):
    print("trainer_emu: " + msg, flush=True)


def sh(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if r.returncode != 0:
        sys.exit("trainer_emu: command failed (%d): %s\n%s" % (r.returncode, " ".join(cmd), r.stdout[-8000:]))
    return r.stdout


# ---- the rewrites ---------------------------------------------------------------------------------------------------
def _match_paren(text, p):
    """text[p] == '(': index of the matching ')'."""
    depth = 0
    for q in range(p, len(text)):
        c = text[q]
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return q
    raise ValueError("unbalanced parentheses after offset %d" % p)


def _top_level_commas(s):
    depth, n = 0, 0
    for c in s:
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            n += 1
    return n


def rewrite_launches(text, where):
    """kernel<<<grid, block[, smem[, stream]]>>>(args);  ->  spak_emu::launch_named("kernel", kernel, grid, block,
    smem, stream, args);  (any spacing, qualified names, launches over several lines)."""
    out, i = [], 0
    while True:
        j = text.find("<<<", i)
        if j < 0:
            out.append(text[i:])
            return "".join(out)
        m = re.search(r"([A-Za-z_][\w:]*)\s*$", text[i:j])
        k = text.find(">>>", j)
        if not m or k < 0:
            sys.exit("trainer_emu: %s: cannot parse the launch at offset %d: %r" % (where, j, text[j - 60:j + 60]))
        name = m.group(1)
        cfg = text[j + 3:k].strip()
        p = k + 3
        while text[p].isspace():
            p += 1
        if text[p] != "(":
            sys.exit("trainer_emu: %s: no argument list after the launch of %s" % (where, name))
        q = _match_paren(text, p)
        args = " ".join(text[p + 1:q].split())
        n = _top_level_commas(cfg)
        cfg += ", 0, nullptr" if n == 1 else ", nullptr" if n == 2 else ""
        out.append(text[i:i + m.start(1)])
        out.append('spak_emu::launch_named("%s", %s, %s%s)' % (name, name, cfg, (", " + args) if args else ""))
        i = q + 1


SMEM_EXTERN_RE = re.compile(r"extern\s+__shared__\s+__align__\(\d+\)\s+unsigned\s+char\s+(\w+)\[\];")
SMEM_STATIC_RE = re.compile(r"(?<!extern )__shared__\s+(?:__align__\((\d+)\)\s+)?([\w:<> ]+?)\s+(\w+)\[([^\]]+)\];")


def rewrite_file(text, where):
    text = text.replace("#include <cuda_runtime.h>", '#include "cuda_runtime_emu.h"')
    text = text.replace("#include <cuda_bf16.h>", "// <cuda_bf16.h>: cuda_emu.h has the bf16 subset")
    text = rewrite_launches(text, where)
    text = SMEM_EXTERN_RE.sub(lambda m: "unsigned char* %s = spak_emu::smem();" % m.group(1), text)

    def static(m):
        _, typ, name, n = m.groups()
        return ("static char %s_spak_tag; auto& %s = *reinterpret_cast<%s(*)[%s]>(spak_emu::shared_var(&%s_spak_tag, "
                "sizeof(%s[%s])));" % (name, name, typ, n, name, typ, n))

    text = SMEM_STATIC_RE.sub(static, text)
    code = re.sub(r"//[^\n]*", "", text)  # line comments may name them
    for bad in ("<<<", "__shared__", "#include <cuda_runtime.h>", "#include <cuda_bf16.h>"):
        if bad in code:
            line = code[:code.find(bad)].count("\n") + 1
            sys.exit("trainer_emu: %s:%d still holds %r after the rewrite: extend trainer_emu.py / cuda_emu.h"
                     % (where, line, bad))
    if "mma_bf16_16816" in text and "__nv_bfloat162" in text and "SPAK_CUDA_EMULATION" not in text:
        sys.exit("trainer_emu: %s: the CUDA prelude has no SPAK_CUDA_EMULATION guard around the mma asm" % where)
    return text


# ---- build ----------------------------------------------------------------------------------------------------------
def compile_one(cmd):
    t = time.time()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return cmd, r.returncode, r.stdout, time.time() - t


def build(cfg_name, spakc, work, cxx, jobs):
    cfg = CONFIGS[cfg_name]
    d = os.path.join(work, cfg_name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    rules = cuda_emu.rules_with_laws(cfg["laws"], d, cfg.get("enable", ()))
    proj = os.path.join(d, "project")
    sh([spakc, "compile", os.path.join(SRC, cfg["dsl"]), "-o", proj, "--target", "all", "--rules-dir", rules, "-q"])

    # the cuda project, rewritten: emu/cuda/{main.cu, step.cu, model.cuh, kernels/*.cu}, emu/runtime/...
    emu = os.path.join(d, "emu")
    shutil.copytree(os.path.join(proj, "runtime"), os.path.join(emu, "runtime"))
    shutil.copytree(os.path.join(proj, "cuda"), os.path.join(emu, "cuda"))
    rewritten = 0
    for root, _, files in os.walk(emu):
        for f in files:
            if f.endswith((".cu", ".cuh", ".h", ".hpp", ".cpp")):
                p = os.path.join(root, f)
                s = open(p).read()
                t = rewrite_file(s, os.path.relpath(p, emu))
                if t != s:
                    open(p, "w").write(t)
                    rewritten += 1
    cuda_dir = os.path.join(emu, "cuda")
    cu_srcs = [os.path.join(cuda_dir, "main.cu"), os.path.join(cuda_dir, "step.cu")] + sorted(
        os.path.join(cuda_dir, "kernels", f) for f in os.listdir(os.path.join(cuda_dir, "kernels")) if f.endswith(".cu"))
    cpp_dir = os.path.join(proj, "cpp")
    cpp_srcs = [os.path.join(cpp_dir, "main.cpp"), os.path.join(cpp_dir, "step.cpp")] + sorted(
        os.path.join(cpp_dir, "kernels", f) for f in os.listdir(os.path.join(cpp_dir, "kernels")) if f.endswith(".cpp"))
    for p in cu_srcs + cpp_srcs:
        if not os.path.exists(p):
            sys.exit("trainer_emu: %s is missing from the generated project" % p)

    objs = {"cuda": [], "cpp": []}
    cmds = []
    for kind, srcs, incs, std, lang in (
            ("cuda", cu_srcs, [cuda_dir, os.path.join(emu, "runtime"), HERE], "-std=c++20", ["-x", "c++"]),
            ("cpp", cpp_srcs, [cpp_dir, os.path.join(proj, "runtime")], "-std=c++17", [])):
        od = os.path.join(d, "obj_" + kind)
        os.makedirs(od, exist_ok=True)
        for src in srcs:
            obj = os.path.join(od, os.path.relpath(src, os.path.dirname(srcs[0])).replace("/", "_") + ".o")
            objs[kind].append(obj)
            cmds.append([cxx, std, "-O2", "-g0", "-fno-strict-aliasing", "-pthread", "-w",
                         "-DSPAK_PROJECT_DIR=\"%s\"" % proj] + sum((["-I", i] for i in incs), []) +
                        lang + ["-c", src, "-o", obj])
    t0 = time.time()
    # biggest sources first: the attention kernels dominate the build
    cmds.sort(key=lambda c: -os.path.getsize(c[-3]))
    with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
        for cmd, rc, out, _ in ex.map(compile_one, cmds):
            if rc != 0:
                sys.exit("trainer_emu: compile failed: %s\n%s" % (" ".join(cmd), out[-8000:]))
    for kind, exe in (("cuda", "train_cuda_emu"), ("cpp", "train_cpp")):
        sh([cxx, "-pthread", "-o", os.path.join(d, exe)] + objs[kind])
    log("%s: %d files rewritten, %d + %d sources built in %.0f s: %s, %s" % (
        cfg_name, rewritten, len(cu_srcs), len(cpp_srcs), time.time() - t0, os.path.join(d, "train_cuda_emu"),
        os.path.join(d, "train_cpp")))


# ---- compare --------------------------------------------------------------------------------------------------------
def read_log(path, event=None):
    """The step lines of a JSONL log, or (event="eval") its evaluation lines."""
    out = []
    for line in open(path):
        line = line.strip()
        if not line:
            continue
        o = json.loads(line)
        if o.get("event") != event or (event is None and "loss" not in o):
            continue
        out.append(o)
    return out


def run_trainer(exe, args, logp, env_extra=None):
    env = dict(os.environ)
    env.update(env_extra or {})
    t = time.time()
    r = subprocess.run([exe] + args + ["--log", logp], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       env=env, cwd=os.path.dirname(exe))
    wall = time.time() - t
    if r.returncode != 0:
        sys.exit("trainer_emu: %s failed (exit %d):\n%s" % (" ".join([exe] + args), r.returncode, r.stdout[-6000:]))
    return read_log(logp), wall, r.stdout


def compare(cfg_name, work, data):
    cfg = CONFIGS[cfg_name]
    d = os.path.join(os.path.abspath(work), cfg_name)
    if not os.path.exists(data):
        if not cfg.get("synthetic"):
            print("trainer_emu: SKIP: no data file %s" % data)
            sys.exit(77)
        missing, data = data, os.path.join(d, "synthetic.txt")
        synthetic_text(data)
        log("%s: no %s, training on a synthetic text: %s" % (cfg_name, missing, data))
    args = ["--data", os.path.abspath(data)] + cfg["args"]
    runs, samples = {}, {}
    for label, exe, extra, env in (("cpp", "train_cpp", [], {}), ("cuda_graph", "train_cuda_emu", [], {}),
                                   ("cuda_eager", "train_cuda_emu", ["--no-cuda-graph"], {}),
                                   ("cuda_split", "train_cuda_emu", [], {"SPAK_SPLIT_STEP": "1"})):
        if label == "cuda_split" and not cfg.get("split"):
            continue  # tiny: the per-tensor dp:: kernels make the emulated split step ~3x slower
        steps, wall, out = run_trainer(os.path.join(d, exe), args + extra, os.path.join(d, label + ".jsonl"), env)
        runs[label] = steps
        samples[label] = [l.split(":", 1)[1].strip() for l in out.splitlines() if re.match(r"sample\s+\d+:", l)]
        ms = [s["ms"] for s in steps if "ms" in s]
        head = next((l for l in out.splitlines() if "cuda (" in l or "device" in l.lower()), "")
        log("%s %-10s %2d steps, %.1f s wall, %.1f ms/step (median of the log's ms)%s" % (
            cfg_name, label, len(steps), wall, sorted(ms)[len(ms) // 2] if ms else float("nan"),
            ("  [" + head.strip()[:100] + "]") if head else ""))
    ref = runs["cpp"]
    ok = True
    want = None
    if "--stop-after" in cfg["args"]:
        want = int(cfg["args"][cfg["args"].index("--stop-after") + 1])
    for label in ("cuda_graph", "cuda_eager"):
        got = runs[label]
        if len(got) != len(ref) or (want is not None and len(ref) != want):
            log("FAIL %s: %d logged steps vs %d (cpp), expected %s" % (label, len(got), len(ref), want))
            ok = False
            continue
        diffs = [abs(g["loss"] - r["loss"]) for g, r in zip(got, ref)]
        worst = max(range(len(diffs)), key=lambda i: diffs[i])
        bad = [i for i, x in enumerate(diffs) if not (x <= cfg["tol"])]
        log("%s %s vs cpp: max |dloss| %.3g at step %d (cpp %.6f, cuda %.6f), tol %g: %s" % (
            cfg_name, label, diffs[worst], ref[worst]["step"], ref[worst]["loss"], got[worst]["loss"], cfg["tol"],
            "OK" if not bad else "FAIL at steps %s" % [ref[i]["step"] for i in bad]))
        ok = ok and not bad
        if "grad_norm" in ref[0] and "grad_norm" in got[0]:
            gd = max(abs(g["grad_norm"] - r["grad_norm"]) / max(1e-12, abs(r["grad_norm"])) for g, r in zip(got, ref))
            log("%s %s vs cpp: max relative |dgrad_norm| %.3g" % (cfg_name, label, gd))
    ev_ref = read_log(os.path.join(d, "cpp.jsonl"), "eval")
    ev = read_log(os.path.join(d, "cuda_graph.jsonl"), "eval")
    if len(ev) != len(ev_ref):
        log("FAIL eval: %d eval lines vs %d (cpp)" % (len(ev), len(ev_ref)))
        ok = False
    elif ev:
        dv = max(abs(a[k] - b[k]) for a, b in zip(ev, ev_ref) for k in ("train_loss", "val_loss"))
        log("%s eval (train_loss, val_loss) vs cpp: max |d| %.3g, tol %g: %s" % (cfg_name, dv, cfg["tol"],
                                                                                 "OK" if dv <= cfg["tol"] else "FAIL"))
        ok = ok and dv <= cfg["tol"]
    if samples["cpp"] or samples["cuda_graph"]:
        same = samples["cpp"] == samples["cuda_graph"] == samples["cuda_eager"]
        log("%s samples: cpp %s, cuda %s: %s" % (cfg_name, samples["cpp"], samples["cuda_graph"],
                                                 "identical" if same else "differ"))
        if cfg.get("same_samples") and not same:
            log("FAIL: the fp32 cuda trainer's samples differ from the cpp trainer's")
            ok = False
    g, e = runs["cuda_graph"], runs["cuda_eager"]
    if len(g) == len(e):
        ge = max((abs(a["loss"] - b["loss"]) for a, b in zip(g, e)), default=0.0)
        log("%s graph vs --no-cuda-graph: max |dloss| %.3g, tol %g: %s" % (cfg_name, ge, TOL_GRAPH,
                                                                            "OK" if ge <= TOL_GRAPH else "FAIL"))
        ok = ok and ge <= TOL_GRAPH
    sp = runs.get("cuda_split")
    if sp is None:
        pass
    elif len(sp) == len(g):
        sd = max((abs(a["loss"] - b["loss"]) for a, b in zip(sp, g)), default=0.0)
        log("%s SPAK_SPLIT_STEP=1 (dp:: optimizer kernels of main.cu) vs graph: max |dloss| %.3g, tol %g: %s" % (
            cfg_name, sd, TOL_SPLIT, "OK" if sd <= TOL_SPLIT else "FAIL"))
        ok = ok and sd <= TOL_SPLIT
    else:
        log("FAIL cuda_split: %d logged steps vs %d" % (len(sp), len(g)))
        ok = False
    print("\n".join("  step %3d  cpp %.7f  cuda(graph) %.7f  cuda(eager) %.7f  |d| %.2e" % (
        r["step"], r["loss"], a["loss"], b["loss"], abs(a["loss"] - r["loss"]))
                    for r, a, b in zip(ref, g, e)))
    if not ok:
        sys.exit("trainer_emu: %s: FAIL" % cfg_name)
    log("%s: PASS" % cfg_name)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("build", "compare", "test"):
        p = sub.add_parser(name)
        p.add_argument("--work", required=True)
        p.add_argument("--config", required=True, choices=sorted(CONFIGS))
        if name in ("build", "test"):
            p.add_argument("--spakc", required=True)
            p.add_argument("--cxx", default=os.environ.get("CXX", "g++"))
            p.add_argument("--jobs", type=int, default=2)
        if name in ("compare", "test"):
            p.add_argument("--data", required=True)
    a = ap.parse_args()
    work = os.path.abspath(a.work)
    if a.cmd in ("compare", "test") and not os.path.exists(a.data) and not CONFIGS[a.config].get("synthetic"):
        print("trainer_emu: SKIP: no data file %s" % a.data)
        sys.exit(77)
    if a.cmd in ("build", "test"):
        build(a.config, a.spakc, work, a.cxx, a.jobs)
    if a.cmd in ("compare", "test"):
        compare(a.config, work, a.data)


if __name__ == "__main__":
    main()
