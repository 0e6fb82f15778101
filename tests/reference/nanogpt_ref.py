#!/usr/bin/env python3
"""nanogpt_ref.py -- an independent PyTorch re-implementation of nanoGPT's GPT train step (Karpathy's model.py +
train.py semantics), the reference that spakc's NanoGPT lowering is checked against (docs/nanogpt.md).

Everything that decides the numbers follows nanoGPT:
  * model (model.py, bias=True, dropout 0): x = wte[tok] + wpe[pos]; per block x += c_proj(attn(ln_1(x))),
    x += mlp.c_proj(gelu_tanh(mlp.c_fc(ln_2(x)))); logits = ln_f(x) @ wte^T (weight tying: ONE tensor, its gradient
    is the sum of the embedding and the lm_head gradients). LayerNorm(eps 1e-5) with weight and bias, c_attn [3C, C]
    split into q, k, v along the output features, heads = contiguous hd-wide column groups, causal softmax of
    q k^T / sqrt(hd) with -inf above the diagonal (model.py's non-flash path), loss = mean cross entropy.
  * optimizer (train.py / configure_optimizers): torch.optim.AdamW, weight decay only on parameters with dim >= 2
    (wte, wpe, every linear weight), 0 on biases and LayerNorm parameters; eps 1e-8.
  * lr (train.py get_lr): it < warmup: lr * (it + 1) / (warmup + 1); it > lr_decay_iters: min_lr; else cosine from
    lr to min_lr over [warmup, lr_decay_iters], lr_decay_iters = steps.
  * clip: torch.nn.utils.clip_grad_norm_(params, grad_clip) before the step; the pre-clip norm is logged.
  * data (train.py get_batch): char-level vocabulary (sorted set of input.txt), first 90% is train, each step draws
    B random offsets i and takes x = data[i:i+T], y = data[i+1:i+1+T]. The batches are written to a file so the C++
    side consumes the identical tokens.

The sizes and hyper-parameters are READ from the .dsl (config block, batch, steps, adamw {}, cosine {}, grad_clip,
seed), so tiny.dsl and this reference cannot drift apart silently.

Initialization: nanoGPT's (N(0, 0.02), residual projections N(0, 0.02 / sqrt(2 n_layer)), biases 0, LayerNorm 1/0),
drawn from torch.Generator(seed) in the compiler's parameter order and rounded to float32 (the compiled model is
float32; the float64 reference starts from the same rounded values). With --perturb (the parity check's default)
biases and LayerNorm parameters get small random offsets so that every parameter influences the loss at step 0 (with
zero biases / unit LN weights a lowering that dropped a bias would still match the first forward).

Outputs (--out DIR):
  init.safetensors     F32 parameters by the compiler's spak.param names
  batches.safetensors  I32 "tokens" and "targets", shape [steps, B, T]
  step0.safetensors    F64 "logits" [B, T, V], "loss" [1], "grad_norm" [1] and "grad.<param>" for every parameter,
                       one forward + backward on batch 0 from the init weights
  train.jsonl          one line per step: {"step", "lr", "loss", "grad_norm"} for `steps` AdamW steps (loss and norm
                       before the update, as train.py logs them)
  final.safetensors    F64 parameters after the last step ("param.<name>")
  config.json          the numbers read from the .dsl

Usage: /usr/bin/python3 tests/reference/nanogpt_ref.py --dsl examples/nanogpt/tiny.dsl --out /tmp/ref [--no-perturb]
       [--batch N] [--run-steps N]   (a smaller batch / fewer steps, e.g. for shakespeare_char.dsl at full width)
       [--dtype float64|float32] [--compare-fp32]   (--compare-fp32 prints float32 torch vs float64 torch: the floor)
Exit status: 0 ok, 1 error, 2 usage error; 77 when torch is not importable (the ctest SKIP code).
"""

import argparse
import json
import math
import os
import re
import struct
import sys

try:
    import torch
    import torch.nn.functional as F
