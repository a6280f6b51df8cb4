// RUN: llama-opt %s --split-input-file --llama-fuse-into-kernels | FileCheck %s

// Tests which elementwise producers are recomputed in their consumers: an
// RMSNorm scaling in each decode projection after it (rsqrt of the row's
// sum only), not in a projection over run-time rows (a tensor-core GEMM);
// not an exp of every element into a contraction; a producer that reads by
// index into an elementwise consumer, not into a contraction.

#row = affine_map<(m, k) -> (m)>
#mk = affine_map<(m, k) -> (m, k)>
#k = affine_map<(m, k) -> (k)>
#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#out = affine_map<(m, n, k) -> (m, n)>

// CHECK-LABEL: func.func @norm_into_projections
// The scaling twice, once in each projection; its own generic gone.
// CHECK: linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: math.rsqrt
// CHECK: arith.extf
// CHECK: arith.mulf
// CHECK: linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: math.rsqrt
// CHECK-NOT: linalg.generic
func.func @norm_into_projections(%x: tensor<1x64xf32>, %sum: tensor<1xf32>, %g: tensor<64xbf16>, %wq: tensor<32x64xbf16>, %wk: tensor<16x64xbf16>) -> (tensor<1x32xf32>, tensor<1x16xf32>) {
  %eps = arith.constant 1.0e-5 : f32
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x64xf32>
  %normed = linalg.generic {indexing_maps = [#mk, #row, #k, #mk], iterator_types = ["parallel", "parallel"]} ins(%x, %sum, %g : tensor<1x64xf32>, tensor<1xf32>, tensor<64xbf16>) outs(%e : tensor<1x64xf32>) {
  ^bb0(%a: f32, %s: f32, %gain: bf16, %o: f32):
    %v = arith.addf %s, %eps : f32
    %r = math.rsqrt %v : f32
    %n = arith.mulf %a, %r : f32
    %gf = arith.extf %gain : bf16 to f32
    %y = arith.mulf %gf, %n : f32
    linalg.yield %y : f32
  } -> tensor<1x64xf32>
  %eq = tensor.empty() : tensor<1x32xf32>
  %fq = linalg.fill ins(%zero : f32) outs(%eq : tensor<1x32xf32>) -> tensor<1x32xf32>
  %q = linalg.generic {indexing_maps = [#x, #w, #out], iterator_types = ["parallel", "parallel", "reduction"]} ins(%normed, %wq : tensor<1x64xf32>, tensor<32x64xbf16>) outs(%fq : tensor<1x32xf32>) {
  ^bb0(%a: f32, %b: bf16, %o: f32):
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %a, %bf : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x32xf32>
  %ek = tensor.empty() : tensor<1x16xf32>
  %fk = linalg.fill ins(%zero : f32) outs(%ek : tensor<1x16xf32>) -> tensor<1x16xf32>
  %k = linalg.generic {indexing_maps = [#x, #w, #out], iterator_types = ["parallel", "parallel", "reduction"]} ins(%normed, %wk : tensor<1x64xf32>, tensor<16x64xbf16>) outs(%fk : tensor<1x16xf32>) {
  ^bb0(%a: f32, %b: bf16, %o: f32):
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %a, %bf : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x16xf32>
  return %q, %k : tensor<1x32xf32>, tensor<1x16xf32>
}

// -----

#row = affine_map<(m, k) -> (m)>
#mk = affine_map<(m, k) -> (m, k)>
#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#out = affine_map<(m, n, k) -> (m, n)>

// Run-time rows: the projection is a tensor-core GEMM, which reads its
// operands as stored.
// CHECK-LABEL: func.func @prefill_rows
// CHECK: math.rsqrt
// CHECK: linalg.yield
// CHECK: linalg.generic
// CHECK-NOT: math.rsqrt
// CHECK: return
func.func @prefill_rows(%x: tensor<?x64xf32>, %sum: tensor<?xf32>, %wq: tensor<32x64xbf16>, %out: tensor<?x32xf32>) -> tensor<?x32xf32> {
  %c0 = arith.constant 0 : index
  %rows = tensor.dim %x, %c0 : tensor<?x64xf32>
  %e = tensor.empty(%rows) : tensor<?x64xf32>
  %normed = linalg.generic {indexing_maps = [#mk, #row, #mk], iterator_types = ["parallel", "parallel"]} ins(%x, %sum : tensor<?x64xf32>, tensor<?xf32>) outs(%e : tensor<?x64xf32>) {
  ^bb0(%a: f32, %s: f32, %o: f32):
    %r = math.rsqrt %s : f32
    %n = arith.mulf %a, %r : f32
    linalg.yield %n : f32
  } -> tensor<?x64xf32>
  %q = linalg.generic {indexing_maps = [#x, #w, #out], iterator_types = ["parallel", "parallel", "reduction"]} ins(%normed, %wq : tensor<?x64xf32>, tensor<32x64xbf16>) outs(%out : tensor<?x32xf32>) {
  ^bb0(%a: f32, %b: bf16, %o: f32):
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %a, %bf : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  } -> tensor<?x32xf32>
  return %q : tensor<?x32xf32>
}

// -----

#mk = affine_map<(m, k) -> (m, k)>
#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#out = affine_map<(m, n, k) -> (m, n)>

// SwiGLU's exp varies with every element: computed once, not once per
// column of the down projection.
// CHECK-LABEL: func.func @exp_stays
// CHECK: math.exp
// CHECK: linalg.yield
// CHECK: linalg.generic
// CHECK-NOT: math.exp
// CHECK: return
func.func @exp_stays(%g: tensor<1x64xf32>, %w: tensor<32x64xbf16>, %out: tensor<1x32xf32>) -> tensor<1x32xf32> {
  %e = tensor.empty() : tensor<1x64xf32>
  %act = linalg.generic {indexing_maps = [#mk, #mk], iterator_types = ["parallel", "parallel"]} ins(%g : tensor<1x64xf32>) outs(%e : tensor<1x64xf32>) {
  ^bb0(%a: f32, %o: f32):
    %n = arith.negf %a : f32
    %x = math.exp %n : f32
    linalg.yield %x : f32
  } -> tensor<1x64xf32>
  %d = linalg.generic {indexing_maps = [#x, #w, #out], iterator_types = ["parallel", "parallel", "reduction"]} ins(%act, %w : tensor<1x64xf32>, tensor<32x64xbf16>) outs(%out : tensor<1x32xf32>) {
  ^bb0(%a: f32, %b: bf16, %o: f32):
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %a, %bf : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x32xf32>
  return %d : tensor<1x32xf32>
}

// -----

#d = affine_map<(m, d) -> (m)>
#md = affine_map<(m, d) -> (m, d)>
#hd = affine_map<(m, h, d) -> (m, d)>
#mhd = affine_map<(m, h, d) -> (m, h, d)>
#q = affine_map<(m, h, k) -> (m, h, k)>
#kk = affine_map<(m, h, k) -> (h, k)>
#o = affine_map<(m, h, k) -> (m, h)>

// RoPE's cos table (a function of the position and the dim's index) goes
// into the rotation, an elementwise op over the heads; a producer reading
// by index stays out of a contraction.
// CHECK-LABEL: func.func @by_index
// CHECK: linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel", "parallel"]
// CHECK: linalg.index 2
// CHECK: math.cos
// CHECK: linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-NOT: math.cos
// CHECK: return
func.func @by_index(%pos: tensor<1xf32>, %x: tensor<1x4x16xf32>, %keys: tensor<4x16xf32>, %scores: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %e = tensor.empty() : tensor<1x16xf32>
  %cos = linalg.generic {indexing_maps = [#d, #md], iterator_types = ["parallel", "parallel"]} ins(%pos : tensor<1xf32>) outs(%e : tensor<1x16xf32>) {
  ^bb0(%p: f32, %o: f32):
    %i = linalg.index 1 : index
    %ii = arith.index_cast %i : index to i32
    %f = arith.sitofp %ii : i32 to f32
    %a = arith.mulf %p, %f : f32
    %c = math.cos %a : f32
    linalg.yield %c : f32
  } -> tensor<1x16xf32>
  %e3 = tensor.empty() : tensor<1x4x16xf32>
  %rot = linalg.generic {indexing_maps = [#mhd, #hd, #mhd], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x, %cos : tensor<1x4x16xf32>, tensor<1x16xf32>) outs(%e3 : tensor<1x4x16xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %r = arith.mulf %a, %c : f32
    linalg.yield %r : f32
  } -> tensor<1x4x16xf32>
  %s = linalg.generic {indexing_maps = [#q, #kk, #o], iterator_types = ["parallel", "parallel", "reduction"]} ins(%rot, %keys : tensor<1x4x16xf32>, tensor<4x16xf32>) outs(%scores : tensor<1x4xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %p = arith.mulf %a, %b : f32
    %t = arith.addf %o, %p : f32
    linalg.yield %t : f32
  } -> tensor<1x4xf32>
  return %s : tensor<1x4xf32>
}
