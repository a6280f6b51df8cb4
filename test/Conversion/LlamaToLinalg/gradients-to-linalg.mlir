// RUN: llama-opt %s --convert-llama-to-linalg --split-input-file | FileCheck %s

// The gradient and optimizer ops' lowerings (their numerics are checked
// against torch in test/e2e/grad-ops.test and optimizer-ops.test).

// Tests that the embedding gradient is a scatter: a loop over the tokens
// adding each dy row into the row of its id (not a [vocab x tokens]
// contraction).
// CHECK-LABEL: func.func @embedding_grad(
// CHECK-SAME: %[[IDS:.*]]: tensor<2x8xi32>, %[[DY:.*]]: tensor<2x8x64xf32>
// CHECK: %[[ZERO:.*]] = linalg.fill {{.*}} -> tensor<100x64xf32>
// CHECK: scf.for %[[I:.*]] = %{{.*}} to %c16 {{.*}} iter_args(%[[TABLE:.*]] = %[[ZERO]])
// CHECK: tensor.extract %{{.*}}[%[[I]]] : tensor<16xi32>
// CHECK: tensor.extract_slice %[[TABLE]][%{{.*}}, 0] [1, 64]
// CHECK: linalg.generic
// CHECK: arith.addf
// CHECK: tensor.insert_slice {{.*}} into %[[TABLE]]
func.func @embedding_grad(%ids: tensor<2x8xi32>, %dy: tensor<2x8x64xf32>) -> tensor<100x64xf32> {
  %0 = llama.embedding_grad %ids, %dy : (tensor<2x8xi32>, tensor<2x8x64xf32>) -> tensor<100x64xf32>
  return %0 : tensor<100x64xf32>
}

// -----

// Tests that the RMSNorm gradient recomputes the row scale (rsqrt of the mean
// square), reduces dy * g * x per row, and sums dy * x * scale over rows for
// the gain.
// CHECK-LABEL: func.func @rms_norm_grad(
// CHECK-SAME: %[[X:.*]]: tensor<2x8x64xf32>, %[[G:.*]]: tensor<64xf32>, %[[DY:.*]]: tensor<2x8x64xf32>
// CHECK: %[[SQ:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]{{.*}} ins(%[[X]] : {{.*}}) outs(%{{.*}} : tensor<2x8xf32>)
// CHECK: %[[SCALE:.*]] = linalg.generic {{.*}} ins(%[[SQ]] : tensor<2x8xf32>)
// CHECK: math.rsqrt
// CHECK: %[[DOT:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]{{.*}} ins(%[[DY]], %[[G]], %[[X]] : {{.*}}) outs(%{{.*}} : tensor<2x8xf32>)
// CHECK: %[[DX:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel"]{{.*}} ins(%[[DY]], %[[G]], %[[X]], %[[SCALE]], %[[DOT]] : {{.*}})
// CHECK: %[[DG:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "reduction", "reduction"]{{.*}} ins(%[[DY]], %[[X]], %[[SCALE]] : {{.*}}) outs(%{{.*}} : tensor<64xf32>)
// CHECK: return %[[DX]], %[[DG]]
func.func @rms_norm_grad(%x: tensor<2x8x64xf32>, %g: tensor<64xf32>, %dy: tensor<2x8x64xf32>) -> (tensor<2x8x64xf32>, tensor<64xf32>) {
  %0:2 = llama.rms_norm_grad %x, %g, %dy eps(1.0e-05) : (tensor<2x8x64xf32>, tensor<64xf32>, tensor<2x8x64xf32>) -> (tensor<2x8x64xf32>, tensor<64xf32>)
  return %0#0, %0#1 : tensor<2x8x64xf32>, tensor<64xf32>
}

// -----

