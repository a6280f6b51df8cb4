// RUN: llama-opt %s --convert-llama-to-linalg --canonicalize --cse --split-input-file | FileCheck %s
// RUN: llama-opt %s --convert-llama-to-linalg="always-parallel" --canonicalize --split-input-file | FileCheck %s --check-prefix=GPU

// Tests that fused projections become one loop over column blocks: block p
// of every product is x times rows [p N_i / P, (p + 1) N_i / P) of weight i,
// summed into its own slice of the output (in place once bufferized).

// stories110M's q, k and v: 12 blocks of 64 columns, on threads.
// CHECK-LABEL: func.func @qkv
// CHECK-SAME: (%[[X:.*]]: tensor<?x768xf32>, %[[WQ:.*]]: tensor<768x768xf32>, %[[WK:.*]]: tensor<768x768xf32>, %[[WV:.*]]: tensor<768x768xf32>)
// CHECK: %[[R:.*]]:3 = scf.forall (%[[P:.*]]) in (12) shared_outs(%[[Q:.*]] = %{{.*}}, %[[K:.*]] = %{{.*}}, %[[V:.*]] = %{{.*}})
// CHECK: %[[FIRST:.*]] = arith.muli %[[P]], %c64
// CHECK: %[[WQB:.*]] = tensor.extract_slice %[[WQ]][%[[FIRST]], 0] [64, 768] [1, 1]
// CHECK: %[[WKB:.*]] = tensor.extract_slice %[[WK]][%[[FIRST]], 0] [64, 768] [1, 1]
// CHECK: %[[WVB:.*]] = tensor.extract_slice %[[WV]][%[[FIRST]], 0] [64, 768] [1, 1]
// CHECK: %[[QB:.*]] = tensor.extract_slice %[[Q]][0, %[[FIRST]]] [%{{.*}}, 64] [1, 1]
// CHECK: %[[KB:.*]] = tensor.extract_slice %[[K]][0, %[[FIRST]]] [%{{.*}}, 64] [1, 1]
// CHECK: %[[VB:.*]] = tensor.extract_slice %[[V]][0, %[[FIRST]]] [%{{.*}}, 64] [1, 1]
// CHECK: %[[QZ:.*]] = linalg.fill {{.*}} outs(%[[QB]] : tensor<?x64xf32>)
// CHECK: %[[QS:.*]] = linalg.generic {{.*}} ins(%[[X]], %[[WQB]] : tensor<?x768xf32>, tensor<64x768xf32>) outs(%[[QZ]] : tensor<?x64xf32>)
// CHECK: %[[KZ:.*]] = linalg.fill {{.*}} outs(%[[KB]] : tensor<?x64xf32>)
// CHECK: %[[KS:.*]] = linalg.generic {{.*}} ins(%[[X]], %[[WKB]] : {{.*}}) outs(%[[KZ]] : tensor<?x64xf32>)
// CHECK: %[[VZ:.*]] = linalg.fill {{.*}} outs(%[[VB]] : tensor<?x64xf32>)
// CHECK: %[[VS:.*]] = linalg.generic {{.*}} ins(%[[X]], %[[WVB]] : {{.*}}) outs(%[[VZ]] : tensor<?x64xf32>)
// CHECK: scf.forall.in_parallel
// CHECK-NEXT: tensor.parallel_insert_slice %[[QS]] into %[[Q]][0, %[[FIRST]]] [%{{.*}}, 64] [1, 1]
// CHECK-NEXT: tensor.parallel_insert_slice %[[KS]] into %[[K]][0, %[[FIRST]]] [%{{.*}}, 64] [1, 1]
// CHECK-NEXT: tensor.parallel_insert_slice %[[VS]] into %[[V]][0, %[[FIRST]]] [%{{.*}}, 64] [1, 1]
// CHECK: return %[[R]]#0, %[[R]]#1, %[[R]]#2
func.func @qkv(%x: tensor<?x768xf32>, %wq: tensor<768x768xf32>, %wk: tensor<768x768xf32>, %wv: tensor<768x768xf32>)
    -> (tensor<?x768xf32>, tensor<?x768xf32>, tensor<?x768xf32>) {
  %q, %k, %v = llama.projections %x, %wq, %wk, %wv
      : (tensor<?x768xf32>, tensor<768x768xf32>, tensor<768x768xf32>, tensor<768x768xf32>)
        -> (tensor<?x768xf32>, tensor<?x768xf32>, tensor<?x768xf32>)
  return %q, %k, %v : tensor<?x768xf32>, tensor<?x768xf32>, tensor<?x768xf32>
}

// -----

