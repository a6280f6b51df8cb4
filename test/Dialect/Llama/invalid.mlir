// RUN: llama-opt %s -split-input-file -verify-diagnostics

// Tests that the embedding table must be a matrix.
func.func @embedding_table_rank(%t: tensor<100xf32>, %ids: tensor<4xi32>) {
  // expected-error @+1 {{table must be [vocab_size, dim], got rank 1}}
  %0 = llama.embedding %t[%ids] : (tensor<100xf32>, tensor<4xi32>) -> tensor<4x64xf32>
  return
}

// -----

// Tests that an embedding adds exactly one dimension to the token ids.
func.func @embedding_result_rank(%t: tensor<100x64xf32>, %ids: tensor<4xi32>) {
  // expected-error @+1 {{result must have the tokens' rank + 1 (2), got rank 3}}
  %0 = llama.embedding %t[%ids] : (tensor<100x64xf32>, tensor<4xi32>) -> tensor<1x4x64xf32>
  return
}

// -----

// Tests that the embedding result keeps the token ids' shape.
func.func @embedding_result_tokens(%t: tensor<100x64xf32>, %ids: tensor<4xi32>) {
  // expected-error @+1 {{result dimension 0 (5) does not match tokens dimension 0 (4)}}
  %0 = llama.embedding %t[%ids] : (tensor<100x64xf32>, tensor<4xi32>) -> tensor<5x64xf32>
  return
}

// -----

// Tests that the embedding result rows are the table's width.
func.func @embedding_result_dim(%t: tensor<100x64xf32>, %ids: tensor<?xi32>) {
  // expected-error @+1 {{result's last dimension (32) does not match the table's dim (64)}}
  %0 = llama.embedding %t[%ids] : (tensor<100x64xf32>, tensor<?xi32>) -> tensor<?x32xf32>
  return
}

// -----

// Tests that token ids must be integers.
func.func @embedding_float_ids(%t: tensor<100x64xf32>, %ids: tensor<4xf32>) {
  // expected-error @+1 {{operand #1 must be ranked tensor of 32-bit signless integer or 64-bit signless integer values}}
  %0 = llama.embedding %t[%ids] : (tensor<100x64xf32>, tensor<4xf32>) -> tensor<4x64xf32>
  return
}

// -----

// Tests that f64 is not a supported element type.
func.func @f64_activations(%x: tensor<4x64xf64>, %w: tensor<64xf64>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of 32-bit float or bfloat16 type or 16-bit float values}}
  %0 = llama.rms_norm %x, %w eps(1.0e-05) : (tensor<4x64xf64>, tensor<64xf64>) -> tensor<4x64xf64>
  return
}

// -----

// Tests that rms_norm needs a dimension to normalise over.
func.func @rms_norm_scalar(%x: tensor<f32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{input must have at least one dimension}}
  %0 = llama.rms_norm %x, %w eps(1.0e-05) : (tensor<f32>, tensor<64xf32>) -> tensor<f32>
  return
}

// -----

// Tests that the rms_norm gain is a vector.
func.func @rms_norm_weight_rank(%x: tensor<4x64xf32>, %w: tensor<1x64xf32>) {
  // expected-error @+1 {{weight must be [dim], got rank 2}}
  %0 = llama.rms_norm %x, %w eps(1.0e-05) : (tensor<4x64xf32>, tensor<1x64xf32>) -> tensor<4x64xf32>
  return
}

// -----

// Tests that the rms_norm gain has the hidden size.
func.func @rms_norm_weight_size(%x: tensor<4x64xf32>, %w: tensor<32xf32>) {
  // expected-error @+1 {{weight size (32) does not match the input's last dimension (64)}}
  %0 = llama.rms_norm %x, %w eps(1.0e-05) : (tensor<4x64xf32>, tensor<32xf32>) -> tensor<4x64xf32>
  return
}

// -----

// Tests that rms_norm returns the input's type.
func.func @rms_norm_result(%x: tensor<4x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{result type 'tensor<4x64xf16>' must match the input type 'tensor<4x64xf32>'}}
  %0 = llama.rms_norm %x, %w eps(1.0e-05) : (tensor<4x64xf32>, tensor<64xf32>) -> tensor<4x64xf16>
  return
}

// -----

// Tests that eps must be positive.
func.func @rms_norm_eps(%x: tensor<4x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{eps must be positive and finite, got 0}}
  %0 = llama.rms_norm %x, %w eps(0.0) : (tensor<4x64xf32>, tensor<64xf32>) -> tensor<4x64xf32>
  return
}

// -----

// Tests that a negative eps is refused too.
func.func @rms_norm_negative_eps(%x: tensor<4x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{eps must be positive and finite, got -1.000000e-05}}
  %0 = llama.rms_norm %x, %w eps(-1.0e-05) : (tensor<4x64xf32>, tensor<64xf32>) -> tensor<4x64xf32>
  return
}

// -----

// Tests that linear needs a feature dimension.
func.func @linear_scalar(%x: tensor<f32>, %w: tensor<8x64xf32>) {
  // expected-error @+1 {{input must have at least one dimension}}
  %0 = llama.linear %x, %w : (tensor<f32>, tensor<8x64xf32>) -> tensor<8xf32>
  return
}

// -----

