//===- CppEmitter.cpp - spak_tile -> portable C++ (target cpp) ------------===//
//
// The CI reference target. Every spak_tile.kernel becomes
//
//   static void <k>_program(program_x, program_y, program_z, args...)  // one program instance
//   void launch_<k>(const spak_gen::Grid& grid, args...)               // loops over the grid
//
// Tiles are local std::array<T, N> (row-major over the tile's static shape),
// element-wise ops are loops over the tile, reductions / broadcasts are nested
// loops, mma is a triple loop, atomic_add is a plain add (one thread).
//
//===----------------------------------------------------------------------===//
#include "../Common/Codegen.h"

#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace spak::tile;

namespace spak::target::detail {
namespace {

/// Horner text of the row-major linear index of `idx` in `shape`.
std::string linearIndex(ArrayRef<int64_t> shape, ArrayRef<std::string> idx) {
  std::string acc = idx[0];
  for (size_t d = 1; d < shape.size(); ++d) {
    if (shape[d] != 1 && acc != "0") {
      bool compound = acc.find_first_of("+*") != std::string::npos;
      acc = cat(compound ? "(" + acc + ")" : acc, " * ", shape[d]);
    }
    if (idx[d] != "0")
      acc = acc == "0" ? idx[d] : cat(acc, " + ", idx[d]);
  }
  return acc;
}

class CppKernelEmitter : public KernelEmitterBase {
public:
  using KernelEmitterBase::KernelEmitterBase;

  LogicalResult emit() {
    FailureOr<std::string> params = paramListText(kernel_, params_);
    if (failed(params))
      return failure();
    std::string name = sanitizeIdentifier(kernel_.getSymName());
    writeKernelBanner(w_, kernel_, "cpp: tiles are std::array locals; the launcher loops over the grid");
    w_.line(cat("static void ", name, "_program(int64_t program_x, int64_t program_y, int64_t program_z",
                params->empty() ? "" : ", ", *params, ") {"));
    w_.indent();
    w_.line("(void)program_x; (void)program_y; (void)program_z;");
    if (std::string u = unusedDimsText(params_); !u.empty())
      w_.line(u);
    if (failed(emitBody()))
      return failure();
    w_.dedent();
    w_.line("}");
    w_.blank();
    decl_ = cat("void launch_", name, "(const spak_gen::Grid& grid", params->empty() ? "" : ", ", *params, ")");
    w_.line(decl_ + " {");
    w_.indent();
    w_.line("for (int64_t program_z = 0; program_z < grid.z; ++program_z)");
    w_.line("  for (int64_t program_y = 0; program_y < grid.y; ++program_y)");
    w_.line("    for (int64_t program_x = 0; program_x < grid.x; ++program_x)");
    std::string fwd = forwardArgsText(params_);
    w_.line(cat("      ", name, "_program(program_x, program_y, program_z", fwd.empty() ? "" : ", ", fwd, ");"));
    w_.dedent();
    w_.line("}");
    w_.blank();
    return success();
  }

  std::string declaration() const { return decl_ + ";"; }

protected:
  void declareTile(TileType type, const std::string &name) override {
    std::string elt = *cxxScalarType(type.getElementType());
    w_.line(cat("std::array<", elt, ", ", numElements(type), "> ", name, ";  // ", shapeText(type.getShape()),
                " ", elt, type.getMemorySpace() == MemorySpace::smem ? " (smem stage on GPU)" : ""));
  }

  void openElementLoop(TileType type, bool needIndices) override {
    ArrayRef<int64_t> shape = type.getShape();
    if (!needIndices || shape.empty()) {
      w_.line(cat("for (int64_t e = 0; e < ", numElements(type), "; ++e) {"));
      w_.indent();
      loopDepth_.push_back(1);
      return;
    }
    for (size_t d = 0; d < shape.size(); ++d) {
      w_.line(cat("for (int64_t i", d, " = 0; i", d, " < ", shape[d], "; ++i", d, ") {"));
      w_.indent();
    }
    SmallVector<std::string> idx;
    for (size_t d = 0; d < shape.size(); ++d)
      idx.push_back(cat("i", d));
    w_.line(cat("const int64_t e = ", linearIndex(shape, idx), ";"));
    loopDepth_.push_back(static_cast<int>(shape.size()));
  }

  void closeElementLoop() override {
    for (int d = loopDepth_.pop_back_val(); d > 0; --d) {
      w_.dedent();
      w_.line("}");
    }
  }

  std::string elemOf(const std::string &name, TileType) override { return name + "[e]"; }

  std::string programIdText(unsigned axis) override {
    static const char *names[] = {"program_x", "program_y", "program_z"};
    return names[axis];
  }

  std::string mathCall(llvm::StringRef fn, Type type, llvm::StringRef x) override {
    if (fn == "rsqrt")
      return cat(type.isF32() ? "1.0f" : "1.0", " / std::sqrt(", x, ")");
    return cat("std::", fn, "(", x, ")");
  }

  std::string maxCall(Type, llvm::StringRef a, llvm::StringRef b) override {
    return cat("spak_gen::max_of(", a, ", ", b, ")");
  }

  std::string atomicAddText(llvm::StringRef lvalue, llvm::StringRef value) override {
    return cat(lvalue, " += ", value, "  /* atomic_add: one thread on the CPU */");
  }

