#!/usr/bin/env python3
"""Differential test: spakc's CUDA kernels, run on the CPU through cuda_emu.h, against the cpp target's kernels.

  cuda_emu.py build --spakc BIN --work DIR [--cxx g++] [--config NAME]... [--jobs N]
      For every config (model x mma_bits): spakc writes the cuda + cpp projects and the tile IR; this script
      rewrites the CUDA kernels for the emulator (<<<>>> launches, the extern __shared__ line, namespace spak_gen ->
      spak_cu), writes emu_cases_<config>.cpp (one case per kernel: buffers sized from the kernel's IR signature,
      the grid evaluated from its `grid = [...]` expressions, both launcher calls) and builds DIR/<config>/cuda_emu.
  cuda_emu.py run --work DIR --config NAME [-- ARGS]
      Runs DIR/<config>/cuda_emu (ARGS: --kernel NAME, --list).

Configs: tiny_* = examples/nanogpt/tiny.dsl (B 4, T 48: partial 64-row tiles, 4 heads of 16), small_* =
tests/cuda_emu/small_gpt.dsl (B 2, T 128: full 64x128 attention tiles, heads of 64, 128-wide linears). fp32 = the
rules with every `law mma_bits` set to 32 (exact fp32 path), tolerance 1e-5 of the buffer's max |ref|; bf16 = the
rules' mma_bits (16): kernels with bf16 mma get 2e-2, the others 1e-5. *_s1: `law mma_schedule = 1` (the rules say 2); *_s3: `law mma_schedule = 3` (k-loop register prefetch); *_s2: schedule 2 with attention at 64 rows / 4
warps (the rules before; the plain configs now run the rules' schedule 4: matmul k-loops through cp.async rings of
f32 shared k-tiles, copied synchronously by the emulator).
"""
import argparse
import concurrent.futures
import math
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))

