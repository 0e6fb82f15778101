//===- Interpreter.cpp - float64 reference semantics of spak_graph --------===//
//
// One function per op, written for clarity rather than speed: these loops ARE
// the definition of each op that emitted kernels are compared against.
// Conventions: row-major tensors; "rows" are all leading dimensions and the
// last dimension is the feature/channel axis; every float computes in double.
//
//===----------------------------------------------------------------------===//
#include "spak/Interp/Interpreter.h"
#include "spak/Dialect/Graph/Graph.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace mlir;
using namespace spak::graph;

namespace spak::interp {

int64_t numElements(llvm::ArrayRef<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

Tensor Tensor::zeros(std::vector<int64_t> shape, bool isInt) {
  int64_t n = numElements(shape);
  return Tensor(std::move(shape), std::vector<double>(n, 0.0), isInt);
}

Tensor Tensor::ints(std::vector<int64_t> shape, const std::vector<int64_t> &values) {
  return Tensor(std::move(shape), std::vector<double>(values.begin(), values.end()), true);
}

int64_t Tensor::numel() const { return numElements(shape); }

std::string Tensor::shapeString() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

double dropoutUniform(int64_t seed, int64_t offset, int64_t index) {
  uint64_t z = (uint64_t)seed * 0x9E3779B97F4A7C15ull + (uint64_t)offset * 0xD1B54A32D192ED03ull +
               (uint64_t)index;
  // splitmix64 finalizer
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (double)(z >> 11) * 0x1.0p-53;
}

double scheduledLr(llvm::StringRef schedule, double lr, double minLr, int64_t warmup,
                   int64_t totalSteps, int64_t step) {
  if (step < warmup)
    return lr * (double)(step + 1) / (double)(warmup + 1);
  if (schedule == "linear_decay")
    return std::max(0.0, lr * (1.0 - (double)step / (double)totalSteps));
  if (schedule == "cosine") {
    if (step > totalSteps)
      return minLr;
    // totalSteps <= warmup only with a run-time length (the verifier rejects it in the attribute): span 1, as
    // the kernels.
    double span = totalSteps > warmup ? (double)(totalSteps - warmup) : 1.0;
    double ratio = std::min(1.0, std::max(0.0, (double)(step - warmup) / span));
    double coeff = 0.5 * (1.0 + std::cos(M_PI * ratio));
    return minLr + coeff * (lr - minLr);
  }
  return lr; // constant
}

namespace {

/// Row-major strides.
std::vector<int64_t> stridesOf(const std::vector<int64_t> &shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (int64_t i = (int64_t)shape.size() - 2; i >= 0; --i)
    s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/// Index into `shape` (right-aligned against `outShape`, size-1 dims broadcast)
/// of the element at multi-index `idx` of the output.
int64_t broadcastIndex(const std::vector<int64_t> &idx, const std::vector<int64_t> &shape,
                       const std::vector<int64_t> &strides) {
  int64_t off = 0, lead = (int64_t)idx.size() - (int64_t)shape.size();
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] != 1)
      off += idx[lead + i] * strides[i];
  return off;
}

/// Advances a multi-index over `shape` (row-major); returns false after the last.
bool nextIndex(std::vector<int64_t> &idx, const std::vector<int64_t> &shape) {
  for (int64_t i = (int64_t)shape.size() - 1; i >= 0; --i) {
    if (++idx[i] < shape[i])
      return true;
    idx[i] = 0;
  }
  return false;
}

int64_t normAxis(int64_t axis, int64_t rank) { return axis < 0 ? axis + rank : axis; }

class Interpreter {
public:
  explicit Interpreter(std::string &error) : error(error) {}

  bool runFunc(func::FuncOp func, ArrayRef<Tensor> args, std::vector<Tensor> &results, int depth = 0);

private:
  std::string &error;
  llvm::DenseMap<Value, Tensor> env;

  bool fail(Operation *op, const Twine &msg) {
    std::string loc;
    llvm::raw_string_ostream os(loc);
    op->getLoc().print(os);
    error = (Twine("interpreter: '") + op->getName().getStringRef() + "' at " + os.str() + ": " + msg).str();
    return false;
  }

  const Tensor &get(Value v) { return env.find(v)->second; }

  /// Checks a runtime tensor against a value's static type and stores it.
  bool set(Operation *op, Value v, Tensor t) {
    auto type = dyn_cast<RankedTensorType>(v.getType());
    if (!type)
      return fail(op, "only ranked tensor values are supported");
    if (type.getRank() != t.rank())
      return fail(op, "result has runtime shape " + t.shapeString() + " but type rank " +
                          Twine(type.getRank()));
    for (int64_t i = 0; i < type.getRank(); ++i)
      if (!type.isDynamicDim(i) && type.getDimSize(i) != t.shape[i])
        return fail(op, "runtime shape " + t.shapeString() + " does not match the static type");
    t.isInt = type.getElementType().isInteger();
    env[v] = std::move(t);
    return true;
  }

  bool exec(Operation *op, int depth);

  // ---- fused regions (additive, owner: fusion) -----------------------------------------------
  /// spak_graph.fused means its body: bind the block arguments to the operands'
  /// tensors, run the body ops in order, and give the yielded tensors to the results.
  bool runFusedRegion(FusedOp o, int depth) {
    Block &body = o.getBodyBlock();
    for (auto [arg, v] : llvm::zip(body.getArguments(), o.getInputs()))
      if (!set(o, arg, get(v)))
        return false;
    for (Operation &inner : o.getBodyOps())
      if (!exec(&inner, depth))
        return false;
    for (auto [r, y] : llvm::zip(o.getResults(), body.getTerminator()->getOperands()))
      if (!set(o, r, get(y)))
        return false;
    return true;
  }

  // ---- shape helpers --------------------------------------------------------------------------
  /// numpy broadcast of runtime shapes; a runtime size-1 dim that is dynamic in
  /// its static type must not broadcast (autodiff assumes it does not).
  bool broadcastShape(Operation *op, Value a, const Tensor &ta, Value b, const Tensor &tb,
                      std::vector<int64_t> &out) {
    auto sa = cast<RankedTensorType>(a.getType()), sb = cast<RankedTensorType>(b.getType());
    size_t rank = std::max(ta.shape.size(), tb.shape.size());
    out.assign(rank, 1);
    for (size_t i = 0; i < rank; ++i) {
      int64_t ia = (int64_t)ta.shape.size() - 1 - (int64_t)i, ib = (int64_t)tb.shape.size() - 1 - (int64_t)i;
      int64_t da = ia >= 0 ? ta.shape[ia] : 1, db = ib >= 0 ? tb.shape[ib] : 1;
      if (da == db) {
        out[rank - 1 - i] = da;
        continue;
      }
      if (da != 1 && db != 1)
        return fail(op, "shapes " + ta.shapeString() + " and " + tb.shapeString() + " do not broadcast");
      bool aBroadcasts = da == 1;
      int64_t idx = aBroadcasts ? ia : ib;
      auto st = aBroadcasts ? sa : sb;
      if (idx >= 0 && st.isDynamicDim(idx))
        return fail(op, "a dynamic dimension has size 1 at run time and would broadcast; "
                        "broadcast dimensions must be a static 1");
      out[rank - 1 - i] = aBroadcasts ? db : da;
    }
    return true;
  }

  template <typename F>
  bool binary(Operation *op, F f) {
    Value a = op->getOperand(0), b = op->getOperand(1);
    const Tensor &ta = get(a), &tb = get(b);
    std::vector<int64_t> shape;
    if (!broadcastShape(op, a, ta, b, tb, shape))
      return false;
    Tensor out = Tensor::zeros(shape);
    auto sa = stridesOf(ta.shape), sb = stridesOf(tb.shape);
    std::vector<int64_t> idx(shape.size(), 0);
    for (int64_t i = 0; i < out.numel(); ++i, nextIndex(idx, shape))
      out.data[i] = f(ta.data[broadcastIndex(idx, ta.shape, sa)], tb.data[broadcastIndex(idx, tb.shape, sb)]);
    return set(op, op->getResult(0), std::move(out));
  }

  template <typename F>
  bool unary(Operation *op, F f) {
    Tensor out = get(op->getOperand(0));
    for (double &x : out.data)
      x = f(x);
    return set(op, op->getResult(0), std::move(out));
  }

  bool checkIds(Operation *op, const Tensor &ids, int64_t bound, StringRef what) {
    for (double id : ids.data)
      if (id < 0 || id >= (double)bound)
        return fail(op, what + " " + Twine((int64_t)id) + " is outside [0, " + Twine(bound) + ")");
    return true;
  }

  bool checkSameShape(Operation *op, const Tensor &a, const Tensor &b, StringRef what) {
    if (a.shape != b.shape)
      return fail(op, what + " have different runtime shapes " + a.shapeString() + " and " + b.shapeString());
    return true;
  }

  // ---- ops ------------------------------------------------------------------------------------
  bool embed(EmbedOp op) {
    const Tensor &table = get(op.getTable()), &ids = get(op.getIds());
    int64_t V = table.shape[0], C = table.shape[1];
    if (!checkIds(op, ids, V, "id"))
      return false;
    std::vector<int64_t> shape = ids.shape;
    shape.push_back(C);
    Tensor out = Tensor::zeros(shape);
    for (int64_t i = 0; i < ids.numel(); ++i)
      for (int64_t c = 0; c < C; ++c)
        out.data[i * C + c] = table.data[(int64_t)ids.data[i] * C + c];
    return set(op, op.getResult(), std::move(out));
  }

  bool positions(PositionsOp op) {
    int64_t T = get(op.getIds()).shape.back();
    Tensor out = Tensor::zeros({T}, true);
    for (int64_t t = 0; t < T; ++t)
      out.data[t] = (double)t;
    return set(op, op.getResult(), std::move(out));
  }

  bool linear(LinearOp op) {
    const Tensor &x = get(op.getInput()), &w = get(op.getWeight());
    int64_t N = w.shape[0], K = w.shape[1];
    if (x.shape.back() != K)
      return fail(op, "input has " + Twine(x.shape.back()) + " features, weight expects " + Twine(K));
    const Tensor *b = op.getBias() ? &get(op.getBias()) : nullptr;
    int64_t rows = x.numel() / K;
    std::vector<int64_t> shape = x.shape;
    shape.back() = N;
    Tensor out = Tensor::zeros(shape);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t n = 0; n < N; ++n) {
        double acc = b ? b->data[n] : 0.0;
        for (int64_t k = 0; k < K; ++k)
          acc += x.data[r * K + k] * w.data[n * K + k];
        out.data[r * N + n] = acc;
      }
    return set(op, op.getResult(), std::move(out));
  }

  bool matmul(MatmulOp op) {
    Value va = op.getLhs(), vb = op.getRhs();
    const Tensor &a = get(va), &b = get(vb);
    bool ta = op.getTransposeA(), tb = op.getTransposeB();
    int64_t ar = a.rank(), br = b.rank();
    int64_t M = ta ? a.shape[ar - 1] : a.shape[ar - 2], K = ta ? a.shape[ar - 2] : a.shape[ar - 1];
    int64_t K2 = tb ? b.shape[br - 1] : b.shape[br - 2], N = tb ? b.shape[br - 2] : b.shape[br - 1];
    if (K != K2)
      return fail(op, "contraction sizes differ at run time: " + Twine(K) + " vs " + Twine(K2));
    Tensor ba({a.shape.begin(), a.shape.end() - 2}, {}), bb({b.shape.begin(), b.shape.end() - 2}, {});
    // Batch broadcasting uses the same rules as add (static types of the batch dims).
    std::vector<int64_t> batch;
    {
      size_t rank = std::max(ba.shape.size(), bb.shape.size());
      batch.assign(rank, 1);
      auto sa = cast<RankedTensorType>(va.getType()), sb = cast<RankedTensorType>(vb.getType());
      for (size_t i = 0; i < rank; ++i) {
        int64_t ia = (int64_t)ba.shape.size() - 1 - (int64_t)i, ib = (int64_t)bb.shape.size() - 1 - (int64_t)i;
        int64_t da = ia >= 0 ? ba.shape[ia] : 1, db = ib >= 0 ? bb.shape[ib] : 1;
        if (da != db && da != 1 && db != 1)
          return fail(op, "batch shapes " + ba.shapeString() + " and " + bb.shapeString() + " do not broadcast");
        if (da != db && ((da == 1 && ia >= 0 && sa.isDynamicDim(ia)) || (db == 1 && ib >= 0 && sb.isDynamicDim(ib))))
          return fail(op, "a dynamic batch dimension has size 1 at run time and would broadcast");
        batch[rank - 1 - i] = std::max(da, db);
      }
    }
    std::vector<int64_t> shape = batch;
    shape.push_back(M);
    shape.push_back(N);
    Tensor out = Tensor::zeros(shape);
    auto sa = stridesOf(ba.shape), sb = stridesOf(bb.shape);
    std::vector<int64_t> idx(batch.size(), 0);
    int64_t nb = numElements(batch);
    for (int64_t bi = 0; bi < nb; ++bi, nextIndex(idx, batch)) {
      const double *A = a.data.data() + broadcastIndex(idx, ba.shape, sa) * M * K;
      const double *B = b.data.data() + broadcastIndex(idx, bb.shape, sb) * K * N;
      double *O = out.data.data() + bi * M * N;
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) {
          double acc = 0.0;
          for (int64_t k = 0; k < K; ++k)
            acc += (ta ? A[k * M + m] : A[m * K + k]) * (tb ? B[n * K + k] : B[k * N + n]);
          O[m * N + n] = acc;
        }
    }
    return set(op, op.getResult(), std::move(out));
  }

