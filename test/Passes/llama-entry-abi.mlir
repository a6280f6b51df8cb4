// RUN: llama-opt %s --split-input-file --llama-entry-abi --verify-diagnostics | FileCheck %s

// Tests that each bufferized entry point gets a C wrapper whose parameters
// come in the ABI's role order (tokens + n_tokens, position, logit_rows,
// arrays of pointers for weights and caches, outputs last) with the logits
// sized by logit_rows, that the entry points and
// helpers become internal, and that the manifest lists the config, every
// weight and cache with its shape, and each entry point's symbol and kind.
// CHECK: func.func private @layer({{.*}} attributes {llvm.linkage = #llvm.linkage<internal>}
// CHECK: func.func private @prefill({{.*}} attributes {llvm.linkage = #llvm.linkage<internal>}
// CHECK-LABEL: func.func @llama_prefill(
// CHECK-SAME: %[[TOKENS:[a-z0-9]+]]: !llvm.ptr, %[[N:[a-z0-9]+]]: i64, %[[POS:[a-z0-9]+]]: i64, %[[ROWS:[a-z0-9]+]]: i64, %[[WEIGHTS:[a-z0-9]+]]: !llvm.ptr, %[[CACHES:[a-z0-9]+]]: !llvm.ptr, %[[LOGITS:[a-z0-9]+]]: !llvm.ptr)
// CHECK: arith.index_cast %[[POS]] : i64 to index
// CHECK: arith.index_cast %[[ROWS]] : i64 to index
// CHECK: llvm.getelementptr %[[WEIGHTS]][0]
// CHECK: llvm.getelementptr %[[WEIGHTS]][1]
// CHECK: llvm.getelementptr %[[CACHES]][0]
// The logits' descriptor: logit_rows x 10.
// CHECK: %[[L1:.*]] = llvm.insertvalue %[[LOGITS]], %{{.*}}[0]
// CHECK: %[[L2:.*]] = llvm.insertvalue %[[LOGITS]], %[[L1]][1]
// CHECK: %[[L3:.*]] = llvm.insertvalue %{{.*}}, %[[L2]][2]
// CHECK: llvm.insertvalue %{{.*}}, %{{.*}}[3, 1]
// CHECK: llvm.insertvalue %{{.*}}, %{{.*}}[4, 1]
// CHECK: llvm.insertvalue %[[ROWS]], %{{.*}}[3, 0]
// CHECK: call @prefill(
// CHECK: llvm.mlir.global external constant @llama_manifest("{\22compiler\22:\22llamac {{.*}}\22,\22config\22:{\22dim\22:4,
// CHECK-SAME: \22dtype\22:\22f32\22,\22entry_points\22:[{\22kind\22:\22inference\22,\22max_tokens\22:null,\22name\22:\22prefill\22,\22symbol\22:\22llama_prefill\22}]
// CHECK-SAME: \22format\22:\22llamac-artifact\22,\22kv_caches\22:[{\22name\22:\22layers.0.key\22,\22shape\22:[16,1,2]}],\22target\22:\22cpu\22,\22version\22:7,
// CHECK-SAME: \22weights\22:[{\22name\22:\22embed\22,\22shape\22:[10,4]},{\22name\22:\22norm\22,\22shape\22:[4]}]}\00")
module attributes {llama.config = {dim = 4 : i64, hidden_dim = 8 : i64, n_layers = 1 : i64, n_heads = 2 : i64, n_kv_heads = 1 : i64, head_dim = 2 : i64, vocab_size = 10 : i64, seq_len = 16 : i64, norm_eps = 1.0e-05 : f64, rope_theta = 1.0e+04 : f64, tie_embeddings = true}} {
  func.func private @layer(%x: memref<?x4xf32>) -> memref<?x4xf32> {
    return %x : memref<?x4xf32>
  }
  func.func private @prefill(%tokens: memref<?xi32> {llama.input = "tokens"}, %position: index {llama.input = "position"},
                             %rows: index {llama.input = "logit_rows"},
                             %embed: memref<10x4xf32> {llama.weight = "embed"}, %norm: memref<4xf32> {llama.weight = "norm"},
                             %kc: memref<16x1x2xf32> {llama.kv_cache = "layers.0.key"},
                             %logits: memref<?x10xf32> {llama.output = "logits"}) {
    return
  }
}