// Tests that a linear's residual has the result's type.
func.func @linear_residual_type(%x: tensor<4x64xf32>, %w: tensor<32x64xf32>, %r: tensor<4x64xf32>) {
  // expected-error @+1 {{residual type 'tensor<4x64xf32>' must be the result type 'tensor<4x32xf32>'}}
  %0 = llama.linear %x, %w residual(%r) : (tensor<4x64xf32>, tensor<32x64xf32>, tensor<4x64xf32>) -> tensor<4x32xf32>
  return
}

// -----

// Tests that fused projections take two or more weights.
func.func @projections_one_weight(%x: tensor<4x64xf32>, %w: tensor<32x64xf32>) {
  // expected-error @+1 {{needs at least two weights (one is a llama.linear), got 1}}
  %0 = llama.projections %x, %w : (tensor<4x64xf32>, tensor<32x64xf32>) -> tensor<4x32xf32>
  return
}

// -----

// Tests that fused projections have one result per weight.
func.func @projections_results(%x: tensor<4x64xf32>, %w: tensor<32x64xf32>) {
  // expected-error @+1 {{has 2 weights but 1 results}}
  %0 = llama.projections %x, %w, %w : (tensor<4x64xf32>, tensor<32x64xf32>, tensor<32x64xf32>) -> tensor<4x32xf32>
  return
}

// -----

// Tests that each fused projection's result matches its weight.
func.func @projections_result_features(%x: tensor<4x64xf32>, %wq: tensor<32x64xf32>, %wk: tensor<16x64xf32>) {
  // expected-error @+1 {{result has 32 features but the weight [out, in] gives 16}}
  %0:2 = llama.projections %x, %wq, %wk : (tensor<4x64xf32>, tensor<32x64xf32>, tensor<16x64xf32>) -> (tensor<4x32xf32>, tensor<4x32xf32>)
  return
}

// -----

// Tests that the fused gate and up weights have one type.
func.func @swiglu_projection_weights(%x: tensor<4x64xf32>, %wg: tensor<172x64xf32>, %wu: tensor<172x64xbf16>) {
  // expected-error @+1 {{gate weight 'tensor<172x64xf32>' and up weight 'tensor<172x64xbf16>' must have one type}}
  %0 = llama.swiglu_projection %x, %wg, %wu : (tensor<4x64xf32>, tensor<172x64xf32>, tensor<172x64xbf16>) -> tensor<4x172xf32>
  return
}

// -----

// Tests that the fused gate's input has the weights' features.
func.func @swiglu_projection_features(%x: tensor<4x32xf32>, %w: tensor<172x64xf32>) {
  // expected-error @+1 {{input has 32 features but the weight [out, in] takes 64}}
  %0 = llama.swiglu_projection %x, %w, %w : (tensor<4x32xf32>, tensor<172x64xf32>, tensor<172x64xf32>) -> tensor<4x172xf32>
  return
}

// -----

// Tests that the linear weight is [out, in].
func.func @linear_weight_rank(%x: tensor<4x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{weight must be [out_features, in_features], got rank 1}}
  %0 = llama.linear %x, %w : (tensor<4x64xf32>, tensor<64xf32>) -> tensor<4x64xf32>
  return
}

// -----

// Tests that a transposed ([in, out]) weight is caught.
func.func @linear_in_features(%x: tensor<4x64xf32>, %w: tensor<64x172xf32>) {
  // expected-error @+1 {{input has 64 features but the weight [out, in] takes 172}}
  %0 = llama.linear %x, %w : (tensor<4x64xf32>, tensor<64x172xf32>) -> tensor<4x64xf32>
  return
}

// -----

// Tests that linear keeps the input's rank.
func.func @linear_result_rank(%x: tensor<4x64xf32>, %w: tensor<172x64xf32>) {
  // expected-error @+1 {{result must have the input's rank (2), got rank 1}}
  %0 = llama.linear %x, %w : (tensor<4x64xf32>, tensor<172x64xf32>) -> tensor<172xf32>
  return
}

// -----

// Tests that linear keeps the input's leading dimensions.
func.func @linear_result_rows(%x: tensor<4x64xf32>, %w: tensor<172x64xf32>) {
  // expected-error @+1 {{result dimension 0 (3) does not match input dimension 0 (4)}}
  %0 = llama.linear %x, %w : (tensor<4x64xf32>, tensor<172x64xf32>) -> tensor<3x172xf32>
  return
}

// -----

// Tests that linear produces out_features columns.
func.func @linear_out_features(%x: tensor<4x64xf32>, %w: tensor<172x64xf32>) {
  // expected-error @+1 {{result has 64 features but the weight [out, in] gives 172}}
  %0 = llama.linear %x, %w : (tensor<4x64xf32>, tensor<172x64xf32>) -> tensor<4x64xf32>
  return
}

// -----

// Tests that linear computes in the activations' element type.
func.func @linear_result_element(%x: tensor<4x64xf32>, %w: tensor<172x64xbf16>) {
  // expected-error @+1 {{result element type 'bf16' must match the input element type 'f32'}}
  %0 = llama.linear %x, %w : (tensor<4x64xf32>, tensor<172x64xbf16>) -> tensor<4x172xbf16>
  return
}

// -----

