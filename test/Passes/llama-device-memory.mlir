// RUN: llama-opt %s --split-input-file --llama-device-memory -verify-diagnostics | FileCheck %s

// Tests that host buffers move to device memory (gpu.alloc and gpu.dealloc,
// which gpu-async-region then puts on the function's stream) and that host
// code touching a buffer is an error.

// CHECK-LABEL: func.func @buffers
// CHECK: %[[B:.*]] = gpu.alloc  (%{{.*}}) : memref<?xf32>
// CHECK: gpu.launch_func @kernels::@fill
// CHECK-SAME: args(%[[B]] : memref<?xf32>)
// CHECK: gpu.dealloc  %[[B]] : memref<?xf32>
// CHECK-NOT: memref.alloc
// CHECK-NOT: memref.dealloc
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @fill(%b: memref<?xf32>) kernel {
      gpu.return
    }
  }
  func.func @buffers(%n: index) {
    %c1 = arith.constant 1 : index
    %b = memref.alloc(%n) : memref<?xf32>
    gpu.launch_func @kernels::@fill blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%b : memref<?xf32>)
    memref.dealloc %b : memref<?xf32>
    return
  }
}

// -----

func.func @host_load(%b: memref<4xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{'memref.load' would run on the host over device memory: every access to a buffer must be in a kernel}}
  %x = memref.load %b[%c0] : memref<4xf32>
  return %x : f32
}