// Tests that the linear gradient is two contractions: dx = dy w over the
// output features, dw = dyT x over every leading position, both with
// reassociable sums.
// CHECK-LABEL: func.func @linear_grad(
// CHECK-SAME: %[[X:.*]]: tensor<2x8x64xf32>, %[[W:.*]]: tensor<172x64xf32>, %[[DY:.*]]: tensor<2x8x172xf32>
// CHECK: %[[DX:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "reduction"]{{.*}} ins(%[[DY]], %[[W]] : {{.*}}) outs(%{{.*}} : tensor<2x8x64xf32>)
// CHECK: arith.addf {{.*}} fastmath<reassoc,contract>
// CHECK: %[[DW:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction", "reduction"]{{.*}} ins(%[[DY]], %[[X]] : {{.*}}) outs(%{{.*}} : tensor<172x64xf32>)
// CHECK: arith.addf {{.*}} fastmath<reassoc,contract>
// CHECK: return %[[DX]], %[[DW]]
func.func @linear_grad(%x: tensor<2x8x64xf32>, %w: tensor<172x64xf32>, %dy: tensor<2x8x172xf32>) -> (tensor<2x8x64xf32>, tensor<172x64xf32>) {
  %0:2 = llama.linear_grad %x, %w, %dy : (tensor<2x8x64xf32>, tensor<172x64xf32>, tensor<2x8x172xf32>) -> (tensor<2x8x64xf32>, tensor<172x64xf32>)
  return %0#0, %0#1 : tensor<2x8x64xf32>, tensor<172x64xf32>
}

// -----