// Tests that swiglu's gate and up projections have one type.
func.func @swiglu_types(%g: tensor<4x172xf32>, %u: tensor<4x64xf32>) {
  // expected-error @+1 {{failed to verify that all of {gate, up, result} have same type}}
  %0 = "llama.swiglu"(%g, %u) : (tensor<4x172xf32>, tensor<4x64xf32>) -> tensor<4x172xf32>
  return
}

// -----

// Tests that a residual add joins tensors of one type.
func.func @add_types(%a: tensor<4x64xf32>, %b: tensor<4x64xbf16>) {
  // expected-error @+1 {{failed to verify that all of {lhs, rhs, result} have same type}}
  %0 = "llama.add"(%a, %b) : (tensor<4x64xf32>, tensor<4x64xbf16>) -> tensor<4x64xf32>
  return
}

// -----

// Tests that rope needs [..., seq, heads, head_dim].
func.func @rope_rank(%x: tensor<8x64xf32>, %pos: tensor<8xi32>) {
  // expected-error @+1 {{input must be [..., seq, heads, head_dim], got rank 2}}
  %0 = llama.rope %x, %pos theta(1.0e+04) : (tensor<8x64xf32>, tensor<8xi32>) -> tensor<8x64xf32>
  return
}

// -----

// Tests that rope rotates pairs, so head_dim must be even.
func.func @rope_odd_head_dim(%x: tensor<8x4x15xf32>, %pos: tensor<8xi32>) {
  // expected-error @+1 {{head_dim must be even to rotate pairs, got 15}}
  %0 = llama.rope %x, %pos theta(1.0e+04) : (tensor<8x4x15xf32>, tensor<8xi32>) -> tensor<8x4x15xf32>
  return
}

// -----

// Tests that positions cannot reach into the head dimensions.
func.func @rope_positions_rank(%x: tensor<8x4x16xf32>, %pos: tensor<8x4xi32>) {
  // expected-error @+1 {{positions must have rank 1 to 1 (the input's dimensions up to seq), got rank 2}}
  %0 = llama.rope %x, %pos theta(1.0e+04) : (tensor<8x4x16xf32>, tensor<8x4xi32>) -> tensor<8x4x16xf32>
  return
}

// -----

// Tests that there is one position per token.
func.func @rope_positions_size(%x: tensor<2x8x4x16xf32>, %pos: tensor<7xi32>) {
  // expected-error @+1 {{positions dimension 0 (7) does not match input dimension 1 (8)}}
  %0 = llama.rope %x, %pos theta(1.0e+04) : (tensor<2x8x4x16xf32>, tensor<7xi32>) -> tensor<2x8x4x16xf32>
  return
}

// -----

// Tests that rope returns the input's type.
func.func @rope_result(%x: tensor<8x4x16xf32>, %pos: tensor<8xi32>) {
  // expected-error @+1 {{result type 'tensor<8x4x8xf32>' must match the input type 'tensor<8x4x16xf32>'}}
  %0 = llama.rope %x, %pos theta(1.0e+04) : (tensor<8x4x16xf32>, tensor<8xi32>) -> tensor<8x4x8xf32>
  return
}

// -----

// Tests that the rope base must be positive.
func.func @rope_theta(%x: tensor<8x4x16xf32>, %pos: tensor<8xi32>) {
  // expected-error @+1 {{theta must be positive and finite, got -1}}
  %0 = llama.rope %x, %pos theta(-1.0) : (tensor<8x4x16xf32>, tensor<8xi32>) -> tensor<8x4x16xf32>
  return
}

// -----

// Tests that attention needs [..., seq, heads, head_dim] operands.
func.func @attention_rank(%q: tensor<8x64xf32>) {
  // expected-error @+1 {{query must be [..., seq, n_heads, head_dim], got rank 2}}
  %0 = llama.attention %q, %q, %q scale(0.25) : (tensor<8x64xf32>, tensor<8x64xf32>, tensor<8x64xf32>) -> tensor<8x64xf32>
  return
}

// -----

// Tests that query, key and value have one rank.
func.func @attention_ranks_differ(%q: tensor<2x8x4x16xf32>, %k: tensor<8x4x16xf32>) {
  // expected-error @+1 {{query, key and value must have one rank, got 4, 3 and 3}}
  %0 = llama.attention %q, %k, %k scale(0.25) : (tensor<2x8x4x16xf32>, tensor<8x4x16xf32>, tensor<8x4x16xf32>) -> tensor<2x8x4x16xf32>
  return
}

// -----

// Tests that key and value have one shape.
func.func @attention_key_value(%q: tensor<8x4x16xf32>, %k: tensor<8x4x16xf32>, %v: tensor<8x2x16xf32>) {
  // expected-error @+1 {{key dimension 1 (4) does not match value dimension 1 (2)}}
  %0 = llama.attention %q, %k, %v scale(0.25) : (tensor<8x4x16xf32>, tensor<8x4x16xf32>, tensor<8x2x16xf32>) -> tensor<8x4x16xf32>
  return
}

// -----

// Tests that keys cover the queries' sequence.
func.func @attention_seq(%q: tensor<8x4x16xf32>, %k: tensor<7x4x16xf32>) {
  // expected-error @+1 {{key dimension 0 (7) does not match query dimension 0 (8)}}
  %0 = llama.attention %q, %k, %k scale(0.25) : (tensor<8x4x16xf32>, tensor<7x4x16xf32>, tensor<7x4x16xf32>) -> tensor<8x4x16xf32>
  return
}

