// RUN: llama-opt %s --pass-pipeline="builtin.module(func.func(llama-parallelize-rows))" | FileCheck %s

// Tests that big row-wise ops run in row chunks on threads, and that small
// ones, one-row ones and ops already inside loops stay as they are.

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>

// A row reduction over a run-time row count (prefill): chunks of 4 rows.
// CHECK-LABEL: func.func @row_sums(
// CHECK: scf.forall (%[[R:.*]]) = (0) to (%{{.*}}) step (4)
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// CHECK: scf.forall.in_parallel
func.func @row_sums(%x: tensor<?x1024xf32>, %init: tensor<?xf32>) -> tensor<?xf32> {
  %r = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<?x1024xf32>) outs(%init : tensor<?xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %acc, %a : f32
    linalg.yield %s : f32
  } -> tensor<?xf32>
  return %r : tensor<?xf32>
}

// A known row count: 16 chunks (512 / 16 = 32 rows each).
// CHECK-LABEL: func.func @silu(
// CHECK: scf.forall ({{.*}}) = (0) to (512) step (32)
func.func @silu(%x: tensor<512x256xf32>, %init: tensor<512x256xf32>) -> tensor<512x256xf32> {
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<512x256xf32>) outs(%init : tensor<512x256xf32>) {
  ^bb0(%a: f32, %o: f32):
    %n = arith.negf %a : f32
    %e = math.exp %n : f32
    %one = arith.constant 1.0 : f32
    %d = arith.addf %one, %e : f32
    %s = arith.divf %a, %d : f32
    linalg.yield %s : f32
  } -> tensor<512x256xf32>
  return %r : tensor<512x256xf32>
}

// Too small to be worth a fork and join, or a single row (decode).
// CHECK-LABEL: func.func @small(
// CHECK-NOT: scf.forall
// CHECK: return
func.func @small(%x: tensor<8x64xf32>, %y: tensor<1x65536xf32>) -> (tensor<8x64xf32>, tensor<1x65536xf32>) {
  %a = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<8x64xf32>) outs(%x : tensor<8x64xf32>) {
  ^bb0(%v: f32, %o: f32):
    %s = arith.mulf %v, %v : f32
    linalg.yield %s : f32
  } -> tensor<8x64xf32>
  %b = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%y : tensor<1x65536xf32>) outs(%y : tensor<1x65536xf32>) {
  ^bb0(%v: f32, %o: f32):
    %s = arith.mulf %v, %v : f32
    linalg.yield %s : f32
  } -> tensor<1x65536xf32>
  return %a, %b : tensor<8x64xf32>, tensor<1x65536xf32>
}