S2 = {"mma_schedule": 2, "attention.tile_m": 64, "attention.warps": 4, "stages": 3}
S4 = {"mma_schedule": 4, "stages": 3}
M64 = {"matmul.tile_m": 64, "matmul.warps": 4}
S5 = {"mma_schedule": 5, **M64}
CONFIGS = {
    "tiny_bf16": dict(dsl="examples/nanogpt/tiny.dsl", laws={}, B=4, T=48),
    "tiny_fp32": dict(dsl="examples/nanogpt/tiny.dsl", laws={"mma_bits": 32}, B=4, T=48),
    "small_bf16": dict(dsl="tests/cuda_emu/small_gpt.dsl", laws={}, B=2, T=128),
    "small_fp32": dict(dsl="tests/cuda_emu/small_gpt.dsl", laws={"mma_bits": 32}, B=2, T=128),
    # law mma_schedule = 1 (the rules say 2: padded shared rows, row-owning warps for softmax tiles, operand A from
    # accumulators): the plain schedule stays covered
    "tiny_bf16_s1": dict(dsl="examples/nanogpt/tiny.dsl", laws={"mma_schedule": 1}, B=4, T=48),
    "small_bf16_s1": dict(dsl="tests/cuda_emu/small_gpt.dsl", laws={"mma_schedule": 1}, B=2, T=128),
    "small_fp32_s1": dict(dsl="tests/cuda_emu/small_gpt.dsl", laws={"mma_bits": 32, "mma_schedule": 1}, B=2, T=128),
    # law mma_schedule = 3: + k-loops prefetching the next k-tile into registers during the mma
    "tiny_bf16_s3": dict(dsl="examples/nanogpt/tiny.dsl", laws={"mma_schedule": 3}, B=4, T=48),
    "small_bf16_s3": dict(dsl="tests/cuda_emu/small_gpt.dsl", laws={"mma_schedule": 3}, B=2, T=128),
    "small_bf16_splitk_s3": dict(dsl="tests/cuda_emu/small_gpt.dsl", laws={"mma_schedule": 3, "split_k_chunk": 64},
                                 B=2, T=120, kc=64),
    # schedule 2 with attention at 64 rows / 4 warps: the H100 rules before 2026-11-23's cp.async schedule (the rules
    # now say mma_schedule = 4, attention.tile_m = 128, attention.warps = 8, which the plain configs run)
    "tiny_bf16_s2": dict(dsl="examples/nanogpt/tiny.dsl", laws=S2, B=4, T=48),
    "small_bf16_s2": dict(dsl="tests/cuda_emu/small_gpt.dsl", laws=S2, B=2, T=128),
    "small_fp32_s2": dict(dsl="tests/cuda_emu/small_gpt.dsl", laws={**S2, "mma_bits": 32}, B=2, T=128),
    "small_bf16_splitk_s2": dict(dsl="tests/cuda_emu/small_gpt.dsl", laws={**S2, "split_k_chunk": 64},
                                 B=2, T=120, kc=64),
    # no power-of-two width anywhere (n_embd 60, head_dim 15, T 20, vocab 65): masked tiles, k not a multiple of 16
    "odd_bf16": dict(dsl="tests/nanogpt/odd_widths.dsl", laws={}, B=3, T=20),
    "odd_bf16_s3": dict(dsl="tests/nanogpt/odd_widths.dsl", laws={"mma_schedule": 3}, B=3, T=20),
    "odd_bf16_s2": dict(dsl="tests/nanogpt/odd_widths.dsl", laws=S2, B=3, T=20),
    # split-K weight gradients (law split_k_chunk = 64: k = B*T = 256 rows in 4 chunks, plus a masked tail at T=120)
    "small_bf16_splitk": dict(dsl="tests/cuda_emu/small_gpt.dsl", laws={"split_k_chunk": 64}, B=2, T=120, kc=64),
    "small_fp32_splitk": dict(dsl="tests/cuda_emu/small_gpt.dsl", laws={"mma_bits": 32, "split_k_chunk": 64}, B=2,
                              T=120, kc=64),
    # the main job's model (examples/microgpt/microgpt.dsl, T = 16) with the H100 rules as committed
    "microgpt_bf16": dict(dsl="examples/microgpt/microgpt.dsl", laws={}, B=1, T=16),
    "microgpt_fp32": dict(dsl="examples/microgpt/microgpt.dsl", laws={"mma_bits": 32}, B=1, T=16),
    "microgpt_bf16_s1": dict(dsl="examples/microgpt/microgpt.dsl", laws={"mma_schedule": 1}, B=1, T=16),
    "microgpt_bf16_s3": dict(dsl="examples/microgpt/microgpt.dsl", laws={"mma_schedule": 3}, B=1, T=16),
    "microgpt_bf16_s2": dict(dsl="examples/microgpt/microgpt.dsl", laws=S2, B=1, T=16),
    # schedule 4 with 3 stages: the H100 rules before 2026-11-23's schedule 5 (the plain configs now run it: bf16
    # operand copies, bf16 rings, ldmatrix, 4 stages)
    # schedule 7: attention's K / V (and Q / dO) k-loop loads through f32 cp.async rings (v_lat = 2 keeps them within
    # shared memory); attention.tile_n = 32 gives a 128-row query tile 4 key blocks, so the rings wrap
    "small_bf16_s7": dict(dsl="tests/cuda_emu/small_gpt.dsl", laws={"mma_schedule": 7, "v_lat": 2,
                                                                   "attention.tile_n": 32}, B=2, T=128),
    # ... and 64-row query tiles over 4 warps: attention_grad_dkdv's ring loop over query blocks wraps too
    "small_bf16_s7m64": dict(dsl="tests/cuda_emu/small_gpt.dsl", laws={"mma_schedule": 7, "v_lat": 2,
                                                                      "attention.tile_n": 32, "attention.tile_m": 64,
                                                                      "attention.warps": 4}, B=2, T=128),
    "tiny_bf16_s7": dict(dsl="examples/nanogpt/tiny.dsl", laws={"mma_schedule": 7, "v_lat": 2}, B=4, T=48),
    # schedule 8: the same rings in bf16 (attention's loop tiles read bf16 copies: split's producer variant writes
    # them); at the H100's k_lat / v_lat the rings fit, so no v_lat override
    "small_bf16_s8": dict(dsl="tests/cuda_emu/small_gpt.dsl", laws={"mma_schedule": 8, "attention.tile_n": 32},
                          B=2, T=128),
    "small_bf16_s8m64": dict(dsl="tests/cuda_emu/small_gpt.dsl", laws={"mma_schedule": 8, "attention.tile_n": 32,
                                                                      "attention.tile_m": 64, "attention.warps": 4},
                             B=2, T=128),
    "tiny_bf16_s8": dict(dsl="examples/nanogpt/tiny.dsl", laws={"mma_schedule": 8}, B=4, T=48),
    # schedule 9: the matmul rings filled by TMA (emulated: cuda_emu.h's tma_load_2d, mbarriers, swizzled wgmma
    # descriptors) in 64-byte (tile_k 32) and 128-byte (tile_k 64) swizzles; split-K; odd widths fall back to cp.async
    "small_bf16_s9": dict(dsl="tests/cuda_emu/small_gpt.dsl", laws={"mma_schedule": 9, "attention.tile_n": 32},
                          B=2, T=128),
    "small_bf16_s9k64": dict(dsl="tests/cuda_emu/small_gpt.dsl", laws={"mma_schedule": 9, "matmul.tile_k": 64,
                                                                      "stages": 3, "attention.tile_n": 32},
                             B=2, T=128),
    "small_bf16_splitk_s9": dict(dsl="tests/cuda_emu/small_gpt.dsl", laws={"mma_schedule": 9, "split_k_chunk": 64},
                                 B=2, T=120, kc=64),
    "odd_bf16_s9": dict(dsl="tests/nanogpt/odd_widths.dsl", laws={"mma_schedule": 9}, B=3, T=20),
    # schedule 10: the slots released on mbarriers (no CTA barrier in the k-loop)
    "small_bf16_s10": dict(dsl="tests/cuda_emu/small_gpt.dsl", laws={"mma_schedule": 10, "attention.tile_n": 32},
                           B=2, T=128),
    "small_bf16_splitk_s10k64": dict(dsl="tests/cuda_emu/small_gpt.dsl",
                                     laws={"mma_schedule": 10, "split_k_chunk": 64, "matmul.tile_k": 64, "stages": 3},
                                     B=2, T=120, kc=64),
    # attention's forward at 64 query rows over 4 warps (two query tiles of T = 128: the second runs its key tiles
    # before the diagonal in an unmasked loop, then the diagonal one), the backward kernels at their own laws
    # (`attention_grad.*`: 128 rows over 8 warps); the lse / D broadcasts into fragments read global memory again
    "small_bf16_ag": dict(dsl="tests/cuda_emu/small_gpt.dsl",
                          laws={"attention.tile_m": 64, "attention.warps": 4, "attention.tile_n": 32,
                                "attention_grad.tile_m": 128, "attention_grad.warps": 8, "attention_grad.tile_n": 128},
                          B=2, T=128),
    # one CTA per SM for the matmuls too: every fragment store through the per-warp staging area (16-byte stores of
    # row pieces), bounds-masked at odd widths
    "small_bf16_st": dict(dsl="tests/cuda_emu/small_gpt.dsl", laws={"matmul.ctas_per_sm": 1}, B=2, T=128),
    "odd_bf16_st": dict(dsl="tests/nanogpt/odd_widths.dsl", laws={"matmul.ctas_per_sm": 1}, B=3, T=20),
    # rule "GELU Grad Epilogue" enabled (the shipped rules disable it: measured slower on the H100): the data-gradient
    # matmul with gelu' in its epilogue, fused_matmul_gelu_grad (and its bf16 producer variant)
    "small_bf16_gg": dict(dsl="tests/cuda_emu/small_gpt.dsl", laws={}, enable=("GELU Grad Epilogue",), B=2, T=128),
    "tiny_fp32_gg": dict(dsl="examples/nanogpt/tiny.dsl", laws={"mma_bits": 32}, enable=("GELU Grad Epilogue",),
                         B=4, T=48),
    # rule "BF16 Logits" disabled (the shipped rules enable it since session 12; the plain configs cover it): the
    # cross-entropy kernels read the f32 logits the lm_head writes
    "small_bf16_nbl": dict(dsl="tests/cuda_emu/small_gpt.dsl", laws={}, disable=("BF16 Logits",), B=2, T=128),
    "tiny_bf16_s4": dict(dsl="examples/nanogpt/tiny.dsl", laws=S4, B=4, T=48),
    "small_bf16_s4": dict(dsl="tests/cuda_emu/small_gpt.dsl", laws=S4, B=2, T=128),
    "small_bf16_splitk_s4": dict(dsl="tests/cuda_emu/small_gpt.dsl", laws={**S4, "split_k_chunk": 64},
                                 B=2, T=120, kc=64),
    "odd_bf16_s4": dict(dsl="tests/nanogpt/odd_widths.dsl", laws=S4, B=3, T=20),
    # schedule 5 with 64 x 128 matmul tiles over 4 warps: the H100 rules before 2026-11-23's schedule 6 (the plain
    # configs now run it: the matmul k-loops on wgmma, 128 x 128 tiles over 2 warpgroups; emulated per thread from
    # the shared-memory descriptors)
    "tiny_bf16_s5": dict(dsl="examples/nanogpt/tiny.dsl", laws=S5, B=4, T=48),
    "small_bf16_s5": dict(dsl="tests/cuda_emu/small_gpt.dsl", laws=S5, B=2, T=128),
    "small_bf16_splitk_s5": dict(dsl="tests/cuda_emu/small_gpt.dsl", laws={**S5, "split_k_chunk": 64},
                                 B=2, T=120, kc=64),
    "odd_bf16_s5": dict(dsl="tests/nanogpt/odd_widths.dsl", laws=S5, B=3, T=20),
    # rows of 320 / 601 columns: the vector layout of row and elementwise kernels (law vec_width), ragged runs
    "wide_bf16": dict(dsl="tests/cuda_emu/wide_gpt.dsl", laws={}, B=2, T=64),
    "wide_fp32": dict(dsl="tests/cuda_emu/wide_gpt.dsl", laws={"mma_bits": 32}, B=2, T=64),
    # 128-column chunks: the online-softmax loops split into unmasked whole chunks and a masked tail
    "wide_bf16_c128": dict(dsl="tests/cuda_emu/wide_gpt.dsl", laws={"row.row_chunk": 128, "row.row_tile": 1}, B=2, T=64),
    # schedule 6 with one warpgroup per CTA (64-row matmul tiles over 4 warps)
    "small_bf16_s6m64": dict(dsl="tests/cuda_emu/small_gpt.dsl", laws=M64, B=2, T=128),
}
TOL_FP32 = 1e-5
TOL_BF16 = 2e-2
TOL_BF16_COPY = 8e-3  # an f32 result seen through its bf16 copy: 2^-9 relative rounding, 2^-8 of max |ref| at worst