// Tests that the RoPE gradient rotates dy by the opposite angles, from the
// compile-time inverse frequencies and the run-time positions.
// CHECK-LABEL: func.func @rope_grad(
// CHECK-SAME: %[[DY:.*]]: tensor<2x8x4x16xf32>, %[[POS:.*]]: tensor<8xi32>
// CHECK: %[[FREQ:.*]] = arith.constant dense<{{.*}}> : tensor<8xf32>
// CHECK: %[[TABLES:.*]]:2 = linalg.generic {{.*}} ins(%[[POS]] : tensor<8xi32>) outs(%{{.*}}, %{{.*}} : tensor<8x16xf32>, tensor<8x16xf32>)
// CHECK: tensor.extract %[[FREQ]]
// CHECK: math.cos
// CHECK: math.sin
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "parallel"]{{.*}} ins(%[[DY]], %[[TABLES]]#0, %[[TABLES]]#1 : {{.*}})
// CHECK: ^bb0(%{{.*}}: f32, %{{.*}}: f32, %[[SIN:.*]]: f32, %{{.*}}: f32):
// CHECK: arith.negf %[[SIN]]
// CHECK: tensor.extract %[[DY]]
func.func @rope_grad(%dy: tensor<2x8x4x16xf32>, %pos: tensor<8xi32>) -> tensor<2x8x4x16xf32> {
  %0 = llama.rope_grad %dy, %pos theta(1.0e+04) : (tensor<2x8x4x16xf32>, tensor<8xi32>) -> tensor<2x8x4x16xf32>
  return %0 : tensor<2x8x4x16xf32>
}

// -----

// Tests that the attention gradient groups the query heads over the kv heads
// and runs one fused loop nest per (batch, kv head) (serial loops: this one
// is too small for threads), which owns its keys' gradients (zeroed
// [1, S, 1, D] tiles): row by row, the softmax recomputed
// in one sweep over blocks of keys (online max and sum), the output's 1/sum,
// then a second sweep building P, dP = dy vT, dS = P (dP - dy O) scale, with
// dq = dS k in registers and dk += dS q, dv += P dy read-modified-written
// in the tiles.
// CHECK-LABEL: func.func @attention_grad(
// CHECK-SAME: %[[Q:.*]]: tensor<2x8x4x16xf32>, %[[K:.*]]: tensor<2x8x2x16xf32>, %[[V:.*]]: tensor<2x8x2x16xf32>, %[[DY:.*]]: tensor<2x8x4x16xf32>
// CHECK: %[[GQ:.*]] = tensor.expand_shape %[[Q]] {{.*}} into tensor<2x8x2x2x16xf32>
// CHECK: %[[GDY:.*]] = tensor.expand_shape %[[DY]] {{.*}} into tensor<2x8x2x2x16xf32>
// CHECK: %[[G:.*]]:3 = scf.for %[[B:.*]] = %{{.*}} to %c2 step %{{.*}} iter_args({{.*}}) -> (tensor<2x8x2x2x16xf32>, tensor<2x8x2x16xf32>, tensor<2x8x2x16xf32>)
// CHECK: scf.for %[[HEAD:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[DQO:.*]] = %{{.*}}, %[[DKO:.*]] = %{{.*}}, %[[DVO:.*]] = %{{.*}}) -> (tensor<2x8x2x2x16xf32>, tensor<2x8x2x16xf32>, tensor<2x8x2x16xf32>)
// CHECK: %[[DK0:.*]] = linalg.fill {{.*}} -> tensor<1x8x1x16xf32>
// CHECK: %[[DV0:.*]] = linalg.fill {{.*}} -> tensor<1x8x1x16xf32>
// CHECK: %[[TILES:.*]]:3 = scf.for %[[ROW:.*]] = {{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %[[DK0]], %{{.*}} = %[[DV0]])
// CHECK: vector.transfer_read %[[GQ]][%[[B]], %[[ROW]], %[[HEAD]]
// CHECK: vector.transfer_read %[[GDY]][%[[B]], %[[ROW]], %[[HEAD]]
// CHECK: %[[SM:.*]]:6 = scf.for {{.*}} -> (f32, f32, vector<16xf32>, f32, f32, vector<16xf32>)
// CHECK: vector.transfer_read %[[K]][%[[B]], %{{.*}}, %[[HEAD]]
// CHECK: vector.transfer_read %[[V]][%[[B]], %{{.*}}, %[[HEAD]]
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: vector.fma
// CHECK: %[[INV:.*]] = arith.divf %{{.*}}, %[[SM]]#1 : f32
// CHECK: %[[OUT:.*]] = arith.divf %[[SM]]#2, %{{.*}} : vector<16xf32>
// CHECK: %[[OMUL:.*]] = arith.mulf %{{.*}}, %[[OUT]] : vector<16xf32>
// CHECK: %[[DOT:.*]] = vector.reduction <add>, %[[OMUL]]
// CHECK: scf.for {{.*}} -> (vector<16xf32>, vector<16xf32>, tensor<1x8x1x16xf32>, tensor<1x8x1x16xf32>)
// CHECK: %[[E:.*]] = math.exp %{{.*}} : vector<8xf32>
// CHECK: %[[INVB:.*]] = vector.broadcast %[[INV]] : f32 to vector<8xf32>
// CHECK: %[[P:.*]] = arith.mulf %[[E]], %[[INVB]] : vector<8xf32>
// CHECK: %[[DP:.*]] = vector.from_elements
// CHECK: %[[DOTB:.*]] = vector.broadcast %[[DOT]] : f32 to vector<8xf32>
// CHECK: %[[DIFF:.*]] = arith.subf %[[DP]], %[[DOTB]] : vector<8xf32>
// CHECK: %[[PD:.*]] = arith.mulf %[[P]], %[[DIFF]] : vector<8xf32>
// CHECK: %[[DS:.*]] = arith.mulf %[[PD]], %{{.*}} : vector<8xf32>
// CHECK: vector.extract %[[DS]][0]
// CHECK: vector.fma
// CHECK: vector.extract %[[P]][0]
// CHECK: vector.fma
// CHECK: vector.transfer_write
// CHECK: tensor.insert_slice %[[TILES]]#0 into %[[DQO]][%[[B]], 0, %[[HEAD]], 0, 0] [1, 8, 1, 2, 16] [1, 1, 1, 1, 1]
// CHECK: tensor.insert_slice %[[TILES]]#1 into %[[DKO]][%[[B]], 0, %[[HEAD]], 0] [1, 8, 1, 16] [1, 1, 1, 1]
// CHECK: tensor.insert_slice %[[TILES]]#2 into %[[DVO]][%[[B]], 0, %[[HEAD]], 0] [1, 8, 1, 16] [1, 1, 1, 1]
// CHECK: %[[DQ4:.*]] = tensor.collapse_shape %[[G]]#0 {{.*}} into tensor<2x8x4x16xf32>
// CHECK: return %[[DQ4]], %[[G]]#1, %[[G]]#2
func.func @attention_grad(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x2x16xf32>, %v: tensor<2x8x2x16xf32>, %dy: tensor<2x8x4x16xf32>) -> (tensor<2x8x4x16xf32>, tensor<2x8x2x16xf32>, tensor<2x8x2x16xf32>) {
  %0:3 = llama.attention_grad %q, %k, %v, %dy scale(0.25) : (tensor<2x8x4x16xf32>, tensor<2x8x2x16xf32>, tensor<2x8x2x16xf32>, tensor<2x8x4x16xf32>) -> (tensor<2x8x4x16xf32>, tensor<2x8x2x16xf32>, tensor<2x8x2x16xf32>)
  return %0#0, %0#1, %0#2 : tensor<2x8x4x16xf32>, tensor<2x8x2x16xf32>, tensor<2x8x2x16xf32>
}

// -----

// Tests that the SwiGLU gradient is two elementwise generics, d gate (with
// silu's derivative through exp) and d up.
// CHECK-LABEL: func.func @swiglu_grad(
// CHECK-SAME: %[[GATE:.*]]: tensor<2x8x172xf32>, %[[UP:.*]]: tensor<2x8x172xf32>, %[[DY:.*]]: tensor<2x8x172xf32>
// CHECK: %[[DGATE:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel"]{{.*}} ins(%[[GATE]], %[[UP]], %[[DY]] : {{.*}})
// CHECK: math.exp
// CHECK: %[[DUP:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel"]{{.*}} ins(%[[GATE]], %[[UP]], %[[DY]] : {{.*}})
// CHECK: math.exp
// CHECK: return %[[DGATE]], %[[DUP]]
func.func @swiglu_grad(%gate: tensor<2x8x172xf32>, %up: tensor<2x8x172xf32>, %dy: tensor<2x8x172xf32>) -> (tensor<2x8x172xf32>, tensor<2x8x172xf32>) {
  %0:2 = llama.swiglu_grad %gate, %up, %dy : tensor<2x8x172xf32>
  return %0#0, %0#1 : tensor<2x8x172xf32>, tensor<2x8x172xf32>
}

// -----

// Tests that the cross-entropy gradient counts the mask (in f64), weighs each
// row by dloss * mask / count, recomputes the softmax statistics (the sum in
// f64), and writes weight * (softmax - onehot(target)) per logit.
// CHECK-LABEL: func.func @cross_entropy_grad(
// CHECK-SAME: %[[L:.*]]: tensor<2x8x100xf32>, %[[T:.*]]: tensor<2x8xi32>, %[[M:.*]]: tensor<2x8xf32>, %[[DL:.*]]: tensor<f32>
// CHECK: %[[COUNT64:.*]] = linalg.generic {{.*}} ins(%[[M]] : tensor<2x8xf32>) outs(%{{.*}} : tensor<f64>)
// CHECK: %[[COUNT:.*]] = linalg.generic {{.*}} ins(%[[COUNT64]] : tensor<f64>)
// CHECK: %[[W:.*]] = linalg.generic {{.*}} ins(%[[M]], %[[COUNT]], %[[DL]] : {{.*}}) outs(%{{.*}} : tensor<2x8xf32>)
// CHECK: %[[MAX:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]{{.*}} ins(%[[L]] : {{.*}})
// CHECK: %[[SUM64:.*]] = linalg.generic {{.*}} ins(%[[L]], %[[MAX]] : {{.*}}) outs(%{{.*}} : tensor<2x8xf64>)
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}} ins(%[[SUM64]] : tensor<2x8xf64>)
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel"]{{.*}} ins(%[[L]], %[[T]], %[[MAX]], %[[SUM]], %[[W]] : {{.*}})
// CHECK: math.exp
// CHECK: %[[ONEHOT:.*]] = arith.select
// CHECK: %[[G:.*]] = arith.subf %{{.*}}, %[[ONEHOT]]
// CHECK: arith.mulf %{{.*}}, %[[G]]
func.func @cross_entropy_grad(%l: tensor<2x8x100xf32>, %ids: tensor<2x8xi32>, %m: tensor<2x8xf32>, %dl: tensor<f32>) -> tensor<2x8x100xf32> {
  %0 = llama.cross_entropy_grad %l, %ids, %m, %dl : (tensor<2x8x100xf32>, tensor<2x8xi32>, tensor<2x8xf32>, tensor<f32>) -> tensor<2x8x100xf32>
  return %0 : tensor<2x8x100xf32>
}