// -----

// Tests that a module without entry points (an op test) gets no wrapper and
// no manifest.
// CHECK-LABEL: func.func @main()
// CHECK-NOT: llama_manifest
func.func @main() {
  return
}

// -----

// Tests that an updated tensor that bufferization could not write in place
// (it became an out-parameter) is an error.
// expected-error @+1 {{argument 2 is an updated tensor that bufferization could not write in place}}
func.func private @train_step(%tokens: memref<2x5xi32> {llama.input = "tokens"}, %w: memref<4xf32> {llama.weight = "w"},
                              %new_w: memref<4xf32> {llama.updated = "weight"}) {
  return
}

// -----

// Tests that bf16 weights make the manifest's dtype "bf16" (what the runtime
// passes them as), while caches and outputs stay f32.
// CHECK-LABEL: func.func @llama_decode(
// CHECK: llama_manifest("{{.*}}\22dtype\22:\22bf16\22,
module attributes {llama.config = {dim = 4 : i64, hidden_dim = 8 : i64, n_layers = 1 : i64, n_heads = 2 : i64, n_kv_heads = 1 : i64, head_dim = 2 : i64, vocab_size = 10 : i64, seq_len = 16 : i64, norm_eps = 1.0e-05 : f64, rope_theta = 1.0e+04 : f64, tie_embeddings = true}} {
  func.func private @decode(%tokens: memref<1xi32> {llama.input = "tokens"}, %position: index {llama.input = "position"},
                            %rows: index {llama.input = "logit_rows"},
                            %embed: memref<10x4xbf16> {llama.weight = "embed"}, %norm: memref<4xbf16> {llama.weight = "norm"},
                            %kc: memref<16x1x2xf32> {llama.kv_cache = "layers.0.key"},
                            %logits: memref<1x10xf32> {llama.output = "logits"}) {
    return
  }
}

// -----

// Tests that weights of two element types are an error: the ABI passes them
// all as one dtype.
module attributes {llama.config = {dim = 4 : i64, hidden_dim = 8 : i64, n_layers = 1 : i64, n_heads = 2 : i64, n_kv_heads = 1 : i64, head_dim = 2 : i64, vocab_size = 10 : i64, seq_len = 16 : i64, norm_eps = 1.0e-05 : f64, rope_theta = 1.0e+04 : f64, tie_embeddings = true}} {
  // expected-error @+1 {{weights of two element types ('bf16', 'f32')}}
  func.func private @decode(%tokens: memref<1xi32> {llama.input = "tokens"}, %position: index {llama.input = "position"},
                            %rows: index {llama.input = "logit_rows"},
                            %embed: memref<10x4xbf16> {llama.weight = "embed"}, %norm: memref<4xf32> {llama.weight = "norm"},
                            %logits: memref<1x10xf32> {llama.output = "logits"}) {
    return
  }
}

// -----

