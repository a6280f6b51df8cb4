//===- Passes.td - llamac passes ---------------------------*- tablegen -*-===//

#ifndef LLAMAC_PASSES_TD
#define LLAMAC_PASSES_TD

include "mlir/Pass/PassBase.td"

def LlamaAutodiffPass : Pass<"llama-autodiff", "ModuleOp"> {
  let summary = "Adds the gradient function of every loss function";
  let description = [{
    For each function whose single result is tagged
    `llama.output = "loss"`, adds `@<name>_grad` with the same arguments that
    returns the loss and then the gradient of the loss with respect to each
    `llama.weight` argument, in argument order (results tagged
    `llama.output = "loss"` and `llama.grad = "<weight name>"`).

    Reverse mode over the function body: starting from d(loss) = 1, each op
    supplies the cotangents of its operands through
    `DifferentiableOpInterface` (reshapes are inverted here); cotangents of
    values used more than once are summed with `llama.add`. An op without a
    gradient rule on the path to the loss is an error.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::tensor::TensorDialect"
  ];
}

def ConvertLlamaToLinalgPass : Pass<"convert-llama-to-linalg", "ModuleOp"> {
  let summary = "Lowers llama ops to linalg, tensor, arith and math on tensors";
  let description = [{
    Rewrites each inference op of the `llama` dialect as `linalg.generic`
    ops on tensors (destination style, `tensor.empty` + `linalg.fill` for
    accumulators), so that upstream tiling, fusion, vectorization and
    bufferization apply. Numerics follow Hugging Face `LlamaForCausalLM` in
    f32: RMSNorm and softmax accumulate in f32, RoPE's inverse frequencies are
    computed once at compile time with the same float32 operations as
    `transformers`, and cached attention masks keys after the query's
    position; the loss is a masked mean of `logsumexp - logit[target]`.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def LlamaPrivatizeEntryPointsPass
    : Pass<"llama-privatize-entry-points", "ModuleOp"> {
  let summary = "Makes the model's entry points private before bufferization";
  let description = [{
    Bufferization keeps the signature of public functions. The model's entry
    points (functions whose first argument carries `llama.input`) become
    private so that their in-place KV-cache results are dropped and their
    logits become an out-parameter; `llama-entry-abi` then adds the public
    C entry points that call them.
  }];
}

def LlamaCopiesToLinalgPass : Pass<"llama-copies-to-linalg", "ModuleOp"> {
  let summary = "Rewrites memref.copy as linalg.copy";
  let description = [{
    Bufferization copies new KV-cache rows into strided views of the cache
    with `memref.copy`, which the LLVM lowering turns into calls to
    `memrefCopy` from MLIR's runner library. As `linalg.copy` the copies
    become loops like the rest of the model, so artifacts need no MLIR
    library at run time.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def LlamaEntryABIPass : Pass<"llama-entry-abi", "ModuleOp"> {
  let summary = "Adds C entry points with a fixed signature and the manifest";
  let description = [{
    Runs on bufferized IR. For each entry function `@F` (one whose arguments
    carry `llama.input`/`llama.weight`/`llama.kv_cache` attributes and whose
    logits or loss are an out-parameter), adds, for inference entry points,

    ```c
    void llama_F(const int32_t *tokens, int64_t n_tokens, int64_t position,
                 float *const *weights,   /* in manifest order */
                 float *const *kv_caches, /* layer-major: k0, v0, k1, ... */
                 float *logits);          /* [n_tokens, vocab_size] */
    ```

    and for the training loss

    ```c
    void llama_train_loss(const int32_t *tokens,  /* [batch, seq + 1] */
                          const float *loss_mask, /* [batch, seq] */
                          float *const *weights, float *loss);
    ```

    which wraps the raw pointers into memref descriptors and calls `@F`, so
    a runtime calls any model through one C signature. It also stores the
    artifact's manifest (config, weight names and shapes, entry points) as a
    NUL-terminated JSON string in the global `llama_manifest`.
  }];
  let dependentDialects = [
    "::mlir::LLVM::LLVMDialect", "::mlir::func::FuncDialect",
    "::mlir::memref::MemRefDialect", "::mlir::arith::ArithDialect"
  ];
}

#endif // LLAMAC_PASSES_TD