// -----

// Tests that key heads are as wide as query heads.
func.func @attention_head_dim(%q: tensor<8x4x16xf32>, %k: tensor<8x4x8xf32>) {
  // expected-error @+1 {{key/value head_dim (8) does not match query head_dim (16)}}
  %0 = llama.attention %q, %k, %k scale(0.25) : (tensor<8x4x16xf32>, tensor<8x4x8xf32>, tensor<8x4x8xf32>) -> tensor<8x4x16xf32>
  return
}

// -----

// Tests that grouped-query attention needs n_heads divisible by n_kv_heads.
func.func @attention_gqa_groups(%q: tensor<8x32x16xf32>, %k: tensor<8x5x16xf32>) {
  // expected-error @+1 {{n_heads (32) is not a multiple of n_kv_heads (5)}}
  %0 = llama.attention %q, %k, %k scale(0.25) : (tensor<8x32x16xf32>, tensor<8x5x16xf32>, tensor<8x5x16xf32>) -> tensor<8x32x16xf32>
  return
}

// -----

// Tests that query, key and value share an element type.
func.func @attention_element_types(%q: tensor<8x4x16xf32>, %k: tensor<8x4x16xbf16>) {
  // expected-error @+1 {{query, key and value must share one element type, got 'f32', 'bf16' and 'bf16'}}
  %0 = llama.attention %q, %k, %k scale(0.25) : (tensor<8x4x16xf32>, tensor<8x4x16xbf16>, tensor<8x4x16xbf16>) -> tensor<8x4x16xf32>
  return
}

// -----

// Tests that the softmax scale must be positive.
func.func @attention_scale(%q: tensor<8x4x16xf32>) {
  // expected-error @+1 {{scale must be positive and finite, got 0}}
  %0 = llama.attention %q, %q, %q scale(0.0) : (tensor<8x4x16xf32>, tensor<8x4x16xf32>, tensor<8x4x16xf32>) -> tensor<8x4x16xf32>
  return
}

// -----

// Tests that attention returns the query's type.
func.func @attention_result(%q: tensor<8x4x16xf32>, %k: tensor<8x2x16xf32>) {
  // expected-error @+1 {{result type 'tensor<8x2x16xf32>' must match the query type 'tensor<8x4x16xf32>'}}
  %0 = llama.attention %q, %k, %k scale(0.25) : (tensor<8x4x16xf32>, tensor<8x2x16xf32>, tensor<8x2x16xf32>) -> tensor<8x2x16xf32>
  return
}

// -----

// Tests that cached attention works on one unbatched sequence.
func.func @cached_query_rank(%q: tensor<2x1x4x16xf32>, %c: tensor<64x4x16xf32>, %pos: index) {
  // expected-error @+1 {{query must be [seq, n_heads, head_dim], got rank 4}}
  %o, %kc, %vc = llama.cached_attention %q, %q, %q cache(%c, %c) at %pos scale(0.25)
      : (tensor<2x1x4x16xf32>, tensor<2x1x4x16xf32>, tensor<2x1x4x16xf32>, tensor<64x4x16xf32>, tensor<64x4x16xf32>, index)
      -> (tensor<2x1x4x16xf32>, tensor<64x4x16xf32>, tensor<64x4x16xf32>)
  return
}

// -----

// Tests that cached attention checks its query/key/value like attention.
func.func @cached_gqa_groups(%q: tensor<1x6x16xf32>, %k: tensor<1x4x16xf32>, %c: tensor<64x4x16xf32>, %pos: index) {
  // expected-error @+1 {{n_heads (6) is not a multiple of n_kv_heads (4)}}
  %o, %kc, %vc = llama.cached_attention %q, %k, %k cache(%c, %c) at %pos scale(0.25)
      : (tensor<1x6x16xf32>, tensor<1x4x16xf32>, tensor<1x4x16xf32>, tensor<64x4x16xf32>, tensor<64x4x16xf32>, index)
      -> (tensor<1x6x16xf32>, tensor<64x4x16xf32>, tensor<64x4x16xf32>)
  return
}

// -----

// Tests that the cache is [max_seq_len, n_kv_heads, head_dim].
func.func @cached_cache_rank(%q: tensor<1x4x16xf32>, %c: tensor<64x64xf32>, %pos: index) {
  // expected-error @+1 {{key_cache must be [max_seq_len, n_kv_heads, head_dim], got rank 2}}
  %o, %kc, %vc = llama.cached_attention %q, %q, %q cache(%c, %c) at %pos scale(0.25)
      : (tensor<1x4x16xf32>, tensor<1x4x16xf32>, tensor<1x4x16xf32>, tensor<64x64xf32>, tensor<64x64xf32>, index)
      -> (tensor<1x4x16xf32>, tensor<64x64xf32>, tensor<64x64xf32>)
  return
}

// -----

