//===- Sampler.h - choosing the next token ----------------------*- C++ -*-===//
#ifndef LLAMAC_RUNTIME_SAMPLER_H
#define LLAMAC_RUNTIME_SAMPLER_H

#include <cstdint>
#include <vector>

namespace llamart {

struct SamplerOptions {
  float temperature = 0.0f; // 0: greedy (argmax)
  int topK = 0;             // 0: no limit
  float topP = 1.0f;        // 1: no nucleus cut
  uint64_t seed = 0;
};

/// Greedy, or temperature sampling restricted to the top-k tokens and then to
/// the smallest set whose probability reaches top-p. The same seed gives the
/// same tokens.
class Sampler {
public:
  explicit Sampler(const SamplerOptions &options);
  int32_t sample(const float *logits, int64_t vocabSize);

private:
  float uniform(); // [0, 1)

  SamplerOptions options;
  uint64_t state;
  std::vector<std::pair<float, int32_t>> candidates;
};

} // namespace llamart

#endif // LLAMAC_RUNTIME_SAMPLER_H
