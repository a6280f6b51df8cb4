// RUN: llama-opt %s --split-input-file --llama-mma-contractions | FileCheck %s

// Tests that prefill's BF16 projections become one-warp tiles of 4 x 4
// mma.sync m16n8k16 (fragments per lane in the PTX layout, f32 activations
// as BF16 hi + lo), and which contractions are left to the warp reductions.

#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#o = affine_map<(m, n, k) -> (m, n)>

// Run-time rows, 96 columns (3 tiles of 32), K = 64 (4 steps of 16).
// CHECK-LABEL: func.func @prefill
// CHECK-NOT: linalg.fill
// CHECK: %[[M:.*]] = memref.dim %arg0, %c0
// CHECK: %[[LAST:.*]] = arith.subi %[[M]], %c1
// CHECK: %[[ROWTILES:.*]] = arith.ceildivui %[[M]], %c64
// CHECK: scf.parallel (%[[TN:.*]], %[[TM:.*]]) = ({{.*}}) to (%c3, %[[ROWTILES]])
// CHECK: scf.parallel (%[[LANE:.*]]) = ({{.*}}) to (%c32)
// CHECK: %[[G:.*]] = arith.divui %[[LANE]], %c4
// CHECK: %[[T:.*]] = arith.remui %[[LANE]], %c4
// CHECK: %[[PAIR:.*]] = arith.muli %[[T]], %c2
// CHECK: %[[FIRSTROW:.*]] = arith.muli %[[TM]], %c64
// CHECK: %[[FIRSTCOL:.*]] = arith.muli %[[TN]], %c32
// CHECK: %[[ROW0:.*]] = arith.addi %[[FIRSTROW]], %[[G]]
// CHECK: %[[LROW0:.*]] = arith.minui %[[ROW0]], %[[LAST]]
// CHECK: %[[R8:.*]] = arith.addi %{{.*}}, %c8
// CHECK: %[[LROW8:.*]] = arith.minui %[[R8]], %[[LAST]]
// CHECK: %[[WROW0:.*]] = arith.addi %[[FIRSTCOL]], %[[G]]
// CHECK: %{{.*}}:64 = scf.for %[[K:[^ ]+]] = %c0{{.*}} to %c64{{.*}} step %c16
// CHECK: %[[COL:.*]] = arith.addi %[[K]], %[[PAIR]]
// CHECK: %[[COL8:.*]] = arith.addi %[[COL]], %c8
// A's registers: rows g and g + 8, columns 2t and 8 + 2t, split hi + lo.
// CHECK: %[[X0:.*]] = vector.load %arg0[%[[LROW0]], %[[COL]]] {alignment = 8 : i64} : memref<?x64xf32>, vector<2xf32>
// CHECK: %[[HI:.*]] = arith.truncf %[[X0]] : vector<2xf32> to vector<2xbf16>
// CHECK: %[[HIF:.*]] = arith.extf %[[HI]]
// CHECK: %[[REST:.*]] = arith.subf %[[X0]], %[[HIF]]
// CHECK: arith.truncf %[[REST]]
// CHECK: vector.load %arg0[%[[LROW8]], %[[COL]]]
// CHECK: vector.load %arg0[%[[LROW0]], %[[COL8]]]
// CHECK: vector.load %arg0[%[[LROW8]], %[[COL8]]]
// B's registers: the weight's row g, the same columns.
// CHECK: vector.load %arg1[%[[WROW0]], %[[COL]]] {alignment = 4 : i64} : memref<96x64xbf16>, vector<2xbf16>
// CHECK: vector.load %arg1[%[[WROW0]], %[[COL8]]]
// CHECK-COUNT-32: nvvm.mma.sync
// CHECK-SAME: layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>, shape = #nvvm.shape<m = 16, n = 8, k = 16>
// CHECK-NOT: nvvm.mma.sync
// CHECK: scf.yield
// The accumulators: rows g and g + 8, columns 2t and 2t + 1, rows past M
// not stored; the fill's zero is the start.
// CHECK: %[[IN:.*]] = arith.cmpi ult, %[[ROW0]], %[[M]]
// CHECK: scf.if %[[IN]] {
// CHECK: %[[C0:.*]] = arith.addi %[[FIRSTCOL]], %[[PAIR]]
// CHECK: %[[S0:.*]] = arith.addf %cst, %{{.*}}#0
// CHECK: memref.store %[[S0]], %arg2[%[[ROW0]], %[[C0]]]
// CHECK: arith.addf %cst, %{{.*}}#1
// CHECK: scf.if
// CHECK: arith.addf %cst, %{{.*}}#2
// CHECK-NOT: linalg.generic
func.func @prefill(%x: memref<?x64xf32>, %w: memref<96x64xbf16>, %out: memref<?x96xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%out : memref<?x96xf32>)
  linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x64xf32>, memref<96x64xbf16>) outs(%out : memref<?x96xf32>) {
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

// BF16 activations: one multiply per tile pair; a residual output (no fill)
// is loaded and added to.
// CHECK-LABEL: func.func @bf16_residual
// CHECK: scf.for
// CHECK-COUNT-16: nvvm.mma.sync
// CHECK-NOT: nvvm.mma.sync
// CHECK: scf.yield
// CHECK: %[[OLD:.*]] = memref.load %arg2
// CHECK: arith.addf %[[OLD]], %{{.*}}#0
func.func @bf16_residual(%x: memref<100x32xbf16>, %w: memref<32x32xbf16>, %out: memref<100x32xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<100x32xbf16>, memref<32x32xbf16>) outs(%out : memref<100x32xf32>) {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %af = arith.extf %a : bf16 to f32
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %af, %bf : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#o = affine_map<(m, n, k) -> (m, n)>

// Left alone: decode's few rows (the GEMV streams the weight once), f32
// weights, columns not a multiple of 32, K not of 16, a body that is more
// than a multiply-accumulate.
// CHECK-LABEL: func.func @untouched
// CHECK-NOT: nvvm.mma.sync
// CHECK-COUNT-5: linalg.generic
// CHECK-NOT: nvvm.mma.sync
func.func @untouched(%x1: memref<1x64xf32>, %w: memref<96x64xbf16>, %o1: memref<1x96xf32>,
                     %x: memref<?x64xf32>, %wf: memref<96x64xf32>, %o: memref<?x96xf32>,
                     %w88: memref<88x64xbf16>, %o88: memref<?x88xf32>,
                     %x40: memref<?x40xf32>, %w40: memref<96x40xbf16>) {
  linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x1, %w : memref<1x64xf32>, memref<96x64xbf16>) outs(%o1 : memref<1x96xf32>) {
  ^bb0(%a: f32, %b: bf16, %acc: f32):
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %a, %bf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %wf : memref<?x64xf32>, memref<96x64xf32>) outs(%o : memref<?x96xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w88 : memref<?x64xf32>, memref<88x64xbf16>) outs(%o88 : memref<?x88xf32>) {
  ^bb0(%a: f32, %b: bf16, %acc: f32):
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %a, %bf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x40, %w40 : memref<?x40xf32>, memref<96x40xbf16>) outs(%o : memref<?x96xf32>) {
  ^bb0(%a: f32, %b: bf16, %acc: f32):
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %a, %bf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x64xf32>, memref<96x64xbf16>) outs(%o : memref<?x96xf32>) {
  ^bb0(%a: f32, %b: bf16, %acc: f32):
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %a, %bf : f32
    %e = math.exp %p : f32
    %s = arith.addf %acc, %e : f32
    linalg.yield %s : f32
  }
  return
}