except ImportError as e:  # the ctest registers 77 as SKIP_RETURN_CODE
    print(f"SKIP: PyTorch is not importable ({e}); install python3-torch", file=sys.stderr)
    sys.exit(77)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED_DATA = os.path.join(os.path.dirname(REPO), "shared", "data")
LN_EPS = 1e-5
# Deliberately wrong variants (--mutate), used by the negative ctest to prove the parity check can fail.
MUTATIONS = {
    "gelu_erf": "exact erf GELU instead of the tanh approximation",
    "ln_eps": "LayerNorm eps 1e-3 instead of 1e-5",
    "attn_scale": "attention scores scaled by 1/hd instead of 1/sqrt(hd)",
    "no_causal": "attention without the causal mask",
    "wd_all": "weight decay on every parameter (also biases and LayerNorm)",
    "warmup_old": "warmup lr * it / warmup (older nanoGPT) instead of lr * (it + 1) / (warmup + 1)",
    "no_clip": "no gradient-norm clipping",
}
MUTATE = set()


class RefError(Exception):
    pass


# ---- configuration from the .dsl ------------------------------------------------------------------------------------

def _block(text, opener):
    """The text between `opener {` and its matching `}`."""
    m = re.search(opener + r"\s*\{", text)
    if not m:
        raise RefError(f"no '{opener} {{' block in the .dsl")
    depth, i = 1, m.end()
    while depth and i < len(text):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    return text[m.end():i - 1]


def _num(block, key, what):
    m = re.search(r"(?<![\w.])" + key + r"\s*:\s*([-+0-9.eE]+)", block)
    if not m:
        raise RefError(f"'{key}' not found in {what}")
    s = m.group(1)
    return float(s) if any(c in s for c in ".eE") else int(s)


def read_dsl_config(path):
    with open(path, encoding="utf-8") as f:
        text = re.sub(r"//[^\n]*", "", f.read())
    model, train = _block(text, r"config"), _block(text, r"train")
    adamw, cosine = _block(train, r"adamw"), _block(train, r"cosine")
    cfg = {k: _num(model, k, "config {}") for k in ("vocab", "n_embd", "n_head", "n_layer", "block_size")}
    cfg["std"] = _num(model, "std", "config {}")
    cfg["batch"] = _num(train, "batch", "train {}")
    cfg["steps"] = _num(train, "steps", "train {}")
    cfg["seed"] = _num(train, "seed", "train {}")
    cfg["grad_clip"] = float(_num(train, "grad_clip", "train {}"))
    for k in ("lr", "beta1", "beta2", "eps", "weight_decay"):
        cfg[k] = float(_num(adamw, k, "adamw {}"))
    cfg["warmup"] = _num(cosine, "warmup", "cosine {}")
    cfg["min_lr"] = float(_num(cosine, "min_lr", "cosine {}"))
    m = re.search(r'data\s*:\s*text\(\s*"([^"]+)"', train)
    cfg["data"] = m.group(1) if m else "tinyshakespeare/input.txt"
    if re.search(r"seq_len\s*:\s*block_size", train) is None:
        raise RefError("the reference assumes seq_len: block_size")
    if not re.search(r"linear\(layernorm\(x, ln_f\.weight, ln_f\.bias\), wte\)", text):
        raise RefError("the reference assumes weight tying (logits = linear(layernorm(x, ln_f...), wte))")
    if cfg["n_embd"] % cfg["n_head"]:
        raise RefError("n_embd must be divisible by n_head")
    return cfg


# ---- parameters (the compiler's order and spak.param names) ---------------------------------------------------------

