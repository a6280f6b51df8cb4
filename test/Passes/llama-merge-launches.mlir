// RUN: llama-opt %s --split-input-file --llama-merge-launches | FileCheck %s

// Tests that consecutive launches with the same blocks that share no memory
// one of them writes become one launch over both grids, and which stay
// apart: one reads what the other writes, both write arguments (which may
// alias), different blocks, a free in between.

// Two GEMV-like kernels reading the same argument, writing their own
// allocations: grid 4 x 2 then 3, merged into 11 blocks; block b < 8 runs
// the first body at (b % 4, b / 4 % 2), the others the second at b - 8.
// CHECK-LABEL: func.func @independent
// CHECK: %[[A:.*]] = memref.alloc() : memref<64xf32>
// CHECK: %[[B:.*]] = memref.alloc() : memref<64xf32>
// CHECK: arith.muli %c4, %c2
// CHECK: %[[FIRST:.*]] = arith.muli
// CHECK: arith.muli %c3
// CHECK: %[[TOTAL:.*]] = arith.addi %[[FIRST]], %{{.*}} : index
// CHECK: gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[TOTAL]], %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}) threads(%[[TX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c32{{.*}}, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}})
// CHECK: %[[IN:.*]] = arith.cmpi ult, %[[BX]], %[[FIRST]]
// CHECK: scf.if %[[IN]] {
// CHECK: %[[X:.*]] = arith.remui %[[BX]], %c4
// CHECK: %[[REST:.*]] = arith.divui %[[BX]], %c4
// CHECK: %[[Y:.*]] = arith.remui %[[REST]], %c2
// CHECK: %[[I:.*]] = arith.addi %[[X]], %[[Y]]
// CHECK: memref.store %{{.*}}, %[[A]][%[[I]]]
// CHECK: } else {
// CHECK: %[[SECOND:.*]] = arith.subi %[[BX]], %[[FIRST]]
// CHECK: %[[X2:.*]] = arith.remui %[[SECOND]], %c3
// CHECK: memref.store %{{.*}}, %[[B]][%[[X2]]]
// CHECK: }
// CHECK: gpu.terminator
// CHECK-NOT: gpu.launch
func.func @independent(%in: memref<64xf32>) {
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %c32 = arith.constant 32 : index
  %a = memref.alloc() : memref<64xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c4, %gy = %c2, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1) {
    %v = memref.load %in[%tx] : memref<64xf32>
    %i = arith.addi %bx, %by : index
    memref.store %v, %a[%i] : memref<64xf32>
    gpu.terminator
  }
  %b = memref.alloc() : memref<64xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c3, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1) {
    %v = memref.load %in[%tx] : memref<64xf32>
    memref.store %v, %b[%bx] : memref<64xf32>
    gpu.terminator
  }
  return
}

// -----

// The second reads what the first writes (through a view); both write
// arguments; different blocks; a free in between: all five stay.
// CHECK-LABEL: func.func @dependent
// CHECK-COUNT-5: gpu.launch blocks
// CHECK-NOT: scf.if
func.func @dependent(%in: memref<64xf32>, %out: memref<64xf32>, %out2: memref<64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %c64 = arith.constant 64 : index
  %a = memref.alloc() : memref<64xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1) {
    %v = memref.load %in[%tx] : memref<64xf32>
    memref.store %v, %a[%tx] : memref<64xf32>
    gpu.terminator
  }
  %view = memref.subview %a[0] [32] [1] : memref<64xf32> to memref<32xf32, strided<[1]>>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1) {
    %v = memref.load %view[%tx] : memref<32xf32, strided<[1]>>
    memref.store %v, %out[%tx] : memref<64xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1) {
    %v = memref.load %in[%tx] : memref<64xf32>
    memref.store %v, %out2[%tx] : memref<64xf32>
    gpu.terminator
  }
  %b = memref.alloc() : memref<64xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c64, %sy = %c1, %sz = %c1) {
    %v = memref.load %in[%tx] : memref<64xf32>
    memref.store %v, %b[%tx] : memref<64xf32>
    gpu.terminator
  }
  memref.dealloc %a : memref<64xf32>
  %c = memref.alloc() : memref<64xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c64, %sy = %c1, %sz = %c1) {
    %v = memref.load %in[%tx] : memref<64xf32>
    memref.store %v, %c[%tx] : memref<64xf32>
    gpu.terminator
  }
  return
}