// -----

// Tests that the global norm sums the squares of every tensor into one f64
// accumulator, then takes the square root and rounds to f32.
// CHECK-LABEL: func.func @global_norm(
// CHECK-SAME: %[[G:.*]]: tensor<8x4xf32>, %[[B:.*]]: tensor<4xf32>
// CHECK: %[[ZERO:.*]] = linalg.fill ins(%{{.*}} : f64) outs(%{{.*}} : tensor<f64>)
// CHECK: %[[S1:.*]] = linalg.generic {{.*}}iterator_types = ["reduction", "reduction"]{{.*}} ins(%[[G]] : tensor<8x4xf32>) outs(%[[ZERO]] : tensor<f64>)
// CHECK: arith.extf %{{.*}} : f32 to f64
// CHECK: arith.mulf %{{.*}}, %{{.*}} : f64
// CHECK: arith.addf %{{.*}}, %{{.*}} fastmath<reassoc> : f64
// CHECK: %[[S2:.*]] = linalg.generic {{.*}}iterator_types = ["reduction"]{{.*}} ins(%[[B]] : tensor<4xf32>) outs(%[[S1]] : tensor<f64>)
// CHECK: linalg.generic {{.*}} ins(%[[S2]] : tensor<f64>) outs(%{{.*}} : tensor<f32>)
// CHECK: math.sqrt %{{.*}} : f64
// CHECK: arith.truncf %{{.*}} : f64 to f32
func.func @global_norm(%g: tensor<8x4xf32>, %b: tensor<4xf32>) -> tensor<f32> {
  %n = llama.global_norm %g, %b : tensor<8x4xf32>, tensor<4xf32> -> tensor<f32>
  return %n : tensor<f32>
}