// Tests that the key and value caches have one type.
func.func @cached_caches_differ(%q: tensor<1x4x16xf32>, %kc: tensor<64x4x16xf32>, %vc: tensor<32x4x16xf32>, %pos: index) {
  // expected-error @+1 {{value_cache type 'tensor<32x4x16xf32>' must match the key_cache type 'tensor<64x4x16xf32>'}}
  %o, %kc2, %vc2 = llama.cached_attention %q, %q, %q cache(%kc, %vc) at %pos scale(0.25)
      : (tensor<1x4x16xf32>, tensor<1x4x16xf32>, tensor<1x4x16xf32>, tensor<64x4x16xf32>, tensor<32x4x16xf32>, index)
      -> (tensor<1x4x16xf32>, tensor<64x4x16xf32>, tensor<32x4x16xf32>)
  return
}

// -----

// Tests that the cache holds n_kv_heads heads.
func.func @cached_cache_heads(%q: tensor<1x4x16xf32>, %c: tensor<64x2x16xf32>, %pos: index) {
  // expected-error @+1 {{cache n_kv_heads (2) does not match the key's (4)}}
  %o, %kc, %vc = llama.cached_attention %q, %q, %q cache(%c, %c) at %pos scale(0.25)
      : (tensor<1x4x16xf32>, tensor<1x4x16xf32>, tensor<1x4x16xf32>, tensor<64x2x16xf32>, tensor<64x2x16xf32>, index)
      -> (tensor<1x4x16xf32>, tensor<64x2x16xf32>, tensor<64x2x16xf32>)
  return
}

// -----

// Tests that the cache rows are head_dim wide.
func.func @cached_cache_head_dim(%q: tensor<1x4x16xf32>, %c: tensor<64x4x8xf32>, %pos: index) {
  // expected-error @+1 {{cache head_dim (8) does not match the key's (16)}}
  %o, %kc, %vc = llama.cached_attention %q, %q, %q cache(%c, %c) at %pos scale(0.25)
      : (tensor<1x4x16xf32>, tensor<1x4x16xf32>, tensor<1x4x16xf32>, tensor<64x4x8xf32>, tensor<64x4x8xf32>, index)
      -> (tensor<1x4x16xf32>, tensor<64x4x8xf32>, tensor<64x4x8xf32>)
  return
}

// -----

// Tests that the cache stores the keys' element type.
func.func @cached_cache_element(%q: tensor<1x4x16xf32>, %c: tensor<64x4x16xf16>, %pos: index) {
  // expected-error @+1 {{cache element type 'f16' must match the key element type 'f32'}}
  %o, %kc, %vc = llama.cached_attention %q, %q, %q cache(%c, %c) at %pos scale(0.25)
      : (tensor<1x4x16xf32>, tensor<1x4x16xf32>, tensor<1x4x16xf32>, tensor<64x4x16xf16>, tensor<64x4x16xf16>, index)
      -> (tensor<1x4x16xf32>, tensor<64x4x16xf16>, tensor<64x4x16xf16>)
  return
}

// -----

// Tests that a prompt longer than the cache is refused when its length is known.
func.func @cached_too_long(%q: tensor<65x4x16xf32>, %c: tensor<64x4x16xf32>, %pos: index) {
  // expected-error @+1 {{seq (65) exceeds the cache's max_seq_len (64)}}
  %o, %kc, %vc = llama.cached_attention %q, %q, %q cache(%c, %c) at %pos scale(0.25)
      : (tensor<65x4x16xf32>, tensor<65x4x16xf32>, tensor<65x4x16xf32>, tensor<64x4x16xf32>, tensor<64x4x16xf32>, index)
      -> (tensor<65x4x16xf32>, tensor<64x4x16xf32>, tensor<64x4x16xf32>)
  return
}

// -----

// Tests that cached attention returns the query's type.
func.func @cached_result(%q: tensor<1x4x16xf32>, %c: tensor<64x4x16xf32>, %pos: index) {
  // expected-error @+1 {{result type 'tensor<2x4x16xf32>' must match the query type 'tensor<1x4x16xf32>'}}
  %o, %kc, %vc = llama.cached_attention %q, %q, %q cache(%c, %c) at %pos scale(0.25)
      : (tensor<1x4x16xf32>, tensor<1x4x16xf32>, tensor<1x4x16xf32>, tensor<64x4x16xf32>, tensor<64x4x16xf32>, index)
      -> (tensor<2x4x16xf32>, tensor<64x4x16xf32>, tensor<64x4x16xf32>)
  return
}

// -----

// Tests that the updated key cache keeps the cache's type.
func.func @cached_new_key_cache(%q: tensor<1x4x16xf32>, %c: tensor<64x4x16xf32>, %pos: index) {
  // expected-error @+1 {{new_key_cache type 'tensor<?x4x16xf32>' must match the key_cache type 'tensor<64x4x16xf32>'}}
  %o, %kc, %vc = llama.cached_attention %q, %q, %q cache(%c, %c) at %pos scale(0.25)
      : (tensor<1x4x16xf32>, tensor<1x4x16xf32>, tensor<1x4x16xf32>, tensor<64x4x16xf32>, tensor<64x4x16xf32>, index)
      -> (tensor<1x4x16xf32>, tensor<?x4x16xf32>, tensor<64x4x16xf32>)
  return
}

// -----

