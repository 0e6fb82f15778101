//===- Bf16Producers.cpp - bf16 copies written by the kernel that produces them ===//
//
// spak-bf16-producers (cuda target, after spak-bf16-operands): a launch of
// `@cast_bf16` reads an f32 buffer that a kernel wrote just before, and writes
// its bf16 copy: one more read of the f32 bytes and one more launch (75 per
// shakespeare-char step, 12.6 % of its kernel time on the H100, measured
// 2026-11-23). The producer already holds every value in registers, so this
// pass has it store the bf16 copy too and drops the cast:
//
//  1. Which casts. In a host function, a cast whose source buffer (the root
//     of its views) is an alloc of that function, with exactly one launch
//     before the cast writing it (through one argument) and no other use
//     before the cast than views, dims and that launch. The producer kernel
//     may touch that argument only with stores of register tiles (no loads,
//     no atomics); each store gets a twin: the value converted to bf16
//     (round to nearest even, as the cast kernel does) stored at the same
//     offsets under the same mask into a new bf16 argument. So every element
//     the producer writes gets the value the cast would have made of it, and
//     no element of the copy is read that the producer did not write (the
//     cast read the same elements of the same buffer, written by no one
//     else).
//  2. Kernels. The twin stores go into a variant of the producer,
//     `<family>_bf16_<n>` (one per producer and set of arguments), with the
//     bf16 buffers appended to its arguments; the producer itself stays for
//     launches that need no copy.
//  3. Host. The copy's buffer is allocated before the producer's launch,
//     shaped like the f32 buffer; the old copy alloc becomes a view of it (its
//     users are unchanged); the producer's launch becomes the variant's, the
//     f32 argument's views repeated on the copy; the cast launch goes.
//  4. Dead f32 stores. When nothing else in the function reads the f32 buffer
//     (no launch, call or return uses it: the copy replaced its only reader),
//     the variant stores only the bf16 copy (the f32 argument stays in the
//     signature, unwritten).
//
// Weight casts (function arguments, written by the optimizer in another
// function) are left as they are.
//
// The rule: the pass runs when the module's rules (`spak.rules`, from
// rules/fusion.dsl) hold an enabled rule whose apply is
// `bf16_copy_in_producer`; each variant names it in its math and in its
// `spak.bf16_copy` attribute ({rule, rule_loc}: `spakc explain` lists the
// variants under the rule). Disabled or absent: nothing
// changes, every copy is made by the cast kernel.
//
//===----------------------------------------------------------------------===//
#include "spak/Dialect/Tile/Transforms/Passes.h"
#include "HostViews.h"
#include "spak/Dialect/Graph/Graph.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/SmallPtrSet.h"

#include <map>

namespace spak::tile {
#define GEN_PASS_DEF_BF16PRODUCERS
#include "spak/Dialect/Tile/Transforms/Passes.h.inc"
} // namespace spak::tile

using namespace mlir;
using namespace spak::tile;

