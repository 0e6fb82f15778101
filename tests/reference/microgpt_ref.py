#!/usr/bin/env python3
"""microgpt_ref.py -- an independent float64 re-implementation of Karpathy's microgpt.py (Feb 2026) with numpy.

It is the reference that spakc's generated MicroGPT trainers are checked against (docs/runtime.md, "Parity").
microgpt.py builds a scalar autograd graph; this file computes the same function with vectorized numpy and a
hand-written backward pass, so 1000 steps take about a second instead of minutes. Everything that decides the
numbers follows microgpt.py exactly:

  * data: docs = non-empty stripped lines of names.txt; random.seed(seed) then random.shuffle(docs) (the same
    `random` stream then initializes the weights); step s trains on docs[s % len(docs)], one document per step.
  * tokenizer: uchars = sorted(set(''.join(docs))), BOS = len(uchars), a document is [BOS] + ids + [BOS],
    n = min(block_size, len(tokens) - 1) positions.
  * model: x = rmsnorm(wte[tok] + wpe[pos]); per layer x += wo . attn(rmsnorm(x)) (causal, 4 heads, scale
    1/sqrt(head_dim)), x += fc2 . relu(fc1 . rmsnorm(x)); logits = lm_head . x; rmsnorm(x) = x * (mean(x^2)+1e-5)^-0.5;
    no biases; weights [out, in]. loss = mean over positions of -log softmax(logits)[target].
  * init: random.gauss(0, 0.08) per element, row-major, in the order wte, wpe, lm_head, then per layer
    attn_wq, attn_wk, attn_wv, attn_wo, mlp_fc1, mlp_fc2.
  * Adam: lr 0.01, beta1 0.85, beta2 0.99, eps 1e-8, bias correction with (step+1), lr_t = lr * (1 - step/num_steps).
  * sampling: temperature 0.5, random.choices(range(vocab), weights=probs), stop at BOS or block_size tokens.

Usage (from the repository root; ../shared must sit beside it):
  /usr/bin/python3 tests/reference/microgpt_ref.py                      # 1000 steps, prints losses + summary
  ... --steps 200 --log ref.jsonl --dump-init init.safetensors --docs-out docs.txt
  ... --init-from init.safetensors --no-shuffle --data docs.txt        # train from given weights / order
  ... --check-grad                                                      # backward vs central finite differences
Exit status: 0 ok, 1 error (missing file, bad safetensors, gradient check failed), 2 usage error.
"""

import argparse
import json
import math
import os
import random
import struct
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_DATA = os.path.join(os.path.dirname(REPO), "shared", "data", "names", "names.txt")

N_LAYER, N_EMBD, N_HEAD, BLOCK_SIZE = 1, 16, 4, 16
HEAD_DIM = N_EMBD // N_HEAD
INIT_STD = 0.08
LR, BETA1, BETA2, EPS_ADAM = 0.01, 0.85, 0.99, 1e-8
RMS_EPS = 1e-5


class RefError(Exception):
    pass


# ---- parameters ----------------------------------------------------------------------------------------------------

def param_shapes(vocab_size, n_layer=N_LAYER):
    """Parameter names and shapes in microgpt.py's creation order (= its init order)."""
    shapes = [("wte", (vocab_size, N_EMBD)), ("wpe", (BLOCK_SIZE, N_EMBD)), ("lm_head", (vocab_size, N_EMBD))]
    for i in range(n_layer):
        shapes += [(f"layer{i}.attn_wq", (N_EMBD, N_EMBD)), (f"layer{i}.attn_wk", (N_EMBD, N_EMBD)),
                   (f"layer{i}.attn_wv", (N_EMBD, N_EMBD)), (f"layer{i}.attn_wo", (N_EMBD, N_EMBD)),
                   (f"layer{i}.mlp_fc1", (4 * N_EMBD, N_EMBD)), (f"layer{i}.mlp_fc2", (N_EMBD, 4 * N_EMBD))]
    return shapes


