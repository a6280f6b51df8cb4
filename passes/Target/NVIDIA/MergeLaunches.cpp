//===- MergeLaunches.cpp - independent kernels as one launch --------------===//
//
// A launch costs a few microseconds whatever it computes, and decode at
// batch 1 is a chain of small kernels: q, k and v's GEMVs, gate and up's,
// each a grid of a few hundred blocks, each waiting for the one before it
// on the stream though none reads what another writes. Consecutive launches
// with the same block shape that touch no common memory (but to read it)
// become one launch over both grids (horizontal fusion): block b < n1 runs
// the first kernel's block b, the others the second's block b - n1, each
// grid linearized (x fastest). A block runs one body uniformly, so barriers
// in either stay block-wide.
//
// Runs on gpu.launch ops before outlining. Memory is told apart by its
// base: distinct allocations, globals and arguments do not alias a fresh
// allocation. Two arguments of a function do not alias when both are
// distinct arguments: the model entry points' (no two tensors overlap: the
// runtime's contract, llama_abi.h), and those of
// a function whose every call passes them memory distinct from the call's
// other operands (a layer's caches, weights, x). Other arguments may alias,
// so they are only read in common.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/Target/NVIDIA/KernelOperands.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"

namespace mlir::llama {
#define GEN_PASS_DEF_LLAMAMERGELAUNCHESPASS
#include "passes/Passes.h.inc"
} // namespace mlir::llama

using namespace mlir;
using mlir::llama::DistinctArguments;
using mlir::llama::isAllocation;
using mlir::llama::mayAlias;

