// RUN: llama-opt %s --split-input-file --llama-serial-reductions | FileCheck %s

// Tests that a reduction a thread finishes alone keeps its sum in a
// register: a parallel loop over the output, a serial loop over the
// reduced dim from the fill's value (the fill gone) or the output's old
// value, one store.

// Attention's weighted values: out[h, d] = sum over t of p[h, t] v[t, h, d].
// CHECK-LABEL: func.func @weighted_values
// CHECK-NOT: linalg.fill
// CHECK: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK: scf.parallel (%[[H:[^,]+]], %[[D:[^)]+]]) = ({{.*}}) to (%c2, %c16)
// CHECK: %[[SUM:.*]] = scf.for %[[T:[^ ]+]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[ACC:.*]] = %[[ZERO]]) -> (f32) {
// CHECK: %[[P:.*]] = memref.load %arg0[%[[H]], %[[T]]]
// CHECK: %[[V:.*]] = memref.load %arg1[%[[T]], %[[H]], %[[D]]]
// CHECK: %[[PV:.*]] = arith.mulf %[[P]], %[[V]]
// CHECK: %[[NEXT:.*]] = arith.addf %[[ACC]], %[[PV]]
// CHECK: scf.yield %[[NEXT]]
// CHECK: memref.store %[[SUM]], %arg2[%[[H]], %[[D]]]
// CHECK-NOT: linalg.generic
func.func @weighted_values(%p: memref<2x?xf32>, %v: memref<?x2x16xf32>, %out: memref<2x16xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%out : memref<2x16xf32>)
  linalg.generic {indexing_maps = [affine_map<(h, d, t) -> (h, t)>, affine_map<(h, d, t) -> (t, h, d)>, affine_map<(h, d, t) -> (h, d)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%p, %v : memref<2x?xf32>, memref<?x2x16xf32>) outs(%out : memref<2x16xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// No fill: the sum starts from the output's value (a residual).
// CHECK-LABEL: func.func @accumulate
// CHECK: scf.parallel (%[[N:[^)]+]]) =
// CHECK: %[[OLD:.*]] = memref.load %arg1[%[[N]]]
// CHECK: scf.for %{{.*}} iter_args(%{{.*}} = %[[OLD]])
func.func @accumulate(%x: memref<8x4xf32>, %out: memref<4xf32>) {
  linalg.generic {indexing_maps = [affine_map<(n, k) -> (k, n)>, affine_map<(n, k) -> (n)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<8x4xf32>) outs(%out : memref<4xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %acc, %a : f32
    linalg.yield %s : f32
  }
  return
}
