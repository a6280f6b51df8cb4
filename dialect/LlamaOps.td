//===- LlamaOps.td - llama dialect operations --------------*- tablegen -*-===//
//
// One op per building block of the Llama 2 decoder and its loss. Each op has
// a custom assembly format and a C++ verifier (LlamaOps.cpp) that names the
// rule a malformed op breaks. Builders without a result type infer it.
//
//===----------------------------------------------------------------------===//

#ifndef LLAMA_OPS_TD
#define LLAMA_OPS_TD

include "dialect/LlamaDialect.td"
include "dialect/LlamaInterfaces.td"
include "mlir/IR/OpAsmInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

//===----------------------------------------------------------------------===//
// Embedding and normalisation
//===----------------------------------------------------------------------===//

def Llama_EmbeddingOp : Llama_Op<"embedding", 
    [Pure, DeclareOpInterfaceMethods<Llama_DifferentiableOpInterface>]> {
  let summary = "Gathers rows of the token embedding table";
  let description = [{
    Looks up one row of `table` (`[vocab_size, dim]`) per token id. The result
    has the shape of `tokens` with `dim` appended. Ids must lie in
    `[0, vocab_size)`; the runtime checks them before they reach this op.

    ```mlir
    %x = llama.embedding %table[%tokens]
        : (tensor<32000x4096xbf16>, tensor<?xi32>) -> tensor<?x4096xf32>
    ```
  }];
  let arguments = (ins Llama_FloatTensor:$table, Llama_IdTensor:$tokens);
  let results = (outs Llama_FloatTensor:$result);
  let assemblyFormat = [{
    $table `[` $tokens `]` attr-dict `:` functional-type(operands, results)
  }];
  let builders = [
    OpBuilder<(ins "Value":$table, "Value":$tokens, "Type":$elementType)>
  ];
  let hasVerifier = 1;
}

def Llama_RMSNormOp : Llama_Op<"rms_norm", 
    [Pure, DeclareOpInterfaceMethods<Llama_DifferentiableOpInterface>]> {
  let summary = "Root-mean-square layer normalisation over the last dimension";
  let description = [{
    `result = input * rsqrt(mean(input², last dim) + eps) * weight`, computed
    in f32 whatever the element type. `weight` is the `[dim]` gain vector;
    `eps` must be positive.

    ```mlir
    %y = llama.rms_norm %x, %w eps(1.0e-05)
        : (tensor<?x4096xf32>, tensor<4096xf32>) -> tensor<?x4096xf32>
    ```
  }];
  let arguments = (ins Llama_FloatTensor:$input, Llama_FloatTensor:$weight,
                       F64Attr:$eps);
  let results = (outs Llama_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight `eps` `(` $eps `)` attr-dict `:`
    functional-type(operands, results)
  }];
  let builders = [
    OpBuilder<(ins "Value":$input, "Value":$weight, "double":$eps)>
  ];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Linear layers and the feed-forward gate
//===----------------------------------------------------------------------===//

