//===- PrivatizeEntryPoints.cpp - entry points private for bufferization --===//

#include "passes/ABI/EntryPoints.h"
#include "passes/Passes.h"

namespace mlir::llama {
#define GEN_PASS_DEF_LLAMAPRIVATIZEENTRYPOINTSPASS
#include "passes/Passes.h.inc"
} // namespace mlir::llama

using namespace mlir;

namespace {

struct LlamaPrivatizeEntryPointsPass
    : mlir::llama::impl::LlamaPrivatizeEntryPointsPassBase<
          LlamaPrivatizeEntryPointsPass> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (!llama::isEntryPoint(func))
        continue;
      // Bufferization drops the result attributes; the C entry point needs
      // them to tell its out-parameters apart.
      if (ArrayAttr results = func.getAllResultAttrs())
        func->setAttr("llama.result_attrs", results);
      func.setPrivate();
    }
  }
};

} // namespace
