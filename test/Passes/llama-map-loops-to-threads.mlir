// RUN: llama-opt %s --pass-pipeline="builtin.module(func.func(llama-map-loops-to-threads))" | FileCheck %s

// Tests the thread tiles of host parallel loops before gpu-map-parallel-loops.

// A loop with no parallel loop inside: its innermost dim in guarded tiles
// of 128 threads.
// CHECK-LABEL: func.func @elementwise
// CHECK: scf.parallel (%[[R:.*]], %[[C:.*]]) = (%{{.*}}, %{{.*}}) to (%{{.*}}, %{{.*}}) step (%{{.*}}, %[[T:.*]])
// CHECK: scf.parallel (%{{.*}}, %[[TC:.*]]) = {{.*}} to (%{{.*}}, %[[T]]) step
// CHECK: scf.if
// CHECK: memref.store
// CHECK: mapping = [#gpu.loop_dim_map<processor = thread_y, {{.*}}>, #gpu.loop_dim_map<processor = thread_x, {{.*}}>]
func.func @elementwise(%a: memref<?x300xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c300 = arith.constant 300 : index
  %f = arith.constant 1.0 : f32
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %c300) step (%c1, %c1) {
    memref.store %f, %a[%i, %j] : memref<?x300xf32>
  }
  return
}

// Three dims: the 128 threads on x, not z (a block holds at most 64 there).
// CHECK-LABEL: func.func @three_dims
// CHECK: mapping = [#gpu.loop_dim_map<processor = thread_y, {{.*}}>, #gpu.loop_dim_map<processor = thread_z, {{.*}}>, #gpu.loop_dim_map<processor = thread_x, {{.*}}>]
func.func @three_dims(%a: memref<4x2x128xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c4 = arith.constant 4 : index
  %c128 = arith.constant 128 : index
  %f = arith.constant 1.0 : f32
  scf.parallel (%h, %g, %d) = (%c0, %c0, %c0) to (%c4, %c2, %c128) step (%c1, %c1, %c1) {
    memref.store %f, %a[%h, %g, %d] : memref<4x2x128xf32>
  }
  return
}

// A block loop whose inner loops do all the memory work (a column block of
// fused projections): left as it is, the inner loop gets the threads.
// CHECK-LABEL: func.func @blocks
// CHECK: scf.parallel (%{{.*}}) = (%{{.*}}) to (%{{.*}}) step (%{{.*}}) {
// CHECK-NEXT: scf.parallel (%{{.*}}) = (%{{.*}}) to (%{{.*}}) step (%{{.*}}) {
// CHECK-NEXT: memref.store
// CHECK-NOT: scf.for
// CHECK-NOT: scf.if
func.func @blocks(%a: memref<8x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c64 = arith.constant 64 : index
  %f = arith.constant 1.0 : f32
  scf.parallel (%b) = (%c0) to (%c8) step (%c1) {
    scf.parallel (%j) = (%c0) to (%c64) step (%c1) {
      memref.store %f, %a[%b, %j] : memref<8x64xf32>
    }
  }
  return
}

// Memory work between the inner loops (attention's rows, then the copy of
// its tile): the inner loop runs serially in each thread, and the outer
// loop's innermost dim gets the threads.
// CHECK-LABEL: func.func @mixed
// CHECK: scf.parallel
// CHECK: scf.parallel
// CHECK: memref.load
// CHECK: scf.for
// CHECK: memref.store
// CHECK-NOT: scf.parallel
func.func @mixed(%a: memref<4x64xf32>, %b: memref<4x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c64 = arith.constant 64 : index
  scf.parallel (%h) = (%c0) to (%c4) step (%c1) {
    %x = memref.load %a[%h, %c0] : memref<4x64xf32>
    scf.parallel (%j) = (%c0) to (%c64) step (%c1) {
      memref.store %x, %b[%h, %j] : memref<4x64xf32>
    }
  }
  return
}
