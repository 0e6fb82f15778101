//===- Codegen.cpp - shared machinery of the C++ and CUDA emitters --------===//
//
// Naming, types and literals, scalar index math, scf.for with loop-carried
// tiles, the per-element tile ops, and the host functions (func.func of
// alloc / view / dim / launch) - everything the two targets print alike.
//
//===----------------------------------------------------------------------===//
#include "Codegen.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/Format.h"

#include <cmath>

using namespace mlir;
using namespace spak::tile;

namespace spak::target::detail {

//===----------------------------------------------------------------------===//
// SourceWriter, literals, names
//===----------------------------------------------------------------------===//

void SourceWriter::line(llvm::StringRef text) {
  if (!text.empty())
    text_.append(static_cast<size_t>(depth_) * 2, ' ');
  text_ += text.str();
  text_ += '\n';
}

FailureOr<std::string> cxxScalarType(Type type) {
  if (type.isIndex())
    return std::string("int64_t");
  if (type.isF32())
    return std::string("float");
  if (type.isF64())
    return std::string("double");
  if (type.isBF16())
    return std::string("uint16_t");  // bf16 is held as its bits: f32_to_bf16 / bf16_to_f32 in the prelude
  if (type.isInteger(1))
    return std::string("bool");
  if (auto it = dyn_cast<IntegerType>(type)) {
    switch (it.getWidth()) {
    case 8: return std::string(it.isUnsigned() ? "uint8_t" : "int8_t");
    case 16: return std::string(it.isUnsigned() ? "uint16_t" : "int16_t");
    case 32: return std::string(it.isUnsigned() ? "uint32_t" : "int32_t");
    case 64: return std::string(it.isUnsigned() ? "uint64_t" : "int64_t");
    default: break;
    }
  }
  return failure();
}

std::string floatLiteral(double value, Type type) {
  bool f32 = type.isF32();
  if (std::isnan(value))
    return f32 ? "NAN" : "double(NAN)";
  if (std::isinf(value))
    return std::string(value < 0 ? "(-" : "(") + (f32 ? "INFINITY)" : "double(INFINITY))");
  std::string s;
  llvm::raw_string_ostream os(s);
  os << llvm::format(f32 ? "%.9g" : "%.17g", value);
  os.flush();
  // Make it a floating literal ("2" -> "2.0").
  if (s.find_first_of(".eEn") == std::string::npos)
    s += ".0";
  if (f32)
    s += "f";
  return s;
}

std::string intLiteral(int64_t value, Type type) {
  if (type.isInteger(1))
    return value ? "true" : "false";
  if (value == INT64_MIN)
    return "INT64_MIN";
  std::string s = std::to_string(value);
  if (type.isIndex() || type.isInteger(64))
    return (value > INT32_MAX || value < INT32_MIN) ? "int64_t(" + s + "LL)" : s;
  return s;
}

std::string sanitizeIdentifier(llvm::StringRef name) {
  static const llvm::StringSet<> reserved = {
      "alignas", "alignof", "and", "asm", "auto", "bool", "break", "case", "catch", "char",
      "class", "const", "constexpr", "continue", "default", "delete", "do", "double", "else",
      "enum", "explicit", "extern", "false", "float", "for", "friend", "goto", "if", "inline",
      "int", "long", "namespace", "new", "not", "operator", "or", "private", "protected",
      "public", "register", "return", "short", "signed", "sizeof", "static", "struct", "switch",
      "template", "this", "throw", "true", "try", "typedef", "typename", "union", "unsigned",
      "using", "virtual", "void", "volatile", "while", "main", "ctx", "grid", "stream",
      // names the emitted loops use
      "e", "s", "a", "r", "kk", "tid", "lane", "warp", "i0", "i1", "i2", "i3", "pid0", "pid1", "pid2",
      "program_x", "program_y", "program_z", "smem", "scratch"};
  std::string out;
  for (char c : name)
    out += (llvm::isAlnum(c) || c == '_') ? c : '_';
  if (out.empty() || llvm::isDigit(out[0]))
    out = "v" + out;
  if (reserved.contains(out) || llvm::StringRef(out).starts_with("spak_"))
    out += "_";
  return out;
}

std::string shapeText(ArrayRef<int64_t> shape) {
  std::string s;
  for (auto [i, d] : llvm::enumerate(shape)) {
    if (i)
      s += "x";
    s += ShapedType::isDynamic(d) ? std::string("?") : std::to_string(d);
  }
  return s;
}

std::string lawValueText(LawAttr law) {
  if (law.isInteger())
    return std::to_string(law.getInt());
  std::string s;
  llvm::raw_string_ostream os(s);
  os << llvm::format("%g", law.getFloat());
  return s;
}

std::string lawProvenanceText(LawAttr law) {
  if (law.isDefault())
    return "default (docs/dialects/tile.md)";
  return law.getProvenance().str();
}

int64_t numElements(TileType type) {
  int64_t n = 1;
  for (int64_t d : type.getShape())
    n *= d;
  return n;
}

std::vector<KernelParam> kernelParams(KernelOp kernel) {
  std::vector<KernelParam> params;
  llvm::StringSet<> used;
  Block &entry = kernel.getBody().front();
  for (auto [i, arg] : llvm::enumerate(entry.getArguments())) {
    KernelParam p;
    std::string base = "arg" + std::to_string(i);
    if (auto attrs = kernel.getArgAttrsAttr())
      if (auto dict = dyn_cast_or_null<DictionaryAttr>(attrs[i]))
        if (auto n = dict.getAs<StringAttr>("spak.name"))
          base = sanitizeIdentifier(n.getValue());
    while (used.contains(base))
      base += "_";
    used.insert(base);
    p.name = base;
    p.type = arg.getType();
    params.push_back(p);
  }
  for (auto [i, w] : llvm::enumerate(kernel.getWrittenArguments()))
    params[i].written = w;
  return params;
}

FailureOr<std::string> paramListText(KernelOp kernel, ArrayRef<KernelParam> params) {
  std::string s;
  for (const KernelParam &p : params) {
    if (!s.empty())
      s += ", ";
    if (auto buf = dyn_cast<BufferType>(p.type)) {
      FailureOr<std::string> elt = cxxScalarType(buf.getElementType());
      if (failed(elt))
        return kernel.emitOpError("buffer element type ")
               << buf.getElementType() << " is not supported by the C++/CUDA emitters";
      s += cat(p.written ? "" : "const ", *elt, "* ", p.name);
      for (unsigned d = 0; d < buf.getRank(); ++d)
        if (buf.isDynamicDim(d))
          s += cat(", int64_t ", p.name, "_d", d);
    } else {
      FailureOr<std::string> t = cxxScalarType(p.type);
      if (failed(t))
        return kernel.emitOpError("argument type ") << p.type << " is not supported by the emitters";
      s += cat(*t, " ", p.name);
    }
  }
  return s;
}

std::string unusedDimsText(ArrayRef<KernelParam> params) {
  std::string s;
  for (const KernelParam &p : params)
    if (auto buf = dyn_cast<BufferType>(p.type))
      for (unsigned d = 0; d < buf.getRank(); ++d)
        if (buf.isDynamicDim(d))
          s += cat(s.empty() ? "" : " ", "(void)", p.name, "_d", d, ";");
  return s;
}

std::string forwardArgsText(ArrayRef<KernelParam> params) {
  std::string s;
  for (const KernelParam &p : params) {
    if (!s.empty())
      s += ", ";
    s += p.name;
    if (auto buf = dyn_cast<BufferType>(p.type))
      for (unsigned d = 0; d < buf.getRank(); ++d)
        if (buf.isDynamicDim(d))
          s += cat(", ", p.name, "_d", d);
  }
  return s;
}

void writeKernelBanner(SourceWriter &w, KernelOp kernel, llvm::StringRef targetNote) {
  w.line("//" + std::string(78, '-'));
  w.line(cat("// kernel ", kernel.getSymName()));
  w.line(cat("//   math: ", kernel.getMath()));
  std::string grid;
  for (auto [i, g] : llvm::enumerate(kernel.getGrid())) {
    if (i)
      grid += ", ";
    grid += cast<StringAttr>(g).getValue().str();
  }
  w.line(cat("//   grid: [", grid, "]  (one program instance per grid point)"));
  if (auto config = kernel.getConfigAttr()) {
    w.line("//   laws:");
    for (NamedAttribute na : config.getLaws())
      if (auto law = dyn_cast<LawAttr>(na.getValue()))
        w.line(cat("//     ", law.getName(), " = ", lawValueText(law), "  <- ", lawProvenanceText(law)));
  }
  if (!targetNote.empty())
    w.line(cat("//   ", targetNote));
  w.line("//" + std::string(78, '-'));
}

//===----------------------------------------------------------------------===//
// Scalar ops
//===----------------------------------------------------------------------===//

FailureOr<std::string> scalarExprText(Operation *op, const std::function<std::string(Value)> &x,
                                      bool &handled, bool &literal) {
  handled = true;
  literal = false;
  auto bin = [&](const char *sym) { return cat(x(op->getOperand(0)), " ", sym, " ", x(op->getOperand(1))); };
  auto castTo = [&](Type t) -> FailureOr<std::string> {
    FailureOr<std::string> ct = cxxScalarType(t);
    if (failed(ct))
      return op->emitOpError("result type ") << t << " is not supported by the emitters";
    return cat("static_cast<", *ct, ">(", x(op->getOperand(0)), ")");
  };
  if (auto c = dyn_cast<arith::ConstantOp>(op)) {
    literal = true;
    Attribute v = c.getValue();
    if (auto f = dyn_cast<FloatAttr>(v))
      return floatLiteral(f.getValueAsDouble(), f.getType());
    if (auto i = dyn_cast<IntegerAttr>(v))
      return intLiteral(i.getType().isInteger(1) ? i.getValue().getZExtValue() : i.getValue().getSExtValue(),
                        i.getType());
    return op->emitOpError("constant of this kind is not supported by the emitters");
  }
  if (isa<arith::AddIOp, arith::AddFOp>(op)) return bin("+");
  if (isa<arith::SubIOp, arith::SubFOp>(op)) return bin("-");
  if (isa<arith::MulIOp, arith::MulFOp>(op)) return bin("*");
  // Index values are non-negative by construction (sizes, offsets, program ids),
  // so the unsigned and signed forms print the same C++ operators.
  if (isa<arith::DivUIOp, arith::DivSIOp, arith::DivFOp>(op)) return bin("/");
  if (isa<arith::RemUIOp, arith::RemSIOp>(op)) return bin("%");
  if (isa<arith::AndIOp>(op)) return bin("&");
  if (isa<arith::OrIOp>(op)) return bin("|");
  if (isa<arith::XOrIOp>(op)) return bin("^");
  if (isa<arith::CeilDivUIOp, arith::CeilDivSIOp>(op))
    return cat("spak_gen::ceildiv(", x(op->getOperand(0)), ", ", x(op->getOperand(1)), ")");
  // A constant operand (an arith.constant, or the dim of a static size) prints as a bare literal, an int for an
  // index: name the type, or the template cannot deduce one type from int64_t and int.
  auto minMax = [&](llvm::StringRef fn) -> FailureOr<std::string> {
    std::string a = x(op->getOperand(0)), b = x(op->getOperand(1));
    auto isLiteral = [](llvm::StringRef t) {
      t.consume_front("-");
      return !t.empty() && t.find_first_not_of("0123456789") == llvm::StringRef::npos;
    };
    std::string targ;
    if (isLiteral(a) || isLiteral(b)) {
      FailureOr<std::string> t = cxxScalarType(op->getResult(0).getType());
      if (failed(t))
        return op->emitOpError("min / max of this type is not supported by the emitters");
      targ = "<" + *t + ">";
    }
    return cat("spak_gen::", fn, targ, "(", a, ", ", b, ")");
  };
  if (isa<arith::MinUIOp, arith::MinSIOp, arith::MinimumFOp, arith::MinNumFOp>(op))
    return minMax("min_of");
  if (isa<arith::MaxUIOp, arith::MaxSIOp, arith::MaximumFOp, arith::MaxNumFOp>(op))
    return minMax("max_of");
  if (isa<arith::IndexCastOp, arith::IndexCastUIOp, arith::UIToFPOp, arith::SIToFPOp, arith::FPToSIOp,
          arith::FPToUIOp, arith::ExtFOp, arith::TruncFOp, arith::ExtSIOp, arith::ExtUIOp,
          arith::TruncIOp>(op))
    return castTo(op->getResult(0).getType());
  if (auto n = dyn_cast<arith::NegFOp>(op))
    return cat("-", x(n.getOperand()));
  if (auto s = dyn_cast<arith::SelectOp>(op))
    return cat(x(s.getCondition()), " ? ", x(s.getTrueValue()), " : ", x(s.getFalseValue()));
  if (auto c = dyn_cast<arith::CmpIOp>(op)) {
    const char *sym = nullptr;
    switch (c.getPredicate()) {
    case arith::CmpIPredicate::eq: sym = "=="; break;
    case arith::CmpIPredicate::ne: sym = "!="; break;
    case arith::CmpIPredicate::slt: case arith::CmpIPredicate::ult: sym = "<"; break;
    case arith::CmpIPredicate::sle: case arith::CmpIPredicate::ule: sym = "<="; break;
    case arith::CmpIPredicate::sgt: case arith::CmpIPredicate::ugt: sym = ">"; break;
    case arith::CmpIPredicate::sge: case arith::CmpIPredicate::uge: sym = ">="; break;
    }
    return bin(sym);
  }
  if (auto c = dyn_cast<arith::CmpFOp>(op)) {
    const char *sym = nullptr;
    switch (c.getPredicate()) {
    case arith::CmpFPredicate::OEQ: sym = "=="; break;
    case arith::CmpFPredicate::UNE: sym = "!="; break;
    case arith::CmpFPredicate::OLT: sym = "<"; break;
    case arith::CmpFPredicate::OLE: sym = "<="; break;
    case arith::CmpFPredicate::OGT: sym = ">"; break;
    case arith::CmpFPredicate::OGE: sym = ">="; break;
    default:
      return op->emitOpError("this floating-point predicate is not supported by the emitters");
    }
    return bin(sym);
  }
  if (op->getDialect() && op->getDialect()->getNamespace() == "arith")
    return op->emitOpError("is not supported by the C++/CUDA emitters");
  handled = false;
  return std::string();
}

//===----------------------------------------------------------------------===//
// KernelEmitterBase
//===----------------------------------------------------------------------===//

KernelEmitterBase::KernelEmitterBase(KernelOp kernel, SourceWriter &w)
    : kernel_(kernel), w_(w), params_(kernelParams(kernel)) {
  for (auto [i, arg] : llvm::enumerate(kernel.getBody().front().getArguments())) {
    names_[arg] = params_[i].name;
    bufferNames_[arg] = params_[i].name;
  }
}

std::string KernelEmitterBase::expr(Value v) {
  auto it = names_.find(v);
  if (it != names_.end())
    return it->second;
  return "/*unbound value*/0";
}

std::string KernelEmitterBase::fresh(llvm::StringRef hint) { return cat(hint, counter_++); }

std::string KernelEmitterBase::bindNew(Value v, llvm::StringRef hint) {
  std::string n = fresh(hint);
  names_[v] = n;
  return n;
}

std::string KernelEmitterBase::hintFor(Operation *op) {
  return llvm::TypeSwitch<Operation *, std::string>(op)
      .Case([](LoadOp l) { return std::string(l.getTileType().getMemorySpace() == MemorySpace::smem ? "stage" : "ld"); })
      .Case([](MmaOp) { return std::string("acc"); })
      .Case([](ReduceOp r) { return std::string(r.getKind() == ReduceKind::max ? "rmax" : "rsum"); })
      .Case([](BroadcastOp) { return std::string("bcast"); })
      .Case([](ConstantOp c) {
        if (auto law = c.getLawAttr())
          return sanitizeIdentifier(law.getName());
        return std::string("cst");
      })
      .Case([](IotaOp) { return std::string("iota"); })
      .Case([](MaskOp m) { return std::string(m.getKind() == MaskKind::causal ? "causal" : "inb"); })
      .Case([](CmpOp) { return std::string("cmp"); })
      .Case([](SelectOp) { return std::string("sel"); })
      .Default([](Operation *op) { return op->getName().stripDialect().str(); });
}

std::string KernelEmitterBase::defineTile(Value v) {
  std::string n = bindNew(v, hintFor(v.getDefiningOp()));
  declaring_ = v;
  declareTile(cast<TileType>(v.getType()), n);
  declaring_ = Value();
  return n;
}

LogicalResult KernelEmitterBase::emitBody() { return emitBlock(kernel_.getBody().front()); }

LogicalResult KernelEmitterBase::emitBlock(Block &block) {
  for (Operation &op : block.without_terminator())
    if (!prefetchedMasks_.count(&op) && failed(emitOp(&op)))
      return failure();
  Operation *term = block.getTerminator();
  if (term && !isa<ReturnOp, scf::YieldOp>(term))
    return term->emitOpError("is not supported by the C++/CUDA emitters");
  return success();
}

std::string KernelEmitterBase::bufferDimText(Value buffer, unsigned d) {
  auto type = cast<BufferType>(buffer.getType());
  if (!type.isDynamicDim(d))
    return std::to_string(type.getShape()[d]);
  return cat(bufferNames_.lookup(buffer), "_d", d);
}

LogicalResult KernelEmitterBase::emitScalarOp(Operation *op, bool &handled) {
  handled = true;
  if (auto pid = dyn_cast<ProgramIdOp>(op)) {
    names_[pid.getResult()] = programIdText(pid.getAxis());
    return success();
  }
  if (auto dim = dyn_cast<DimOp>(op)) {
    if (!bufferNames_.count(dim.getSource()))
      return dim.emitOpError("inside a kernel must read a kernel argument buffer");
    names_[dim.getResult()] = bufferDimText(dim.getSource(), dim.getIndex());
    return success();
  }
  bool literal = false;
  FailureOr<std::string> rhs =
      scalarExprText(op, [&](Value v) { return expr(v); }, handled, literal);
  if (!handled || failed(rhs))
    return failure(failed(rhs));
  if (literal) {
    names_[op->getResult(0)] = *rhs;
    return success();
  }
  FailureOr<std::string> t = cxxScalarType(op->getResult(0).getType());
  if (failed(t))
    return op->emitOpError("result type is not supported by the emitters");
  std::string n = bindNew(op->getResult(0), "v");
  w_.line(cat("const ", *t, " ", n, " = ", *rhs, ";"));
  return success();
}

void KernelEmitterBase::copyTile(const std::string &dstName, TileType dstType, Value src) {
  beforeTileWrite(dstType);
  openElementLoop(dstType, false);
  w_.line(storeElem(dstName, dstType, elem(src)));
  closeElementLoop();
  afterTileWrite(dstType);
}

LogicalResult KernelEmitterBase::emitFor(scf::ForOp op) {
  // Loop-carried values live in variables declared before the loop; the
  // block arguments and the loop results are those variables.
  SmallVector<std::string> carried;
  for (auto [init, iterArg, result] :
       llvm::zip(op.getInitArgs(), op.getRegionIterArgs(), op.getResults())) {
    std::string n = fresh("carry");
    if (auto tt = dyn_cast<TileType>(init.getType())) {
      w_.line(cat("// loop-carried ", shapeText(tt.getShape()), " tile"));
      declareTile(tt, n);
      copyTile(n, tt, init);
    } else {
      FailureOr<std::string> t = cxxScalarType(init.getType());
      if (failed(t))
        return op.emitOpError("loop-carried type ") << init.getType() << " is not supported";
      w_.line(cat(*t, " ", n, " = ", expr(init), ";"));
    }
    names_[iterArg] = n;
    names_[result] = n;
    carried.push_back(n);
  }
  std::string iv = bindNew(op.getInductionVar(), "k");
  // Software pipeline: loads of this body into shared memory whose offsets and mask depend on nothing but the
  // induction variable and values from outside the loop are prefetched into registers one iteration ahead.
  SmallVector<LoadOp> piped;
  auto outsideOrIv = [&](Value v) {
    return v == op.getInductionVar() || !op.getRegion().isAncestor(v.getParentRegion());
  };
  for (Operation &o : op.getBody()->without_terminator()) {
    auto l = dyn_cast<LoadOp>(&o);
    if (!l || !pipelineLoad(l) || !outsideOrIv(l.getBuffer()) || !llvm::all_of(l.getOffsets(), outsideOrIv))
      continue;
    if (Value m = l.getMask()) {
      auto mk = m.getDefiningOp<MaskOp>();
      if (!mk || mk->getBlock() != op.getBody() || !llvm::all_of(mk->getOperands(), outsideOrIv))
        continue;
    }
    piped.push_back(l);
  }
  bool async = !piped.empty() && asyncPipeline(piped);
  for (LoadOp l : piped) {
    if (async) {
      asyncLoads_.insert(l);
      continue;
    }
    Prefetch p;
    p.regs = fresh("next");
    p.iv = op.getInductionVar();
    p.next = cat("(", iv, " + ", expr(op.getStep()), ")");
    p.guard = cat(iv, " + ", expr(op.getStep()), " < ", expr(op.getUpperBound()));
    p.last = l == piped.back();
    TileType t = l.getTileType();
    w_.line(cat(*cxxScalarType(t.getElementType()), " ", p.regs, "[", registerSlots(t), "];  // the ",
                shapeText(t.getShape()), " k-tile of the next iteration, loaded during this one's mma"));
    prefetch_[l] = p;
    prefetchOrder_.push_back(l);
  }
  for (LoadOp l : piped)
    if (Value m = l.getMask())
      if (llvm::all_of(m.getUsers(), [&](Operation *u) { return prefetch_.count(u) || asyncLoads_.count(u); }))
        prefetchedMasks_.insert(m.getDefiningOp());
  if (async && failed(asyncPrologue(op, piped)))
    return failure();
  if (!piped.empty() && !async) {
    w_.line("{  // the first k-tile");
    w_.indent();
    for (LoadOp l : piped)
      if (failed(emitPrefetch(l, prefetch_[l], cat("(", expr(op.getLowerBound()), ")"))))
        return failure();
    w_.dedent();
    w_.line("}");
  }
  w_.line(cat("for (int64_t ", iv, " = ", expr(op.getLowerBound()), "; ", iv, " < ",
              expr(op.getUpperBound()), "; ", iv, " += ", expr(op.getStep()), ") {"));
  w_.indent();
  if (failed(emitBlock(*op.getBody())))
    return failure();
  auto yield = cast<scf::YieldOp>(op.getBody()->getTerminator());
  // Parallel assignment: a yielded iter arg that lands in another slot is
  // copied to a temporary first.
  llvm::DenseMap<Value, std::string> temps;
  for (auto [i, v] : llvm::enumerate(yield.getOperands())) {
    auto ba = dyn_cast<BlockArgument>(v);
    if (!ba || ba.getOwner() != op.getBody() || ba.getArgNumber() == 0 ||
        ba.getArgNumber() - 1 == i || temps.count(v))
      continue;
    std::string t = fresh("swap");
    if (auto tt = dyn_cast<TileType>(v.getType())) {
      declareTile(tt, t);
      copyTile(t, tt, v);
    } else {
      w_.line(cat("const auto ", t, " = ", expr(v), ";"));
    }
    temps[v] = t;
  }
  for (auto [i, v] : llvm::enumerate(yield.getOperands())) {
    if (auto ba = dyn_cast<BlockArgument>(v))
      if (ba.getOwner() == op.getBody() && ba.getArgNumber() - 1 == i)
        continue; // yields itself
    if (isa<TileType>(v.getType()) && names_.count(v) && names_.lookup(v) == carried[i])
      continue; // computed in place in the loop-carried variable (the cuda emitter's wgmma accumulators)
    if (auto tt = dyn_cast<TileType>(v.getType())) {
      if (temps.count(v)) {
        beforeTileWrite(tt);
        openElementLoop(tt, false);
        w_.line(storeElem(carried[i], tt, elemOf(temps[v], tt)));
        closeElementLoop();
        afterTileWrite(tt);
      } else {
        copyTile(carried[i], tt, v);
      }
    } else {
      w_.line(cat(carried[i], " = ", temps.count(v) ? temps[v] : expr(v), ";"));
    }
  }
  w_.dedent();
  w_.line("}");
  if (async)
    asyncEpilogue();
  return success();
}

LogicalResult KernelEmitterBase::emitPrefetch(LoadOp l, const Prefetch &p, const std::string &ivText) {
  std::string savedIv = names_.lookup(p.iv);
  names_[p.iv] = ivText;
  Value mask = l.getMask();
  std::optional<std::string> savedMask;
  if (mask) {
    if (names_.count(mask))
      savedMask = names_.lookup(mask);
    if (failed(emitOp(mask.getDefiningOp())))
      return failure();
  }
  TileType t = l.getTileType();
  std::string addr = addressText(l.getBuffer(), l.getOffsets(), t.getRank());
  openElementLoop(t, true);
  w_.line(cat(slotOf(p.regs), " = ", mask ? cat(elem(mask), " ? ", addr, " : ", floatLiteral(0.0, t.getElementType()))
                                           : addr, ";"));
  closeElementLoop();
  names_[p.iv] = savedIv;
  if (mask) {
    if (savedMask)
      names_[mask] = *savedMask;
    else
      names_.erase(mask);
  }
  return success();
}

LogicalResult KernelEmitterBase::emitPrefetchedLoad(LoadOp l) {
  const Prefetch &p = prefetch_[l];
  TileType t = l.getTileType();
  std::string n = defineTile(l.getResult());
  beforeTileWrite(t);
  openElementLoop(t, false);
  w_.line(storeElem(n, t, slotOf(p.regs)));
  closeElementLoop();
  afterTileWrite(t);
  if (!p.last)
    return success();
  w_.line(cat("if (", p.guard, ") {  // the next k-tile's global loads, in flight during this k-tile's mma"));
  w_.indent();
  for (Operation *o : prefetchOrder_) {
    auto other = cast<LoadOp>(o);
    const Prefetch &q = prefetch_[o];
    if (q.iv == p.iv && failed(emitPrefetch(other, q, q.next)))
      return failure();
  }
  w_.dedent();
  w_.line("}");
  return success();
}

std::string KernelEmitterBase::addressText(Value buffer, ValueRange offsets, unsigned tileRank,
                                           ArrayRef<std::string> index) {
  auto type = cast<BufferType>(buffer.getType());
  unsigned rank = type.getRank(), lead = rank - tileRank;
  auto term = [&](unsigned d) {
    std::string o = expr(offsets[d]);
    if (d < lead)
      return o;
    std::string i = index.empty() ? cat("i", d - lead) : index[d - lead];
    return o == "0" ? i : cat(o, " + ", i);
  };
  std::string acc = term(0);
  for (unsigned d = 1; d < rank; ++d) {
    bool compound = acc.find_first_of("+-*/ ") != std::string::npos;
    acc = cat(compound ? "(" + acc + ")" : acc, " * ", bufferDimText(buffer, d), " + ", term(d));
  }
  return cat(bufferNames_.lookup(buffer), "[", acc, "]");
}

std::string KernelEmitterBase::maskText(MaskOp m, ArrayRef<std::string> index) {
  auto off = [&](unsigned d) {
    std::string o = expr(m.getOffsets()[d]);
    std::string i = index.empty() ? cat("i", d) : index[d];
    return o == "0" ? i : cat(o, " + ", i);
  };
  if (m.getKind() == MaskKind::causal)
    return cat(off(1), " <= ", off(0));
  std::string s;
  for (unsigned d = 0; d < m.getOffsets().size(); ++d)
    s += cat(d ? " && " : "", "(", off(d), " < ", expr(m.getBounds()[d]), ")");
  return s;
}

std::string zeroOf(Type elt) {
  if (elt.isBF16())  // bf16 tiles hold uint16_t bits: a double 0.0 would round-trip through f64 conversions
    return "uint16_t(0)";
  if (isa<FloatType>(elt))
    return floatLiteral(0.0, elt);
  return intLiteral(0, elt);
}

LogicalResult KernelEmitterBase::emitElementwise(Operation *op, bool &handled) {
  handled = true;
  auto resultTile = [&]() { return cast<TileType>(op->getResult(0).getType()); };
  // Writes `result[e] = rhs` over the result's shape.
  auto simple = [&](bool needIndices, const std::function<std::string()> &rhs) {
    Value r = op->getResult(0);
    std::string n = defineTile(r);
    TileType t = resultTile();
    beforeTileWrite(t);
    openElementLoop(t, needIndices);
    w_.line(storeElem(n, t, rhs()));
    closeElementLoop();
    afterTileWrite(t);
    return success();
  };
  for (Value v : op->getOperands())
    if (isa<BufferType>(v.getType()) && !bufferNames_.count(v))
      return op->emitOpError("inside a kernel must access a kernel argument buffer");

  if (auto c = dyn_cast<ConstantOp>(op)) {
    Type elt = resultTile().getElementType();
    std::string lit = isa<FloatAttr>(c.getValue())
                          ? floatLiteral(cast<FloatAttr>(c.getValue()).getValueAsDouble(), elt)
                          : intLiteral(cast<IntegerAttr>(c.getValue()).getInt(), elt);
    if (auto law = c.getLawAttr())
      w_.line(cat("// ", law.getName(), " = ", lawValueText(law), "  <- ", lawProvenanceText(law)));
    return simple(false, [&] { return lit; });
  }
  if (auto iota = dyn_cast<IotaOp>(op)) {
    FailureOr<std::string> t = cxxScalarType(resultTile().getElementType());
    if (failed(t))
      return op->emitOpError("element type is not supported by the emitters");
    return simple(true, [&] { return cat("static_cast<", *t, ">(i", iota.getAxis(), ")"); });
  }
  if (auto m = dyn_cast<MaskOp>(op))
    return simple(true, [&] { return maskText(m); });
  if (auto c = dyn_cast<CmpOp>(op)) {
    const char *sym = "<";
    switch (c.getPredicate()) {
    case CmpPredicate::lt: sym = "<"; break;
    case CmpPredicate::le: sym = "<="; break;
    case CmpPredicate::gt: sym = ">"; break;
    case CmpPredicate::ge: sym = ">="; break;
    case CmpPredicate::eq: sym = "=="; break;
    case CmpPredicate::ne: sym = "!="; break;
    }
    return simple(false, [&] { return cat(elem(c.getLhs()), " ", sym, " ", elem(c.getRhs())); });
  }
  if (auto s = dyn_cast<SelectOp>(op))
    return simple(false, [&] {
      return cat(elem(s.getCondition()), " ? ", elem(s.getOnTrue()), " : ", elem(s.getOnFalse()));
    });
  if (auto b = dyn_cast<BroadcastOp>(op)) {
    if (isa<TileType>(b.getSource().getType())) {
      handled = false; // needs data movement: target-specific
      return success();
    }
    std::string src = expr(b.getSource());
    return simple(false, [&] { return src; });
  }
  if (auto l = dyn_cast<LoadOp>(op)) {
    Type elt = l.getTileType().getElementType();
    if (failed(cxxScalarType(elt)))
      return op->emitOpError("element type ") << elt << " is not supported by the emitters";
    if (auto lat = l.getLatencyAttr())
      w_.line(cat("// load", l.getStage() ? cat(" (pipeline stage ", *l.getStage(), ")") : "", ": ",
                  lat.getName(), " = ", lawValueText(lat), " <- ", lawProvenanceText(lat),
                  asyncLoads_.count(op) ? cat(" (a ring of ", lawValueText(lat), " shared k-tiles filled by "
                                              "asynchronous copies: this one waited for, the later ones in flight)")
                  : prefetch_.count(op) ? " (2 k-tiles in flight: this one from registers filled during the previous "
                                          "k-step, the next one loading below)"
                                        : " (loads the law allows in flight; this tile is loaded synchronously)"));
    if (asyncLoads_.count(op))
      return asyncLoad(l);
    if (prefetch_.count(op))
      return emitPrefetchedLoad(l);
    if (emitVectorLoad(l))
      return success();
    std::string addr = addressText(l.getBuffer(), l.getOffsets(), l.getTileType().getRank());
    if (Value mask = l.getMask())
      return simple(true, [&] { return cat(elem(mask), " ? ", addr, " : ", zeroOf(elt)); });
    return simple(true, [&] { return addr; });
  }
  if (isa<StoreOp, AtomicAddOp>(op)) {
    if (auto st = dyn_cast<StoreOp>(op); st && (emitPairedStore(st) || emitVectorStore(st)))
      return success();
    Value value = op->getOperand(0), buffer = op->getOperand(1);
    ValueRange offsets = isa<StoreOp>(op) ? cast<StoreOp>(op).getOffsets() : cast<AtomicAddOp>(op).getOffsets();
    Value mask = isa<StoreOp>(op) ? cast<StoreOp>(op).getMask() : cast<AtomicAddOp>(op).getMask();
    auto t = cast<TileType>(value.getType());
    std::string addr = addressText(buffer, offsets, t.getRank());
    std::string stmt = isa<StoreOp>(op) ? cat(addr, " = ", elem(value), ";")
                                        : cat(atomicAddText(addr, elem(value)), ";");
    openElementLoop(t, true);
    w_.line(mask ? cat("if (", elem(mask), ") ", stmt) : stmt);
    closeElementLoop();
    return success();
  }
  // Unary math.
  auto unary = [&](llvm::StringRef fn) {
    Value x = op->getOperand(0);
    Type elt = cast<TileType>(x.getType()).getElementType();
    return simple(false, [&] { return mathCall(fn, elt, elem(x)); });
  };
  if (isa<ExpOp>(op)) return unary("exp");
  if (isa<Exp2Op>(op)) return unary("exp2");
  if (isa<LogOp>(op)) return unary("log");
  if (isa<SqrtOp>(op)) return unary("sqrt");
  if (isa<RsqrtOp>(op)) return unary("rsqrt");
  if (isa<TanhOp>(op)) return unary("tanh");
  if (isa<ReluOp>(op)) {
    Value x = op->getOperand(0);
    Type elt = cast<TileType>(x.getType()).getElementType();
    return simple(false, [&] { return maxCall(elt, elem(x), zeroOf(elt)); });
  }
  if (isa<NegOp>(op))
    return simple(false, [&] { return cat("-", elem(op->getOperand(0))); });
  if (auto c = dyn_cast<ConvertOp>(op)) {
    Type from = c.getX().getType().getElementType(), to = resultTile().getElementType();
    return simple(false, [&] {
      if (from == to)
        return elem(c.getX());
      return cat(to.isBF16() ? "spak_gen::f32_to_bf16(" : "spak_gen::bf16_to_f32(", elem(c.getX()), ")");
    });
  }
  auto binary = [&](const char *sym) {
    return simple(false, [&] { return cat(elem(op->getOperand(0)), " ", sym, " ", elem(op->getOperand(1))); });
  };
  if (isa<AddOp>(op)) return binary("+");
  if (isa<SubOp>(op)) return binary("-");
  if (isa<MulOp>(op)) return binary("*");
  if (isa<DivOp>(op)) return binary("/");
  if (isa<MaxOp>(op)) {
    Type elt = resultTile().getElementType();
    return simple(false, [&] { return maxCall(elt, elem(op->getOperand(0)), elem(op->getOperand(1))); });
  }
  handled = false;
  return success();
}

LogicalResult KernelEmitterBase::emitOp(Operation *op) {
  for (Type t : op->getResultTypes())
    if (auto tt = dyn_cast<TileType>(t))
      if (failed(cxxScalarType(tt.getElementType())))
        return op->emitOpError("tile element type ")
               << tt.getElementType() << " is not supported by the C++/CUDA emitters (f32, f64, i1..i64)";
  bool handled = false;
  if (auto f = dyn_cast<scf::ForOp>(op))
    return emitFor(f);
  if (failed(emitScalarOp(op, handled)))
    return failure();
  if (handled)
    return success();
  if (failed(emitElementwise(op, handled)))
    return failure();
  if (handled) {
    afterElementwise(op);
    return success();
  }
  if (isa<ReduceOp, BroadcastOp, MmaOp, ExtractOp>(op))
    return emitTargetOp(op);
  return op->emitOpError("is not supported inside a kernel by the C++/CUDA emitters");
}

//===----------------------------------------------------------------------===//
// Host functions
//===----------------------------------------------------------------------===//

namespace {
class HostEmitter {
public:
  HostEmitter(func::FuncOp fn, TargetKind kind, SourceWriter &w) : fn_(fn), kind_(kind), w_(w) {}

