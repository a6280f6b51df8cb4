//===- LlamaDialect.td - the llama dialect -----------------*- tablegen -*-===//
//
// Tensor-level operations of the Llama 2 decoder (prefill and decode with a KV
// cache) and of its training loss. Everything a model needs is expressed with
// builtin ranked tensors of f32, bf16 or f16.
//
//===----------------------------------------------------------------------===//

#ifndef LLAMA_DIALECT_TD
#define LLAMA_DIALECT_TD

include "mlir/IR/OpBase.td"

def Llama_Dialect : Dialect {
  let name = "llama";
  let cppNamespace = "::mlir::llama";
  let summary = "Tensor-level operations of the Llama 2 decoder and its loss";
  let description = [{
    The `llama` dialect names the building blocks of a Llama 2 model at the
    level a model author thinks in: embedding lookup, RMSNorm, linear layers,
    rotary position embeddings, causal (grouped-query) attention with or
    without a KV cache, the SwiGLU feed-forward gate, residual additions and
    the next-token cross-entropy loss.

    All ops are pure functions on builtin ranked tensors. Activations and
    results share one element type (f32, bf16 or f16). Weights — the
    embedding table, RMSNorm gains and linear weights — may be stored in any
    of the three, so a bf16 checkpoint can feed an f32 computation.
    Dimensions may be dynamic (`?`); verifiers check every rule whose sizes
    are known.

    Conventions follow Hugging Face `LlamaForCausalLM`: linear weights are
    `[out, in]`, RoPE uses the rotate-half form, and query head `h` reads
    key/value head `h / (n_heads / n_kv_heads)`.
  }];
}

class Llama_Op<string mnemonic, list<Trait> traits = []>
    : Op<Llama_Dialect, mnemonic, traits>;

// Element types of activations and stored weights.
def Llama_FloatTensor : RankedTensorOf<[F32, BF16, F16]>;
// Token ids and target ids.
def Llama_IdTensor : RankedTensorOf<[I32, I64]>;
// A position in the sequence, known only at run time.
def Llama_Position : AnyTypeOf<[Index, I32, I64]>;
// The scalar loss.
def Llama_LossTensor : 0DTensorOf<[F32]>;

#endif // LLAMA_DIALECT_TD
