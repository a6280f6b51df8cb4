// RUN: llama-opt %s --split-input-file --llama-gpu-math-intrinsics -verify-diagnostics | FileCheck %s

// Tests that libdevice calls NVPTX has instructions for become LLVM
// intrinsics (their declarations go), and that any other is an error.

// CHECK-LABEL: llvm.func @norm
// CHECK-NOT: llvm.call
// CHECK: %[[S:.*]] = llvm.intr.sqrt(%arg0) : (f32) -> f32
// CHECK: %[[F:.*]] = llvm.intr.fma(%[[S]], %arg0, %arg0) : (f32, f32, f32) -> f32
// CHECK: llvm.intr.floor(%[[F]]) : (f32) -> f32
// CHECK-NOT: __nv_
llvm.func @__nv_sqrtf(f32) -> f32
llvm.func @__nv_fmaf(f32, f32, f32) -> f32
llvm.func @__nv_floorf(f32) -> f32
llvm.func @norm(%x: f32) -> f32 {
  %s = llvm.call @__nv_sqrtf(%x) : (f32) -> f32
  %f = llvm.call @__nv_fmaf(%s, %x, %x) : (f32, f32, f32) -> f32
  %r = llvm.call @__nv_floorf(%f) : (f32) -> f32
  llvm.return %r : f32
}

// -----

llvm.func @__nv_tanhf(f32) -> f32
llvm.func @squash(%x: f32) -> f32 {
  // expected-error @+1 {{'__nv_tanhf' needs libdevice (the CUDA toolkit)}}
  %t = llvm.call @__nv_tanhf(%x) : (f32) -> f32
  llvm.return %t : f32
}