  FailureOr<std::string> signature() {
    std::string params = "spak_gen::StepContext& ctx";
    llvm::StringSet<> used;
    for (auto [i, arg] : llvm::enumerate(fn_.getArguments())) {
      std::string n = cat("arg", i);
      if (auto a = fn_.getArgAttrOfType<StringAttr>(i, "spak.name"))
        n = sanitizeIdentifier(a.getValue());
      while (used.contains(n))
        n += "_";
      used.insert(n);
      FailureOr<std::string> t = typeText(arg.getType(), fn_);
      if (failed(t))
        return failure();
      params += cat(", ", *t, " ", n);
      names_[arg] = n;
    }
    SmallVector<std::string> results;
    for (Type t : fn_.getResultTypes()) {
      FailureOr<std::string> tt = typeText(t, fn_);
      if (failed(tt))
        return failure();
      results.push_back(*tt);
    }
    // Several results: a named aggregate (`<fn>_results` with fields r0, r1, ...), not std::tuple — a train step
    // returns hundreds of buffers, past what nvcc's front end instantiates for std::tuple.
    std::string fname = sanitizeIdentifier(fn_.getSymName());
    resultsStruct_.clear();
    if (results.size() > 1) {
      resultsStruct_ = cat("// results of @", fn_.getSymName(), " in order (visit(f) calls f on each)\nstruct ",
                           fname, "_results {\n");
      for (auto [i, t] : llvm::enumerate(results))
        resultsStruct_ += cat("  ", t, " r", i, ";\n");
      resultsStruct_ += cat("  static constexpr std::size_t size = ", results.size(), ";\n");
      resultsStruct_ += "  template <class F> void visit(F&& f) const {";
      for (size_t i = 0; i < results.size(); ++i)
        resultsStruct_ += cat(" f(r", i, ");");
      resultsStruct_ += " }\n};";
    }
    std::string ret = results.empty() ? "void"
                      : results.size() == 1 ? results[0]
                                            : fname + "_results";
    return cat(ret, " ", fname, "(", params, ")");
  }

