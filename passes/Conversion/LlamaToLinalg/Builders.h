//===- Builders.h - linalg building blocks for llama lowerings --*- C++ -*-===//
//
// Destination-style pieces shared by the forward and gradient lowerings.
// Shapes: B.. leading batch dims, S queries, L keys, H heads, Hkv key/value
// heads, G = H / Hkv query heads per key/value head, D head_dim.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_PASSES_CONVERSION_LLAMATOLINALG_BUILDERS_H
#define LLAMAC_PASSES_CONVERSION_LLAMATOLINALG_BUILDERS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Builders.h"

namespace mlir::llama::lowering {

using utils::IteratorType;
using BodyBuilder = function_ref<void(OpBuilder &, Location, ValueRange)>;

Value emptyTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                  Type elementType);
/// A tensor of the given sizes filled with `value` (an accumulator's init).
Value filledTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                   Type elementType, double value);
/// Converts a float scalar to `type` (weights may be narrower than
/// activations).
Value castFloat(OpBuilder &b, Location loc, Value value, Type type);
Value floatConstant(OpBuilder &b, Location loc, Type type, double value);
Value indexConstant(OpBuilder &b, Location loc, int64_t value);

/// (d0 .. d{n-1}) -> (d{first} .. d{first + count - 1})
AffineMap dimsMap(MLIRContext *ctx, unsigned numDims, unsigned first,
                  unsigned count);
/// (d0 .. d{n-1}) -> (d{i} for i in dims)
AffineMap selectMap(MLIRContext *ctx, unsigned numDims,
                    ArrayRef<unsigned> dims);
/// Like selectMap after `nb` leading batch loops: (B.., dims shifted by nb).
AffineMap batchedMap(MLIRContext *ctx, unsigned nb, unsigned numDims,
                     ArrayRef<unsigned> dims);

/// A generic op with one result; `iterators` fixes the loop count.
Value generic(OpBuilder &b, Location loc, ValueRange inputs, Value init,
              ArrayRef<AffineMap> maps, ArrayRef<IteratorType> iterators,
              BodyBuilder body);
/// An elementwise generic over tensors of one shape, producing `resultType`
/// (into `init` when given).
Value elementwise(OpBuilder &b, Location loc, ValueRange inputs,
                  RankedTensorType resultType, BodyBuilder body,
                  Value init = {});
void yield(OpBuilder &b, Location loc, Value value);
/// sigmoid(x) = 1 / (1 + exp(-x)), as torch computes it (for silu).
Value sigmoid(OpBuilder &b, Location loc, Value x);
/// linalg.index for the first `count` loops.
SmallVector<Value> loopIndices(OpBuilder &b, Location loc, unsigned count);

/// x [..., K] · weight [N, K]ᵀ -> [..., N], the sum starting from `init`
/// (none: zeros): a linear layer's contraction.
Value linearProduct(OpBuilder &b, Location loc, Value x, Value weight,
                    Value init = {});
/// silu(gate) * up, element by element (gate and up of one type), into
/// `init` when given.
Value swiglu(OpBuilder &b, Location loc, Value gate, Value up, Value init = {});

/// One output tile of a loop iteration and where it goes.
struct Tile {
  Value value;
  SmallVector<OpFoldResult> offsets, sizes, strides;
};
/// Builds one point's tiles from its indices and the loop's values of the
/// outputs (a tile computed into a slice of those is written in place).
using TileBuilder = function_ref<SmallVector<Tile>(OpBuilder &, Location,
                                                   ValueRange, ValueRange)>;

/// Runs `body` at every point of `bounds` and inserts its tiles into
/// `outs`: an scf.forall when `parallel` (the points run on threads once
/// lowered to OpenMP, or as GPU blocks; `mapping` from ParallelPolicy), else
/// a serial loop nest.
SmallVector<Value> forEachPoint(OpBuilder &b, Location loc,
                                ArrayRef<OpFoldResult> bounds, ValueRange outs,
                                bool parallel, TileBuilder body,
                                ArrayAttr mapping = {});

/// [B.., S, H, D] -> [B.., S, Hkv, G, D] (query head h = kv * G + g) and back.
Value groupHeads(OpBuilder &b, Location loc, Value query, int64_t numKvHeads);
Value ungroupHeads(OpBuilder &b, Location loc, Value grouped,
                   RankedTensorType type);

/// RoPE of x [..., S, H, D] at `positions`; with `inverse`, the rotation by
/// the opposite angles (its transpose, for the gradient).
Value rotate(OpBuilder &b, Location loc, Value x, Value positions, double theta,
             bool inverse);