def Llama_LinearOp : Llama_Op<"linear", 
    [Pure, DeclareOpInterfaceMethods<Llama_DifferentiableOpInterface>]> {
  let summary = "Multiplies by a transposed weight: input · weightᵀ";
  let description = [{
    A bias-free linear layer as in `torch.nn.Linear`: `weight` is
    `[out_features, in_features]` and the last dimension of `input` is
    `in_features`. The result replaces that last dimension with
    `out_features`.

    With `residual` (of the result's type) the op is `residual + input ·
    weightᵀ`: the residual connection after the attention output and the
    feed-forward down projection, folded in by `llama-fuse-residual` so that
    the sum starts from the residual instead of zero and no separate add
    runs over the activations.

    ```mlir
    %q = llama.linear %x, %wq
        : (tensor<?x4096xf32>, tensor<4096x4096xf32>) -> tensor<?x4096xf32>
    %h = llama.linear %attn, %wo residual(%x)
        : (tensor<?x4096xf32>, tensor<4096x4096xf32>, tensor<?x4096xf32>)
          -> tensor<?x4096xf32>
    ```
  }];
  let arguments = (ins Llama_FloatTensor:$input, Llama_FloatTensor:$weight,
                       Optional<Llama_FloatTensor>:$residual);
  let results = (outs Llama_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`residual` `(` $residual^ `)`)? attr-dict `:`
    functional-type(operands, results)
  }];
  let builders = [
    OpBuilder<(ins "Value":$input, "Value":$weight)>,
    OpBuilder<(ins "Value":$input, "Value":$weight, "Value":$residual), [{
      build($_builder, $_state, residual.getType(), input, weight, residual);
    }]>
  ];
  let hasVerifier = 1;
}

def Llama_SwiGLUOp : Llama_Op<"swiglu",
    [Pure, AllTypesMatch<["gate", "up", "result"]>,
     DeclareOpInterfaceMethods<Llama_DifferentiableOpInterface>]> {
  let summary = "SwiGLU gate: silu(gate) · up";
  let description = [{
    The gated activation of the Llama feed-forward block,
    `silu(gate) * up` with `silu(x) = x * sigmoid(x)`, element by element.
    Both operands and the result have one type.

    ```mlir
    %h = llama.swiglu %gate, %up : tensor<?x11008xf32>
    ```
  }];
  let arguments = (ins Llama_FloatTensor:$gate, Llama_FloatTensor:$up);
  let results = (outs Llama_FloatTensor:$result);
  let assemblyFormat = [{
    $gate `,` $up attr-dict `:` type($result)
  }];
  let builders = [OpBuilder<(ins "Value":$gate, "Value":$up), [{
    build($_builder, $_state, gate.getType(), gate, up);
  }]>];
}

def Llama_ProjectionsOp : Llama_Op<"projections", [Pure]> {
  let summary = "Linear layers of one input: input · weightᵢᵀ for each i";
  let description = [{
    Several bias-free linear layers that read the same activation (a
    layer's q, k and v projections) as one op, formed by
    `llama-fuse-projections`. Weight i is `[out_featuresᵢ, in_features]`;
    result i is the input with its last dimension replaced by
    `out_featuresᵢ`. Lowered, one loop over blocks of columns computes
    block p of every result in iteration p: one fork and join of the
    threads for all the projections, each thread reading its share of
    every weight, and one kernel launch instead of several on a GPU.

    Formed after autodiff, so it needs no gradient of its own: the
    training step's forward functions use it, their gradients are the
    linear layers'.

    ```mlir
    %q, %k, %v = llama.projections %x, %wq, %wk, %wv
        : (tensor<?x4096xf32>, tensor<4096x4096xf32>, tensor<1024x4096xf32>,
           tensor<1024x4096xf32>)
          -> (tensor<?x4096xf32>, tensor<?x1024xf32>, tensor<?x1024xf32>)
    ```
  }];
  let arguments = (ins Llama_FloatTensor:$input,
                       Variadic<Llama_FloatTensor>:$weights);
  let results = (outs Variadic<Llama_FloatTensor>:$results);
  let assemblyFormat = [{
    $input `,` $weights attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Llama_SwiGLUProjectionOp : Llama_Op<"swiglu_projection", [Pure]> {
  let summary = "The feed-forward gate: silu(input · gateᵀ) · (input · upᵀ)";
  let description = [{
    The gate and up projections of the Llama feed-forward block and the
    SwiGLU between them as one op, formed by `llama-fuse-swiglu` when the
    SwiGLU is the only user of both projections. Lowered, each block of
    columns of the gate and up products is computed and combined while it
    is in cache: neither `[rows, hidden_dim]` product is ever stored. Both
    weights are `[hidden_dim, in_features]` of one type.

    Formed after autodiff (the training step keeps the gate and up
    products for the SwiGLU's gradient, so there it stays unfused).

    ```mlir
    %h = llama.swiglu_projection %x, %w_gate, %w_up
        : (tensor<?x4096xf32>, tensor<11008x4096xf32>, tensor<11008x4096xf32>)
          -> tensor<?x11008xf32>
    ```
  }];
  let arguments = (ins Llama_FloatTensor:$input, Llama_FloatTensor:$gate_weight,
                       Llama_FloatTensor:$up_weight);
  let results = (outs Llama_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $gate_weight `,` $up_weight attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Llama_AddOp : Llama_Op<"add",
    [Pure, Commutative, AllTypesMatch<["lhs", "rhs", "result"]>,
     DeclareOpInterfaceMethods<Llama_DifferentiableOpInterface>]> {
  let summary = "Residual addition";
  let description = [{
    Adds two tensors of one type element by element: the residual
    connections around attention and the feed-forward block. A distinct op
    (rather than `arith.addf`) so that fusion passes can find residuals.

    ```mlir
    %h = llama.add %x, %attn_out : tensor<?x4096xf32>
    ```
  }];
  let arguments = (ins Llama_FloatTensor:$lhs, Llama_FloatTensor:$rhs);
  let results = (outs Llama_FloatTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` type($result)
  }];
  let builders = [OpBuilder<(ins "Value":$lhs, "Value":$rhs), [{
    build($_builder, $_state, lhs.getType(), lhs, rhs);
  }]>];
}

//===----------------------------------------------------------------------===//
// Positions and attention
//===----------------------------------------------------------------------===//

def Llama_RoPEOp : Llama_Op<"rope", 
    [Pure, DeclareOpInterfaceMethods<Llama_DifferentiableOpInterface>]> {
  let summary = "Rotary position embedding (Hugging Face rotate-half form)";
  let description = [{
    Rotates each head of `input` (`[..., seq, heads, head_dim]`) by angles
    that depend on the token's position:

    ```
    inv_freq[i] = theta^(-2i / head_dim)            i in [0, head_dim/2)
    angle       = position * concat(inv_freq, inv_freq)
    result      = input * cos(angle) + rotate_half(input) * sin(angle)
    rotate_half(x) = concat(-x[head_dim/2:], x[:head_dim/2])
    ```

    `positions` holds the position of every token: shape `[seq]`, or the
    leading dimensions of `input` down to `seq` (`[batch, seq]`) when rows
    differ. `head_dim` must be even and `theta` positive. Checkpoints in
    Meta's interleaved layout must have their q/k rows permuted to this form.

    ```mlir
    %q_rot = llama.rope %q, %positions theta(1.0e+04)
        : (tensor<?x32x128xf32>, tensor<?xi32>) -> tensor<?x32x128xf32>
    ```
  }];
  let arguments = (ins Llama_FloatTensor:$input, Llama_IdTensor:$positions,
                       F64Attr:$theta);
  let results = (outs Llama_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $positions `theta` `(` $theta `)` attr-dict `:`
    functional-type(operands, results)
  }];
  let builders = [
    OpBuilder<(ins "Value":$input, "Value":$positions, "double":$theta)>
  ];
  let hasVerifier = 1;
}

