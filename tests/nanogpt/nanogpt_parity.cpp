// nanogpt_parity.cpp — runs the host functions spakc emits for a NanoGPT .dsl (target cpp) and compares them with the
// float64 PyTorch reference (tests/reference/nanogpt_ref.py). Built at test time by run_parity.py against the emitted
// cpp/model.h + kernels.cpp + step.cpp; see docs/nanogpt.md.
//
// The generated functions take positional `Buf<T, Rank>` arguments; what each argument/result IS (spak.param name,
// spak.adam_m/v, spak.step, spak.input tokens/targets, spak.status, spak.loss, spak.grad_of, spak.grad_norm,
// spak.in_place_of) is read from a manifest that run_parity.py extracts from `spakc compile --emit=tile`. A variadic
// template turns the manifest slots into the exact argument types of each function pointer, so this file does not
// depend on the parameter order or count.
//
// Checks (metric: max |got - ref| / max(max |ref|, 1e-6) per tensor, tolerance --tol, default 1e-4):
//   infer        logits [B, T, V] of batch 0 from the init weights, and of the prefixes T = 1 and 7 (causality)
//   forward      loss of batch 0
//   backward     loss and the gradient of every parameter (grad_of), and their global norm
//   train_step   `steps` calls on the reference's batches: loss and pre-clip grad norm of every step; then every
//                parameter after the last step (tolerance --param-tol)
//   spak.status  infer on a token id == vocab sets the status word
// Prints one table row per compared tensor and exits 1 when any row fails (0 when all pass, 2 on usage errors).
#include "model.h"

#include "spak/runtime/json.h"
#include "spak/runtime/safetensors.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

// ---- manifest ------------------------------------------------------------------------------------------------------

struct Entry {
  int index = 0;
  std::string role;   // param adam_m adam_v step input status | loss grad_of grad_norm value
  std::string name;   // param name / input name / "-"
  std::string dtype;  // f32 i32
  std::vector<int64_t> dims;  // -1 = dynamic
  int in_place_of = -1;
  int64_t valid_rows = 0;  // spak.valid_rows: a parameter padded by rule pad_vocab has this many real rows (0: all)
};

struct FnSig {
  std::vector<Entry> args, results;
};

// Lines: "fn NAME", "arg I ROLE NAME DTYPE D0,D1|- INPLACE", "res I ROLE NAME DTYPE D0,D1|- INPLACE".
std::map<std::string, FnSig> read_manifest(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open manifest '" + path + "'");
  std::map<std::string, FnSig> out;
  std::string line, cur;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string kind;
    if (!(ls >> kind)) continue;
    if (kind == "fn") {
      ls >> cur;
      out[cur];
      continue;
    }
    Entry e;
    std::string dims;
    if (!(ls >> e.index >> e.role >> e.name >> e.dtype >> dims >> e.in_place_of >> e.valid_rows) || cur.empty())
      throw std::runtime_error("bad manifest line: " + line);
    if (dims != "-") {
      std::stringstream ds(dims);
      std::string d;
      while (std::getline(ds, d, ',')) e.dims.push_back(d == "?" ? -1 : std::stoll(d));
    }
    (kind == "arg" ? out[cur].args : out[cur].results).push_back(e);
  }
  return out;
}

// ---- slots: a runtime view of one Buf ------------------------------------------------------------------------------

struct Slot {
  void* data = nullptr;
  std::vector<int64_t> dims;
  bool is_int = false;
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    return n;
  }
};

template <class B> struct BufTraits;
template <class T, int R> struct BufTraits<spak_gen::Buf<T, R>> {
  using Elem = T;
  static constexpr int rank = R;
};

template <class B> B to_buf(const Slot& s, size_t i) {
  using Tr = BufTraits<B>;
  constexpr bool want_int = std::is_integral<typename Tr::Elem>::value;
  if (static_cast<int>(s.dims.size()) != Tr::rank || s.is_int != want_int)
    throw std::runtime_error("argument #" + std::to_string(i) + ": the manifest's rank/type does not match the "
                             "generated signature");
  B b;
  b.data = static_cast<typename Tr::Elem*>(s.data);
  for (int d = 0; d < Tr::rank; ++d) b.dim[d] = s.dims[d];
  return b;
}

template <class T, int R> Slot from_buf(const spak_gen::Buf<T, R>& b) {
  Slot s;
  s.data = const_cast<std::remove_const_t<T>*>(b.data);
  s.dims.assign(b.dim.begin(), b.dim.end());
  s.is_int = std::is_integral<T>::value;
  return s;
}

