// Tests that the hand-written example in examples/ stays valid IR and that
// its layer reads top-down as the README shows.
// RUN: llama-opt %llamac_src/examples/decode-step.mlir | FileCheck %s

// CHECK-LABEL: func.func @decode
// CHECK: llama.embedding
// CHECK: llama.rms_norm
// CHECK-COUNT-3: llama.linear
// CHECK-COUNT-2: llama.rope
// CHECK: llama.cached_attention
// CHECK: llama.linear
// CHECK: llama.add
// CHECK: llama.rms_norm
// CHECK-COUNT-2: llama.linear
// CHECK: llama.swiglu
// CHECK: llama.linear
// CHECK: llama.add
// CHECK: llama.rms_norm
// CHECK: llama.linear
// CHECK: return
