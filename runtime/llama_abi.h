/*===- llama_abi.h - the contract between llamac and its runtime ----------===*
 *
 * What a compiled artifact exports and the runtime calls, declared once for
 * both sides: llamac's entry-ABI pass writes it, the runtime reads it. Plain
 * C with no dependencies, like IREE's executable_library.h, and versioned as
 * a schema: any change to a symbol, a signature, the argument order or the
 * manifest bumps LLAMA_ABI_VERSION, and the runtime refuses artifacts of
 * another version.
 *
 *===----------------------------------------------------------------------===*/
#ifndef LLAMA_ABI_H
#define LLAMA_ABI_H

#include <stdint.h>

#define LLAMA_ABI_FORMAT "llamac-artifact"
#define LLAMA_ABI_VERSION 7

/* The NUL-terminated JSON manifest every artifact exports. */
#define LLAMA_ABI_MANIFEST_SYMBOL "llama_manifest"
/* An entry point `name` is exported as LLAMA_ABI_SYMBOL_PREFIX + name; the
 * manifest lists each one's symbol, and the runtime looks up only those. */
#define LLAMA_ABI_SYMBOL_PREFIX "llama_"

/* Threads: an artifact's parallel loops run on LLVM's OpenMP runtime, which
 * it links (all cores unless told otherwise). The runtime sets the thread
 * count through this function, looked up through the artifact's handle. */
#define LLAMA_ABI_SET_THREADS_SYMBOL "omp_set_num_threads"
typedef void (*llama_set_threads_fn)(int32_t threads);

/* The element type of the weights (the manifest's "dtype"): f32, or
 * bfloat16 / float16 used in place from the checkpoint's bytes, widened to
 * f32 by the generated code. Activations, KV caches, logits, losses,
 * gradients and Adam moments are always f32. */
#define LLAMA_ABI_DTYPE_F32 "f32"
#define LLAMA_ABI_DTYPE_BF16 "bf16"
#define LLAMA_ABI_DTYPE_F16 "f16"

/* The machine an artifact's code runs on (the manifest's "target"): the
 * host CPU, or an NVIDIA GPU driven by the host (llamac --target=nvidia). A
 * GPU artifact's entry points take device pointers — CUDA device memory for
 * the tokens, weights, KV caches and logits — and launch its kernels
 * through the mgpu* functions of libllama_cuda, which it links. */
#define LLAMA_ABI_TARGET_CPU "cpu"
#define LLAMA_ABI_TARGET_NVIDIA "nvidia"

/* The inference entry points the runtime generates with. */
#define LLAMA_ABI_ENTRY_PREFILL "prefill"
#define LLAMA_ABI_ENTRY_DECODE "decode"

/* Entry kinds (the manifest's "kind") and their C signatures. Arrays hold one
 * pointer per tensor: weights in manifest order, KV caches layer-major
 * (k0, v0, k1, ...), Adam moments and gradients in weight order. No two
 * tensors an entry point takes overlap in memory (the generated code relies
 * on it: a GPU artifact runs kernels writing different ones as one). */
#define LLAMA_ABI_KIND_INFERENCE "inference"
#define LLAMA_ABI_KIND_TRAIN_LOSS "train_loss"
#define LLAMA_ABI_KIND_TRAIN_GRAD "train_grad"
#define LLAMA_ABI_KIND_TRAIN_STEP "train_step"
/* A reward model (llamac --reward) has no inference entry points; these
 * score rows of tokens with its scalar head, and train it on preference
 * pairs with the ranking loss. */
#define LLAMA_ABI_KIND_SCORE "score"
#define LLAMA_ABI_KIND_REWARD_LOSS "reward_loss"
#define LLAMA_ABI_KIND_REWARD_GRAD "reward_grad"
#define LLAMA_ABI_KIND_REWARD_STEP "reward_step"
/* PPO (llamac --ppo policy|value): a policy artifact also has prefill and
 * decode (it samples its own rollouts); a value model has the reward
 * model's head, read at every position. */
#define LLAMA_ABI_KIND_LOGPROBS "logprobs"
#define LLAMA_ABI_KIND_POLICY_LOSS "policy_loss"
#define LLAMA_ABI_KIND_POLICY_GRAD "policy_grad"
#define LLAMA_ABI_KIND_POLICY_STEP "policy_step"
#define LLAMA_ABI_KIND_VALUES "values"
#define LLAMA_ABI_KIND_VALUE_LOSS "value_loss"
#define LLAMA_ABI_KIND_VALUE_GRAD "value_grad"
#define LLAMA_ABI_KIND_VALUE_STEP "value_step"
/* ppo_params [LLAMA_ABI_PPO_PARAMS]: what PPO's entry points read at run
 * time (each reads the ones it needs). */
