// RUN: llama-opt %s --llama-privatize-entry-points | FileCheck %s

// Tests that entry points (first argument tagged llama.input) become private
// and that other functions keep their visibility.
// CHECK: func.func private @decode(
// CHECK: func.func @helper(
// CHECK: func.func private @layer(
func.func @decode(%tokens: tensor<1xi32> {llama.input = "tokens"}) -> (tensor<1x4xf32> {llama.output = "logits"}) {
  %0 = arith.constant dense<0.0> : tensor<1x4xf32>
  return %0 : tensor<1x4xf32>
}
func.func @helper(%x: tensor<1xi32>) -> tensor<1xi32> {
  return %x : tensor<1xi32>
}
func.func private @layer(%x: tensor<1xi32>) -> tensor<1xi32> {
  return %x : tensor<1xi32>
}
