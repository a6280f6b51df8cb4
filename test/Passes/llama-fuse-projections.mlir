// RUN: llama-opt %s --llama-fuse-projections | FileCheck %s

// Tests that the linear layers of one input become one llama.projections at
// the first of them (weights in program order, each result replacing its
// linear), and what stays out: a linear with a residual, one of another
// input, one whose weight is defined after the first linear.

// A layer's q, k and v (GQA shapes) with a reshape between them.
// CHECK-LABEL: func.func @qkv
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[WQ:.*]]: tensor<64x64xf32>, %[[WK:.*]]: tensor<16x64xf32>, %[[WV:.*]]: tensor<16x64xf32>)
// CHECK-NEXT: %[[P:.*]]:3 = llama.projections %[[X]], %[[WQ]], %[[WK]], %[[WV]] : (tensor<?x64xf32>, tensor<64x64xf32>, tensor<16x64xf32>, tensor<16x64xf32>) -> (tensor<?x64xf32>, tensor<?x16xf32>, tensor<?x16xf32>)
// CHECK-NEXT: %[[C:.*]] = arith.constant 0
// CHECK-NEXT: %[[N:.*]] = tensor.dim %[[P]]#0, %[[C]]
// CHECK-NEXT: %[[Q:.*]] = tensor.expand_shape %[[P]]#0 {{.*}} output_shape [%[[N]], 4, 16]
// CHECK-NEXT: return %[[Q]], %[[P]]#1, %[[P]]#2
func.func @qkv(%x: tensor<?x64xf32>, %wq: tensor<64x64xf32>, %wk: tensor<16x64xf32>, %wv: tensor<16x64xf32>)
    -> (tensor<?x4x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>) {
  %q = llama.linear %x, %wq : (tensor<?x64xf32>, tensor<64x64xf32>) -> tensor<?x64xf32>
  %c0 = arith.constant 0 : index
  %n = tensor.dim %q, %c0 : tensor<?x64xf32>
  %q4 = tensor.expand_shape %q [[0], [1, 2]] output_shape [%n, 4, 16] : tensor<?x64xf32> into tensor<?x4x16xf32>
  %k = llama.linear %x, %wk : (tensor<?x64xf32>, tensor<16x64xf32>) -> tensor<?x16xf32>
  %v = llama.linear %x, %wv : (tensor<?x64xf32>, tensor<16x64xf32>) -> tensor<?x16xf32>
  return %q4, %k, %v : tensor<?x4x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>
}

// CHECK-LABEL: func.func @left_out
// CHECK: %[[P:.*]]:2 = llama.projections %{{.*}}, %{{.*}}, %{{.*}} : (tensor<4x64xf32>, tensor<32x64xf32>, tensor<8x64xf32>) -> (tensor<4x32xf32>, tensor<4x8xf32>)
// CHECK: llama.linear %{{.*}}, %{{.*}} residual(%{{.*}})
// CHECK: llama.linear %[[Y:.*]], %{{.*}} : (tensor<4x64xf32>, tensor<16x64xf32>)
// CHECK: %[[W:.*]] = arith.addf
// CHECK: llama.linear %{{.*}}, %[[W]]
// CHECK-NOT: llama.projections
func.func @left_out(%x: tensor<4x64xf32>, %y: tensor<4x64xf32>, %r: tensor<4x32xf32>,
                    %wa: tensor<32x64xf32>, %wb: tensor<8x64xf32>, %wc: tensor<32x64xf32>,
                    %wd: tensor<16x64xf32>, %we: tensor<8x64xf32>)
    -> (tensor<4x32xf32>, tensor<4x8xf32>, tensor<4x32xf32>, tensor<4x16xf32>, tensor<4x8xf32>) {
  %a = llama.linear %x, %wa : (tensor<4x64xf32>, tensor<32x64xf32>) -> tensor<4x32xf32>
  %b = llama.linear %x, %wb : (tensor<4x64xf32>, tensor<8x64xf32>) -> tensor<4x8xf32>
  %c = llama.linear %x, %wc residual(%r) : (tensor<4x64xf32>, tensor<32x64xf32>, tensor<4x32xf32>) -> tensor<4x32xf32>
  %d = llama.linear %y, %wd : (tensor<4x64xf32>, tensor<16x64xf32>) -> tensor<4x16xf32>
  %w = arith.addf %we, %we : tensor<8x64xf32>
  %e = llama.linear %x, %w : (tensor<4x64xf32>, tensor<8x64xf32>) -> tensor<4x8xf32>
  return %a, %b, %c, %d, %e : tensor<4x32xf32>, tensor<4x8xf32>, tensor<4x32xf32>, tensor<4x16xf32>, tensor<4x8xf32>
}