  bool rmsnorm(RmsNormOp op) {
    Tensor out = get(op.getInput());
    double eps = op.getEps().convertToDouble();
    int64_t C = out.shape.back(), rows = out.numel() / C;
    for (int64_t r = 0; r < rows; ++r) {
      double *x = out.data.data() + r * C, ms = 0.0;
      for (int64_t c = 0; c < C; ++c)
        ms += x[c] * x[c];
      double scale = 1.0 / std::sqrt(ms / (double)C + eps);
      for (int64_t c = 0; c < C; ++c)
        x[c] *= scale;
    }
    return set(op, op.getResult(), std::move(out));
  }

  bool rmsnormGrad(RmsNormGradOp op) {
    const Tensor &dy = get(op.getGrad()), &x = get(op.getInput());
    if (!checkSameShape(op, dy, x, "grad and input"))
      return false;
    double eps = op.getEps().convertToDouble();
    int64_t C = x.shape.back(), rows = x.numel() / C;
    Tensor dx = Tensor::zeros(x.shape);
    for (int64_t r = 0; r < rows; ++r) {
      const double *xr = x.data.data() + r * C, *gr = dy.data.data() + r * C;
      double ms = 0.0, dot = 0.0;
      for (int64_t c = 0; c < C; ++c) {
        ms += xr[c] * xr[c];
        dot += gr[c] * xr[c];
      }
      double rs = 1.0 / std::sqrt(ms / (double)C + eps);
      for (int64_t c = 0; c < C; ++c)
        dx.data[r * C + c] = rs * gr[c] - xr[c] * rs * rs * rs * dot / (double)C;
    }
    return set(op, op.getResult(), std::move(dx));
  }

