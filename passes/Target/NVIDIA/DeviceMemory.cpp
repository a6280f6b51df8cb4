//===- DeviceMemory.cpp - every buffer on the device, touched by kernels --===//
//
// After the loops became kernels: the host code's buffers are allocated in
// device memory (gpu.alloc, gpu.dealloc), like the weights, caches and
// logits the runtime passes in (gpu-async-region then chains them with the
// launches on one stream). Host code then only computes sizes and
// launches kernels; an op of it that still reads or writes a buffer would
// dereference a device pointer on the CPU, and is an error naming it.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/Target/NVIDIA/BufferAccess.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

namespace mlir::llama {
#define GEN_PASS_DEF_LLAMADEVICEMEMORYPASS
#include "passes/Passes.h.inc"
} // namespace mlir::llama

using namespace mlir;
using mlir::llama::touchesBufferContents;

namespace {

struct DeviceMemoryPass
    : mlir::llama::impl::LlamaDeviceMemoryPassBase<DeviceMemoryPass> {
  void runOnOperation() override {
    IRRewriter rewriter(&getContext());
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      WalkResult result = func.walk([&](Operation *op) {
        if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
          rewriter.setInsertionPoint(alloc);
          rewriter.replaceOpWithNewOp<gpu::AllocOp>(
              alloc, alloc.getType(), /*asyncToken=*/Type(),
              /*asyncDependencies=*/ValueRange(), alloc.getDynamicSizes(),
              alloc.getSymbolOperands(), /*hostShared=*/false);
          return WalkResult::advance();
        }
        if (auto dealloc = dyn_cast<memref::DeallocOp>(op)) {
          rewriter.setInsertionPoint(dealloc);
          rewriter.replaceOpWithNewOp<gpu::DeallocOp>(
              dealloc, /*asyncToken=*/Type(),
              /*asyncDependencies=*/ValueRange(), dealloc.getMemref());
          return WalkResult::advance();
        }
        if (isa<memref::AllocaOp>(op) || touchesBufferContents(op)) {
          op->emitError() << "'" << op->getName()
                          << "' would run on the host over device memory: "
                             "every access to a buffer must be in a kernel";
          return WalkResult::interrupt();
        }
        return WalkResult::advance();
      });
      if (result.wasInterrupted())
        return signalPassFailure();
    }
  }
};

} // namespace
