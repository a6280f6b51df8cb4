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

    The dialect also owns the attributes that carry a model's contract
    through the pipeline, each verified where it appears:
    `llama.input` (`"tokens"`, `"position"`, `"logit_rows"`, `"loss_mask"`,
    `"step_params"`, and a reward model's `"sequence_ends"` and
    `"margins"`), `llama.weight`, `llama.kv_cache`, `llama.adam_m`,
    `llama.adam_v` and `llama.grad` (a weight's or cache's name) on entry
    point arguments; `llama.output` (`"logits"`, `"loss"`, `"grad_norm"`,
    `"rewards"`),
    `llama.grad`, `llama.kv_cache` and `llama.updated` (`"weight"`,
    `"adam_m"`, `"adam_v"`: written in place) on results, and on the
    out-parameters bufferization makes of them; `llama.config` (the model's
    shapes, keyed as in the artifact manifest) on the module.
  }];
  let discardableAttrs = (ins "::mlir::StringAttr":$input,
      "::mlir::StringAttr":$weight, "::mlir::StringAttr":$kv_cache,
      "::mlir::StringAttr":$adam_m, "::mlir::StringAttr":$adam_v,
      "::mlir::StringAttr":$grad, "::mlir::StringAttr":$output,
      "::mlir::StringAttr":$updated, "::mlir::DictionaryAttr":$config);
  let hasRegionArgAttrVerify = 1;
  let hasRegionResultAttrVerify = 1;
  let hasOperationAttrVerify = 1;
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
