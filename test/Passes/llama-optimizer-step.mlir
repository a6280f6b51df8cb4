// RUN: llama-opt %s --split-input-file --llama-optimizer-step="weight-decay=0.05 max-grad-norm=0.5" | FileCheck %s

// Tests that the pass adds @train_step for a gradient function: the inputs,
// step_params, then weights, first and second moments; it calls the
// gradients, takes their global norm, and updates each weight with one
// llama.adamw (decay on matrices only), returning loss, norm and the updated
// tensors tagged for in-place update.
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[T:.*]]: tensor<2x5xi32> {llama.input = "tokens"}, %[[P:.*]]: tensor<2xf32> {llama.input = "step_params"},
// CHECK-SAME: %[[W:.*]]: tensor<4x4xf32> {llama.weight = "w"}, %[[G:.*]]: tensor<4xf32> {llama.weight = "g"},
// CHECK-SAME: %[[MW:.*]]: tensor<4x4xf32> {llama.adam_m = "w"}, %[[MG:.*]]: tensor<4xf32> {llama.adam_m = "g"},
// CHECK-SAME: %[[VW:.*]]: tensor<4x4xf32> {llama.adam_v = "w"}, %[[VG:.*]]: tensor<4xf32> {llama.adam_v = "g"})
// CHECK-SAME: -> (tensor<f32> {llama.output = "loss"}, tensor<f32> {llama.output = "grad_norm"}, tensor<4x4xf32> {llama.updated = "weight"}, tensor<4xf32> {llama.updated = "weight"}, tensor<4x4xf32> {llama.updated = "adam_m"}, tensor<4xf32> {llama.updated = "adam_m"}, tensor<4x4xf32> {llama.updated = "adam_v"}, tensor<4xf32> {llama.updated = "adam_v"})
// CHECK: %[[GRADS:.*]]:3 = call @loss_grad(%[[T]], %[[W]], %[[G]])
// CHECK: %[[NORM:.*]] = llama.global_norm %[[GRADS]]#1, %[[GRADS]]#2
// CHECK: %[[PW:.*]], %[[NMW:.*]], %[[NVW:.*]] = llama.adamw %[[W]], %[[GRADS]]#1, %[[MW]], %[[VW]], %[[P]], %[[NORM]] {{.*}}max_grad_norm = 5.000000e-01 : f64, weight_decay = 5.000000e-02 : f64}
// CHECK: %[[PG:.*]], %[[NMG:.*]], %[[NVG:.*]] = llama.adamw %[[G]], %[[GRADS]]#2, %[[MG]], %[[VG]], %[[P]], %[[NORM]] {{.*}}weight_decay = 0.000000e+00 : f64}
// CHECK: return %[[GRADS]]#0, %[[NORM]], %[[PW]], %[[PG]], %[[NMW]], %[[NMG]], %[[NVW]], %[[NVG]]
func.func @loss_grad(%tokens: tensor<2x5xi32> {llama.input = "tokens"}, %w: tensor<4x4xf32> {llama.weight = "w"}, %g: tensor<4xf32> {llama.weight = "g"})
    -> (tensor<f32> {llama.output = "loss"}, tensor<4x4xf32> {llama.grad = "w"}, tensor<4xf32> {llama.grad = "g"}) {
  %loss = arith.constant dense<1.0> : tensor<f32>
  return %loss, %w, %g : tensor<f32>, tensor<4x4xf32>, tensor<4xf32>
}

// -----

// Tests that the statistics a loss returns beside it (PPO's clip fraction)
// come after the loss and the gradient norm, keeping their tags, and that
// only the gradients reach the optimizer.
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: -> (tensor<f32> {llama.output = "loss"}, tensor<f32> {llama.output = "grad_norm"}, tensor<f32> {llama.output = "clip_fraction"}, tensor<4xf32> {llama.updated = "weight"},
// CHECK: %[[GRADS:.*]]:3 = call @value_loss_grad(
// CHECK: %[[NORM:.*]] = llama.global_norm %[[GRADS]]#2 :
// CHECK: llama.adamw %{{.*}}, %[[GRADS]]#2,
// CHECK: return %[[GRADS]]#0, %[[NORM]], %[[GRADS]]#1, 
func.func @value_loss_grad(%tokens: tensor<2x5xi32> {llama.input = "tokens"}, %g: tensor<4xf32> {llama.weight = "g"})
    -> (tensor<f32> {llama.output = "loss"}, tensor<f32> {llama.output = "clip_fraction"}, tensor<4xf32> {llama.grad = "g"}) {
  %loss = arith.constant dense<1.0> : tensor<f32>
  %clipped = arith.constant dense<0.5> : tensor<f32>
  return %loss, %clipped, %g : tensor<f32>, tensor<f32>, tensor<4xf32>
}