def ceildiv(a, b):
    return -(-a // b)


def sh(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if r.returncode != 0:
        sys.exit("cuda_emu: command failed (%d): %s\n%s" % (r.returncode, " ".join(cmd), r.stdout[-6000:]))
    return r.stdout


# ---- tile IR ------------------------------------------------------------------------------------------------------
class Arg:
    def __init__(self, text):
        m = re.fullmatch(r"!spak_tile\.buffer<(.*)>", text.strip())
        self.scalar = m is None
        if self.scalar:
            self.shape, self.dtype = [], text.strip()
            return
        parts = m.group(1).split("x")
        self.dtype = parts[-1]
        self.shape = [None if p == "?" else int(p) for p in parts[:-1]]


def parse_tile(text):
    kernels = {}
    for line in text.splitlines():
        m = re.match(r"\s*spak_tile\.kernel @(\w+)\((.*?)\) attributes \{(.*)\} \{\s*$", line)
        if not m:
            continue
        args = [Arg(a.split(":", 1)[1]) for a in re.split(r",\s*(?=%arg\d+:)", m.group(2)) if a.strip()]
        g = re.search(r'grid = \[((?:"[^"]*"(?:,\s*)?)*)\]', m.group(3))
        grid = re.findall(r'"([^"]*)"', g.group(1)) if g else None
        kernels[m.group(1)] = dict(args=args, grid=grid)
    return kernels


# ---- per-kernel plans: dynamic dims, grid symbols, integer inputs ------------------------------------------------------
def family(name):
    return re.sub(r"_\d+$", "", name)


def plan(name, k, cfg):
    """Returns (dyn per arg, syms, int inits per arg, float ranges per arg) or a string: why it is skipped."""
    args, grid = k["args"], k["grid"]
    if grid is None:
        return "no grid attribute"
    if any(a.scalar for a in args):
        return "scalar arguments"
    B, T = cfg["B"], cfg["T"]
    rows = B * T
    fam = family(name)
    dyn = [rows] * len(args)
    syms = {}
    ints = [None] * len(args)
    franges = [(-1.0, 1.0)] * len(args)
    mma_like = fam in ("linear", "matmul") or fam.startswith(("fused_linear", "fused_matmul")) or fam == "fused_norm_linear"
    chunks = ceildiv(rows, cfg.get("kc", rows))
    if fam == "matmul_splitk":  # a[K, M], b[K, N] (K = rows) -> partials[chunks, M, N]
        dyn = [rows, rows, chunks]
        syms.update(M=args[2].shape[1], N=args[2].shape[2], K=rows)
    elif fam == "matmul_splitk_sum":  # partials[chunks, M, N] -> c[M, N]
        dyn = [chunks] + [rows] * (len(args) - 1)
        syms.update(M=args[-1].shape[0], N=args[-1].shape[1])
    elif fam.startswith("attention"):
        dyn = [T] * len(args)
        syms.update(T=T, B=args[0].shape[0])
    elif mma_like:
        out = [rows if d is None else d for d in args[-1].shape]
        if len(out) != 2:
            return "batched matmul (rank %d output)" % len(out)
        syms.update(M=out[0], N=out[1])
    elif fam == "reduce_cols_partial":
        if args[0].shape[1] is not None or len(args[0].shape) != 3:
            return "column reduction over a static dim"
        per = int(re.fullmatch(r"ceildiv\(R, (\d+)\)", grid[1]).group(1))
        dyn = [rows, ceildiv(rows, per)]
        syms.update(R=rows, K2=args[0].shape[2], K1=args[0].shape[0])
    elif fam == "reduce_cols":  # [K1, P, K2] partial sums -> [K1, 1, K2]; P (3 here) or K2 (rows) dynamic
        if len(args[0].shape) != 3 or args[0].shape[0] is None:
            return "unexpected column-sum shape"
        dyn = [3 if a.shape[1] is None else rows for a in args]
        syms.update(K2=args[0].shape[2] or rows, K1=args[0].shape[0])
    elif fam == "layernorm_grad_dwdb_partial":
        per = int(re.fullmatch(r"ceildiv\(rows, (\d+)\)", grid[1]).group(1))
        dyn = [rows] * 4 + [ceildiv(rows, per)] * (len(args) - 4)
        syms.update(rows=rows, C=args[0].shape[1])
    elif fam == "layernorm_grad_dwdb_sum":
        dyn = [3] * len(args)
        syms.update(K2=args[0].shape[2], K1=args[0].shape[0])
    elif fam in ("grad_sumsq", "grad_clip"):  # one kernel per size class: the members' largest numel
        syms["maxnumel"] = max(math.prod(a.shape) for a in args)
    elif fam == "fused_multi_tensor_adam":
        syms["maxnumel"] = max(math.prod(a.shape) for a in args)
        franges = [(0.0, 1.0)] * len(args)  # second moments must be >= 0
        ints[0] = [3, 10]  # step, total steps
    else:
        syms.update(rows=rows, T=rows, outer=rows, inner=rows, L=args[1].shape[-1] if len(args) > 1 else 1,
                    outer0=args[0].shape[0])
    # integer inputs
    table = next((a for a in args if a.dtype == "f32" and len(a.shape) == 2 and None not in a.shape), None)
    for i, a in enumerate(args):
        if a.dtype not in ("i32", "i64") or ints[i] is not None:
            continue
        if a.shape == [1]:
            ints[i] = [0]  # status word
        elif fam.startswith("embed") and table is not None:
            ints[i] = (0, table.shape[0])
        elif fam in ("cross_entropy_rows", "fused_softmax_xent"):
            ints[i] = (0, args[0].shape[-1])
        else:
            ints[i] = (0, 2)
    if fam not in ("reduce_cols_partial", "reduce_cols", "layernorm_grad_dwdb_partial", "layernorm_grad_dwdb_sum",
                   "fused_multi_tensor_adam", "matmul_splitk", "matmul_splitk_sum") and not fam.startswith("attention") \
            and not mma_like:
        syms["n"] = math.prod(dyn[0] if d is None else d for d in args[0].shape)
    return dyn, syms, ints, franges


def eval_grid(grid, syms):
    out = []
    for g in grid:
        expr = g.replace("max numel", "maxnumel")
        try:
            out.append(int(eval(expr, {"__builtins__": {}, "ceildiv": ceildiv}, dict(syms))))
        except Exception as e:  # noqa: BLE001
            raise KeyError("grid %r: %s" % (g, e))
    while len(out) < 3:
        out.append(1)
    return out


# ---- source rewriting ---------------------------------------------------------------------------------------------
LAUNCH_RE = re.compile(r"^(\s*)(\w+)<<<(.*?)>>>\((.*)\);\s*$", re.M)
SMEM_RE = re.compile(r"extern __shared__ __align__\(\d+\) unsigned char spak_smem\[\];")
PROTO_RE = re.compile(r"^void (launch_\w+)\((.*)\) \{$", re.M)


def rewrite_cuda(text):
    text = text.replace("#include <cuda_runtime.h>", '#include "cuda_emu.h"').replace("#pragma once", "")

    def launch(m):
        ind, name, cfg, args = m.groups()
        return "%sspak_emu::launch_named(\"%s\", %s, %s%s);" % (ind, name, name, cfg, (", " + args) if args else "")

    text = LAUNCH_RE.sub(launch, text)
    text = SMEM_RE.sub("unsigned char* spak_smem = spak_emu::smem();", text)
    text = re.sub(r"\bspak_gen\b", "spak_cu", text)
    for bad in ("<<<", "__shared__"):
        if bad in text:
            sys.exit("cuda_emu: the CUDA text still holds %r after the rewrite: extend cuda_emu.py / cuda_emu.h" % bad)
    if "mma_bf16_16816" in text and "SPAK_CUDA_EMULATION" not in text:
        sys.exit("cuda_emu: the CUDA prelude has no SPAK_CUDA_EMULATION guard around the mma asm (CudaEmitter.cpp)")
    return text


def strip_include(text, header):
    return "\n".join(l for l in text.splitlines() if l.strip() != '#include "%s"' % header) + "\n"


def params(proto_args):
    return [p.strip() for p in proto_args.split(",") if p.strip()]


def rules_with_laws(laws, d, enable=(), disable=()):
    """The rules directory: the committed one, or (laws or rules to enable / disable given) a copy in d/rules with
    these laws rewritten in every target file, the named fusion rules' `enabled: false` removed (enable) or their
    `enabled: true` turned false (disable)."""
    rules = os.path.join(SRC, "rules")
    if not laws and not enable and not disable:
        return rules
    new_rules = os.path.join(d, "rules")
    shutil.rmtree(new_rules, ignore_errors=True)
    shutil.copytree(rules, new_rules)
    fusion = os.path.join(new_rules, "fusion.dsl")
    for name in enable:
        s = open(fusion).read()
        m = re.search(r'rule\s+"%s"\s*\{[^}]*?\n(\s*enabled:\s*false\s*\n)' % re.escape(name), s)
        if not m:
            sys.exit("cuda_emu: no disabled rule \"%s\" in %s" % (name, fusion))
        open(fusion, "w").write(s[:m.start(1)] + s[m.end(1):])
    for name in disable:
        s = open(fusion).read()
        m = re.search(r'rule\s+"%s"\s*\{[^}]*?\n\s*enabled:\s*(true)\s*\n' % re.escape(name), s)
        if not m:
            sys.exit("cuda_emu: no rule \"%s\" saying `enabled: true` in %s" % (name, fusion))
        open(fusion, "w").write(s[:m.start(1)] + "false" + s[m.end(1):])
    done = set()
    for f in os.listdir(os.path.join(new_rules, "targets")):
        p = os.path.join(new_rules, "targets", f)
        s = open(p).read()
        for law, value in laws.items():
            s, c = re.subn(r"(law\s+%s\s*=\s*)\d+" % re.escape(law), r"\g<1>%d" % value, s)
            if not c and "." in law:  # a kernel-kind law (matmul.warps) the rules do not set yet: added
                s, c = re.subn(r"^(\s*)(law\s+tile_m\s*=.*)$", r"\g<1>\g<2>\n\g<1>law %s = %d" % (law, value), s,
                               count=1, flags=re.M)
            if c:
                done.add(law)
        open(p, "w").write(s)
    if done != set(laws):
        sys.exit("cuda_emu: no `law %s` in %s/targets" % (", ".join(set(laws) - done), rules))
    return new_rules


def add_case(cases, used_cu, used_cpp, name, cu_name, twins, k, cfg, cu_protos, cpp_protos, cu_of, cpp_of,
             cu_files):
    """One case: IR kernel `name` run by the CUDA launcher `cu_name` (itself or a spak-bf16-producers variant whose
    `twins` are (J, I, keep): argument J is the bf16 copy of output I) and by the cpp launcher `name`. Returns why the
    kernel is skipped, or None."""
    p = plan(name, k, cfg)
    if isinstance(p, str):
        return p
    dyn, syms, ints, franges = p
    try:
        grid = eval_grid(k["grid"], syms)
    except KeyError as e:
        return str(e)
    cu_p, cpp_p = cu_protos[cu_name][2:], cpp_protos[name][1:]
    # A variant's appended parameters (the bf16 copies and their dims) are the case's own buffers.
    nargs = len(k["args"])
    extra = [c for c in cu_p if int(re.search(r"arg(\d+)", c).group(1)) >= nargs] if twins else []
    cu_p = cu_p[:len(cu_p) - len(extra)]
    if twins and sorted(j for j, _, _ in twins) != list(range(nargs, nargs + len(twins))):
        return "variant %s: unexpected copy arguments %s" % (cu_name, twins)
    # spak-bf16-operands (mma_schedule = 5): the CUDA kernel reads a bf16 copy of an f32 buffer the cpp kernel
    # reads; the case hands it one (emu_test::bf16_copy, rounded to nearest even like the cast kernel)
    bf16_args = set()
    if len(cu_p) == len(cpp_p):
        for cp_, pp_ in zip(cu_p, cpp_p):
            if cp_ != pp_ and cp_.startswith("const uint16_t* arg") and pp_ == cp_.replace("uint16_t", "float"):
                bf16_args.add(int(cp_.rsplit("arg", 1)[1]))
    # An f32 output the variant leaves unwritten is a `const float*` parameter there.
    unwritten = {"float* arg%d" % i for _, i, keep in twins if not keep}
    cu_p = [c[6:] if c.startswith("const ") and c[6:] in unwritten else c for c in cu_p]
    if [c.replace("uint16_t", "float") if c.startswith("const uint16_t* arg") else c for c in cu_p] != cpp_p:
        return "SIGNATURE MISMATCH cuda (%s) vs cpp (%s)" % (cu_p, cpp_p)
    args = k["args"]
    call, cu_call, bad = [], [], None
    for prm in cu_p:
        typ, pname = prm.rsplit(" ", 1)
        m = re.fullmatch(r"arg(\d+)", pname)
        md = re.fullmatch(r"arg(\d+)_d(\d+)", pname)
        if m and int(m.group(1)) in bf16_args:
            call.append("(%s)p[%s]" % (typ.replace("uint16_t", "float"), m.group(1)))
            cu_call.append("h%s.data()" % m.group(1))
            continue
        if m:
            call.append("(%s)p[%s]" % (typ, m.group(1)))
        elif md:
            i, dim = int(md.group(1)), int(md.group(2))
            if args[i].shape[dim] is not None:
                bad = "dim param %s of a static dim" % pname
            call.append("int64_t(%d)" % dyn[i])
        else:
            bad = "unexpected parameter %r" % prm
        cu_call.append(call[-1])
    src_of = {j: i for j, i, _ in twins}
    for prm in extra:
        typ, pname = prm.rsplit(" ", 1)
        m = re.fullmatch(r"arg(\d+)", pname)
        md = re.fullmatch(r"arg(\d+)_d(\d+)", pname)
        if m and typ in ("uint16_t*", "const uint16_t*"):
            cu_call.append("b%s.data()" % m.group(1))
        elif md and int(md.group(1)) in src_of:
            cu_call.append("int64_t(%d)" % dyn[src_of[int(md.group(1))]])
        else:
            bad = "unexpected variant parameter %r" % prm
    if bad:
        return bad
    bufs = []
    for i, a in enumerate(args):
        shape = [dyn[i] if s is None else s for s in a.shape]
        n = math.prod(shape)
        dt = {"f32": "F32", "i32": "I32", "i64": "I64"}.get(a.dtype)
        if dt is None:
            bad = "element type %s" % a.dtype
            break
        sig = "x".join("?" if s is None else str(s) for s in a.shape) + "x" + a.dtype
        if dt == "F32":
            lo, hi = franges[i]
            bufs.append('{"arg%d %s", emu_test::Dtype::F32, %d, %r, %r, {}}' % (i, sig, n, lo, hi))
        elif isinstance(ints[i], list):
            bufs.append('{"arg%d %s", emu_test::Dtype::%s, %d, 0, 0, {%s}}' % (
                i, sig, dt, n, ", ".join(str(v) for v in ints[i])))
        else:
            bufs.append('{"arg%d %s", emu_test::Dtype::%s, %d, %d, %d, {}}' % (i, sig, dt, n, ints[i][0], ints[i][1]))
    if bad:
        return bad
    body = cu_files[cu_of[cu_name]].split("void launch_" + cu_name + "(")[0].rsplit("// kernel " + cu_name + "\n", 1)[-1]
    mma = "mma_bf16_16816(" in body or re.search(r"\bwgmma_m64n\d+k16<", body) is not None
    tol = TOL_BF16 if mma else TOL_FP32
    # A kernel without mma that reads a bf16 copy (rule "BF16 Logits": the cross-entropy over bf16 logits) sees
    # its input rounded to bf16 (2^-9 relative) where the cpp kernel reads f32.
    sig = re.search(r"\b%s\(([^)]*)\)\s*\{" % re.escape(cu_name), body)
    if not mma and sig and "const uint16_t*" in sig.group(1):
        tol = max(tol, TOL_BF16_COPY)
    # A variant that leaves an f32 output unwritten is compared through its bf16 copy (rounding: 2^-9 relative).
    if any(not keep for _, _, keep in twins):
        tol = max(tol, TOL_BF16_COPY)
    info = "grid %s (%s), dims %s" % ("x".join(map(str, grid)), ", ".join(k["grid"]),
                                      ", ".join("x".join("?" if s is None else str(s) for s in a.shape) +
                                                ("[?=%d]" % dyn[i] if None in a.shape else "")
                                                for i, a in enumerate(args)))
    g = "{%d, %d, %d}" % tuple(grid)
    copies = "".join(" const auto h%d = emu_test::bf16_copy(p[%d], %d);" % (
        i, i, math.prod(dyn[i] if s_ is None else s_ for s_ in args[i].shape)) for i in sorted(bf16_args))
    # spak-bf16-producers: each copy starts as bf16 of the output's initial values; afterwards emu_test::check_twin
    # requires it to equal bf16 of the f32 output (kept) or widens it into the f32 output (unwritten)
    numel = lambda i: math.prod(dyn[i] if s_ is None else s_ for s_ in args[i].shape)
    copies += "".join(" auto b%d = emu_test::bf16_copy(p[%d], %d);" % (j, i, numel(i)) for j, i, _ in twins)
    checks = "".join(" emu_test::check_twin(p[%d], b%d, %s);" % (i, j, "true" if keep else "false")
                     for j, i, keep in twins)
    cases.append(
        "  {\n    emu_test::Case c;\n    c.kernel = \"%s\";\n    c.info = \"%s\";\n    c.mma = %s;\n"
        "    c.tol = %r;\n    c.bufs = {%s};\n"
        "    c.run_cuda = [](void* const* p) {%s spak_cu::launch_%s(spak_cu::Grid%s, nullptr%s);%s };\n"
        "    c.run_cpp = [](void* const* p) { spak_gen::launch_%s(spak_gen::Grid%s%s); };\n"
        "    cs.push_back(std::move(c));\n  }\n" % (
            cu_name, info.replace('"', "'"), "true" if mma else "false", tol, ", ".join(bufs), copies, cu_name, g,
            "".join(", " + c for c in cu_call), checks, name, g, "".join(", " + c for c in call)))
    used_cu.add(cu_of[cu_name])
    used_cpp.add(cpp_of[name])

    return None


def generate(cfg_name, cfg, spakc, work):
    d = os.path.join(work, cfg_name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    rules = rules_with_laws(cfg["laws"], d, cfg.get("enable", ()), cfg.get("disable", ()))
    dsl = os.path.join(SRC, cfg["dsl"])
    proj = os.path.join(d, "project")
    sh([spakc, "compile", dsl, "-o", proj, "--target", "all", "--rules-dir", rules, "-q"])
    tile = sh([spakc, "compile", dsl, "--emit=tile", "--rules-dir", rules, "-q"])
    open(os.path.join(d, "tile.mlir"), "w").write(tile)
    kernels = parse_tile(tile)

    def kernel_files(sub, ext):
        files = {}
        kdir = os.path.join(proj, sub, "kernels")
        for f in sorted(os.listdir(kdir)):
            if f.endswith(ext):
                files[f] = open(os.path.join(kdir, f)).read()
        return files

    cu_files, cpp_files = kernel_files("cuda", ".cu"), kernel_files("cpp", ".cpp")
    cu_protos, cpp_protos, cu_of, cpp_of = {}, {}, {}, {}
    for f, t in cu_files.items():
        for m in PROTO_RE.finditer(t):
            cu_protos[m.group(1)[7:]] = params(m.group(2))
            cu_of[m.group(1)[7:]] = f
    for f, t in cpp_files.items():
        for m in PROTO_RE.finditer(t):
            cpp_protos[m.group(1)[7:]] = params(m.group(2))
            cpp_of[m.group(1)[7:]] = f

    # spak-bf16-producers: a CUDA variant <family>_bf16_<n>[_<i>] of kernel <family>_<n> also stores bf16 copies of
    # some outputs into appended arguments ("arg J = bf16(arg I)[, arg I unwritten]" in its math comment).
    variants = {}
    for cu_name, f in cu_of.items():
        m = re.fullmatch(r"(\w+)_bf16_(\d+)(?:_\d+)?", cu_name)
        if not m:
            continue
        head = cu_files[f].split("// kernel " + cu_name + "\n", 1)[-1].split("\n", 1)[0]
        twins = [(int(j), int(i), not unw) for j, i, unw in
                 re.findall(r"arg (\d+) = bf16\(arg (\d+)\)(, arg \d+ unwritten)?", head)]
        if twins:
            variants.setdefault("%s_%s" % (m.group(1), m.group(2)), []).append((cu_name, twins))

    cases, skipped, used_cu, used_cpp = [], [], set(), set()
    for name, k in kernels.items():
        launchers = ([(name, [])] if name in cu_protos else []) + variants.get(name, [])
        if not launchers or name not in cpp_protos:
            skipped.append((name, "no launcher in one of the targets"))
            continue
        for cu_name, twins in launchers:
            why = add_case(cases, used_cu, used_cpp, name, cu_name, twins, k, cfg, cu_protos, cpp_protos, cu_of,
                           cpp_of, cu_files)
            if why:
                skipped.append((cu_name, why))

    # emulated CUDA translation unit
    model = open(os.path.join(proj, "cuda", "model.cuh")).read()
    cu = ["// Generated by tests/cuda_emu/cuda_emu.py from %s (%s): do not edit.\n" % (cfg["dsl"], cfg_name),
          "#include <cuda_emu.h>\n", model]
    for f in sorted(used_cu):
        cu.append("\n// ---- kernels/%s\n" % f + strip_include(cu_files[f], "../model.cuh"))
    open(os.path.join(d, "emu_cuda.cpp"), "w").write(rewrite_cuda("".join(cu)))
    # cpp target translation unit
    model_h = open(os.path.join(proj, "cpp", "model.h")).read()
    cpp = ["// Generated by tests/cuda_emu/cuda_emu.py from %s (%s): do not edit.\n" % (cfg["dsl"], cfg_name), model_h]
    for f in sorted(used_cpp):
        cpp.append("\n// ---- kernels/%s\n" % f + strip_include(cpp_files[f], "../model.h"))
    open(os.path.join(d, "emu_cpp.cpp"), "w").write("".join(cpp))
    # cases
    decl_cu = "".join("void launch_%s(%s);\n" % (n, ", ".join(cu_protos[n]).replace("spak_gen::", "spak_cu::"))
                      for n in sorted(cu_protos) if cu_of[n] in used_cu)
    decl_cpp = "".join("void launch_%s(%s);\n" % (n, ", ".join(cpp_protos[n])) for n in sorted(cpp_protos)
                       if cpp_of[n] in used_cpp)
    grid_struct = "struct Grid {\n  int64_t x = 1, y = 1, z = 1;\n};\n"
    skipped_text = "".join("//   %s: %s\n" % s for s in skipped)
    open(os.path.join(d, "emu_cases.cpp"), "w").write(
        "// Generated by tests/cuda_emu/cuda_emu.py from %s (%s): do not edit.\n// Skipped kernels:\n%s"
        "#include <cuda_emu.h>\n#include <emu_harness.h>\n#include <utility>\n\n"
        "const char* const emu_config_name = \"%s\";\n\n"
        "namespace spak_cu {\n%s%s}  // namespace spak_cu\n\nnamespace spak_gen {\n%s%s}  // namespace spak_gen\n\n"
        "std::vector<emu_test::Case> emu_cases() {\n  std::vector<emu_test::Case> cs;\n%s  return cs;\n}\n" % (
            cfg["dsl"], cfg_name, skipped_text, cfg_name, grid_struct, decl_cu, grid_struct, decl_cpp, "".join(cases)))
    return d, len(cases), skipped


def compile_one(cxx, src, obj, opt):
    cmd = [cxx, "-std=c++20", opt, "-g0", "-fno-strict-aliasing", "-pthread", "-w", "-I", HERE, "-c", src, "-o", obj]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return obj, r.returncode, r.stdout, " ".join(cmd)


def cmd_build(a):
    names = a.config or list(CONFIGS)
    work = os.path.abspath(a.work)
    os.makedirs(work, exist_ok=True)
    jobs = []
    for n in names:
        d, ncases, skipped = generate(n, CONFIGS[n], a.spakc, work)
        print("cuda_emu: %s: %d kernel case(s); skipped %d: %s" % (
            n, ncases, len(skipped), ", ".join("%s (%s)" % s for s in skipped) or "-"))
        jobs += [(os.path.join(d, "emu_cuda.cpp"), os.path.join(d, "emu_cuda.o"), a.cuda_opt),
                 (os.path.join(d, "emu_cpp.cpp"), os.path.join(d, "emu_cpp.o"), "-O2"),
                 (os.path.join(d, "emu_cases.cpp"), os.path.join(d, "emu_cases.o"), "-O1")]
    jobs.append((os.path.join(HERE, "emu_main.cpp"), os.path.join(work, "emu_main.o"), "-O2"))
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as ex:
        for obj, rc, out, cmd in ex.map(lambda j: compile_one(a.cxx, *j), jobs):
            if rc != 0:
                sys.exit("cuda_emu: compile failed: %s\n%s" % (cmd, out[-8000:]))
    for n in names:
        d = os.path.join(work, n)
        sh([a.cxx, "-pthread", "-o", os.path.join(d, "cuda_emu")] +
           [os.path.join(d, o) for o in ("emu_cuda.o", "emu_cpp.o", "emu_cases.o")] + [os.path.join(work, "emu_main.o")])
    print("cuda_emu: built %s" % ", ".join(os.path.join(work, n, "cuda_emu") for n in names))


def cmd_run(a):
    exe = os.path.join(os.path.abspath(a.work), a.config, "cuda_emu")
    if not os.path.exists(exe):
        sys.exit("cuda_emu: %s is not built (cuda_emu.py build)" % exe)
    os.execv(exe, [exe] + a.args)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--spakc", required=True)
    b.add_argument("--work", required=True)
    b.add_argument("--cxx", default=os.environ.get("CXX", "g++"))
    b.add_argument("--config", action="append", choices=sorted(CONFIGS))
    b.add_argument("--jobs", type=int, default=2)
    b.add_argument("--cuda-opt", default="-O1", help="optimisation of the emulated CUDA kernels")
    r = sub.add_parser("run")
    r.add_argument("--work", required=True)
    r.add_argument("--config", required=True, choices=sorted(CONFIGS))
    r.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    {"build": cmd_build, "run": cmd_run}[a.cmd](a)


if __name__ == "__main__":
    main()