// Several results come back as the emitted `<fn>_results` aggregate, which has visit(f).
template <class R, class = void> struct is_tuple : std::false_type {};
template <class R> struct is_tuple<R, std::void_t<decltype(R::size)>> : std::true_type {};

template <class R, class... A, size_t... I>
std::vector<Slot> call_impl(R (*f)(spak_gen::StepContext&, A...), spak_gen::StepContext& ctx,
                            const std::vector<Slot>& in, std::index_sequence<I...>) {
  if constexpr (is_tuple<R>::value) {
    R r = f(ctx, to_buf<A>(in[I], I)...);
    std::vector<Slot> out;
    r.visit([&](const auto& e) { out.push_back(from_buf(e)); });
    return out;
  } else {
    return {from_buf(f(ctx, to_buf<A>(in[I], I)...))};
  }
}

template <class R, class... A>
std::vector<Slot> call(R (*f)(spak_gen::StepContext&, A...), spak_gen::StepContext& ctx, const std::vector<Slot>& in) {
  if (in.size() != sizeof...(A))
    throw std::runtime_error("the manifest has " + std::to_string(in.size()) + " arguments, the generated function " +
                             std::to_string(sizeof...(A)));
  return call_impl(f, ctx, in, std::index_sequence_for<A...>{});
}

// ---- model state ---------------------------------------------------------------------------------------------------

struct State {
  std::map<std::string, std::vector<float>> param, m, v;  // compiled shapes (padding rows included)
  std::map<std::string, std::vector<int64_t>> shape;      // the reference's shapes (real rows only)
  std::vector<int32_t> tokens, targets;  // the current batch, [B, T]
  int64_t B = 0, T = 0;
  int32_t step[2] = {0, 0};  // spak.step = [step, total_steps]; total 0: the compiled length (the .dsl's steps)
  int32_t status[1] = {0};
};

std::vector<Slot> bind(State& st, const FnSig& sig) {
  std::vector<Slot> out;
  for (const Entry& e : sig.args) {
    Slot s;
    s.is_int = e.dtype != "f32";
    s.dims = e.dims;
    auto floats = [&](std::map<std::string, std::vector<float>>& m) {
      auto it = m.find(e.name);
      if (it == m.end()) throw std::runtime_error("no tensor for " + e.role + " '" + e.name + "'");
      Slot x = s;
      x.data = it->second.data();
      if (x.numel() != static_cast<int64_t>(it->second.size()))
        throw std::runtime_error(e.role + " '" + e.name + "': size mismatch with the reference");
      return x;
    };
    if (e.role == "param") s = floats(st.param);
    else if (e.role == "adam_m") s = floats(st.m);
    else if (e.role == "adam_v") s = floats(st.v);
    else if (e.role == "step") s.data = st.step;
    else if (e.role == "status") s.data = st.status;
    else if (e.role == "input") {
      if (e.name != "tokens" && e.name != "targets") throw std::runtime_error("unknown input '" + e.name + "'");
      s.data = e.name == "tokens" ? st.tokens.data() : st.targets.data();
      s.dims = {st.B, st.T};
      if (e.dims.size() != 2 || (e.dims[0] != -1 && e.dims[0] != st.B))
        throw std::runtime_error("input '" + e.name + "' is not [B, T] with B = " + std::to_string(st.B));
    } else {
      throw std::runtime_error("argument role '" + e.role + "' is not handled");
    }
    out.push_back(s);
  }
  return out;
}

// ---- reference access ----------------------------------------------------------------------------------------------

std::vector<double> f64(const spak::rt::SafetensorsReader& r, const std::string& name) {
  const spak::rt::StTensor& t = r.at(name);
  std::vector<double> out(t.numel());
  if (t.dtype == spak::rt::DType::F64) {
    std::memcpy(out.data(), r.bytes(t), out.size() * 8);
  } else {
    std::vector<float> f = r.floats(name);
    for (size_t i = 0; i < f.size(); ++i) out[i] = f[i];
  }
  return out;
}

std::vector<int32_t> i32(const spak::rt::SafetensorsReader& r, const std::string& name) {
  const spak::rt::StTensor& t = r.at(name);
  if (t.dtype != spak::rt::DType::I32) throw std::runtime_error("'" + name + "' is not I32");
  std::vector<int32_t> out(t.numel());
  std::memcpy(out.data(), r.bytes(t), out.size() * 4);
  return out;
}

// ---- comparison table ----------------------------------------------------------------------------------------------