def init_params(vocab_size, rng):
    """microgpt.py's `matrix` lambda: random.gauss(0, 0.08) per element, rows then columns, matrices in order."""
    params = {}
    for name, (nout, nin) in param_shapes(vocab_size):
        params[name] = np.array([[rng.gauss(0, INIT_STD) for _ in range(nin)] for _ in range(nout)], dtype=np.float64)
    return params


# ---- safetensors (minimal, float32 out / F32+F64 in) ------------------------------------------------------------------

def save_safetensors(path, tensors, metadata=None):
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, arr in tensors.items():
        b = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    j = json.dumps(header, separators=(",", ":")).encode()
    j += b" " * ((8 - (8 + len(j)) % 8) % 8)
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(j)) + j)
            for b in blobs:
                f.write(b)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise RefError(f"cannot write '{path}': {e.strerror}")


def load_safetensors(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise RefError(f"cannot open '{path}': {e.strerror}")
    if len(data) < 8:
        raise RefError(f"'{path}' is not a valid safetensors file: too short")
    n = struct.unpack("<Q", data[:8])[0]
    if n > len(data) - 8:
        raise RefError(f"'{path}' is not a valid safetensors file: header length {n} exceeds the file size")
    try:
        header = json.loads(data[8:8 + n])
    except ValueError as e:
        raise RefError(f"'{path}' is not a valid safetensors file: bad JSON header ({e})")
    buf, out = data[8 + n:], {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        dt = {"F32": "<f4", "F64": "<f8"}.get(e.get("dtype"))
        if dt is None:
            raise RefError(f"'{path}': tensor '{name}' has dtype {e.get('dtype')}; this reader takes F32 or F64")
        s, t = e["data_offsets"]
        arr = np.frombuffer(buf[s:t], dtype=dt)
        if arr.size != int(np.prod(e["shape"], dtype=np.int64)):
            raise RefError(f"'{path}': tensor '{name}' has {arr.size} elements for shape {e['shape']}")
        out[name] = arr.reshape(e["shape"]).astype(np.float64)
    return out


# ---- model: forward + backward ---------------------------------------------------------------------------------------

def rmsnorm(x):
    r = (np.mean(x * x, axis=-1, keepdims=True) + RMS_EPS) ** -0.5
    return x * r, r


def rmsnorm_backward(x, r, dy):
    # y = x * r, r = (mean(x^2) + eps)^-1/2  =>  dx = r*dy - r^3 * x * mean(x*dy)
    return r * dy - (r ** 3) * x * np.mean(x * dy, axis=-1, keepdims=True)


def forward(params, tokens, targets, n_layer=N_LAYER, need_grad=True):
    """Loss (and gradients) for one sequence. tokens/targets: int arrays of length n <= BLOCK_SIZE."""
    n = len(tokens)
    H, hd = N_HEAD, HEAD_DIM
    e = params["wte"][tokens] + params["wpe"][:n]
    x, r0 = rmsnorm(e)
    mask = np.triu(np.ones((n, n), dtype=bool), 1)
    cache = []
    for li in range(n_layer):
        p = lambda s: params[f"layer{li}.{s}"]
        x_in = x
        h1, r1 = rmsnorm(x_in)
        q, k, v = h1 @ p("attn_wq").T, h1 @ p("attn_wk").T, h1 @ p("attn_wv").T
        qh, kh, vh = (t.reshape(n, H, hd).transpose(1, 0, 2) for t in (q, k, v))
        s = qh @ kh.transpose(0, 2, 1) / hd ** 0.5
        s = np.where(mask, -np.inf, s)
        s = s - s.max(axis=-1, keepdims=True)
        a = np.exp(s)
        a /= a.sum(axis=-1, keepdims=True)
        o = (a @ vh).transpose(1, 0, 2).reshape(n, N_EMBD)
        x_mid = x_in + o @ p("attn_wo").T
        h2, r2 = rmsnorm(x_mid)
        f = h2 @ p("mlp_fc1").T
        g = np.maximum(f, 0.0)
        x = x_mid + g @ p("mlp_fc2").T
        cache.append((x_in, r1, h1, qh, kh, vh, a, o, x_mid, r2, h2, f, g))
    logits = x @ params["lm_head"].T
    m = logits.max(axis=-1, keepdims=True)
    ex = np.exp(logits - m)
    probs = ex / ex.sum(axis=-1, keepdims=True)
    loss = float(np.mean(-np.log(probs[np.arange(n), targets])))
    if not need_grad:
        return loss, None

    grads = {name: np.zeros_like(w) for name, w in params.items()}
    dlogits = probs.copy()
    dlogits[np.arange(n), targets] -= 1.0
    dlogits /= n
    grads["lm_head"] += dlogits.T @ x
    dx = dlogits @ params["lm_head"]
    for li in reversed(range(n_layer)):
        p = lambda s: params[f"layer{li}.{s}"]
        gk = lambda s: grads[f"layer{li}.{s}"]
        x_in, r1, h1, qh, kh, vh, a, o, x_mid, r2, h2, f, g = cache[li]
        # MLP
        gk("mlp_fc2")[...] += dx.T @ g
        dg = dx @ p("mlp_fc2")
        df = dg * (f > 0)
        gk("mlp_fc1")[...] += df.T @ h2
        dx_mid = dx + rmsnorm_backward(x_mid, r2, df @ p("mlp_fc1"))
        # attention
        gk("attn_wo")[...] += dx_mid.T @ o
        do = (dx_mid @ p("attn_wo")).reshape(n, H, hd).transpose(1, 0, 2)
        da = do @ vh.transpose(0, 2, 1)
        dvh = a.transpose(0, 2, 1) @ do
        ds = a * (da - np.sum(da * a, axis=-1, keepdims=True)) / hd ** 0.5
        dqh = ds @ kh
        dkh = ds.transpose(0, 2, 1) @ qh
        dq, dk, dv = (t.transpose(1, 0, 2).reshape(n, N_EMBD) for t in (dqh, dkh, dvh))
        gk("attn_wq")[...] += dq.T @ h1
        gk("attn_wk")[...] += dk.T @ h1
        gk("attn_wv")[...] += dv.T @ h1
        dh1 = dq @ p("attn_wq") + dk @ p("attn_wk") + dv @ p("attn_wv")
        dx = dx_mid + rmsnorm_backward(x_in, r1, dh1)
    de = rmsnorm_backward(e, r0, dx)
    np.add.at(grads["wte"], tokens, de)
    grads["wpe"][:n] += de
    return loss, grads


def sample(params, bos, rng, temperature=0.5):
    """One name, as microgpt.py samples: start at BOS, stop at BOS or BLOCK_SIZE tokens."""
    tokens, out = [bos], []
    for _ in range(BLOCK_SIZE):
        x = np.array(tokens)
        logits = logits_of(params, x)[-1]
        z = logits / temperature
        ez = np.exp(z - z.max())
        probs = ez / ez.sum()
        tok = rng.choices(range(len(probs)), weights=list(probs))[0]
        if tok == bos:
            break
        out.append(tok)
        tokens.append(tok)
    return out


def logits_of(params, tokens, n_layer=N_LAYER):
    n = len(tokens)
    x, _ = rmsnorm(params["wte"][tokens] + params["wpe"][:n])
    mask = np.triu(np.ones((n, n), dtype=bool), 1)
    for li in range(n_layer):
        p = lambda s: params[f"layer{li}.{s}"]
        h, _ = rmsnorm(x)
        qh, kh, vh = ((h @ p(w).T).reshape(n, N_HEAD, HEAD_DIM).transpose(1, 0, 2)
                      for w in ("attn_wq", "attn_wk", "attn_wv"))
        s = np.where(mask, -np.inf, qh @ kh.transpose(0, 2, 1) / HEAD_DIM ** 0.5)
        a = np.exp(s - s.max(axis=-1, keepdims=True))
        a /= a.sum(axis=-1, keepdims=True)
        x = x + (a @ vh).transpose(1, 0, 2).reshape(n, N_EMBD) @ p("attn_wo").T
        h, _ = rmsnorm(x)
        x = x + np.maximum(h @ p("mlp_fc1").T, 0.0) @ p("mlp_fc2").T
    return x @ params["lm_head"].T


# ---- data -------------------------------------------------------------------------------------------------------------

def load_docs(path):
    try:
        with open(path) as f:
            docs = [line.strip() for line in f if line.strip()]
    except OSError as e:
        raise RefError(f"cannot open '{path}': {e.strerror}")
    except UnicodeDecodeError as e:
        raise RefError(f"'{path}' is not valid UTF-8 (byte offset {e.start})")
    if not docs:
        raise RefError(f"'{path}' contains no documents (every line is empty)")
    return docs


def check_grad(params, tokens, targets):
    """Central finite differences (h = 1e-5) on a spread of entries of every parameter. Returns the worst
    |fd - grad| / (1e-8 + 1e-6 |grad|): <= 1 means every checked entry agrees (float64 noise is ~1e-10)."""
    _, grads = forward(params, tokens, targets)
    worst, worst_abs = 0.0, 0.0
    pick = np.random.default_rng(0)
    for name, w in params.items():
        for _ in range(12):
            idx = tuple(int(pick.integers(0, d)) for d in w.shape)
            if name == "wte" and _ < 6:
                idx = (int(tokens[_ % len(tokens)]), idx[1])  # rows that are used, so the gradient is non-zero
            if name == "wpe":
                idx = (idx[0] % len(tokens), idx[1])  # positions past n get no gradient
            old, h = w[idx], 1e-5
            w[idx] = old + h
            lp, _unused = forward(params, tokens, targets, need_grad=False)
            w[idx] = old - h
            lm, _unused = forward(params, tokens, targets, need_grad=False)
            w[idx] = old
            err = abs((lp - lm) / (2 * h) - grads[name][idx])
            worst_abs = max(worst_abs, err)
            worst = max(worst, err / (1e-8 + 1e-6 * abs(grads[name][idx])))
    return worst, worst_abs


# ---- main -------------------------------------------------------------------------------------------------------------

def main(argv):
    ap = argparse.ArgumentParser(description="float64 numpy reference of Karpathy's microgpt.py")
    ap.add_argument("--data", default=DEFAULT_DATA, help="documents, one per line (default: ../shared names.txt)")
    ap.add_argument("--steps", type=int, default=1000, help="training steps; also num_steps of the lr decay")
    ap.add_argument("--seed", type=int, default=42, help="random.seed() for shuffle, init and sampling")
    ap.add_argument("--no-shuffle", action="store_true", help="keep the file's document order")
    ap.add_argument("--init-from", metavar="FILE", help="initial weights (safetensors) instead of random.gauss")
    ap.add_argument("--dump-init", metavar="FILE", help="write the initial weights (float32 safetensors)")
    ap.add_argument("--save", metavar="FILE", help="write the final weights (float32 safetensors)")
    ap.add_argument("--log", metavar="FILE", help="JSONL: one {\"step\":N,\"loss\":X,\"lr\":LR} per step")
    ap.add_argument("--docs-out", metavar="FILE", help="write the (shuffled) document order, one per line")
    ap.add_argument("--sample", type=int, default=0, metavar="N", help="print N samples after training")
    ap.add_argument("--print-every", type=int, default=100, metavar="K", help="progress line every K steps")
    ap.add_argument("--check-grad", action="store_true", help="check the backward pass and exit")
    args = ap.parse_args(argv)
    if args.steps < 0:
        ap.error("--steps must be >= 0")

    rng = random.Random(args.seed)  # the module-level `random` of microgpt.py, seeded the same way
    docs = load_docs(args.data)
    if not args.no_shuffle:
        rng.shuffle(docs)
    uchars = sorted(set("".join(docs)))
    bos = len(uchars)
    vocab_size = len(uchars) + 1
    stoi = {c: i for i, c in enumerate(uchars)}
    if args.docs_out:
        with open(args.docs_out, "w") as f:
            f.write("\n".join(docs) + "\n")

    params = init_params(vocab_size, rng)  # always drawn, so the RNG stream (sampling) matches microgpt.py
    if args.init_from:
        loaded = load_safetensors(args.init_from)
        for name, w in params.items():
            if name not in loaded:
                raise RefError(f"'{args.init_from}' has no tensor '{name}'")
            if loaded[name].shape != w.shape:
                raise RefError(f"tensor '{name}' in '{args.init_from}' has shape {list(loaded[name].shape)}, "
                               f"expected {list(w.shape)}")
            params[name] = loaded[name].copy()
    if args.dump_init:
        save_safetensors(args.dump_init, params, {"spak.format": "spak-weights-v1", "source": "microgpt_ref.py init",
                                                   "seed": args.seed})
    print(f"num docs: {len(docs)}  vocab size: {vocab_size}  num params: {sum(w.size for w in params.values())}")

    def encode(doc):
        return [bos] + [stoi[c] for c in doc] + [bos]

    if args.check_grad:
        toks = encode(docs[0])
        n = min(BLOCK_SIZE, len(toks) - 1)
        worst, worst_abs = check_grad(params, np.array(toks[:n]), np.array(toks[1:n + 1]))
        ok = worst <= 1.0
        print(f"gradient check: max |finite difference - backward| = {worst_abs:.3e} over 108 entries "
              f"(tolerance 1e-8 + 1e-6|g|): {'ok' if ok else 'FAILED'}")
        return 0 if ok else 1

    m = {k: np.zeros_like(w) for k, w in params.items()}
    v = {k: np.zeros_like(w) for k, w in params.items()}
    log = open(args.log, "w") if args.log else None
    losses, times = [], []
    for step in range(args.steps):
        t0 = time.perf_counter()
        toks = encode(docs[step % len(docs)])
        n = min(BLOCK_SIZE, len(toks) - 1)
        loss, grads = forward(params, np.array(toks[:n]), np.array(toks[1:n + 1]))
        lr_t = LR * (1 - step / args.steps)
        for k in params:
            g = grads[k]
            m[k] = BETA1 * m[k] + (1 - BETA1) * g
            v[k] = BETA2 * v[k] + (1 - BETA2) * g ** 2
            m_hat = m[k] / (1 - BETA1 ** (step + 1))
            v_hat = v[k] / (1 - BETA2 ** (step + 1))
            params[k] -= lr_t * m_hat / (v_hat ** 0.5 + EPS_ADAM)
        losses.append(loss)
        times.append(time.perf_counter() - t0)
        if log:
            log.write(json.dumps({"step": step + 1, "loss": loss, "lr": lr_t}, separators=(",", ":")) + "\n")
        if step == 0 or (step + 1) % max(1, args.print_every) == 0 or step + 1 == args.steps:
            print(f"step {step + 1:4d} / {args.steps:4d} | loss {loss:.4f}")
    if log:
        log.close()
    if losses:
        tail = losses[-100:]
        print(f"summary: step1 {losses[0]:.4f} | final {losses[-1]:.4f} | mean of last {len(tail)} "
              f"{sum(tail) / len(tail):.4f} | {1000 * float(np.median(times[1:] or times)):.3f} ms/step")
    if args.save:
        save_safetensors(args.save, params, {"spak.format": "spak-weights-v1", "source": "microgpt_ref.py final",
                                             "steps": args.steps})
    if args.sample:
        print("--- inference (new, hallucinated names) ---")
        for i in range(args.sample):
            print(f"sample {i + 1:2d}: {''.join(uchars[t] for t in sample(params, bos, rng))}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except RefError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
