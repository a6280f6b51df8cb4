// RUN: llama-opt %s --split-input-file --verify-diagnostics | FileCheck %s

// Tests that the contract attributes verify where they belong: inputs, named
// weights and caches on arguments, outputs on results and on out-parameters,
// the config on the module.
// CHECK-LABEL: module attributes {llama.config
// CHECK: func.func @prefill(%{{.*}}: tensor<?xi32> {llama.input = "tokens"}, %{{.*}}: tensor<4xf32> {llama.weight = "model.norm.weight"}, %{{.*}}: memref<2xf32> {llama.output = "logits"})
module attributes {llama.config = {dim = 4 : i64, hidden_dim = 8 : i64, n_layers = 1 : i64, n_heads = 2 : i64, n_kv_heads = 1 : i64, head_dim = 2 : i64, vocab_size = 10 : i64, seq_len = 16 : i64, norm_eps = 1.0e-05 : f64, rope_theta = 1.0e+04 : f64, tie_embeddings = true}} {
  func.func @prefill(%tokens: tensor<?xi32> {llama.input = "tokens"}, %w: tensor<4xf32> {llama.weight = "model.norm.weight"}, %out: memref<2xf32> {llama.output = "logits"}) -> (tensor<4xf32> {llama.updated = "weight"}) {
    return %w : tensor<4xf32>
  }
}

// -----

// Tests that llama.input names one of the inputs the ABI knows.
// expected-error @+1 {{'llama.input' must be one of tokens, position, logit_rows, loss_mask, step_params, sequence_ends, margins, ppo_params, old_logprobs, advantages, old_values, returns, got "weights"}}
func.func @f(%x: tensor<2xf32> {llama.input = "weights"}) {
  return
}

// -----

// Tests that a weight is an argument, never a result.
// expected-error @+1 {{'llama.weight' is not an attribute of function results}}
func.func @f(%x: tensor<2xf32>) -> (tensor<2xf32> {llama.weight = "w"}) {
  return %x : tensor<2xf32>
}

// -----

// Tests that a weight's name is not empty.
// expected-error @+1 {{'llama.weight' must name a tensor}}
func.func @f(%x: tensor<2xf32> {llama.weight = ""}) {
  return
}

// -----

// Tests that llama.output is one of the outputs the ABI knows.
// expected-error @+1 {{'llama.output' must be one of logits, loss, grad_norm, rewards, logprobs, entropy, values, clip_fraction, approx_kl, got "probs"}}
func.func @f(%x: tensor<2xf32>) -> (tensor<2xf32> {llama.output = "probs"}) {
  return %x : tensor<2xf32>
}

// -----

// Tests that the roles are strings.
// expected-error @+1 {{'llama.kv_cache' must be a string}}
func.func @f(%x: tensor<2xf32> {llama.kv_cache = 3 : i64}) {
  return
}

// -----

// Tests that an unknown llama attribute is an error.
// expected-error @+1 {{'llama.layer' is not an attribute of function arguments}}
func.func @f(%x: tensor<2xf32> {llama.layer = "0"}) {
  return
}

// -----

// Tests that the config sits on the module.
// expected-error @+1 {{'llama.config' belongs on the module}}
func.func @f() attributes {llama.config = {}} {
  return
}

// -----

// Tests that the config has every key of the manifest's config.
// expected-error @+1 {{'llama.config' needs a positive integer 'hidden_dim'}}
module attributes {llama.config = {dim = 4 : i64}} {
}