def Llama_AttentionOp : Llama_Op<"attention", 
    [Pure, DeclareOpInterfaceMethods<Llama_DifferentiableOpInterface>]> {
  let summary = "Causal scaled dot-product attention with grouped KV heads";
  let description = [{
    Causal self-attention over one sequence (or a batch of them, in the
    leading dimensions): query position `i` attends to key positions
    `0..i`.

    `query` is `[..., seq, n_heads, head_dim]`; `key` and `value` are
    `[..., seq, n_kv_heads, head_dim]`. The kind of attention follows from
    the head counts: `n_kv_heads == n_heads` is multi-head, `1` is
    multi-query, anything that divides `n_heads` is grouped-query, where
    query head `h` reads key/value head `h / (n_heads / n_kv_heads)`.
    `scores = query · keyᵀ * scale`, softmax over keys, then weights · value.
    The result has the query's type; `scale` (usually `1/sqrt(head_dim)`)
    must be positive.

    ```mlir
    %o = llama.attention %q, %k, %v scale(0.0883883461)
        : (tensor<8x64x32x128xf32>, tensor<8x64x8x128xf32>,
           tensor<8x64x8x128xf32>) -> tensor<8x64x32x128xf32>
    ```
  }];
  let arguments = (ins Llama_FloatTensor:$query, Llama_FloatTensor:$key,
                       Llama_FloatTensor:$value, F64Attr:$scale);
  let results = (outs Llama_FloatTensor:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value `scale` `(` $scale `)` attr-dict `:`
    functional-type(operands, results)
  }];
  let builders = [
    OpBuilder<(ins "Value":$query, "Value":$key, "Value":$value,
                   "double":$scale)>
  ];
  let hasVerifier = 1;
}