// Tests that the updated value cache keeps the cache's type.
func.func @cached_new_value_cache(%q: tensor<1x4x16xf32>, %c: tensor<64x4x16xf32>, %pos: index) {
  // expected-error @+1 {{new_value_cache type 'tensor<64x4x16xf16>' must match the value_cache type 'tensor<64x4x16xf32>'}}
  %o, %kc, %vc = llama.cached_attention %q, %q, %q cache(%c, %c) at %pos scale(0.25)
      : (tensor<1x4x16xf32>, tensor<1x4x16xf32>, tensor<1x4x16xf32>, tensor<64x4x16xf32>, tensor<64x4x16xf32>, index)
      -> (tensor<1x4x16xf32>, tensor<64x4x16xf32>, tensor<64x4x16xf16>)
  return
}

// -----

// Tests that the position is an integer or index.
func.func @cached_float_position(%q: tensor<1x4x16xf32>, %c: tensor<64x4x16xf32>, %pos: f32) {
  // expected-error @+1 {{operand #5 must be index or 32-bit signless integer or 64-bit signless integer}}
  %o, %kc, %vc = llama.cached_attention %q, %q, %q cache(%c, %c) at %pos scale(0.25)
      : (tensor<1x4x16xf32>, tensor<1x4x16xf32>, tensor<1x4x16xf32>, tensor<64x4x16xf32>, tensor<64x4x16xf32>, f32)
      -> (tensor<1x4x16xf32>, tensor<64x4x16xf32>, tensor<64x4x16xf32>)
  return
}

// -----

// Tests that the loss needs a vocabulary dimension.
func.func @loss_scalar_logits(%l: tensor<f32>, %t: tensor<i32>, %m: tensor<f32>) {
  // expected-error @+1 {{logits must be [..., vocab_size], got rank 0}}
  %0 = llama.cross_entropy %l, %t, %m : (tensor<f32>, tensor<i32>, tensor<f32>) -> tensor<f32>
  return
}

// -----

// Tests that there is one target per row of logits.
func.func @loss_targets_rank(%l: tensor<8x100xf32>, %t: tensor<8x100xi32>, %m: tensor<8xf32>) {
  // expected-error @+1 {{targets must have rank 1 (the logits' without vocab_size), got rank 2}}
  %0 = llama.cross_entropy %l, %t, %m : (tensor<8x100xf32>, tensor<8x100xi32>, tensor<8xf32>) -> tensor<f32>
  return
}

// -----

// Tests that targets line up with the logits rows.
func.func @loss_targets_size(%l: tensor<8x100xf32>, %t: tensor<9xi32>, %m: tensor<9xf32>) {
  // expected-error @+1 {{targets dimension 0 (9) does not match logits dimension 0 (8)}}
  %0 = llama.cross_entropy %l, %t, %m : (tensor<8x100xf32>, tensor<9xi32>, tensor<9xf32>) -> tensor<f32>
  return
}

// -----

// Tests that the mask has one weight per target.
func.func @loss_mask_rank(%l: tensor<2x8x100xf32>, %t: tensor<2x8xi32>, %m: tensor<16xf32>) {
  // expected-error @+1 {{mask must have the targets' rank (2), got rank 1}}
  %0 = llama.cross_entropy %l, %t, %m : (tensor<2x8x100xf32>, tensor<2x8xi32>, tensor<16xf32>) -> tensor<f32>
  return
}

// -----

// Tests that the mask has the targets' shape.
func.func @loss_mask_size(%l: tensor<2x8x100xf32>, %t: tensor<2x8xi32>, %m: tensor<2x7xf32>) {
  // expected-error @+1 {{mask dimension 1 (7) does not match targets dimension 1 (8)}}
  %0 = llama.cross_entropy %l, %t, %m : (tensor<2x8x100xf32>, tensor<2x8xi32>, tensor<2x7xf32>) -> tensor<f32>
  return
}

// -----

// Tests that the loss is an f32 scalar.
func.func @loss_result(%l: tensor<8x100xf32>, %t: tensor<8xi32>, %m: tensor<8xf32>) {
  // expected-error @+1 {{result #0 must be 0D tensor of 32-bit float values}}
  %0 = llama.cross_entropy %l, %t, %m : (tensor<8x100xf32>, tensor<8xi32>, tensor<8xf32>) -> tensor<8xf32>
  return
}

// -----

// Tests that a gradient op checks its forward op's rules, with dy in place of
// the result: here dy of linear has the wrong number of features.
func.func @linear_grad_dy(%x: tensor<4x64xf32>, %w: tensor<172x64xf32>, %dy: tensor<4x100xf32>) {
  // expected-error @+1 {{result has 100 features but the weight [out, in] gives 172}}
  %0:2 = llama.linear_grad %x, %w, %dy : (tensor<4x64xf32>, tensor<172x64xf32>, tensor<4x100xf32>) -> (tensor<4x64xf32>, tensor<172x64xf32>)
  return
}

// -----

// Tests that a gradient has its operand's type.
func.func @linear_grad_types(%x: tensor<4x64xf32>, %w: tensor<172x64xf32>, %dy: tensor<4x172xf32>) {
  // expected-error @+1 {{failed to verify that all of {input, dinput} have same type}}
  %0:2 = "llama.linear_grad"(%x, %w, %dy) : (tensor<4x64xf32>, tensor<172x64xf32>, tensor<4x172xf32>) -> (tensor<4x32xf32>, tensor<172x64xf32>)
  return
}

// -----

