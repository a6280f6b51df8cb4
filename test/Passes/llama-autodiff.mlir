// RUN: llama-opt %s --llama-autodiff --split-input-file -verify-diagnostics | FileCheck %s

// Tests that the pass adds @f_grad returning the loss and one gradient per
// weight, accumulates the cotangents of a value used twice, and inverts
// reshapes.
// CHECK-LABEL: func.func @loss_grad
// CHECK-SAME: (%[[T:.*]]: tensor<2x5xi32> {llama.input = "tokens"}, %[[M:.*]]: tensor<2x4xf32> {llama.input = "loss_mask"}, %[[E:.*]]: tensor<16x8xf32> {llama.weight = "embed"}, %[[W:.*]]: tensor<8x8xf32> {llama.weight = "w"})
// CHECK-SAME: -> (tensor<f32> {llama.output = "loss"}, tensor<16x8xf32> {llama.grad = "embed"}, tensor<8x8xf32> {llama.grad = "w"})
// CHECK: %[[X:.*]] = llama.embedding %[[E]]
// CHECK: %[[H:.*]] = llama.linear %[[X]], %[[W]]
// CHECK: %[[R:.*]] = tensor.expand_shape %[[H]]
// CHECK: %[[C:.*]] = tensor.collapse_shape %[[R]]
// CHECK: %[[S:.*]] = llama.add %[[X]], %[[C]]
// CHECK: %[[LOGITS:.*]] = llama.linear %[[S]], %[[E]]
// CHECK: %[[LOSS:.*]] = llama.cross_entropy %[[LOGITS]]
// CHECK: %[[ONE:.*]] = arith.constant dense<1.000000e+00> : tensor<f32>
// CHECK: %[[DLOGITS:.*]] = llama.cross_entropy_grad %[[LOGITS]], %{{.*}}, %[[M]], %[[ONE]]
// CHECK: %[[DS:.*]], %[[DE1:.*]] = llama.linear_grad %[[S]], %[[E]], %[[DLOGITS]]
// CHECK: %[[DR:.*]] = tensor.expand_shape %[[DS]]
// CHECK: %[[DH:.*]] = tensor.collapse_shape %[[DR]]
// CHECK: %[[DX1:.*]], %[[DW:.*]] = llama.linear_grad %[[X]], %[[W]], %[[DH]]
// CHECK: %[[DX:.*]] = llama.add %[[DS]], %[[DX1]]
// CHECK: %[[DE2:.*]] = llama.embedding_grad %{{.*}}, %[[DX]]
// CHECK: %[[DE:.*]] = llama.add %[[DE1]], %[[DE2]]
// CHECK: return %[[LOSS]], %[[DE]], %[[DW]]
func.func @loss(%tokens: tensor<2x5xi32> {llama.input = "tokens"}, %mask: tensor<2x4xf32> {llama.input = "loss_mask"},
                %embed: tensor<16x8xf32> {llama.weight = "embed"}, %w: tensor<8x8xf32> {llama.weight = "w"})
    -> (tensor<f32> {llama.output = "loss"}) {
  %in = tensor.extract_slice %tokens[0, 0] [2, 4] [1, 1] : tensor<2x5xi32> to tensor<2x4xi32>
  %tgt = tensor.extract_slice %tokens[0, 1] [2, 4] [1, 1] : tensor<2x5xi32> to tensor<2x4xi32>
  %x = llama.embedding %embed[%in] : (tensor<16x8xf32>, tensor<2x4xi32>) -> tensor<2x4x8xf32>
  %h = llama.linear %x, %w : (tensor<2x4x8xf32>, tensor<8x8xf32>) -> tensor<2x4x8xf32>
  %r = tensor.expand_shape %h [[0], [1], [2, 3]] output_shape [2, 4, 2, 4] : tensor<2x4x8xf32> into tensor<2x4x2x4xf32>
  %c = tensor.collapse_shape %r [[0], [1], [2, 3]] : tensor<2x4x2x4xf32> into tensor<2x4x8xf32>
  %s = llama.add %x, %c : tensor<2x4x8xf32>
  %logits = llama.linear %s, %embed : (tensor<2x4x8xf32>, tensor<16x8xf32>) -> tensor<2x4x16xf32>
  %loss = llama.cross_entropy %logits, %tgt, %mask : (tensor<2x4x16xf32>, tensor<2x4xi32>, tensor<2x4xf32>) -> tensor<f32>
  return %loss : tensor<f32>
}

// -----

