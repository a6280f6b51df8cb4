//===- Schedule.h - the Llama 2 learning-rate schedule ----------*- C++ -*-===//
#ifndef LLAMAC_RUNTIME_SCHEDULE_H
#define LLAMAC_RUNTIME_SCHEDULE_H

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace llamart {

/// The learning rate of optimizer step `step` (0-based) of `total`: linear
/// warmup over `warmup` steps, then cosine decay to 10 % of `peak`.
inline double learningRate(int64_t step, int64_t total, int64_t warmup,
                           double peak) {
  if (step < warmup)
    return peak * double(step + 1) / double(warmup);
  double progress =
      double(step - warmup) / double(std::max<int64_t>(1, total - warmup));
  return 0.1 * peak + 0.5 * (0.9 * peak) * (1.0 + std::cos(M_PI * progress));
}

} // namespace llamart

#endif // LLAMAC_RUNTIME_SCHEDULE_H
