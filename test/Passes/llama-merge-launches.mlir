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

// -----

// Arguments that are distinct memory: the entry point's (its arguments
// carry the manifest's roles) and a layer's, every call of which passes
// distinct buffers. Writes of two of them, and a read of a constant global,
// share one launch.
// CHECK-LABEL: func.func private @layer
// CHECK-COUNT-1: gpu.launch blocks
// CHECK-NOT: gpu.launch blocks
memref.global "private" constant @table : memref<64xf32> = dense<1.0>
func.func private @layer(%k: memref<64xf32>, %v: memref<64xf32>, %x: memref<64xf32>) {
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %t = memref.get_global @table : memref<64xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c64, %sy = %c1, %sz = %c1) {
    %a = memref.load %x[%tx] : memref<64xf32>
    %b = memref.load %t[%tx] : memref<64xf32>
    %s = arith.addf %a, %b : f32
    memref.store %s, %k[%tx] : memref<64xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c64, %sy = %c1, %sz = %c1) {
    %a = memref.load %x[%tx] : memref<64xf32>
    memref.store %a, %v[%tx] : memref<64xf32>
    gpu.terminator
  }
  return
}
func.func private @entry(%k: memref<64xf32> {llama.kv_cache = "layers.0.key"}, %v: memref<64xf32> {llama.kv_cache = "layers.0.value"}) {
  %x = memref.alloc() : memref<64xf32>
  call @layer(%k, %v, %x) : (memref<64xf32>, memref<64xf32>, memref<64xf32>) -> ()
  memref.dealloc %x : memref<64xf32>
  return
}

// -----

// One call passes the same buffer twice: the layer's arguments may alias,
// and its two writes stay apart.
// CHECK-LABEL: func.func private @aliased
// CHECK-COUNT-2: gpu.launch blocks
func.func private @aliased(%k: memref<64xf32>, %v: memref<64xf32>) {
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %zero = arith.constant 0.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c64, %sy = %c1, %sz = %c1) {
    memref.store %zero, %k[%tx] : memref<64xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c64, %sy = %c1, %sz = %c1) {
    memref.store %zero, %v[%tx] : memref<64xf32>
    gpu.terminator
  }
  return
}
func.func private @entry2(%k: memref<64xf32> {llama.kv_cache = "layers.0.key"}, %v: memref<64xf32> {llama.kv_cache = "layers.0.value"}) {
  call @aliased(%k, %v) : (memref<64xf32>, memref<64xf32>) -> ()
  call @aliased(%k, %k) : (memref<64xf32>, memref<64xf32>) -> ()
  return
}