  static FailureOr<std::string> typeText(Type t, Operation *where) {
    if (auto b = dyn_cast<BufferType>(t)) {
      FailureOr<std::string> e = cxxScalarType(b.getElementType());
      if (failed(e))
        return where->emitOpError("buffer element type ") << b.getElementType()
                                                          << " is not supported by the emitters";
      return cat("spak_gen::Buf<", *e, ", ", b.getRank(), ">");
    }
    FailureOr<std::string> s = cxxScalarType(t);
    if (failed(s))
      return where->emitOpError("host value type ") << t << " is not supported by the emitters";
    return *s;
  }

  LogicalResult body() {
    if (fn_.getBody().getBlocks().size() != 1)
      return fn_.emitOpError("host functions must have a single block to be emitted");
    for (Operation &op : fn_.getBody().front())
      if (failed(emitOp(&op)))
        return failure();
    return success();
  }

private:
  std::string x(Value v) {
    auto it = names_.find(v);
    return it == names_.end() ? std::string("/*unbound value*/0") : it->second;
  }
  std::string fresh(llvm::StringRef hint) { return cat(hint, counter_++); }

  LogicalResult emitOp(Operation *op) {
    bool handled = false, literal = false;
    FailureOr<std::string> rhs = scalarExprText(op, [&](Value v) { return x(v); }, handled, literal);
    if (handled) {
      if (failed(rhs))
        return failure();
      if (literal) {
        names_[op->getResult(0)] = *rhs;
        return success();
      }
      FailureOr<std::string> t = cxxScalarType(op->getResult(0).getType());
      if (failed(t))
        return op->emitOpError("result type is not supported by the emitters");
      std::string n = fresh("v");
      names_[op->getResult(0)] = n;
      w_.line(cat("const ", *t, " ", n, " = ", *rhs, ";"));
      return success();
    }
    if (auto d = dyn_cast<DimOp>(op)) {
      auto bt = d.getSource().getType();
      names_[d.getResult()] = bt.isDynamicDim(d.getIndex()) ? cat(x(d.getSource()), ".dim[", d.getIndex(), "]")
                                                            : std::to_string(bt.getShape()[d.getIndex()]);
      return success();
    }
    if (auto a = dyn_cast<AllocOp>(op)) {
      BufferType bt = a.getResult().getType();
      FailureOr<std::string> t = typeText(bt, op);
      if (failed(t))
        return failure();
      std::string dims;
      unsigned dyn = 0;
      for (unsigned d = 0; d < bt.getRank(); ++d)
        dims += cat(d ? ", " : "", bt.isDynamicDim(d) ? x(a.getDynamicSizes()[dyn++]) : std::to_string(bt.getShape()[d]));
      std::string n = fresh("buf");
      names_[a.getResult()] = n;
      FailureOr<std::string> e = cxxScalarType(bt.getElementType());
      w_.line(cat("const ", *t, " ", n, " = ctx.alloc<", *e, ", ", bt.getRank(), ">({", dims, "});"));
      return success();
    }
    if (auto v = dyn_cast<ViewOp>(op)) {
      BufferType dst = v.getResult().getType();
      if (dst.getNumDynamicDims() > 1)
        return v.emitOpError("a view to a shape with ")
               << dst.getNumDynamicDims()
               << " dynamic dimensions is ambiguous for the emitters (at most one '?' can be inferred)";
      std::string dims;
      for (unsigned d = 0; d < dst.getRank(); ++d)
        dims += cat(d ? ", " : "", dst.isDynamicDim(d) ? std::string("-1") : std::to_string(dst.getShape()[d]));
      std::string n = fresh("view");
      names_[v.getResult()] = n;
      FailureOr<std::string> t = typeText(dst, op);
      if (failed(t))
        return failure();
      w_.line(cat("const ", *t, " ", n, " = spak_gen::view<", dst.getRank(), ">(", x(v.getSource()), ", {", dims,
                  "});  // ", shapeText(v.getSource().getType().getShape()), " -> ", shapeText(dst.getShape())));
      return success();
    }
    if (auto l = dyn_cast<LaunchOp>(op)) {
      auto kernel = SymbolTable::lookupNearestSymbolFrom<KernelOp>(op, l.getKernelAttr());
      if (!kernel)
        return l.emitOpError("launches an unknown kernel @") << l.getKernel();
      std::string grid;
      for (unsigned i = 0; i < 3; ++i)
        grid += cat(i ? ", " : "", i < l.getGrid().size() ? x(l.getGrid()[i]) : std::string("1"));
      std::string args = cat("spak_gen::Grid{", grid, "}");
      if (kind_ == TargetKind::Cuda)
        args += ", ctx.stream";
      for (Value a : l.getArgs()) {
        args += cat(", ", x(a));
        if (auto bt = dyn_cast<BufferType>(a.getType())) {
          args += ".data";
          for (unsigned d = 0; d < bt.getRank(); ++d)
            if (bt.isDynamicDim(d))
              args += cat(", ", x(a), ".dim[", d, "]");
        }
      }
      w_.line(cat("launch_", sanitizeIdentifier(l.getKernel()), "(", args, ");"));
      return success();
    }
    if (auto c = dyn_cast<func::CallOp>(op)) {
      std::string args = "ctx";
      for (Value a : c.getOperands())
        args += cat(", ", x(a));
      std::string call = cat(sanitizeIdentifier(c.getCallee()), "(", args, ")");
      if (c.getNumResults() == 0) {
        w_.line(call + ";");
      } else if (c.getNumResults() == 1) {
        std::string n = fresh("r");
        names_[c.getResult(0)] = n;
        w_.line(cat("const auto ", n, " = ", call, ";"));
      } else {
        std::string n = fresh("r");
        w_.line(cat("const auto ", n, " = ", call, ";"));
        for (auto [i, r] : llvm::enumerate(c.getResults()))
          names_[r] = cat(n, ".r", i);
      }
      return success();
    }
    if (auto r = dyn_cast<func::ReturnOp>(op)) {
      if (r.getNumOperands() == 0)
        w_.line("return;");
      else if (r.getNumOperands() == 1)
        w_.line(cat("return ", x(r.getOperand(0)), ";"));
      else {
        std::string vals;
        for (Value v : r.getOperands())
          vals += cat(vals.empty() ? "" : ", ", x(v));
        w_.line(cat("return {", vals, "};"));
      }
      return success();
    }
    return op->emitOpError("is not supported in a host function by the C++/CUDA emitters");
  }

