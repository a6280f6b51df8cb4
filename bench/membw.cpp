//===- membw.cpp - single-thread memory read bandwidth --------------------===//
//
// Sums a buffer much larger than the caches, several times, and prints the
// best read bandwidth in GB/s: the roofline for weight-streaming decode.
//
//===----------------------------------------------------------------------===//

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char **argv) {
  size_t megabytes = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 1024;
  size_t count = megabytes * (1u << 20) / sizeof(uint64_t);
  std::vector<uint64_t> data(count, 1);
  double best = 0;
  uint64_t sink = 0;
  for (int repeat = 0; repeat < 5; ++repeat) {
    auto start = std::chrono::steady_clock::now();
    // Integer xor has no rounding, so the compiler vectorizes it fully and
    // the loop runs at the speed of the loads.
    uint64_t acc = 0;
    for (size_t i = 0; i < count; ++i)
      acc ^= data[i];
    sink += acc;
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    double gbps = count * sizeof(uint64_t) / seconds / 1e9;
    best = gbps > best ? gbps : best;
  }
  std::printf("%.2f\n", best);
  return sink == 1 ? 1 : 0; // keeps the sums alive
}
