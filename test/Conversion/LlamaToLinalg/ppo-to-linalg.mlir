// RUN: llama-opt %s --convert-llama-to-linalg --split-input-file | FileCheck %s

// PPO's ops (their numerics are checked against an fp64 torch restatement of
// TRL's PPOTrainer in test/e2e/ppo.test).

// Tests that token_logprobs scales the logits by 1 / T inside the row max and
// the f64 sum of exponentials, and reads the token's logit in place: no
// [..., vocab] log-softmax is stored.
// CHECK-LABEL: func.func @token_logprobs
// CHECK-SAME: (%[[L:.*]]: tensor<2x8x100xf32>, %[[IDS:.*]]: tensor<2x8xi32>, %[[T:.*]]: f32)
// CHECK: %[[S:.*]] = arith.divf %{{.*}}, %[[T]] : f32
// CHECK: linalg.generic {{.*}}["parallel", "parallel", "reduction"]{{.*}} ins(%[[L]] : tensor<2x8x100xf32>) outs(%{{.*}} : tensor<2x8xf32>)
// CHECK: arith.mulf %{{.*}}, %[[S]] : f32
// CHECK: arith.maximumf
// CHECK: linalg.generic {{.*}}["parallel", "parallel", "reduction"]{{.*}} outs(%{{.*}} : tensor<2x8xf64>)
// CHECK: math.exp
// CHECK: arith.addf {{.*}} fastmath<reassoc> : f64
// CHECK-NOT: tensor<2x8x100xf32>
// CHECK: linalg.generic {{.*}} ins(%[[IDS]], {{.*}}) outs(%{{.*}} : tensor<2x8xf32>)
// CHECK: %[[TOKEN:.*]] = arith.index_cast
// CHECK: tensor.extract %[[L]][%{{.*}}, %{{.*}}, %[[TOKEN]]]
// CHECK: math.log
func.func @token_logprobs(%l: tensor<2x8x100xf32>, %ids: tensor<2x8xi32>, %t: f32) -> tensor<2x8xf32> {
  %lp = llama.token_logprobs %l[%ids], %t : (tensor<2x8x100xf32>, tensor<2x8xi32>, f32) -> tensor<2x8xf32>
  return %lp : tensor<2x8xf32>
}

// -----

// Tests that the entropy sums exp(z - max) * (z - max) per row in f64.
// CHECK-LABEL: func.func @token_entropy
// CHECK: linalg.generic {{.*}}["parallel", "parallel", "reduction"]{{.*}} outs(%{{.*}} : tensor<2x8xf64>)
// CHECK: %[[SHIFTED:.*]] = arith.subf
// CHECK: %[[E:.*]] = math.exp %[[SHIFTED]]
// CHECK: arith.mulf %[[E]], %[[SHIFTED]]
// CHECK: linalg.generic
// CHECK: math.log
func.func @token_entropy(%l: tensor<2x8x100xf32>, %t: f32) -> tensor<2x8xf32> {
  %h = llama.token_entropy %l, %t : (tensor<2x8x100xf32>, f32) -> tensor<2x8xf32>
  return %h : tensor<2x8xf32>
}

// -----

// Tests that the gradient is (-dy / T) * (softmax(logits / T) - onehot) over
// the vocabulary: the row weight first, then one pass over the logits.
// CHECK-LABEL: func.func @token_logprobs_grad
// CHECK-SAME: %[[DY:[^:]*]]: tensor<2x8xf32>)
// CHECK: %[[S:.*]] = arith.divf %{{.*}}, %{{.*}} : f32
// CHECK: %[[W:.*]] = linalg.generic {{.*}} ins(%[[DY]] : tensor<2x8xf32>)
// CHECK: arith.mulf %{{.*}}, %[[S]]
// CHECK: arith.negf
// CHECK: linalg.generic {{.*}}["parallel", "parallel", "parallel"]{{.*}} ins({{.*}}, %[[W]] : {{.*}}) outs(%{{.*}} : tensor<2x8x100xf32>)
// CHECK: %[[V:.*]] = linalg.index 2
// CHECK: arith.cmpi eq, %[[V]]
// CHECK: arith.mulf %{{.*}}, %[[S]]
// CHECK: %[[P:.*]] = arith.divf
// CHECK: %[[ONEHOT:.*]] = arith.select
// CHECK: %[[DIFF:.*]] = arith.subf %[[P]], %[[ONEHOT]]
// CHECK: arith.mulf %{{.*}}, %[[DIFF]]
func.func @token_logprobs_grad(%l: tensor<2x8x100xf32>, %ids: tensor<2x8xi32>, %t: f32, %dy: tensor<2x8xf32>) -> tensor<2x8x100xf32> {
  %d = llama.token_logprobs_grad %l[%ids], %t, %dy : (tensor<2x8x100xf32>, tensor<2x8xi32>, f32, tensor<2x8xf32>) -> tensor<2x8x100xf32>
  return %d : tensor<2x8x100xf32>
}

// -----