// Tests a reward model's entry points: sequence_ends and margins come after
// the tokens (no n_tokens for 2-D tokens), the kinds are score and
// reward_step, and "seq" is the tokens' columns (every position is scored,
// none is a shifted target).
// CHECK-LABEL: func.func @llama_score(
// CHECK-SAME: %[[TOKENS:[a-z0-9]+]]: !llvm.ptr, %[[ENDS:[a-z0-9]+]]: !llvm.ptr, %[[WEIGHTS:[a-z0-9]+]]: !llvm.ptr, %[[REWARDS:[a-z0-9]+]]: !llvm.ptr)
// CHECK: call @score(
// CHECK-LABEL: func.func @llama_train_step(
// CHECK-SAME: %[[TOKENS:[a-z0-9]+]]: !llvm.ptr, %[[ENDS:[a-z0-9]+]]: !llvm.ptr, %[[MARGINS:[a-z0-9]+]]: !llvm.ptr, %[[STEP:[a-z0-9]+]]: !llvm.ptr, %[[WEIGHTS:[a-z0-9]+]]: !llvm.ptr, %[[M:[a-z0-9]+]]: !llvm.ptr, %[[V:[a-z0-9]+]]: !llvm.ptr, %[[LOSS:[a-z0-9]+]]: !llvm.ptr, %[[NORM:[a-z0-9]+]]: !llvm.ptr)
// CHECK: llama_manifest("{{.*}}\22entry_points\22:[{\22batch\22:4,\22kind\22:\22score\22,\22name\22:\22score\22,\22seq\22:6,\22symbol\22:\22llama_score\22},{\22batch\22:4,\22kind\22:\22reward_step\22,\22name\22:\22train_step\22,\22seq\22:6,\22symbol\22:\22llama_train_step\22}]
module attributes {llama.config = {dim = 4 : i64, hidden_dim = 8 : i64, n_layers = 1 : i64, n_heads = 2 : i64, n_kv_heads = 1 : i64, head_dim = 2 : i64, vocab_size = 10 : i64, seq_len = 16 : i64, norm_eps = 1.0e-05 : f64, rope_theta = 1.0e+04 : f64, tie_embeddings = true}} {
  func.func private @score(%tokens: memref<4x6xi32> {llama.input = "tokens"}, %ends: memref<4xi32> {llama.input = "sequence_ends"},
                           %head: memref<1x4xf32> {llama.weight = "score.weight"},
                           %rewards: memref<4xf32> {llama.output = "rewards"}) {
    return
  }
  func.func private @train_step(%tokens: memref<4x6xi32> {llama.input = "tokens"}, %ends: memref<4xi32> {llama.input = "sequence_ends"},
                                %margins: memref<2xf32> {llama.input = "margins"}, %step: memref<2xf32> {llama.input = "step_params"},
                                %head: memref<1x4xf32> {llama.weight = "score.weight"},
                                %m: memref<1x4xf32> {llama.adam_m = "score.weight"}, %v: memref<1x4xf32> {llama.adam_v = "score.weight"},
                                %loss: memref<f32> {llama.output = "loss"}, %norm: memref<f32> {llama.output = "grad_norm"}) {
    return
  }
}

// -----