/// Whether a fused loop nest of `work` multiply-adds (or weight values) is
/// a parallel loop: when worth a fork of the threads (kMinWorkForThreads),
/// or always (a GPU target: each parallel loop becomes a kernel).
struct ParallelPolicy {
  bool always = false;
  bool parallel(int64_t work) const;
  /// With `always`: GPU block ids for a parallel loop of `rank` <= 3 dims
  /// (the last dim x). Mapped, canonicalization keeps a loop's unit dims
  /// instead of folding a loop of one iteration into host code. Else null.
  ArrayAttr mapping(OpBuilder &b, unsigned rank) const;
};

/// The attention output [B.., S, Hkv, G, D] of a grouped query over keys and
/// values [B.., L, Hkv, D] (L >= offset + S), query row s seeing keys 0 ..
/// offset + s: one pass over the keys with an online softmax, on threads
/// when `policy` says so for `keyCapacity` keys at most (FlashAttention.cpp).
Value causalAttention(OpBuilder &b, Location loc, unsigned nb, Value query,
                      Value keys, Value values, Value offset, double scale,
                      int64_t keyCapacity, ParallelPolicy policy);
/// The attention output [1, Hkv, G, D] of one grouped query row [1, Hkv, G,
/// D] over all of keys and values [L, Hkv, D], unfused: scores, their max
/// and sum, probabilities, weighted values, each a linalg op of parallel
/// points (for a GPU's decode; DecodeAttention.cpp).
Value decodeAttention(OpBuilder &b, Location loc, Value query, Value keys,
                      Value values, double scale);
/// The gradients (dq [B.., S, Hkv, G, D], dk, dv [B.., S, Hkv, D]) of
/// causalAttention at offset 0 for the output's gradient dy (grouped like
/// the query): per (batch, kv head), row by row, the row's softmax
/// recomputed in one pass and a second pass over its keys for dP, dS and
/// the three gradients (FlashAttention.cpp).
std::tuple<Value, Value, Value> causalAttentionGrad(OpBuilder &b, Location loc,
                                                    unsigned nb, Value query,
                                                    Value keys, Value values,
                                                    Value dy, double scale,
                                                    ParallelPolicy policy);

/// Per row of z = logits [..., V] * scale (an f32 scalar; none: 1): the
/// max and sum(exp(z - max)), both f32 (the sum accumulated in f64). A
/// positive scale is 1 / temperature.
std::pair<Value, Value> softmaxStatistics(OpBuilder &b, Location loc,
                                          Value logits, Value scale = {});
/// rowWeight[...] * (softmax(z) - onehot(target)) per row of logits [..., V],
/// z = logits * scale (none: 1): the gradient of -log softmax(z)[target]
/// with respect to z, weighted per row by the f32 tensor rowWeight [...]
/// (cross-entropy's and token_logprobs' gradients). Of the logits' type.
Value weightedSoftmaxMinusOnehot(OpBuilder &b, Location loc, Value logits,
                                 Value targets, Value rowWeight,
                                 Value scale = {});
/// `x` (a float of any width) as f32, times `scale` when given.
Value scaledF32(OpBuilder &b, Location loc, Value x, Value scale);

/// lhs + rhs with fastmath reassoc, so that LLVM may vectorize a reduction
/// (partial sums in another order).
Value reassociableAdd(OpBuilder &b, Location loc, Value lhs, Value rhs);
/// The body of every contraction: yields acc + a * b for block arguments
/// (a, b, acc), a and b first converted to acc's type (weights may be
/// narrower). Reassociable and contractible, so that the tiled kernels sum in
/// vector lanes and the product and sum fuse into one FMA.
void multiplyAccumulate(OpBuilder &b, Location loc, ValueRange args);
/// The sum over every element of every tensor (of its square with
/// `squares`) as a 0-d f64 tensor. Long reductions, such as the norm of
/// millions of gradients, accumulate in f64: one f32 accumulator loses
/// precision once the sum is large against each term.
Value totalSumF64(OpBuilder &b, Location loc, ValueRange tensors, bool squares);
/// fn applied to the element of a 0-d tensor, as a 0-d tensor of
/// `resultType`.
Value mapScalar(OpBuilder &b, Location loc, Value scalar, Type resultType,
                function_ref<Value(OpBuilder &, Location, Value)> fn);
/// sum over all elements of `rows` (any rank) as a 0-d f32 tensor
/// (accumulated in f64).
Value totalSum(OpBuilder &b, Location loc, Value rows);

} // namespace mlir::llama::lowering

#endif // LLAMAC_PASSES_CONVERSION_LLAMATOLINALG_BUILDERS_H