// -----

// Tests that AdamW computes its scalars once (lr and step from step_params,
// the clip factor from the norm, both bias corrections) and updates the
// weight and both moments in one pass, in place of its operands.
// CHECK-LABEL: func.func @adamw(
// CHECK-SAME: %[[P:.*]]: tensor<8x4xf32>, %[[G:.*]]: tensor<8x4xf32>, %[[M:.*]]: tensor<8x4xf32>, %[[V:.*]]: tensor<8x4xf32>, %[[S:.*]]: tensor<2xf32>, %[[N:.*]]: tensor<f32>
// CHECK: %[[LR:.*]] = tensor.extract %[[S]][%c0]
// CHECK: %[[STEP:.*]] = tensor.extract %[[S]][%c1]
// CHECK: tensor.extract %[[N]][]
// CHECK: math.powf %{{.*}}, %[[STEP]]
// CHECK: math.powf %{{.*}}, %[[STEP]]
// CHECK: %[[NEW:.*]]:3 = linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]{{.*}} ins(%[[G]] : tensor<8x4xf32>) outs(%[[P]], %[[M]], %[[V]] : {{.*}})
// CHECK: math.sqrt
// CHECK: return %[[NEW]]#0, %[[NEW]]#1, %[[NEW]]#2
func.func @adamw(%p: tensor<8x4xf32>, %g: tensor<8x4xf32>, %m: tensor<8x4xf32>, %v: tensor<8x4xf32>, %s: tensor<2xf32>, %n: tensor<f32>) -> (tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>) {
  %p2, %m2, %v2 = llama.adamw %p, %g, %m, %v, %s, %n {beta1 = 0.9, beta2 = 0.95, eps = 1.0e-05, weight_decay = 0.1, max_grad_norm = 1.0} : tensor<8x4xf32>, tensor<2xf32>, tensor<f32>
  return %p2, %m2, %v2 : tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>
}