struct Table {
  double tol;
  int failures = 0, rows = 0;
  void header(const char* title) {
    std::printf("\n== %s\n%-48s %9s %12s %12s %12s  %s\n", title, "tensor", "numel", "max|ref|", "max abs err",
                "rel err", "");
  }
  // Returns the relative error; non-finite values always fail.
  double row(const std::string& name, const float* got, const std::vector<double>& ref, double row_tol = -1) {
    double t = row_tol > 0 ? row_tol : tol;
    double max_ref = 0, max_err = 0;
    bool finite = true;
    for (size_t i = 0; i < ref.size(); ++i) {
      if (!std::isfinite(got[i])) finite = false;
      max_ref = std::max(max_ref, std::fabs(ref[i]));
      max_err = std::max(max_err, std::fabs(static_cast<double>(got[i]) - ref[i]));
    }
    double rel = finite ? max_err / std::max(max_ref, 1e-6) : INFINITY;
    bool ok = rel <= t;
    ++rows;
    if (!ok) ++failures;
    std::printf("%-48s %9zu %12.5e %12.5e %12.5e  %s\n", name.c_str(), ref.size(), max_ref, max_err, rel,
                ok ? "ok" : "FAIL");
    return rel;
  }
  // A tensor whose first ref.size() elements are the real rows and the rest padding rows (rule pad_vocab): the
  // real rows against the reference, the padding rows must be exactly zero.
  void padded_row(const std::string& name, const float* got, int64_t numel, const std::vector<double>& ref,
                  double row_tol = -1) {
    row(name, got, ref, row_tol);
    if (numel <= static_cast<int64_t>(ref.size())) return;
    const int64_t pad = numel - static_cast<int64_t>(ref.size());
    int64_t nonzero = 0;
    for (int64_t i = 0; i < pad; ++i) nonzero += got[ref.size() + size_t(i)] != 0.0f;
    ++rows;
    if (nonzero) ++failures;
    std::printf("%-48s %9lld %12s %12lld %12s  %s\n", (name + " (padding rows)").c_str(), static_cast<long long>(pad),
                "", static_cast<long long>(nonzero), "nonzero", nonzero ? "FAIL" : "ok");
  }
};

int usage() {
  std::fprintf(stderr,
               "usage: nanogpt_parity --manifest M --ref-dir DIR [--tol 1e-4] [--param-tol 1e-4] [--steps N]\n"
               "  DIR holds init.safetensors batches.safetensors step0.safetensors train.jsonl final.safetensors\n");
  return 2;
}

