//===- OptimizerToLinalg.cpp - gradient clipping and AdamW to linalg ------===//
//
// The numerics of torch.nn.utils.clip_grad_norm_ followed by
// torch.optim.AdamW (single-tensor path), in f32.
//
//===----------------------------------------------------------------------===//

#include "dialect/LlamaOps.h"
#include "passes/Conversion/LlamaToLinalg/Builders.h"
#include "passes/Conversion/LlamaToLinalg/Patterns.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"

using namespace mlir;
using namespace mlir::llama;
using namespace mlir::llama::lowering;

namespace {

/// sqrt(sum of squares of every element of every tensor), accumulated in f64
/// (as torch's clip_grad_norm_ on f32 gradients is accurate to f32 precision
/// however many weights there are).
struct GlobalNormLowering : OpConversionPattern<GlobalNormOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(GlobalNormOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type f32 = rewriter.getF32Type();
    Value sumOfSquares =
        totalSumF64(rewriter, loc, adaptor.getTensors(), /*squares=*/true);
    rewriter.replaceOp(
        op, mapScalar(rewriter, loc, sumOfSquares, f32,
                      [&](OpBuilder &nb, Location l, Value sum) {
                        return castFloat(nb, l,
                                         math::SqrtOp::create(nb, l, sum), f32);
                      }));
    return success();
  }
};

/// One pass over (param, grad, m, v) writing param, m and v in place.
struct AdamWLowering : OpConversionPattern<AdamWOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(AdamWOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto &b = rewriter;
    Type f32 = b.getF32Type();
    RankedTensorType type = op.getParam().getType();
    if (type.getElementType() != f32)
      return rewriter.notifyMatchFailure(op, "optimizer state must be f32");
    auto constant = [&](double value) {
      return floatConstant(b, loc, f32, value);
    };
    double beta1 = op.getBeta1().convertToDouble();
    double beta2 = op.getBeta2().convertToDouble();

    // Scalars for the whole tensor, computed once.
    Value lr = tensor::ExtractOp::create(b, loc, adaptor.getStepParams(),
                                         ValueRange{indexConstant(b, loc, 0)});
    Value step = tensor::ExtractOp::create(
        b, loc, adaptor.getStepParams(), ValueRange{indexConstant(b, loc, 1)});
    Value norm = tensor::ExtractOp::create(b, loc, adaptor.getGradNorm());
    Value clip = arith::MinimumFOp::create(
        b, loc, constant(1.0),
        arith::DivFOp::create(
            b, loc, constant(op.getMaxGradNorm().convertToDouble()),
            arith::AddFOp::create(b, loc, norm, constant(1e-6))));
    Value decay = arith::SubFOp::create(
        b, loc, constant(1.0),
        arith::MulFOp::create(b, loc, lr,
                              constant(op.getWeightDecay().convertToDouble())));
    auto biasCorrection = [&](double beta) -> Value {
      return arith::SubFOp::create(
          b, loc, constant(1.0),
          math::PowFOp::create(b, loc, constant(beta), step));
    };
    Value stepSize = arith::DivFOp::create(b, loc, lr, biasCorrection(beta1));
    Value correction2 = math::SqrtOp::create(b, loc, biasCorrection(beta2));

    unsigned rank = type.getRank();
    AffineMap identity = b.getMultiDimIdentityMap(rank);
    auto update = linalg::GenericOp::create(
        b, loc, TypeRange{type, type, type}, ValueRange{adaptor.getGrad()},
        ValueRange{adaptor.getParam(), adaptor.getM(), adaptor.getV()},
        SmallVector<AffineMap>(4, identity),
        SmallVector<IteratorType>(rank, IteratorType::parallel),
        [&](OpBuilder &nb, Location l, ValueRange a) {
          Value g = arith::MulFOp::create(nb, l, a[0], clip);
          Value p = arith::MulFOp::create(nb, l, a[1], decay);
          // m.lerp_(g, 1 - beta1)
          Value m = arith::AddFOp::create(
              nb, l, a[2],
              arith::MulFOp::create(nb, l,
                                    floatConstant(nb, l, f32, 1.0 - beta1),
                                    arith::SubFOp::create(nb, l, g, a[2])));
          // v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
          Value v = arith::AddFOp::create(
              nb, l,
              arith::MulFOp::create(nb, l, a[3],
                                    floatConstant(nb, l, f32, beta2)),
              arith::MulFOp::create(nb, l,
                                    floatConstant(nb, l, f32, 1.0 - beta2),
                                    arith::MulFOp::create(nb, l, g, g)));
          // p.addcdiv_(m, sqrt(v) / sqrt(bc2) + eps, value=-step_size)
          Value denom = arith::AddFOp::create(
              nb, l,
              arith::DivFOp::create(nb, l, math::SqrtOp::create(nb, l, v),
                                    correction2),
              floatConstant(nb, l, f32, op.getEps().convertToDouble()));
          Value newP = arith::SubFOp::create(
              nb, l, p,
              arith::MulFOp::create(nb, l, stepSize,
                                    arith::DivFOp::create(nb, l, m, denom)));
          linalg::YieldOp::create(nb, l, ValueRange{newP, m, v});
        });
    rewriter.replaceOp(op, update.getResults());
    return success();
  }
};

} // namespace

void mlir::llama::populateOptimizerLoweringPatterns(
    RewritePatternSet &patterns) {
  patterns.add<GlobalNormLowering, AdamWLowering>(patterns.getContext());
}