// Tests the clipped surrogate: r = exp(lp - old) clamped to [1 - c, 1 + c],
// the larger of -A r and -A clamp(r) under the mask; the clipped branch
// counted where it is strictly larger; sums in f64 divided by sum(mask).
// CHECK-LABEL: func.func @ppo_policy_loss
// CHECK-SAME: %[[C:[^:]*]]: f32)
// CHECK: %[[D:.*]] = arith.subf %{{.*}}, %{{.*}} : f32
// CHECK: %[[R:.*]] = math.exp %[[D]]
// CHECK: %[[LO:.*]] = arith.subf %{{.*}}, %[[C]]
// CHECK: %[[UP:.*]] = arith.maximumf %[[R]], %[[LO]]
// CHECK: %[[HI:.*]] = arith.addf %{{.*}}, %[[C]]
// CHECK: %[[CL:.*]] = arith.minimumf %[[UP]], %[[HI]]
// CHECK: %[[NA:.*]] = arith.negf
// CHECK: %[[U:.*]] = arith.mulf %[[NA]], %[[R]]
// CHECK: %[[K:.*]] = arith.mulf %[[NA]], %[[CL]]
// CHECK: %[[M:.*]] = arith.maximumf %[[U]], %[[K]]
// CHECK: arith.mulf %{{.*}}, %[[M]]
// CHECK: arith.cmpf ogt
// CHECK: arith.extf %{{.*}} : f32 to f64
// CHECK: arith.divf %{{.*}}, %{{.*}} : f64
func.func @ppo_policy_loss(%lp: tensor<2x8xf32>, %old: tensor<2x8xf32>, %a: tensor<2x8xf32>, %m: tensor<2x8xf32>, %c: f32) -> (tensor<f32>, tensor<f32>, tensor<f32>) {
  %pl:3 = llama.ppo_policy_loss %lp, %old, %a, %m, %c : (tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, f32) -> (tensor<f32>, tensor<f32>, tensor<f32>)
  return %pl#0, %pl#1, %pl#2 : tensor<f32>, tensor<f32>, tensor<f32>
}

// -----

// Tests that the policy gradient is -A r where the unclipped branch wins (or
// ties), else 0, weighted by mask * dloss / sum(mask).
// CHECK-LABEL: func.func @ppo_policy_loss_grad
// CHECK: %[[U:.*]] = arith.mulf %{{.*}}, %{{.*}} : f32
// CHECK: %[[K:.*]] = arith.mulf %{{.*}}, %{{.*}} : f32
// CHECK: %[[WINS:.*]] = arith.cmpf oge, %[[U]], %[[K]]
// CHECK: %[[SLOPE:.*]] = arith.select %[[WINS]], %[[U]], %{{.*}} : f32
// CHECK: %[[W:.*]] = arith.divf
// CHECK: arith.mulf %[[W]], %[[SLOPE]]
func.func @ppo_policy_loss_grad(%lp: tensor<2x8xf32>, %old: tensor<2x8xf32>, %a: tensor<2x8xf32>, %m: tensor<2x8xf32>, %c: f32, %dl: tensor<f32>) -> tensor<2x8xf32> {
  %d = llama.ppo_policy_loss_grad %lp, %old, %a, %m, %c, %dl : (tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, f32, tensor<f32>) -> tensor<2x8xf32>
  return %d : tensor<2x8xf32>
}

// -----

// Tests the clipped value loss: old + clamp(v - old, -c, c), the larger half
// squared error, and the gradient v - R where the unclipped error wins.
// CHECK-LABEL: func.func @ppo_value_loss
// CHECK-SAME: %[[C:[^:]*]]: f32)
// CHECK: %[[CHANGE:.*]] = arith.subf
// CHECK: %[[NC:.*]] = arith.negf %[[C]]
// CHECK: %[[UP:.*]] = arith.maximumf %[[CHANGE]], %[[NC]]
// CHECK: %[[B:.*]] = arith.minimumf %[[UP]], %[[C]]
// CHECK: arith.addf %{{.*}}, %[[B]]
// CHECK: arith.maximumf
// CHECK-LABEL: func.func @ppo_value_loss_grad
// CHECK: %[[WINS:.*]] = arith.cmpf oge
// CHECK: arith.select %[[WINS]]
func.func @ppo_value_loss(%v: tensor<2x8xf32>, %old: tensor<2x8xf32>, %r: tensor<2x8xf32>, %m: tensor<2x8xf32>, %c: f32) -> (tensor<f32>, tensor<f32>) {
  %vl:2 = llama.ppo_value_loss %v, %old, %r, %m, %c : (tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, f32) -> (tensor<f32>, tensor<f32>)
  return %vl#0, %vl#1 : tensor<f32>, tensor<f32>
}
func.func @ppo_value_loss_grad(%v: tensor<2x8xf32>, %old: tensor<2x8xf32>, %r: tensor<2x8xf32>, %m: tensor<2x8xf32>, %c: f32, %dl: tensor<f32>) -> tensor<2x8xf32> {
  %d = llama.ppo_value_loss_grad %v, %old, %r, %m, %c, %dl : (tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, f32, tensor<f32>) -> tensor<2x8xf32>
  return %d : tensor<2x8xf32>
}
