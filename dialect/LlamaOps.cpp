//===- LlamaOps.cpp - llama dialect operations ----------------------------===//
//
// Verifiers and type-inferring builders. Every verifier message names the
// rule that was broken and the sizes involved, so a frontend bug reads as a
// sentence, not as a crash three passes later.
//
//===----------------------------------------------------------------------===//

#include "dialect/LlamaOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

#include <cmath>

using namespace mlir;
using namespace mlir::llama;

#define GET_OP_CLASSES
#include "dialect/LlamaOps.cpp.inc"

//===----------------------------------------------------------------------===//
// Shape helpers
//===----------------------------------------------------------------------===//

namespace {

RankedTensorType tensorTypeOf(Value value) {
  return cast<RankedTensorType>(value.getType());
}

/// Two sizes agree when equal or when either is only known at run time.
bool sizesAgree(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

/// Prints a size the way MLIR writes it in a type: `?` when dynamic.
std::string sizeString(int64_t size) {
  return ShapedType::isDynamic(size) ? "?" : std::to_string(size);
}

/// Checks that `other` has the leading dimensions `[0, count)` of `reference`,
/// reporting the first one that disagrees.
LogicalResult verifyLeadingDims(Operation *op, StringRef otherName,
                                RankedTensorType other, StringRef refName,
                                RankedTensorType reference, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    if (!sizesAgree(other.getDimSize(i), reference.getDimSize(i)))
      return op->emitOpError()
             << otherName << " dimension " << i << " ("
             << sizeString(other.getDimSize(i)) << ") does not match "
             << refName << " dimension " << i << " ("
             << sizeString(reference.getDimSize(i)) << ")";
  }
  return success();
}

LogicalResult verifyPositive(Operation *op, StringRef name, APFloat value) {
  double v = value.convertToDouble();
  if (!(v > 0.0) || !std::isfinite(v))
    return op->emitOpError()
           << name << " must be positive and finite, got " << v;
  return success();
}

LogicalResult verifySameType(Operation *op, StringRef name, Type actual,
                             StringRef refName, Type expected) {
  if (actual != expected)
    return op->emitOpError() << name << " type " << actual << " must match the "
                             << refName << " type " << expected;
  return success();
}

/// The rules shared by both attention ops on `[..., seq, heads, head_dim]`
/// query/key/value tensors: matching leading dims and head_dim, one element
/// type, and n_heads a multiple of n_kv_heads (MHA, GQA or MQA).
LogicalResult verifyQueryKeyValue(Operation *op, RankedTensorType query,
                                  RankedTensorType key, RankedTensorType value,
                                  APFloat scale) {
  int64_t rank = query.getRank();
  if (rank < 3)
    return op->emitOpError()
           << "query must be [..., seq, n_heads, head_dim], got rank " << rank;
  if (key.getRank() != rank || value.getRank() != rank)
    return op->emitOpError()
           << "query, key and value must have one rank, got " << rank << ", "
           << key.getRank() << " and " << value.getRank();
  if (failed(verifyLeadingDims(op, "key", key, "value", value, rank)))
    return failure();
  if (failed(verifyLeadingDims(op, "key", key, "query", query, rank - 2)))
    return failure();
  int64_t headDim = query.getDimSize(rank - 1);
  int64_t kvHeadDim = key.getDimSize(rank - 1);
  if (!sizesAgree(headDim, kvHeadDim))
    return op->emitOpError()
           << "key/value head_dim (" << sizeString(kvHeadDim)
           << ") does not match query head_dim (" << sizeString(headDim) << ")";
  int64_t numHeads = query.getDimSize(rank - 2);
  int64_t numKvHeads = key.getDimSize(rank - 2);
  if (numKvHeads == 0 ||
      (!ShapedType::isDynamic(numHeads) && !ShapedType::isDynamic(numKvHeads) &&
       numHeads % numKvHeads != 0))
    return op->emitOpError()
           << "n_heads (" << numHeads << ") is not a multiple of n_kv_heads ("
           << numKvHeads << ")";
  Type elementType = query.getElementType();
  if (key.getElementType() != elementType ||
      value.getElementType() != elementType)
    return op->emitOpError()
           << "query, key and value must share one element type, got "
           << elementType << ", " << key.getElementType() << " and "
           << value.getElementType();
  return verifyPositive(op, "scale", scale);
}

} // namespace

