// RUN: llama-opt %s --pass-pipeline="builtin.module(func.func(llama-tile-contractions{vector-bits=256}),canonicalize,cse)" | FileCheck %s
// RUN: llama-opt %s --pass-pipeline="builtin.module(func.func(llama-tile-contractions{vector-bits=0}))" | FileCheck %s --check-prefix=OFF
// RUN: llama-opt %s --pass-pipeline="builtin.module(func.func(llama-tile-contractions{vector-bits=512}),canonicalize,cse)" | FileCheck %s --check-prefix=WIDE

// Tests the register tiling of matmul-like generics for 256-bit vectors
// (8 f32 lanes).

// With no vectors to tile for, nothing changes.
// OFF-NOT: scf.for {{.*}} to
// OFF-NOT: vector.

#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#w = affine_map<(m, n, k) -> (k, n)>
#y = affine_map<(m, n, k) -> (m, n)>
// y = x . W^T with a run-time row count (prefill): with at least 8 rows,
// parallel blocks of 128 columns, each W block transposed into panels of 16
// columns ([8, 256, 16]) in 8 x 8 vector squares (a shuffle each: on 512-bit
// vectors, 16 x 16 squares as a tree of 2-input shuffles), and the
// outer-product kernel on them — no lane sums, unlike the dot kernel. Fewer
// rows: a GEMV over chunks of 64 columns. The rows past the last whole tile
// run one at a time, vectorized too.
// CHECK-LABEL: func.func @linear(
// CHECK: %[[ENOUGH:.*]] = arith.cmpi sge, %{{.*}}, %c8
// CHECK: scf.if %[[ENOUGH]]
// CHECK: scf.forall ({{.*}}) = (0) to (256) step (128)
// CHECK: %[[BLOCK:.*]] = tensor.expand_shape {{.*}} output_shape [8, 16, 256] : tensor<128x256xf32> into tensor<8x16x256xf32>
// CHECK: scf.for {{.*}} to %c8 step %c1
// CHECK: scf.for {{.*}} to %c256 step %c8
// CHECK: scf.for {{.*}} to %c16 step %c8
// CHECK: tensor.extract_slice %[[BLOCK]]{{.*}} [1, 8, 8] [1, 1, 1] : tensor<8x16x256xf32> to tensor<1x8x8xf32>
// CHECK: vector.transfer_read {{.*}} : tensor<8x8xf32>, vector<8x8xf32>
// CHECK: vector.shuffle %{{.*}}, %{{.*}} [0, 8, 16, 24, 32, 40, 48, 56, 1, 9,
// CHECK: vector.transfer_write {{.*}} : vector<8x8xf32>, tensor<8x8xf32>
// CHECK: scf.for {{.*}} step %c8
// CHECK: scf.for {{.*}} to %c8 step %c1
// CHECK: scf.for {{.*}} to %c256 step %c1 iter_args(%{{.*}} = %{{.*}}) -> (vector<8x16xf32>)
// CHECK: vector.contract {{.*}} : vector<8x1xf32>, vector<1x16xf32> into vector<8x16xf32>
// The whole tiles leave no row remainder to peel (no scalar generic here).
// CHECK-NOT: linalg.generic
// CHECK: scf.for {{.*}} to %c256 step %c1 iter_args(%{{.*}} = %{{.*}}) -> (vector<16xf32>)
// CHECK: } else {
// CHECK: scf.forall ({{.*}}) = (0) to (256) step (64)
// CHECK: scf.for {{.*}} to %{{.*}} step %c1
// CHECK: scf.for {{.*}} to %c64 step %c1
// CHECK: scf.for {{.*}} to %c256 step %c8 iter_args(%{{.*}} = %{{.*}}) -> (vector<1x1x8xf32>)
// WIDE-LABEL: func.func @linear(
// WIDE: vector.transfer_read {{.*}} : tensor<16x16xf32>, vector<16x16xf32>
// WIDE-COUNT-32: vector.shuffle {{.*}} : vector<16xf32>, vector<16xf32>
// WIDE: vector.transfer_write {{.*}} : vector<16x16xf32>, tensor<16x16xf32>
// WIDE: vector.contract {{.*}} : vector<8x1xf32>, vector<1x32xf32> into vector<8x32xf32>
func.func @linear(%x: tensor<?x256xf32>, %w: tensor<256x256xf32>, %init: tensor<?x256xf32>) -> tensor<?x256xf32> {
  %r = linalg.generic {indexing_maps = [#x, #wt, #y], iterator_types = ["parallel", "parallel", "reduction"]}
     ins(%x, %w : tensor<?x256xf32>, tensor<256x256xf32>) outs(%init : tensor<?x256xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b fastmath<contract> : f32
    %s = arith.addf %c, %p fastmath<reassoc, contract> : f32
    linalg.yield %s : f32
  } -> tensor<?x256xf32>
  return %r : tensor<?x256xf32>
}
// y = x . W^T whose columns do not fill whole panels (200 = 6 x 32 + 8):
// the dot kernel, 8 x 2 tiles of 8-lane partial sums summed once per tile,
// in parallel blocks of 16 columns (all 64 rows: one block of rows).
// CHECK-LABEL: func.func @linear_odd_columns(
// CHECK: scf.forall ({{.*}}) = (0) to (200) step (16)
// CHECK: scf.for {{.*}} step %c8
// CHECK: scf.for {{.*}} step %c2
// CHECK: scf.for {{.*}} to %c512 step %c8 iter_args(%{{.*}} = %{{.*}}) -> (vector<8x2x8xf32>)
// CHECK: vector.transfer_read {{.*}} : tensor<8x8xf32>, vector<8x8xf32>
// CHECK: vector.transfer_read {{.*}} : tensor<2x8xf32>, vector<2x8xf32>
// CHECK: vector.multi_reduction <add>, {{.*}} [2] : vector<8x2x8xf32> to vector<8x2xf32>
func.func @linear_odd_columns(%x: tensor<64x512xf32>, %w: tensor<200x512xf32>, %init: tensor<64x200xf32>) -> tensor<64x200xf32> {
  %r = linalg.generic {indexing_maps = [#x, #wt, #y], iterator_types = ["parallel", "parallel", "reduction"]}
     ins(%x, %w : tensor<64x512xf32>, tensor<200x512xf32>) outs(%init : tensor<64x200xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b fastmath<contract> : f32
    %s = arith.addf %c, %p fastmath<reassoc, contract> : f32
    linalg.yield %s : f32
  } -> tensor<64x200xf32>
  return %r : tensor<64x200xf32>
}
// dX = dY . W: W runs along the output's columns, so the outer-product
// kernel on column panels: W's block copied once into panels of 16 columns
// ([4, 256, 16]) that the register tile reads contiguously, an 8 x 16
// accumulator kept in registers over k, fed by 8 values of dY and 16 of a
// panel per step; rows outside, panels inside. The panel's unit dim is
// dropped so that the contraction is a plain matmul (an outer product per k).
// CHECK-LABEL: func.func @input_grad(
// CHECK: %[[PANELS:.*]] = linalg.transpose ins(%{{.*}} : tensor<256x4x16xf32>) outs(%{{.*}} : tensor<4x256x16xf32>) permutation = [1, 0, 2]
// CHECK: scf.for {{.*}} step %c8
// CHECK: scf.for {{.*}} to %c4 step %c1
// CHECK: %[[ACC:.*]] = vector.transfer_read {{.*}} : tensor<8x16xf32>, vector<8x16xf32>
// CHECK: scf.for {{.*}} to %c256 step %c1 iter_args(%{{.*}} = %[[ACC]]) -> (vector<8x16xf32>)
// CHECK: tensor.extract_slice %[[PANELS]]
// CHECK: vector.contract {{.*}} : vector<8x1xf32>, vector<1x16xf32> into vector<8x16xf32>
// CHECK: vector.transfer_write {{.*}} : vector<8x16xf32>, tensor<8x16xf32>
func.func @input_grad(%dy: tensor<32x256xf32>, %w: tensor<256x64xf32>, %init: tensor<32x64xf32>) -> tensor<32x64xf32> {
  %r = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
     ins(%dy, %w : tensor<32x256xf32>, tensor<256x64xf32>) outs(%init : tensor<32x64xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b fastmath<contract> : f32
    %s = arith.addf %c, %p fastmath<reassoc, contract> : f32
    linalg.yield %s : f32
  } -> tensor<32x64xf32>
  return %r : tensor<32x64xf32>
}
// dW = dY^T . X summed over batch and sequence (two reduction dims): the
// same packed outer-product kernel, the accumulator kept over both sums, and
// the contraction a plain matmul of one k (unit dims dropped: left in, it
// lowered to a scalar dot product per output element).
#dy3 = affine_map<(o, i, b, t) -> (b, t, o)>
#x3 = affine_map<(o, i, b, t) -> (b, t, i)>
#dw = affine_map<(o, i, b, t) -> (o, i)>
// CHECK-LABEL: func.func @weight_grad(
// CHECK: %[[ACC:.*]] = vector.transfer_read {{.*}} : tensor<8x16xf32>, vector<8x16xf32>
// CHECK: scf.for {{.*}} to %c2 step %c1 iter_args(%{{.*}} = %[[ACC]]) -> (vector<8x16xf32>)
// CHECK: scf.for {{.*}} to %c16 step %c1 iter_args({{.*}}) -> (vector<8x16xf32>)
// CHECK: vector.contract {{.*}} : vector<1x8xf32>, vector<1x16xf32> into vector<8x16xf32>
func.func @weight_grad(%dy: tensor<2x16x32xf32>, %x: tensor<2x16x64xf32>, %init: tensor<32x64xf32>) -> tensor<32x64xf32> {
  %r = linalg.generic {indexing_maps = [#dy3, #x3, #dw], iterator_types = ["parallel", "parallel", "reduction", "reduction"]}
     ins(%dy, %x : tensor<2x16x32xf32>, tensor<2x16x64xf32>) outs(%init : tensor<32x64xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b fastmath<contract> : f32
    %s = arith.addf %c, %p fastmath<reassoc, contract> : f32
    linalg.yield %s : f32
  } -> tensor<32x64xf32>
  return %r : tensor<32x64xf32>
}
// Attention's P . V: queries and keys known only at run time.
// The outer-product kernel steps through the keys one at a time, so a
// run-time sum is fine; the heads run on threads (counting each run-time
// extent as 64, the multiply-adds are worth it), V's head block packed.
#p5 = affine_map<(q, h, g, d, t) -> (q, h, g, t)>
#v5 = affine_map<(q, h, g, d, t) -> (t, h, d)>
#o5 = affine_map<(q, h, g, d, t) -> (q, h, g, d)>
// CHECK-LABEL: func.func @attention_values(
// CHECK: scf.if
// CHECK: %[[KEYS:.*]] = tensor.dim %{{.*}}, %c3 : tensor<?x12x1x?xf32>
// CHECK: scf.forall ({{.*}}) in (12)
// CHECK: linalg.transpose
// CHECK: scf.for {{.*}} step %c8
// CHECK: scf.for {{.*}} to %[[KEYS]] step %c1 iter_args({{.*}}) -> (vector<8x16xf32>)
// CHECK: vector.contract {{.*}} : vector<8x1xf32>, vector<1x16xf32> into vector<8x16xf32>
// Fewer than 8 queries (decode: one): one row of the same kernel, each key
// a broadcast probability times 16 contiguous values of V.
// CHECK: } else {
// CHECK: scf.for {{.*}} to %c64 step %c16
// CHECK: scf.for {{.*}} step %c1 iter_args({{.*}}) -> (vector<16xf32>)
// CHECK: vector.contract {{.*}} : vector<1xf32>, vector<1x16xf32> into vector<16xf32>
func.func @attention_values(%probs: tensor<?x12x1x?xf32>, %values: tensor<?x12x64xf32>, %init: tensor<?x12x1x64xf32>) -> tensor<?x12x1x64xf32> {
  %r = linalg.generic {indexing_maps = [#p5, #v5, #o5], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
     ins(%probs, %values : tensor<?x12x1x?xf32>, tensor<?x12x64xf32>) outs(%init : tensor<?x12x1x64xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %m = arith.mulf %a, %b fastmath<contract> : f32
    %s = arith.addf %c, %m fastmath<reassoc, contract> : f32
    linalg.yield %s : f32
  } -> tensor<?x12x1x64xf32>
  return %r : tensor<?x12x1x64xf32>
}
// One row (decode): the columns split over threads in chunks of 64 (the
// weight holds 64K values: worth a fork and join); in a chunk, one column at
// a time, an 8-lane partial sum over its weight row, summed once.
// CHECK-LABEL: func.func @gemv(
// CHECK: scf.forall ({{.*}}) = (0) to (256) step (64)
// CHECK: scf.for {{.*}} to %c64 step %c1
// CHECK: scf.for {{.*}} to %c256 step %c8 iter_args(%{{.*}} = %{{.*}}) -> (vector<1x1x8xf32>)
// CHECK: vector.transfer_read {{.*}} : tensor<1x8xf32>, vector<1x8xf32>
// CHECK: vector.transfer_read {{.*}} : tensor<1x8xf32>, vector<1x8xf32>
// CHECK: vector.multi_reduction <add>, {{.*}} [2] : vector<1x1x8xf32> to vector<1x1xf32>
func.func @gemv(%x: tensor<1x256xf32>, %w: tensor<256x256xf32>, %init: tensor<1x256xf32>) -> tensor<1x256xf32> {
  %r = linalg.generic {indexing_maps = [#x, #wt, #y], iterator_types = ["parallel", "parallel", "reduction"]}
     ins(%x, %w : tensor<1x256xf32>, tensor<256x256xf32>) outs(%init : tensor<1x256xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b fastmath<contract> : f32
    %s = arith.addf %c, %p fastmath<reassoc, contract> : f32
    linalg.yield %s : f32
  } -> tensor<1x256xf32>
  return %r : tensor<1x256xf32>
}
// The same GEMV inside a parallel loop (a column block of fused
// projections) runs on that loop's thread: no nested forall.
// CHECK-LABEL: func.func @gemv_in_parallel_block(
// CHECK: scf.forall (%{{.*}}) in (2)
// CHECK-NOT: scf.forall
// CHECK: scf.for {{.*}} to %c256 step %c1
// CHECK: scf.for {{.*}} to %c256 step %c8 iter_args(%{{.*}} = %{{.*}}) -> (vector<1x1x8xf32>)
// CHECK: scf.forall.in_parallel
func.func @gemv_in_parallel_block(%x: tensor<1x256xf32>, %w: tensor<512x256xf32>, %out: tensor<1x512xf32>) -> tensor<1x512xf32> {
  %r = scf.forall (%p) in (2) shared_outs(%o = %out) -> (tensor<1x512xf32>) {
    %first = affine.apply affine_map<(p) -> (p * 256)>(%p)
    %wb = tensor.extract_slice %w[%first, 0] [256, 256] [1, 1] : tensor<512x256xf32> to tensor<256x256xf32>
    %ob = tensor.extract_slice %o[0, %first] [1, 256] [1, 1] : tensor<1x512xf32> to tensor<1x256xf32>
    %y = linalg.generic {indexing_maps = [#x, #wt, #y], iterator_types = ["parallel", "parallel", "reduction"]}
       ins(%x, %wb : tensor<1x256xf32>, tensor<256x256xf32>) outs(%ob : tensor<1x256xf32>) {
    ^bb0(%a: f32, %b: f32, %c: f32):
      %m = arith.mulf %a, %b fastmath<contract> : f32
      %s = arith.addf %c, %m fastmath<reassoc, contract> : f32
      linalg.yield %s : f32
    } -> tensor<1x256xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %y into %o[0, %first] [1, 256] [1, 1] : tensor<1x256xf32> into tensor<1x512xf32>
    }
  }
  return %r : tensor<1x512xf32>
}
// bf16 weights (llamac --weight-type=bf16) are read as they are and widened
// in registers.
// CHECK-LABEL: func.func @gemv_bf16(
// CHECK: scf.for {{.*}} to %c256 step %c8 iter_args(%{{.*}} = %{{.*}}) -> (vector<1x1x8xf32>)
// CHECK: %[[W:.*]] = vector.transfer_read {{.*}} : tensor<1x8xbf16>, vector<1x8xbf16>
// CHECK: arith.extf %[[W]] : vector<1x8xbf16> to vector<1x8xf32>
func.func @gemv_bf16(%x: tensor<1x256xf32>, %w: tensor<256x256xbf16>, %init: tensor<1x256xf32>) -> tensor<1x256xf32> {
  %r = linalg.generic {indexing_maps = [#x, #wt, #y], iterator_types = ["parallel", "parallel", "reduction"]}
     ins(%x, %w : tensor<1x256xf32>, tensor<256x256xbf16>) outs(%init : tensor<1x256xf32>) {
  ^bb0(%a: f32, %b: bf16, %c: f32):
    %bw = arith.extf %b : bf16 to f32
    %p = arith.mulf %a, %bw fastmath<contract> : f32
    %s = arith.addf %c, %p fastmath<reassoc, contract> : f32
    linalg.yield %s : f32
  } -> tensor<1x256xf32>
  return %r : tensor<1x256xf32>
}
// A sum that must keep its order is left alone.
// CHECK-LABEL: func.func @ordered_sum(
// CHECK-NOT: scf.for
// CHECK: linalg.generic
func.func @ordered_sum(%x: tensor<32x64xf32>, %w: tensor<256x64xf32>, %init: tensor<32x256xf32>) -> tensor<32x256xf32> {
  %r = linalg.generic {indexing_maps = [#x, #wt, #y], iterator_types = ["parallel", "parallel", "reduction"]}
     ins(%x, %w : tensor<32x64xf32>, tensor<256x64xf32>) outs(%init : tensor<32x256xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %c, %p : f32
    linalg.yield %s : f32
  } -> tensor<32x256xf32>
  return %r : tensor<32x256xf32>
}

// A sum longer than 1024 (the LM head's dX sums over the vocabulary) is
// packed in blocks of 512 values of k, the output accumulating across them:
// packed whole, b's block would not stay in L2 while the row tiles read it.
// CHECK-LABEL: func.func @long_sum(
// CHECK: scf.for {{.*}} = %c0 to %c2048 step %c512 iter_args(
// CHECK: linalg.transpose ins(%{{.*}} : tensor<512x4x16xf32>) outs(%{{.*}} : tensor<4x512x16xf32>)
// CHECK: scf.for {{.*}} to %c512 step %c1 iter_args(%{{.*}} = %{{.*}}) -> (vector<8x16xf32>)
func.func @long_sum(%dy: tensor<32x2048xf32>, %w: tensor<2048x64xf32>, %init: tensor<32x64xf32>) -> tensor<32x64xf32> {
  %r = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
     ins(%dy, %w : tensor<32x2048xf32>, tensor<2048x64xf32>) outs(%init : tensor<32x64xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b fastmath<contract> : f32
    %s = arith.addf %c, %p fastmath<reassoc, contract> : f32
    linalg.yield %s : f32
  } -> tensor<32x64xf32>
  return %r : tensor<32x64xf32>
}

// y = x . W^T with bf16 weights: each block of W is widened to f32 before it
// is packed, so that the panels and the kernel are the f32 ones.
// CHECK-LABEL: func.func @linear_bf16(
// CHECK: scf.forall ({{.*}}) = (0) to (256) step (128)
// CHECK: %[[F32W:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<128x256xbf16>) outs(%{{.*}} : tensor<128x256xf32>)
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK: tensor.expand_shape %[[F32W]] {{.*}} : tensor<128x256xf32> into tensor<8x16x256xf32>
// CHECK: vector.transfer_read {{.*}} : tensor<8x8xf32>, vector<8x8xf32>
// CHECK: vector.contract {{.*}} : vector<8x1xf32>, vector<1x16xf32> into vector<8x16xf32>
// CHECK: } else {
func.func @linear_bf16(%x: tensor<?x256xf32>, %w: tensor<256x256xbf16>, %init: tensor<?x256xf32>) -> tensor<?x256xf32> {
  %r = linalg.generic {indexing_maps = [#x, #wt, #y], iterator_types = ["parallel", "parallel", "reduction"]}
     ins(%x, %w : tensor<?x256xf32>, tensor<256x256xbf16>) outs(%init : tensor<?x256xf32>) {
  ^bb0(%a: f32, %bn: bf16, %c: f32):
    %b = arith.extf %bn : bf16 to f32
    %p = arith.mulf %a, %b fastmath<contract> : f32
    %s = arith.addf %c, %p fastmath<reassoc, contract> : f32
    linalg.yield %s : f32
  } -> tensor<?x256xf32>
  return %r : tensor<?x256xf32>
}
