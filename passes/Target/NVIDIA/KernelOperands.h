//===- KernelOperands.h - what the NVIDIA kernel generators share -*- C++
//-*-===//
//
// llama-mma-contractions and llama-warp-contractions both rewrite the host
// code's generics, read rows of buffers in vector loads and fold a fill of
// their output into the sums' start; llama-forward-fills finds fills the
// same way.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_PASSES_TARGET_NVIDIA_KERNELOPERANDS_H
#define LLAMAC_PASSES_TARGET_NVIDIA_KERNELOPERANDS_H

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "llvm/ADT/DenseSet.h"

namespace mlir::llama {

/// Rows up to which a contraction is a GEMV: llama-warp-contractions streams
/// its weight once for all rows (a partial sum per row in each lane), better
/// than tensor-core tiles mostly past the end of M.
constexpr int64_t kMaxGemvRows = 8;

/// The innermost stride is 1 and every other stride and the offset are
/// static multiples of `elements`: rows start `elements`-aligned (buffers
/// themselves are: the driver aligns allocations to 256 bytes).
inline bool rowsAligned(Value buffer, int64_t elements) {
  auto type = cast<MemRefType>(buffer.getType());
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)) || strides.back() != 1)
    return false;
  auto multiple = [&](int64_t v) {
    return !ShapedType::isDynamic(v) && v % elements == 0;
  };
  return multiple(offset) &&
         llvm::all_of(ArrayRef(strides).drop_back(), multiple);
}

/// The indices `operand` of `op` reads at the loop values `ivs` (its
/// indexing map a projected permutation).
inline SmallVector<Value> indicesAt(linalg::GenericOp op, OpOperand *operand,
                                    ArrayRef<Value> ivs) {
  SmallVector<Value> indices;
  for (AffineExpr e : op.getMatchingIndexingMap(operand).getResults())
    indices.push_back(ivs[cast<AffineDimExpr>(e).getPosition()]);
  return indices;
}

/// What `buffer` is a view of: a memref.alloc result, a global, a block
/// argument (a function's), or null when none of those (another op's
/// result).
inline Value baseOf(Value buffer) {
  while (Operation *def = buffer.getDefiningOp()) {
    if (isa<memref::AllocOp, memref::GetGlobalOp>(def))
      return buffer;
    auto view = dyn_cast<ViewLikeOpInterface>(def);
    if (!view)
      return nullptr;
    buffer = view.getViewSource();
  }
  return buffer;
}

/// The allocation (a memref.alloc result) `buffer` is a view of, or null.
inline Value allocationOf(Value buffer) {
  Value base = baseOf(buffer);
  return base && base.getDefiningOp<memref::AllocOp>() ? base : Value();
}

/// Whether `base` (what a buffer views, baseOf) is a fresh allocation.
inline bool isAllocation(Value base) {
  return base.getDefiningOp<memref::AllocOp>() != nullptr;
}

/// Memory arguments that alias no other argument of their function
/// (llama-merge-launches finds them: an entry point's, and a private
/// function's that every call passes distinct memory).
using DistinctArguments = DenseSet<Value>;

/// Two bases may be the same memory unless they differ and one is a fresh
/// allocation, or each is a distinct argument or a global (a distinct
/// argument is never a global: it is an allocation or the runtime's).
inline bool mayAlias(Value a, Value b, const DistinctArguments &distinct) {
  if (a == b)
    return true;
  auto known = [&](Value v) {
    return distinct.contains(v) || v.getDefiningOp<memref::GetGlobalOp>();
  };
  return !isAllocation(a) && !isAllocation(b) && !(known(a) && known(b));
}

/// The memory effects of `op` and the ops it nests; nullopt when some are
/// unknown. nvvm.mma.sync works on registers but declares no effects: none.
inline std::optional<SmallVector<MemoryEffects::EffectInstance>>
effectsOf(Operation *op) {
  SmallVector<MemoryEffects::EffectInstance> effects;
  WalkResult walk = op->walk([&](Operation *inner) {
    if (isa<NVVM::MmaOp>(inner))
      return WalkResult::advance();
    if (auto interface = dyn_cast<MemoryEffectOpInterface>(inner)) {
      interface.getEffects(effects);
      return WalkResult::advance();
    }
    return inner->hasTrait<OpTrait::HasRecursiveMemoryEffects>()
               ? WalkResult::advance()
               : WalkResult::interrupt();
  });
  if (walk.wasInterrupted())
    return std::nullopt;
  return effects;
}

/// Whether `op` (with what it nests) may touch the allocation `root`: true
/// for an effect on it, on a buffer of unknown origin, or unknown effects.
/// Other allocations, globals and the function's arguments are other
/// memory.
inline bool mayTouch(Operation *op, Value root) {
  std::optional<SmallVector<MemoryEffects::EffectInstance>> effects =
      effectsOf(op);
  if (!effects)
    return true;
  return llvm::any_of(*effects, [&](const MemoryEffects::EffectInstance &e) {
    if (isa<MemoryEffects::Allocate>(e.getEffect()))
      return false;
    Value base = e.getValue() ? baseOf(e.getValue()) : Value();
    return !base || base == root;
  });
}

/// The linalg.fill of `buffer` whose value it still holds at `op`: the last
/// one before it in its block with nothing between that may touch the
/// buffer's allocation (only the directly preceding one for a buffer that
/// is not a known allocation); null when there is none.
inline linalg::FillOp fillReaching(Operation *op, Value buffer) {
  Value root = allocationOf(buffer);
  for (Operation *prev = op->getPrevNode(); prev; prev = prev->getPrevNode()) {
    auto fill = dyn_cast<linalg::FillOp>(prev);
    if (fill && fill.getDpsInits()[0] == buffer)
      return fill;
    if (isMemoryEffectFree(prev))
      continue;
    if (!root || mayTouch(prev, root))
      return nullptr;
  }
  return nullptr;
}

/// The value `out` is filled with when a fill of it reaches `op`, erasing
/// the fill: `op` overwrites all of `out`, and nothing between reads it.
inline Value takeFill(linalg::GenericOp op, Value out) {
  linalg::FillOp fill = fillReaching(op, out);
  if (!fill)
    return nullptr;
  Value value = fill.getDpsInputs()[0]; // defined before the fill
  fill->erase();
  return value;
}

/// The generics of `root` that are host code's own loop nests (one inside a
/// parallel loop already has its threads), in order: what the kernel
/// generators rewrite.
inline SmallVector<linalg::GenericOp> hostGenerics(Operation *root) {
  SmallVector<linalg::GenericOp> generics;
  root->walk([&](linalg::GenericOp op) {
    if (!op->getParentOfType<scf::ForallOp>() &&
        !op->getParentOfType<scf::ParallelOp>())
      generics.push_back(op);
  });
  return generics;
}

} // namespace mlir::llama

#endif // LLAMAC_PASSES_TARGET_NVIDIA_KERNELOPERANDS_H