// Tests that an op without a gradient rule on the way to the loss is an error.
func.func @no_rule(%x: tensor<4xf32> {llama.weight = "x"}, %t: tensor<i32>, %m: tensor<f32>) -> (tensor<f32> {llama.output = "loss"}) {
  // expected-error @+1 {{llama-autodiff: no gradient rule for 'arith.negf'}}
  %n = arith.negf %x : tensor<4xf32>
  %loss = llama.cross_entropy %n, %t, %m : (tensor<4xf32>, tensor<i32>, tensor<f32>) -> tensor<f32>
  return %loss : tensor<f32>
}

// -----

// Tests the rule of each remaining op: rms_norm, rope, attention and swiglu
// each hand their operands' cotangents to their gradient op.
// CHECK-LABEL: func.func @layer_grad
// CHECK: %[[LOSS:.*]] = llama.cross_entropy
// CHECK: %[[DL:.*]] = llama.cross_entropy_grad
// CHECK: %[[DO:.*]], %[[DWO:.*]] = llama.linear_grad
// CHECK: %[[DG:.*]], %[[DU:.*]] = llama.swiglu_grad %{{.*}}, %{{.*}}, %[[DO]]
// CHECK: %[[DSUM:.*]] = llama.add %[[DG]], %[[DU]]
// CHECK: %[[DHEADS:.*]] = tensor.expand_shape %[[DSUM]]
// CHECK: %[[DQ:.*]], %[[DK:.*]], %[[DV:.*]] = llama.attention_grad %{{.*}}, %{{.*}}, %{{.*}}, %[[DHEADS]] scale(3.535530e-01)
// CHECK: %[[DKR:.*]] = llama.rope_grad %[[DK]], %{{.*}} theta(1.000000e+04)
// CHECK: %[[SUM1:.*]] = llama.add %[[DV]], %[[DKR]]
// CHECK: %[[DQR:.*]] = llama.rope_grad %[[DQ]], %{{.*}} theta(1.000000e+04)
// CHECK: %[[SUM2:.*]] = llama.add %[[SUM1]], %[[DQR]]
// CHECK: %[[DN:.*]] = tensor.collapse_shape %[[SUM2]]
// CHECK: %[[DX:.*]], %[[DGAIN:.*]] = llama.rms_norm_grad %{{.*}}, %{{.*}}, %[[DN]] eps(1.000000e-05)
// CHECK: %[[DTABLE:.*]] = llama.embedding_grad %{{.*}}, %[[DX]]
// CHECK: return %[[LOSS]], %[[DTABLE]], %[[DGAIN]], %[[DWO]]
func.func @layer(%tokens: tensor<1x5xi32> {llama.input = "tokens"}, %mask: tensor<1x4xf32> {llama.input = "loss_mask"},
                 %embed: tensor<16x16xf32> {llama.weight = "embed"}, %gain: tensor<16xf32> {llama.weight = "gain"},
                 %wo: tensor<16x16xf32> {llama.weight = "wo"})
    -> (tensor<f32> {llama.output = "loss"}) {
  %in = tensor.extract_slice %tokens[0, 0] [1, 4] [1, 1] : tensor<1x5xi32> to tensor<1x4xi32>
  %tgt = tensor.extract_slice %tokens[0, 1] [1, 4] [1, 1] : tensor<1x5xi32> to tensor<1x4xi32>
  %pos = arith.constant dense<[0, 1, 2, 3]> : tensor<4xi32>
  %x = llama.embedding %embed[%in] : (tensor<16x16xf32>, tensor<1x4xi32>) -> tensor<1x4x16xf32>
  %n = llama.rms_norm %x, %gain eps(1.0e-05) : (tensor<1x4x16xf32>, tensor<16xf32>) -> tensor<1x4x16xf32>
  %h = tensor.expand_shape %n [[0], [1], [2, 3]] output_shape [1, 4, 2, 8] : tensor<1x4x16xf32> into tensor<1x4x2x8xf32>
  %q = llama.rope %h, %pos theta(1.0e+04) : (tensor<1x4x2x8xf32>, tensor<4xi32>) -> tensor<1x4x2x8xf32>
  %k = llama.rope %h, %pos theta(1.0e+04) : (tensor<1x4x2x8xf32>, tensor<4xi32>) -> tensor<1x4x2x8xf32>
  %a = llama.attention %q, %k, %h scale(0.353553) : (tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>) -> tensor<1x4x2x8xf32>
  %m = tensor.collapse_shape %a [[0], [1], [2, 3]] : tensor<1x4x2x8xf32> into tensor<1x4x16xf32>
  %s = llama.swiglu %m, %m : tensor<1x4x16xf32>
  %logits = llama.linear %s, %wo : (tensor<1x4x16xf32>, tensor<16x16xf32>) -> tensor<1x4x16xf32>
  %loss = llama.cross_entropy %logits, %tgt, %mask : (tensor<1x4x16xf32>, tensor<1x4xi32>, tensor<1x4xf32>) -> tensor<f32>
  return %loss : tensor<f32>
}