#define LLAMA_ABI_PPO_TEMPERATURE 0      /* the logits are divided by it */
#define LLAMA_ABI_PPO_CLIP_RANGE 1       /* the policy ratio's: 1 +- this */
#define LLAMA_ABI_PPO_VALUE_CLIP_RANGE 2 /* the value change's: +- this */
#define LLAMA_ABI_PPO_PARAMS 3
/* The reward head's weight [1, dim] (HF LlamaForSequenceClassification's),
 * which a reward model started from a policy checkpoint gets fresh. */
#define LLAMA_ABI_SCORE_WEIGHT "score.weight"

/* tokens [n_tokens] at `position`, caches updated in place; logits
 * [logit_rows, vocab] of the last logit_rows tokens (1 <= logit_rows <=
 * n_tokens: 1 to generate, n_tokens for every row), so the LM head runs on
 * those rows only. */
typedef void (*llama_inference_fn)(const int32_t *tokens, int64_t n_tokens,
                                   int64_t position, int64_t logit_rows,
                                   const void *const *weights, /* dtype */
                                   float *const *kv_caches, float *logits);
/* tokens [batch, seq + 1], loss_mask [batch, seq] -> the mean masked loss */
typedef void (*llama_train_loss_fn)(const int32_t *tokens,
                                    const float *loss_mask,
                                    float *const *weights, float *loss);
/* ... and d loss / d weight, before clipping */
typedef void (*llama_train_grad_fn)(const int32_t *tokens,
                                    const float *loss_mask,
                                    float *const *weights,
                                    float *const *gradients, float *loss);
/* One clipped AdamW step; weights and moments updated in place.
 * step_params is [learning rate, step (1-based)]. */
typedef void (*llama_train_step_fn)(const int32_t *tokens,
                                    const float *loss_mask,
                                    const float *step_params,
                                    float *const *weights, float *const *adam_m,
                                    float *const *adam_v, float *loss,
                                    float *grad_norm);

/* Reward models. tokens [rows, seq] (right-padded), sequence_ends [rows]:
 * the index of each row's last real token, where its score is read ->
 * rewards [rows]. */
typedef void (*llama_score_fn)(const int32_t *tokens,
                               const int32_t *sequence_ends,
                               const void *const *weights, /* dtype */
                               float *rewards);
/* rows = 2 * pairs: the chosen responses, then the rejected ones in the same
 * pair order; margins [pairs] -> the ranking loss */
typedef void (*llama_reward_loss_fn)(const int32_t *tokens,
                                     const int32_t *sequence_ends,
                                     const float *margins,
                                     float *const *weights, float *loss);
typedef void (*llama_reward_grad_fn)(const int32_t *tokens,
                                     const int32_t *sequence_ends,
                                     const float *margins,
                                     float *const *weights,
                                     float *const *gradients, float *loss);
typedef void (*llama_reward_step_fn)(
    const int32_t *tokens, const int32_t *sequence_ends, const float *margins,
    const float *step_params, float *const *weights, float *const *adam_m,
    float *const *adam_v, float *loss, float *grad_norm);

/* PPO. tokens [batch, seq + 1] (prompt, response, padding); every per-
 * position tensor is [batch, seq]: position t is the prediction of token
 * t + 1 (its log-probability, entropy, value: the state before it). */
typedef void (*llama_logprobs_fn)(const int32_t *tokens,
                                  const float *ppo_params,
                                  const float *const *weights, float *logprobs,
                                  float *entropy);
/* The clipped surrogate over the positions loss_mask selects. */
typedef void (*llama_policy_step_fn)(
    const int32_t *tokens, const float *loss_mask, const float *ppo_params,
    const float *old_logprobs, const float *advantages,
    const float *step_params, float *const *weights, float *const *adam_m,
    float *const *adam_v, float *loss, float *grad_norm, float *clip_fraction,
    float *approx_kl);
typedef void (*llama_values_fn)(const int32_t *tokens,
                                const float *const *weights, float *values);
typedef void (*llama_value_step_fn)(
    const int32_t *tokens, const float *loss_mask, const float *ppo_params,
    const float *old_values, const float *returns, const float *step_params,
    float *const *weights, float *const *adam_m, float *const *adam_v,
    float *loss, float *grad_norm, float *clip_fraction);

