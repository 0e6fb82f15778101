#!/usr/bin/env python3
"""microgpt_scalar.py -- the CPU speed baseline: microgpt.py's own algorithm, a scalar autograd engine in pure CPython.

Karpathy's microgpt.py (Feb 2026) trains MicroGPT with a `Value` class: every scalar is a graph node, the model runs
one token at a time with a KV cache, and backward is a topological sort over all nodes. This file re-implements that
algorithm (same model, init, data order, Adam and lr schedule as ../shared/docs/MODELS.md) so the cpp trainer's
ms/step can be compared with "microgpt.py on this CPU" in one run (bench/microgpt_cpu.sh). It is a timing baseline,
not the numerical reference: tests/reference/microgpt_ref.py (float64 numpy) is that.

Usage: python3 bench/microgpt_scalar.py [--steps 20] [--data PATH] [--json]
Prints one line per step (microgpt.py's format) and a summary with the median ms/step over steps 2..N.
"""
import argparse
import json
import math
import os
import random
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = os.path.join(os.path.dirname(REPO), "shared", "data", "names", "names.txt")


class Value:
    __slots__ = ("data", "grad", "_children", "_local_grads")

    def __init__(self, data, children=(), local_grads=()):
        self.data = data
        self.grad = 0.0
        self._children = children
        self._local_grads = local_grads

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data + other.data, (self, other), (1.0, 1.0))

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data * other.data, (self, other), (other.data, self.data))

    def __pow__(self, other):
        return Value(self.data ** other, (self,), (other * self.data ** (other - 1),))

    def log(self):
        return Value(math.log(self.data), (self,), (1.0 / self.data,))

    def exp(self):
        e = math.exp(self.data)
        return Value(e, (self,), (e,))

    def relu(self):
        return Value(max(0.0, self.data), (self,), (float(self.data > 0),))

    def __neg__(self):
        return self * -1.0

    def __radd__(self, other):
        return self + other

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return other + (-self)

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):
        return self * other ** -1.0

    def __rtruediv__(self, other):
        return other * self ** -1.0

    def backward(self):
        topo, visited = [], set()

        def build(v):
            if id(v) not in visited:
                visited.add(id(v))
                for c in v._children:
                    build(c)
                topo.append(v)

        build(self)
        self.grad = 1.0
        for v in reversed(topo):
            for c, lg in zip(v._children, v._local_grads):
                c.grad += lg * v.grad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--json", action="store_true", help="print the summary as one JSON line")
    a = ap.parse_args()
    sys.setrecursionlimit(100000)
    try:
        docs = [l.strip() for l in open(a.data, encoding="utf-8") if l.strip()]
    except OSError as e:
        print(f"error: cannot open '{a.data}': {e.strerror}", file=sys.stderr)
        return 1
    random.seed(42)
    random.shuffle(docs)
    uchars = sorted(set("".join(docs)))
    BOS = len(uchars)
    vocab = len(uchars) + 1
    n_layer, n_embd, n_head, block_size = 1, 16, 4, 16
    head_dim = n_embd // n_head

    def matrix(nout, nin, std=0.08):
        return [[Value(random.gauss(0, std)) for _ in range(nin)] for _ in range(nout)]

    sd = {"wte": matrix(vocab, n_embd), "wpe": matrix(block_size, n_embd), "lm_head": matrix(vocab, n_embd)}
    for i in range(n_layer):
        sd[f"layer{i}.attn_wq"] = matrix(n_embd, n_embd)
        sd[f"layer{i}.attn_wk"] = matrix(n_embd, n_embd)
        sd[f"layer{i}.attn_wv"] = matrix(n_embd, n_embd)
        sd[f"layer{i}.attn_wo"] = matrix(n_embd, n_embd)
        sd[f"layer{i}.mlp_fc1"] = matrix(4 * n_embd, n_embd)
        sd[f"layer{i}.mlp_fc2"] = matrix(n_embd, 4 * n_embd)
    params = [p for mat in sd.values() for row in mat for p in row]

    def linear(x, w):
        return [sum(wi * xi for wi, xi in zip(wo, x)) for wo in w]

    def softmax(logits):
        mx = max(v.data for v in logits)
        exps = [(v - mx).exp() for v in logits]
        total = sum(exps)
        return [e / total for e in exps]

    def rmsnorm(x):
        ms = sum(xi * xi for xi in x) / len(x)
        scale = (ms + 1e-5) ** -0.5
        return [xi * scale for xi in x]

    def gpt(token_id, pos_id, keys, values):
        x = [t + p for t, p in zip(sd["wte"][token_id], sd["wpe"][pos_id])]
        x = rmsnorm(x)
        for li in range(n_layer):
            x_res = x
            x = rmsnorm(x)
            q = linear(x, sd[f"layer{li}.attn_wq"])
            k = linear(x, sd[f"layer{li}.attn_wk"])
            v = linear(x, sd[f"layer{li}.attn_wv"])
            keys[li].append(k)
            values[li].append(v)
            x_attn = []
            for h in range(n_head):
                hs = h * head_dim
                q_h = q[hs:hs + head_dim]
                k_h = [ki[hs:hs + head_dim] for ki in keys[li]]
                v_h = [vi[hs:hs + head_dim] for vi in values[li]]
                att = [sum(q_h[j] * k_h[t][j] for j in range(head_dim)) / head_dim ** 0.5 for t in range(len(k_h))]
                w = softmax(att)
                x_attn.extend(sum(w[t] * v_h[t][j] for t in range(len(v_h))) for j in range(head_dim))
            x = linear(x_attn, sd[f"layer{li}.attn_wo"])
            x = [a + b for a, b in zip(x, x_res)]
            x_res = x
            x = rmsnorm(x)
            x = linear(x, sd[f"layer{li}.mlp_fc1"])
            x = [xi.relu() for xi in x]
            x = linear(x, sd[f"layer{li}.mlp_fc2"])
            x = [a + b for a, b in zip(x, x_res)]
        return linear(x, sd["lm_head"])

    lr, beta1, beta2, eps = 0.01, 0.85, 0.99, 1e-8
    m = [0.0] * len(params)
    v = [0.0] * len(params)
    times = []
    for step in range(a.steps):
        t0 = time.perf_counter()
        doc = docs[step % len(docs)]
        tokens = [BOS] + [uchars.index(ch) for ch in doc] + [BOS]
        n = min(block_size, len(tokens) - 1)
        keys, values = [[] for _ in range(n_layer)], [[] for _ in range(n_layer)]
        losses = []
        for pos in range(n):
            logits = gpt(tokens[pos], pos, keys, values)
            probs = softmax(logits)
            losses.append(-probs[tokens[pos + 1]].log())
        loss = (1.0 / n) * sum(losses)
        loss.backward()
        lr_t = lr * (1 - step / a.steps)
        for i, p in enumerate(params):
            m[i] = beta1 * m[i] + (1 - beta1) * p.grad
            v[i] = beta2 * v[i] + (1 - beta2) * p.grad ** 2
            mh = m[i] / (1 - beta1 ** (step + 1))
            vh = v[i] / (1 - beta2 ** (step + 1))
            p.data -= lr_t * mh / (vh ** 0.5 + eps)
            p.grad = 0.0
        times.append((time.perf_counter() - t0) * 1e3)
        if not a.json:
            print(f"step {step + 1:4d} / {a.steps:4d} | loss {loss.data:.4f} | {times[-1]:.1f} ms", flush=True)
    steady = sorted(times[1:] if len(times) > 1 else times)
    med = steady[len(steady) // 2]
    if a.json:
        print(json.dumps({"impl": "python-scalar-autograd", "steps": a.steps, "median_ms": round(med, 3)}))
    else:
        print(f"summary: python scalar autograd (microgpt.py's algorithm) | median {med:.1f} ms/step over {len(steady)} steps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