namespace {

constexpr llvm::StringLiteral kVariantAttr = "spak.bf16_copy";    // {rule, rule_loc} on each variant
constexpr llvm::StringLiteral kApply = "bf16_copy_in_producer";  // the rule apply that enables the pass

/// Whether `kernel` uses its argument `idx` only through `dim` ops (its extent, not its elements).
bool onlyDims(KernelOp kernel, unsigned idx) {
  Block &entry = kernel.getBody().front();
  if (idx >= entry.getNumArguments())
    return false;
  return llvm::all_of(entry.getArgument(idx).getUsers(), [](Operation *u) { return isa<DimOp>(u); });
}

/// Every value that is `root` or a view of it (transitively).
void viewsOf(Value root, SmallVectorImpl<Value> &out) {
  out.push_back(root);
  for (size_t i = out.size() - 1; i < out.size(); ++i)
    for (Operation *user : out[i].getUsers())
      if (auto v = dyn_cast<ViewOp>(user))
        out.push_back(v.getResult());
}

/// Whether argument `i` of `kernel` is touched only by stores of register tiles of f32 (and `dim`s): then each store
/// can get a bf16 twin.
bool twinnable(KernelOp kernel, unsigned i) {
  BlockArgument arg = kernel.getBody().front().getArgument(i);
  auto bt = dyn_cast<BufferType>(arg.getType());
  if (!bt || !bt.getElementType().isF32())
    return false;
  bool anyStore = false;
  for (OpOperand &use : arg.getUses()) {
    Operation *user = use.getOwner();
    if (isa<DimOp>(user))
      continue;
    auto st = dyn_cast<StoreOp>(user);
    if (!st || use.get() != st.getBuffer())
      return false;
    auto t = cast<TileType>(st.getValue().getType());
    if (t.getMemorySpace() == MemorySpace::smem || !t.getElementType().isF32())
      return false;
    anyStore = true;
  }
  return anyStore;
}

/// The family of a kernel name (`layernorm_0` -> `layernorm`) and its number (-1: none).
std::pair<std::string, std::string> splitName(llvm::StringRef name) {
  size_t us = name.rfind('_');
  if (us != llvm::StringRef::npos && us + 1 < name.size() &&
      llvm::all_of(name.drop_front(us + 1), [](char c) { return c >= '0' && c <= '9'; }))
    return {name.take_front(us).str(), name.drop_front(us + 1).str()};
  return {name.str(), "0"};
}

/// One producer launch to rewrite: the arguments whose stores get twins (and whether the f32 store stays).
struct Twin {
  unsigned arg;
  bool keepF32;
  Value copyRoot;   // the old copy alloc (becomes a view of the new one)
  LaunchOp cast;    // the cast launch to erase
};

struct Bf16ProducersPass : spak::tile::impl::Bf16ProducersBase<Bf16ProducersPass> {
  // (producer, twinned args with keep flags) -> variant
  std::map<std::pair<std::string, std::vector<std::pair<unsigned, bool>>>, KernelOp> variants;
  std::map<std::string, Operation *> lastVariant;

  std::string ruleName, ruleLoc;

