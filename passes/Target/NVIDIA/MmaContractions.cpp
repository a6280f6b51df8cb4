//===- MmaContractions.cpp - prefill's projections on tensor cores --------===//
//
// A projection out[m, n] += x[m, k] * w[n, k] over many rows (prefill: run-
// time M) with BF16 weights is a GEMM: its speed is tensor-core throughput,
// which the SIMT warps of llama-warp-contractions do not reach. Here each
// warp (a block of 32 threads) computes a 64 x 32 tile of the output as
// 4 x 4 mma.sync m16n8k16 tiles (BF16 operands, f32 accumulators in
// registers), stepping k by 16: each lane loads its fragments straight from
// global memory in the PTX ISA's layout for row.col operands (A: rows g and
// g + 8, columns 2t and 8 + 2t; B: the weight's row g, same columns; g =
// lane / 4, t = lane % 4). f32 activations are split into two BF16 parts,
// hi + lo, each multiplied (the weights are BF16 exactly): products as
// accurate as the CPU's f32 ones for twice the tensor-core work; PyTorch's
// BF16 GEMMs round the activations instead (~2^-9). The grid covers the tiles;
// a tile's rows past M read row M - 1 and store nothing. A linalg.fill of the
// output right before becomes the sums' start, as in llama-warp-contractions.
//
// Runs on buffers before the loops become kernels, ahead of
// llama-warp-contractions, on contractions whose N is a multiple of 32 and K
// of 16 (Llama's projections; a toy's odd widths stay warp reductions).
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/Target/NVIDIA/KernelOperands.h"
#include "passes/Target/NVIDIA/Warps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace mlir::llama {
#define GEN_PASS_DEF_LLAMAMMACONTRACTIONSPASS
#include "passes/Passes.h.inc"
} // namespace mlir::llama

using namespace mlir;
using mlir::llama::kMaxGemvRows;
using mlir::llama::rowsAligned;
using mlir::llama::takeFill;
using mlir::llama::warps::kWarpSize;

namespace {

// The mma.sync shape and a warp's tile of them.
constexpr int64_t kMmaM = 16, kMmaN = 8, kMmaK = 16;
constexpr int64_t kTilesM = 4, kTilesN = 4;
constexpr int64_t kWarpRows = kMmaM * kTilesM;    // 64
constexpr int64_t kWarpColumns = kMmaN * kTilesN; // 32

/// out [M, N] (+)= x [M, K] . w [N, K]^T, w BF16, x f32 or BF16, out f32.
struct Projection {
  linalg::GenericOp op;
  Value x, w, out;
};

/// Whether the body is out + ext(x) * ext(w), nothing else.
bool isMultiplyAccumulate(linalg::GenericOp op) {
  Block &body = op.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto add = yield.getValues()[0].getDefiningOp<arith::AddFOp>();
  if (!add)
    return false;
  Value outArg = body.getArgument(2);
  Value product = add.getLhs() == outArg   ? add.getRhs()
                  : add.getRhs() == outArg ? add.getLhs()
                                           : Value();
  auto mul = product ? product.getDefiningOp<arith::MulFOp>() : nullptr;
  if (!mul)
    return false;
  // Each factor an input argument, perhaps widened.
  auto source = [](Value v) {
    if (auto ext = v.getDefiningOp<arith::ExtFOp>())
      v = ext.getIn();
    return dyn_cast<BlockArgument>(v);
  };
  BlockArgument lhs = source(mul.getLhs()), rhs = source(mul.getRhs());
  if (!lhs || !rhs || lhs.getOwner() != &body || rhs.getOwner() != &body)
    return false;
  unsigned a = lhs.getArgNumber(), b = rhs.getArgNumber();
  // mul, add, the extensions: no other computation.
  size_t ops = body.getOperations().size() - 1; // but the yield
  size_t extensions = (mul.getLhs() != lhs) + (mul.getRhs() != rhs);
  return ((a == 0 && b == 1) || (a == 1 && b == 0)) && ops == 2 + extensions;
}

std::optional<Projection> matchProjection(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 || op.getNumLoops() != 3 ||
      op.getNumReductionLoops() != 1 || !isMultiplyAccumulate(op))
    return std::nullopt;
  MLIRContext *ctx = op.getContext();
  auto map = [&](ArrayRef<unsigned> dims) {
    return AffineMap::getMultiDimIdentityMap(3, ctx).getSubMap(
        SmallVector<unsigned>(dims));
  };
  auto maps = op.getIndexingMapsArray();
  if (maps[0] != map({0, 2}) || maps[1] != map({1, 2}) ||
      maps[2] != map({0, 1}) ||
      op.getIteratorTypesArray()[2] != utils::IteratorType::reduction)
    return std::nullopt;
  Projection p{op, op.getDpsInputs()[0], op.getDpsInputs()[1],
               op.getDpsInits()[0]};
  auto xType = cast<MemRefType>(p.x.getType());
  auto wType = cast<MemRefType>(p.w.getType());
  auto outType = cast<MemRefType>(p.out.getType());
  int64_t rows = xType.getDimSize(0);
  int64_t n = wType.getDimSize(0), k = wType.getDimSize(1);
  bool manyRows = ShapedType::isDynamic(rows) || rows > kMaxGemvRows;
  if (!manyRows || !wType.getElementType().isBF16() ||
      !(xType.getElementType().isF32() || xType.getElementType().isBF16()) ||
      !outType.getElementType().isF32() || ShapedType::isDynamic(n) ||
      ShapedType::isDynamic(k) || n % kWarpColumns != 0 || k % kMmaK != 0 ||
      xType.getDimSize(1) != k || !rowsAligned(p.x, 2) || !rowsAligned(p.w, 2))
    return std::nullopt;
  return p;
}

