//===- Warps.h - kernels with a warp per output point -----------*- C++ -*-===//
//
// llama-warp-contractions and llama-flash-decoding give each output point
// (a row's reduction, an attention head's key range) to one warp: a
// parallel loop over blocks of warps, the warps past the last point idle;
// lanes that read a row's contiguous elements in vectors of up to 16 bytes;
// and butterfly shuffles that combine a value over the warp's lanes.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_PASSES_TARGET_NVIDIA_WARPS_H
#define LLAMAC_PASSES_TARGET_NVIDIA_WARPS_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace mlir::llama::warps {

/// A warp's threads on NVIDIA GPUs. The generators take it as an option:
/// with 1 lane a kernel is plain sequential code, which the CPU runs
/// (test/e2e/nvidia-form.test checks their arithmetic so).
constexpr int64_t kWarpSize = 32;
constexpr int64_t kWarpsPerBlock = 4;
/// The widest load a lane issues (ld.global.v4.b32).
constexpr int64_t kMaxLoadBytes = 16;

/// `width` elements of `buffer` at `indices` (the last one k) on, as
/// scalars.
inline SmallVector<Value> loadRow(OpBuilder &b, Location loc, Value buffer,
                                  ValueRange indices, int64_t width) {
  if (width == 1)
    return {memref::LoadOp::create(b, loc, buffer, indices)};
  Type element = cast<MemRefType>(buffer.getType()).getElementType();
  auto vectorType = VectorType::get({width}, element);
  // Rows are aligned to `width` elements; more than 16 bytes (f32
  // activations next to bf16 weights) are several 16-byte loads.
  int64_t bytes = std::min<int64_t>(width * element.getIntOrFloatBitWidth() / 8,
                                    kMaxLoadBytes);
  Value vector =
      vector::LoadOp::create(b, loc, vectorType, buffer, indices,
                             /*nontemporal=*/false, llvm::MaybeAlign(bytes));
  SmallVector<Value> scalars;
  for (int64_t i = 0; i < width; ++i)
    scalars.push_back(vector::ExtractOp::create(b, loc, vector, i));
  return scalars;
}

/// `values` (`width` of them) stored at `indices` (the last one k) on.
inline void storeRow(OpBuilder &b, Location loc, Value buffer,
                     ValueRange indices, ArrayRef<Value> values) {
  if (values.size() == 1) {
    memref::StoreOp::create(b, loc, values[0], buffer, indices);
    return;
  }
  auto vectorType = VectorType::get({static_cast<int64_t>(values.size())},
                                    values[0].getType());
  Value vector = vector::FromElementsOp::create(b, loc, vectorType, values);
  int64_t bytes = std::min<int64_t>(
      values.size() * vectorType.getElementTypeBitWidth() / 8, kMaxLoadBytes);
  vector::StoreOp::create(b, loc, vector, buffer, indices,
                          /*nontemporal=*/false, llvm::MaybeAlign(bytes));
}

/// `body` where `condition` holds (in an scf.if), everywhere when it is
/// null.
inline void guarded(OpBuilder &b, Location loc, Value condition,
                    function_ref<void(OpBuilder &, Location)> body) {
  if (!condition) {
    body(b, loc);
    return;
  }
  scf::IfOp::create(b, loc, condition, [&](OpBuilder &b, Location loc) {
    body(b, loc);
    scf::YieldOp::create(b, loc);
  });
}

using Combiner = function_ref<Value(OpBuilder &, Location, Value, Value)>;

/// `value` combined over a warp's `lanes` lanes with `combine` (xor
/// shuffles: five for 32), the result in every lane.
inline Value allLanes(OpBuilder &b, Location loc, Value value, int64_t lanes,
                      Combiner combine) {
  Value width = arith::ConstantIntOp::create(b, loc, lanes, 32);
  for (int64_t offset = lanes / 2; offset > 0; offset /= 2) {
    Value distance = arith::ConstantIntOp::create(b, loc, offset, 32);
    Value other = gpu::ShuffleOp::create(b, loc, value, distance, width,
                                         gpu::ShuffleMode::XOR)
                      .getShuffleResult();
    value = combine(b, loc, value, other);
  }
  return value;
}

/// A parallel loop over blocks of kWarpsPerBlock warps of `lanes` threads
/// holding one over their (lane, warp) threads (gpu-map-parallel-loops: the
/// grid, and x = lane): `body(lane, point)` runs in every lane of the warp
/// of each point below `points`. The bound is per warp, so the shuffles see
/// all lanes.
inline void warpPerPoint(
    OpBuilder &b, Location loc, Value points, int64_t lanes,
    function_ref<void(OpBuilder &, Location, Value lane, Value point)> body) {
  auto index = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  Value zero = index(0), one = index(1), warps = index(kWarpsPerBlock);
  Value blocks = arith::CeilDivUIOp::create(b, loc, points, warps);
  scf::ParallelOp::create(
      b, loc, ValueRange{zero}, ValueRange{blocks}, ValueRange{one},
      [&](OpBuilder &b, Location loc, ValueRange block) {
        scf::ParallelOp::create(
            b, loc, ValueRange{zero, zero}, ValueRange{index(lanes), warps},
            ValueRange{one, one},
            [&](OpBuilder &b, Location loc, ValueRange thread) {
              Value lane = thread[0], warp = thread[1];
              Value point = arith::AddIOp::create(
                  b, loc, arith::MulIOp::create(b, loc, block[0], warps), warp);
              Value inRange = arith::CmpIOp::create(
                  b, loc, arith::CmpIPredicate::ult, point, points);
              scf::IfOp::create(b, loc, inRange,
                                [&](OpBuilder &b, Location loc) {
                                  body(b, loc, lane, point);
                                  scf::YieldOp::create(b, loc);
                                });
            });
      });
}

} // namespace mlir::llama::warps

#endif // LLAMAC_PASSES_TARGET_NVIDIA_WARPS_H