  /// The enabled rule that asks for this pass (apply `bf16_copy_in_producer`), if any.
  bool findRule(ModuleOp module) {
    spak::graph::RuleAttr r = spak::graph::findEnabledRule(module, kApply);
    if (!r)
      return false;
    ruleName = r.getName().str();
    ruleLoc = r.getLoc().str();
    return true;
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (!SymbolTable::lookupSymbolIn(module, kCastKernel) || !findRule(module))
      return;
    SymbolTable symbols(module);
    llvm::DenseMap<StringAttr, SmallVector<bool>> writes;
    for (KernelOp k : module.getOps<KernelOp>())
      writes[k.getSymNameAttr()] = k.getWrittenArguments();

    for (auto fn : llvm::make_early_inc_range(module.getOps<func::FuncOp>())) {
      if (fn.isExternal())
        continue;
      Block &body = fn.getBody().front();
      // Program order, for "before".
      llvm::DenseMap<Operation *, unsigned> order;
      unsigned n = 0;
      for (Operation &op : body)
        order[&op] = n++;

      // Step 1: the casts to fold, grouped by producer launch.
      llvm::MapVector<Operation *, SmallVector<Twin>> plan;
      for (Operation &op : body) {
        auto castL = dyn_cast<LaunchOp>(op);
        if (!castL || castL.getKernel() != kCastKernel || castL.getArgs().size() != 2)
          continue;
        unsigned castAt = order.lookup(&op);
        Value root = rootOf(castL.getArgs()[0]);
        Value copyRoot = rootOf(castL.getArgs()[1]);
        auto rootAlloc = root.getDefiningOp<AllocOp>();
        auto copyAlloc = copyRoot.getDefiningOp<AllocOp>();
        if (!rootAlloc || !copyAlloc || rootAlloc->getBlock() != &body || copyAlloc->getBlock() != &body)
          continue;
        SmallVector<Value> all;
        viewsOf(root, all);
        LaunchOp producer;
        unsigned producerArg = 0;
        bool ok = true;
        for (Value v : all) {
          for (OpOperand &use : v.getUses()) {
            Operation *user = use.getOwner();
            if (user->getBlock() != &body || order.lookup(user) >= castAt ||
                isa<ViewOp, DimOp>(user))
              continue;
            auto l = dyn_cast<LaunchOp>(user);
            if (!l) {
              ok = false;
              break;
            }
            unsigned idx = use.getOperandNumber() - l.getGrid().size();
            auto w = writes.find(l.getKernelAttr().getAttr());
            bool writesIt = w == writes.end() || idx >= w->second.size() || w->second[idx];
            if (!writesIt)
              continue;  // a reader before the cast: harmless
            if (producer) {  // a second writer (or the same launch through two arguments)
              ok = false;
              break;
            }
            producer = l;
            producerArg = idx;
          }
          if (!ok)
            break;
        }
        if (!ok || !producer || producer.getKernel() == kCastKernel)
          continue;
        auto kernel = symbols.lookup<KernelOp>(producer.getKernel());
        if (!kernel || !twinnable(kernel, producerArg))
          continue;
        // The copy must be read only after the cast (it is: makeCopy allocates it just before), so it can be
        // allocated earlier.
        bool copyUsedBefore = llvm::any_of(copyRoot.getUsers(), [&](Operation *u) {
          return u != castL.getOperation() && order.lookup(u) < castAt && !isa<ViewOp, DimOp>(u);
        });
        // One copy per producer argument (a second cast of the same buffer, as another view type, stays).
        auto it = plan.find(producer.getOperation());
        if (copyUsedBefore ||
            (it != plan.end() && llvm::any_of(it->second, [&](const Twin &t) { return t.arg == producerArg; })))
          continue;
        plan[producer.getOperation()].push_back(Twin{producerArg, true, copyRoot, castL});
      }
      if (plan.empty())
        continue;

      // Step 4's test: is the f32 buffer read by anything but the producer and the casts being removed?
      llvm::SmallPtrSet<Operation *, 16> removed;
      for (auto &[p, twins] : plan)
        for (Twin &t : twins)
          removed.insert(t.cast);
      for (auto &[p, twins] : plan) {
        auto producer = cast<LaunchOp>(p);
        for (Twin &t : twins) {
          SmallVector<Value> all;
          viewsOf(rootOf(producer.getArgs()[t.arg]), all);
          bool read = false;
          for (Value v : all)
            for (OpOperand &use : v.getUses()) {
              Operation *user = use.getOwner();
              if (isa<ViewOp, DimOp>(user) || user == p || removed.contains(user))
                continue;
              // A launch whose kernel only takes the buffer's dims (fused_softmax_xent_sum: the logits' rows) does
              // not read its elements.
              if (auto l = dyn_cast<LaunchOp>(user); l && use.getOperandNumber() >= l.getGrid().size())
                if (auto k = symbols.lookup<KernelOp>(l.getKernel()))
                  if (onlyDims(k, use.getOperandNumber() - l.getGrid().size()))
                    continue;
              read = true;
            }
          // The producer may read the buffer through another argument too (in place): keep the f32 stores then.
          for (auto [i, a] : llvm::enumerate(producer.getArgs()))
            if (i != t.arg && llvm::is_contained(all, a))
              read = true;
          t.keepF32 = read;
        }
      }

      // Steps 2 and 3.
      for (auto &[p, twins] : plan) {
        auto producer = cast<LaunchOp>(p);
        llvm::sort(twins, [](const Twin &a, const Twin &b) { return a.arg < b.arg; });
        std::vector<std::pair<unsigned, bool>> key;
        for (Twin &t : twins)
          key.push_back({t.arg, t.keepF32});
        KernelOp variant = variantOf(module, symbols, symbols.lookup<KernelOp>(producer.getKernel()), key);
        OpBuilder b(producer);
        Location loc = producer.getLoc();
        SmallVector<Value> extra;
        Type bf16 = BFloat16Type::get(module.getContext());
        for (Twin &t : twins) {
          SmallVector<ViewOp> chain;
          Value root = rootOf(producer.getArgs()[t.arg], &chain);
          auto rt = cast<BufferType>(root.getType());
          SmallVector<Value> sizes;
          for (unsigned d = 0; d < rt.getRank(); ++d)
            if (rt.isDynamicDim(d))
              sizes.push_back(DimOp::create(b, loc, root, d));
          Value copy = AllocOp::create(b, loc, BufferType::get(rt.getShape(), bf16), sizes);
          Value v = copy;
          for (ViewOp view : chain) {
            auto vt = cast<BufferType>(view.getResult().getType());
            v = ViewOp::create(b, loc, BufferType::get(vt.getShape(), bf16), v);
          }
          extra.push_back(v);
          // The old copy alloc: now a view of the new copy.
          auto oldAlloc = t.copyRoot.getDefiningOp<AllocOp>();
          OpBuilder ob(oldAlloc);
          Value asView = ViewOp::create(ob, oldAlloc.getLoc(), oldAlloc.getType(), copy);
          oldAlloc.getResult().replaceAllUsesWith(asView);
          eraseWithDeadOperands(oldAlloc);
          eraseWithDeadOperands(t.cast);
        }
        SmallVector<Value> args(producer.getArgs());
        args.append(extra);
        LaunchOp::create(b, loc, variant.getSymName(), producer.getGrid(), args);
        producer.erase();
      }
    }
    // Producers that no launch uses any more (every launch took a variant) go.
    llvm::DenseSet<StringAttr> launched;
    module.walk([&](LaunchOp l) { launched.insert(l.getKernelAttr().getAttr()); });
    for (auto &[key, variant] : variants)
      if (auto k = symbols.lookup<KernelOp>(key.first); k && !launched.contains(k.getSymNameAttr()))
        symbols.erase(k);
  }