def Llama_CachedAttentionOp : Llama_Op<"cached_attention",
    [Pure, DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmResultNames"]>]> {
  let summary = "Causal attention that writes and reads a KV cache";
  let description = [{
    The attention of incremental generation. The new tokens sit at positions
    `position .. position + seq - 1`, where `position` is known only at run
    time. The op

    1. writes `key` and `value` (`[seq, n_kv_heads, head_dim]`) into rows
       `position ..` of `key_cache` and `value_cache`
       (`[max_seq_len, n_kv_heads, head_dim]`), giving the updated caches as
       its second and third results;
    2. lets query row `i` (`query`: `[seq, n_heads, head_dim]`) attend to
       cache rows `0 .. position + i`, with the grouped-query rule of
       `llama.attention`.

    Prefill is `seq > 1` at position 0 (or later, to continue a
    conversation); decode is `seq == 1`. The caller guarantees
    `position + seq <= max_seq_len`; the runtime checks it.

    ```mlir
    %o, %kc2, %vc2 = llama.cached_attention %q, %k, %v
        cache(%kc, %vc) at %pos scale(0.0883883461)
        : (tensor<1x32x128xf32>, tensor<1x8x128xf32>, tensor<1x8x128xf32>,
           tensor<4096x8x128xf32>, tensor<4096x8x128xf32>, index)
        -> (tensor<1x32x128xf32>, tensor<4096x8x128xf32>,
            tensor<4096x8x128xf32>)
    ```
  }];
  let arguments = (ins Llama_FloatTensor:$query, Llama_FloatTensor:$key,
                       Llama_FloatTensor:$value, Llama_FloatTensor:$key_cache,
                       Llama_FloatTensor:$value_cache,
                       Llama_Position:$position, F64Attr:$scale);
  let results = (outs Llama_FloatTensor:$result,
                      Llama_FloatTensor:$new_key_cache,
                      Llama_FloatTensor:$new_value_cache);
  let assemblyFormat = [{
    $query `,` $key `,` $value `cache` `(` $key_cache `,` $value_cache `)`
    `at` $position `scale` `(` $scale `)` attr-dict `:`
    functional-type(operands, results)
  }];
  let builders = [
    OpBuilder<(ins "Value":$query, "Value":$key, "Value":$value,
                   "Value":$key_cache, "Value":$value_cache,
                   "Value":$position, "double":$scale)>
  ];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Training loss
//===----------------------------------------------------------------------===//

def Llama_CrossEntropyOp : Llama_Op<"cross_entropy", 
    [Pure, DeclareOpInterfaceMethods<Llama_DifferentiableOpInterface>]> {
  let summary = "Masked mean next-token cross-entropy";
  let description = [{
    `logits` is `[..., vocab_size]`; `targets` holds the id each position
    should predict (the input tokens shifted left by one) and `mask` weights
    each position, both with the shape of `logits` minus its last dimension.
    The result is the f32 scalar

    ```
    sum(mask * (logsumexp(logits) - logits[target])) / sum(mask)
    ```

    so a mask of 0 on the prompt tokens trains on the answer only (SFT).
    Target ids must lie in `[0, vocab_size)`.

    ```mlir
    %loss = llama.cross_entropy %logits, %targets, %mask
        : (tensor<4x256x32000xf32>, tensor<4x256xi32>, tensor<4x256xf32>)
        -> tensor<f32>
    ```
  }];
  let arguments = (ins Llama_FloatTensor:$logits, Llama_IdTensor:$targets,
                       Llama_FloatTensor:$mask);
  let results = (outs Llama_LossTensor:$loss);
  let assemblyFormat = [{
    $logits `,` $targets `,` $mask attr-dict `:`
    functional-type(operands, results)
  }];
  let builders = [
    OpBuilder<(ins "Value":$logits, "Value":$targets, "Value":$mask)>
  ];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Reward model: the score head's row and the preference loss
//===----------------------------------------------------------------------===//

def Llama_GatherRowsOp : Llama_Op<"gather_rows",
    [Pure, DeclareOpInterfaceMethods<Llama_DifferentiableOpInterface>]> {
  let summary = "Picks one position of each sequence";
  let description = [{
    `input` is `[N, T, D]` (N sequences of T positions), `index` `[N]`; the
    result `[N, D]` holds row `index[n]` of sequence `n`. A reward model
    reads its score at each sequence's last real token (its EOS) this way:
    positions after it (padding) cannot reach that row through causal
    attention, so padding never changes a score. Indices must lie in
    `[0, T)`; the runtime checks them before they reach this op.

    ```mlir
    %last = llama.gather_rows %h[%ends]
        : (tensor<8x64x288xf32>, tensor<8xi32>) -> tensor<8x288xf32>
    ```
  }];
  let arguments = (ins Llama_FloatTensor:$input, Llama_IdTensor:$index);
  let results = (outs Llama_FloatTensor:$result);
  let assemblyFormat = [{
    $input `[` $index `]` attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Llama_RankingLossOp : Llama_Op<"ranking_loss",
    [Pure, DeclareOpInterfaceMethods<Llama_DifferentiableOpInterface>]> {
  let summary = "Binary ranking loss with margin of preference pairs";
  let description = [{
    The Llama 2 reward-model loss (its Eq. 2) with TRL's optional reward
    centering. `rewards` is `[2P]`: the P chosen responses' rewards, then the
    P rejected ones' in the same pair order; `margins` is `[P]`. With
    `d = r_chosen - r_rejected - margin`, the result is the f32 scalar

    ```
    mean over pairs of ( -log sigmoid(d) + center * (r_chosen + r_rejected)^2 )
    ```

    where `-log sigmoid(d) = max(-d, 0) + log1p(exp(-|d|))` does not overflow.
    `center` >= 0 (0: no centering term).

    ```mlir
    %loss = llama.ranking_loss %rewards, %margins {center = 0.01}
        : (tensor<8xf32>, tensor<4xf32>) -> tensor<f32>
    ```
  }];
  let arguments = (ins 1DTensorOf<[F32]>:$rewards, 1DTensorOf<[F32]>:$margins,
                       F64Attr:$center);
  let results = (outs Llama_LossTensor:$loss);
  let assemblyFormat = [{
    $rewards `,` $margins attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// PPO: the policy's log-probabilities of its samples, and the clipped losses
//===----------------------------------------------------------------------===//

def Llama_TokenLogprobsOp : Llama_Op<"token_logprobs",
    [Pure, DeclareOpInterfaceMethods<Llama_DifferentiableOpInterface>]> {
  let summary = "Log-probability of each given token under softmax(logits / T)";
  let description = [{
    `logits` is `[..., vocab_size]`, `tokens` the ids to score with the
    logits' shape minus its last dimension, `temperature` the sampling
    temperature T > 0. With `z = logits / T`, the result (f32, the tokens'
    shape) is

    ```
    z[token] - logsumexp(z)
    ```

    computed from each row's max and sum of exponentials: the
    `[..., vocab_size]` log-softmax is never stored. Token ids must lie in
    `[0, vocab_size)`.

    ```mlir
    %lp = llama.token_logprobs %logits[%targets], %temperature
        : (tensor<4x63x512xf32>, tensor<4x63xi32>, f32) -> tensor<4x63xf32>
    ```
  }];
  let arguments = (ins Llama_FloatTensor:$logits, Llama_IdTensor:$tokens,
                       F32:$temperature);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = [{
    $logits `[` $tokens `]` `,` $temperature attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Llama_TokenEntropyOp : Llama_Op<"token_entropy", [Pure]> {
  let summary = "Entropy of softmax(logits / T) per row";
  let description = [{
    `logsumexp(z) - sum(softmax(z) * z)` with `z = logits / T`, per row of
    `logits` `[..., vocab_size]` (result: f32, the logits' shape minus its
    last dimension). A statistic PPO logs, not differentiated: a loss that
    uses it fails in the autodiff pass.

    ```mlir
    %h = llama.token_entropy %logits, %temperature
        : (tensor<4x63x512xf32>, f32) -> tensor<4x63xf32>
    ```
  }];
  let arguments = (ins Llama_FloatTensor:$logits, F32:$temperature);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = [{
    $logits `,` $temperature attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Llama_PPOPolicyLossOp : Llama_Op<"ppo_policy_loss",
    [Pure, DeclareOpInterfaceMethods<Llama_DifferentiableOpInterface>,
     AllTypesMatch<["logprobs", "old_logprobs", "advantages", "mask"]>]> {
  let summary = "PPO's clipped surrogate policy loss";
  let description = [{
    Per position, with the probability ratio `r = exp(logprobs -
    old_logprobs)` of the policy being trained against the one that sampled,
    the advantage `A` and the clip range `clip`:

    ```
    loss        = sum(mask * max(-A * r, -A * clamp(r, 1 - clip, 1 + clip))) / sum(mask)
    clip_fraction = sum(mask * (clipped branch > unclipped branch)) / sum(mask)
    approx_kl   = sum(mask * (logprobs - old_logprobs)^2) / (2 sum(mask))
    ```

    (TRL's PPOTrainer; sums in f64). Only `loss` is differentiated, with
    respect to `logprobs`; the other two are statistics.

    ```mlir
    %loss, %clipped, %kl = llama.ppo_policy_loss %lp, %old, %adv, %mask, %clip
        : (tensor<4x63xf32>, tensor<4x63xf32>, tensor<4x63xf32>,
           tensor<4x63xf32>, f32) -> (tensor<f32>, tensor<f32>, tensor<f32>)
    ```
  }];
  let arguments = (ins RankedTensorOf<[F32]>:$logprobs,
                       RankedTensorOf<[F32]>:$old_logprobs,
                       RankedTensorOf<[F32]>:$advantages,
                       RankedTensorOf<[F32]>:$mask, F32:$clip);
  let results = (outs Llama_LossTensor:$loss, Llama_LossTensor:$clip_fraction,
                      Llama_LossTensor:$approx_kl);
  let assemblyFormat = [{
    $logprobs `,` $old_logprobs `,` $advantages `,` $mask `,` $clip attr-dict
    `:` functional-type(operands, results)
  }];
}

def Llama_PPOValueLossOp : Llama_Op<"ppo_value_loss",
    [Pure, DeclareOpInterfaceMethods<Llama_DifferentiableOpInterface>,
     AllTypesMatch<["values", "old_values", "returns", "mask"]>]> {
  let summary = "PPO's clipped value loss";
  let description = [{
    Per position, with `v_clip = old_values + clamp(values - old_values,
    -clip, clip)`:

    ```
    loss          = sum(mask * max((values - returns)^2, (v_clip - returns)^2)) / (2 sum(mask))
    clip_fraction = sum(mask * ((v_clip - returns)^2 > (values - returns)^2)) / sum(mask)
    ```

    (TRL's PPOTrainer; sums in f64). Only `loss` is differentiated, with
    respect to `values`.

    ```mlir
    %loss, %clipped = llama.ppo_value_loss %v, %old, %returns, %mask, %clip
        : (tensor<4x63xf32>, tensor<4x63xf32>, tensor<4x63xf32>,
           tensor<4x63xf32>, f32) -> (tensor<f32>, tensor<f32>)
    ```
  }];
  let arguments = (ins RankedTensorOf<[F32]>:$values,
                       RankedTensorOf<[F32]>:$old_values,
                       RankedTensorOf<[F32]>:$returns,
                       RankedTensorOf<[F32]>:$mask, F32:$clip);
  let results = (outs Llama_LossTensor:$loss, Llama_LossTensor:$clip_fraction);
  let assemblyFormat = [{
    $values `,` $old_values `,` $returns `,` $mask `,` $clip attr-dict
    `:` functional-type(operands, results)
  }];
}

//===----------------------------------------------------------------------===//
// Gradients (reverse mode)
//
// One op per forward op: given the forward operands and the cotangent of the
// result (`dy`), each returns the cotangents of the float operands. The
// autodiff pass emits them; each verifies like its forward op with `dy` in
// the result's place.
//===----------------------------------------------------------------------===//

def Llama_EmbeddingGradOp : Llama_Op<"embedding_grad", [Pure]> {
  let summary = "Gradient of embedding: scatter-adds rows into the table";
  let description = [{
    `result[v, :] = sum of dy[i, :] over the positions i where tokens[i] = v`;
    the result has the table's type.

    ```mlir
    %dtable = llama.embedding_grad %tokens, %dy
        : (tensor<4x8xi32>, tensor<4x8x64xf32>) -> tensor<512x64xf32>
    ```
  }];
  let arguments = (ins Llama_IdTensor:$tokens, Llama_FloatTensor:$dy);
  let results = (outs Llama_FloatTensor:$dtable);
  let assemblyFormat = [{
    $tokens `,` $dy attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Llama_RMSNormGradOp : Llama_Op<"rms_norm_grad",
    [Pure, AllTypesMatch<["input", "dinput"]>,
     AllTypesMatch<["weight", "dweight"]>]> {
  let summary = "Gradient of rms_norm with respect to input and weight";
  let description = [{
    With `r = rsqrt(mean(x²) + eps)` per row and `g = dy * w`:
    `dweight = sum over rows of dy * x * r`,
    `dinput = r * g - x * r³ * mean(g * x)`.

    ```mlir
    %dx, %dw = llama.rms_norm_grad %x, %w, %dy eps(1.0e-05)
        : (tensor<4x8x64xf32>, tensor<64xf32>, tensor<4x8x64xf32>)
        -> (tensor<4x8x64xf32>, tensor<64xf32>)
    ```
  }];
  let arguments = (ins Llama_FloatTensor:$input, Llama_FloatTensor:$weight,
                       Llama_FloatTensor:$dy, F64Attr:$eps);
  let results = (outs Llama_FloatTensor:$dinput, Llama_FloatTensor:$dweight);
  let assemblyFormat = [{
    $input `,` $weight `,` $dy `eps` `(` $eps `)` attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Llama_LinearGradOp : Llama_Op<"linear_grad",
    [Pure, AllTypesMatch<["input", "dinput"]>,
     AllTypesMatch<["weight", "dweight"]>]> {
  let summary = "Gradient of linear with respect to input and weight";
  let description = [{
    For `y = x · wᵀ`: `dinput = dy · w` and `dweight = dyᵀ · x`, summed over
    all leading dimensions.

    ```mlir
    %dx, %dw = llama.linear_grad %x, %w, %dy
        : (tensor<4x8x64xf32>, tensor<172x64xf32>, tensor<4x8x172xf32>)
        -> (tensor<4x8x64xf32>, tensor<172x64xf32>)
    ```
  }];
  let arguments = (ins Llama_FloatTensor:$input, Llama_FloatTensor:$weight,
                       Llama_FloatTensor:$dy);
  let results = (outs Llama_FloatTensor:$dinput, Llama_FloatTensor:$dweight);
  let assemblyFormat = [{
    $input `,` $weight `,` $dy attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Llama_RoPEGradOp : Llama_Op<"rope_grad", [Pure]> {
  let summary = "Gradient of rope: the rotation by the opposite angles";
  let description = [{
    RoPE rotates each pair of (i, i + head_dim/2) coordinates; its transpose
    rotates back: `dinput = dy * cos - rotate_half(dy) * sin`.

    ```mlir
    %dq = llama.rope_grad %dq_rot, %positions theta(1.0e+04)
        : (tensor<4x8x4x16xf32>, tensor<8xi32>) -> tensor<4x8x4x16xf32>
    ```
  }];
  let arguments = (ins Llama_FloatTensor:$dy, Llama_IdTensor:$positions,
                       F64Attr:$theta);
  let results = (outs Llama_FloatTensor:$dinput);
  let assemblyFormat = [{
    $dy `,` $positions `theta` `(` $theta `)` attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Llama_AttentionGradOp : Llama_Op<"attention_grad",
    [Pure, AllTypesMatch<["query", "dquery"]>, AllTypesMatch<["key", "dkey"]>,
     AllTypesMatch<["value", "dvalue"]>]> {
  let summary = "Gradient of causal attention with respect to q, k and v";
  let description = [{
    Recomputes the attention probabilities `P` from q and k, then with
    `dP = dy · vᵀ` and `dS = P * (dP - rowsum(dP * P))`:
    `dvalue = Pᵀ · dy`, `dquery = scale * dS · k`, `dkey = scale * dSᵀ · q`,
    where key/value gradients sum over the query heads that share them.

    ```mlir
    %dq, %dk, %dv = llama.attention_grad %q, %k, %v, %dy scale(0.25)
        : (tensor<4x8x4x16xf32>, tensor<4x8x2x16xf32>, tensor<4x8x2x16xf32>,
           tensor<4x8x4x16xf32>)
        -> (tensor<4x8x4x16xf32>, tensor<4x8x2x16xf32>, tensor<4x8x2x16xf32>)
    ```
  }];
  let arguments = (ins Llama_FloatTensor:$query, Llama_FloatTensor:$key,
                       Llama_FloatTensor:$value, Llama_FloatTensor:$dy,
                       F64Attr:$scale);
  let results = (outs Llama_FloatTensor:$dquery, Llama_FloatTensor:$dkey,
                      Llama_FloatTensor:$dvalue);
  let assemblyFormat = [{
    $query `,` $key `,` $value `,` $dy `scale` `(` $scale `)` attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Llama_SwiGLUGradOp : Llama_Op<"swiglu_grad",
    [Pure, AllTypesMatch<["gate", "up", "dy", "dgate", "dup"]>]> {
  let summary = "Gradient of swiglu with respect to gate and up";
  let description = [{
    With `s = sigmoid(gate)`: `dup = dy * gate * s` and
    `dgate = dy * up * s * (1 + gate * (1 - s))`.

    ```mlir
    %dg, %du = llama.swiglu_grad %gate, %up, %dy : tensor<4x8x172xf32>
    ```
  }];
  let arguments = (ins Llama_FloatTensor:$gate, Llama_FloatTensor:$up,
                       Llama_FloatTensor:$dy);
  let results = (outs Llama_FloatTensor:$dgate, Llama_FloatTensor:$dup);
  let assemblyFormat = [{
    $gate `,` $up `,` $dy attr-dict `:` type($dgate)
  }];
}

def Llama_CrossEntropyGradOp : Llama_Op<"cross_entropy_grad",
    [Pure, AllTypesMatch<["logits", "dlogits"]>]> {
  let summary = "Gradient of cross_entropy with respect to the logits";
  let description = [{
    `dlogits = dloss * mask / sum(mask) * (softmax(logits) - onehot(target))`
    row by row; masked rows get exactly zero.

    ```mlir
    %dlogits = llama.cross_entropy_grad %logits, %targets, %mask, %dloss
        : (tensor<4x8x512xf32>, tensor<4x8xi32>, tensor<4x8xf32>, tensor<f32>)
        -> tensor<4x8x512xf32>
    ```
  }];
  let arguments = (ins Llama_FloatTensor:$logits, Llama_IdTensor:$targets,
                       Llama_FloatTensor:$mask, Llama_LossTensor:$dloss);
  let results = (outs Llama_FloatTensor:$dlogits);
  let assemblyFormat = [{
    $logits `,` $targets `,` $mask `,` $dloss attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Llama_GatherRowsGradOp : Llama_Op<"gather_rows_grad", [Pure]> {
  let summary = "Gradient of gather_rows: each row back at its position";
  let description = [{
    `result[n, t, :] = dy[n, :]` where `t = index[n]`, zero elsewhere; the
    result has gather_rows' input type.

    ```mlir
    %dh = llama.gather_rows_grad %dlast[%ends]
        : (tensor<8x288xf32>, tensor<8xi32>) -> tensor<8x64x288xf32>
    ```
  }];
  let arguments = (ins Llama_FloatTensor:$dy, Llama_IdTensor:$index);
  let results = (outs Llama_FloatTensor:$dinput);
  let assemblyFormat = [{
    $dy `[` $index `]` attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Llama_RankingLossGradOp : Llama_Op<"ranking_loss_grad",
    [Pure, AllTypesMatch<["rewards", "drewards"]>]> {
  let summary = "Gradient of ranking_loss with respect to the rewards";
  let description = [{
    With `d` as in ranking_loss and `s = sigmoid(-d)`, per pair
    `d r_chosen = dloss / P * (-s + 2 center (r_chosen + r_rejected))` and
    `d r_rejected = dloss / P * (s + 2 center (r_chosen + r_rejected))`, laid
    out like `rewards`.

    ```mlir
    %drewards = llama.ranking_loss_grad %rewards, %margins, %dloss
        {center = 0.0} : (tensor<8xf32>, tensor<4xf32>, tensor<f32>)
        -> tensor<8xf32>
    ```
  }];
  let arguments = (ins 1DTensorOf<[F32]>:$rewards, 1DTensorOf<[F32]>:$margins,
                       Llama_LossTensor:$dloss, F64Attr:$center);
  let results = (outs 1DTensorOf<[F32]>:$drewards);
  let assemblyFormat = [{
    $rewards `,` $margins `,` $dloss attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Llama_TokenLogprobsGradOp : Llama_Op<"token_logprobs_grad",
    [Pure, AllTypesMatch<["logits", "dlogits"]>]> {
  let summary = "Gradient of token_logprobs with respect to the logits";
  let description = [{
    `dlogits = dy / T * (onehot(token) - softmax(logits / T))` row by row.

    ```mlir
    %dlogits = llama.token_logprobs_grad %logits[%targets], %temperature, %dlp
        : (tensor<4x63x512xf32>, tensor<4x63xi32>, f32, tensor<4x63xf32>)
        -> tensor<4x63x512xf32>
    ```
  }];
  let arguments = (ins Llama_FloatTensor:$logits, Llama_IdTensor:$tokens,
                       F32:$temperature, RankedTensorOf<[F32]>:$dy);
  let results = (outs Llama_FloatTensor:$dlogits);
  let assemblyFormat = [{
    $logits `[` $tokens `]` `,` $temperature `,` $dy attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Llama_PPOPolicyLossGradOp : Llama_Op<"ppo_policy_loss_grad",
    [Pure, AllTypesMatch<["logprobs", "old_logprobs", "advantages", "mask",
                          "dlogprobs"]>]> {
  let summary = "Gradient of ppo_policy_loss with respect to the logprobs";
  let description = [{
    `dloss * mask / sum(mask) * (-A * r)` where the unclipped branch is the
    larger (`-A * r >= -A * clamp(r, 1 - clip, 1 + clip)`), 0 where the
    clipped one is: there the clamp is flat.

    ```mlir
    %dlp = llama.ppo_policy_loss_grad %lp, %old, %adv, %mask, %clip, %dloss
        : (tensor<4x63xf32>, tensor<4x63xf32>, tensor<4x63xf32>,
           tensor<4x63xf32>, f32, tensor<f32>) -> tensor<4x63xf32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[F32]>:$logprobs,
                       RankedTensorOf<[F32]>:$old_logprobs,
                       RankedTensorOf<[F32]>:$advantages,
                       RankedTensorOf<[F32]>:$mask, F32:$clip,
                       Llama_LossTensor:$dloss);
  let results = (outs RankedTensorOf<[F32]>:$dlogprobs);
  let assemblyFormat = [{
    $logprobs `,` $old_logprobs `,` $advantages `,` $mask `,` $clip `,` $dloss
    attr-dict `:` functional-type(operands, results)
  }];
}

def Llama_PPOValueLossGradOp : Llama_Op<"ppo_value_loss_grad",
    [Pure, AllTypesMatch<["values", "old_values", "returns", "mask",
                          "dvalues"]>]> {
  let summary = "Gradient of ppo_value_loss with respect to the values";
  let description = [{
    `dloss * mask / sum(mask) * (values - returns)` where the unclipped
    error is the larger, 0 where the clipped one is.

    ```mlir
    %dv = llama.ppo_value_loss_grad %v, %old, %returns, %mask, %clip, %dloss
        : (tensor<4x63xf32>, tensor<4x63xf32>, tensor<4x63xf32>,
           tensor<4x63xf32>, f32, tensor<f32>) -> tensor<4x63xf32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[F32]>:$values,
                       RankedTensorOf<[F32]>:$old_values,
                       RankedTensorOf<[F32]>:$returns,
                       RankedTensorOf<[F32]>:$mask, F32:$clip,
                       Llama_LossTensor:$dloss);
  let results = (outs RankedTensorOf<[F32]>:$dvalues);
  let assemblyFormat = [{
    $values `,` $old_values `,` $returns `,` $mask `,` $clip `,` $dloss
    attr-dict `:` functional-type(operands, results)
  }];
}

//===----------------------------------------------------------------------===//
// Optimizer
//===----------------------------------------------------------------------===//

def Llama_GlobalNormOp : Llama_Op<"global_norm", [Pure]> {
  let summary = "L2 norm of all the given tensors together";
  let description = [{
    `sqrt(sum over every element of every operand of x²)`, in f32: the norm
    that gradient clipping compares with its maximum.

    ```mlir
    %norm = llama.global_norm %dw0, %dw1
        : tensor<64x64xf32>, tensor<64xf32> -> tensor<f32>
    ```
  }];
  let arguments = (ins Variadic<Llama_FloatTensor>:$tensors);
  let results = (outs Llama_LossTensor:$norm);
  let assemblyFormat = [{
    $tensors attr-dict `:` type($tensors) `->` type($norm)
  }];
  let hasVerifier = 1;
}

def Llama_AdamWOp : Llama_Op<"adamw",
    [Pure, AllTypesMatch<["param", "grad", "m", "v", "new_param", "new_m",
                          "new_v"]>]> {
  let summary = "One clipped AdamW update of a parameter, in one pass";
  let description = [{
    torch.optim.AdamW after torch.nn.utils.clip_grad_norm_, fused into one
    pass over the parameter and its state. `step_params` is
    `[learning rate, step]` (step counts from 1), `grad_norm` the global
    norm of all gradients:

    ```
    g  = grad * min(1, max_grad_norm / (grad_norm + 1e-6))
    p  = param * (1 - lr * weight_decay)
    m' = m + (1 - beta1) * (g - m)
    v' = v * beta2 + (1 - beta2) * g * g
    p' = p - lr / (1 - beta1^step) * m' / (sqrt(v') / sqrt(1 - beta2^step) + eps)
    ```

    ```mlir
    %p2, %m2, %v2 = llama.adamw %p, %g, %m, %v, %step, %norm
        {beta1 = 0.9, beta2 = 0.95, eps = 1.0e-5, weight_decay = 0.1,
         max_grad_norm = 1.0}
        : tensor<64x64xf32>, tensor<2xf32>, tensor<f32>
    ```
  }];
  let arguments = (ins Llama_FloatTensor:$param, Llama_FloatTensor:$grad,
                       Llama_FloatTensor:$m, Llama_FloatTensor:$v,
                       1DTensorOf<[F32]>:$step_params, Llama_LossTensor:$grad_norm,
                       F64Attr:$beta1, F64Attr:$beta2, F64Attr:$eps,
                       F64Attr:$weight_decay, F64Attr:$max_grad_norm);
  let results = (outs Llama_FloatTensor:$new_param, Llama_FloatTensor:$new_m,
                      Llama_FloatTensor:$new_v);
  let assemblyFormat = [{
    $param `,` $grad `,` $m `,` $v `,` $step_params `,` $grad_norm attr-dict
    `:` type($param) `,` type($step_params) `,` type($grad_norm)
  }];
  let hasVerifier = 1;
}

#endif // LLAMA_OPS_TD