//===----------------------------------------------------------------------===//
// EmbeddingOp
//===----------------------------------------------------------------------===//

void EmbeddingOp::build(OpBuilder &builder, OperationState &state, Value table,
                        Value tokens, Type elementType) {
  SmallVector<int64_t> shape(tensorTypeOf(tokens).getShape());
  RankedTensorType tableType = tensorTypeOf(table);
  shape.push_back(tableType.getRank() == 2 ? tableType.getDimSize(1)
                                           : ShapedType::kDynamic);
  build(builder, state, RankedTensorType::get(shape, elementType), table,
        tokens);
}

/// The rules of EmbeddingOp, shared with its gradient op.
static LogicalResult verifyEmbedding(Operation *op, RankedTensorType table,
                                     RankedTensorType tokens,
                                     RankedTensorType result) {
  if (table.getRank() != 2)
    return op->emitOpError()
           << "table must be [vocab_size, dim], got rank " << table.getRank();
  if (result.getRank() != tokens.getRank() + 1)
    return op->emitOpError()
           << "result must have the tokens' rank + 1 (" << tokens.getRank() + 1
           << "), got rank " << result.getRank();
  if (failed(verifyLeadingDims(op, "result", result, "tokens", tokens,
                               tokens.getRank())))
    return failure();
  int64_t dim = table.getDimSize(1);
  int64_t resultDim = result.getDimSize(result.getRank() - 1);
  if (!sizesAgree(dim, resultDim))
    return op->emitOpError()
           << "result's last dimension (" << sizeString(resultDim)
           << ") does not match the table's dim (" << sizeString(dim) << ")";
  return success();
}

LogicalResult EmbeddingOp::verify() {
  return verifyEmbedding(*this, getTable().getType(), getTokens().getType(),
                         getResult().getType());
}

//===----------------------------------------------------------------------===//
// RMSNormOp
//===----------------------------------------------------------------------===//

void RMSNormOp::build(OpBuilder &builder, OperationState &state, Value input,
                      Value weight, double eps) {
  build(builder, state, input.getType(), input, weight,
        builder.getF64FloatAttr(eps));
}

/// The rules of RMSNormOp, shared with its gradient op.
static LogicalResult verifyRMSNorm(Operation *op, RankedTensorType input,
                                   RankedTensorType weight,
                                   RankedTensorType result, APFloat eps) {
  if (input.getRank() < 1)
    return op->emitOpError() << "input must have at least one dimension";
  if (weight.getRank() != 1)
    return op->emitOpError()
           << "weight must be [dim], got rank " << weight.getRank();
  int64_t dim = input.getDimSize(input.getRank() - 1);
  if (!sizesAgree(weight.getDimSize(0), dim))
    return op->emitOpError()
           << "weight size (" << sizeString(weight.getDimSize(0))
           << ") does not match the input's last dimension (" << sizeString(dim)
           << ")";
  if (failed(verifySameType(op, "result", result, "input", input)))
    return failure();
  return verifyPositive(op, "eps", eps);
}

LogicalResult RMSNormOp::verify() {
  return verifyRMSNorm(*this, getInput().getType(), getWeight().getType(),
                       getResult().getType(), getEps());
}

//===----------------------------------------------------------------------===//
// LinearOp
//===----------------------------------------------------------------------===//

void LinearOp::build(OpBuilder &builder, OperationState &state, Value input,
                     Value weight) {
  RankedTensorType inputType = tensorTypeOf(input);
  RankedTensorType weightType = tensorTypeOf(weight);
  SmallVector<int64_t> shape(inputType.getShape());
  int64_t outFeatures = weightType.getRank() == 2 ? weightType.getDimSize(0)
                                                  : ShapedType::kDynamic;
  if (shape.empty())
    shape.push_back(outFeatures);
  else
    shape.back() = outFeatures;
  build(builder, state,
        RankedTensorType::get(shape, inputType.getElementType()), input, weight,
        /*residual=*/Value());
}