// -----

// Tests that the cotangent of a linear's residual is the result's cotangent
// itself (d(r + x . w^T) / dr = 1), accumulated with the residual's other
// use.
// CHECK-LABEL: func.func @residual_grad
// CHECK: %[[H:.*]] = llama.linear %[[X:.*]], %[[W:.*]] residual(%[[X]])
// CHECK: %[[DH:.*]] = llama.cross_entropy_grad
// CHECK: %[[DX1:.*]], %[[DW:.*]] = llama.linear_grad %[[X]], %[[W]], %[[DH]]
// CHECK: %[[DX:.*]] = llama.add %[[DX1]], %[[DH]]
func.func @residual(%x: tensor<4x8xf32> {llama.weight = "x"}, %w: tensor<8x8xf32> {llama.weight = "w"},
                    %t: tensor<4xi32>, %m: tensor<4xf32>) -> (tensor<f32> {llama.output = "loss"}) {
  %h = llama.linear %x, %w residual(%x) : (tensor<4x8xf32>, tensor<8x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %loss = llama.cross_entropy %h, %t, %m : (tensor<4x8xf32>, tensor<4xi32>, tensor<4xf32>) -> tensor<f32>
  return %loss : tensor<f32>
}

// -----

// Tests that a call is differentiated through @<callee>_fwd, which returns
// the callee's results and then the activations the backward pass reads
// (here h, read twice by swiglu_grad), and @<callee>_bwd(args..., d
// results..., saved...), which runs no forward op again; the call itself
// becomes a call of _fwd.
// CHECK-LABEL: func.func private @block_fwd(
// CHECK-SAME: %[[X:.*]]: tensor<2x8xf32>, %[[W:.*]]: tensor<8x8xf32>) -> (tensor<2x8xf32>, tensor<2x8xf32>)
// CHECK: %[[H:.*]] = llama.linear %[[X]], %[[W]]
// CHECK: %[[Y:.*]] = llama.swiglu %[[H]], %[[H]]
// CHECK: return %[[Y]], %[[H]]
// CHECK-LABEL: func.func private @block_bwd(
// CHECK-SAME: %[[BX:.*]]: tensor<2x8xf32>, %[[BW:.*]]: tensor<8x8xf32>, %[[DY:.*]]: tensor<2x8xf32>, %[[BH:.*]]: tensor<2x8xf32>) -> (tensor<2x8xf32>, tensor<8x8xf32>)
// CHECK-NOT: llama.linear %
// CHECK: %[[DG:.*]], %[[DU:.*]] = llama.swiglu_grad %[[BH]], %[[BH]], %[[DY]]
// CHECK: %[[DH:.*]] = llama.add %[[DG]], %[[DU]]
// CHECK: %[[DX:.*]], %[[DW:.*]] = llama.linear_grad %[[BX]], %[[BW]], %[[DH]]
// CHECK: return %[[DX]], %[[DW]]
// CHECK-LABEL: func.func @calls_grad
// CHECK: %[[F:.*]]:2 = call @block_fwd(%[[E:.*]], %{{.*}})
// CHECK-NOT: call @block(
// CHECK: call @block_bwd(%[[E]], %{{.*}}, %{{.*}}, %[[F]]#1)
func.func private @block(%x: tensor<2x8xf32>, %w: tensor<8x8xf32>) -> tensor<2x8xf32> {
  %h = llama.linear %x, %w : (tensor<2x8xf32>, tensor<8x8xf32>) -> tensor<2x8xf32>
  %y = llama.swiglu %h, %h : tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}
func.func @calls(%tokens: tensor<2xi32> {llama.input = "tokens"}, %tgt: tensor<2xi32>, %mask: tensor<2xf32> {llama.input = "loss_mask"},
                 %embed: tensor<16x8xf32> {llama.weight = "embed"}, %w: tensor<8x8xf32> {llama.weight = "w"})
    -> (tensor<f32> {llama.output = "loss"}) {
  %x = llama.embedding %embed[%tokens] : (tensor<16x8xf32>, tensor<2xi32>) -> tensor<2x8xf32>
  %y = call @block(%x, %w) : (tensor<2x8xf32>, tensor<8x8xf32>) -> tensor<2x8xf32>
  %logits = llama.linear %y, %embed : (tensor<2x8xf32>, tensor<16x8xf32>) -> tensor<2x16xf32>
  %loss = llama.cross_entropy %logits, %tgt, %mask : (tensor<2x16xf32>, tensor<2xi32>, tensor<2xf32>) -> tensor<f32>
  return %loss : tensor<f32>
}

// -----

// Tests that a call to a function that itself makes calls is an error.
func.func private @inner(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  return %x : tensor<2x8xf32>
}
// expected-error @+1 {{llama-autodiff: cannot differentiate a call to a function that makes calls}}
func.func private @outer(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %y = call @inner(%x) : (tensor<2x8xf32>) -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}
func.func @nested(%tokens: tensor<2xi32> {llama.input = "tokens"}, %tgt: tensor<2xi32>, %mask: tensor<2xf32> {llama.input = "loss_mask"},
                  %embed: tensor<16x8xf32> {llama.weight = "embed"})
    -> (tensor<f32> {llama.output = "loss"}) {
  %x = llama.embedding %embed[%tokens] : (tensor<16x8xf32>, tensor<2xi32>) -> tensor<2x8xf32>
  %y = call @outer(%x) : (tensor<2x8xf32>) -> tensor<2x8xf32>
  %logits = llama.linear %y, %embed : (tensor<2x8xf32>, tensor<16x8xf32>) -> tensor<2x16xf32>
  %loss = llama.cross_entropy %logits, %tgt, %mask : (tensor<2x16xf32>, tensor<2xi32>, tensor<2xf32>) -> tensor<f32>
  return %loss : tensor<f32>
}

// -----

// Tests a loss with statistics (PPO's policy loss): @ppo_grad returns the
// loss and the statistics as they were, then the gradients; only the loss is
// seeded, so the statistics get no backward ops, and the temperature and clip
// range (scalars read from ppo_params) none either.
// CHECK-LABEL: func.func @ppo_grad(
// CHECK-SAME: -> (tensor<f32> {llama.output = "loss"}, tensor<f32> {llama.output = "clip_fraction"}, tensor<f32> {llama.output = "approx_kl"}, tensor<16x8xf32> {llama.grad = "embed"})
// CHECK: %[[T:.*]] = tensor.extract %{{.*}}[%{{.*}}] : tensor<3xf32>
// CHECK: %[[LP:.*]] = llama.token_logprobs %[[LOGITS:.*]][%{{.*}}], %[[T]]
// CHECK: %[[LOSS:.*]], %[[CLIPPED:.*]], %[[KL:.*]] = llama.ppo_policy_loss %[[LP]]
// CHECK: %[[DLP:.*]] = llama.ppo_policy_loss_grad %[[LP]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} :
// CHECK: llama.token_logprobs_grad %[[LOGITS]][%{{.*}}], %[[T]], %[[DLP]]
// CHECK: return %[[LOSS]], %[[CLIPPED]], %[[KL]], %{{.*}} :
func.func @ppo(%tokens: tensor<2x4xi32> {llama.input = "tokens"}, %mask: tensor<2x4xf32> {llama.input = "loss_mask"},
               %params: tensor<3xf32> {llama.input = "ppo_params"}, %old: tensor<2x4xf32> {llama.input = "old_logprobs"},
               %adv: tensor<2x4xf32> {llama.input = "advantages"}, %embed: tensor<16x8xf32> {llama.weight = "embed"})
    -> (tensor<f32> {llama.output = "loss"}, tensor<f32> {llama.output = "clip_fraction"}, tensor<f32> {llama.output = "approx_kl"}) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %t = tensor.extract %params[%c0] : tensor<3xf32>
  %clip = tensor.extract %params[%c1] : tensor<3xf32>
  %x = llama.embedding %embed[%tokens] : (tensor<16x8xf32>, tensor<2x4xi32>) -> tensor<2x4x8xf32>
  %logits = llama.linear %x, %embed : (tensor<2x4x8xf32>, tensor<16x8xf32>) -> tensor<2x4x16xf32>
  %lp = llama.token_logprobs %logits[%tokens], %t : (tensor<2x4x16xf32>, tensor<2x4xi32>, f32) -> tensor<2x4xf32>
  %loss:3 = llama.ppo_policy_loss %lp, %old, %adv, %mask, %clip : (tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>, f32) -> (tensor<f32>, tensor<f32>, tensor<f32>)
  return %loss#0, %loss#1, %loss#2 : tensor<f32>, tensor<f32>, tensor<f32>
}
