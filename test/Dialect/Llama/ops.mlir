// RUN: llama-opt %s | FileCheck %s
// Printing and parsing again must give the same text.
// RUN: llama-opt %s | llama-opt | FileCheck %s
// The generic form round-trips too.
// RUN: llama-opt %s --mlir-print-op-generic | llama-opt | FileCheck %s

// Tests that embedding prints its table[tokens] form, including a bf16 table
// feeding f32 activations and batched token ids.
// CHECK-LABEL: func.func @embedding
// CHECK-SAME: (%[[TABLE:.*]]: tensor<100x64xbf16>, %[[TOKENS:.*]]: tensor<?xi32>, %[[BATCH:.*]]: tensor<2x8xi64>)
// CHECK: %{{.*}} = llama.embedding %[[TABLE]][%[[TOKENS]]] : (tensor<100x64xbf16>, tensor<?xi32>) -> tensor<?x64xf32>
// CHECK: %{{.*}} = llama.embedding %[[TABLE]][%[[BATCH]]] : (tensor<100x64xbf16>, tensor<2x8xi64>) -> tensor<2x8x64xf16>
func.func @embedding(%table: tensor<100x64xbf16>, %tokens: tensor<?xi32>,
                     %batch: tensor<2x8xi64>) -> (tensor<?x64xf32>, tensor<2x8x64xf16>) {
  %0 = llama.embedding %table[%tokens] : (tensor<100x64xbf16>, tensor<?xi32>) -> tensor<?x64xf32>
  %1 = llama.embedding %table[%batch] : (tensor<100x64xbf16>, tensor<2x8xi64>) -> tensor<2x8x64xf16>
  return %0, %1 : tensor<?x64xf32>, tensor<2x8x64xf16>
}

// Tests that rms_norm keeps its epsilon exactly.
// CHECK-LABEL: func.func @rms_norm
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[W:.*]]: tensor<64xf32>)
// CHECK: llama.rms_norm %[[X]], %[[W]] eps(1.000000e-05) : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
// CHECK: llama.rms_norm %[[X]], %[[W]] eps(9.9999999999999995E-7)
func.func @rms_norm(%x: tensor<?x64xf32>, %w: tensor<64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  %0 = llama.rms_norm %x, %w eps(1.0e-05) : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  %1 = llama.rms_norm %x, %w eps(1.0e-06) : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  return %0, %1 : tensor<?x64xf32>, tensor<?x64xf32>
}

// Tests linear with f32 and with bf16 weights under f32 activations.
// CHECK-LABEL: func.func @linear
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[W:.*]]: tensor<172x64xf32>, %[[WB:.*]]: tensor<32x64xbf16>)
// CHECK: llama.linear %[[X]], %[[W]] : (tensor<?x64xf32>, tensor<172x64xf32>) -> tensor<?x172xf32>
// CHECK: llama.linear %[[X]], %[[WB]] : (tensor<?x64xf32>, tensor<32x64xbf16>) -> tensor<?x32xf32>
func.func @linear(%x: tensor<?x64xf32>, %w: tensor<172x64xf32>, %wb: tensor<32x64xbf16>)
    -> (tensor<?x172xf32>, tensor<?x32xf32>) {
  %0 = llama.linear %x, %w : (tensor<?x64xf32>, tensor<172x64xf32>) -> tensor<?x172xf32>
  %1 = llama.linear %x, %wb : (tensor<?x64xf32>, tensor<32x64xbf16>) -> tensor<?x32xf32>
  return %0, %1 : tensor<?x172xf32>, tensor<?x32xf32>
}