  bool layernorm(LayerNormOp op) {
    Tensor out = get(op.getInput());
    const Tensor &w = get(op.getWeight()), &b = get(op.getBias());
    double eps = op.getEps().convertToDouble();
    int64_t C = out.shape.back(), rows = out.numel() / C;
    if (w.shape[0] != C || b.shape[0] != C)
      return fail(op, "weight/bias size does not match " + Twine(C) + " channels");
    for (int64_t r = 0; r < rows; ++r) {
      double *x = out.data.data() + r * C, mean = 0.0, var = 0.0;
      for (int64_t c = 0; c < C; ++c)
        mean += x[c];
      mean /= (double)C;
      for (int64_t c = 0; c < C; ++c)
        var += (x[c] - mean) * (x[c] - mean);
      double rs = 1.0 / std::sqrt(var / (double)C + eps);
      for (int64_t c = 0; c < C; ++c)
        x[c] = (x[c] - mean) * rs * w.data[c] + b.data[c];
    }
    return set(op, op.getResult(), std::move(out));
  }

  bool layernormGrad(LayerNormGradOp op) {
    const Tensor &dy = get(op.getGrad()), &x = get(op.getInput()), &w = get(op.getWeight());
    if (!checkSameShape(op, dy, x, "grad and input"))
      return false;
    double eps = op.getEps().convertToDouble();
    int64_t C = x.shape.back(), rows = x.numel() / C;
    Tensor dx = Tensor::zeros(x.shape), dw = Tensor::zeros({C}), db = Tensor::zeros({C});
    std::vector<double> xhat(C), g(C);
    for (int64_t r = 0; r < rows; ++r) {
      const double *xr = x.data.data() + r * C, *gr = dy.data.data() + r * C;
      double mean = 0.0, var = 0.0;
      for (int64_t c = 0; c < C; ++c)
        mean += xr[c];
      mean /= (double)C;
      for (int64_t c = 0; c < C; ++c)
        var += (xr[c] - mean) * (xr[c] - mean);
      double rs = 1.0 / std::sqrt(var / (double)C + eps), gMean = 0.0, gxMean = 0.0;
      for (int64_t c = 0; c < C; ++c) {
        xhat[c] = (xr[c] - mean) * rs;
        g[c] = gr[c] * w.data[c];
        gMean += g[c];
        gxMean += g[c] * xhat[c];
        dw.data[c] += gr[c] * xhat[c];
        db.data[c] += gr[c];
      }
      gMean /= (double)C;
      gxMean /= (double)C;
      for (int64_t c = 0; c < C; ++c)
        dx.data[r * C + c] = rs * (g[c] - gMean - xhat[c] * gxMean);
    }
    return set(op, op.getGradInput(), std::move(dx)) && set(op, op.getGradWeight(), std::move(dw)) &&
           set(op, op.getGradBias(), std::move(db));
  }