// Tests that the embedding gradient is shaped like the table.
func.func @embedding_grad_table(%ids: tensor<4xi32>, %dy: tensor<4x64xf32>) {
  // expected-error @+1 {{result's last dimension (64) does not match the table's dim (32)}}
  %0 = llama.embedding_grad %ids, %dy : (tensor<4xi32>, tensor<4x64xf32>) -> tensor<100x32xf32>
  return
}

// -----

// Tests that the rms_norm gradient keeps eps positive.
func.func @rms_norm_grad_eps(%x: tensor<4x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{eps must be positive and finite, got 0}}
  %0:2 = llama.rms_norm_grad %x, %w, %x eps(0.0) : (tensor<4x64xf32>, tensor<64xf32>, tensor<4x64xf32>) -> (tensor<4x64xf32>, tensor<64xf32>)
  return
}

// -----

// Tests that the rope gradient rotates pairs too.
func.func @rope_grad_odd(%x: tensor<8x4x15xf32>, %pos: tensor<8xi32>) {
  // expected-error @+1 {{head_dim must be even to rotate pairs, got 15}}
  %0 = llama.rope_grad %x, %pos theta(1.0e+04) : (tensor<8x4x15xf32>, tensor<8xi32>) -> tensor<8x4x15xf32>
  return
}

// -----

// Tests that the attention gradient's dy is shaped like the query.
func.func @attention_grad_dy(%q: tensor<8x4x16xf32>, %k: tensor<8x2x16xf32>, %dy: tensor<8x2x16xf32>) {
  // expected-error @+1 {{dy type 'tensor<8x2x16xf32>' must match the query type 'tensor<8x4x16xf32>'}}
  %0:3 = llama.attention_grad %q, %k, %k, %dy scale(0.25) : (tensor<8x4x16xf32>, tensor<8x2x16xf32>, tensor<8x2x16xf32>, tensor<8x2x16xf32>) -> (tensor<8x4x16xf32>, tensor<8x2x16xf32>, tensor<8x2x16xf32>)
  return
}

// -----

// Tests that the cross-entropy gradient checks the loss's shapes.
func.func @cross_entropy_grad_mask(%l: tensor<8x100xf32>, %t: tensor<8xi32>, %m: tensor<7xf32>, %d: tensor<f32>) {
  // expected-error @+1 {{mask dimension 0 (7) does not match targets dimension 0 (8)}}
  %0 = llama.cross_entropy_grad %l, %t, %m, %d : (tensor<8x100xf32>, tensor<8xi32>, tensor<7xf32>, tensor<f32>) -> tensor<8x100xf32>
  return
}

// -----

// Tests that the global norm needs a tensor.
func.func @global_norm_empty() {
  // expected-error @+1 {{needs at least one tensor}}
  %n = "llama.global_norm"() : () -> tensor<f32>
  return
}

// -----

// Tests that adamw takes [learning rate, step].
func.func @adamw_step_params(%p: tensor<4xf32>, %s: tensor<3xf32>, %n: tensor<f32>) {
  // expected-error @+1 {{step_params must be [learning rate, step], got 'tensor<3xf32>'}}
  %a:3 = llama.adamw %p, %p, %p, %p, %s, %n {beta1 = 0.9, beta2 = 0.95, eps = 1.0e-05, weight_decay = 0.1, max_grad_norm = 1.0} : tensor<4xf32>, tensor<3xf32>, tensor<f32>
  return
}

// -----

// Tests that adamw's betas lie in [0, 1).
func.func @adamw_beta(%p: tensor<4xf32>, %s: tensor<2xf32>, %n: tensor<f32>) {
  // expected-error @+1 {{beta2 must be in [0, 1), got 1}}
  %a:3 = llama.adamw %p, %p, %p, %p, %s, %n {beta1 = 0.9, beta2 = 1.0, eps = 1.0e-05, weight_decay = 0.1, max_grad_norm = 1.0} : tensor<4xf32>, tensor<2xf32>, tensor<f32>
  return
}

// -----

// Tests that adamw's eps and clipping norm are positive.
func.func @adamw_max_norm(%p: tensor<4xf32>, %s: tensor<2xf32>, %n: tensor<f32>) {
  // expected-error @+1 {{max_grad_norm must be positive and finite, got 0}}
  %a:3 = llama.adamw %p, %p, %p, %p, %s, %n {beta1 = 0.9, beta2 = 0.95, eps = 1.0e-05, weight_decay = 0.1, max_grad_norm = 0.0} : tensor<4xf32>, tensor<2xf32>, tensor<f32>
  return
}

// -----

// Tests that weight decay cannot be negative.
func.func @adamw_decay(%p: tensor<4xf32>, %s: tensor<2xf32>, %n: tensor<f32>) {
  // expected-error @+1 {{weight_decay must be non-negative, got -1.000000e-01}}
  %a:3 = llama.adamw %p, %p, %p, %p, %s, %n {beta1 = 0.9, beta2 = 0.95, eps = 1.0e-05, weight_decay = -0.1, max_grad_norm = 1.0} : tensor<4xf32>, tensor<2xf32>, tensor<f32>
  return
}

// -----

// Tests that gather_rows reads [sequences, positions, dim].
func.func @gather_rows_rank(%h: tensor<16x32xf32>, %ends: tensor<4xi32>) {
  // expected-error @+1 {{input must be [sequences, positions, dim], got rank 2}}
  %0 = llama.gather_rows %h[%ends] : (tensor<16x32xf32>, tensor<4xi32>) -> tensor<4x32xf32>
  return
}