def param_specs(cfg):
    """(name, shape, init) in the order the DSL declares them (= the host functions' argument order)."""
    C, V, L, std = cfg["n_embd"], cfg["vocab"], cfg["n_layer"], cfg["std"]
    proj = std / math.sqrt(2 * L)
    specs = [("transformer.wte.weight", (V, C), ("normal", std)),
             ("transformer.wpe.weight", (cfg["block_size"], C), ("normal", std))]
    for i in range(L):
        p = f"transformer.h.{i}."
        specs += [(p + "ln_1.weight", (C,), ("ones",)), (p + "ln_1.bias", (C,), ("zeros",)),
                  (p + "attn.c_attn.weight", (3 * C, C), ("normal", std)), (p + "attn.c_attn.bias", (3 * C,), ("zeros",)),
                  (p + "attn.c_proj.weight", (C, C), ("normal", proj)), (p + "attn.c_proj.bias", (C,), ("zeros",)),
                  (p + "ln_2.weight", (C,), ("ones",)), (p + "ln_2.bias", (C,), ("zeros",)),
                  (p + "mlp.c_fc.weight", (4 * C, C), ("normal", std)), (p + "mlp.c_fc.bias", (4 * C,), ("zeros",)),
                  (p + "mlp.c_proj.weight", (C, 4 * C), ("normal", proj)), (p + "mlp.c_proj.bias", (C,), ("zeros",))]
    specs += [("transformer.ln_f.weight", (C,), ("ones",)), ("transformer.ln_f.bias", (C,), ("zeros",))]
    return specs


def init_params(cfg, perturb):
    """float32-rounded initial values (as float32 tensors), nanoGPT's init (+ optional perturbation)."""
    g = torch.Generator().manual_seed(cfg["seed"])
    out = {}
    for name, shape, init in param_specs(cfg):
        if init[0] == "normal":
            t = torch.randn(shape, generator=g, dtype=torch.float64) * init[1]
        elif init[0] == "ones":
            t = torch.ones(shape, dtype=torch.float64)
            if perturb:
                t = t + 0.1 * torch.randn(shape, generator=g, dtype=torch.float64)
        else:
            t = torch.zeros(shape, dtype=torch.float64)
            if perturb:  # the MLP input bias spreads the GELU inputs over its curve (see the module comment)
                sd = 1.0 if name.endswith("mlp.c_fc.bias") else 0.02
                t = t + sd * torch.randn(shape, generator=g, dtype=torch.float64)
        out[name] = t.to(torch.float32)
    return out


# ---- data ----------------------------------------------------------------------------------------------------------

def make_batches(cfg, data_root):
    path = os.path.join(data_root, cfg["data"])
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise RefError(f"cannot read '{path}': {e.strerror}")
    chars = sorted(set(text))
    if len(chars) != cfg["vocab"]:
        raise RefError(f"'{path}' has {len(chars)} distinct characters, the .dsl says vocab {cfg['vocab']}")
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text[:int(0.9 * len(text))]], dtype=torch.int64)
    g = torch.Generator().manual_seed(cfg["seed"] + 1)
    B, T, S = cfg["batch"], cfg["block_size"], cfg["run_steps"]
    xs, ys = [], []
    for _ in range(S):
        ix = torch.randint(len(data) - T - 1, (B,), generator=g)
        xs.append(torch.stack([data[i:i + T] for i in ix]))
        ys.append(torch.stack([data[i + 1:i + 1 + T] for i in ix]))
    return torch.stack(xs).to(torch.int32), torch.stack(ys).to(torch.int32)


# ---- model ---------------------------------------------------------------------------------------------------------