// GQA widths (TinyLlama: 2048 q, 256 k/v columns): 8 blocks of 32 k/v
// columns, each with 256 q columns.
// CHECK-LABEL: func.func @gqa
// CHECK: scf.forall (%[[P:.*]]) in (8)
// CHECK: %[[QFIRST:.*]] = arith.muli %[[P]], %c256
// CHECK: tensor.extract_slice %{{.*}}[%[[QFIRST]], 0] [256, 2048] [1, 1] : tensor<2048x2048xbf16> to tensor<256x2048xbf16>
// CHECK: %[[KFIRST:.*]] = arith.muli %[[P]], %c32
// CHECK: tensor.extract_slice %{{.*}}[%[[KFIRST]], 0] [32, 2048] [1, 1] : tensor<256x2048xbf16> to tensor<32x2048xbf16>
func.func @gqa(%x: tensor<1x2048xf32>, %wq: tensor<2048x2048xbf16>, %wk: tensor<256x2048xbf16>, %wv: tensor<256x2048xbf16>)
    -> (tensor<1x2048xf32>, tensor<1x256xf32>, tensor<1x256xf32>) {
  %q, %k, %v = llama.projections %x, %wq, %wk, %wv
      : (tensor<1x2048xf32>, tensor<2048x2048xbf16>, tensor<256x2048xbf16>, tensor<256x2048xbf16>)
        -> (tensor<1x2048xf32>, tensor<1x256xf32>, tensor<1x256xf32>)
  return %q, %k, %v : tensor<1x2048xf32>, tensor<1x256xf32>, tensor<1x256xf32>
}

// -----

// A small feed-forward gate (16K weight values, not worth a fork): a serial
// loop over 8 blocks of 32 columns; each block's gate and up products are
// fresh accumulators and their SwiGLU writes the output's slice.
// For a GPU (always-parallel) no blocks: each product is a contraction over
// all its columns (a grid of its own), then the SwiGLU.
// GPU-LABEL: func.func @swiglu_serial
// GPU-NOT: scf.for
// GPU: linalg.generic {{.*}} outs(%{{.*}} : tensor<1x256xf32>)
// GPU: linalg.generic {{.*}} outs(%{{.*}} : tensor<1x256xf32>)
// GPU: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<1x256xf32>, tensor<1x256xf32>) outs(%{{.*}} : tensor<1x256xf32>)
// CHECK-LABEL: func.func @swiglu_serial
// CHECK-SAME: (%[[X:.*]]: tensor<1x64xf32>, %[[WG:.*]]: tensor<256x64xf32>, %[[WU:.*]]: tensor<256x64xf32>)
// CHECK-NOT: scf.forall
// CHECK: scf.for %[[P:.*]] = %c0 to %c8 step %c1 iter_args(%[[OUT:.*]] = %{{.*}}) -> (tensor<1x256xf32>)
// CHECK: %[[FIRST:.*]] = arith.muli %[[P]], %c32
// CHECK: %[[WGB:.*]] = tensor.extract_slice %[[WG]][%[[FIRST]], 0] [32, 64] [1, 1]
// CHECK: %[[WUB:.*]] = tensor.extract_slice %[[WU]][%[[FIRST]], 0] [32, 64] [1, 1]
// CHECK: %[[OB:.*]] = tensor.extract_slice %[[OUT]][0, %[[FIRST]]] [1, 32] [1, 1]
// CHECK: %[[G:.*]] = linalg.generic {{.*}} ins(%[[X]], %[[WGB]] : {{.*}}) outs(%{{.*}} : tensor<1x32xf32>)
// CHECK: %[[U:.*]] = linalg.generic {{.*}} ins(%[[X]], %[[WUB]] : {{.*}}) outs(%{{.*}} : tensor<1x32xf32>)
// CHECK: %[[H:.*]] = linalg.generic {{.*}} ins(%[[G]], %[[U]] : tensor<1x32xf32>, tensor<1x32xf32>) outs(%[[OB]] : tensor<1x32xf32>)
// CHECK: math.exp
// CHECK: %[[INS:.*]] = tensor.insert_slice %[[H]] into %[[OUT]][0, %[[FIRST]]] [1, 32] [1, 1]
// CHECK: scf.yield %[[INS]]
func.func @swiglu_serial(%x: tensor<1x64xf32>, %wg: tensor<256x64xf32>, %wu: tensor<256x64xf32>) -> tensor<1x256xf32> {
  %h = llama.swiglu_projection %x, %wg, %wu
      : (tensor<1x64xf32>, tensor<256x64xf32>, tensor<256x64xf32>) -> tensor<1x256xf32>
  return %h : tensor<1x256xf32>
}

// -----

// A toy's widths (88 = 8 x 11) do not split into whole panels: the two
// products over all columns, then the SwiGLU, no loop.
// CHECK-LABEL: func.func @toy
// CHECK-NOT: scf.
// CHECK: %[[G:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<?x88xf32>)
// CHECK: %[[U:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<?x88xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[G]], %[[U]] : tensor<?x88xf32>, tensor<?x88xf32>)
// CHECK-NOT: scf.
func.func @toy(%x: tensor<?x32xf32>, %wg: tensor<88x32xf32>, %wu: tensor<88x32xf32>) -> tensor<?x88xf32> {
  %h = llama.swiglu_projection %x, %wg, %wu
      : (tensor<?x32xf32>, tensor<88x32xf32>, tensor<88x32xf32>) -> tensor<?x88xf32>
  return %h : tensor<?x88xf32>
}
