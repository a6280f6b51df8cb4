// RUN: llama-opt %s --convert-llama-to-linalg --split-input-file | FileCheck %s

// The reward model's ops (their numerics are checked against an fp64 torch
// restatement in test/e2e/reward.test).

// Tests that gather_rows reads input[n, index[n], d] in an [N, D] generic.
// CHECK-LABEL: func.func @gather_rows
// CHECK-SAME: (%[[H:.*]]: tensor<4x16x32xf32>, %[[ENDS:.*]]: tensor<4xi32>)
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]{{.*}} ins(%[[ENDS]] : tensor<4xi32>) outs(%{{.*}} : tensor<4x32xf32>)
// CHECK: %[[N:.*]] = linalg.index 0
// CHECK: %[[D:.*]] = linalg.index 1
// CHECK: %[[T:.*]] = arith.index_cast
// CHECK: tensor.extract %[[H]][%[[N]], %[[T]], %[[D]]]
func.func @gather_rows(%h: tensor<4x16x32xf32>, %ends: tensor<4xi32>) -> tensor<4x32xf32> {
  %0 = llama.gather_rows %h[%ends] : (tensor<4x16x32xf32>, tensor<4xi32>) -> tensor<4x32xf32>
  return %0 : tensor<4x32xf32>
}

// -----

// Tests that gather_rows_grad puts dy at each sequence's index and zero
// elsewhere.
// CHECK-LABEL: func.func @gather_rows_grad
// CHECK-SAME: (%[[DY:.*]]: tensor<4x32xf32>, %[[ENDS:.*]]: tensor<4xi32>)
// CHECK: linalg.generic {{.*}} ins(%[[ENDS]], %[[DY]] : tensor<4xi32>, tensor<4x32xf32>) outs(%{{.*}} : tensor<4x16x32xf32>)
// CHECK: ^bb0(%[[END:.*]]: i32, %[[G:.*]]: f32, %{{.*}}: f32):
// CHECK: %[[AT:.*]] = arith.index_cast %[[END]]
// CHECK: %[[T:.*]] = linalg.index 1
// CHECK: %[[HERE:.*]] = arith.cmpi eq, %[[T]], %[[AT]]
// CHECK: arith.select %[[HERE]], %[[G]], %{{.*}} : f32
func.func @gather_rows_grad(%dy: tensor<4x32xf32>, %ends: tensor<4xi32>) -> tensor<4x16x32xf32> {
  %0 = llama.gather_rows_grad %dy[%ends] : (tensor<4x32xf32>, tensor<4xi32>) -> tensor<4x16x32xf32>
  return %0 : tensor<4x16x32xf32>
}

// -----

// Tests that the ranking loss splits the rewards into chosen and rejected
// halves, computes -log sigmoid(d) without overflow plus the centering term
// per pair, sums in f64 and divides by the number of pairs.
// CHECK-LABEL: func.func @ranking_loss
// CHECK-SAME: (%[[R:.*]]: tensor<8xf32>, %[[M:.*]]: tensor<4xf32>)
// CHECK-DAG: %[[C:.*]] = tensor.extract_slice %[[R]][0] [4] [1]
// CHECK-DAG: %[[X:.*]] = tensor.extract_slice %[[R]][4] [4] [1]
// CHECK: linalg.generic {{.*}} ins(%[[C]], %[[X]], %[[M]] : {{.*}})
// CHECK: arith.maximumf
// CHECK: math.absf
// CHECK: math.log1p
// CHECK: arith.constant 0.00999999977 : f32
// CHECK: arith.extf %{{.*}} : f32 to f64
// CHECK: arith.constant 4 : index
// CHECK: arith.divf
func.func @ranking_loss(%r: tensor<8xf32>, %m: tensor<4xf32>) -> tensor<f32> {
  %0 = llama.ranking_loss %r, %m {center = 0.01} : (tensor<8xf32>, tensor<4xf32>) -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

// Tests that the gradient writes d chosen into the first half and
// d rejected into the second, each from sigmoid(-d) = 1 / (1 + exp(d)).
// CHECK-LABEL: func.func @ranking_loss_grad
// CHECK: %[[DC:.*]] = linalg.generic
// CHECK: math.exp
// CHECK: arith.negf
// CHECK: %[[FIRST:.*]] = tensor.insert_slice %[[DC]] into %{{.*}}[0] [4] [1]
// CHECK: %[[DR:.*]] = linalg.generic
// CHECK-NOT: arith.negf
// CHECK: tensor.insert_slice %[[DR]] into %[[FIRST]][4] [4] [1]
func.func @ranking_loss_grad(%r: tensor<8xf32>, %m: tensor<4xf32>, %dl: tensor<f32>) -> tensor<8xf32> {
  %0 = llama.ranking_loss_grad %r, %m, %dl {center = 0.0} : (tensor<8xf32>, tensor<4xf32>, tensor<f32>) -> tensor<8xf32>
  return %0 : tensor<8xf32>
}
