//===- EntryOutParams.cpp - entry point results as out-parameters ---------===//
//
// The C entry points return nothing: the logits, the loss and the gradients
// are written to buffers the caller owns. Only the entry points change;
// internal functions (a decoder layer returning a [seq, dim] buffer whose
// length is known at run time only) keep returning theirs.
//
//===----------------------------------------------------------------------===//

#include "passes/ABI/EntryPoints.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Bufferization/Transforms/Passes.h"

namespace mlir::llama {
#define GEN_PASS_DEF_LLAMAENTRYOUTPARAMSPASS
#include "passes/Passes.h.inc"
} // namespace mlir::llama

using namespace mlir;

namespace {

struct LlamaEntryOutParamsPass
    : mlir::llama::impl::LlamaEntryOutParamsPassBase<LlamaEntryOutParamsPass> {
  void runOnOperation() override {
    bufferization::BufferResultsToOutParamsOpts options;
    options.filterFn = [](func::FuncOp *func) {
      return llama::isEntryPoint(*func);
    };
    if (failed(bufferization::promoteBufferResultsToOutParams(getOperation(),
                                                              options)))
      signalPassFailure();
  }
};

} // namespace