struct Builder {
  OpBuilder &b;
  Location loc;

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value add(Value l, Value r) { return arith::AddIOp::create(b, loc, l, r); }
  Value add(Value l, int64_t r) { return r ? add(l, index(r)) : l; }
  Value mul(Value l, int64_t r) {
    return arith::MulIOp::create(b, loc, l, index(r));
  }

  /// Elements [col, col + 1] of row `row` as i32 words of two BF16s: the
  /// elements themselves (BF16), or f32 ones split as hi + lo, hi their
  /// BF16 rounding and lo that of the remainder (exact to ~2^-17).
  SmallVector<Value> pair(Value buffer, Value row, Value col) {
    Type element = cast<MemRefType>(buffer.getType()).getElementType();
    int64_t bytes = 2 * element.getIntOrFloatBitWidth() / 8;
    auto pairOf = [&](Type t) { return VectorType::get({2}, t); };
    Value two = vector::LoadOp::create(
        b, loc, pairOf(element), buffer, ValueRange{row, col},
        /*nontemporal=*/false, llvm::MaybeAlign(bytes));
    auto word = [&](Value bf16Pair) -> Value {
      Value i32 = vector::BitCastOp::create(
          b, loc, VectorType::get({1}, b.getI32Type()), bf16Pair);
      return vector::ExtractOp::create(b, loc, i32, 0);
    };
    if (element.isBF16())
      return {word(two)};
    Value hi = arith::TruncFOp::create(b, loc, pairOf(b.getBF16Type()), two);
    Value rest = arith::SubFOp::create(
        b, loc, two, arith::ExtFOp::create(b, loc, pairOf(element), hi));
    Value lo = arith::TruncFOp::create(b, loc, pairOf(b.getBF16Type()), rest);
    return {word(hi), word(lo)};
  }

  /// d = a . b + c for one m16n8k16 tile (c, d: 4 f32 each).
  SmallVector<Value> mma(ValueRange a, ValueRange bf, ValueRange c) {
    Type f32 = b.getF32Type();
    auto resultType = LLVM::LLVMStructType::getLiteral(
        b.getContext(), SmallVector<Type>(4, f32));
    std::array<NVVM::MMATypes, 2> types = {NVVM::MMATypes::bf16,
                                           NVVM::MMATypes::bf16};
    std::array<NVVM::MMALayout, 2> layouts = {NVVM::MMALayout::row,
                                              NVVM::MMALayout::col};
    Value d = NVVM::MmaOp::create(b, loc, resultType, a, bf, c,
                                  ArrayRef<int64_t>{kMmaM, kMmaN, kMmaK},
                                  /*b1Op=*/std::nullopt,
                                  /*intOverflow=*/std::nullopt, types, layouts);
    SmallVector<Value> out;
    for (int64_t i = 0; i < 4; ++i)
      out.push_back(LLVM::ExtractValueOp::create(b, loc, d, i));
    return out;
  }
};

