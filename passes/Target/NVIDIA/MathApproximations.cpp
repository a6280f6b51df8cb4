//===- MathApproximations.cpp - kernel math without libdevice -------------===//
//
// Without the CUDA toolkit there is no libdevice to link, and the kernels'
// math ops (exp, sin, cos, rsqrt) would become unresolved __nv_* calls in
// the PTX that the driver's JIT then rejects. This pass rewrites them inside
// the GPU modules into what NVPTX lowers by itself: polynomial
// approximations with range reduction (exp, sin, cos; a few ulp in f32, as
// accurate as the activations need) and rsqrt as 1 / sqrt. convert-gpu-to-
// nvvm then still calls libdevice for what those are made of (sqrt, fma,
// floor, ...), which NVPTX has instructions for: llama-gpu-math-intrinsics
// turns those calls back into LLVM intrinsics.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::llama {
#define GEN_PASS_DEF_LLAMAGPUMATHAPPROXIMATIONSPASS
#define GEN_PASS_DEF_LLAMAGPUMATHINTRINSICSPASS
#include "passes/Passes.h.inc"
} // namespace mlir::llama

using namespace mlir;

namespace {

struct GpuMathApproximationsPass
    : mlir::llama::impl::LlamaGpuMathApproximationsPassBase<
          GpuMathApproximationsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    math::populateExpansionPatterns(patterns, {"rsqrt"});
    populateMathPolynomialApproximationPatterns(patterns, [](StringRef name) {
      return name == math::ExpOp::getOperationName() ||
             name == math::SinOp::getOperationName() ||
             name == math::CosOp::getOperationName();
    });
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    // What the approximations are built of lowers to NVPTX instructions;
    // any other math op would be a libdevice call.
    WalkResult left = getOperation()->walk([&](Operation *op) {
      if (!op->getDialect() || op->getDialect()->getNamespace() != "math" ||
          isa<math::FmaOp, math::SqrtOp, math::FloorOp, math::CeilOp,
              math::AbsFOp, math::CopySignOp, math::RoundEvenOp, math::RoundOp,
              math::TruncOp>(op))
        return WalkResult::advance();
      op->emitError() << "'" << op->getName()
                      << "' needs libdevice (the CUDA toolkit) in a kernel";
      return WalkResult::interrupt();
    });
    if (left.wasInterrupted())
      signalPassFailure();
  }
};

/// Replaces a call of libdevice's f32 `name` by the intrinsic op OpTy.
template <typename OpTy> void replaceCalls(Operation *root, StringRef name) {
  SmallVector<LLVM::CallOp> calls;
  root->walk([&](LLVM::CallOp call) {
    if (call.getCallee() == name)
      calls.push_back(call);
  });
  for (LLVM::CallOp call : calls) {
    OpBuilder b(call);
    Value result = OpTy::create(b, call.getLoc(), call.getResult().getType(),
                                call.getArgOperands());
    call.getResult().replaceAllUsesWith(result);
    call.erase();
  }
}

struct GpuMathIntrinsicsPass
    : mlir::llama::impl::LlamaGpuMathIntrinsicsPassBase<GpuMathIntrinsicsPass> {
  void runOnOperation() override {
    Operation *root = getOperation();
    replaceCalls<LLVM::SqrtOp>(root, "__nv_sqrtf");
    replaceCalls<LLVM::FMAOp>(root, "__nv_fmaf");
    replaceCalls<LLVM::FFloorOp>(root, "__nv_floorf");
    replaceCalls<LLVM::FCeilOp>(root, "__nv_ceilf");
    replaceCalls<LLVM::FAbsOp>(root, "__nv_fabsf");
    replaceCalls<LLVM::FTruncOp>(root, "__nv_truncf");
    replaceCalls<LLVM::RoundEvenOp>(root, "__nv_rintf");
    replaceCalls<LLVM::RoundOp>(root, "__nv_roundf");
    replaceCalls<LLVM::CopySignOp>(root, "__nv_copysignf");
    // The declarations left, and any call of another libdevice function.
    SmallVector<LLVM::LLVMFuncOp> unused;
    WalkResult result = root->walk([&](Operation *op) {
      if (auto call = dyn_cast<LLVM::CallOp>(op);
          call && call.getCallee() && call.getCallee()->starts_with("__nv_")) {
        call.emitError() << "'" << *call.getCallee()
                         << "' needs libdevice (the CUDA toolkit)";
        return WalkResult::interrupt();
      }
      if (auto func = dyn_cast<LLVM::LLVMFuncOp>(op);
          func && func.isExternal() && func.getName().starts_with("__nv_"))
        unused.push_back(func);
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      return signalPassFailure();
    for (LLVM::LLVMFuncOp func : unused)
      func.erase();
  }
};

} // namespace