  /// Calls f(base, stride, n) for every 1-D fibre along `axis`.
  template <typename F>
  static void forEachFibre(const std::vector<int64_t> &shape, int64_t axis, F f) {
    int64_t n = shape[axis], inner = 1, outer = 1;
    for (int64_t i = axis + 1; i < (int64_t)shape.size(); ++i)
      inner *= shape[i];
    for (int64_t i = 0; i < axis; ++i)
      outer *= shape[i];
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t in = 0; in < inner; ++in)
        f(o * n * inner + in, inner, n);
  }

  bool softmax(SoftmaxOp op) {
    Tensor out = get(op.getInput());
    int64_t axis = normAxis((int64_t)op.getAxis(), out.rank());
    forEachFibre(out.shape, axis, [&](int64_t base, int64_t stride, int64_t n) {
      double mx = -INFINITY, sum = 0.0;
      for (int64_t i = 0; i < n; ++i)
        mx = std::max(mx, out.data[base + i * stride]);
      for (int64_t i = 0; i < n; ++i)
        sum += (out.data[base + i * stride] = std::exp(out.data[base + i * stride] - mx));
      for (int64_t i = 0; i < n; ++i)
        out.data[base + i * stride] /= sum;
    });
    return set(op, op.getResult(), std::move(out));
  }

  bool softmaxGrad(SoftmaxGradOp op) {
    const Tensor &dy = get(op.getGrad()), &y = get(op.getOutput());
    if (!checkSameShape(op, dy, y, "grad and output"))
      return false;
    Tensor dx = Tensor::zeros(y.shape);
    int64_t axis = normAxis((int64_t)op.getAxis(), y.rank());
    forEachFibre(y.shape, axis, [&](int64_t base, int64_t stride, int64_t n) {
      double dot = 0.0;
      for (int64_t i = 0; i < n; ++i)
        dot += dy.data[base + i * stride] * y.data[base + i * stride];
      for (int64_t i = 0; i < n; ++i) {
        int64_t j = base + i * stride;
        dx.data[j] = y.data[j] * (dy.data[j] - dot);
      }
    });
    return set(op, op.getResult(), std::move(dx));
  }

  /// Attention probabilities of one (batch, head): P[t][s] for s < T (0 where masked).
  static void attentionProbs(const Tensor &q, const Tensor &k, int64_t b, int64_t h, int64_t T, int64_t C,
                             int64_t hd, double scale, bool causal, std::vector<double> &P) {
    P.assign(T * T, 0.0);
    for (int64_t t = 0; t < T; ++t) {
      int64_t last = causal ? t : T - 1;
      double mx = -INFINITY;
      for (int64_t s = 0; s <= last; ++s) {
        double acc = 0.0;
        for (int64_t d = 0; d < hd; ++d)
          acc += q.data[(b * T + t) * C + h * hd + d] * k.data[(b * T + s) * C + h * hd + d];
        P[t * T + s] = acc * scale;
        mx = std::max(mx, P[t * T + s]);
      }
      double sum = 0.0;
      for (int64_t s = 0; s <= last; ++s)
        sum += (P[t * T + s] = std::exp(P[t * T + s] - mx));
      for (int64_t s = 0; s <= last; ++s)
        P[t * T + s] /= sum;
    }
  }

  bool attention(AttentionOp op) {
    const Tensor &q = get(op.getQ()), &k = get(op.getK()), &v = get(op.getV());
    if (!checkSameShape(op, q, k, "q and k") || !checkSameShape(op, q, v, "q and v"))
      return false;
    int64_t B = q.shape[0], T = q.shape[1], C = q.shape[2], H = (int64_t)op.getHeads(), hd = C / H;
    if (C % H != 0)
      return fail(op, "channels not divisible by heads");
    double scale = op.getScale().convertToDouble();
    if (scale == 0.0)
      scale = 1.0 / std::sqrt((double)hd);
    Tensor out = Tensor::zeros(q.shape);
    std::vector<double> P;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h) {
        attentionProbs(q, k, b, h, T, C, hd, scale, op.getCausal(), P);
        for (int64_t t = 0; t < T; ++t)
          for (int64_t s = 0; s < T; ++s)
            for (int64_t d = 0; d < hd; ++d)
              out.data[(b * T + t) * C + h * hd + d] += P[t * T + s] * v.data[(b * T + s) * C + h * hd + d];
      }
    return set(op, op.getResult(), std::move(out));
  }

  bool attentionGrad(AttentionGradOp op) {
    const Tensor &dO = get(op.getGrad()), &q = get(op.getQ()), &k = get(op.getK()), &v = get(op.getV());
    if (!checkSameShape(op, q, k, "q and k") || !checkSameShape(op, q, v, "q and v") ||
        !checkSameShape(op, q, dO, "q and grad"))
      return false;
    int64_t B = q.shape[0], T = q.shape[1], C = q.shape[2], H = (int64_t)op.getHeads(), hd = C / H;
    double scale = op.getScale().convertToDouble();
    if (scale == 0.0)
      scale = 1.0 / std::sqrt((double)hd);
    Tensor dq = Tensor::zeros(q.shape), dk = Tensor::zeros(q.shape), dv = Tensor::zeros(q.shape);
    std::vector<double> P, dP(T * T), dS(T * T);
    auto at = [&](int64_t b, int64_t t, int64_t h, int64_t d) { return (b * T + t) * C + h * hd + d; };
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h) {
        attentionProbs(q, k, b, h, T, C, hd, scale, op.getCausal(), P);
        for (int64_t t = 0; t < T; ++t) {
          double rowDot = 0.0;
          for (int64_t s = 0; s < T; ++s) {
            double acc = 0.0;
            for (int64_t d = 0; d < hd; ++d) {
              acc += dO.data[at(b, t, h, d)] * v.data[at(b, s, h, d)];
              dv.data[at(b, s, h, d)] += P[t * T + s] * dO.data[at(b, t, h, d)];
            }
            dP[t * T + s] = acc;
            rowDot += acc * P[t * T + s];
          }
          for (int64_t s = 0; s < T; ++s)
            dS[t * T + s] = P[t * T + s] * (dP[t * T + s] - rowDot);
        }
        for (int64_t t = 0; t < T; ++t)
          for (int64_t s = 0; s < T; ++s) {
            if (dS[t * T + s] == 0.0)
              continue;
            for (int64_t d = 0; d < hd; ++d) {
              dq.data[at(b, t, h, d)] += scale * dS[t * T + s] * k.data[at(b, s, h, d)];
              dk.data[at(b, s, h, d)] += scale * dS[t * T + s] * q.data[at(b, t, h, d)];
            }
          }
      }
    return set(op, op.getGradQ(), std::move(dq)) && set(op, op.getGradK(), std::move(dk)) &&
           set(op, op.getGradV(), std::move(dv));
  }

  bool crossEntropy(CrossEntropyOp op) {
    const Tensor &logits = get(op.getLogits()), &targets = get(op.getTargets());
    int64_t V = logits.shape.back(), N = targets.numel();
    if (N * V != logits.numel())
      return fail(op, "targets " + targets.shapeString() + " do not match logits " + logits.shapeString());
    if (N == 0)
      return fail(op, "no positions (empty targets)");
    // `classes`: the softmax covers the first K columns; the rest are vocabulary padding (spak-pad-vocab).
    int64_t K = op.getClassesAttr() ? (int64_t)*op.getClasses() : V;
    if (!checkIds(op, targets, K, "target"))
      return false;
    double total = 0.0;
    for (int64_t n = 0; n < N; ++n) {
      const double *l = logits.data.data() + n * V;
      double mx = *std::max_element(l, l + K), sum = 0.0;
      for (int64_t j = 0; j < K; ++j)
        sum += std::exp(l[j] - mx);
      total += (mx + std::log(sum)) - l[(int64_t)targets.data[n]];
    }
    return set(op, op.getResult(), Tensor::scalar(total / (double)N));
  }

  bool crossEntropyGrad(CrossEntropyGradOp op) {
    const Tensor &logits = get(op.getLogits()), &targets = get(op.getTargets());
    double dloss = get(op.getGrad()).item();
    int64_t V = logits.shape.back(), N = targets.numel();
    if (N * V != logits.numel() || N == 0)
      return fail(op, "targets " + targets.shapeString() + " do not match logits " + logits.shapeString());
    int64_t K = op.getClassesAttr() ? (int64_t)*op.getClasses() : V; // padding columns keep dlogits = 0
    if (!checkIds(op, targets, K, "target"))
      return false;
    Tensor d = Tensor::zeros(logits.shape);
    for (int64_t n = 0; n < N; ++n) {
      const double *l = logits.data.data() + n * V;
      double mx = *std::max_element(l, l + K), sum = 0.0;
      for (int64_t j = 0; j < K; ++j)
        sum += std::exp(l[j] - mx);
      for (int64_t j = 0; j < K; ++j)
        d.data[n * V + j] = std::exp(l[j] - mx) / sum * dloss / (double)N;
      d.data[n * V + (int64_t)targets.data[n]] -= dloss / (double)N;
    }
    return set(op, op.getResult(), std::move(d));
  }

  bool embedGrad(EmbedGradOp op) {
    const Tensor &dy = get(op.getGrad()), &ids = get(op.getIds());
    int64_t V = (int64_t)op.getVocab(), C = dy.shape.back();
    if (ids.numel() * C != dy.numel())
      return fail(op, "grad " + dy.shapeString() + " does not match ids " + ids.shapeString());
    if (!checkIds(op, ids, V, "id"))
      return false;
    Tensor d = Tensor::zeros({V, C});
    for (int64_t i = 0; i < ids.numel(); ++i)
      for (int64_t c = 0; c < C; ++c)
        d.data[(int64_t)ids.data[i] * C + c] += dy.data[i * C + c];
    return set(op, op.getResult(), std::move(d));
  }

  bool reshape(ReshapeOp op) {
    Tensor t = get(op.getInput());
    std::vector<int64_t> shape(op.getShape().begin(), op.getShape().end());
    int64_t known = 1, at = -1;
    for (size_t i = 0; i < shape.size(); ++i) {
      if (shape[i] == -1)
        at = (int64_t)i;
      else
        known *= shape[i];
    }
    if (at >= 0) {
      if (known == 0 || t.numel() % known != 0)
        return fail(op, "cannot reshape " + t.shapeString() + " with a -1 entry");
      shape[at] = t.numel() / known;
    }
    if (numElements(shape) != t.numel())
      return fail(op, "cannot reshape " + t.shapeString() + ": element count differs");
    t.shape = shape;
    return set(op, op.getResult(), std::move(t));
  }

  bool transpose(TransposeOp op) {
    const Tensor &x = get(op.getInput());
    ArrayRef<int64_t> perm = op.getPerm();
    std::vector<int64_t> shape;
    for (int64_t p : perm)
      shape.push_back(x.shape[p]);
    Tensor out = Tensor::zeros(shape);
    auto xs = stridesOf(x.shape);
    std::vector<int64_t> idx(shape.size(), 0);
    for (int64_t i = 0; i < out.numel(); ++i, nextIndex(idx, shape)) {
      int64_t src = 0;
      for (size_t d = 0; d < perm.size(); ++d)
        src += idx[d] * xs[perm[d]];
      out.data[i] = x.data[src];
    }
    return set(op, op.getResult(), std::move(out));
  }

  bool split(SplitOp op) {
    const Tensor &x = get(op.getInput());
    int64_t parts = (int64_t)op.getParts(), axis = normAxis((int64_t)op.getAxis(), x.rank());
    if (x.shape[axis] % parts != 0)
      return fail(op, "dimension of size " + Twine(x.shape[axis]) + " does not split into " + Twine(parts));
    int64_t inner = 1, outer = 1, piece = x.shape[axis] / parts;
    for (int64_t i = axis + 1; i < x.rank(); ++i)
      inner *= x.shape[i];
    for (int64_t i = 0; i < axis; ++i)
      outer *= x.shape[i];
    std::vector<int64_t> shape = x.shape;
    shape[axis] = piece;
    for (int64_t p = 0; p < parts; ++p) {
      Tensor out = Tensor::zeros(shape);
      for (int64_t o = 0; o < outer; ++o)
        std::copy_n(x.data.begin() + (o * x.shape[axis] + p * piece) * inner, piece * inner,
                    out.data.begin() + o * piece * inner);
      if (!set(op, op.getResult(p), std::move(out)))
        return false;
    }
    return true;
  }

  bool concat(ConcatOp op) {
    const Tensor &first = get(op.getInputs().front());
    int64_t axis = normAxis((int64_t)op.getAxis(), first.rank()), parts = op.getInputs().size();
    for (Value v : op.getInputs())
      if (!checkSameShape(op, first, get(v), "inputs"))
        return false;
    int64_t inner = 1, outer = 1, piece = first.shape[axis];
    for (int64_t i = axis + 1; i < first.rank(); ++i)
      inner *= first.shape[i];
    for (int64_t i = 0; i < axis; ++i)
      outer *= first.shape[i];
    std::vector<int64_t> shape = first.shape;
    shape[axis] = piece * parts;
    Tensor out = Tensor::zeros(shape);
    for (int64_t p = 0; p < parts; ++p) {
      const Tensor &x = get(op.getInputs()[p]);
      for (int64_t o = 0; o < outer; ++o)
        std::copy_n(x.data.begin() + o * piece * inner, piece * inner,
                    out.data.begin() + (o * shape[axis] + p * piece) * inner);
    }
    return set(op, op.getResult(), std::move(out));
  }

  static std::vector<int64_t> axesOf(ArrayRef<int64_t> axes, int64_t rank) {
    std::vector<int64_t> out;
    if (axes.empty())
      for (int64_t i = 0; i < rank; ++i)
        out.push_back(i);
    for (int64_t a : axes)
      out.push_back(normAxis(a, rank));
    return out;
  }

  bool reduceSum(ReduceSumOp op) {
    const Tensor &x = get(op.getInput());
    auto axes = axesOf(op.getAxes(), x.rank());
    std::vector<int64_t> keepShape = x.shape, outShape;
    for (int64_t a : axes)
      keepShape[a] = 1;
    for (int64_t i = 0; i < x.rank(); ++i)
      if (!llvm::is_contained(axes, i) || op.getKeepdims())
        outShape.push_back(keepShape[i]);
    Tensor out = Tensor::zeros(outShape);
    auto ks = stridesOf(keepShape);
    std::vector<int64_t> idx(x.rank(), 0);
    for (int64_t i = 0; i < x.numel(); ++i, nextIndex(idx, x.shape))
      out.data[broadcastIndex(idx, keepShape, ks)] += x.data[i];
    return set(op, op.getResult(), std::move(out));
  }

  bool broadcastLike(BroadcastLikeOp op) {
    const Tensor &x = get(op.getInput()), &like = get(op.getLike());
    auto axes = axesOf(op.getAxes(), like.rank());
    std::vector<int64_t> keepShape = like.shape;
    for (int64_t a : axes)
      keepShape[a] = 1;
    if (numElements(keepShape) != x.numel())
      return fail(op, "input " + x.shapeString() + " does not match `like` " + like.shapeString() +
                          " without the broadcast axes");
    Tensor out = Tensor::zeros(like.shape);
    auto ks = stridesOf(keepShape);
    std::vector<int64_t> idx(like.rank(), 0);
    for (int64_t i = 0; i < out.numel(); ++i, nextIndex(idx, like.shape))
      out.data[i] = x.data[broadcastIndex(idx, keepShape, ks)];
    return set(op, op.getResult(), std::move(out));
  }

  bool dropout(DropoutOp op) {
    Tensor out = get(op.getInput());
    double p = op.getP().convertToDouble();
    int64_t seed = (int64_t)op.getSeed(), offset = op.getOffset() ? (int64_t)get(op.getOffset()).item() : 0;
    if (p > 0.0)
      for (int64_t i = 0; i < out.numel(); ++i)
        out.data[i] = dropoutUniform(seed, offset, i) >= p ? out.data[i] / (1.0 - p) : 0.0;
    return set(op, op.getResult(), std::move(out));
  }

  bool adam(AdamOp op) {
    const Tensor &p = get(op.getParam()), &g = get(op.getGrad()), &m = get(op.getM()), &v = get(op.getV());
    if (!checkSameShape(op, p, g, "param and grad") || !checkSameShape(op, p, m, "param and m") ||
        !checkSameShape(op, p, v, "param and v"))
      return false;
    // step: the counter s, or [s, total_steps] (a run-time schedule length; <= 0 selects the attribute).
    const Tensor &stepT = get(op.getStep());
    if (stepT.numel() != 1 && stepT.numel() != 2)
      return fail(op, "step must hold 1 or 2 elements, got " + Twine(stepT.numel()));
    double stepValue = stepT.data[0];
    if (stepValue < 0)
      return fail(op, "step must be >= 0, got " + Twine((int64_t)stepValue));
    int64_t step = (int64_t)stepValue;
    int64_t total = (int64_t)op.getTotalSteps();
    if (stepT.numel() == 2 && stepT.data[1] > 0)
      total = (int64_t)stepT.data[1];
    double lr = scheduledLr(op.getSchedule(), op.getLr().convertToDouble(), op.getMinLr().convertToDouble(),
                            (int64_t)op.getWarmup(), total, step);
    double b1 = op.getBeta1().convertToDouble(), b2 = op.getBeta2().convertToDouble();
    double eps = op.getEps().convertToDouble(), wd = op.getWeightDecay().convertToDouble();
    double t = (double)(step + 1), c1 = 1.0 - std::pow(b1, t), c2 = 1.0 - std::pow(b2, t);
    Tensor np = p, nm = m, nv = v;
    for (int64_t i = 0; i < p.numel(); ++i) {
      double gi = g.data[i];
      np.data[i] -= lr * wd * p.data[i];
      nm.data[i] = b1 * m.data[i] + (1.0 - b1) * gi;
      nv.data[i] = b2 * v.data[i] + (1.0 - b2) * gi * gi;
      np.data[i] -= lr * (nm.data[i] / c1) / (std::sqrt(nv.data[i] / c2) + eps);
    }
    return set(op, op.getNewParam(), std::move(np)) && set(op, op.getNewM(), std::move(nm)) &&
           set(op, op.getNewV(), std::move(nv));
  }

  bool clipGradNorm(ClipGradNormOp op) {
    double sq = 0.0;
    for (Value g : op.getGrads())
      for (double x : get(g).data)
        sq += x * x;
    double norm = std::sqrt(sq), coef = op.getMaxNorm().convertToDouble() / (norm + 1e-6);
    for (auto [g, r] : llvm::zip(op.getGrads(), op.getClipped())) {
      Tensor t = get(g);
      if (coef < 1.0)
        for (double &x : t.data)
          x *= coef;
      if (!set(op, r, std::move(t)))
        return false;
    }
    return set(op, op.getNorm(), Tensor::scalar(norm));
  }

  /// spak_graph.fused: a region of unchanged graph ops, isolated from above; its
  /// block arguments are the operands and the terminator's operands the results.
  bool fusedRegion(Operation *op, int depth) {
    if (op->getNumRegions() != 1 || !op->getRegion(0).hasOneBlock())
      return fail(op, "expects one single-block region");
    Block &body = op->getRegion(0).front();
    if (body.getNumArguments() != op->getNumOperands())
      return fail(op, "region arguments do not match the operands");
    for (auto [arg, v] : llvm::zip(body.getArguments(), op->getOperands()))
      if (!set(op, arg, get(v)))
        return false;
    for (Operation &inner : body) {
      if (inner.hasTrait<OpTrait::IsTerminator>()) {
        if (inner.getNumOperands() != op->getNumResults())
          return fail(op, "the terminator yields " + Twine(inner.getNumOperands()) + " values for " +
                              Twine(op->getNumResults()) + " results");
        for (auto [r, v] : llvm::zip(op->getResults(), inner.getOperands()))
          if (!set(op, r, get(v)))
            return false;
        return true;
      }
      if (!exec(&inner, depth))
        return false;
    }
    return fail(op, "region has no terminator");
  }

  bool constant(arith::ConstantOp op) {
    auto dense = dyn_cast<DenseElementsAttr>(op.getValue());
    auto type = dyn_cast<RankedTensorType>(op.getType());
    if (!dense || !type || !type.hasStaticShape())
      return fail(op, "only dense tensor constants are supported");
    Tensor t = Tensor::zeros(std::vector<int64_t>(type.getShape().begin(), type.getShape().end()));
    if (isa<FloatType>(type.getElementType())) {
      int64_t i = 0;
      for (APFloat v : dense.getValues<APFloat>())
        t.data[i++] = v.convertToDouble();
    } else if (type.getElementType().isInteger()) {
      int64_t i = 0;
      for (APInt v : dense.getValues<APInt>())
        t.data[i++] = (double)v.getSExtValue();
    } else {
      return fail(op, "unsupported constant element type");
    }
    return set(op, op.getResult(), std::move(t));
  }
};