/// The rules of LinearOp, shared with its gradient op.
static LogicalResult verifyLinear(Operation *op, RankedTensorType input,
                                  RankedTensorType weight,
                                  RankedTensorType result) {
  if (input.getRank() < 1)
    return op->emitOpError() << "input must have at least one dimension";
  if (weight.getRank() != 2)
    return op->emitOpError()
           << "weight must be [out_features, in_features], got "
              "rank "
           << weight.getRank();
  int64_t rank = input.getRank();
  int64_t inFeatures = input.getDimSize(rank - 1);
  if (!sizesAgree(inFeatures, weight.getDimSize(1)))
    return op->emitOpError() << "input has " << sizeString(inFeatures)
                             << " features but the weight [out, in] takes "
                             << sizeString(weight.getDimSize(1));
  if (result.getRank() != rank)
    return op->emitOpError() << "result must have the input's rank (" << rank
                             << "), got rank " << result.getRank();
  if (failed(verifyLeadingDims(op, "result", result, "input", input, rank - 1)))
    return failure();
  int64_t outFeatures = result.getDimSize(rank - 1);
  if (!sizesAgree(outFeatures, weight.getDimSize(0)))
    return op->emitOpError() << "result has " << sizeString(outFeatures)
                             << " features but the weight [out, in] gives "
                             << sizeString(weight.getDimSize(0));
  if (result.getElementType() != input.getElementType())
    return op->emitOpError()
           << "result element type " << result.getElementType()
           << " must match the input element type " << input.getElementType();
  return success();
}

LogicalResult LinearOp::verify() {
  if (Value residual = getResidual();
      residual && residual.getType() != getResult().getType())
    return emitOpError() << "residual type " << residual.getType()
                         << " must be the result type " << getType();
  return verifyLinear(*this, getInput().getType(), getWeight().getType(),
                      getResult().getType());
}

//===----------------------------------------------------------------------===//
// ProjectionsOp, SwiGLUProjectionOp
//===----------------------------------------------------------------------===//

LogicalResult ProjectionsOp::verify() {
  if (getWeights().size() < 2)
    return emitOpError() << "needs at least two weights (one is a "
                            "llama.linear), got "
                         << getWeights().size();
  if (getWeights().size() != getResults().size())
    return emitOpError() << "has " << getWeights().size() << " weights but "
                         << getResults().size() << " results";
  for (auto [weight, result] : llvm::zip_equal(getWeights(), getResults()))
    if (failed(verifyLinear(*this, getInput().getType(), tensorTypeOf(weight),
                            tensorTypeOf(result))))
      return failure();
  return success();
}

LogicalResult SwiGLUProjectionOp::verify() {
  if (getGateWeight().getType() != getUpWeight().getType())
    return emitOpError() << "gate weight " << getGateWeight().getType()
                         << " and up weight " << getUpWeight().getType()
                         << " must have one type";
  return verifyLinear(*this, getInput().getType(), getGateWeight().getType(),
                      getResult().getType());
}

//===----------------------------------------------------------------------===//
// RoPEOp
//===----------------------------------------------------------------------===//

void RoPEOp::build(OpBuilder &builder, OperationState &state, Value input,
                   Value positions, double theta) {
  build(builder, state, input.getType(), input, positions,
        builder.getF64FloatAttr(theta));
}

/// The rules of RoPEOp, shared with its gradient op.
static LogicalResult verifyRoPE(Operation *op, RankedTensorType input,
                                RankedTensorType positions,
                                RankedTensorType result, APFloat theta) {
  int64_t rank = input.getRank();
  if (rank < 3)
    return op->emitOpError()
           << "input must be [..., seq, heads, head_dim], got "
              "rank "
           << rank;
  int64_t headDim = input.getDimSize(rank - 1);
  if (!ShapedType::isDynamic(headDim) && headDim % 2 != 0)
    return op->emitOpError()
           << "head_dim must be even to rotate pairs, got " << headDim;
  // positions covers the dimensions of input that end at seq (rank - 3).
  int64_t posRank = positions.getRank();
  if (posRank < 1 || posRank > rank - 2)
    return op->emitOpError()
           << "positions must have rank 1 to " << rank - 2
           << " (the input's dimensions up to seq), got rank " << posRank;
  int64_t offset = rank - 2 - posRank;
  for (int64_t i = 0; i < posRank; ++i) {
    int64_t want = input.getDimSize(offset + i);
    int64_t have = positions.getDimSize(i);
    if (!sizesAgree(have, want))
      return op->emitOpError()
             << "positions dimension " << i << " (" << sizeString(have)
             << ") does not match input "
             << "dimension " << offset + i << " (" << sizeString(want) << ")";
  }
  if (failed(verifySameType(op, "result", result, "input", input)))
    return failure();
  return verifyPositive(op, "theta", theta);
}

