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
      func.setPrivate();
    }
  }
};

} // namespace
