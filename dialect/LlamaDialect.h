//===- LlamaDialect.h - the llama dialect -----------------------*- C++ -*-===//
#ifndef LLAMAC_DIALECT_LLAMADIALECT_H
#define LLAMAC_DIALECT_LLAMADIALECT_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/Operation.h"

#include "dialect/LlamaDialect.h.inc"

namespace mlir::llama {

/// The names of the dialect's attributes (declared in LlamaDialect.td), for
/// function argument and result attribute lookups.
constexpr llvm::StringLiteral kInputAttr =
    LlamaDialect::InputAttrHelper::getNameStr();
constexpr llvm::StringLiteral kWeightAttr =
    LlamaDialect::WeightAttrHelper::getNameStr();
constexpr llvm::StringLiteral kKvCacheAttr =
    LlamaDialect::KvCacheAttrHelper::getNameStr();
constexpr llvm::StringLiteral kAdamMAttr =
    LlamaDialect::AdamMAttrHelper::getNameStr();
constexpr llvm::StringLiteral kAdamVAttr =
    LlamaDialect::AdamVAttrHelper::getNameStr();
constexpr llvm::StringLiteral kGradAttr =
    LlamaDialect::GradAttrHelper::getNameStr();
constexpr llvm::StringLiteral kOutputAttr =
    LlamaDialect::OutputAttrHelper::getNameStr();
constexpr llvm::StringLiteral kUpdatedAttr =
    LlamaDialect::UpdatedAttrHelper::getNameStr();
constexpr llvm::StringLiteral kConfigAttr =
    LlamaDialect::ConfigAttrHelper::getNameStr();

/// The values of llama.input.
namespace input {
constexpr llvm::StringLiteral kTokens = "tokens";
constexpr llvm::StringLiteral kPosition = "position";
constexpr llvm::StringLiteral kLogitRows = "logit_rows"; // rows of logits
constexpr llvm::StringLiteral kLossMask = "loss_mask";
constexpr llvm::StringLiteral kStepParams = "step_params"; // [lr, step]
// Reward models: the index of each sequence's last real token, and the
// margin of each preference pair.
constexpr llvm::StringLiteral kSequenceEnds = "sequence_ends";
constexpr llvm::StringLiteral kMargins = "margins";
// PPO: [temperature, clip range, value clip range]; per predicted position
// the sampling policy's log-probabilities and values, the advantages and the
// returns.
constexpr llvm::StringLiteral kPPOParams = "ppo_params";
constexpr llvm::StringLiteral kOldLogprobs = "old_logprobs";
constexpr llvm::StringLiteral kAdvantages = "advantages";
constexpr llvm::StringLiteral kOldValues = "old_values";
constexpr llvm::StringLiteral kReturns = "returns";
} // namespace input

/// The values of llama.output.
namespace output {
constexpr llvm::StringLiteral kLogits = "logits";
constexpr llvm::StringLiteral kLoss = "loss";
constexpr llvm::StringLiteral kGradNorm = "grad_norm";
constexpr llvm::StringLiteral kRewards = "rewards";
// PPO: per predicted position, and the losses' statistics.
constexpr llvm::StringLiteral kLogprobs = "logprobs";
constexpr llvm::StringLiteral kEntropy = "entropy";
constexpr llvm::StringLiteral kValues = "values";
constexpr llvm::StringLiteral kClipFraction = "clip_fraction";
constexpr llvm::StringLiteral kApproxKl = "approx_kl";
} // namespace output

/// The values of llama.updated: what an in-place result updates.
namespace updated {
constexpr llvm::StringLiteral kWeight = "weight";
constexpr llvm::StringLiteral kAdamM = "adam_m";
constexpr llvm::StringLiteral kAdamV = "adam_v";
} // namespace updated

} // namespace mlir::llama

#endif // LLAMAC_DIALECT_LLAMADIALECT_H