bool Interpreter::exec(Operation *op, int depth) {
  return llvm::TypeSwitch<Operation *, bool>(op)
      .Case([&](EmbedOp o) { return embed(o); })
      .Case([&](PositionsOp o) { return positions(o); })
      .Case([&](AddOp o) { return binary(o, [](double a, double b) { return a + b; }); })
      .Case([&](SubOp o) { return binary(o, [](double a, double b) { return a - b; }); })
      .Case([&](MulOp o) { return binary(o, [](double a, double b) { return a * b; }); })
      .Case([&](ScaleOp o) {
        double f = o.getFactor().convertToDouble();
        return unary(o, [f](double x) { return f * x; });
      })
      .Case([&](ReluOp o) { return unary(o, [](double x) { return x > 0.0 ? x : 0.0; }); })
      .Case([&](GeluOp o) {
        return unary(o, [](double x) {
          const double k = std::sqrt(2.0 / M_PI);
          return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
        });
      })
      .Case([&](ZerosLikeOp o) { return unary(o, [](double) { return 0.0; }); })
      .Case([&](DropoutOp o) { return dropout(o); })
      .Case([&](LinearOp o) { return linear(o); })
      .Case([&](MatmulOp o) { return matmul(o); })
      .Case([&](RmsNormOp o) { return rmsnorm(o); })
      .Case([&](LayerNormOp o) { return layernorm(o); })
      .Case([&](SoftmaxOp o) { return softmax(o); })
      .Case([&](AttentionOp o) { return attention(o); })
      .Case([&](CrossEntropyOp o) { return crossEntropy(o); })
      .Case([&](ReshapeOp o) { return reshape(o); })
      .Case([&](TransposeOp o) { return transpose(o); })
      .Case([&](SplitOp o) { return split(o); })
      .Case([&](ConcatOp o) { return concat(o); })
      .Case([&](ReduceSumOp o) { return reduceSum(o); })
      .Case([&](BroadcastLikeOp o) { return broadcastLike(o); })
      .Case([&](ReluGradOp o) {
        const Tensor &dy = get(o.getGrad()), &x = get(o.getInput());
        if (!checkSameShape(o, dy, x, "grad and input"))
          return false;
        Tensor dx = dy;
        for (int64_t i = 0; i < dx.numel(); ++i)
          dx.data[i] = x.data[i] > 0.0 ? dy.data[i] : 0.0;
        return set(o, o.getResult(), std::move(dx));
      })
      .Case([&](GeluGradOp o) {
        const Tensor &dy = get(o.getGrad()), &x = get(o.getInput());
        if (!checkSameShape(o, dy, x, "grad and input"))
          return false;
        Tensor dx = dy;
        const double k = std::sqrt(2.0 / M_PI);
        for (int64_t i = 0; i < dx.numel(); ++i) {
          double xi = x.data[i], th = std::tanh(k * (xi + 0.044715 * xi * xi * xi));
          double d = 0.5 * (1.0 + th) + 0.5 * xi * (1.0 - th * th) * k * (1.0 + 3.0 * 0.044715 * xi * xi);
          dx.data[i] = dy.data[i] * d;
        }
        return set(o, o.getResult(), std::move(dx));
      })
      .Case([&](RmsNormGradOp o) { return rmsnormGrad(o); })
      .Case([&](LayerNormGradOp o) { return layernormGrad(o); })
      .Case([&](SoftmaxGradOp o) { return softmaxGrad(o); })
      .Case([&](AttentionGradOp o) { return attentionGrad(o); })
      .Case([&](CrossEntropyGradOp o) { return crossEntropyGrad(o); })
      .Case([&](EmbedGradOp o) { return embedGrad(o); })
      .Case([&](AdamOp o) { return adam(o); })
      .Case([&](ClipGradNormOp o) { return clipGradNorm(o); })
      .Case([&](arith::ConstantOp o) { return constant(o); })
      .Case([&](tensor::CastOp o) {
        Tensor t = get(o.getSource());
        return set(o, o.getResult(), std::move(t));
      })
      .Case([&](FusedOp o) { return runFusedRegion(o, depth); }) // fusion (additive)
      .Case([&](func::CallOp o) {
        auto callee = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(o, o.getCalleeAttr());
        if (!callee || callee.isExternal())
          return fail(o, "unknown or external callee @" + o.getCallee());
        if (depth > 64)
          return fail(o, "call depth limit exceeded");
        std::vector<Tensor> args, results;
        for (Value v : o.getOperands())
          args.push_back(get(v));
        Interpreter inner(error);
        if (!inner.runFunc(callee, args, results, depth + 1))
          return false;
        for (auto [r, t] : llvm::zip(o.getResults(), results))
          if (!set(o, r, std::move(t)))
            return false;
        return true;
      })
      .Default([&](Operation *other) {
        if (other->getName().getStringRef() == "spak_graph.fused")
          return fusedRegion(other, depth);
        return fail(other, "the interpreter does not support this op");
      });
}

