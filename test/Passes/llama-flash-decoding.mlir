// RUN: llama-opt %s --split-input-file --llama-flash-decoding --cse | FileCheck %s

// Tests that decode attention's five generics (DecodeAttention.cpp, on
// buffers) become flash-decoding: a warp per (key/value head, key range)
// with an online softmax over blocks of keys, then a thread per output
// element merging the ranges; nothing of size [Hkv, G, L] is left.

// GQA, 2 key/value heads of 2 query heads, D = 128: 4 f32 per lane.
// CHECK-LABEL: func.func @attention
// CHECK: %[[SCALE:.*]] = arith.constant 0.0883883461 : f32
// CHECK: %[[L:.*]] = memref.dim %arg1, %c0
// The keys per range: L / 1024 ranges (2048 warps over 2 heads), rounded
// up to 32.
// CHECK: %[[PER:.*]] = arith.ceildivui %[[L]], %c1024
// CHECK: %[[PER32:.*]] = arith.ceildivui %[[PER]], %c32
// CHECK: %[[KEYS:.*]] = arith.muli %[[PER32]], %c32
// CHECK: %[[RANGES:.*]] = arith.ceildivui %[[L]], %[[KEYS]]
// CHECK: %[[MAX:.*]] = memref.alloc() : memref<2x2x1024xf32>
// CHECK: %[[SUM:.*]] = memref.alloc() : memref<2x2x1024xf32>
// CHECK: %[[OUT:.*]] = memref.alloc() : memref<2x2x1024x128xf32>
// CHECK: %[[POINTS:.*]] = arith.muli %{{.*}}, %[[RANGES]]
// CHECK: scf.parallel
// CHECK: scf.parallel (%[[LANE:[^,]+]], %[[WARP:[^)]+]]) = {{.*}} to (%c32{{[_0-9]*}}, %c4)
// CHECK: %[[POINT:.*]] = arith.addi %{{.*}}, %[[WARP]]
// CHECK: arith.cmpi ult, %[[POINT]], %[[POINTS]]
// CHECK: %[[HEAD:.*]] = arith.divui %[[POINT]], %[[RANGES]]
// CHECK: %[[RANGE:.*]] = arith.remui %[[POINT]], %[[RANGES]]
// CHECK: %[[FIRST:.*]] = arith.muli %[[RANGE]], %[[KEYS]]
// CHECK: %[[END:.*]] = arith.minui %{{.*}}, %[[L]]
// Each lane holds 4 elements of the group's 2 query rows.
// CHECK: %[[D:.*]] = arith.muli %{{.*}}, %c4
// CHECK: %[[NEG_INF:.*]] = arith.constant 0xFF800000 : f32
// CHECK: vector.load %arg0[%[[HEAD]], %{{.*}}, %[[D]]] {alignment = 16 : i64} : memref<2x2x128xf32>, vector<4xf32>
// CHECK: vector.load %arg0[%[[HEAD]], %{{.*}}, %[[D]]] {alignment = 16 : i64} : memref<2x2x128xf32>, vector<4xf32>
// Blocks of 8 keys; the state: 2 maxes, 2 sums, 2 x 4 output elements.
// CHECK: %[[STATE:.*]]:12 = scf.for %[[T:[^ ]+]] = %[[FIRST]] to %[[END]] step %c8 iter_args(%[[M0:[^ ]+]] = %[[NEG_INF]], {{.*}}) -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32) {
// CHECK: arith.cmpi ult, %[[T]], %[[END]]
// CHECK: vector.load %arg1[{{.*}}, %[[HEAD]], %[[D]]] {alignment = 16 : i64}
// CHECK: vector.load %arg2[{{.*}}, %[[HEAD]], %[[D]]] {alignment = 16 : i64}
// A score: the lane's 4 products, then 5 butterfly shuffles.
// CHECK: gpu.shuffle xor %{{.*}}, %c16_i32, %c32_i32
// CHECK: gpu.shuffle xor %{{.*}}, %c1_i32, %c32_i32
// CHECK: arith.select %{{.*}}, %{{.*}}, %[[NEG_INF]] : f32
// The new max; the old state rescaled by exp(c (m_old - m_new)), 0 at first.
// CHECK: %[[NEW:.*]] = arith.maximumf %[[M0]], %{{.*}} : f32
// CHECK: %[[FIRST_BLOCK:.*]] = arith.cmpf oeq, %[[M0]], %[[NEG_INF]] : f32
// CHECK: %[[DIFF:.*]] = arith.subf %[[M0]], %[[NEW]] : f32
// CHECK: %[[SCALED:.*]] = arith.mulf %[[DIFF]], %[[SCALE]] : f32
// CHECK: %[[EXP:.*]] = math.exp %[[SCALED]] : f32
// CHECK: arith.select %[[FIRST_BLOCK]], %cst{{.*}}, %[[EXP]] : f32
// CHECK: scf.yield %[[NEW]],
// Each lane stores its output elements, lane 0 the max and sum.
// CHECK: vector.store %{{.*}}, %[[OUT]][%[[HEAD]], %{{.*}}, %[[RANGE]], %[[D]]] {alignment = 16 : i64}
// CHECK: scf.if %{{.*}} {
// CHECK: memref.store %[[STATE]]#0, %[[MAX]][%[[HEAD]], %c0{{[_0-9]*}}, %[[RANGE]]]
// CHECK: memref.store %[[STATE]]#2, %[[SUM]][%[[HEAD]], %c0{{[_0-9]*}}, %[[RANGE]]]
// The merge: a thread per output element, online over the ranges.
// CHECK: scf.parallel (%[[H:[^,]+]], %[[G:[^,]+]], %[[DD:[^)]+]]) = {{.*}} to (%c2{{[_0-9]*}}, %c2{{[_0-9]*}}, %c128)
// CHECK: %[[M:.*]] = memref.load %[[MAX]][%[[H]], %[[G]], %c0{{[_0-9]*}}]
// CHECK: %[[MERGED:.*]]:3 = scf.for %[[R:[^ ]+]] = %c1{{[_0-9]*}} to %[[RANGES]] step %c1{{[_0-9]*}} iter_args
// CHECK: memref.load %[[MAX]][%[[H]], %[[G]], %[[R]]]
// CHECK: memref.load %[[OUT]][%[[H]], %[[G]], %[[R]], %[[DD]]]
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: math.exp
// CHECK: %[[RESULT:.*]] = arith.divf %[[MERGED]]#2, %[[MERGED]]#1 : f32
// CHECK: memref.store %[[RESULT]], %arg3[%[[H]], %[[G]], %[[DD]]]
// CHECK: memref.dealloc %[[MAX]]
// CHECK: memref.dealloc %[[SUM]]
// CHECK: memref.dealloc %[[OUT]]
// CHECK-NOT: linalg.
// CHECK-NOT: memref.alloc(
// CHECK: return
#q = affine_map<(h, g, t, d) -> (h, g, d)>
#k = affine_map<(h, g, t, d) -> (t, h, d)>
#s = affine_map<(h, g, t, d) -> (h, g, t)>
#row = affine_map<(h, g, t) -> (h, g, t)>
#head = affine_map<(h, g, t) -> (h, g)>
#p = affine_map<(h, g, d, t) -> (h, g, t)>
#v = affine_map<(h, g, d, t) -> (t, h, d)>
#o = affine_map<(h, g, d, t) -> (h, g, d)>
func.func @attention(%q: memref<2x2x128xf32>, %keys: memref<?x2x128xf32>,
                     %values: memref<?x2x128xf32>, %out: memref<2x2x128xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %neg_inf = arith.constant 0xFF800000 : f32
  %l = memref.dim %keys, %c0 : memref<?x2x128xf32>
  %scores = memref.alloc(%l) : memref<2x2x?xf32>
  linalg.fill ins(%zero : f32) outs(%scores : memref<2x2x?xf32>)
  linalg.generic {indexing_maps = [#q, #k, #s], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %keys : memref<2x2x128xf32>, memref<?x2x128xf32>) outs(%scores : memref<2x2x?xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  %sum = memref.alloc() : memref<2x2xf32>
  %max = memref.alloc() : memref<2x2xf32>
  linalg.fill ins(%neg_inf : f32) outs(%max : memref<2x2xf32>)
  linalg.generic {indexing_maps = [#row, #head], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%scores : memref<2x2x?xf32>) outs(%max : memref<2x2xf32>) {
  ^bb0(%s: f32, %acc: f32):
    %m = arith.maximumf %acc, %s : f32
    linalg.yield %m : f32
  }
  linalg.fill ins(%zero : f32) outs(%sum : memref<2x2xf32>)
  linalg.generic {indexing_maps = [#row, #head, #head], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%scores, %max : memref<2x2x?xf32>, memref<2x2xf32>) outs(%sum : memref<2x2xf32>) {
  ^bb0(%s: f32, %m: f32, %acc: f32):
    %scale = arith.constant 0.0883883461 : f32
    %d = arith.subf %s, %m : f32
    %x = arith.mulf %d, %scale : f32
    %e = math.exp %x : f32
    %r = arith.addf %acc, %e : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#row, #head, #head, #row], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%scores, %max, %sum : memref<2x2x?xf32>, memref<2x2xf32>, memref<2x2xf32>) outs(%scores : memref<2x2x?xf32>) {
  ^bb0(%s: f32, %m: f32, %total: f32, %unused: f32):
    %scale = arith.constant 0.0883883461 : f32
    %d = arith.subf %s, %m : f32
    %x = arith.mulf %d, %scale : f32
    %e = math.exp %x : f32
    %r = arith.divf %e, %total : f32
    linalg.yield %r : f32
  }
  linalg.fill ins(%zero : f32) outs(%out : memref<2x2x128xf32>)
  linalg.generic {indexing_maps = [#p, #v, #o], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%scores, %values : memref<2x2x?xf32>, memref<?x2x128xf32>) outs(%out : memref<2x2x128xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  memref.dealloc %scores : memref<2x2x?xf32>
  memref.dealloc %max : memref<2x2xf32>
  memref.dealloc %sum : memref<2x2xf32>
  return
}

// -----

// D = 16: a lane per element, lanes 16..31 read element 15 and count 0
// (their query elements are 0) and store nothing.
// CHECK-LABEL: func.func @narrow_heads
// CHECK: %[[IN:.*]] = arith.cmpi ule, %{{.*}}, %c15
// CHECK: %[[AT:.*]] = arith.minui %{{.*}}, %c15
// CHECK: %[[QE:.*]] = memref.load %arg0[%{{.*}}, %c0{{[_0-9]*}}, %[[AT]]] : memref<1x1x16xf32>
// CHECK: arith.select %[[IN]], %[[QE]], %cst
// CHECK: scf.if %[[IN]] {
// CHECK: memref.store %{{.*}}, %{{.*}}[%{{.*}}, %c0{{[_0-9]*}}, %{{.*}}, %[[AT]]] : memref<1x1x2048x16xf32>
#q1 = affine_map<(h, g, t, d) -> (h, g, d)>
#k1 = affine_map<(h, g, t, d) -> (t, h, d)>
#s1 = affine_map<(h, g, t, d) -> (h, g, t)>
#row1 = affine_map<(h, g, t) -> (h, g, t)>
#head1 = affine_map<(h, g, t) -> (h, g)>
#p1 = affine_map<(h, g, d, t) -> (h, g, t)>
#v1 = affine_map<(h, g, d, t) -> (t, h, d)>
#o1 = affine_map<(h, g, d, t) -> (h, g, d)>
func.func @narrow_heads(%q: memref<1x1x16xf32>, %keys: memref<?x1x16xf32>,
                        %values: memref<?x1x16xf32>, %out: memref<1x1x16xf32>,
                        %scale: f32) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %neg_inf = arith.constant 0xFF800000 : f32
  %l = memref.dim %keys, %c0 : memref<?x1x16xf32>
  %scores = memref.alloc(%l) : memref<1x1x?xf32>
  linalg.fill ins(%zero : f32) outs(%scores : memref<1x1x?xf32>)
  linalg.generic {indexing_maps = [#q1, #k1, #s1], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %keys : memref<1x1x16xf32>, memref<?x1x16xf32>) outs(%scores : memref<1x1x?xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  %max = memref.alloc() : memref<1x1xf32>
  linalg.fill ins(%neg_inf : f32) outs(%max : memref<1x1xf32>)
  linalg.generic {indexing_maps = [#row1, #head1], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%scores : memref<1x1x?xf32>) outs(%max : memref<1x1xf32>) {
  ^bb0(%s: f32, %acc: f32):
    %m = arith.maximumf %s, %acc : f32
    linalg.yield %m : f32
  }
  %sum = memref.alloc() : memref<1x1xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<1x1xf32>)
  linalg.generic {indexing_maps = [#row1, #head1, #head1], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%scores, %max : memref<1x1x?xf32>, memref<1x1xf32>) outs(%sum : memref<1x1xf32>) {
  ^bb0(%s: f32, %m: f32, %acc: f32):
    %d = arith.subf %s, %m : f32
    %x = arith.mulf %scale, %d : f32
    %e = math.exp %x : f32
    %r = arith.addf %e, %acc : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#row1, #head1, #head1, #row1], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%scores, %max, %sum : memref<1x1x?xf32>, memref<1x1xf32>, memref<1x1xf32>) outs(%scores : memref<1x1x?xf32>) {
  ^bb0(%s: f32, %m: f32, %total: f32, %unused: f32):
    %d = arith.subf %s, %m : f32
    %x = arith.mulf %scale, %d : f32
    %e = math.exp %x : f32
    %r = arith.divf %e, %total : f32
    linalg.yield %r : f32
  }
  linalg.fill ins(%zero : f32) outs(%out : memref<1x1x16xf32>)
  linalg.generic {indexing_maps = [#p1, #v1, #o1], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%scores, %values : memref<1x1x?xf32>, memref<?x1x16xf32>) outs(%out : memref<1x1x16xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %b, %a : f32
    %s = arith.addf %m, %acc : f32
    linalg.yield %s : f32
  }
  memref.dealloc %scores : memref<1x1x?xf32>
  memref.dealloc %max : memref<1x1xf32>
  memref.dealloc %sum : memref<1x1xf32>
  return
}

// -----

// Not this attention: the probabilities use another scale than the sum
// (the online rescaling would be wrong), so the generics stay.
// CHECK-LABEL: func.func @other_scale
// CHECK-NOT: gpu.shuffle
// CHECK-COUNT-5: linalg.generic
#q2 = affine_map<(h, g, t, d) -> (h, g, d)>
#k2 = affine_map<(h, g, t, d) -> (t, h, d)>
#s2 = affine_map<(h, g, t, d) -> (h, g, t)>
#row2 = affine_map<(h, g, t) -> (h, g, t)>
#head2 = affine_map<(h, g, t) -> (h, g)>
#p2 = affine_map<(h, g, d, t) -> (h, g, t)>
#v2 = affine_map<(h, g, d, t) -> (t, h, d)>
#o2 = affine_map<(h, g, d, t) -> (h, g, d)>
func.func @other_scale(%q: memref<1x1x16xf32>, %keys: memref<?x1x16xf32>,
                       %values: memref<?x1x16xf32>, %out: memref<1x1x16xf32>,
                       %scale: f32, %other: f32) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %neg_inf = arith.constant 0xFF800000 : f32
  %l = memref.dim %keys, %c0 : memref<?x1x16xf32>
  %scores = memref.alloc(%l) : memref<1x1x?xf32>
  linalg.fill ins(%zero : f32) outs(%scores : memref<1x1x?xf32>)
  linalg.generic {indexing_maps = [#q2, #k2, #s2], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %keys : memref<1x1x16xf32>, memref<?x1x16xf32>) outs(%scores : memref<1x1x?xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  %max = memref.alloc() : memref<1x1xf32>
  linalg.fill ins(%neg_inf : f32) outs(%max : memref<1x1xf32>)
  linalg.generic {indexing_maps = [#row2, #head2], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%scores : memref<1x1x?xf32>) outs(%max : memref<1x1xf32>) {
  ^bb0(%s: f32, %acc: f32):
    %m = arith.maximumf %s, %acc : f32
    linalg.yield %m : f32
  }
  %sum = memref.alloc() : memref<1x1xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<1x1xf32>)
  linalg.generic {indexing_maps = [#row2, #head2, #head2], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%scores, %max : memref<1x1x?xf32>, memref<1x1xf32>) outs(%sum : memref<1x1xf32>) {
  ^bb0(%s: f32, %m: f32, %acc: f32):
    %d = arith.subf %s, %m : f32
    %x = arith.mulf %scale, %d : f32
    %e = math.exp %x : f32
    %r = arith.addf %e, %acc : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#row2, #head2, #head2, #row2], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%scores, %max, %sum : memref<1x1x?xf32>, memref<1x1xf32>, memref<1x1xf32>) outs(%scores : memref<1x1x?xf32>) {
  ^bb0(%s: f32, %m: f32, %total: f32, %unused: f32):
    %d = arith.subf %s, %m : f32
    %x = arith.mulf %other, %d : f32
    %e = math.exp %x : f32
    %r = arith.divf %e, %total : f32
    linalg.yield %r : f32
  }
  linalg.fill ins(%zero : f32) outs(%out : memref<1x1x16xf32>)
  linalg.generic {indexing_maps = [#p2, #v2, #o2], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%scores, %values : memref<1x1x?xf32>, memref<?x1x16xf32>) outs(%out : memref<1x1x16xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %b, %a : f32
    %s = arith.addf %m, %acc : f32
    linalg.yield %s : f32
  }
  memref.dealloc %scores : memref<1x1x?xf32>
  memref.dealloc %max : memref<1x1xf32>
  memref.dealloc %sum : memref<1x1xf32>
  return
}
