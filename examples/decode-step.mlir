// One decode step of a one-layer Llama written by hand in the llama dialect:
// dim 64, 4 query heads sharing 2 key/value heads (GQA), head_dim 16,
// hidden_dim 172, vocab 256, a 128-token KV cache. Weights are arguments, so
// the same function serves any checkpoint of this shape.
//
//   build/bin/llama-opt examples/decode-step.mlir
func.func @decode(%token: tensor<1xi32>,                 // [1]
                  %pos: index,                           // where the token sits
                  %positions: tensor<1xi32>,             // [1] = pos
                  %embed: tensor<256x64xf32>,            // [vocab, dim]
                  %attn_norm: tensor<64xf32>,            // [dim]
                  %wq: tensor<64x64xf32>,                // [n_heads*head_dim, dim]
                  %wk: tensor<32x64xf32>,                // [n_kv_heads*head_dim, dim]
                  %wv: tensor<32x64xf32>,
                  %wo: tensor<64x64xf32>,                // [dim, n_heads*head_dim]
                  %ffn_norm: tensor<64xf32>,
                  %w_gate: tensor<172x64xf32>,           // [hidden_dim, dim]
                  %w_up: tensor<172x64xf32>,
                  %w_down: tensor<64x172xf32>,           // [dim, hidden_dim]
                  %final_norm: tensor<64xf32>,
                  %k_cache: tensor<128x2x16xf32>,        // [seq_len, n_kv_heads, head_dim]
                  %v_cache: tensor<128x2x16xf32>)
    -> (tensor<1x256xf32>, tensor<128x2x16xf32>, tensor<128x2x16xf32>) {
  %x = llama.embedding %embed[%token] : (tensor<256x64xf32>, tensor<1xi32>) -> tensor<1x64xf32>

  // Attention block.
  %xn = llama.rms_norm %x, %attn_norm eps(1.0e-05) : (tensor<1x64xf32>, tensor<64xf32>) -> tensor<1x64xf32>
  %q2 = llama.linear %xn, %wq : (tensor<1x64xf32>, tensor<64x64xf32>) -> tensor<1x64xf32>
  %k2 = llama.linear %xn, %wk : (tensor<1x64xf32>, tensor<32x64xf32>) -> tensor<1x32xf32>
  %v2 = llama.linear %xn, %wv : (tensor<1x64xf32>, tensor<32x64xf32>) -> tensor<1x32xf32>
  %q3 = tensor.expand_shape %q2 [[0], [1, 2]] output_shape [1, 4, 16] : tensor<1x64xf32> into tensor<1x4x16xf32>
  %k3 = tensor.expand_shape %k2 [[0], [1, 2]] output_shape [1, 2, 16] : tensor<1x32xf32> into tensor<1x2x16xf32>
  %v3 = tensor.expand_shape %v2 [[0], [1, 2]] output_shape [1, 2, 16] : tensor<1x32xf32> into tensor<1x2x16xf32>
  %q = llama.rope %q3, %positions theta(1.0e+04) : (tensor<1x4x16xf32>, tensor<1xi32>) -> tensor<1x4x16xf32>
  %k = llama.rope %k3, %positions theta(1.0e+04) : (tensor<1x2x16xf32>, tensor<1xi32>) -> tensor<1x2x16xf32>
  %attn, %k_cache2, %v_cache2 = llama.cached_attention %q, %k, %v3 cache(%k_cache, %v_cache) at %pos scale(0.25)
      : (tensor<1x4x16xf32>, tensor<1x2x16xf32>, tensor<1x2x16xf32>, tensor<128x2x16xf32>, tensor<128x2x16xf32>, index)
      -> (tensor<1x4x16xf32>, tensor<128x2x16xf32>, tensor<128x2x16xf32>)
  %attn2 = tensor.collapse_shape %attn [[0], [1, 2]] : tensor<1x4x16xf32> into tensor<1x64xf32>
  %o = llama.linear %attn2, %wo : (tensor<1x64xf32>, tensor<64x64xf32>) -> tensor<1x64xf32>
  %h = llama.add %x, %o : tensor<1x64xf32>

  // Feed-forward block.
  %hn = llama.rms_norm %h, %ffn_norm eps(1.0e-05) : (tensor<1x64xf32>, tensor<64xf32>) -> tensor<1x64xf32>
  %gate = llama.linear %hn, %w_gate : (tensor<1x64xf32>, tensor<172x64xf32>) -> tensor<1x172xf32>
  %up = llama.linear %hn, %w_up : (tensor<1x64xf32>, tensor<172x64xf32>) -> tensor<1x172xf32>
  %act = llama.swiglu %gate, %up : tensor<1x172xf32>
  %down = llama.linear %act, %w_down : (tensor<1x172xf32>, tensor<64x172xf32>) -> tensor<1x64xf32>
  %out = llama.add %h, %down : tensor<1x64xf32>

  // Logits, with the embedding tied to the output head.
  %on = llama.rms_norm %out, %final_norm eps(1.0e-05) : (tensor<1x64xf32>, tensor<64xf32>) -> tensor<1x64xf32>
  %logits = llama.linear %on, %embed : (tensor<1x64xf32>, tensor<256x64xf32>) -> tensor<1x256xf32>
  return %logits, %k_cache2, %v_cache2 : tensor<1x256xf32>, tensor<128x2x16xf32>, tensor<128x2x16xf32>
}