  func::FuncOp fn_;
public:
  /// The `<fn>_results` struct of the last signature() with several results, else empty.
  const std::string &resultsStruct() const { return resultsStruct_; }

private:
  std::string resultsStruct_;
  TargetKind kind_;
  SourceWriter &w_;
  llvm::DenseMap<Value, std::string> names_;
  unsigned counter_ = 0;
};
} // namespace

LogicalResult emitHostFunctions(ModuleOp module, TargetKind kind, SourceWriter &decls,
                                SourceWriter &defs, std::vector<std::string> &names) {
  for (auto fn : module.getOps<func::FuncOp>()) {
    if (fn.isExternal())
      return fn.emitOpError("is a declaration; host functions need a body to be emitted");
    HostEmitter he(fn, kind, defs);
    FailureOr<std::string> sig = he.signature();
    if (failed(sig))
      return failure();
    if (!he.resultsStruct().empty())
      for (llvm::StringRef l : llvm::split(he.resultsStruct(), '\n'))
        decls.line(l.str());
    decls.line(*sig + ";");
    defs.line(cat("// host step function @", fn.getSymName(), ": launches on one ",
                  kind == TargetKind::Cuda ? "stream, no host synchronisation" : "thread, in order"));
    defs.line(*sig + " {");
    defs.indent();
    if (failed(he.body()))
      return failure();
    defs.dedent();
    defs.line("}");
    defs.blank();
    names.push_back(sanitizeIdentifier(fn.getSymName()));
  }
  return success();
}

std::string commonPrelude(TargetKind kind) {
  bool cuda = kind == TargetKind::Cuda;
  std::string s;
  s += R"(#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <tuple>
)";
  if (cuda)
    s += "#include <cuda_runtime.h>\n";
  s += R"(
#if defined(__CUDACC__)
#define SPAK_HD __host__ __device__ __forceinline__
#else
#define SPAK_HD inline
#endif

namespace spak_gen {

// A launch grid: one program instance per (x, y, z) point.
struct Grid {
  int64_t x = 1, y = 1, z = 1;
};

// A row-major contiguous buffer (host handle): data pointer plus its dims.
template <typename T, int Rank>
struct Buf {
  T* data = nullptr;
  std::array<int64_t, Rank> dim{};
};

template <typename T, int Rank>
inline int64_t numel(const Buf<T, Rank>& b) {
  int64_t n = 1;
  for (int64_t d : b.dim) n *= d;
  return n;
}

// The same elements seen with another shape; at most one dim is -1 (inferred).
template <int Rank2, typename T, int Rank>
inline Buf<T, Rank2> view(const Buf<T, Rank>& b, std::array<int64_t, Rank2> dims) {
  int64_t known = 1, inferred = -1;
  for (int i = 0; i < Rank2; ++i) {
    if (dims[i] < 0) inferred = i;
    else known *= dims[i];
  }
  const int64_t n = numel(b);
  if (inferred >= 0) {
    if (known == 0 || n % known != 0)
      throw std::runtime_error("spak: cannot view " + std::to_string(n) + " elements with a dimension of " +
                               std::to_string(known) + " elements per step");
    dims[inferred] = n / known;
  } else if (known != n) {
    throw std::runtime_error("spak: view of " + std::to_string(n) + " elements as " + std::to_string(known));
  }
  return Buf<T, Rank2>{b.data, dims};
}

// Per-step scratch memory: a bump allocator over one block the driver owns
)";
  s += cuda ? "// (device memory; allocation is pointer arithmetic only, so a step can be captured in a CUDA graph).\n"
            : "// (host memory). reset() at the start of every step.\n";
  s += R"(struct StepContext {
  unsigned char* base = nullptr;
  size_t capacity = 0;  // bytes
  size_t used = 0;
  size_t high_water = 0;
)";
  if (cuda)
    s += "  cudaStream_t stream = nullptr;\n";
  s += R"(
  void reset() { used = 0; }

  template <typename T, int Rank>
  Buf<T, Rank> alloc(std::array<int64_t, Rank> dims) {
    int64_t n = 1;
    for (int64_t d : dims) {
      if (d < 0) throw std::runtime_error("spak: negative buffer dimension " + std::to_string(d));
      n *= d;
    }
    const size_t bytes = (size_t(n) * sizeof(T) + 255) & ~size_t(255);  // 256-byte aligned buffers
    if (used + bytes > capacity)
      throw std::runtime_error("spak: step workspace exhausted: need " + std::to_string(used + bytes) +
                               " bytes, have " + std::to_string(capacity));
    Buf<T, Rank> b{reinterpret_cast<T*>(base + used), dims};
    used += bytes;
    high_water = std::max(high_water, used);
    return b;
  }
};

SPAK_HD int64_t ceildiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// bf16 buffers hold the upper 16 bits of an f32 (spak_tile.convert): round to nearest even, NaN stays NaN.
SPAK_HD uint16_t f32_to_bf16(float x) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800 && !defined(SPAK_CUDA_EMULATION)
  uint16_t h;  // the same bits as below, in one instruction (a NaN stays a NaN)
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h) : "f"(x));
  return h;
#else
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
#endif
}
SPAK_HD float bf16_to_f32(uint16_t h) {
  const uint32_t u = uint32_t(h) << 16;
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}
template <typename T> SPAK_HD T min_of(T a, T b) { return b < a ? b : a; }
template <typename T> SPAK_HD T max_of(T a, T b) { return a < b ? b : a; }

}  // namespace spak_gen
)";
  return s;
}

} // namespace spak::target::detail