LogicalResult RoPEOp::verify() {
  return verifyRoPE(*this, getInput().getType(), getPositions().getType(),
                    getResult().getType(), getTheta());
}

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

void AttentionOp::build(OpBuilder &builder, OperationState &state, Value query,
                        Value key, Value value, double scale) {
  build(builder, state, query.getType(), query, key, value,
        builder.getF64FloatAttr(scale));
}

LogicalResult AttentionOp::verify() {
  if (failed(verifyQueryKeyValue(*this, getQuery().getType(),
                                 getKey().getType(), getValue().getType(),
                                 getScale())))
    return failure();
  return verifySameType(*this, "result", getResult().getType(), "query",
                        getQuery().getType());
}

//===----------------------------------------------------------------------===//
// CachedAttentionOp
//===----------------------------------------------------------------------===//

void CachedAttentionOp::build(OpBuilder &builder, OperationState &state,
                              Value query, Value key, Value value,
                              Value keyCache, Value valueCache, Value position,
                              double scale) {
  build(builder, state, query.getType(), keyCache.getType(),
        valueCache.getType(), query, key, value, keyCache, valueCache, position,
        builder.getF64FloatAttr(scale));
}

void CachedAttentionOp::getAsmResultNames(
    function_ref<void(Value, StringRef)> setName) {
  setName(getResult(), "attn");
  setName(getNewKeyCache(), "new_k_cache");
  setName(getNewValueCache(), "new_v_cache");
}

