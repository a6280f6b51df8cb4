//===- KernelOperands.h - what the NVIDIA kernel generators share -*- C++
//-*-===//
//
// llama-mma-contractions and llama-warp-contractions both rewrite the host
// code's generics, read rows of buffers in vector loads and fold a fill of
// their output into the sums' start.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_PASSES_TARGET_NVIDIA_KERNELOPERANDS_H
#define LLAMAC_PASSES_TARGET_NVIDIA_KERNELOPERANDS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::llama {

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

/// The value `out` is filled with when a linalg.fill of it comes right
/// before `op` (nothing with memory effects between), erasing the fill.
inline Value takeFill(linalg::GenericOp op, Value out) {
  for (Operation *prev = op->getPrevNode(); prev; prev = prev->getPrevNode()) {
    if (auto fill = dyn_cast<linalg::FillOp>(prev)) {
      if (fill.getDpsInits()[0] != out)
        return nullptr;
      Value value = fill.getDpsInputs()[0]; // defined before the fill
      fill->erase();
      return value;
    }
    if (!isMemoryEffectFree(prev))
      return nullptr;
  }
  return nullptr;
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
