// RUN: llama-opt %s --llama-fuse-residual | FileCheck %s

// Tests that a residual add of a linear layer's result becomes the linear's
// residual operand (either operand order), and that it is left alone when
// the product has another user or a residual already.

// A Llama layer's two residual connections.
// CHECK-LABEL: func.func @layer
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[A:.*]]: tensor<?x64xf32>, %[[WO:.*]]: tensor<64x64xf32>, %[[F:.*]]: tensor<?x172xf32>, %[[WD:.*]]: tensor<64x172xf32>)
// CHECK-NEXT: %[[H:.*]] = llama.linear %[[A]], %[[WO]] residual(%[[X]]) : (tensor<?x64xf32>, tensor<64x64xf32>, tensor<?x64xf32>) -> tensor<?x64xf32>
// CHECK-NEXT: %[[OUT:.*]] = llama.linear %[[F]], %[[WD]] residual(%[[H]])
// CHECK-NEXT: return %[[OUT]]
func.func @layer(%x: tensor<?x64xf32>, %attn: tensor<?x64xf32>, %wo: tensor<64x64xf32>,
                 %ffn: tensor<?x172xf32>, %wd: tensor<64x172xf32>) -> tensor<?x64xf32> {
  %o = llama.linear %attn, %wo : (tensor<?x64xf32>, tensor<64x64xf32>) -> tensor<?x64xf32>
  %h = llama.add %x, %o : tensor<?x64xf32>
  %d = llama.linear %ffn, %wd : (tensor<?x172xf32>, tensor<64x172xf32>) -> tensor<?x64xf32>
  %out = llama.add %d, %h : tensor<?x64xf32>
  return %out : tensor<?x64xf32>
}

// CHECK-LABEL: func.func @product_used_twice
// CHECK: %[[O:.*]] = llama.linear %{{.*}}, %{{.*}} : (tensor<4x64xf32>, tensor<64x64xf32>) -> tensor<4x64xf32>
// CHECK: llama.add %{{.*}}, %[[O]]
func.func @product_used_twice(%x: tensor<4x64xf32>, %a: tensor<4x64xf32>, %w: tensor<64x64xf32>)
    -> (tensor<4x64xf32>, tensor<4x64xf32>) {
  %o = llama.linear %a, %w : (tensor<4x64xf32>, tensor<64x64xf32>) -> tensor<4x64xf32>
  %h = llama.add %x, %o : tensor<4x64xf32>
  return %h, %o : tensor<4x64xf32>, tensor<4x64xf32>
}

// A sum of two residuals and a product: the product takes one of them.
// CHECK-LABEL: func.func @residual_taken
// CHECK: %[[O:.*]] = llama.linear %{{.*}}, %{{.*}} residual(%{{.*}})
// CHECK: llama.add %{{.*}}, %[[O]]
func.func @residual_taken(%x: tensor<4x64xf32>, %y: tensor<4x64xf32>, %a: tensor<4x64xf32>,
                          %w: tensor<64x64xf32>) -> tensor<4x64xf32> {
  %o = llama.linear %a, %w residual(%x) : (tensor<4x64xf32>, tensor<64x64xf32>, tensor<4x64xf32>) -> tensor<4x64xf32>
  %h = llama.add %y, %o : tensor<4x64xf32>
  return %h : tensor<4x64xf32>
}