def gpt_forward(P, cfg, idx, targets=None):
    """nanoGPT GPT.forward (bias=True, dropout 0, the non-flash causal attention path)."""
    B, T = idx.shape
    C, H, L = cfg["n_embd"], cfg["n_head"], cfg["n_layer"]
    hd = C // H
    idx = idx.long()
    x = F.embedding(idx, P["transformer.wte.weight"]) + F.embedding(torch.arange(T), P["transformer.wpe.weight"])
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    if "no_causal" in MUTATE:
        mask = torch.ones(T, T, dtype=torch.bool)
    ln_eps = 1e-3 if "ln_eps" in MUTATE else LN_EPS
    scale = 1.0 / hd if "attn_scale" in MUTATE else 1.0 / math.sqrt(hd)
    gelu = "none" if "gelu_erf" in MUTATE else "tanh"
    for i in range(L):
        p = f"transformer.h.{i}."
        h = F.layer_norm(x, (C,), P[p + "ln_1.weight"], P[p + "ln_1.bias"], ln_eps)
        q, k, v = F.linear(h, P[p + "attn.c_attn.weight"], P[p + "attn.c_attn.bias"]).split(C, dim=2)
        q = q.view(B, T, H, hd).transpose(1, 2)
        k = k.view(B, T, H, hd).transpose(1, 2)
        v = v.view(B, T, H, hd).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * scale
        att = F.softmax(att.masked_fill(~mask, float("-inf")), dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        x = x + F.linear(y, P[p + "attn.c_proj.weight"], P[p + "attn.c_proj.bias"])
        h = F.layer_norm(x, (C,), P[p + "ln_2.weight"], P[p + "ln_2.bias"], ln_eps)
        h = F.gelu(F.linear(h, P[p + "mlp.c_fc.weight"], P[p + "mlp.c_fc.bias"]), approximate=gelu)
        x = x + F.linear(h, P[p + "mlp.c_proj.weight"], P[p + "mlp.c_proj.bias"])
    x = F.layer_norm(x, (C,), P["transformer.ln_f.weight"], P["transformer.ln_f.bias"], ln_eps)
    logits = F.linear(x, P["transformer.wte.weight"])  # weight tying
    loss = None
    if targets is not None:
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.long().view(-1))
    return logits, loss


def get_lr(it, cfg):
    """nanoGPT train.py get_lr with lr_decay_iters = steps."""
    lr, warmup, decay, min_lr = cfg["lr"], cfg["warmup"], cfg["steps"], cfg["min_lr"]
    if it < warmup and "warmup_old" in MUTATE:
        return lr * it / warmup
    if it < warmup:
        return lr * (it + 1) / (warmup + 1)
    if it > decay:
        return min_lr
    ratio = (it - warmup) / (decay - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr - min_lr)


def run_reference(cfg, init, tokens, targets, dtype):
    """One forward+backward on batch 0, then `steps` AdamW steps from init. Returns a dict of results."""
    P = {n: init[n].to(dtype).clone().requires_grad_(True) for n, _, _ in param_specs(cfg)}
    logits, loss = gpt_forward(P, cfg, tokens[0], targets[0])
    loss.backward()
    norm0 = torch.sqrt(sum((p.grad.double() ** 2).sum() for p in P.values()))
    res = {"logits": logits.detach().double(), "loss": loss.detach().double().reshape(1),
           "grad_norm": norm0.reshape(1), "grads": {n: p.grad.detach().double().clone() for n, p in P.items()}}
    for p in P.values():
        p.grad = None

    decay = [p for p in P.values() if p.dim() >= 2 or "wd_all" in MUTATE]
    no_decay = [p for p in P.values() if p.dim() < 2 and "wd_all" not in MUTATE]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=cfg["lr"], betas=(cfg["beta1"], cfg["beta2"]), eps=cfg["eps"])
    log = []
    for it in range(cfg["run_steps"]):
        lr = get_lr(it, cfg)
        for group in opt.param_groups:
            group["lr"] = lr
        _, loss = gpt_forward(P, cfg, tokens[it], targets[it])
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(list(P.values()),
                                              float("inf") if "no_clip" in MUTATE else cfg["grad_clip"])
        opt.step()
        opt.zero_grad(set_to_none=True)
        log.append({"step": it, "lr": lr, "loss": float(loss), "grad_norm": float(norm)})
    res["log"] = log
    res["final"] = {n: p.detach().double().clone() for n, p in P.items()}
    return res


# ---- safetensors (hand-written: 8-byte header length, JSON header, raw little-endian data) --------------------------

_DT = {torch.float32: ("F32", "<f4"), torch.float64: ("F64", "<f8"), torch.int32: ("I32", "<i4")}


