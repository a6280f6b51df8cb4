// RUN: llama-opt %s --split-input-file --llama-warp-contractions=loads-in-flight=1 | FileCheck %s
// RUN: llama-opt %s --split-input-file --llama-warp-contractions | FileCheck %s --check-prefix=UNROLL

// Tests that reductions along a row's contiguous dim become a warp per
// output column (lanes along k in vectors, butterfly shuffles, lane 0
// writes), that a fill of the output right before becomes the sums' start,
// and which generics are left alone.

#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#o = affine_map<(m, n, k) -> (m, n)>

// Two rows, bf16 weights: a 16-byte load of 8 weights per lane and step,
// the two rows' activations each loaded, one partial sum per row.
// CHECK-LABEL: func.func @projection
// CHECK-NOT: linalg.fill
// CHECK: scf.parallel (%[[B:.*]]) = (%c0{{[_0-9]*}}) to (%{{.*}}) step (%c1{{[_0-9]*}}) {
// CHECK: scf.parallel (%[[LANE:.*]], %[[WARP:.*]]) = (%c0{{[_0-9]*}}, %c0{{[_0-9]*}}) to (%c32, %c4{{.*}}) step (%c1{{[_0-9]*}}, %c1{{[_0-9]*}}) {
// CHECK: %[[N:.*]] = arith.addi %{{.*}}, %[[WARP]] : index
// CHECK: scf.if %{{.*}} {
// CHECK: %[[LEADER:.*]] = arith.cmpi eq, %[[LANE]], %c0
// CHECK: %[[FIRST:.*]] = arith.muli %[[LANE]], %c8
// CHECK: %[[SUMS:.*]]:2 = scf.for %[[K:[^ ]+]] = %[[FIRST]] to %{{.*}} step %c256
// CHECK: vector.load %arg1[%[[N]], %[[K]]] {alignment = 16 : i64} : memref<48x64xbf16>, vector<8xbf16>
// CHECK: vector.load %arg0[%{{.*}}, %[[K]]] {alignment = 16 : i64} : memref<2x64xf32>, vector<8xf32>
// CHECK: arith.extf
// CHECK: vector.load %arg0[%{{.*}}, %[[K]]] {alignment = 16 : i64} : memref<2x64xf32>, vector<8xf32>
// CHECK-NOT: vector.load
// CHECK: scf.yield
// CHECK-COUNT-5: gpu.shuffle  xor %{{.*}}
// CHECK: gpu.shuffle  xor %[[SUMS]]#1, %c16
// CHECK: %[[ROW0:.*]] = arith.addf %cst, %{{.*}}
// CHECK: scf.if %[[LEADER]] {
// CHECK: memref.store %[[ROW0]], %arg2[%{{.*}}, %[[N]]] : memref<2x48xf32>
// CHECK: memref.store %{{.*}}, %arg2[%{{.*}}, %[[N]]] : memref<2x48xf32>
// CHECK-NOT: linalg.generic
// By default a lane walks k 4 loads per row at a time: two steps at once
// for two rows (their loads independent, in flight together), then the
// remaining steps one by one.
// UNROLL-LABEL: func.func @projection
// UNROLL: %[[FIRST:.*]] = arith.muli %{{.*}}, %c8
// UNROLL: %[[SUMS:.*]]:2 = scf.for %[[K:[^ ]+]] = %[[FIRST]] to %[[UNROLLED_END:[^ ]+]] step %[[TWO_STEPS:[^ ]+]] iter_args
// UNROLL: vector.load %arg1[%{{.*}}, %[[K]]]
// UNROLL: %[[K1:.*]] = arith.addi %[[K]], %{{.*}} : index
// UNROLL: vector.load %arg1[%{{.*}}, %[[K1]]]
// UNROLL: scf.yield
// UNROLL: scf.for %[[REST:[^ ]+]] = %[[UNROLLED_END]] to %c64 step %c256 iter_args(%{{.*}} = %[[SUMS]]#0, %{{.*}} = %[[SUMS]]#1)
// UNROLL-LABEL: func.func
func.func @projection(%x: memref<2x64xf32>, %w: memref<48x64xbf16>, %out: memref<2x48xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%out : memref<2x48xf32>)
  linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<2x64xf32>, memref<48x64xbf16>) outs(%out : memref<2x48xf32>) {
  ^bb0(%a: f32, %b: bf16, %acc: f32):
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %a, %bf fastmath<contract> : f32
    %s = arith.addf %acc, %p fastmath<reassoc,contract> : f32
    linalg.yield %s : f32
  }
  return
}

// -----

#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#o = affine_map<(m, n, k) -> (m, n)>

