//===- BufferAccess.h - which ops touch a buffer's contents -----*- C++ -*-===//
//
// The NVIDIA passes' one test of whether an op reads or writes memory: what
// must happen inside a kernel, since buffers live in device memory.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_PASSES_TARGET_NVIDIA_BUFFERACCESS_H
#define LLAMAC_PASSES_TARGET_NVIDIA_BUFFERACCESS_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::llama {

/// Whether `op` itself (not its regions) reads or writes a buffer's
/// contents.
inline bool touchesBufferContents(Operation *op) {
  auto effects = dyn_cast<MemoryEffectOpInterface>(op);
  if (!effects)
    return false;
  SmallVector<MemoryEffects::EffectInstance> instances;
  effects.getEffects(instances);
  return llvm::any_of(instances, [](const MemoryEffects::EffectInstance &e) {
    return isa<MemoryEffects::Read, MemoryEffects::Write>(e.getEffect()) &&
           e.getValue() && isa<BaseMemRefType>(e.getValue().getType());
  });
}

} // namespace mlir::llama

#endif // LLAMAC_PASSES_TARGET_NVIDIA_BUFFERACCESS_H
