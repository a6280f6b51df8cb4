//===- Sampler.cpp - choosing the next token ------------------------------===//

#include "runtime/Sampler.h"

#include <algorithm>
#include <cmath>

namespace llamart {

Sampler::Sampler(const SamplerOptions &options)
    : options(options), state(options.seed * 0x9E3779B97F4A7C15ull + 1) {}

float Sampler::uniform() {
  // xorshift64*: small, fast and identical on every platform.
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return float((state * 0x2545F4914F6CDD1Dull) >> 40) / float(1 << 24);
}

int32_t Sampler::sample(const float *logits, int64_t vocabSize) {
  if (options.temperature <= 0.0f)
    return int32_t(std::max_element(logits, logits + vocabSize) - logits);

  candidates.clear();
  for (int64_t i = 0; i < vocabSize; ++i)
    candidates.push_back({logits[i] / options.temperature, int32_t(i)});
  auto byLogit = [](const auto &a, const auto &b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  size_t keep = candidates.size();
  if (options.topK > 0 && size_t(options.topK) < keep) {
    keep = size_t(options.topK);
    std::partial_sort(candidates.begin(), candidates.begin() + keep,
                      candidates.end(), byLogit);
  } else {
    std::sort(candidates.begin(), candidates.end(), byLogit);
  }
  candidates.resize(keep);

  // Softmax over the kept tokens, then the nucleus cut.
  float maxLogit = candidates.front().first, total = 0.0f;
  for (auto &candidate : candidates)
    total += candidate.first = std::exp(candidate.first - maxLogit);
  float cumulative = 0.0f;
  size_t nucleus = candidates.size();
  for (size_t i = 0; i < candidates.size(); ++i) {
    cumulative += candidates[i].first / total;
    if (cumulative >= options.topP) {
      nucleus = i + 1;
      break;
    }
  }
  float mass = 0.0f;
  for (size_t i = 0; i < nucleus; ++i)
    mass += candidates[i].first;
  float target = uniform() * mass;
  for (size_t i = 0; i < nucleus; ++i) {
    target -= candidates[i].first;
    if (target < 0.0f)
      return candidates[i].second;
  }
  return candidates[nucleus - 1].second;
}

} // namespace llamart