  LogicalResult emitTargetOp(Operation *op) override {
    if (auto r = dyn_cast<ReduceOp>(op))
      return emitReduce(r);
    if (auto b = dyn_cast<BroadcastOp>(op))
      return emitBroadcast(b);
    if (auto m = dyn_cast<MmaOp>(op))
      return emitMma(m);
    if (auto x = dyn_cast<ExtractOp>(op))
      return emitExtract(x);
    return op->emitOpError("is not supported by the cpp emitter");
  }

private:
  static std::string identity(ReduceKind kind, Type elt) {
    if (kind == ReduceKind::sum)
      return isa<FloatType>(elt) ? floatLiteral(0.0, elt) : std::string("0");
    if (isa<FloatType>(elt))
      return elt.isF32() ? "(-INFINITY)" : "double(-INFINITY)";
    return cat("std::numeric_limits<", *cxxScalarType(elt), ">::lowest()");
  }

  LogicalResult emitReduce(ReduceOp op) {
    TileType src = op.getSource().getType(), dst = op.getResult().getType();
    std::string n = defineTile(op.getResult());
    unsigned axis = op.getAxis();
    std::string elt = *cxxScalarType(dst.getElementType());
    w_.line(cat("// ", n, " = ", stringifyReduceKind(op.getKind()), " of ", expr(op.getSource()), " over axis ", axis));
    openElementLoop(dst, true);
    SmallVector<std::string> idx;
    for (unsigned d = 0; d < src.getRank(); ++d)
      idx.push_back(d == axis ? std::string("r") : cat("i", d));
    w_.line(cat(elt, " a = ", identity(op.getKind(), dst.getElementType()), ";"));
    std::string v = cat(expr(op.getSource()), "[", linearIndex(src.getShape(), idx), "]");
    w_.line(cat("for (int64_t r = 0; r < ", src.getShape()[axis], "; ++r) ",
                op.getKind() == ReduceKind::sum ? cat("a += ", v, ";") : cat("a = spak_gen::max_of(a, ", v, ");")));
    w_.line(cat(n, "[e] = a;"));
    closeElementLoop();
    return success();
  }

  LogicalResult emitBroadcast(BroadcastOp op) {
    auto src = cast<TileType>(op.getSource().getType());
    TileType dst = op.getResult().getType();
    std::string n = defineTile(op.getResult());
    openElementLoop(dst, true);
    SmallVector<std::string> idx;
    for (unsigned d = 0; d < src.getRank(); ++d)
      idx.push_back(src.getShape()[d] == 1 ? std::string("0") : cat("i", d));
    w_.line(cat(n, "[e] = ", expr(op.getSource()), "[", src.getRank() ? linearIndex(src.getShape(), idx) : "0", "];"));
    closeElementLoop();
    return success();
  }

  LogicalResult emitMma(MmaOp op) {
    TileType a = op.getA().getType(), b = op.getB().getType(), dst = op.getResult().getType();
    bool ta = op.getTransposeA(), tb = op.getTransposeB();
    int64_t k = ta ? a.getShape()[0] : a.getShape()[1];
    std::string n = defineTile(op.getResult());
    std::string elt = *cxxScalarType(dst.getElementType());
    w_.line(cat("// ", n, " = ", ta ? "a^T" : "a", " * ", tb ? "b^T" : "b", " + acc  (", shapeText(dst.getShape()),
                ", k = ", k, ")"));
    openElementLoop(dst, true);
    std::string aIdx = ta ? cat("kk * ", a.getShape()[1], " + i0") : cat("i0 * ", k, " + kk");
    std::string bIdx = tb ? cat("i1 * ", k, " + kk") : cat("kk * ", b.getShape()[1], " + i1");
    w_.line(cat(elt, " s = ", elem(op.getAcc()), ";"));
    w_.line(cat("for (int64_t kk = 0; kk < ", k, "; ++kk) s += ", expr(op.getA()), "[", aIdx, "] * ",
                expr(op.getB()), "[", bIdx, "];"));
    w_.line(cat(n, "[e] = s;"));
    closeElementLoop();
    return success();
  }

  LogicalResult emitExtract(ExtractOp op) {
    TileType src = op.getSource().getType();
    SmallVector<std::string> idx;
    for (int64_t p : op.getPosition())
      idx.push_back(std::to_string(p));
    std::string n = bindNew(op.getResult(), "x");
    w_.line(cat("const ", *cxxScalarType(op.getResult().getType()), " ", n, " = ", expr(op.getSource()), "[",
                src.getRank() ? linearIndex(src.getShape(), idx) : "0", "];"));
    return success();
  }

  std::string decl_;
  SmallVector<int> loopDepth_;
};

} // namespace

FailureOr<EmittedUnit> emitCppUnit(ModuleOp module, const EmitOptions &) {
  EmittedUnit unit;
  unit.kind = TargetKind::Cpp;
  SourceWriter decls, kernels, host;
  for (auto kernel : module.getOps<KernelOp>()) {
    size_t start = kernels.size();
    CppKernelEmitter ke(kernel, kernels);
    if (failed(ke.emit()))
      return failure();
    decls.line(ke.declaration());
    unit.kernelSources.push_back({kernel.getSymName().str(), kernels.str().substr(start)});
  }
  SourceWriter hostDecls;
  if (failed(emitHostFunctions(module, TargetKind::Cpp, hostDecls, host, unit.hostFunctions)))
    return failure();
  unit.prelude = commonPrelude(TargetKind::Cpp) + "\nnamespace spak_gen {\n\n// Kernels (launch_<kernel> runs the "
                 "whole grid).\n" + decls.take() + "\n// Host step functions.\n" + hostDecls.take() +
                 "\n}  // namespace spak_gen\n";
  unit.kernels = "namespace spak_gen {\n\n" + kernels.take() + "}  // namespace spak_gen\n";
  unit.host = "namespace spak_gen {\n\n" + host.take() + "}  // namespace spak_gen\n";
  return unit;
}

} // namespace spak::target::detail