// Tests linear with a residual (residual + x . w^T).
// CHECK-LABEL: func.func @linear_residual
// CHECK: llama.linear %{{.*}}, %{{.*}} residual(%{{.*}}) : (tensor<?x64xf32>, tensor<64x64xbf16>, tensor<?x64xf32>) -> tensor<?x64xf32>
func.func @linear_residual(%x: tensor<?x64xf32>, %w: tensor<64x64xbf16>, %r: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %0 = llama.linear %x, %w residual(%r) : (tensor<?x64xf32>, tensor<64x64xbf16>, tensor<?x64xf32>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// Tests the fused projections of one input (q, k, v with bf16 weights) and
// the fused gate/up/SwiGLU.
// CHECK-LABEL: func.func @fused_projections
// CHECK: %{{.*}}:3 = llama.projections %[[X:.*]], %{{.*}}, %{{.*}}, %{{.*}} : (tensor<?x64xf32>, tensor<64x64xbf16>, tensor<16x64xbf16>, tensor<16x64xbf16>) -> (tensor<?x64xf32>, tensor<?x16xf32>, tensor<?x16xf32>)
// CHECK: llama.swiglu_projection %[[X]], %{{.*}}, %{{.*}} : (tensor<?x64xf32>, tensor<172x64xf32>, tensor<172x64xf32>) -> tensor<?x172xf32>
func.func @fused_projections(%x: tensor<?x64xf32>, %wq: tensor<64x64xbf16>, %wk: tensor<16x64xbf16>,
                             %wv: tensor<16x64xbf16>, %wg: tensor<172x64xf32>, %wu: tensor<172x64xf32>)
    -> (tensor<?x64xf32>, tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x172xf32>) {
  %q, %k, %v = llama.projections %x, %wq, %wk, %wv
      : (tensor<?x64xf32>, tensor<64x64xbf16>, tensor<16x64xbf16>, tensor<16x64xbf16>)
        -> (tensor<?x64xf32>, tensor<?x16xf32>, tensor<?x16xf32>)
  %h = llama.swiglu_projection %x, %wg, %wu
      : (tensor<?x64xf32>, tensor<172x64xf32>, tensor<172x64xf32>) -> tensor<?x172xf32>
  return %q, %k, %v, %h : tensor<?x64xf32>, tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x172xf32>
}

// Tests the elementwise feed-forward gate and the residual add.
// CHECK-LABEL: func.func @swiglu_add
// CHECK-SAME: (%[[G:.*]]: tensor<?x172xbf16>, %[[U:.*]]: tensor<?x172xbf16>)
// CHECK: %[[H:.*]] = llama.swiglu %[[G]], %[[U]] : tensor<?x172xbf16>
// CHECK: llama.add %[[H]], %[[G]] : tensor<?x172xbf16>
func.func @swiglu_add(%gate: tensor<?x172xbf16>, %up: tensor<?x172xbf16>) -> tensor<?x172xbf16> {
  %h = llama.swiglu %gate, %up : tensor<?x172xbf16>
  %r = llama.add %h, %gate : tensor<?x172xbf16>
  return %r : tensor<?x172xbf16>
}

// Tests rope with per-token positions and with a batch of position rows.
// CHECK-LABEL: func.func @rope
// CHECK-SAME: (%[[Q:.*]]: tensor<?x4x16xf16>, %[[P:.*]]: tensor<?xi32>, %[[QB:.*]]: tensor<2x8x4x16xf32>, %[[PB:.*]]: tensor<2x8xi64>)
// CHECK: llama.rope %[[Q]], %[[P]] theta(1.000000e+04) : (tensor<?x4x16xf16>, tensor<?xi32>) -> tensor<?x4x16xf16>
// CHECK: llama.rope %[[QB]], %[[PB]] theta(5.000000e+05) : (tensor<2x8x4x16xf32>, tensor<2x8xi64>) -> tensor<2x8x4x16xf32>
func.func @rope(%q: tensor<?x4x16xf16>, %pos: tensor<?xi32>,
                %qb: tensor<2x8x4x16xf32>, %posb: tensor<2x8xi64>)
    -> (tensor<?x4x16xf16>, tensor<2x8x4x16xf32>) {
  %0 = llama.rope %q, %pos theta(10000.0) : (tensor<?x4x16xf16>, tensor<?xi32>) -> tensor<?x4x16xf16>
  %1 = llama.rope %qb, %posb theta(500000.0) : (tensor<2x8x4x16xf32>, tensor<2x8xi64>) -> tensor<2x8x4x16xf32>
  return %0, %1 : tensor<?x4x16xf16>, tensor<2x8x4x16xf32>
}

// Tests causal attention in its multi-head, grouped-query and multi-query
// forms, batched and not.
// CHECK-LABEL: func.func @attention
// CHECK-SAME: (%[[Q:.*]]: tensor<?x8x16xf32>, %[[KM:.*]]: tensor<?x8x16xf32>, %[[KG:.*]]: tensor<?x2x16xf32>, %[[KQ:.*]]: tensor<?x1x16xf32>, %[[QB:.*]]: tensor<3x5x8x16xf32>, %[[KB:.*]]: tensor<3x5x4x16xf32>)
// CHECK: llama.attention %[[Q]], %[[KM]], %[[KM]] scale(2.500000e-01) : (tensor<?x8x16xf32>, tensor<?x8x16xf32>, tensor<?x8x16xf32>) -> tensor<?x8x16xf32>
// CHECK: llama.attention %[[Q]], %[[KG]], %[[KG]] scale(2.500000e-01) : (tensor<?x8x16xf32>, tensor<?x2x16xf32>, tensor<?x2x16xf32>) -> tensor<?x8x16xf32>
// CHECK: llama.attention %[[Q]], %[[KQ]], %[[KQ]] scale(2.500000e-01) : (tensor<?x8x16xf32>, tensor<?x1x16xf32>, tensor<?x1x16xf32>) -> tensor<?x8x16xf32>
// CHECK: llama.attention %[[QB]], %[[KB]], %[[KB]] scale(1.250000e-01) : (tensor<3x5x8x16xf32>, tensor<3x5x4x16xf32>, tensor<3x5x4x16xf32>) -> tensor<3x5x8x16xf32>
func.func @attention(%q: tensor<?x8x16xf32>, %k_mha: tensor<?x8x16xf32>,
                     %k_gqa: tensor<?x2x16xf32>, %k_mqa: tensor<?x1x16xf32>,
                     %qb: tensor<3x5x8x16xf32>, %kb: tensor<3x5x4x16xf32>)
    -> (tensor<?x8x16xf32>, tensor<?x8x16xf32>, tensor<?x8x16xf32>, tensor<3x5x8x16xf32>) {
  %0 = llama.attention %q, %k_mha, %k_mha scale(0.25) : (tensor<?x8x16xf32>, tensor<?x8x16xf32>, tensor<?x8x16xf32>) -> tensor<?x8x16xf32>
  %1 = llama.attention %q, %k_gqa, %k_gqa scale(0.25) : (tensor<?x8x16xf32>, tensor<?x2x16xf32>, tensor<?x2x16xf32>) -> tensor<?x8x16xf32>
  %2 = llama.attention %q, %k_mqa, %k_mqa scale(0.25) : (tensor<?x8x16xf32>, tensor<?x1x16xf32>, tensor<?x1x16xf32>) -> tensor<?x8x16xf32>
  %3 = llama.attention %qb, %kb, %kb scale(0.125) : (tensor<3x5x8x16xf32>, tensor<3x5x4x16xf32>, tensor<3x5x4x16xf32>) -> tensor<3x5x8x16xf32>
  return %0, %1, %2, %3 : tensor<?x8x16xf32>, tensor<?x8x16xf32>, tensor<?x8x16xf32>, tensor<3x5x8x16xf32>
}

// Tests the KV-cache attention of prefill (dynamic seq, index position) and
// decode (one token, i64 position).
// CHECK-LABEL: func.func @cached_attention
// CHECK-SAME: (%[[Q:.*]]: tensor<?x8x16xf32>, %[[K:.*]]: tensor<?x2x16xf32>, %[[V:.*]]: tensor<?x2x16xf32>, %[[KC:.*]]: tensor<128x2x16xf32>, %[[VC:.*]]: tensor<128x2x16xf32>, %[[POS:.*]]: index, %[[Q1:.*]]: tensor<1x8x16xf32>, %[[K1:.*]]: tensor<1x2x16xf32>, %[[POS1:.*]]: i64)
// CHECK: %[[O:.*]], %[[KC2:.*]], %[[VC2:.*]] = llama.cached_attention %[[Q]], %[[K]], %[[V]] cache(%[[KC]], %[[VC]]) at %[[POS]] scale(2.500000e-01) : (tensor<?x8x16xf32>, tensor<?x2x16xf32>, tensor<?x2x16xf32>, tensor<128x2x16xf32>, tensor<128x2x16xf32>, index) -> (tensor<?x8x16xf32>, tensor<128x2x16xf32>, tensor<128x2x16xf32>)
// CHECK: llama.cached_attention %[[Q1]], %[[K1]], %[[K1]] cache(%[[KC2]], %[[VC2]]) at %[[POS1]] scale(2.500000e-01) : (tensor<1x8x16xf32>, tensor<1x2x16xf32>, tensor<1x2x16xf32>, tensor<128x2x16xf32>, tensor<128x2x16xf32>, i64) -> (tensor<1x8x16xf32>, tensor<128x2x16xf32>, tensor<128x2x16xf32>)
func.func @cached_attention(%q: tensor<?x8x16xf32>, %k: tensor<?x2x16xf32>, %v: tensor<?x2x16xf32>,
                            %kc: tensor<128x2x16xf32>, %vc: tensor<128x2x16xf32>, %pos: index,
                            %q1: tensor<1x8x16xf32>, %k1: tensor<1x2x16xf32>, %pos1: i64)
    -> (tensor<?x8x16xf32>, tensor<1x8x16xf32>, tensor<128x2x16xf32>, tensor<128x2x16xf32>) {
  %o, %kc2, %vc2 = llama.cached_attention %q, %k, %v cache(%kc, %vc) at %pos scale(0.25)
      : (tensor<?x8x16xf32>, tensor<?x2x16xf32>, tensor<?x2x16xf32>, tensor<128x2x16xf32>, tensor<128x2x16xf32>, index)
      -> (tensor<?x8x16xf32>, tensor<128x2x16xf32>, tensor<128x2x16xf32>)
  %o1, %kc3, %vc3 = llama.cached_attention %q1, %k1, %k1 cache(%kc2, %vc2) at %pos1 scale(0.25)
      : (tensor<1x8x16xf32>, tensor<1x2x16xf32>, tensor<1x2x16xf32>, tensor<128x2x16xf32>, tensor<128x2x16xf32>, i64)
      -> (tensor<1x8x16xf32>, tensor<128x2x16xf32>, tensor<128x2x16xf32>)
  return %o, %o1, %kc3, %vc3 : tensor<?x8x16xf32>, tensor<1x8x16xf32>, tensor<128x2x16xf32>, tensor<128x2x16xf32>
}

// Tests the masked next-token loss over a batch.
// CHECK-LABEL: func.func @cross_entropy
// CHECK-SAME: (%[[L:.*]]: tensor<2x8x100xf32>, %[[T:.*]]: tensor<2x8xi32>, %[[M:.*]]: tensor<2x8xf32>)
// CHECK: llama.cross_entropy %[[L]], %[[T]], %[[M]] : (tensor<2x8x100xf32>, tensor<2x8xi32>, tensor<2x8xf32>) -> tensor<f32>
func.func @cross_entropy(%logits: tensor<2x8x100xf32>, %targets: tensor<2x8xi32>,
                         %mask: tensor<2x8xf32>) -> tensor<f32> {
  %loss = llama.cross_entropy %logits, %targets, %mask : (tensor<2x8x100xf32>, tensor<2x8xi32>, tensor<2x8xf32>) -> tensor<f32>
  return %loss : tensor<f32>
}

// Tests the gradient ops' custom forms.
// CHECK-LABEL: func.func @gradients
// CHECK: llama.embedding_grad %{{.*}}, %{{.*}} : (tensor<2x8xi32>, tensor<2x8x64xf32>) -> tensor<100x64xf32>
// CHECK: llama.rms_norm_grad %{{.*}}, %{{.*}}, %{{.*}} eps(1.000000e-05) : (tensor<2x8x64xf32>, tensor<64xf32>, tensor<2x8x64xf32>) -> (tensor<2x8x64xf32>, tensor<64xf32>)
// CHECK: llama.linear_grad %{{.*}}, %{{.*}}, %{{.*}} : (tensor<2x8x64xf32>, tensor<172x64xf32>, tensor<2x8x172xf32>) -> (tensor<2x8x64xf32>, tensor<172x64xf32>)
// CHECK: llama.rope_grad %{{.*}}, %{{.*}} theta(1.000000e+04) : (tensor<2x8x4x16xf32>, tensor<8xi32>) -> tensor<2x8x4x16xf32>
// CHECK: llama.attention_grad %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} scale(2.500000e-01) : (tensor<2x8x4x16xf32>, tensor<2x8x2x16xf32>, tensor<2x8x2x16xf32>, tensor<2x8x4x16xf32>) -> (tensor<2x8x4x16xf32>, tensor<2x8x2x16xf32>, tensor<2x8x2x16xf32>)
// CHECK: llama.swiglu_grad %{{.*}}, %{{.*}}, %{{.*}} : tensor<2x8x172xf32>
// CHECK: llama.cross_entropy_grad %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : (tensor<2x8x100xf32>, tensor<2x8xi32>, tensor<2x8xf32>, tensor<f32>) -> tensor<2x8x100xf32>
func.func @gradients(%ids: tensor<2x8xi32>, %x: tensor<2x8x64xf32>, %g: tensor<64xf32>,
                     %w: tensor<172x64xf32>, %dh: tensor<2x8x172xf32>, %q: tensor<2x8x4x16xf32>,
                     %k: tensor<2x8x2x16xf32>, %pos: tensor<8xi32>, %l: tensor<2x8x100xf32>,
                     %m: tensor<2x8xf32>, %dl: tensor<f32>) {
  %0 = llama.embedding_grad %ids, %x : (tensor<2x8xi32>, tensor<2x8x64xf32>) -> tensor<100x64xf32>
  %1:2 = llama.rms_norm_grad %x, %g, %x eps(1.0e-05) : (tensor<2x8x64xf32>, tensor<64xf32>, tensor<2x8x64xf32>) -> (tensor<2x8x64xf32>, tensor<64xf32>)
  %2:2 = llama.linear_grad %x, %w, %dh : (tensor<2x8x64xf32>, tensor<172x64xf32>, tensor<2x8x172xf32>) -> (tensor<2x8x64xf32>, tensor<172x64xf32>)
  %3 = llama.rope_grad %q, %pos theta(1.0e+04) : (tensor<2x8x4x16xf32>, tensor<8xi32>) -> tensor<2x8x4x16xf32>
  %4:3 = llama.attention_grad %q, %k, %k, %q scale(0.25) : (tensor<2x8x4x16xf32>, tensor<2x8x2x16xf32>, tensor<2x8x2x16xf32>, tensor<2x8x4x16xf32>) -> (tensor<2x8x4x16xf32>, tensor<2x8x2x16xf32>, tensor<2x8x2x16xf32>)
  %5:2 = llama.swiglu_grad %dh, %dh, %dh : tensor<2x8x172xf32>
  %6 = llama.cross_entropy_grad %l, %ids, %m, %dl : (tensor<2x8x100xf32>, tensor<2x8xi32>, tensor<2x8xf32>, tensor<f32>) -> tensor<2x8x100xf32>
  return
}

// Tests the optimizer ops' custom forms.
// CHECK-LABEL: func.func @optimizer
// CHECK: %[[N:.*]] = llama.global_norm %{{.*}}, %{{.*}} : tensor<8x4xf32>, tensor<4xf32> -> tensor<f32>
// CHECK: llama.adamw %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[N]] {beta1 = 9.000000e-01 : f64, beta2 = 0.94999999999999996 : f64, eps = 1.000000e-05 : f64, max_grad_norm = 1.000000e+00 : f64, weight_decay = 1.000000e-01 : f64} : tensor<8x4xf32>, tensor<2xf32>, tensor<f32>
func.func @optimizer(%p: tensor<8x4xf32>, %g: tensor<8x4xf32>, %b: tensor<4xf32>, %s: tensor<2xf32>)
    -> (tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>) {
  %n = llama.global_norm %g, %b : tensor<8x4xf32>, tensor<4xf32> -> tensor<f32>
  %p2, %m2, %v2 = llama.adamw %p, %g, %g, %g, %s, %n {beta1 = 0.9, beta2 = 0.95, eps = 1.0e-05, weight_decay = 0.1, max_grad_norm = 1.0} : tensor<8x4xf32>, tensor<2xf32>, tensor<f32>
  return %p2, %m2, %v2 : tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>
}

// Tests the reward model's ops: the score head's row per sequence, the
// ranking loss of pairs (chosen rewards, then rejected), and their gradients.
// CHECK-LABEL: func.func @reward
// CHECK: llama.gather_rows %{{.*}}[%{{.*}}] : (tensor<4x16x32xf32>, tensor<4xi32>) -> tensor<4x32xf32>
// CHECK: llama.gather_rows_grad %{{.*}}[%{{.*}}] : (tensor<4x32xf32>, tensor<4xi32>) -> tensor<4x16x32xf32>
// CHECK: llama.ranking_loss %{{.*}}, %{{.*}} {center = 1.000000e-02 : f64} : (tensor<4xf32>, tensor<2xf32>) -> tensor<f32>
// CHECK: llama.ranking_loss_grad %{{.*}}, %{{.*}}, %{{.*}} {center = 0.000000e+00 : f64} : (tensor<4xf32>, tensor<2xf32>, tensor<f32>) -> tensor<4xf32>
func.func @reward(%h: tensor<4x16x32xf32>, %ends: tensor<4xi32>, %r: tensor<4xf32>,
                  %m: tensor<2xf32>, %dl: tensor<f32>) {
  %last = llama.gather_rows %h[%ends] : (tensor<4x16x32xf32>, tensor<4xi32>) -> tensor<4x32xf32>
  %dh = llama.gather_rows_grad %last[%ends] : (tensor<4x32xf32>, tensor<4xi32>) -> tensor<4x16x32xf32>
  %loss = llama.ranking_loss %r, %m {center = 0.01} : (tensor<4xf32>, tensor<2xf32>) -> tensor<f32>
  %dr = llama.ranking_loss_grad %r, %m, %dl {center = 0.0} : (tensor<4xf32>, tensor<2xf32>, tensor<f32>) -> tensor<4xf32>
  return
}

// Tests PPO's ops: the sampled tokens' log-probabilities at a temperature,
// the entropy, the clipped policy and value losses with their statistics,
// and the gradients.
// CHECK-LABEL: func.func @ppo
// CHECK: llama.token_logprobs %{{.*}}[%{{.*}}], %{{.*}} : (tensor<2x8x100xf32>, tensor<2x8xi32>, f32) -> tensor<2x8xf32>
// CHECK: llama.token_entropy %{{.*}}, %{{.*}} : (tensor<2x8x100xf32>, f32) -> tensor<2x8xf32>
// CHECK: llama.token_logprobs_grad %{{.*}}[%{{.*}}], %{{.*}}, %{{.*}} : (tensor<2x8x100xf32>, tensor<2x8xi32>, f32, tensor<2x8xf32>) -> tensor<2x8x100xf32>
// CHECK: %loss, %clip_fraction, %approx_kl = llama.ppo_policy_loss %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : (tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, f32) -> (tensor<f32>, tensor<f32>, tensor<f32>)
// CHECK: llama.ppo_policy_loss_grad
// CHECK: %loss_0, %clip_fraction_1 = llama.ppo_value_loss %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : (tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, f32) -> (tensor<f32>, tensor<f32>)
// CHECK: llama.ppo_value_loss_grad
func.func @ppo(%l: tensor<2x8x100xf32>, %ids: tensor<2x8xi32>, %t: f32, %x: tensor<2x8xf32>,
               %m: tensor<2x8xf32>, %c: f32, %dl: tensor<f32>) {
  %lp = llama.token_logprobs %l[%ids], %t : (tensor<2x8x100xf32>, tensor<2x8xi32>, f32) -> tensor<2x8xf32>
  %h = llama.token_entropy %l, %t : (tensor<2x8x100xf32>, f32) -> tensor<2x8xf32>
  %dlogits = llama.token_logprobs_grad %l[%ids], %t, %lp : (tensor<2x8x100xf32>, tensor<2x8xi32>, f32, tensor<2x8xf32>) -> tensor<2x8x100xf32>
  %pl:3 = llama.ppo_policy_loss %lp, %x, %x, %m, %c : (tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, f32) -> (tensor<f32>, tensor<f32>, tensor<f32>)
  %dlp = llama.ppo_policy_loss_grad %lp, %x, %x, %m, %c, %dl : (tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, f32, tensor<f32>) -> tensor<2x8xf32>
  %vl:2 = llama.ppo_value_loss %x, %x, %x, %m, %c : (tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, f32) -> (tensor<f32>, tensor<f32>)
  %dv = llama.ppo_value_loss_grad %x, %x, %x, %m, %c, %dl : (tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, f32, tensor<f32>) -> tensor<2x8xf32>
  return
}
