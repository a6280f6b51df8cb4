// RUN: llama-opt %s --convert-llama-to-linalg -verify-diagnostics

// Tests that an op without a lowering (the training path's attention) stops
// the conversion with a diagnostic instead of leaving llama ops behind.
func.func @attention(%q: tensor<8x4x16xf32>) -> tensor<8x4x16xf32> {
  // expected-error @+1 {{failed to legalize operation 'llama.attention' that was explicitly marked illegal}}
  %0 = llama.attention %q, %q, %q scale(0.25) : (tensor<8x4x16xf32>, tensor<8x4x16xf32>, tensor<8x4x16xf32>) -> tensor<8x4x16xf32>
  return %0 : tensor<8x4x16xf32>
}
