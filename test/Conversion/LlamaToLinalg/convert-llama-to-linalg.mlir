// RUN: llama-opt %s --convert-llama-to-linalg --split-input-file | FileCheck %s

// Tests that embedding gathers table rows inside a parallel generic.
// CHECK-LABEL: func.func @embedding
// CHECK-SAME: (%[[TABLE:.*]]: tensor<100x64xbf16>, %[[IDS:.*]]: tensor<?xi32>)
// CHECK: %[[INIT:.*]] = tensor.empty(%{{.*}}) : tensor<?x64xf32>
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]{{.*}} ins(%[[IDS]] : tensor<?xi32>) outs(%[[INIT]] : tensor<?x64xf32>)
// CHECK: ^bb0(%[[ID:.*]]: i32, %{{.*}}: f32):
// CHECK: %[[ROW:.*]] = arith.index_cast %[[ID]] : i32 to index
// CHECK: %[[COL:.*]] = linalg.index 1 : index
// CHECK: %[[V:.*]] = tensor.extract %[[TABLE]][%[[ROW]], %[[COL]]] : tensor<100x64xbf16>
// CHECK: %[[E:.*]] = arith.extf %[[V]] : bf16 to f32
// CHECK: linalg.yield %[[E]]
func.func @embedding(%table: tensor<100x64xbf16>, %ids: tensor<?xi32>) -> tensor<?x64xf32> {
  %0 = llama.embedding %table[%ids] : (tensor<100x64xbf16>, tensor<?xi32>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// -----

// Tests that rms_norm reduces x² over the last dim into an f32 accumulator,
// then scales by rsqrt(mean + eps) and the gain.
// CHECK-LABEL: func.func @rms_norm
// CHECK: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[ACC:.*]] = linalg.fill ins(%[[ZERO]] : f32) outs(%{{.*}} : tensor<4xf32>)
// CHECK: %[[SUMSQ:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]{{.*}} outs(%[[ACC]] : tensor<4xf32>)
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]{{.*}} ins(%{{.*}}, %[[SUMSQ]], %{{.*}} : tensor<4x64xf32>, tensor<4xf32>, tensor<64xf32>)
// CHECK: %[[DIM:.*]] = arith.constant 6.400000e+01 : f32
// CHECK: %[[MEAN:.*]] = arith.divf %{{.*}}, %[[DIM]] : f32
// CHECK: %[[EPS:.*]] = arith.constant 9.99999974E-6 : f32
// CHECK: %[[SUM:.*]] = arith.addf %[[MEAN]], %[[EPS]] : f32
// CHECK: math.rsqrt %[[SUM]] : f32
func.func @rms_norm(%x: tensor<4x64xf32>, %w: tensor<64xf32>) -> tensor<4x64xf32> {
  %0 = llama.rms_norm %x, %w eps(1.0e-05) : (tensor<4x64xf32>, tensor<64xf32>) -> tensor<4x64xf32>
  return %0 : tensor<4x64xf32>
}

// -----

// Tests that linear contracts the input's last dim with the weight's second
// (x · wᵀ) into a zero-filled accumulator.
// CHECK-DAG: #[[X:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[W:.*]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-DAG: #[[Y:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @linear
// CHECK: %[[ACC:.*]] = linalg.fill
// CHECK: linalg.generic {indexing_maps = [#[[X]], #[[W]], #[[Y]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-SAME: outs(%[[ACC]] : tensor<?x172xf32>)
// The dot product may be reassociated and the product and sum fused (FMA).
// CHECK: %[[P:.*]] = arith.mulf
// CHECK: arith.addf %{{.*}}, %[[P]] fastmath<reassoc,contract> : f32
func.func @linear(%x: tensor<?x64xf32>, %w: tensor<172x64xf32>) -> tensor<?x172xf32> {
  %0 = llama.linear %x, %w : (tensor<?x64xf32>, tensor<172x64xf32>) -> tensor<?x172xf32>
  return %0 : tensor<?x172xf32>
}

// -----

// Tests that a linear with a residual accumulates into the residual instead
// of a zero-filled tensor.
// CHECK-LABEL: func.func @linear_residual
// CHECK-SAME: %[[R:[a-z0-9]+]]: tensor<?x64xf32>)
// CHECK-NOT: linalg.fill
// CHECK: linalg.generic
// CHECK-SAME: outs(%[[R]] : tensor<?x64xf32>)
func.func @linear_residual(%x: tensor<?x64xf32>, %w: tensor<64x64xf32>, %r: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %0 = llama.linear %x, %w residual(%r) : (tensor<?x64xf32>, tensor<64x64xf32>, tensor<?x64xf32>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// -----

// Tests that rope uses the inverse frequencies precomputed in float32
// (theta 10000, head_dim 8: 10000^(-i/8) for i = 0, 2, 4, 6), computes cos
// and sin once per position into [S, D] tables (the frequencies twice), then
// rotates halves and combines x·cos + rotate_half(x)·sin, reading the tables.
// CHECK-LABEL: func.func @rope
// CHECK: %[[FREQ:.*]] = arith.constant dense<[1.000000e+00, 1.000000e-01, 0.00999999977, 1.000000e-03]> : tensor<4xf32>
// CHECK: %[[TABLES:.*]]:2 = linalg.generic {{.*}} ins(%{{.*}} : tensor<?xi32>) outs(%{{.*}}, %{{.*}} : tensor<?x8xf32>, tensor<?x8xf32>)
// CHECK: %[[I:.*]] = linalg.index 1 : index
// CHECK: %[[FI:.*]] = arith.remui %[[I]], %c4
// CHECK: %[[F:.*]] = tensor.extract %[[FREQ]][%[[FI]]]
// CHECK: %[[ANGLE:.*]] = arith.mulf %{{.*}}, %[[F]] : f32
// CHECK: %[[COS:.*]] = math.cos %[[ANGLE]]
// CHECK: %[[SIN:.*]] = math.sin %[[ANGLE]]
// CHECK: linalg.yield %[[COS]], %[[SIN]]
// CHECK: linalg.generic {indexing_maps = [#[[X:.*]], #[[T:.*]], #[[T]], #[[X]]]{{.*}} ins(%{{.*}}, %[[TABLES]]#0, %[[TABLES]]#1 :
// CHECK-NOT: math.cos
// CHECK: arith.negf
// CHECK: arith.select
func.func @rope(%x: tensor<?x2x8xf32>, %pos: tensor<?xi32>) -> tensor<?x2x8xf32> {
  %0 = llama.rope %x, %pos theta(1.0e+04) : (tensor<?x2x8xf32>, tensor<?xi32>) -> tensor<?x2x8xf32>
  return %0 : tensor<?x2x8xf32>
}

// -----

// Tests that cached attention writes the new rows at the position, reads
// rows [0, position + S), groups the query heads per kv head and attends in
// one fused loop nest: threads over (row chunk, kv head) (a cache of 256
// rows is worth them), every 4th row per chunk; per row, the G = 2 query
// heads scaled once, a sweep over blocks of 8 keys up to position + row with
// masked scores and an online softmax (the running max, its exp(old - new)
// rescaling, FMAs over the value rows), one division by the sum at the end,
// the chunk's rows inserted with stride 4.
// CHECK-LABEL: func.func @cached_attention
// CHECK-SAME: (%[[Q:.*]]: tensor<?x4x8xf32>, %[[K:.*]]: tensor<?x2x8xf32>, %[[V:.*]]: tensor<?x2x8xf32>, %[[KC:.*]]: tensor<256x2x8xf32>, %[[VC:.*]]: tensor<256x2x8xf32>, %[[POS:.*]]: i64)
// CHECK: %[[P:.*]] = arith.index_cast %[[POS]] : i64 to index
// CHECK: %[[KC2:.*]] = tensor.insert_slice %[[K]] into %[[KC]][%[[P]], 0, 0]
// CHECK: %[[VC2:.*]] = tensor.insert_slice %[[V]] into %[[VC]][%[[P]], 0, 0]
// CHECK: %[[L:.*]] = arith.addi %[[P]], %{{.*}} : index
// CHECK: %[[KEYS:.*]] = tensor.extract_slice %[[KC2]][0, 0, 0] [%[[L]], 2, 8] [1, 1, 1]
// CHECK: %[[VALUES:.*]] = tensor.extract_slice %[[VC2]][0, 0, 0] [%[[L]], 2, 8] [1, 1, 1]
// CHECK: %[[QG:.*]] = tensor.expand_shape %[[Q]] {{\[}}[0], [1, 2], [3]] output_shape [%{{.*}}, 2, 2, 8]
// CHECK: %[[ATT:.*]] = scf.forall (%[[CHUNK:.*]], %[[HEAD:.*]]) in (4, 2) shared_outs(%[[OUT:.*]] = %{{.*}}) -> (tensor<?x2x2x8xf32>)
// CHECK: %[[TILE:.*]] = scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%{{.*}} = %{{.*}}) -> (tensor<?x1x2x8xf32>)
// CHECK: %[[ROW:.*]] = arith.addi %[[CHUNK]], %{{.*}} : index
// CHECK: %[[LAST:.*]] = arith.addi %[[P]], %[[ROW]] : index
// CHECK: %[[LEN:.*]] = arith.addi %[[LAST]], %{{.*}} : index
// CHECK: %[[Q0:.*]] = vector.transfer_read %[[QG]][%[[ROW]], %[[HEAD]], %{{.*}}, %{{.*}}]
// CHECK: vector.transfer_read %[[QG]]
// CHECK: %[[Q0S:.*]] = arith.mulf %[[Q0]], %{{.*}} : vector<8xf32>
// CHECK: scf.for %[[T0:.*]] = %{{.*}} to %[[LEN]] step %{{.*}} iter_args(%[[M0:.*]] = %{{.*}}, %[[L0:.*]] = %{{.*}}, %[[ACC0:.*]] = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (f32, f32, vector<8xf32>, f32, f32, vector<8xf32>)
// CHECK: %[[T:.*]] = arith.addi %[[T0]], %{{.*}} : index
// CHECK: %[[IN0:.*]] = arith.cmpi ult, %[[T]], %[[LEN]] : index
// CHECK: %[[ROW0:.*]] = arith.minui %[[T]], %{{.*}} : index
// CHECK: %[[K0:.*]] = vector.transfer_read %[[KEYS]][%[[ROW0]], %[[HEAD]], %{{.*}}]
// CHECK: %[[V0:.*]] = vector.transfer_read %[[VALUES]][%[[ROW0]], %[[HEAD]], %{{.*}}]
// CHECK: %[[PROD:.*]] = arith.mulf %[[Q0S]], %[[K0]] : vector<8xf32>
// CHECK: %[[DOT:.*]] = vector.reduction <add>, %[[PROD]]
// CHECK: %[[S0:.*]] = arith.select %[[IN0]], %[[DOT]], %{{.*}} : f32
// CHECK: %[[BLOCK:.*]] = vector.from_elements %[[S0]], {{.*}} : vector<8xf32>
// CHECK: %[[BMAX:.*]] = vector.reduction <maximumf>, %[[BLOCK]]
// CHECK: %[[MAX:.*]] = arith.maximumf %[[M0]], %[[BMAX]] : f32
// CHECK: %[[SHIFT:.*]] = arith.subf %[[M0]], %[[MAX]] : f32
// CHECK: %[[RESCALE:.*]] = math.exp %[[SHIFT]] : f32
// CHECK: %[[W:.*]] = math.exp %{{.*}} : vector<8xf32>
// CHECK: %[[OLDSUM:.*]] = arith.mulf %[[L0]], %[[RESCALE]] : f32
// CHECK: %[[BSUM:.*]] = vector.reduction <add>, %[[W]]
// CHECK: arith.addf %[[OLDSUM]], %[[BSUM]] : f32
// CHECK: %[[ACC:.*]] = arith.mulf %[[ACC0]], %{{.*}} : vector<8xf32>
// CHECK: %[[W0:.*]] = vector.extract %[[W]][0]
// CHECK: %[[W0B:.*]] = vector.broadcast %[[W0]] : f32 to vector<8xf32>
// CHECK: vector.fma %[[W0B]], %[[V0]], %[[ACC]] : vector<8xf32>
// CHECK: scf.yield
// CHECK: arith.divf %{{.*}}, %{{.*}} : vector<8xf32>
// CHECK: vector.transfer_write
// CHECK: arith.divf %{{.*}}, %{{.*}} : vector<8xf32>
// CHECK: vector.transfer_write
// CHECK: scf.forall.in_parallel
// CHECK: tensor.parallel_insert_slice %[[TILE]] into %[[OUT]][%[[CHUNK]], %[[HEAD]], 0, 0] [%{{.*}}, 1, 2, 8] [4, 1, 1, 1]
// CHECK: %[[RES:.*]] = tensor.collapse_shape %[[ATT]] {{\[}}[0], [1, 2], [3]] : tensor<?x2x2x8xf32> into tensor<?x4x8xf32>
// CHECK: return %[[RES]], %[[KC2]], %[[VC2]]
func.func @cached_attention(%q: tensor<?x4x8xf32>, %k: tensor<?x2x8xf32>, %v: tensor<?x2x8xf32>,
                            %kc: tensor<256x2x8xf32>, %vc: tensor<256x2x8xf32>, %pos: i64)
    -> (tensor<?x4x8xf32>, tensor<256x2x8xf32>, tensor<256x2x8xf32>) {
  %o, %kc2, %vc2 = llama.cached_attention %q, %k, %v cache(%kc, %vc) at %pos scale(0.35355339059327373)
      : (tensor<?x4x8xf32>, tensor<?x2x8xf32>, tensor<?x2x8xf32>, tensor<256x2x8xf32>, tensor<256x2x8xf32>, i64)
      -> (tensor<?x4x8xf32>, tensor<256x2x8xf32>, tensor<256x2x8xf32>)
  return %o, %kc2, %vc2 : tensor<?x4x8xf32>, tensor<256x2x8xf32>, tensor<256x2x8xf32>
}

// -----

// Tests swiglu as silu(gate) * up = gate / (1 + exp(-gate)) * up and add as addf.
// CHECK-LABEL: func.func @swiglu_add
// CHECK: linalg.generic
// CHECK: ^bb0(%[[G:.*]]: f32, %[[U:.*]]: f32, %{{.*}}: f32):
// CHECK: %[[NEG:.*]] = arith.negf %[[G]]
// CHECK: %[[EXP:.*]] = math.exp %[[NEG]]
// CHECK: %[[DEN:.*]] = arith.addf %{{.*}}, %[[EXP]]
// CHECK: %[[SIG:.*]] = arith.divf %{{.*}}, %[[DEN]]
// CHECK: %[[SILU:.*]] = arith.mulf %[[G]], %[[SIG]]
// CHECK: arith.mulf %[[SILU]], %[[U]]
// CHECK: linalg.generic
// CHECK: arith.addf
func.func @swiglu_add(%g: tensor<4x172xf32>, %u: tensor<4x172xf32>) -> tensor<4x172xf32> {
  %h = llama.swiglu %g, %u : tensor<4x172xf32>
  %r = llama.add %h, %u : tensor<4x172xf32>
  return %r : tensor<4x172xf32>
}

// -----

// Tests that batched causal attention groups query heads per kv head and
// runs the same fused loop nest with the queries at offset 0; too small for
// threads (2 x 5 rows x 4 heads x 8 x 5 / 2 keys), as serial loops over
// (batch, rows in one chunk, kv head).
// CHECK-LABEL: func.func @attention
// CHECK-SAME: (%[[Q:.*]]: tensor<2x5x4x8xf32>, %[[K:.*]]: tensor<2x5x2x8xf32>, %[[V:.*]]: tensor<2x5x2x8xf32>)
// CHECK: %[[QG:.*]] = tensor.expand_shape %[[Q]] {{\[}}[0], [1], [2, 3], [4]] output_shape [2, 5, 2, 2, 8]
// CHECK: scf.for %[[B:.*]] = %{{.*}} to %c2
// CHECK: scf.for %{{.*}} = %{{.*}} to %c1
// CHECK: scf.for %[[HEAD:.*]] = %{{.*}} to %c2
// CHECK: vector.transfer_read %[[QG]][%[[B]], %{{.*}}, %[[HEAD]], %{{.*}}, %{{.*}}]
// CHECK: vector.transfer_read %[[K]][%[[B]], %{{.*}}, %[[HEAD]], %{{.*}}]
// CHECK: vector.transfer_read %[[V]][%[[B]], %{{.*}}, %[[HEAD]], %{{.*}}]
// CHECK: math.exp
// CHECK: vector.fma
// CHECK: tensor.insert_slice
// CHECK: tensor.collapse_shape %{{.*}} {{\[}}[0], [1], [2, 3], [4]] : tensor<2x5x2x2x8xf32> into tensor<2x5x4x8xf32>
func.func @attention(%q: tensor<2x5x4x8xf32>, %k: tensor<2x5x2x8xf32>, %v: tensor<2x5x2x8xf32>) -> tensor<2x5x4x8xf32> {
  %0 = llama.attention %q, %k, %v scale(0.35355339059327373) : (tensor<2x5x4x8xf32>, tensor<2x5x2x8xf32>, tensor<2x5x2x8xf32>) -> tensor<2x5x4x8xf32>
  return %0 : tensor<2x5x4x8xf32>
}

// -----

// Tests that cross-entropy reduces max and sum(exp) per row (the sum over
// the vocabulary in f64), picks the target's logit, weights by the mask and
// divides the two totals (each summed in f64).
// CHECK-LABEL: func.func @cross_entropy
// CHECK-SAME: (%[[L:.*]]: tensor<2x8x100xf32>, %[[T:.*]]: tensor<2x8xi32>, %[[M:.*]]: tensor<2x8xf32>)
// CHECK: %[[MAX:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]{{.*}} ins(%[[L]]
// CHECK: arith.maximumf
// CHECK: %[[SUM64:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]{{.*}} ins(%[[L]], %[[MAX]] : {{.*}}) outs(%{{.*}} : tensor<2x8xf64>)
// CHECK: math.exp
// CHECK: arith.extf %{{.*}} : f32 to f64
// CHECK: arith.addf %{{.*}}, %{{.*}} fastmath<reassoc> : f64
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}} ins(%[[SUM64]] : tensor<2x8xf64>) outs(%{{.*}} : tensor<2x8xf32>)
// CHECK: arith.truncf
// CHECK: %[[ROWS:.*]] = linalg.generic {{.*}} ins(%[[T]], %[[M]], %[[MAX]], %[[SUM]]
// CHECK: tensor.extract %[[L]]
// CHECK: math.log
// CHECK: %[[LOSS64:.*]] = linalg.generic {{.*}}iterator_types = ["reduction", "reduction"]{{.*}} ins(%[[ROWS]] : tensor<2x8xf32>) outs(%{{.*}} : tensor<f64>)
// CHECK: %[[LOSS:.*]] = linalg.generic {{.*}} ins(%[[LOSS64]] : tensor<f64>) outs(%{{.*}} : tensor<f32>)
// CHECK: %[[COUNT64:.*]] = linalg.generic {{.*}}iterator_types = ["reduction", "reduction"]{{.*}} ins(%[[M]] : tensor<2x8xf32>) outs(%{{.*}} : tensor<f64>)
// CHECK: %[[COUNT:.*]] = linalg.generic {{.*}} ins(%[[COUNT64]] : tensor<f64>) outs(%{{.*}} : tensor<f32>)
// CHECK: linalg.generic {{.*}} ins(%[[LOSS]], %[[COUNT]] : tensor<f32>, tensor<f32>)
// CHECK: arith.divf
func.func @cross_entropy(%logits: tensor<2x8x100xf32>, %targets: tensor<2x8xi32>, %mask: tensor<2x8xf32>) -> tensor<f32> {
  %0 = llama.cross_entropy %logits, %targets, %mask : (tensor<2x8x100xf32>, tensor<2x8xi32>, tensor<2x8xf32>) -> tensor<f32>
  return %0 : tensor<f32>
}
