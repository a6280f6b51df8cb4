// RUN: llama-opt %s --llama-fuse-swiglu | FileCheck %s

// Tests that the gate and up projections of one input become one
// swiglu_projection with their SwiGLU, and that they are left alone when a
// product has another user (the training step keeps them for the gradient),
// when the inputs differ, or when a projection has a residual.

// A Llama feed-forward block (bf16 weights).
// CHECK-LABEL: func.func @ffn
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[WG:.*]]: tensor<172x64xbf16>, %[[WU:.*]]: tensor<172x64xbf16>)
// CHECK-NEXT: %[[H:.*]] = llama.swiglu_projection %[[X]], %[[WG]], %[[WU]] : (tensor<?x64xf32>, tensor<172x64xbf16>, tensor<172x64xbf16>) -> tensor<?x172xf32>
// CHECK-NEXT: return %[[H]]
func.func @ffn(%x: tensor<?x64xf32>, %wg: tensor<172x64xbf16>, %wu: tensor<172x64xbf16>) -> tensor<?x172xf32> {
  %g = llama.linear %x, %wg : (tensor<?x64xf32>, tensor<172x64xbf16>) -> tensor<?x172xf32>
  %u = llama.linear %x, %wu : (tensor<?x64xf32>, tensor<172x64xbf16>) -> tensor<?x172xf32>
  %h = llama.swiglu %g, %u : tensor<?x172xf32>
  return %h : tensor<?x172xf32>
}

// CHECK-LABEL: func.func @gate_kept
// CHECK: %[[G:.*]] = llama.linear
// CHECK: %[[U:.*]] = llama.linear
// CHECK: llama.swiglu %[[G]], %[[U]]
// CHECK-NOT: swiglu_projection
func.func @gate_kept(%x: tensor<4x64xf32>, %wg: tensor<172x64xf32>, %wu: tensor<172x64xf32>)
    -> (tensor<4x172xf32>, tensor<4x172xf32>) {
  %g = llama.linear %x, %wg : (tensor<4x64xf32>, tensor<172x64xf32>) -> tensor<4x172xf32>
  %u = llama.linear %x, %wu : (tensor<4x64xf32>, tensor<172x64xf32>) -> tensor<4x172xf32>
  %h = llama.swiglu %g, %u : tensor<4x172xf32>
  return %h, %g : tensor<4x172xf32>, tensor<4x172xf32>
}

// CHECK-LABEL: func.func @two_inputs
// CHECK-NOT: swiglu_projection
// CHECK: llama.swiglu %{{.*}}, %{{.*}} : tensor<4x172xf32>
func.func @two_inputs(%x: tensor<4x64xf32>, %y: tensor<4x64xf32>, %wg: tensor<172x64xf32>,
                      %wu: tensor<172x64xf32>) -> tensor<4x172xf32> {
  %g = llama.linear %x, %wg : (tensor<4x64xf32>, tensor<172x64xf32>) -> tensor<4x172xf32>
  %u = llama.linear %y, %wu : (tensor<4x64xf32>, tensor<172x64xf32>) -> tensor<4x172xf32>
  %h = llama.swiglu %g, %u : tensor<4x172xf32>
  return %h : tensor<4x172xf32>
}

// CHECK-LABEL: func.func @residual_up
// CHECK-NOT: swiglu_projection
// CHECK: llama.swiglu %{{.*}}, %{{.*}} : tensor<4x172xf32>
func.func @residual_up(%x: tensor<4x64xf32>, %r: tensor<4x172xf32>, %wg: tensor<172x64xf32>,
                       %wu: tensor<172x64xf32>) -> tensor<4x172xf32> {
  %g = llama.linear %x, %wg : (tensor<4x64xf32>, tensor<172x64xf32>) -> tensor<4x172xf32>
  %u = llama.linear %x, %wu residual(%r) : (tensor<4x64xf32>, tensor<172x64xf32>, tensor<4x172xf32>) -> tensor<4x172xf32>
  %h = llama.swiglu %g, %u : tensor<4x172xf32>
  return %h : tensor<4x172xf32>
}
