//===- fmapeak.cpp - single-thread f32 FMA throughput ---------------------===//
//
// Runs independent chains of vector multiply-adds on the widest vectors this
// build targets (-march=native: the machine it runs on) and prints the best
// GFLOP/s (2 per lane per FMA): the roofline for prefill and the training
// step's matmuls.
//
//===----------------------------------------------------------------------===//

#include <chrono>
#include <cstdio>

#if defined(__AVX512F__)
constexpr int kLanes = 16;
constexpr int kChains = 16; // of 32 vector registers
#elif defined(__AVX__)
constexpr int kLanes = 8;
constexpr int kChains = 10; // of 16
#else
constexpr int kLanes = 4;
constexpr int kChains = 8;
#endif

typedef float Vector __attribute__((vector_size(kLanes * sizeof(float))));

int main() {
  Vector acc[kChains];
  for (int c = 0; c < kChains; ++c)
    acc[c] = Vector{} + (1.0f + float(c));
  // Volatile: the compiler may not fold the chains away.
  volatile float scale = 0.999999f, shift = 1e-7f;
  Vector m = Vector{} + scale, b = Vector{} + shift;
  constexpr long kSteps = 1 << 24;
  double best = 0;
  for (int repeat = 0; repeat < 5; ++repeat) {
    auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < kSteps; ++i)
      for (int c = 0; c < kChains; ++c)
        acc[c] = acc[c] * m + b; // one FMA (-ffp-contract=fast)
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    double gflops = 2.0 * kLanes * kChains * kSteps / seconds / 1e9;
    best = gflops > best ? gflops : best;
  }
  float sink = 0;
  for (int c = 0; c < kChains; ++c)
    for (int l = 0; l < kLanes; ++l)
      sink += acc[c][l];
  std::printf("%.1f\n", best);
  return sink == 0.5f ? 1 : 0; // keeps the chains alive
}
