// RUN: llama-opt %s --llama-entry-out-params | FileCheck %s

// Tests that an entry point's buffer results become trailing out-parameters
// that keep the results' attributes, and that an internal function keeps
// its result, dynamically shaped as a prefill layer's is.
// CHECK-LABEL: func.func private @layer(%{{.*}}: memref<?x4xf32>) -> memref<?x4xf32>
// CHECK-LABEL: func.func private @train_loss_grad(
// CHECK-SAME: %[[T:.*]]: memref<2x5xi32> {llama.input = "tokens"}, %[[W:.*]]: memref<4x4xf32> {llama.weight = "w"},
// CHECK-SAME: %[[LOSS:.*]]: memref<f32> {llama.output = "loss"}, %[[DW:.*]]: memref<4x4xf32> {llama.grad = "w"})
// CHECK-NOT: ->
// CHECK: memref.copy %{{.*}}, %[[LOSS]]
// CHECK: memref.copy %[[W]], %[[DW]]
// CHECK: return
func.func private @layer(%x: memref<?x4xf32>) -> memref<?x4xf32> {
  return %x : memref<?x4xf32>
}
func.func private @train_loss_grad(%tokens: memref<2x5xi32> {llama.input = "tokens"}, %w: memref<4x4xf32> {llama.weight = "w"})
    -> (memref<f32> {llama.output = "loss"}, memref<4x4xf32> {llama.grad = "w"}) {
  %loss = memref.alloc() : memref<f32>
  return %loss, %w : memref<f32>, memref<4x4xf32>
}
