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
    `DifferentiableOpInterface` (tensor reshapes through external models,
    `registerDifferentiableExternalModels`); cotangents of
    values used more than once are summed with `llama.add`. An op without a
    gradient rule on the path to the loss is an error.

    A `func.call` (a decoder layer) is differentiated through two functions
    made once per callee: the call becomes a call of `@<callee>_fwd(callee
    args...) -> (results..., saved...)`, which also returns the activations
    that the backward pass reads, and the backward pass calls
    `@<callee>_bwd(callee args..., d results..., saved...) -> (d args...)`.
    Every layer thus shares one forward and one backward body, and no
    forward op runs twice (the activations are stored, not recomputed). A
    callee that itself makes calls is an error.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::tensor::TensorDialect"
  ];
}

def LlamaOptimizerStepPass : Pass<"llama-optimizer-step", "ModuleOp"> {
  let summary = "Adds @train_step: gradients, clipping and AdamW in one call";
  let description = [{
    For each gradient function `@F_grad` made by `llama-autodiff`, adds
    `@train_step(tokens, loss_mask, step_params, weights..., adam_m...,
    adam_v...) -> (loss, grad_norm, new weights..., new adam_m...,
    new adam_v...)`: it calls `@F_grad`, takes the global L2 norm of the
    gradients, and updates every weight with `llama.adamw` (gradients clipped
    to `max-grad-norm`; weight decay on weights of rank 2 or more, none on
    RMSNorm gains). `step_params` is `[learning rate, step]`, so the schedule
    stays in the runtime. The updated tensors are meant to be written in
    place (their results are tagged `llama.updated`).
  }];
  let options = [
    Option<"beta1", "beta1", "double", "0.9", "AdamW beta1">,
    Option<"beta2", "beta2", "double", "0.95", "AdamW beta2">,
    Option<"eps", "eps", "double", "1e-5", "AdamW epsilon">,
    Option<"weightDecay", "weight-decay", "double", "0.1",
           "Decoupled weight decay of weights with rank >= 2">,
    Option<"maxGradNorm", "max-grad-norm", "double", "1.0",
           "Clip the global gradient norm to this">
  ];
  let dependentDialects = ["::mlir::func::FuncDialect"];
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
    `transformers`, and attention (cached or not) is one fused loop nest over
    blocks of keys with an online softmax (vector ops in an `scf.forall`
    over rows and key/value heads) that sees keys up to the query's
    position; the loss is a masked mean of `logsumexp - logit[target]`.

    The fused loop nests (attention, the column blocks of fused projections)
    are parallel loops when their work is worth a fork of the CPU's
    threads, else serial nests; with `always-parallel` (a GPU target) every
    one is a parallel loop, which becomes a kernel.
  }];
  let options = [
    Option<"alwaysParallel", "always-parallel", "bool", "false",
           "Make every fused loop nest a parallel loop, whatever its size">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect", "::mlir::vector::VectorDialect",
    "::mlir::gpu::GPUDialect"
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

def LlamaEntryOutParamsPass : Pass<"llama-entry-out-params", "ModuleOp"> {
  let summary = "Turns the entry points' buffer results into out-parameters";
  let description = [{
    Runs on bufferized IR: each memref result of an entry point (the
    logits, the loss, the gradients) becomes a trailing argument the caller
    allocates, as upstream's `buffer-results-to-out-params` does, but for
    entry points only. Internal functions, such as a decoder layer whose
    result has a run-time sequence length, keep their memref results.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

def LlamaFuseResidualPass : Pass<"llama-fuse-residual"> {
  let summary = "Folds residual adds into the linear layer that feeds them";
  let description = [{
    `llama.add %x, (llama.linear %h, %w)` becomes `llama.linear %h, %w
    residual(%x)` when the add is the linear's only user: the projection's
    sum starts from the residual (its accumulators load it), so no separate
    pass over the activations adds it afterwards. In a Llama layer: the
    attention output and the feed-forward down projection. Runs after the
    autodiff pass (the training step's recomputed forward passes are fused
    too); linear's gradient covers the residual form anyway.
  }];
}

def LlamaFuseSwiGLUPass : Pass<"llama-fuse-swiglu"> {
  let summary = "Fuses the gate and up projections with their SwiGLU";
  let description = [{
    `llama.swiglu (llama.linear %x, %wg), (llama.linear %x, %wu)` becomes
    `llama.swiglu_projection %x, %wg, %wu` when the SwiGLU is the only user
    of both projections: lowered, each block of gate and up columns is
    combined while in cache and the two `[rows, hidden_dim]` products are
    never stored. Runs after autodiff: in the training step the products
    are kept for the SwiGLU's gradient and the pattern does not apply
    (`llama-fuse-projections` still merges the two projections there).
  }];
}

def LlamaFuseProjectionsPass : Pass<"llama-fuse-projections"> {
  let summary = "Merges the linear layers that share an input into one op";
  let description = [{
    Linear layers without a residual that read the same value in one block
    (a layer's q, k and v projections; the gate and up projections where
    `llama-fuse-swiglu` did not apply) become one `llama.projections` at
    the first of them, their weights in program order. Lowered, one loop
    over column blocks computes a block of every projection per iteration.
    Runs after `llama-fuse-swiglu` and `llama-fuse-residual`, whose forms
    it leaves alone.
  }];
}

def LlamaTileContractionsPass
    : Pass<"llama-tile-contractions", "::mlir::func::FuncOp"> {
  let summary = "Tiles matmul-like linalg ops into vectorized register tiles";
  let description = [{
    Every linalg.generic that multiplies and accumulates over one reduction
    dim with a reassociable sum (the linear layers, their gradients, the LM
    head) becomes cache blocks of register tiles vectorized to
    `vector-bits`-wide vectors, the accumulators hoisted out of the k loop:
    an outer-product kernel on the right operand's block packed into column
    panels (a weight [N, K] transposed into them in vector squares), or a
    dot kernel with per-lane partial sums when both operands are contiguous
    along k and the columns do not fill whole panels, and for GEMVs (one
    row: decode). Leftover rows and columns are peeled
    and stay loops; a dynamic row count is versioned (tiles for at least 8
    rows, plain loops below). Runs on tensors, before bufferization.
  }];
  let options = [
    Option<"vectorBits", "vector-bits", "int64_t", "256",
           "Width of the target's vector registers in bits (0: no tiling)">
  ];
  let dependentDialects = [
    "::mlir::affine::AffineDialect", "::mlir::arith::ArithDialect",
    "::mlir::scf::SCFDialect", "::mlir::tensor::TensorDialect",
    "::mlir::vector::VectorDialect"
  ];
}

def LlamaParallelizeRowsPass
    : Pass<"llama-parallelize-rows", "::mlir::func::FuncOp"> {
  let summary = "Splits big elementwise and row-reduction ops over threads";
  let description = [{
    Every linalg.generic directly in a function body whose outermost loop is
    parallel and that runs at least 64K iterations (a dynamic extent counted
    as 64) is tiled along that loop into an scf.forall of row chunks: 1/16 of
    a known row count, 4 rows of a dynamic one. Runs after
    llama-tile-contractions, whose ops sit in loops already.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect"];
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
    NUL-terminated JSON string in the global `llama_manifest`. Every other
    function with a body (the entry points themselves, the layer functions,
    bufferization's helpers) becomes internal. A module without entry points
    (an op test's `@main`) gets neither wrappers nor a manifest.
  }];
  let options = [
    Option<"target", "target", "std::string", "\"cpu\"",
           "The manifest's target: cpu, or nvidia (device pointers)">
  ];
  let dependentDialects = [
    "::mlir::LLVM::LLVMDialect", "::mlir::func::FuncDialect",
    "::mlir::memref::MemRefDialect", "::mlir::arith::ArithDialect"
  ];
}

def LlamaMapLoopsToThreadsPass
    : Pass<"llama-map-loops-to-threads", "::mlir::func::FuncOp"> {
  let summary = "Splits innermost parallel dims into blocks of GPU threads";
  let description = [{
    For the NVIDIA target, before `gpu-map-parallel-loops` (grid = the
    outermost scf.parallel, threads = the one nested in it): an outermost
    parallel loop with no parallel loop inside gets its innermost dim tiled
    by 128 (guarded, no min/max bounds), so that a block's threads run
    along the contiguous dim, mapped to thread x (the tile's unit dims to y
    and z: in order, a 3-d loop's 128 threads would land on z, where a
    block holds at most 64). Loops with a nested parallel loop (the column
    blocks of fused projections) already have their threads.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect",
                           "::mlir::gpu::GPUDialect"];
}

def LlamaFuseIntoKernelsPass
    : Pass<"llama-fuse-into-kernels", "::mlir::func::FuncOp"> {
  let summary = "Elementwise producers recomputed in their consumers' kernels";
  let description = [{
    For the NVIDIA target, on tensors: an all-parallel `linalg.generic` is
    fused into a consumer generic (upstream's elementwise fusion) when that
    saves a kernel launch without multiplying work: into any elementwise
    consumer; into a contraction only when it has at most 8 static rows
    (the warp GEMV applies the producer to what it reads along k) and the
    producer reads no element by index and applies no math function to a
    value that varies with all its loops (RMSNorm's scaling fuses into the
    projections after it; SwiGLU's and softmax's exponentials stay).
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def LlamaMergeLaunchesPass
    : Pass<"llama-merge-launches", "::mlir::ModuleOp"> {
  let summary = "Consecutive independent kernels as one launch";
  let description = [{
    For the NVIDIA target, on `gpu.launch` ops before outlining: consecutive
    plain launches with the same block shape, with nothing between them
    that touches memory, and that share no memory one of them writes, become
    one launch over both grids (each linearized): block b below the first's
    block count runs its body, the others the second's. Fresh allocations
    do not alias other memory; nor do two distinct arguments: any of a
    model entry point's (the runtime gives each weight, cache and input its
    own buffer), and those every call of their function passes memory
    distinct from its other operands. Other arguments may alias: launches
    that both write them, or one reads what the other writes, stay apart.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::scf::SCFDialect"];
}

def LlamaSerialReductionsPass
    : Pass<"llama-serial-reductions", "::mlir::func::FuncOp"> {
  let summary = "Reductions a thread finishes alone, summed in registers";
  let description = [{
    For the NVIDIA target, on buffers after `llama-warp-contractions`: a
    host-level `linalg.generic` with reductions whose operands are indexed
    by projected permutations and whose one output is indexed by all the
    parallel loops becomes a parallel loop over the output holding serial
    loops over the reduced dims, the sum in a register from the value of a
    fill that reaches the op (the fill erased) or the output's old value,
    stored once.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::arith::ArithDialect"];
}

def LlamaForwardFillsPass
    : Pass<"llama-forward-fills", "::mlir::func::FuncOp"> {
  let summary = "A copy of a buffer that still holds a fill, as a fill";
  let description = [{
    For the NVIDIA target, on buffers before the kernel generators: a
    `linalg.copy` whose source holds the value of a `linalg.fill` (nothing
    between may touch the source's allocation) becomes a `linalg.fill` of
    its target with that value. Identical destinations CSE'd into one
    filled buffer otherwise cost a copy kernel each, and hide from the
    contractions that their outputs start as zeros.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def LlamaMmaContractionsPass
    : Pass<"llama-mma-contractions", "::mlir::func::FuncOp"> {
  let summary = "Prefill's BF16 projections as tensor-core tiles";
  let description = [{
    For the NVIDIA target, on buffers before the loops become kernels and
    before `llama-warp-contractions`: a host-level `linalg.generic`
    out[m, n] += x[m, k] * w[n, k] (the body a multiply-accumulate, perhaps
    widening) with more than 8 or run-time rows, BF16 weights, N a multiple
    of 32 and K of 16 becomes a grid of one-warp blocks, each computing a
    64 x 32 output tile as 4 x 4 `nvvm.mma.sync` m16n8k16 BF16 tiles with
    f32 accumulators, fragments loaded per lane in the PTX layout (f32
    activations split into BF16 hi + lo parts, each multiplied: f32-like
    products). A `linalg.fill` of the output right before becomes the start
    value.
  }];
  let dependentDialects = [
    "::mlir::gpu::GPUDialect", "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect", "::mlir::memref::MemRefDialect",
    "::mlir::NVVM::NVVMDialect", "::mlir::LLVM::LLVMDialect"
  ];
}

def LlamaFlashDecodingPass
    : Pass<"llama-flash-decoding", "::mlir::func::FuncOp"> {
  let summary = "Decode attention as one split-key warp kernel and a merge";
  let description = [{
    For the NVIDIA target, on buffers before the other kernel generators:
    the five generics of decode attention (scores over D, their max and sum
    of exponentials exp(c (s - max)) along the keys, the probabilities, and
    their weighted sum of values) become flash-decoding. The keys split into
    ranges (enough for about 2048 warps, at least 32 keys each); a warp per
    (key/value head, range) holds the head's query rows in its lanes along
    D and walks the range in blocks of keys with an online softmax (scores
    summed over D by butterfly shuffles; the running sum and output
    rescaled when the max grows), leaving the range's max, sum and
    unnormalized output; a thread per output element then merges the
    ranges. The intermediates of size [Hkv, G, L] are gone. Matches only
    the exact form (maps, bodies, fills of 0 and -inf, nothing between that
    touches memory), and leaves anything else to llama-warp-contractions.
  }];
  let options = [
    Option<"warpSize", "warp-size", "int64_t", /*default=*/"32",
           "Threads of a warp; 1 makes the kernels sequential code the CPU "
           "can run (tests)">,
    Option<"minKeysPerRange", "min-keys-per-range", "int64_t",
           /*default=*/"32",
           "The shortest key range a warp takes (tests: shorter, for several "
           "ranges and their merge at small lengths)">
  ];
  let dependentDialects = [
    "::mlir::gpu::GPUDialect", "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect", "::mlir::memref::MemRefDialect",
    "::mlir::math::MathDialect", "::mlir::arith::ArithDialect"
  ];
}

def LlamaWarpContractionsPass
    : Pass<"llama-warp-contractions", "::mlir::func::FuncOp"> {
  let summary = "Reductions along a contiguous dim as warp reductions";
  let description = [{
    For the NVIDIA target, on buffers before the loops become kernels: a
    host-level `linalg.generic` whose last loop k is its one reduction,
    read by its inputs as their contiguous last dim, combining with `addf`
    or `maximumf` (decode's projections and LM head, RMSNorm's sums of
    squares, decode attention's scores, max and sum) becomes a parallel
    loop over blocks of 4 warps, one warp per output point: lanes read
    along k in vectors of up to 16 bytes (coalesced), keep a partial result
    (per row, for up to 8 static rows that share a weight operand, loaded
    once for all), combine them with butterfly shuffles (`gpu.shuffle
    xor`), and lane 0 writes. A `linalg.fill` of the output right before
    becomes the start value. The generics after such a reduction over the
    same rows join its warp when they read its results only at their own
    point: more reductions and elementwise maps along the row (softmax's
    sum of exponentials and probabilities after the max; RMSNorm's scaling
    after the sum), reductions of the same static shape (decode's gate and
    up; k and v), and an elementwise map of the point after them (their
    SwiGLU). The results stay in registers, and each lane reads and writes
    the same elements of a row in every step. A reduction whose result
    only later such reductions over the same row read, through one factor
    of each product (decode's RMSNorm sum of squares, through the rsqrt in
    the projections), is recomputed in their walks instead: the products
    leave the factor out, and the total is scaled by it at the end.
  }];
  let options = [
    Option<"loadsInFlight", "loads-in-flight", "int64_t", /*default=*/"4",
           "Steps of a lane's walk along k unrolled together (independent "
           "loads in flight), divided by the rows a step loads for">,
    Option<"warpSize", "warp-size", "int64_t", /*default=*/"32",
           "Threads of a warp; 1 makes the kernels sequential code the CPU "
           "can run (tests)">,
    Option<"maxLoadBytes", "max-load-bytes", "int64_t", /*default=*/"16",
           "The widest load a lane issues (ld.global.v4: 16 bytes), aligned "
           "to its size; 1: scalar loads (on a CPU, for weights used in "
           "place from a file, aligned to their element only)">
  ];
  let dependentDialects = [
    "::mlir::gpu::GPUDialect", "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect", "::mlir::memref::MemRefDialect"
  ];
}

def LlamaGpuMathApproximationsPass : Pass<"llama-gpu-math-approximations"> {
  let summary = "Kernel math without libdevice";
  let description = [{
    For the NVIDIA target without the CUDA toolkit (PTX for the driver's
    JIT, no libdevice to link), run on the GPU modules: `math.exp`,
    `math.sin` and `math.cos` become polynomial approximations with range
    reduction and `math.rsqrt` becomes 1 / sqrt, built of what
    `llama-gpu-math-intrinsics` then turns into instructions (it rejects any
    other call that would need libdevice).
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
    "::mlir::vector::VectorDialect"
  ];
}

def LlamaGpuMathIntrinsicsPass : Pass<"llama-gpu-math-intrinsics"> {
  let summary = "libdevice calls NVPTX has instructions for, as intrinsics";
  let description = [{
    For the NVIDIA target without the CUDA toolkit, after
    `convert-gpu-to-nvvm` (which calls libdevice for every math op): calls
    of `__nv_sqrtf`, `__nv_fmaf`, `__nv_floorf`, `__nv_ceilf`, `__nv_fabsf`,
    `__nv_truncf`, `__nv_rintf`, `__nv_roundf` and `__nv_copysignf` become
    the LLVM intrinsics NVPTX lowers to instructions, and their declarations
    go. A call of any other libdevice function is an error naming it.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def LlamaDeviceMemoryPass : Pass<"llama-device-memory", "ModuleOp"> {
  let summary = "Allocates the host code's buffers on the GPU";
  let description = [{
    For the NVIDIA target, after the kernels are outlined: `memref.alloc` and
    `memref.dealloc` in host functions become `gpu.alloc` and `gpu.dealloc`
    (device memory, like the weights, caches and logits the runtime
    passes). Fails on any host op that still reads or writes a buffer's
    contents (it would dereference a device pointer on the CPU).
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

#endif // LLAMAC_PASSES_TD