// Tests PPO's entry points: the kinds follow from the inputs (logprobs takes
// ppo_params, the policy step advantages, values nothing but tokens, the
// value step returns); the C parameters come in role order whatever the
// arguments' order, the statistics after the loss and the gradient norm;
// "seq" is the tokens' columns - 1 (position t predicts token t + 1).
// CHECK-LABEL: func.func @llama_logprobs(
// CHECK-SAME: %{{[a-z0-9]+}}: !llvm.ptr, %{{[a-z0-9]+}}: !llvm.ptr, %{{[a-z0-9]+}}: !llvm.ptr, %[[LP:[a-z0-9]+]]: !llvm.ptr, %[[H:[a-z0-9]+]]: !llvm.ptr)
// CHECK-LABEL: func.func @llama_policy_step(
// CHECK-SAME: %[[TOKENS:[a-z0-9]+]]: !llvm.ptr, %[[MASK:[a-z0-9]+]]: !llvm.ptr, %[[PARAMS:[a-z0-9]+]]: !llvm.ptr, %[[OLD:[a-z0-9]+]]: !llvm.ptr, %[[ADV:[a-z0-9]+]]: !llvm.ptr, %[[STEP:[a-z0-9]+]]: !llvm.ptr, %[[W:[a-z0-9]+]]: !llvm.ptr, %[[M:[a-z0-9]+]]: !llvm.ptr, %[[V:[a-z0-9]+]]: !llvm.ptr, %[[LOSS:[a-z0-9]+]]: !llvm.ptr, %[[NORM:[a-z0-9]+]]: !llvm.ptr, %[[CLIPPED:[a-z0-9]+]]: !llvm.ptr, %[[KL:[a-z0-9]+]]: !llvm.ptr)
// CHECK: call @policy_step(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}})
// CHECK-LABEL: func.func @llama_values(
// CHECK-SAME: %{{[a-z0-9]+}}: !llvm.ptr, %{{[a-z0-9]+}}: !llvm.ptr, %{{[a-z0-9]+}}: !llvm.ptr)
// CHECK-LABEL: func.func @llama_value_step(
// CHECK-SAME: %[[TOKENS:[a-z0-9]+]]: !llvm.ptr, %[[MASK:[a-z0-9]+]]: !llvm.ptr, %[[PARAMS:[a-z0-9]+]]: !llvm.ptr, %[[OLD:[a-z0-9]+]]: !llvm.ptr, %[[RET:[a-z0-9]+]]: !llvm.ptr, %[[STEP:[a-z0-9]+]]: !llvm.ptr, %{{[a-z0-9]+}}: !llvm.ptr, %{{[a-z0-9]+}}: !llvm.ptr, %{{[a-z0-9]+}}: !llvm.ptr, %[[LOSS:[a-z0-9]+]]: !llvm.ptr, %[[NORM:[a-z0-9]+]]: !llvm.ptr, %[[CLIPPED:[a-z0-9]+]]: !llvm.ptr)
// CHECK: llama_manifest("{{.*}}\22entry_points\22:[{\22batch\22:2,\22kind\22:\22logprobs\22,\22name\22:\22logprobs\22,\22seq\22:5,\22symbol\22:\22llama_logprobs\22},{\22batch\22:2,\22kind\22:\22policy_step\22,\22name\22:\22policy_step\22,\22seq\22:5,\22symbol\22:\22llama_policy_step\22},{\22batch\22:2,\22kind\22:\22values\22,\22name\22:\22values\22,\22seq\22:5,\22symbol\22:\22llama_values\22},{\22batch\22:2,\22kind\22:\22value_step\22,\22name\22:\22value_step\22,\22seq\22:5,\22symbol\22:\22llama_value_step\22}]
module attributes {llama.config = {dim = 4 : i64, hidden_dim = 8 : i64, n_layers = 1 : i64, n_heads = 2 : i64, n_kv_heads = 1 : i64, head_dim = 2 : i64, vocab_size = 10 : i64, seq_len = 16 : i64, norm_eps = 1.0e-05 : f64, rope_theta = 1.0e+04 : f64, tie_embeddings = true}} {
  func.func private @logprobs(%tokens: memref<2x6xi32> {llama.input = "tokens"}, %params: memref<3xf32> {llama.input = "ppo_params"},
                              %embed: memref<10x4xf32> {llama.weight = "embed"},
                              %lp: memref<2x5xf32> {llama.output = "logprobs"}, %h: memref<2x5xf32> {llama.output = "entropy"}) {
    return
  }
  func.func private @policy_step(%tokens: memref<2x6xi32> {llama.input = "tokens"}, %adv: memref<2x5xf32> {llama.input = "advantages"},
                                 %old: memref<2x5xf32> {llama.input = "old_logprobs"}, %params: memref<3xf32> {llama.input = "ppo_params"},
                                 %mask: memref<2x5xf32> {llama.input = "loss_mask"}, %step: memref<2xf32> {llama.input = "step_params"},
                                 %embed: memref<10x4xf32> {llama.weight = "embed"},
                                 %m: memref<10x4xf32> {llama.adam_m = "embed"}, %v: memref<10x4xf32> {llama.adam_v = "embed"},
                                 %loss: memref<f32> {llama.output = "loss"}, %norm: memref<f32> {llama.output = "grad_norm"},
                                 %clipped: memref<f32> {llama.output = "clip_fraction"}, %kl: memref<f32> {llama.output = "approx_kl"}) {
    return
  }
  func.func private @values(%tokens: memref<2x6xi32> {llama.input = "tokens"},
                            %head: memref<1x4xf32> {llama.weight = "score.weight"},
                            %values: memref<2x5xf32> {llama.output = "values"}) {
    return
  }
  func.func private @value_step(%tokens: memref<2x6xi32> {llama.input = "tokens"}, %mask: memref<2x5xf32> {llama.input = "loss_mask"},
                                %params: memref<3xf32> {llama.input = "ppo_params"}, %old: memref<2x5xf32> {llama.input = "old_values"},
                                %returns: memref<2x5xf32> {llama.input = "returns"}, %step: memref<2xf32> {llama.input = "step_params"},
                                %head: memref<1x4xf32> {llama.weight = "score.weight"},
                                %m: memref<1x4xf32> {llama.adam_m = "score.weight"}, %v: memref<1x4xf32> {llama.adam_v = "score.weight"},
                                %loss: memref<f32> {llama.output = "loss"}, %norm: memref<f32> {llama.output = "grad_norm"},
                                %clipped: memref<f32> {llama.output = "clip_fraction"}) {
    return
  }
}
