//===- LlamaOpsTest.cpp - building llama ops through the C++ API ----------===//
//
// The frontend builds IR with the type-inferring builders; these tests check
// that they infer the types a model needs and that the verifiers reject
// malformed ops with their message.
//
//===----------------------------------------------------------------------===//

#include "dialect/LlamaOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace mlir::llama;

namespace {

class LlamaOpsTest : public ::testing::Test {
protected:
  LlamaOpsTest() : builder(&context) {
    context.loadDialect<LlamaDialect>();
    // Operand values come from an unregistered `test.value` op so the tests
    // need no dialect beyond llama and builtin.
    context.allowUnregisteredDialects();
    module = ModuleOp::create(builder.getUnknownLoc());
    builder.setInsertionPointToEnd(module->getBody());
    context.getDiagEngine().registerHandler(
        [this](Diagnostic &diag) { messages += diag.str() + "\n"; });
  }

  Location loc() { return builder.getUnknownLoc(); }

  /// A value of type tensor<shape x elementType> (f32 by default).
  Value tensor(ArrayRef<int64_t> shape, Type elementType = {}) {
    if (!elementType)
      elementType = builder.getF32Type();
    OperationState state(loc(), "test.value");
    state.addTypes(RankedTensorType::get(shape, elementType));
    return builder.create(state)->getResult(0);
  }
  Value ids(ArrayRef<int64_t> shape) {
    return tensor(shape, builder.getI32Type());
  }
  Value index() {
    OperationState state(loc(), "test.value");
    state.addTypes(builder.getIndexType());
    return builder.create(state)->getResult(0);
  }

  /// Verifies one op; returns "" on success, else what the verifier said.
  std::string verifierMessage(Operation *op) {
    messages.clear();
    return succeeded(verify(op)) ? std::string() : messages;
  }

  static std::string typeString(Type type) {
    std::string text;
    llvm::raw_string_ostream os(text);
    os << type;
    return text;
  }

  static constexpr int64_t kDyn = ShapedType::kDynamic;