bool Interpreter::runFunc(func::FuncOp func, ArrayRef<Tensor> args, std::vector<Tensor> &results, int depth) {
  if (func.isExternal())
    return fail(func, "function has no body");
  if (!func.getBody().hasOneBlock())
    return fail(func, "only single-block functions are supported");
  Block &entry = func.getBody().front();
  if (args.size() != entry.getNumArguments())
    return fail(func, "expects " + Twine(entry.getNumArguments()) + " arguments, got " + Twine(args.size()));
  for (auto [i, arg] : llvm::enumerate(entry.getArguments())) {
    const Tensor &t = args[i];
    if ((int64_t)t.data.size() != t.numel())
      return fail(func, "argument #" + Twine(i) + " has " + Twine(t.data.size()) + " values for shape " +
                            t.shapeString());
    if (!set(func, arg, t))
      return fail(func, "argument #" + Twine(i) + ": " + error);
  }
  for (Operation &op : entry) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      results.clear();
      for (Value v : ret.getOperands())
        results.push_back(get(v));
      return true;
    }
    if (!exec(&op, depth))
      return false;
  }
  return fail(func, "function body has no func.return");
}

} // namespace

bool run(func::FuncOp func, ArrayRef<Tensor> args, std::vector<Tensor> &results, std::string &error) {
  Interpreter interp(error);
  results.clear();
  if (!interp.runFunc(func, args, results)) {
    results.clear();
    return false;
  }
  return true;
}

bool runFunction(ModuleOp module, StringRef name, ArrayRef<Tensor> args, std::vector<Tensor> &results,
                 std::string &error) {
  auto func = module.lookupSymbol<func::FuncOp>(name);
  if (!func) {
    error = ("interpreter: no function @" + name + " in the module").str();
    return false;
  }
  return run(func, args, results, error);
}

} // namespace spak::interp