// -----

// Tests that gather_rows takes one index per sequence.
func.func @gather_rows_index(%h: tensor<4x16x32xf32>, %ends: tensor<3xi32>) {
  // expected-error @+1 {{index dimension 0 (3) does not match input dimension 0 (4)}}
  %0 = llama.gather_rows %h[%ends] : (tensor<4x16x32xf32>, tensor<3xi32>) -> tensor<4x32xf32>
  return
}

// -----

// Tests that gather_rows keeps the rows' width.
func.func @gather_rows_width(%h: tensor<4x16x32xf32>, %ends: tensor<4xi32>) {
  // expected-error @+1 {{rows dimension 1 (16) does not match input dimension 2 (32)}}
  %0 = llama.gather_rows %h[%ends] : (tensor<4x16x32xf32>, tensor<4xi32>) -> tensor<4x16xf32>
  return
}

// -----

// Tests that gather_rows_grad returns the input's shape.
func.func @gather_rows_grad_shape(%dy: tensor<4x32xf32>, %ends: tensor<4xi32>) {
  // expected-error @+1 {{index dimension 0 (4) does not match input dimension 0 (2)}}
  %0 = llama.gather_rows_grad %dy[%ends] : (tensor<4x32xf32>, tensor<4xi32>) -> tensor<2x16x32xf32>
  return
}

// -----

// Tests that the rewards of pairs come in an even number.
func.func @ranking_loss_odd(%r: tensor<5xf32>, %m: tensor<2xf32>) {
  // expected-error @+1 {{rewards must hold chosen then rejected rewards (an even count), got 5}}
  %0 = llama.ranking_loss %r, %m {center = 0.0} : (tensor<5xf32>, tensor<2xf32>) -> tensor<f32>
  return
}

// -----

// Tests that there is one margin per pair.
func.func @ranking_loss_margins(%r: tensor<8xf32>, %m: tensor<8xf32>) {
  // expected-error @+1 {{margins must have one value per pair (4), got 8}}
  %0 = llama.ranking_loss %r, %m {center = 0.0} : (tensor<8xf32>, tensor<8xf32>) -> tensor<f32>
  return
}

// -----

// Tests that the centering coefficient is not negative.
func.func @ranking_loss_center(%r: tensor<8xf32>, %m: tensor<4xf32>, %dl: tensor<f32>) {
  // expected-error @+1 {{center must be non-negative and finite, got -1.000000e-02}}
  %0 = llama.ranking_loss_grad %r, %m, %dl {center = -0.01} : (tensor<8xf32>, tensor<4xf32>, tensor<f32>) -> tensor<8xf32>
  return
}

// -----

// Tests that token_logprobs takes one token per row of logits.
func.func @token_logprobs_tokens(%l: tensor<2x8x100xf32>, %ids: tensor<2x7xi32>, %t: f32) {
  // expected-error @+1 {{tokens dimension 1 (7) does not match logits dimension 1 (8)}}
  %0 = llama.token_logprobs %l[%ids], %t : (tensor<2x8x100xf32>, tensor<2x7xi32>, f32) -> tensor<2x7xf32>
  return
}

// -----

// Tests that token_logprobs returns one log-probability per token.
func.func @token_logprobs_result(%l: tensor<2x8x100xf32>, %ids: tensor<2x8xi32>, %t: f32) {
  // expected-error @+1 {{log-probabilities must have the tokens' rank (2), got rank 1}}
  %0 = llama.token_logprobs %l[%ids], %t : (tensor<2x8x100xf32>, tensor<2x8xi32>, f32) -> tensor<16xf32>
  return
}

// -----

// Tests that token_entropy has one value per row of logits.
func.func @token_entropy_rows(%l: tensor<2x8x100xf32>, %t: f32) {
  // expected-error @+1 {{entropy must have rank 2 (the logits' without vocab_size), got rank 3}}
  %0 = llama.token_entropy %l, %t : (tensor<2x8x100xf32>, f32) -> tensor<2x8x100xf32>
  return
}

// -----

// Tests that the policy loss's tensors share one shape.
func.func @ppo_policy_loss_shapes(%lp: tensor<2x8xf32>, %x: tensor<2x7xf32>, %c: f32) {
  // expected-error @+1 {{failed to verify that all of {logprobs, old_logprobs, advantages, mask} have same type}}
  %0:3 = llama.ppo_policy_loss %lp, %x, %lp, %lp, %c : (tensor<2x8xf32>, tensor<2x7xf32>, tensor<2x8xf32>, tensor<2x8xf32>, f32) -> (tensor<f32>, tensor<f32>, tensor<f32>)
  return
}

// -----

// Tests that the value loss's tensors share one shape.
func.func @ppo_value_loss_shapes(%v: tensor<2x8xf32>, %x: tensor<8xf32>, %c: f32) {
  // expected-error @+1 {{failed to verify that all of {values, old_values, returns, mask} have same type}}
  %0:2 = llama.ppo_value_loss %v, %v, %x, %v, %c : (tensor<2x8xf32>, tensor<2x8xf32>, tensor<8xf32>, tensor<2x8xf32>, f32) -> (tensor<f32>, tensor<f32>)
  return
}