  MLIRContext context;
  OpBuilder builder;
  OwningOpRef<ModuleOp> module;
  std::string messages;
};

TEST_F(LlamaOpsTest, EmbeddingInfersTokensShapePlusDim) {
  auto op = EmbeddingOp::create(builder, loc(), tensor({100, 64}), ids({kDyn}),
                                builder.getF32Type());
  EXPECT_EQ(typeString(op.getType()), "tensor<?x64xf32>");
  EXPECT_EQ(verifierMessage(op), "");
}

TEST_F(LlamaOpsTest, EmbeddingKeepsBf16TableWithF32Result) {
  auto op = EmbeddingOp::create(builder, loc(),
                                tensor({100, 64}, builder.getBF16Type()),
                                ids({2, 8}), builder.getF32Type());
  EXPECT_EQ(typeString(op.getType()), "tensor<2x8x64xf32>");
  EXPECT_EQ(verifierMessage(op), "");
}

TEST_F(LlamaOpsTest, EmbeddingRejectsRank1Table) {
  auto op = EmbeddingOp::create(builder, loc(), tensor({100}), ids({4}),
                                builder.getF32Type());
  EXPECT_NE(verifierMessage(op).find("table must be [vocab_size, dim]"),
            std::string::npos)
      << messages;
}

TEST_F(LlamaOpsTest, RMSNormKeepsInputType) {
  auto op =
      RMSNormOp::create(builder, loc(), tensor({kDyn, 64}), tensor({64}), 1e-5);
  EXPECT_EQ(typeString(op.getType()), "tensor<?x64xf32>");
  EXPECT_DOUBLE_EQ(op.getEps().convertToDouble(), 1e-5);
  EXPECT_EQ(verifierMessage(op), "");
}

TEST_F(LlamaOpsTest, RMSNormRejectsNonPositiveEps) {
  auto op =
      RMSNormOp::create(builder, loc(), tensor({4, 64}), tensor({64}), 0.0);
  EXPECT_NE(verifierMessage(op).find("eps must be positive"), std::string::npos)
      << messages;
}

TEST_F(LlamaOpsTest, RMSNormRejectsMismatchedGain) {
  auto op =
      RMSNormOp::create(builder, loc(), tensor({4, 64}), tensor({32}), 1e-5);
  EXPECT_NE(verifierMessage(op).find(
                "weight size (32) does not match the input's last dimension "
                "(64)"),
            std::string::npos)
      << messages;
}

TEST_F(LlamaOpsTest, LinearInfersOutFeatures) {
  auto op =
      LinearOp::create(builder, loc(), tensor({kDyn, 64}), tensor({172, 64}));
  EXPECT_EQ(typeString(op.getType()), "tensor<?x172xf32>");
  EXPECT_EQ(verifierMessage(op), "");
}

TEST_F(LlamaOpsTest, LinearRejectsMismatchedInFeatures) {
  auto op =
      LinearOp::create(builder, loc(), tensor({4, 64}), tensor({172, 32}));
  EXPECT_NE(verifierMessage(op).find(
                "input has 64 features but the weight [out, in] takes 32"),
            std::string::npos)
      << messages;
}

TEST_F(LlamaOpsTest, SwiGLUAndAddKeepOperandType) {
  Value x = tensor({4, 172});
  auto swiglu = SwiGLUOp::create(builder, loc(), x, tensor({4, 172}));
  auto add = AddOp::create(builder, loc(), swiglu, x);
  EXPECT_EQ(add.getType(), x.getType());
  EXPECT_EQ(verifierMessage(swiglu), "");
  EXPECT_EQ(verifierMessage(add), "");
}

TEST_F(LlamaOpsTest, AddRejectsDifferentShapes) {
  auto add = AddOp::create(builder, loc(), tensor({4, 64}), tensor({4, 32}));
  EXPECT_NE(verifierMessage(add), "");
}

TEST_F(LlamaOpsTest, RoPEAcceptsEvenHeadDim) {
  auto op = RoPEOp::create(builder, loc(), tensor({kDyn, 4, 16}), ids({kDyn}),
                           10000.0);
  EXPECT_EQ(verifierMessage(op), "");
}

TEST_F(LlamaOpsTest, RoPERejectsOddHeadDim) {
  auto op =
      RoPEOp::create(builder, loc(), tensor({8, 4, 15}), ids({8}), 10000.0);
  EXPECT_NE(verifierMessage(op).find("head_dim must be even"),
            std::string::npos)
      << messages;
}

TEST_F(LlamaOpsTest, AttentionAcceptsMHAGQAAndMQA) {
  for (int64_t kvHeads : {8, 2, 1}) {
    auto op = AttentionOp::create(builder, loc(), tensor({16, 8, 32}),
                                  tensor({16, kvHeads, 32}),
                                  tensor({16, kvHeads, 32}), 0.17677669);
    EXPECT_EQ(verifierMessage(op), "") << "n_kv_heads = " << kvHeads;
  }
}

TEST_F(LlamaOpsTest, AttentionRejectsHeadsNotDivisibleByKvHeads) {
  auto op =
      AttentionOp::create(builder, loc(), tensor({16, 8, 32}),
                          tensor({16, 3, 32}), tensor({16, 3, 32}), 0.17677669);
  EXPECT_NE(verifierMessage(op).find(
                "n_heads (8) is not a multiple of n_kv_heads (3)"),
            std::string::npos)
      << messages;
}

TEST_F(LlamaOpsTest, CachedAttentionReturnsOutputAndUpdatedCaches) {
  Value cache = tensor({128, 2, 32});
  auto op = CachedAttentionOp::create(
      builder, loc(), tensor({1, 8, 32}), tensor({1, 2, 32}),
      tensor({1, 2, 32}), cache, tensor({128, 2, 32}), index(), 0.17677669);
  EXPECT_EQ(typeString(op.getResult().getType()), "tensor<1x8x32xf32>");
  EXPECT_EQ(op.getNewKeyCache().getType(), cache.getType());
  EXPECT_EQ(verifierMessage(op), "");
}

TEST_F(LlamaOpsTest, CachedAttentionRejectsSequenceLongerThanCache) {
  auto op = CachedAttentionOp::create(
      builder, loc(), tensor({256, 8, 32}), tensor({256, 2, 32}),
      tensor({256, 2, 32}), tensor({128, 2, 32}), tensor({128, 2, 32}), index(),
      0.17677669);
  EXPECT_NE(verifierMessage(op).find(
                "seq (256) exceeds the cache's max_seq_len (128)"),
            std::string::npos)
      << messages;
}

TEST_F(LlamaOpsTest, CrossEntropyReturnsF32Scalar) {
  auto op = CrossEntropyOp::create(builder, loc(), tensor({2, 8, 100}),
                                   ids({2, 8}), tensor({2, 8}));
  EXPECT_EQ(typeString(op.getType()), "tensor<f32>");
  EXPECT_EQ(verifierMessage(op), "");
}

TEST_F(LlamaOpsTest, CrossEntropyRejectsMaskOfOtherShape) {
  auto op = CrossEntropyOp::create(builder, loc(), tensor({2, 8, 100}),
                                   ids({2, 8}), tensor({2, 7}));
  EXPECT_NE(verifierMessage(op).find(
                "mask dimension 1 (7) does not match targets dimension 1 (8)"),
            std::string::npos)
      << messages;
}

} // namespace