  /// Erases `op`, then any pure host op (view, dim, arith) left without users by that.
  static void eraseWithDeadOperands(Operation *op) {
    SmallVector<Operation *> work{op};
    while (!work.empty()) {
      Operation *o = work.pop_back_val();
      SmallVector<Value> operands(o->getOperands());
      o->erase();
      for (Value v : operands)
        if (Operation *d = v.getDefiningOp())
          if (d->use_empty() && (isa<ViewOp, DimOp>(d) || d->getDialect()->getNamespace() == "arith"))
            work.push_back(d);
    }
  }

  /// The variant of `kernel` whose stores into the arguments `key` also store bf16 copies into appended arguments
  /// (and, where the flag is false, only those).
  KernelOp variantOf(ModuleOp module, SymbolTable &symbols, KernelOp kernel,
                     const std::vector<std::pair<unsigned, bool>> &key) {
    auto &slot = variants[{kernel.getSymName().str(), key}];
    if (slot)
      return slot;
    MLIRContext *ctx = module.getContext();
    Type bf16 = BFloat16Type::get(ctx);
    auto [family, num] = splitName(kernel.getSymName());
    std::string name = family + "_bf16_" + num;
    for (int i = 1; symbols.lookup(name); ++i)
      name = family + "_bf16_" + num + "_" + std::to_string(i);
    OpBuilder b(kernel);
    Operation *&after = lastVariant[kernel.getSymName().str()];  // variants follow their kernel, in creation order
    b.setInsertionPointAfter(after ? after : kernel.getOperation());
    auto variant = cast<KernelOp>(b.clone(*kernel));
    after = variant;
    variant.setSymName(name);
    symbols.insert(variant);
    Block &entry = variant.getBody().front();
    std::string twins;
    for (auto [arg, keep] : key) {
      BlockArgument src = entry.getArgument(arg);
      auto bt = cast<BufferType>(src.getType());
      BlockArgument dst = entry.addArgument(BufferType::get(bt.getShape(), bf16), src.getLoc());
      SmallVector<StoreOp> stores;
      for (Operation *user : src.getUsers())
        if (auto st = dyn_cast<StoreOp>(user))
          stores.push_back(st);
      for (StoreOp st : stores) {
        OpBuilder sb(st);
        sb.setInsertionPointAfter(st);
        auto t = cast<TileType>(st.getValue().getType());
        Value h = ConvertOp::create(sb, st.getLoc(), t.withElementType(bf16), st.getValue());
        auto twin = StoreOp::create(sb, st.getLoc(), h, dst, st.getOffsets(), st.getMask());
        if (st->hasAttr("spak.in_bounds"))  // the same elements as the f32 store: in bounds the same way
          twin->setAttr("spak.in_bounds", st->getAttr("spak.in_bounds"));
        if (!keep)
          st.erase();
      }
      twins += (twins.empty() ? "" : "; ") + std::string("arg ") + std::to_string(dst.getArgNumber()) +
               " = bf16(arg " + std::to_string(arg) + ")" + (keep ? "" : ", arg " + std::to_string(arg) + " unwritten");
    }
    SmallVector<Type> inputs(entry.getArgumentTypes());
    variant.setFunctionTypeAttr(TypeAttr::get(FunctionType::get(ctx, inputs, {})));
    variant.setMathAttr(StringAttr::get(ctx, kernel.getMath() + "; " + twins + "  [bf16 copies by rule \"" + ruleName +
                                                 "\" (" + ruleLoc + ")]"));
    variant->setAttr(kVariantAttr, DictionaryAttr::get(ctx, {NamedAttribute(StringAttr::get(ctx, "rule"),
                                                                             StringAttr::get(ctx, ruleName)),
                                                              NamedAttribute(StringAttr::get(ctx, "rule_loc"),
                                                                             StringAttr::get(ctx, ruleLoc))}));
    return slot = variant;
  }
};

} // namespace
