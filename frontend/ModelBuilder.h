//===- ModelBuilder.h - model description to llama IR -----------*- C++ -*-===//
#ifndef LLAMAC_FRONTEND_MODELBUILDER_H
#define LLAMAC_FRONTEND_MODELBUILDER_H

#include "frontend/ModelConfig.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <optional>

namespace llamac {

/// Loads the dialects the model IR uses (llama, func, tensor, arith).
void loadModelDialects(mlir::MLIRContext &context);

/// The block a training step works on: `batch` rows of `seq` positions.
struct TrainShape {
  int64_t batch = 0;
  int64_t seq = 0;
};

/// The element type of the weights the entry points take. f32 by default;
/// bf16 and f16 (inference only) are read in place from the checkpoint's
/// bytes, widened to f32 in registers, and accumulated in f32.
enum class WeightType { F32, BF16, F16 };

/// Builds a module with the model's inference entry points, both
///   (tokens, position, weights..., key/value caches...)
///     -> (logits, updated key/value caches...)
/// `prefill` takes any number of tokens (tensor<?xi32>) and returns a logits
/// row for each; `decode` takes one token. The caches hold `config.seqLen`
/// rows per layer. With `train`, also
///   train_loss(tokens [batch, seq + 1], loss_mask [batch, seq], weights...)
///     -> mean cross-entropy of predicting tokens[:, 1:] over unmasked
///        positions.
/// Weights have element type `weights` (f32 with `train`). The module
/// carries the config as `llama.config`.
mlir::OwningOpRef<mlir::ModuleOp>
buildModelModule(mlir::MLIRContext &context, const ModelConfig &config,
                 std::optional<TrainShape> train = std::nullopt,
                 WeightType weights = WeightType::F32);

/// The block a reward model scores and trains on: `pairs` preference pairs
/// (2 * pairs sequences) of `seq` positions; `center` is the coefficient of
/// the ranking loss's reward-centering term (0: none).
struct RewardShape {
  int64_t pairs = 0;
  int64_t seq = 0;
  double center = 0.0;
};

/// Builds a reward model: the decoder with the scalar head `score.weight`
/// [1, dim] (HF LlamaForSequenceClassification) in place of the LM head,
/// read at each sequence's last real token:
///   score(tokens [2 * pairs, seq], sequence_ends [2 * pairs], weights...)
///     -> rewards [2 * pairs]
/// With `train`, also
///   reward_loss(tokens, sequence_ends, margins [pairs], weights...)
///     -> the ranking loss, rows 0 .. pairs - 1 being the chosen responses
///        and rows pairs .. 2 * pairs - 1 the rejected ones, pair by pair.
mlir::OwningOpRef<mlir::ModuleOp>
buildRewardModule(mlir::MLIRContext &context, const ModelConfig &config,
                  const RewardShape &shape, bool train,
                  WeightType weights = WeightType::F32);

/// The two models PPO trains.
enum class PPOModel { Policy, Value };

/// Builds PPO's entry points over blocks of `shape.batch` rows of tokens
/// [batch, seq + 1] (prompt, response, padding); position t stands for the
/// prediction of token t + 1, every per-position tensor is [batch, seq], and
/// ppo_params is [temperature, clip range, value clip range]. The policy
/// (f32 LM) has prefill and decode to sample with, and
///   logprobs(tokens, ppo_params, weights...) -> (logprobs, entropy)
///   policy_loss(tokens, loss_mask, ppo_params, old_logprobs, advantages,
///               weights...) -> (loss, clip_fraction, approx_kl)
/// The value model (the reward model's shape: score.weight [1, dim] in place
/// of the LM head, read at every position) has
///   values(tokens, weights...) -> values
///   value_loss(tokens, loss_mask, ppo_params, old_values, returns,
///              weights...) -> (loss, clip_fraction)
mlir::OwningOpRef<mlir::ModuleOp> buildPPOModule(mlir::MLIRContext &context,
                                                 const ModelConfig &config,
                                                 const TrainShape &shape,
                                                 PPOModel model);

} // namespace llamac

#endif // LLAMAC_FRONTEND_MODELBUILDER_H
