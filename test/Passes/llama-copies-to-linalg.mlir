// RUN: llama-opt %s --llama-copies-to-linalg | FileCheck %s

// Tests that memref.copy (a KV-cache row into a strided view of the cache)
// becomes linalg.copy, so no MLIR runtime library is needed.
// CHECK-LABEL: func.func @write_row(
// CHECK-SAME: %[[ROW:.*]]: memref<1x2x4xf32>, %[[CACHE:.*]]: memref<16x2x4xf32>
// CHECK: %[[VIEW:.*]] = memref.subview %[[CACHE]]
// CHECK: linalg.copy ins(%[[ROW]] : memref<1x2x4xf32>) outs(%[[VIEW]] : memref<1x2x4xf32, strided<[8, 4, 1], offset: ?>>)
// CHECK-NOT: memref.copy
func.func @write_row(%row: memref<1x2x4xf32>, %cache: memref<16x2x4xf32>, %pos: index) {
  %view = memref.subview %cache[%pos, 0, 0] [1, 2, 4] [1, 1, 1] : memref<16x2x4xf32> to memref<1x2x4xf32, strided<[8, 4, 1], offset: ?>>
  memref.copy %row, %view : memref<1x2x4xf32> to memref<1x2x4xf32, strided<[8, 4, 1], offset: ?>>
  return
}