namespace {

/// A buffer a kernel reads or writes, by what it is a view of (null:
/// unknown).
struct Access {
  Value base;
  bool write;
};

/// What `launch` touches; nullopt when some effect is not on a known value.
std::optional<SmallVector<Access>> accessesOf(gpu::LaunchOp launch) {
  std::optional<SmallVector<MemoryEffects::EffectInstance>> effects =
      mlir::llama::effectsOf(launch);
  if (!effects)
    return std::nullopt;
  SmallVector<Access> accesses;
  for (const MemoryEffects::EffectInstance &e : *effects) {
    if (isa<MemoryEffects::Allocate, MemoryEffects::Free>(e.getEffect()))
      return std::nullopt; // kernels here allocate nothing
    Value base = e.getValue() ? mlir::llama::baseOf(e.getValue()) : Value();
    if (!base)
      return std::nullopt;
    accesses.push_back({base, isa<MemoryEffects::Write>(e.getEffect())});
  }
  return accesses;
}

/// Whether `func` is a model entry point: its arguments carry the manifest's
/// roles (llama.weight, llama.kv_cache, llama.input).
bool isEntryPoint(func::FuncOp func) {
  for (unsigned i = 0; i < func.getNumArguments(); ++i)
    if (DictionaryAttr attrs = func.getArgAttrDict(i))
      for (NamedAttribute attr : attrs)
        if (attr.getName().strref().starts_with("llama."))
          return true;
  return false;
}

DistinctArguments distinctArguments(ModuleOp module) {
  DistinctArguments distinct;
  DenseMap<StringRef, SmallVector<func::CallOp>> calls;
  module.walk(
      [&](func::CallOp call) { calls[call.getCallee()].push_back(call); });
  SmallVector<func::FuncOp> callees;
  module.walk([&](func::FuncOp func) {
    if (isEntryPoint(func)) {
      for (BlockArgument arg : func.getArguments())
        if (isa<MemRefType>(arg.getType()))
          distinct.insert(arg);
    } else if (func.isPrivate() && !func.isExternal()) {
      callees.push_back(func);
    }
  });
  // An operand of a call is distinct memory when its base is an allocation
  // or a distinct argument, and no other memory operand shares that base.
  auto distinctAt = [&](func::CallOp call, unsigned i) {
    Value base = mlir::llama::baseOf(call.getOperand(i));
    if (!base || !(isAllocation(base) || distinct.contains(base)))
      return false;
    for (auto [j, other] : llvm::enumerate(call.getOperands()))
      if (j != i && isa<MemRefType>(other.getType()) &&
          mlir::llama::baseOf(other) == base)
        return false;
    return true;
  };
  // Callers before callees: layers are called by the entry points only, so
  // two rounds settle them.
  for (int round = 0; round < 2; ++round)
    for (func::FuncOp func : callees) {
      auto it = calls.find(func.getSymName());
      if (it == calls.end())
        continue;
      ArrayRef<func::CallOp> sites = it->second;
      for (BlockArgument arg : func.getArguments())
        if (isa<MemRefType>(arg.getType()) &&
            llvm::all_of(sites, [&](func::CallOp call) {
              return distinctAt(call, arg.getArgNumber());
            }))
          distinct.insert(arg);
    }
  return distinct;
}

bool independent(ArrayRef<Access> first, ArrayRef<Access> second,
                 const DistinctArguments &distinct) {
  for (const Access &a : first)
    for (const Access &b : second)
      if ((a.write || b.write) && mayAlias(a.base, b.base, distinct))
        return false;
  return true;
}

bool sameValue(Value a, Value b) {
  if (a == b)
    return true;
  APInt x, y;
  return matchPattern(a, m_ConstantInt(&x)) &&
         matchPattern(b, m_ConstantInt(&y)) && x == y;
}

/// A plain launch: synchronous, one-block body, no shared memory or
/// clusters (what convert-parallel-loops-to-gpu makes).
bool isPlain(gpu::LaunchOp launch) {
  return !launch.getAsyncToken() && launch.getAsyncDependencies().empty() &&
         !launch.getDynamicSharedMemorySize() && !launch.hasClusterSize() &&
         launch.getWorkgroupAttributions().empty() &&
         launch.getPrivateAttributions().empty() &&
         launch.getBody().hasOneBlock();
}

bool sameBlocks(gpu::LaunchOp a, gpu::LaunchOp b) {
  gpu::KernelDim3 x = a.getBlockSizeOperandValues();
  gpu::KernelDim3 y = b.getBlockSizeOperandValues();
  return sameValue(x.x, y.x) && sameValue(x.y, y.y) && sameValue(x.z, y.z);
}

/// Whether `first` may move down to `second`: nothing between them touches
/// memory (allocations of buffers `first` cannot use aside).
bool nothingBetween(gpu::LaunchOp first, gpu::LaunchOp second) {
  for (Operation *op = first->getNextNode(); op != second;
       op = op->getNextNode()) {
    auto effects = dyn_cast<MemoryEffectOpInterface>(op);
    if (!effects || !(effects.hasNoEffect() ||
                      effects.onlyHasEffect<MemoryEffects::Allocate>()))
      return false;
  }
  return true;
}

Value product(OpBuilder &b, Location loc, gpu::KernelDim3 dims) {
  Value xy = arith::MulIOp::create(b, loc, dims.x, dims.y);
  return arith::MulIOp::create(b, loc, xy, dims.z);
}

/// `launch`'s body inlined at `b`, its block (x, y, z) the linear `block`.
void inlineBody(OpBuilder &b, Location loc, gpu::LaunchOp launch,
                gpu::LaunchOp merged, Value block) {
  IRMapping mapping;
  gpu::KernelDim3 grid = launch.getGridSizeOperandValues();
  Value x = arith::RemUIOp::create(b, loc, block, grid.x);
  Value rest = arith::DivUIOp::create(b, loc, block, grid.x);
  Value y = arith::RemUIOp::create(b, loc, rest, grid.y);
  Value z = arith::DivUIOp::create(b, loc, rest, grid.y);
  gpu::KernelDim3 ids = launch.getBlockIds(), gridArgs = launch.getGridSize();
  gpu::KernelDim3 threads = launch.getThreadIds();
  gpu::KernelDim3 sizes = launch.getBlockSize();
  gpu::KernelDim3 mergedThreads = merged.getThreadIds();
  gpu::KernelDim3 mergedSizes = merged.getBlockSize();
  for (auto [from, to] : {std::pair{ids.x, x},
                          {ids.y, y},
                          {ids.z, z},
                          {gridArgs.x, grid.x},
                          {gridArgs.y, grid.y},
                          {gridArgs.z, grid.z},
                          {threads.x, mergedThreads.x},
                          {threads.y, mergedThreads.y},
                          {threads.z, mergedThreads.z},
                          {sizes.x, mergedSizes.x},
                          {sizes.y, mergedSizes.y},
                          {sizes.z, mergedSizes.z}})
    mapping.map(from, to);
  for (Operation &op : launch.getBody().front().without_terminator())
    b.clone(op, mapping);
}

/// One launch over both grids, where `second` was.
gpu::LaunchOp merge(gpu::LaunchOp first, gpu::LaunchOp second) {
  OpBuilder b(second);
  Location loc = second.getLoc();
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value firstBlocks = product(b, loc, first.getGridSizeOperandValues());
  Value blocks = arith::AddIOp::create(
      b, loc, firstBlocks, product(b, loc, second.getGridSizeOperandValues()));
  gpu::KernelDim3 size = first.getBlockSizeOperandValues();
  auto merged =
      gpu::LaunchOp::create(b, loc, blocks, one, one, size.x, size.y, size.z);
  b.setInsertionPointToStart(&merged.getBody().front());
  Value block = merged.getBlockIds().x;
  Value inFirst = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                        block, firstBlocks);
  scf::IfOp::create(
      b, loc, inFirst,
      [&](OpBuilder &b, Location loc) {
        inlineBody(b, loc, first, merged, block);
        scf::YieldOp::create(b, loc);
      },
      [&](OpBuilder &b, Location loc) {
        Value rest = arith::SubIOp::create(b, loc, block, firstBlocks);
        inlineBody(b, loc, second, merged, rest);
        scf::YieldOp::create(b, loc);
      });
  gpu::TerminatorOp::create(b, loc);
  first->erase();
  second->erase();
  return merged;
}

struct MergeLaunchesPass
    : mlir::llama::impl::LlamaMergeLaunchesPassBase<MergeLaunchesPass> {
  void runOnOperation() override {
    DistinctArguments distinct = distinctArguments(getOperation());
    SmallVector<Block *> blocks;
    getOperation()->walk([&](Block *block) {
      if (!block->getParentOp()->getParentOfType<gpu::LaunchOp>() &&
          !isa<gpu::LaunchOp>(block->getParentOp()))
        blocks.push_back(block); // host code
    });
    for (Block *block : blocks) {
      gpu::LaunchOp current;
      SmallVector<Access> touched;
      for (Operation *op = &block->front(); op;) {
        Operation *next = op->getNextNode();
        auto launch = dyn_cast<gpu::LaunchOp>(op);
        std::optional<SmallVector<Access>> accesses;
        if (launch && isPlain(launch))
          accesses = accessesOf(launch);
        if (!accesses) {
          if (launch)
            current = nullptr;
          op = next;
          continue;
        }
        if (current && sameBlocks(current, launch) &&
            nothingBetween(current, launch) &&
            independent(touched, *accesses, distinct)) {
          current = merge(current, launch);
          touched.append(*accesses);
        } else {
          current = launch;
          touched = std::move(*accesses);
        }
        op = next;
      }
    }
  }
};

} // namespace
