//===- EntryOutParams.cpp - entry point results as out-parameters ---------===//
//
// The C entry points return nothing: the logits, the loss and the gradients
// are written to buffers the caller owns. Each out-parameter keeps the
// attributes of the result it replaces (llama.output, llama.grad), so the
// entry ABI reads every parameter's role off its own attributes. Only the
// entry points change; internal functions (a decoder layer returning a
// [seq, dim] buffer whose length is known at run time only) keep theirs.
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
    // Each entry point's buffer results' attributes, in result order: the
    // order in which the upstream rewrite appends their out-parameters.
    DenseMap<func::FuncOp, SmallVector<DictionaryAttr>> outAttrs;
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (!llama::isEntryPoint(func))
        continue;
      SmallVector<DictionaryAttr> &attrs = outAttrs[func];
      for (auto [index, type] : llvm::enumerate(func.getResultTypes()))
        if (isa<MemRefType>(type))
          attrs.push_back(func.getResultAttrDict(index));
    }

    bufferization::BufferResultsToOutParamsOpts options;
    options.filterFn = [](func::FuncOp *func) {
      return llama::isEntryPoint(*func);
    };
    if (failed(bufferization::promoteBufferResultsToOutParams(getOperation(),
                                                              options)))
      return signalPassFailure();

    for (auto &[func, attrs] : outAttrs) {
      unsigned first = func.getNumArguments() - attrs.size();
      for (auto [offset, dict] : llvm::enumerate(attrs))
        if (dict)
          func.setArgAttrs(first + offset, dict);
    }
  }
};

} // namespace
