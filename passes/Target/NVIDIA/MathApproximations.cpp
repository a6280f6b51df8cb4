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
// turns those calls back into LLVM intrinsics and rejects any other libdevice
// call.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/StringMap.h"

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
    // What they are built of (fma, sqrt, floor, ...) becomes libdevice calls
    // in convert-gpu-to-nvvm, which llama-gpu-math-intrinsics turns into
    // instructions; it rejects any other libdevice call, a math op left here
    // included.
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

/// The LLVM intrinsic op for a call of libdevice's f32 function.
using IntrinsicBuilder = Value (*)(OpBuilder &, LLVM::CallOp);
template <typename OpTy> Value intrinsic(OpBuilder &b, LLVM::CallOp call) {
  return OpTy::create(b, call.getLoc(), call.getResult().getType(),
                      call.getArgOperands());
}

/// The libdevice functions NVPTX has instructions for.
const llvm::StringMap<IntrinsicBuilder> &intrinsics() {
  static const llvm::StringMap<IntrinsicBuilder> table = {
      {"__nv_sqrtf", intrinsic<LLVM::SqrtOp>},
      {"__nv_fmaf", intrinsic<LLVM::FMAOp>},
      {"__nv_floorf", intrinsic<LLVM::FFloorOp>},
      {"__nv_ceilf", intrinsic<LLVM::FCeilOp>},
      {"__nv_fabsf", intrinsic<LLVM::FAbsOp>},
      {"__nv_truncf", intrinsic<LLVM::FTruncOp>},
      {"__nv_rintf", intrinsic<LLVM::RoundEvenOp>},
      {"__nv_roundf", intrinsic<LLVM::RoundOp>},
      {"__nv_copysignf", intrinsic<LLVM::CopySignOp>}};
  return table;
}

struct GpuMathIntrinsicsPass
    : mlir::llama::impl::LlamaGpuMathIntrinsicsPassBase<GpuMathIntrinsicsPass> {
  void runOnOperation() override {
    SmallVector<LLVM::CallOp> calls;
    SmallVector<LLVM::LLVMFuncOp> declarations;
    getOperation()->walk([&](Operation *op) {
      if (auto call = dyn_cast<LLVM::CallOp>(op);
          call && call.getCallee() && call.getCallee()->starts_with("__nv_"))
        calls.push_back(call);
      else if (auto func = dyn_cast<LLVM::LLVMFuncOp>(op);
               func && func.isExternal() && func.getName().starts_with("__nv_"))
        declarations.push_back(func);
    });
    for (LLVM::CallOp call : calls) {
      auto found = intrinsics().find(*call.getCallee());
      if (found == intrinsics().end()) {
        call.emitError() << "'" << *call.getCallee()
                         << "' needs libdevice (the CUDA toolkit)";
        return signalPassFailure();
      }
      OpBuilder b(call);
      call.getResult().replaceAllUsesWith(found->second(b, call));
      call.erase();
    }
    for (LLVM::LLVMFuncOp func : declarations)
      func.erase();
  }
};

} // namespace