int run(int argc, char** argv) {
  std::string manifest, dir;
  double tol = 1e-4, param_tol = 1e-4;
  int steps = -1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--manifest") manifest = next();
    else if (a == "--ref-dir") dir = next();
    else if (a == "--tol") tol = std::stod(next());
    else if (a == "--param-tol") param_tol = std::stod(next());
    else if (a == "--steps") steps = std::stoi(next());
    else return usage();
  }
  if (manifest.empty() || dir.empty()) return usage();

  auto sigs = read_manifest(manifest);
  for (const char* fn : {"forward", "backward", "train_step", "infer"})
    if (!sigs.count(fn)) throw std::runtime_error(std::string("manifest has no function ") + fn);

  auto init = spak::rt::SafetensorsReader::open(dir + "/init.safetensors");
  auto batches = spak::rt::SafetensorsReader::open(dir + "/batches.safetensors");
  auto step0 = spak::rt::SafetensorsReader::open(dir + "/step0.safetensors");
  auto final_ = spak::rt::SafetensorsReader::open(dir + "/final.safetensors");

  State st;
  for (const Entry& e : sigs["train_step"].args)
    if (e.role == "param") {
      st.param[e.name] = init.floats(e.name);
      st.shape[e.name] = init.at(e.name).shape;
      std::vector<int64_t> real = e.dims;  // a padded parameter (spak.valid_rows): the reference has its real rows
      if (e.valid_rows > 0 && !real.empty()) real[0] = e.valid_rows;
      if (st.shape[e.name] != real)
        throw std::runtime_error("init tensor '" + e.name + "' has another shape than the compiled parameter");
      int64_t full = 1;
      for (int64_t d : e.dims) full *= d;
      st.param[e.name].resize(static_cast<size_t>(full), 0.0f);  // padding rows: zeros, as the trainer's init
      st.m[e.name].assign(st.param[e.name].size(), 0.0f);
      st.v[e.name].assign(st.param[e.name].size(), 0.0f);
    }
  if (st.param.size() != init.tensors().size())
    throw std::runtime_error("the reference has " + std::to_string(init.tensors().size()) +
                             " parameters, the compiled train_step " + std::to_string(st.param.size()));
  const auto& tok_shape = batches.at("tokens").shape;  // [S, B, T]
  const int64_t S = tok_shape.at(0);
  st.B = tok_shape.at(1);
  st.T = tok_shape.at(2);
  const std::vector<int32_t> all_tokens = i32(batches, "tokens"), all_targets = i32(batches, "targets");
  auto load_batch = [&](int64_t s) {
    const size_t n = static_cast<size_t>(st.B * st.T);
    st.tokens.assign(all_tokens.begin() + s * n, all_tokens.begin() + (s + 1) * n);
    st.targets.assign(all_targets.begin() + s * n, all_targets.begin() + (s + 1) * n);
  };
  if (steps < 0 || steps > S) steps = static_cast<int>(S);

  // One workspace for every call (reset before each); 256-byte aligned.
  const size_t capacity = size_t(256) << 20;
  std::unique_ptr<unsigned char, void (*)(void*)> block(static_cast<unsigned char*>(std::aligned_alloc(256, capacity)),
                                                        std::free);
  spak_gen::StepContext ctx;
  ctx.base = block.get();
  ctx.capacity = capacity;

  Table tab{tol};
  auto check_status = [&](const char* fn) {
    if (st.status[0] != 0) {
      std::printf("%-48s status = %d after %s (a kernel flagged bad input)  FAIL\n", fn, st.status[0], fn);
      ++tab.failures;
      st.status[0] = 0;
    }
  };
  auto result = [&](const FnSig& sig, const std::vector<Slot>& res, const std::string& role,
                    const std::string& name = "-") -> const Slot& {
    for (size_t i = 0; i < sig.results.size(); ++i)
      if (sig.results[i].role == role && (name == "-" || sig.results[i].name == name)) return res.at(i);
    throw std::runtime_error("no result " + role + " " + name);
  };

  // 1. infer: logits of the whole batch and of shorter prefixes (the sampling path runs infer on a growing T; the
  //    model is causal with positions from 0, so the logits of a prefix are the prefix of the reference's logits).
  load_batch(0);
  tab.header("infer (batch 0, init weights): full T and prefixes");
  {
    const std::vector<double> ref = f64(step0, "logits");
    const int64_t V = static_cast<int64_t>(ref.size()) / (st.B * st.T), full_T = st.T;
    const std::vector<int32_t> full_tokens = st.tokens;
    for (int64_t tp : {full_T, int64_t(1), std::min<int64_t>(7, full_T)}) {
      st.T = tp;
      st.tokens.clear();
      for (int64_t b = 0; b < st.B; ++b)
        st.tokens.insert(st.tokens.end(), full_tokens.begin() + b * full_T, full_tokens.begin() + b * full_T + tp);
      std::vector<double> want;
      for (int64_t b = 0; b < st.B; ++b)
        want.insert(want.end(), ref.begin() + b * full_T * V, ref.begin() + (b * full_T + tp) * V);
      ctx.reset();
      auto res = call(&spak_gen::infer, ctx, bind(st, sigs["infer"]));
      check_status("infer");
      const Slot& lg = res.at(0);
      // Padded logits (rule pad_vocab): rows of Vp >= V columns, the first V are the classes.
      const int64_t Vp = lg.dims.empty() ? 0 : lg.dims.back();
      if (Vp < V || lg.numel() / Vp * V != static_cast<int64_t>(want.size()))
        throw std::runtime_error("logits size mismatch");
      std::vector<float> got;
      for (int64_t r = 0; r < lg.numel() / Vp; ++r)
        got.insert(got.end(), static_cast<float*>(lg.data) + r * Vp, static_cast<float*>(lg.data) + r * Vp + V);
      tab.row("logits [B, " + std::to_string(tp) + ", V]" + (Vp > V ? " (of " + std::to_string(Vp) + " columns)" : ""),
              got.data(), want);
    }
    st.T = full_T;
    st.tokens = full_tokens;
  }

  // 2. forward: loss.
  tab.header("forward (batch 0)");
  {
    ctx.reset();
    auto res = call(&spak_gen::forward, ctx, bind(st, sigs["forward"]));
    check_status("forward");
    tab.row("loss", static_cast<float*>(res.at(0).data), f64(step0, "loss"));
  }

  // 3. backward: loss + every gradient + their norm.
  tab.header("backward (batch 0): loss and every parameter gradient");
  {
    const FnSig& sig = sigs["backward"];
    ctx.reset();
    auto res = call(&spak_gen::backward, ctx, bind(st, sig));
    check_status("backward");
    double sumsq = 0;
    int grads = 0;
    for (size_t i = 0; i < sig.results.size(); ++i) {
      const Entry& e = sig.results[i];
      const float* got = static_cast<float*>(res[i].data);
      if (e.role == "loss") {
        tab.row("loss", got, f64(step0, "loss"));
      } else if (e.role == "grad_of") {
        std::vector<double> ref = f64(step0, "grad." + e.name);
        if (res[i].numel() != static_cast<int64_t>(st.param.at(e.name).size()) ||
            res[i].numel() < static_cast<int64_t>(ref.size()))
          throw std::runtime_error("gradient size mismatch for " + e.name);
        for (int64_t j = 0; j < res[i].numel(); ++j) sumsq += double(got[j]) * got[j];
        tab.padded_row("grad " + e.name, got, res[i].numel(), ref);
        ++grads;
      }
    }
    if (grads != static_cast<int>(st.param.size()))
      throw std::runtime_error("backward returned " + std::to_string(grads) + " gradients for " +
                               std::to_string(st.param.size()) + " parameters");
    float norm = static_cast<float>(std::sqrt(sumsq));
    tab.row("grad norm (from the gradients)", &norm, f64(step0, "grad_norm"));
  }

  // 4. train_step x steps.
  std::vector<double> ref_loss, ref_norm;
  {
    std::ifstream in(dir + "/train.jsonl");
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      auto j = spak::rt::parse_json(line, "train.jsonl");
      ref_loss.push_back(j.at("loss").number);
      ref_norm.push_back(j.at("grad_norm").number);
    }
    if (static_cast<int>(ref_loss.size()) < steps) throw std::runtime_error("train.jsonl has too few steps");
  }
  tab.header("train_step: loss and pre-clip grad norm per step (AdamW, cosine + warmup, clip)");
  {
    const FnSig& sig = sigs["train_step"];
    for (int s = 0; s < steps; ++s) {
      load_batch(s);
      st.step[0] = s;
      ctx.reset();
      std::vector<Slot> args = bind(st, sig);
      auto res = call(&spak_gen::train_step, ctx, args);
      check_status("train_step");
      for (size_t i = 0; i < sig.results.size(); ++i) {
        const Entry& e = sig.results[i];
        if (e.in_place_of >= 0 && res[i].data != args.at(e.in_place_of).data) {
          // Not updated in place: copy the new value back into the state.
          std::memcpy(args.at(e.in_place_of).data, res[i].data, res[i].numel() * sizeof(float));
        }
      }
      tab.row("step " + std::to_string(s) + " loss", static_cast<float*>(result(sig, res, "loss").data),
              {ref_loss[s]});
      tab.row("step " + std::to_string(s) + " grad norm", static_cast<float*>(result(sig, res, "grad_norm").data),
              {ref_norm[s]});
    }
  }
  if (steps == S) {
    tab.header("parameters after the last train_step");
    for (const auto& kv : st.param)
      tab.padded_row("param " + kv.first, kv.second.data(), static_cast<int64_t>(kv.second.size()),
                     f64(final_, "param." + kv.first), param_tol);
  }

  // 5. spak.status: an out-of-range token id must be flagged (and must not be read out of bounds).
  tab.header("spak.status");
  {
    load_batch(0);
    const int64_t vocab = st.shape.at("transformer.wte.weight").at(0);
    st.tokens[1] = static_cast<int32_t>(vocab);
    st.status[0] = 0;
    ctx.reset();
    call(&spak_gen::infer, ctx, bind(st, sigs["infer"]));
    const bool flagged = st.status[0] != 0;
    ++tab.rows;
    if (!flagged) ++tab.failures;
    std::printf("%-48s status = %d  %s\n", ("infer with token id " + std::to_string(vocab)).c_str(), st.status[0],
                flagged ? "ok" : "FAIL");
    st.status[0] = 0;
  }

  std::printf("\n%d of %d checks passed (tol %.1e; final parameters %.1e)\n", tab.rows - tab.failures, tab.rows, tol,
              param_tol);
  if (tab.failures) {
    std::printf("NANOGPT PARITY FAILED: %d check(s) above the tolerance\n", tab.failures);
    return 1;
  }
  std::printf("NANOGPT PARITY OK\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nanogpt_parity: error: %s\n", e.what());
    return 1;
  }
}
