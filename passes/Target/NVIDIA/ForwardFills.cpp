//===- ForwardFills.cpp - a copy of a filled buffer as a fill -------------===//
//
// Identical destinations of identical shape (decode's k and v products, a
// layer's two RMSNorm sums) are one tensor.empty after CSE, so their zero
// fills are one, and bufferization gives each further user a copy of the
// filled buffer: on a GPU a kernel per copy, and a contraction that then
// cannot see that its output starts as zeros. A linalg.copy whose source
// still holds a fill's value becomes a fill of its target with that value;
// the kernel generators then fold each fill into the sums' start.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/Target/NVIDIA/KernelOperands.h"

namespace mlir::llama {
#define GEN_PASS_DEF_LLAMAFORWARDFILLSPASS
#include "passes/Passes.h.inc"
} // namespace mlir::llama

using namespace mlir;

namespace {

struct ForwardFillsPass
    : mlir::llama::impl::LlamaForwardFillsPassBase<ForwardFillsPass> {
  void runOnOperation() override {
    SmallVector<linalg::CopyOp> copies;
    getOperation().walk([&](linalg::CopyOp copy) { copies.push_back(copy); });
    IRRewriter rewriter(&getContext());
    for (linalg::CopyOp copy : copies) {
      linalg::FillOp fill =
          mlir::llama::fillReaching(copy, copy.getDpsInputs()[0]);
      if (!fill)
        continue;
      rewriter.setInsertionPoint(copy);
      rewriter.replaceOpWithNewOp<linalg::FillOp>(copy, fill.getDpsInputs()[0],
                                                  copy.getDpsInits()[0]);
    }
  }
};

} // namespace
