// RUN: llama-opt %s --split-input-file --llama-forward-fills | FileCheck %s

// Tests that a copy of a buffer still holding a fill's value becomes a fill
// of the copy's target: across ops on other allocations, globals and the
// function's arguments, not across one that may touch the source.

memref.global "private" constant @table : memref<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>

// CHECK-LABEL: func.func @forwarded
// CHECK: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[A:.*]] = memref.alloc() : memref<4xf32>
// CHECK: %[[B:.*]] = memref.alloc() : memref<4xf32>
// CHECK: linalg.fill ins(%[[ZERO]] : f32) outs(%[[A]] : memref<4xf32>)
// CHECK: linalg.copy
// CHECK: linalg.copy
// CHECK: linalg.fill ins(%[[ZERO]] : f32) outs(%[[B]] : memref<4xf32>)
// CHECK-NOT: linalg.copy
func.func @forwarded(%arg: memref<4xf32>) {
  %zero = arith.constant 0.0 : f32
  %a = memref.alloc() : memref<4xf32>
  %b = memref.alloc() : memref<4xf32>
  %other = memref.alloc() : memref<4xf32>
  %table = memref.get_global @table : memref<4xf32>
  linalg.fill ins(%zero : f32) outs(%a : memref<4xf32>)
  linalg.copy ins(%table : memref<4xf32>) outs(%other : memref<4xf32>)
  linalg.copy ins(%other : memref<4xf32>) outs(%arg : memref<4xf32>)
  linalg.copy ins(%a : memref<4xf32>) outs(%b : memref<4xf32>)
  return
}

// -----

// An op that writes the source's allocation (through a view) in between:
// the copy stays.
// CHECK-LABEL: func.func @touched
// CHECK: linalg.copy ins(%{{.*}} : memref<4xf32>) outs(%{{.*}} : memref<4xf32>)
func.func @touched(%arg: memref<2xf32>) {
  %zero = arith.constant 0.0 : f32
  %a = memref.alloc() : memref<4xf32>
  %b = memref.alloc() : memref<4xf32>
  linalg.fill ins(%zero : f32) outs(%a : memref<4xf32>)
  %half = memref.subview %a[2] [2] [1] : memref<4xf32> to memref<2xf32, strided<[1], offset: 2>>
  linalg.copy ins(%arg : memref<2xf32>) outs(%half : memref<2xf32, strided<[1], offset: 2>>)
  linalg.copy ins(%a : memref<4xf32>) outs(%b : memref<4xf32>)
  return
}

// -----

// A source that is a function argument (it may alias the others): only a
// fill right before the copy is followed.
// CHECK-LABEL: func.func @argument
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%arg1 : memref<4xf32>)
// CHECK: linalg.copy ins(%arg0 : memref<4xf32>) outs(%arg2 : memref<4xf32>)
func.func @argument(%a: memref<4xf32>, %b: memref<4xf32>, %c: memref<4xf32>) {
  %zero = arith.constant 0.0 : f32
  %other = memref.alloc() : memref<4xf32>
  linalg.fill ins(%zero : f32) outs(%a : memref<4xf32>)
  linalg.copy ins(%a : memref<4xf32>) outs(%b : memref<4xf32>)
  linalg.fill ins(%zero : f32) outs(%other : memref<4xf32>)
  linalg.copy ins(%a : memref<4xf32>) outs(%c : memref<4xf32>)
  return
}