// A residual in the output (no fill): added to the sum. K = 6 f32: steps of
// 2, the widest load that divides it.
// CHECK-LABEL: func.func @residual
// CHECK: scf.for %[[K:[^ ]+]] = %{{.*}} to %{{.*}} step %c64
// CHECK: vector.load %arg1[%{{.*}}, %[[K]]] {alignment = 8 : i64} : memref<5x6xf32>, vector<2xf32>
// CHECK: %[[OLD:.*]] = memref.load %arg2[%{{.*}}, %{{.*}}] : memref<1x5xf32>
// CHECK: %[[NEW:.*]] = arith.addf {{.*}}%[[OLD]]{{.*}} : f32
// CHECK: memref.store %[[NEW]], %arg2
func.func @residual(%x: memref<1x6xf32>, %w: memref<5x6xf32>, %out: memref<1x5xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<1x6xf32>, memref<5x6xf32>) outs(%out : memref<1x5xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

#x = affine_map<(m, n, k) -> (m, k)>
#r = affine_map<(m, n, k) -> (m)>
#g = affine_map<(m, n, k) -> (k)>
#w = affine_map<(m, n, k) -> (n, k)>
#o = affine_map<(m, n, k) -> (m, n)>

// RMSNorm fused into the projection: the rsqrt of each row's sum (an input
// without k) once per row before the loop; in the loop, the gain (without
// rows) loaded once for both rows.
// CHECK-LABEL: func.func @normed_projection
// CHECK: memref.load %arg1
// CHECK: memref.load %arg1
// CHECK: math.rsqrt
// CHECK: math.rsqrt
// CHECK: scf.for
// CHECK-NOT: math.rsqrt
// CHECK: vector.load %arg2
// CHECK-NOT: vector.load %arg2
// CHECK: scf.yield
func.func @normed_projection(%x: memref<2x64xf32>, %sum: memref<2xf32>, %gain: memref<64xbf16>, %w: memref<48x64xbf16>, %out: memref<2x48xf32>) {
  linalg.generic {indexing_maps = [#x, #r, #g, #w, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %sum, %gain, %w : memref<2x64xf32>, memref<2xf32>, memref<64xbf16>, memref<48x64xbf16>) outs(%out : memref<2x48xf32>) {
  ^bb0(%a: f32, %s: f32, %gn: bf16, %b: bf16, %acc: f32):
    %rs = math.rsqrt %s : f32
    %n = arith.mulf %a, %rs : f32
    %gf = arith.extf %gn : bf16 to f32
    %y = arith.mulf %gf, %n : f32
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %y, %bf : f32
    %t = arith.addf %acc, %p : f32
    linalg.yield %t : f32
  }
  return
}

// -----

// A row reduction (RMSNorm's sum of squares) over any number of rows: a
// warp per row, 4 f32 per load.
// CHECK-LABEL: func.func @sum_of_squares
// CHECK: %[[ROWS:.*]] = memref.dim %arg0, %c0
// CHECK: arith.ceildivui %[[ROWS]], %c4
// CHECK: scf.for %[[K:[^ ]+]] = %{{.*}} to %{{.*}} step %c128
// CHECK: vector.load %arg0[%[[N:.*]], %[[K]]] {alignment = 16 : i64} : memref<?x64xf32>, vector<4xf32>
// CHECK-COUNT-4: arith.mulf
// CHECK-COUNT-5: gpu.shuffle  xor
// CHECK: memref.store %{{.*}}, %arg1[%{{.*}}] : memref<?xf32>
func.func @sum_of_squares(%x: memref<?x64xf32>, %out: memref<?xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%out : memref<?xf32>)
  linalg.generic {indexing_maps = [affine_map<(n, k) -> (n, k)>, affine_map<(n, k) -> (n)>], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%out : memref<?xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %p = arith.mulf %a, %a : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#o = affine_map<(m, n, k) -> (m, n)>

// Run-time rows (prefill), or more rows than a lane keeps results for:
// blocks of 8 rows, a warp per (row block, n) point, the weight row loaded
// once per step for the 8; rows past the end read the last row and store
// nothing.
// CHECK-LABEL: func.func @many_rows
// CHECK: %[[M:.*]] = memref.dim %arg0, %c0
// CHECK: %[[BLOCKS:.*]] = arith.ceildivui %[[M]], %c8
// CHECK: %[[POINTS:.*]] = arith.muli %[[BLOCKS]], %c48
// CHECK: arith.ceildivui %[[POINTS]], %c4
// CHECK: %[[COL:.*]] = arith.addi
// CHECK: %[[N:.*]] = arith.remui %[[COL]], %c48
// CHECK: %[[RB:.*]] = arith.divui %[[COL]], %c48
// CHECK: %[[FIRST:.*]] = arith.muli %[[RB]], %c8
// CHECK: %[[ROW0:.*]] = arith.addi %[[FIRST]], %c0
// CHECK: %[[IN0:.*]] = arith.cmpi ult, %[[ROW0]], %[[M]]
// CHECK: %[[LAST:.*]] = arith.subi %[[M]], %c1
// CHECK: %[[R0:.*]] = arith.minui %[[ROW0]], %[[LAST]]
// CHECK: scf.for %[[K:[^ ]+]] = {{.*}} -> (f32, f32, f32, f32, f32, f32, f32, f32)
// CHECK: vector.load %arg1[%[[N]], %[[K]]] {{.*}} : memref<48x64xf32>, vector<4xf32>
// CHECK: vector.load %arg0[%[[R0]], %[[K]]] {{.*}} : memref<?x64xf32>, vector<4xf32>
// CHECK-COUNT-7: vector.load %arg0
// CHECK-NOT: vector.load
// CHECK: scf.yield
// CHECK: scf.if %[[IN0]] {
// CHECK: memref.store %{{.*}}, %arg2[%[[R0]], %[[N]]]
// Sixteen static rows: two blocks of 8, none partial.
// CHECK-LABEL: func.func @sixteen_rows
// CHECK: arith.ceildivui %c16{{.*}}, %c8
// CHECK: gpu.shuffle
func.func @many_rows(%x: memref<?x64xf32>, %w: memref<48x64xf32>, %out: memref<?x48xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x64xf32>, memref<48x64xf32>) outs(%out : memref<?x48xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}
func.func @sixteen_rows(%x16: memref<16x64xf32>, %w: memref<48x64xf32>, %out16: memref<16x48xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x16, %w : memref<16x64xf32>, memref<48x64xf32>) outs(%out16 : memref<16x48xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Decode's attention scores [Hkv, G, L] (2 kv heads of 3): no rows (both operands read the
// heads), a warp per (h, g, t) point, t the fastest.
// CHECK-LABEL: func.func @attention_scores
// CHECK: %[[L:.*]] = memref.dim %arg1, %c0
// CHECK: %[[HG:.*]] = arith.muli %c2{{.*}}, %c3{{.*}} : index
// CHECK: %[[POINTS:.*]] = arith.muli %[[HG]], %[[L]]
// CHECK: arith.ceildivui %[[POINTS]], %c4
// CHECK: %[[COL:.*]] = arith.addi
// CHECK: %[[T:.*]] = arith.remui %[[COL]], %[[L]]
// CHECK: %[[REST:.*]] = arith.divui %[[COL]], %[[L]]
// CHECK: %[[G:.*]] = arith.remui %[[REST]], %c3{{.*}}
// CHECK: %[[H:.*]] = arith.divui %[[REST]], %c3{{.*}}
// CHECK: scf.for %[[D:[^ ]+]] =
// CHECK: vector.load %arg0[%[[H]], %[[G]], %[[D]]] {{.*}} : memref<2x3x16xf32>, vector<4xf32>
// CHECK: vector.load %arg1[%[[T]], %[[H]], %[[D]]] {{.*}} : memref<?x2x16xf32, strided<[32, 16, 1]>>, vector<4xf32>
// CHECK: memref.store %{{.*}}, %arg2[%[[H]], %[[G]], %[[T]]]
func.func @attention_scores(%q: memref<2x3x16xf32>, %keys: memref<?x2x16xf32, strided<[32, 16, 1]>>, %scores: memref<2x3x?xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%scores : memref<2x3x?xf32>)
  linalg.generic {indexing_maps = [affine_map<(h, g, t, d) -> (h, g, d)>, affine_map<(h, g, t, d) -> (t, h, d)>, affine_map<(h, g, t, d) -> (h, g, t)>],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %keys : memref<2x3x16xf32>, memref<?x2x16xf32, strided<[32, 16, 1]>>) outs(%scores : memref<2x3x?xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Softmax over the scores' rows, in place: the max (from -inf), the sum of
// exponentials and the probabilities are one warp per row, one after the
// other; the max and the sum reach the later steps in registers (every
// lane has them after the shuffles) and lane 0 stores them; each lane
// reads and writes the same keys in every step (scalar: the row length is
// a run-time one).
// CHECK-LABEL: func.func @softmax_rows
// CHECK: %[[NEGINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NOT: linalg.fill
// CHECK: scf.parallel
// CHECK: scf.parallel (%[[LANE:.*]], %{{.*}}) =
// CHECK: %[[LEADER:.*]] = arith.cmpi eq, %[[LANE]], %c0
// CHECK: scf.for
// CHECK: arith.maximumf
// CHECK-COUNT-5: gpu.shuffle  xor
// CHECK: %[[MAX:.*]] = arith.maximumf %[[NEGINF]], %{{.*}}
// CHECK: scf.if %[[LEADER]] {
// CHECK-NEXT: memref.store %[[MAX]], %arg1
// CHECK-NOT: memref.load %arg1
// CHECK: scf.for %[[T:[^ ]+]] = {{.*}} step %c32
// CHECK: %[[S:.*]] = memref.load %arg0[%{{.*}}, %{{.*}}, %[[T]]] : memref<2x2x?xf32>
// CHECK: arith.subf %[[S]], %[[MAX]]
// CHECK: math.exp
// CHECK-COUNT-5: gpu.shuffle  xor
// CHECK: %[[SUM:.*]] = arith.addf %[[ZERO]], %{{.*}}
// CHECK: scf.if %[[LEADER]] {
// CHECK-NEXT: memref.store %[[SUM]], %arg2
// CHECK-NOT: memref.load %arg2
// CHECK: scf.for %[[T2:[^ ]+]] = {{.*}} step %c32
// CHECK: %[[S2:.*]] = memref.load %arg0[%{{.*}}, %{{.*}}, %[[T2]]] : memref<2x2x?xf32>
// CHECK: arith.subf %[[S2]], %[[MAX]]
// CHECK: %[[E:.*]] = math.exp
// CHECK: %[[P:.*]] = arith.divf %[[E]], %[[SUM]]
// CHECK: memref.store %[[P]], %arg0[%{{.*}}, %{{.*}}, %[[T2]]] : memref<2x2x?xf32>
// CHECK-NOT: scf.parallel
// CHECK-NOT: linalg.generic
func.func @softmax_rows(%scores: memref<2x2x?xf32>, %max: memref<2x2xf32>, %sum: memref<2x2xf32>) {
  %neginf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%neginf : f32) outs(%max : memref<2x2xf32>)
  linalg.generic {indexing_maps = [affine_map<(h, g, t) -> (h, g, t)>, affine_map<(h, g, t) -> (h, g)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%scores : memref<2x2x?xf32>) outs(%max : memref<2x2xf32>) {
  ^bb0(%s: f32, %acc: f32):
    %m = arith.maximumf %acc, %s : f32
    linalg.yield %m : f32
  }
  linalg.fill ins(%zero : f32) outs(%sum : memref<2x2xf32>)
  linalg.generic {indexing_maps = [affine_map<(h, g, t) -> (h, g, t)>, affine_map<(h, g, t) -> (h, g)>, affine_map<(h, g, t) -> (h, g)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%scores, %max : memref<2x2x?xf32>, memref<2x2xf32>) outs(%sum : memref<2x2xf32>) {
  ^bb0(%s: f32, %m: f32, %acc: f32):
    %d = arith.subf %s, %m : f32
    %e = math.exp %d : f32
    %a = arith.addf %acc, %e : f32
    linalg.yield %a : f32
  }
  linalg.generic {indexing_maps = [affine_map<(h, g, t) -> (h, g, t)>, affine_map<(h, g, t) -> (h, g)>, affine_map<(h, g, t) -> (h, g)>, affine_map<(h, g, t) -> (h, g, t)>],
                  iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%scores, %max, %sum : memref<2x2x?xf32>, memref<2x2xf32>, memref<2x2xf32>) outs(%scores : memref<2x2x?xf32>) {
  ^bb0(%s: f32, %m: f32, %l: f32, %o: f32):
    %d = arith.subf %s, %m : f32
    %e = math.exp %d : f32
    %p = arith.divf %e, %l : f32
    linalg.yield %p : f32
  }
  return
}

// -----

// RMSNorm over run-time rows: the sum of squares and the scaling in one
// warp per row, the row's rsqrt once before the scaling loop, 4 f32 per
// load and per store (16 bytes), the gain (without rows) loaded along k.
// CHECK-LABEL: func.func @norm_rows
// CHECK: scf.parallel
// CHECK: scf.for
// CHECK: vector.load %arg0{{.*}} : memref<?x64xf32>, vector<4xf32>
// CHECK-COUNT-5: gpu.shuffle  xor
// CHECK: %[[SUM:.*]] = arith.addf %cst, %{{.*}}
// CHECK: memref.store %[[SUM]], %arg1
// CHECK: %[[R:.*]] = math.rsqrt %[[SUM]]
// CHECK: scf.for
// CHECK-NOT: math.rsqrt
// CHECK: vector.load %arg0{{.*}} : memref<?x64xf32>, vector<4xf32>
// CHECK: vector.load %arg2{{.*}} : memref<64xbf16>, vector<4xbf16>
// CHECK: arith.mulf %{{.*}}, %[[R]]
// CHECK: %[[V:.*]] = vector.from_elements
// CHECK: vector.store %[[V]], %arg3[{{.*}}] {alignment = 16 : i64} : memref<?x64xf32>, vector<4xf32>
// CHECK-NOT: linalg.generic
func.func @norm_rows(%x: memref<?x64xf32>, %sum: memref<?xf32>, %gain: memref<64xbf16>, %y: memref<?x64xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%sum : memref<?xf32>)
  linalg.generic {indexing_maps = [affine_map<(m, k) -> (m, k)>, affine_map<(m, k) -> (m)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%sum : memref<?xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %sq = arith.mulf %a, %a : f32
    %s = arith.addf %acc, %sq : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [affine_map<(m, k) -> (m, k)>, affine_map<(m, k) -> (m)>, affine_map<(m, k) -> (k)>, affine_map<(m, k) -> (m, k)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%x, %sum, %gain : memref<?x64xf32>, memref<?xf32>, memref<64xbf16>) outs(%y : memref<?x64xf32>) {
  ^bb0(%a: f32, %s: f32, %g: bf16, %o: f32):
    %r = math.rsqrt %s : f32
    %n = arith.mulf %a, %r : f32
    %gf = arith.extf %g : bf16 to f32
    %v = arith.mulf %n, %gf : f32
    linalg.yield %v : f32
  }
  return
}

// -----

#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#o = affine_map<(m, n, k) -> (m, n)>
#p = affine_map<(m, n) -> (m, n)>

// Gate and up (the same static ranges) and their SwiGLU: one warp per
// column computes both sums for both rows, then lane 0 applies the SwiGLU
// to the sums in registers. A projection of another width (k's 16
// columns) is a kernel of its own.
// CHECK-LABEL: func.func @gate_up_swiglu
// CHECK-NOT: linalg.fill
// CHECK: scf.parallel
// CHECK: %[[LEADER:.*]] = arith.cmpi eq
// CHECK: %[[GATE:.*]]:2 = scf.for
// CHECK-COUNT-10: gpu.shuffle  xor
// CHECK: %[[G0:.*]] = arith.addf %cst, %{{.*}}
// CHECK: %[[G1:.*]] = arith.addf %cst, %{{.*}}
// CHECK: memref.store %[[G0]], %alloc[
// CHECK: %[[UP:.*]]:2 = scf.for
// CHECK-COUNT-10: gpu.shuffle  xor
// CHECK: %[[U0:.*]] = arith.addf %cst, %{{.*}}
// CHECK: memref.store %[[U0]], %alloc_{{[0-9]+}}[
// CHECK: scf.if %[[LEADER]] {
// CHECK-NOT: memref.load
// CHECK: %[[NEG:.*]] = arith.negf %[[G0]]
// CHECK: math.exp %[[NEG]]
// CHECK: %[[S0:.*]] = arith.mulf %{{.*}}, %[[U0]]
// CHECK: memref.store %[[S0]], %arg3[%c0{{.*}}, %{{.*}}]
// CHECK: math.exp
// CHECK: memref.store %{{.*}}, %arg3[%c1{{.*}}, %{{.*}}]
// CHECK: scf.parallel
// CHECK-NOT: linalg.generic
func.func @gate_up_swiglu(%x: memref<2x64xf32>, %wg: memref<48x64xbf16>, %wu: memref<48x64xbf16>, %h: memref<2x48xf32>, %wk: memref<16x64xbf16>, %k: memref<2x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %g = memref.alloc() : memref<2x48xf32>
  %u = memref.alloc() : memref<2x48xf32>
  linalg.fill ins(%zero : f32) outs(%g : memref<2x48xf32>)
  linalg.fill ins(%zero : f32) outs(%u : memref<2x48xf32>)
  linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %wg : memref<2x64xf32>, memref<48x64xbf16>) outs(%g : memref<2x48xf32>) {
  ^bb0(%a: f32, %b: bf16, %acc: f32):
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %a, %bf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %wu : memref<2x64xf32>, memref<48x64xbf16>) outs(%u : memref<2x48xf32>) {
  ^bb0(%a: f32, %b: bf16, %acc: f32):
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %a, %bf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#p, #p, #p], iterator_types = ["parallel", "parallel"]}
      ins(%g, %u : memref<2x48xf32>, memref<2x48xf32>) outs(%h : memref<2x48xf32>) {
  ^bb0(%gv: f32, %uv: f32, %o: f32):
    %n = arith.negf %gv : f32
    %e = math.exp %n : f32
    %d = arith.addf %e, %one : f32
    %sig = arith.divf %one, %d : f32
    %si = arith.mulf %gv, %sig : f32
    %r = arith.mulf %si, %uv : f32
    linalg.yield %r : f32
  }
  linalg.fill ins(%zero : f32) outs(%k : memref<2x16xf32>)
  linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %wk : memref<2x64xf32>, memref<16x64xbf16>) outs(%k : memref<2x16xf32>) {
  ^bb0(%a: f32, %b: bf16, %acc: f32):
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %a, %bf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  memref.dealloc %g : memref<2x48xf32>
  memref.dealloc %u : memref<2x48xf32>
  return
}

// -----

#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#o = affine_map<(m, n, k) -> (m, n)>

// Projections of one input but different widths (q's 48 columns, k's 16):
// not one warp's steps, two kernels.
// CHECK-LABEL: func.func @different_widths
// CHECK-COUNT-2: scf.parallel (%{{[a-z0-9]+}}) = (%c0{{[_0-9]*}}) to
// CHECK-NOT: linalg.generic
func.func @different_widths(%x: memref<1x64xf32>, %wq: memref<48x64xbf16>, %wk: memref<16x64xbf16>) {
  %zero = arith.constant 0.0 : f32
  %q = memref.alloc() : memref<1x48xf32>
  %k = memref.alloc() : memref<1x16xf32>
  linalg.fill ins(%zero : f32) outs(%q : memref<1x48xf32>)
  linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %wq : memref<1x64xf32>, memref<48x64xbf16>) outs(%q : memref<1x48xf32>) {
  ^bb0(%a: f32, %b: bf16, %acc: f32):
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %a, %bf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.fill ins(%zero : f32) outs(%k : memref<1x16xf32>)
  linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %wk : memref<1x64xf32>, memref<16x64xbf16>) outs(%k : memref<1x16xf32>) {
  ^bb0(%a: f32, %b: bf16, %acc: f32):
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %a, %bf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  memref.dealloc %q : memref<1x48xf32>
  memref.dealloc %k : memref<1x16xf32>
  return
}

// -----

// Not a chain: the second step reads the max of another point (its map
// swaps h and g), which another warp computes; a row map that reads the
// scores it writes at another row stays a generic. Two kernels.
// CHECK-LABEL: func.func @not_a_chain
// CHECK-COUNT-2: scf.parallel (%{{[a-z0-9]+}}) = (%c0{{[_0-9]*}}) to
// CHECK-NOT: scf.parallel (%{{[a-z0-9]+}}) = (%c0{{[_0-9]*}}) to
// CHECK: linalg.generic
func.func @not_a_chain(%scores: memref<2x2x8xf32>, %max: memref<2x2xf32>, %sum: memref<2x2xf32>) {
  %neginf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%neginf : f32) outs(%max : memref<2x2xf32>)
  linalg.generic {indexing_maps = [affine_map<(h, g, t) -> (h, g, t)>, affine_map<(h, g, t) -> (h, g)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%scores : memref<2x2x8xf32>) outs(%max : memref<2x2xf32>) {
  ^bb0(%s: f32, %acc: f32):
    %m = arith.maximumf %acc, %s : f32
    linalg.yield %m : f32
  }
  linalg.fill ins(%zero : f32) outs(%sum : memref<2x2xf32>)
  linalg.generic {indexing_maps = [affine_map<(h, g, t) -> (h, g, t)>, affine_map<(h, g, t) -> (g, h)>, affine_map<(h, g, t) -> (h, g)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%scores, %max : memref<2x2x8xf32>, memref<2x2xf32>) outs(%sum : memref<2x2xf32>) {
  ^bb0(%s: f32, %m: f32, %acc: f32):
    %d = arith.subf %s, %m : f32
    %a = arith.addf %acc, %d : f32
    linalg.yield %a : f32
  }
  linalg.generic {indexing_maps = [affine_map<(h, g, t) -> (g, h, t)>, affine_map<(h, g, t) -> (h, g, t)>],
                  iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%scores : memref<2x2x8xf32>) outs(%scores : memref<2x2x8xf32>) {
  ^bb0(%s: f32, %o: f32):
    linalg.yield %s : f32
  }
  return
}

// -----

// Left alone: a reduction that is not the innermost dim, a combiner the
// warp cannot reorder, and a generic already inside a parallel loop.
// CHECK-LABEL: func.func @untouched
// CHECK-NOT: gpu.shuffle
// CHECK-COUNT-3: linalg.generic
// CHECK-NOT: gpu.shuffle
func.func @untouched(%xd: memref<?x64xf32>, %w: memref<48x64xf32>, %col: memref<64xf32>, %rows: memref<?xf32>) {
  linalg.generic {indexing_maps = [affine_map<(k, n) -> (n, k)>, affine_map<(k, n) -> (k)>], iterator_types = ["parallel", "reduction"]}
      ins(%w : memref<48x64xf32>) outs(%col : memref<64xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %acc, %a : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [affine_map<(n, k) -> (n, k)>, affine_map<(n, k) -> (n)>], iterator_types = ["parallel", "reduction"]}
      ins(%xd : memref<?x64xf32>) outs(%rows : memref<?xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.subf %acc, %a : f32
    linalg.yield %s : f32
  }
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.parallel (%i) = (%c0) to (%c1) step (%c1) {
    linalg.generic {indexing_maps = [affine_map<(n, k) -> (n, k)>, affine_map<(n, k) -> (n)>], iterator_types = ["parallel", "reduction"]}
        ins(%xd : memref<?x64xf32>) outs(%rows : memref<?xf32>) {
    ^bb0(%a: f32, %acc: f32):
      %s = arith.addf %acc, %a : f32
      linalg.yield %s : f32
    }
  }
  return
}

// -----

// A fill of the output reaches the reduction across ops on other memory
// (another allocation, an argument): it becomes the start; one through an
// argument output does not (an argument may alias what is between).
// CHECK-LABEL: func.func @fill_across
// CHECK-NOT: linalg.fill
// CHECK: linalg.copy
// CHECK: scf.parallel
// CHECK: arith.addf %cst, %{{.*}} : f32
// CHECK-NOT: memref.load %alloc[
// CHECK-LABEL: func.func @fill_of_argument
// CHECK: linalg.fill
// CHECK: linalg.copy
// CHECK: memref.load %arg1[
func.func @fill_across(%x: memref<?x64xf32>, %a: memref<8xf32>, %b: memref<8xf32>) {
  %zero = arith.constant 0.0 : f32
  %c0 = arith.constant 0 : index
  %n = memref.dim %x, %c0 : memref<?x64xf32>
  %out = memref.alloc(%n) : memref<?xf32>
  linalg.fill ins(%zero : f32) outs(%out : memref<?xf32>)
  linalg.copy ins(%a : memref<8xf32>) outs(%b : memref<8xf32>)
  linalg.generic {indexing_maps = [affine_map<(n, k) -> (n, k)>, affine_map<(n, k) -> (n)>], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%out : memref<?xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %s = arith.addf %acc, %v : f32
    linalg.yield %s : f32
  }
  return
}
func.func @fill_of_argument(%x: memref<?x64xf32>, %out: memref<?xf32>, %a: memref<8xf32>, %b: memref<8xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%out : memref<?xf32>)
  linalg.copy ins(%a : memref<8xf32>) outs(%b : memref<8xf32>)
  linalg.generic {indexing_maps = [affine_map<(n, k) -> (n, k)>, affine_map<(n, k) -> (n)>], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%out : memref<?xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %s = arith.addf %acc, %v : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// RMSNorm's sum of squares read only by the projection of the normalized
// row (decode): the projection's warp sums the squares of the x it loads
// anyway alongside its products, which leave out the norm's factor; once
// both sums are complete, the total is scaled by rsqrt(sum / 64 + eps).
// One kernel: the sum has none of its own.
// CHECK-LABEL: func.func @folded_norm
// CHECK-COUNT-1: scf.parallel (%{{.*}}) =
// CHECK: %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK: %[[SUMS:.*]]:2 = scf.for %{{.*}} iter_args(%[[DOT:.*]] = %{{.*}}, %[[SQUARES:.*]] = %{{.*}}) -> (f32, f32)
// CHECK: %[[XV:.*]] = vector.load %arg0[
// CHECK-NEXT: %[[X:.*]] = vector.extract %[[XV]][0] : f32 from vector<8xf32>
// CHECK: %[[XN:.*]] = arith.mulf %[[X]], %[[ONE]] : f32
// CHECK: %[[SQ:.*]] = arith.mulf %[[X]], %[[X]] : f32
// CHECK-NEXT: arith.addf %[[SQUARES]], %[[SQ]] : f32
// CHECK: scf.yield
// CHECK-COUNT-5: gpu.shuffle  xor %{{.*}}
// CHECK: gpu.shuffle  xor %[[SUMS]]#1, %c16
// CHECK-COUNT-4: gpu.shuffle
// The sum, from its fill's 0.
// CHECK: %[[TOTAL:.*]] = arith.addf %cst, %{{.*}} : f32
// CHECK: %[[MEAN:.*]] = arith.divf %[[TOTAL]], %{{.*}} : f32
// CHECK: %[[EPS:.*]] = arith.addf %[[MEAN]], %{{.*}} : f32
// CHECK: %[[FACTOR:.*]] = math.rsqrt %[[EPS]] : f32
// CHECK: arith.mulf %{{.*}}, %[[FACTOR]] : f32
// CHECK: memref.store
// CHECK-NOT: scf.parallel
// CHECK-NOT: linalg.generic
#row = affine_map<(m, k) -> (m, k)>
#rowsum = affine_map<(m, k) -> (m)>
#x = affine_map<(m, n, k) -> (m, k)>
#s = affine_map<(m, n, k) -> (m)>
#g = affine_map<(m, n, k) -> (k)>
#w = affine_map<(m, n, k) -> (n, k)>
#o = affine_map<(m, n, k) -> (m, n)>
func.func @folded_norm(%x: memref<1x64xf32>, %g: memref<64xf32>, %w: memref<48x64xbf16>, %out: memref<1x48xf32>) {
  %zero = arith.constant 0.0 : f32
  %n = arith.constant 64.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  linalg.fill ins(%zero : f32) outs(%out : memref<1x48xf32>)
  %sum = memref.alloc() : memref<1xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<1xf32>)
  linalg.generic {indexing_maps = [#row, #rowsum], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<1x64xf32>) outs(%sum : memref<1xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %sq = arith.mulf %a, %a : f32
    %r = arith.addf %acc, %sq : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#x, #s, #g, #w, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %sum, %g, %w : memref<1x64xf32>, memref<1xf32>, memref<64xf32>, memref<48x64xbf16>) outs(%out : memref<1x48xf32>) {
  ^bb0(%a: f32, %s: f32, %gain: f32, %weight: bf16, %acc: f32):
    %mean = arith.divf %s, %n : f32
    %shifted = arith.addf %mean, %eps : f32
    %factor = math.rsqrt %shifted : f32
    %xn = arith.mulf %a, %factor : f32
    %scaled = arith.mulf %gain, %xn : f32
    %wf = arith.extf %weight : bf16 to f32
    %p = arith.mulf %scaled, %wf : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  memref.dealloc %sum : memref<1xf32>
  return
}

// -----

// Not folded: the norm's factor enters the product through an exp (not a
// plain factor of it), so the sum keeps its own kernel and the projection
// reads its result.
// CHECK-LABEL: func.func @not_a_factor
// CHECK: scf.parallel
// CHECK: scf.parallel
// CHECK: memref.load %{{.*}} : memref<1xf32>
// CHECK: math.exp
#row2 = affine_map<(m, k) -> (m, k)>
#rowsum2 = affine_map<(m, k) -> (m)>
#x2 = affine_map<(m, n, k) -> (m, k)>
#s2 = affine_map<(m, n, k) -> (m)>
#w2 = affine_map<(m, n, k) -> (n, k)>
#o2 = affine_map<(m, n, k) -> (m, n)>
func.func @not_a_factor(%x: memref<1x64xf32>, %w: memref<48x64xf32>, %out: memref<1x48xf32>) {
  %zero = arith.constant 0.0 : f32
  %sum = memref.alloc() : memref<1xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<1xf32>)
  linalg.generic {indexing_maps = [#row2, #rowsum2], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<1x64xf32>) outs(%sum : memref<1xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %sq = arith.mulf %a, %a : f32
    %r = arith.addf %acc, %sq : f32
    linalg.yield %r : f32
  }
  linalg.fill ins(%zero : f32) outs(%out : memref<1x48xf32>)
  linalg.generic {indexing_maps = [#x2, #s2, #w2, #o2], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %sum, %w : memref<1x64xf32>, memref<1xf32>, memref<48x64xf32>) outs(%out : memref<1x48xf32>) {
  ^bb0(%a: f32, %s: f32, %weight: f32, %acc: f32):
    %factor = math.rsqrt %s : f32
    %xn = arith.mulf %a, %factor : f32
    %e = math.exp %xn : f32
    %p = arith.mulf %e, %weight : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  memref.dealloc %sum : memref<1xf32>
  return
}

// -----

// Not folded: x is written between the sum and the projection, which
// would recompute the sum from the new row.
// CHECK-LABEL: func.func @row_written_between
// CHECK: scf.parallel
// CHECK: scf.parallel
// CHECK: memref.load %{{.*}} : memref<1xf32>
#row3 = affine_map<(m, k) -> (m, k)>
#rowsum3 = affine_map<(m, k) -> (m)>
#x3 = affine_map<(m, n, k) -> (m, k)>
#s3 = affine_map<(m, n, k) -> (m)>
#w3 = affine_map<(m, n, k) -> (n, k)>
#o3 = affine_map<(m, n, k) -> (m, n)>
func.func @row_written_between(%x: memref<1x64xf32>, %w: memref<48x64xf32>, %out: memref<1x48xf32>) {
  %zero = arith.constant 0.0 : f32
  %sum = memref.alloc() : memref<1xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<1xf32>)
  linalg.generic {indexing_maps = [#row3, #rowsum3], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<1x64xf32>) outs(%sum : memref<1xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %sq = arith.mulf %a, %a : f32
    %r = arith.addf %acc, %sq : f32
    linalg.yield %r : f32
  }
  linalg.fill ins(%zero : f32) outs(%x : memref<1x64xf32>)
  linalg.fill ins(%zero : f32) outs(%out : memref<1x48xf32>)
  linalg.generic {indexing_maps = [#x3, #s3, #w3, #o3], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %sum, %w : memref<1x64xf32>, memref<1xf32>, memref<48x64xf32>) outs(%out : memref<1x48xf32>) {
  ^bb0(%a: f32, %s: f32, %weight: f32, %acc: f32):
    %factor = math.rsqrt %s : f32
    %xn = arith.mulf %a, %factor : f32
    %p = arith.mulf %xn, %weight : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  memref.dealloc %sum : memref<1xf32>
  return
}

// -----

// Not folded: the factor appears twice in the product (its square is no
// factor the total can take once).
// CHECK-LABEL: func.func @factor_twice
// CHECK: scf.parallel
// CHECK: scf.parallel
// CHECK: memref.load %{{.*}} : memref<1xf32>
#row4 = affine_map<(m, k) -> (m, k)>
#rowsum4 = affine_map<(m, k) -> (m)>
#x4 = affine_map<(m, n, k) -> (m, k)>
#s4 = affine_map<(m, n, k) -> (m)>
#w4 = affine_map<(m, n, k) -> (n, k)>
#o4 = affine_map<(m, n, k) -> (m, n)>
func.func @factor_twice(%x: memref<1x64xf32>, %w: memref<48x64xf32>, %out: memref<1x48xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%out : memref<1x48xf32>)
  %sum = memref.alloc() : memref<1xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<1xf32>)
  linalg.generic {indexing_maps = [#row4, #rowsum4], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<1x64xf32>) outs(%sum : memref<1xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %sq = arith.mulf %a, %a : f32
    %r = arith.addf %acc, %sq : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#x4, #s4, #w4, #o4], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %sum, %w : memref<1x64xf32>, memref<1xf32>, memref<48x64xf32>) outs(%out : memref<1x48xf32>) {
  ^bb0(%a: f32, %s: f32, %weight: f32, %acc: f32):
    %factor = math.rsqrt %s : f32
    %xn = arith.mulf %a, %factor : f32
    %wn = arith.mulf %weight, %factor : f32
    %p = arith.mulf %xn, %wn : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  memref.dealloc %sum : memref<1xf32>
  return
}