/* What each parameter of an entry point holds. A C entry point takes the
 * roles it has in this order (tokens are followed by n_tokens when 1-D);
 * LLAMA_ABI_ROLE_OUTPUT parameters come last, one per output. */
enum llama_abi_role {
  LLAMA_ABI_ROLE_TOKENS,        /* const int32_t * */
  LLAMA_ABI_ROLE_POSITION,      /* int64_t */
  LLAMA_ABI_ROLE_LOGIT_ROWS,    /* int64_t: sizes the logits output */
  LLAMA_ABI_ROLE_LOSS_MASK,     /* const float * */
  LLAMA_ABI_ROLE_SEQUENCE_ENDS, /* const int32_t * */
  LLAMA_ABI_ROLE_MARGINS,       /* const float * */
  LLAMA_ABI_ROLE_PPO_PARAMS,    /* const float * */
  LLAMA_ABI_ROLE_OLD_LOGPROBS,  /* const float * */
  LLAMA_ABI_ROLE_ADVANTAGES,    /* const float * */
  LLAMA_ABI_ROLE_OLD_VALUES,    /* const float * */
  LLAMA_ABI_ROLE_RETURNS,       /* const float * */
  LLAMA_ABI_ROLE_STEP_PARAMS,   /* const float * */
  LLAMA_ABI_ROLE_WEIGHTS,       /* float *const * (inference: dtype) */
  LLAMA_ABI_ROLE_KV_CACHES,     /* float *const * */
  LLAMA_ABI_ROLE_ADAM_M,        /* float *const * */
  LLAMA_ABI_ROLE_ADAM_V,        /* float *const * */
  LLAMA_ABI_ROLE_GRADIENTS,     /* float *const * (written) */
  LLAMA_ABI_ROLE_OUTPUT         /* float * (written) */
};

/* Manifest keys. The top level: */
#define LLAMA_ABI_KEY_FORMAT "format"             /* LLAMA_ABI_FORMAT */
#define LLAMA_ABI_KEY_VERSION "version"           /* LLAMA_ABI_VERSION */
#define LLAMA_ABI_KEY_COMPILER "compiler"         /* "llamac X.Y.Z" */
#define LLAMA_ABI_KEY_DTYPE "dtype"               /* the weights', below */
#define LLAMA_ABI_KEY_TARGET "target"             /* LLAMA_ABI_TARGET_* */
#define LLAMA_ABI_KEY_CONFIG "config"             /* the model, below */
#define LLAMA_ABI_KEY_WEIGHTS "weights"           /* [tensor] */
#define LLAMA_ABI_KEY_KV_CACHES "kv_caches"       /* [tensor] */
#define LLAMA_ABI_KEY_ENTRY_POINTS "entry_points" /* [entry point] */
/* A tensor: */
#define LLAMA_ABI_KEY_NAME "name"   /* HF name, e.g. "model.norm.weight" */
#define LLAMA_ABI_KEY_SHAPE "shape" /* [sizes] */
/* An entry point (and LLAMA_ABI_KEY_NAME): */
#define LLAMA_ABI_KEY_SYMBOL "symbol"
#define LLAMA_ABI_KEY_KIND "kind"
#define LLAMA_ABI_KEY_MAX_TOKENS "max_tokens" /* inference: n or null */
/* Training and reward entry points: the rows of tokens they take, and the
 * positions trained on (training: the tokens' columns - 1) or scored per row
 * (reward models: the columns). */
#define LLAMA_ABI_KEY_BATCH "batch"
#define LLAMA_ABI_KEY_SEQ "seq"
/* The config (also the `llama.config` module attribute of the IR): */
#define LLAMA_ABI_KEY_DIM "dim"
#define LLAMA_ABI_KEY_HIDDEN_DIM "hidden_dim"
#define LLAMA_ABI_KEY_N_LAYERS "n_layers"
#define LLAMA_ABI_KEY_N_HEADS "n_heads"
#define LLAMA_ABI_KEY_N_KV_HEADS "n_kv_heads"
#define LLAMA_ABI_KEY_HEAD_DIM "head_dim"
#define LLAMA_ABI_KEY_VOCAB_SIZE "vocab_size"
#define LLAMA_ABI_KEY_SEQ_LEN "seq_len"
#define LLAMA_ABI_KEY_NORM_EPS "norm_eps"
#define LLAMA_ABI_KEY_ROPE_THETA "rope_theta"
#define LLAMA_ABI_KEY_TIE_EMBEDDINGS "tie_embeddings"

#endif /* LLAMA_ABI_H */