LogicalResult CachedAttentionOp::verify() {
  RankedTensorType query = getQuery().getType();
  RankedTensorType key = getKey().getType();
  RankedTensorType keyCache = getKeyCache().getType();
  if (query.getRank() != 3)
    return emitOpError() << "query must be [seq, n_heads, head_dim], got rank "
                         << query.getRank();
  if (failed(verifyQueryKeyValue(*this, query, key, getValue().getType(),
                                 getScale())))
    return failure();
  if (keyCache.getRank() != 3)
    return emitOpError()
           << "key_cache must be [max_seq_len, n_kv_heads, head_dim], got rank "
           << keyCache.getRank();
  if (getValueCache().getType() != keyCache)
    return emitOpError() << "value_cache type " << getValueCache().getType()
                         << " must match the key_cache type " << keyCache;
  for (int64_t i : {1, 2}) {
    if (!sizesAgree(keyCache.getDimSize(i), key.getDimSize(i)))
      return emitOpError() << "cache " << (i == 1 ? "n_kv_heads" : "head_dim")
                           << " (" << sizeString(keyCache.getDimSize(i))
                           << ") does not match the key's ("
                           << sizeString(key.getDimSize(i)) << ")";
  }
  if (keyCache.getElementType() != key.getElementType())
    return emitOpError() << "cache element type " << keyCache.getElementType()
                         << " must match the key element type "
                         << key.getElementType();
  int64_t seq = query.getDimSize(0);
  int64_t maxSeqLen = keyCache.getDimSize(0);
  if (!ShapedType::isDynamic(seq) && !ShapedType::isDynamic(maxSeqLen) &&
      seq > maxSeqLen)
    return emitOpError() << "seq (" << seq << ") exceeds the cache's "
                         << "max_seq_len (" << maxSeqLen << ")";
  if (failed(verifySameType(*this, "result", getResult().getType(), "query",
                            query)) ||
      failed(verifySameType(*this, "new_key_cache", getNewKeyCache().getType(),
                            "key_cache", keyCache)) ||
      failed(verifySameType(*this, "new_value_cache",
                            getNewValueCache().getType(), "value_cache",
                            keyCache)))
    return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// CrossEntropyOp
//===----------------------------------------------------------------------===//

void CrossEntropyOp::build(OpBuilder &builder, OperationState &state,
                           Value logits, Value targets, Value mask) {
  build(builder, state, RankedTensorType::get({}, builder.getF32Type()), logits,
        targets, mask);
}

/// The rules of CrossEntropyOp, shared with its gradient op.
static LogicalResult verifyCrossEntropy(Operation *op, RankedTensorType logits,
                                        RankedTensorType targets,
                                        RankedTensorType mask) {
  if (logits.getRank() < 1)
    return op->emitOpError() << "logits must be [..., vocab_size], got rank 0";
  if (targets.getRank() != logits.getRank() - 1)
    return op->emitOpError()
           << "targets must have rank " << logits.getRank() - 1
           << " (the logits' without vocab_size), got rank "
           << targets.getRank();
  if (failed(verifyLeadingDims(op, "targets", targets, "logits", logits,
                               targets.getRank())))
    return failure();
  if (mask.getRank() != targets.getRank())
    return op->emitOpError()
           << "mask must have the targets' rank (" << targets.getRank()
           << "), got rank " << mask.getRank();
  return verifyLeadingDims(op, "mask", mask, "targets", targets,
                           targets.getRank());
}

LogicalResult CrossEntropyOp::verify() {
  return verifyCrossEntropy(*this, getLogits().getType(),
                            getTargets().getType(), getMask().getType());
}

//===----------------------------------------------------------------------===//
// Reward model ops
//===----------------------------------------------------------------------===//

/// The rules of gather_rows, shared with its gradient: input [N, T, D],
/// index [N], rows [N, D] of input's element type.
static LogicalResult verifyGatherRows(Operation *op, RankedTensorType input,
                                      RankedTensorType index,
                                      RankedTensorType rows) {
  if (input.getRank() != 3)
    return op->emitOpError() << "input must be [sequences, positions, dim], "
                                "got rank "
                             << input.getRank();
  if (index.getRank() != 1)
    return op->emitOpError()
           << "index must be [sequences], got rank " << index.getRank();
  if (rows.getRank() != 2)
    return op->emitOpError()
           << "rows must be [sequences, dim], got rank " << rows.getRank();
  if (failed(verifyLeadingDims(op, "index", index, "input", input, 1)) ||
      failed(verifyLeadingDims(op, "rows", rows, "input", input, 1)))
    return failure();
  if (!sizesAgree(rows.getDimSize(1), input.getDimSize(2)))
    return op->emitOpError()
           << "rows dimension 1 (" << sizeString(rows.getDimSize(1))
           << ") does not match input dimension 2 ("
           << sizeString(input.getDimSize(2)) << ")";
  if (rows.getElementType() != input.getElementType())
    return op->emitOpError() << "rows and input must have one element type";
  return success();
}

LogicalResult GatherRowsOp::verify() {
  return verifyGatherRows(*this, getInput().getType(), getIndex().getType(),
                          getResult().getType());
}

LogicalResult GatherRowsGradOp::verify() {
  return verifyGatherRows(*this, getDinput().getType(), getIndex().getType(),
                          getDy().getType());
}

/// The rules of ranking_loss, shared with its gradient: rewards [2P] for
/// margins [P], and a centering coefficient >= 0.
static LogicalResult verifyRankingLoss(Operation *op, RankedTensorType rewards,
                                       RankedTensorType margins,
                                       APFloat center) {
  int64_t count = rewards.getDimSize(0), pairs = margins.getDimSize(0);
  if (!ShapedType::isDynamic(count) && count % 2 != 0)
    return op->emitOpError() << "rewards must hold chosen then rejected "
                                "rewards (an even count), got "
                             << count;
  if (!ShapedType::isDynamic(count) && !sizesAgree(pairs, count / 2))
    return op->emitOpError() << "margins must have one value per pair ("
                             << count / 2 << "), got " << pairs;
  double c = center.convertToDouble();
  if (!(c >= 0.0) || !std::isfinite(c))
    return op->emitOpError()
           << "center must be non-negative and finite, got " << c;
  return success();
}

LogicalResult RankingLossOp::verify() {
  return verifyRankingLoss(*this, getRewards().getType(),
                           getMargins().getType(), getCenter());
}

LogicalResult RankingLossGradOp::verify() {
  return verifyRankingLoss(*this, getRewards().getType(),
                           getMargins().getType(), getCenter());
}

//===----------------------------------------------------------------------===//
// PPO ops
//===----------------------------------------------------------------------===//

/// Rows of `logits` [..., vocab_size]: `rows` has the logits' rank - 1 and
/// their leading dimensions.
static LogicalResult verifyLogitRows(Operation *op, RankedTensorType logits,
                                     StringRef rowsName,
                                     RankedTensorType rows) {
  if (logits.getRank() < 1)
    return op->emitOpError() << "logits must be [..., vocab_size], got rank 0";
  if (rows.getRank() != logits.getRank() - 1)
    return op->emitOpError()
           << rowsName << " must have rank " << logits.getRank() - 1
           << " (the logits' without vocab_size), got rank " << rows.getRank();
  return verifyLeadingDims(op, rowsName, rows, "logits", logits,
                           rows.getRank());
}

/// The rules of token_logprobs, shared with its gradient: one token per row
/// of logits, and one log-probability per token.
static LogicalResult verifyTokenLogprobs(Operation *op, RankedTensorType logits,
                                         RankedTensorType tokens,
                                         RankedTensorType logprobs) {
  if (failed(verifyLogitRows(op, logits, "tokens", tokens)))
    return failure();
  if (logprobs.getRank() != tokens.getRank())
    return op->emitOpError()
           << "log-probabilities must have the tokens' rank ("
           << tokens.getRank() << "), got rank " << logprobs.getRank();
  return verifyLeadingDims(op, "log-probabilities", logprobs, "tokens", tokens,
                           tokens.getRank());
}

LogicalResult TokenLogprobsOp::verify() {
  return verifyTokenLogprobs(*this, getLogits().getType(),
                             getTokens().getType(), getResult().getType());
}

LogicalResult TokenLogprobsGradOp::verify() {
  return verifyTokenLogprobs(*this, getLogits().getType(),
                             getTokens().getType(), getDy().getType());
}

LogicalResult TokenEntropyOp::verify() {
  return verifyLogitRows(*this, getLogits().getType(), "entropy",
                         getResult().getType());
}

//===----------------------------------------------------------------------===//
// Gradient ops: each checks its forward op's rules with dy as the result.
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingGradOp::verify() {
  return verifyEmbedding(*this, getDtable().getType(), getTokens().getType(),
                         getDy().getType());
}

LogicalResult RMSNormGradOp::verify() {
  return verifyRMSNorm(*this, getInput().getType(), getWeight().getType(),
                       getDy().getType(), getEps());
}

LogicalResult LinearGradOp::verify() {
  return verifyLinear(*this, getInput().getType(), getWeight().getType(),
                      getDy().getType());
}

LogicalResult RoPEGradOp::verify() {
  return verifyRoPE(*this, getDy().getType(), getPositions().getType(),
                    getDinput().getType(), getTheta());
}

LogicalResult AttentionGradOp::verify() {
  if (failed(verifyQueryKeyValue(*this, getQuery().getType(),
                                 getKey().getType(), getValue().getType(),
                                 getScale())))
    return failure();
  return verifySameType(*this, "dy", getDy().getType(), "query",
                        getQuery().getType());
}

LogicalResult CrossEntropyGradOp::verify() {
  return verifyCrossEntropy(*this, getLogits().getType(),
                            getTargets().getType(), getMask().getType());
}

//===----------------------------------------------------------------------===//
// Optimizer ops
//===----------------------------------------------------------------------===//

LogicalResult GlobalNormOp::verify() {
  if (getTensors().empty())
    return emitOpError() << "needs at least one tensor";
  return success();
}

LogicalResult AdamWOp::verify() {
  auto stepParams = cast<RankedTensorType>(getStepParams().getType());
  if (stepParams.getDimSize(0) != 2)
    return emitOpError() << "step_params must be [learning rate, step], got "
                         << stepParams;
  for (auto [name, value] : {std::pair<StringRef, APFloat>{"beta1", getBeta1()},
                             {"beta2", getBeta2()}}) {
    double beta = value.convertToDouble();
    if (!(beta >= 0.0 && beta < 1.0))
      return emitOpError() << name << " must be in [0, 1), got " << beta;
  }
  if (failed(verifyPositive(*this, "eps", getEps())) ||
      failed(verifyPositive(*this, "max_grad_norm", getMaxGradNorm())))
    return failure();
  double decay = getWeightDecay().convertToDouble();
  if (!(decay >= 0.0) || !std::isfinite(decay))
    return emitOpError() << "weight_decay must be non-negative, got " << decay;
  return success();
}