void rewrite(Projection &p) {
  linalg::GenericOp op = p.op;
  OpBuilder b(op);
  Location loc = op.getLoc();
  Builder build{b, loc};
  Value start = takeFill(op, p.out);
  Value rows = memref::DimOp::create(b, loc, p.x, 0);
  Value lastRow = arith::SubIOp::create(b, loc, rows, build.index(1));
  auto wType = cast<MemRefType>(p.w.getType());
  int64_t columns = wType.getDimSize(0), depth = wType.getDimSize(1);
  Value zero = build.index(0), one = build.index(1);
  Value rowTiles =
      arith::CeilDivUIOp::create(b, loc, rows, build.index(kWarpRows));

  scf::ParallelOp::create(
      b, loc, ValueRange{zero, zero},
      ValueRange{build.index(columns / kWarpColumns), rowTiles},
      ValueRange{one, one}, [&](OpBuilder &b, Location loc, ValueRange tile) {
        scf::ParallelOp::create(
            b, loc, ValueRange{zero}, ValueRange{build.index(kWarpSize)},
            ValueRange{one}, [&](OpBuilder &b, Location loc, ValueRange lane) {
              Builder at{b, loc};
              // g: the lane's row in a fragment, t: its column pair.
              Value g = arith::DivUIOp::create(b, loc, lane[0], at.index(4));
              Value t = arith::RemUIOp::create(b, loc, lane[0], at.index(4));
              Value pairColumn = at.mul(t, 2);
              Value firstRow = at.mul(tile[1], kWarpRows);
              Value firstColumn = at.mul(tile[0], kWarpColumns);
              // rowOf[i][h]: row g (+ 8 h) of m-tile i, unclamped.
              SmallVector<std::array<Value, 2>> rowOf(kTilesM);
              SmallVector<std::array<Value, 2>> loadRow(kTilesM);
              for (int64_t i = 0; i < kTilesM; ++i)
                for (int64_t h = 0; h < 2; ++h) {
                  rowOf[i][h] = at.add(at.add(firstRow, g), i * kMmaM + h * 8);
                  loadRow[i][h] =
                      arith::MinUIOp::create(b, loc, rowOf[i][h], lastRow);
                }
              SmallVector<Value> weightRow; // row g of n-tile j
              for (int64_t j = 0; j < kTilesN; ++j)
                weightRow.push_back(at.add(at.add(firstColumn, g), j * kMmaN));
              Value fzero = arith::ConstantFloatOp::create(
                  b, loc, b.getF32Type(), APFloat(0.0f));
              auto loop = scf::ForOp::create(
                  b, loc, zero, at.index(depth), at.index(kMmaK),
                  SmallVector<Value>(kTilesM * kTilesN * 4, fzero),
                  [&](OpBuilder &b, Location loc, Value k, ValueRange acc) {
                    Builder in{b, loc};
                    Value col = in.add(k, pairColumn);
                    Value col8 = in.add(col, 8);
                    // a[i][part]: m-tile i's fragment (f32 activations: hi
                    // and lo parts, each multiplied); w[j]: n-tile j's.
                    SmallVector<SmallVector<SmallVector<Value>>> a(kTilesM);
                    SmallVector<SmallVector<Value>> w(kTilesN);
                    for (int64_t i = 0; i < kTilesM; ++i) {
                      SmallVector<SmallVector<Value>> regs = {
                          in.pair(p.x, loadRow[i][0], col),
                          in.pair(p.x, loadRow[i][1], col),
                          in.pair(p.x, loadRow[i][0], col8),
                          in.pair(p.x, loadRow[i][1], col8)};
                      for (size_t part = 0; part < regs[0].size(); ++part)
                        a[i].push_back({regs[0][part], regs[1][part],
                                        regs[2][part], regs[3][part]});
                    }
                    for (int64_t j = 0; j < kTilesN; ++j)
                      w[j] = {in.pair(p.w, weightRow[j], col)[0],
                              in.pair(p.w, weightRow[j], col8)[0]};
                    SmallVector<Value> next;
                    for (int64_t i = 0; i < kTilesM; ++i)
                      for (int64_t j = 0; j < kTilesN; ++j) {
                        SmallVector<Value> sum(
                            acc.slice((i * kTilesN + j) * 4, 4));
                        for (ValueRange part : a[i])
                          sum = in.mma(part, w[j], sum);
                        llvm::append_range(next, sum);
                      }
                    scf::YieldOp::create(b, loc, next);
                  });
              // Lane (g, t) holds, per tile, rows g and g + 8 at columns
              // 2t and 2t + 1.
              for (int64_t i = 0; i < kTilesM; ++i)
                for (int64_t j = 0; j < kTilesN; ++j)
                  for (int64_t h = 0; h < 2; ++h) {
                    Value row = rowOf[i][h];
                    Value inRange = arith::CmpIOp::create(
                        b, loc, arith::CmpIPredicate::ult, row, rows);
                    scf::IfOp::create(
                        b, loc, inRange, [&](OpBuilder &b, Location loc) {
                          Builder st{b, loc};
                          for (int64_t e = 0; e < 2; ++e) {
                            Value col = st.add(st.add(firstColumn, pairColumn),
                                               j * kMmaN + e);
                            Value sum = loop.getResult((i * kTilesN + j) * 4 +
                                                       2 * h + e);
                            Value base =
                                start ? start
                                      : memref::LoadOp::create(
                                            b, loc, p.out, ValueRange{row, col})
                                            .getResult();
                            memref::StoreOp::create(
                                b, loc,
                                arith::AddFOp::create(b, loc, base, sum), p.out,
                                ValueRange{row, col});
                          }
                          scf::YieldOp::create(b, loc);
                        });
                  }
            });
      });
  op->erase();
}

struct MmaContractionsPass
    : mlir::llama::impl::LlamaMmaContractionsPassBase<MmaContractionsPass> {
  void runOnOperation() override {
    for (linalg::GenericOp op : mlir::llama::hostGenerics(getOperation()))
      if (std::optional<Projection> p = matchProjection(op))
        rewrite(*p);
  }
};

} // namespace