def save_safetensors(path, tensors, metadata=None):
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, t in tensors.items():
        t = t.detach().contiguous()
        code, np_dt = _DT[t.dtype]
        b = t.numpy().astype(np_dt, copy=False).tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    j = json.dumps(header, separators=(",", ":")).encode()
    j += b" " * ((8 - (8 + len(j)) % 8) % 8)
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(j)) + j)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def max_rel(a, b):
    """max |a - b| / max(max |b|, 1e-6): the parity metric of docs/nanogpt.md."""
    return float((a - b).abs().max()) / max(float(b.abs().max()), 1e-6)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dsl", default=os.path.join(REPO, "examples", "nanogpt", "tiny.dsl"))
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--data-root", default=SHARED_DATA)
    ap.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    ap.add_argument("--perturb", dest="perturb", action="store_true", default=True)
    ap.add_argument("--no-perturb", dest="perturb", action="store_false")
    ap.add_argument("--mutate", action="append", default=[], choices=sorted(MUTATIONS),
                    help="deliberately deviate from nanoGPT (negative test): " +
                    "; ".join(f"{k}: {v}" for k, v in sorted(MUTATIONS.items())))
    ap.add_argument("--batch", type=int, default=0, help="override the .dsl batch (spakc compile --batch N)")
    ap.add_argument("--run-steps", type=int, default=0,
                    help="train this many steps (default: the .dsl's steps; the schedule still spans them all)")
    ap.add_argument("--compare-fp32", action="store_true", help="also run in float32 and print its distance")
    args = ap.parse_args(argv)
    MUTATE.update(args.mutate)
    try:
        torch.set_num_threads(1)
        cfg = read_dsl_config(args.dsl)
        if args.batch > 0:
            cfg["batch"] = args.batch
        cfg["run_steps"] = args.run_steps if args.run_steps > 0 else cfg["steps"]
        os.makedirs(args.out, exist_ok=True)
        init = init_params(cfg, args.perturb)
        tokens, targets = make_batches(cfg, args.data_root)
        dtype = torch.float64 if args.dtype == "float64" else torch.float32
        res = run_reference(cfg, init, tokens, targets, dtype)

        meta = {"dsl": os.path.basename(args.dsl), "perturb": args.perturb, "dtype": args.dtype,
                "mutate": ",".join(sorted(MUTATE)) or "none"}
        save_safetensors(os.path.join(args.out, "init.safetensors"), init, meta)
        save_safetensors(os.path.join(args.out, "batches.safetensors"), {"tokens": tokens, "targets": targets}, meta)
        step0 = {"logits": res["logits"], "loss": res["loss"], "grad_norm": res["grad_norm"]}
        step0.update({"grad." + n: g for n, g in res["grads"].items()})
        save_safetensors(os.path.join(args.out, "step0.safetensors"), step0, meta)
        save_safetensors(os.path.join(args.out, "final.safetensors"),
                         {"param." + n: p for n, p in res["final"].items()}, meta)
        with open(os.path.join(args.out, "train.jsonl"), "w") as f:
            for rec in res["log"]:
                f.write(json.dumps(rec) + "\n")
        with open(os.path.join(args.out, "config.json"), "w") as f:
            json.dump(dict(cfg, perturb=args.perturb, dtype=args.dtype), f, indent=1)
        print(f"nanogpt_ref: {args.dtype}, loss(step 0) {float(res['loss']):.6f}, grad norm "
              f"{float(res['grad_norm']):.6f}; {cfg['run_steps']} steps: "
              + " ".join(f"{r['loss']:.5f}" for r in res["log"]))

        if args.compare_fp32:
            r32 = run_reference(cfg, init, tokens, targets, torch.float32)
            print("float32 torch vs float64 torch (max |d| / max |ref|):")
            print(f"  logits {max_rel(r32['logits'], res['logits']):.3e}  loss {max_rel(r32['loss'], res['loss']):.3e}")
            worst = max((max_rel(r32["grads"][n], g), n) for n, g in res["grads"].items())
            print(f"  worst gradient {worst[0]:.3e} ({worst[1]})")
            lw = max(abs(a["loss"] - b["loss"]) / abs(b["loss"]) for a, b in zip(r32["log"], res["log"]))
            pw = max((max_rel(r32["final"][n], p), n) for n, p in res["final"].items())
            print(f"  train losses {lw:.3e}; final params worst {pw[0]:.3e} ({pw[1]})")
        return 0
    except RefError as e:
        print(f"nanogpt_ref: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
