//===- PPO.cpp - PPO's rewards, advantages and returns --------------------===//

#include "runtime/PPO.h"

#include "runtime/Error.h"

#include <cmath>

namespace llamart {

std::vector<float> ResponseSpans::mask() const {
  std::vector<float> mask(size_t(rows() * seq), 0.0f);
  for (int64_t r = 0; r < rows(); ++r)
    forEach(r, [&](int64_t i) { mask[i] = 1.0f; });
  return mask;
}

KLEstimator parseKLEstimator(const std::string &name) {
  if (name == "k1")
    return KLEstimator::K1;
  if (name == "k3")
    return KLEstimator::K3;
  throw RuntimeError("unknown KL estimator '" + name + "' (k1 or k3)");
}

std::vector<float> klPenalty(const std::vector<float> &logprobs,
                             const std::vector<float> &refLogprobs,
                             const ResponseSpans &spans,
                             KLEstimator estimator) {
  std::vector<float> kl(logprobs.size(), 0.0f);
  for (int64_t r = 0; r < spans.rows(); ++r)
    spans.forEach(r, [&](int64_t i) {
      double d = double(logprobs[i]) - double(refLogprobs[i]);
      kl[i] = float(estimator == KLEstimator::K1 ? d : std::expm1(-d) + d);
    });
  return kl;
}

std::vector<float> tokenRewards(const std::vector<float> &kl,
                                const std::vector<float> &scores, double beta,
                                const ResponseSpans &spans) {
  std::vector<float> rewards(kl.size(), 0.0f);
  for (int64_t r = 0; r < spans.rows(); ++r) {
    spans.forEach(r, [&](int64_t i) { rewards[i] = float(-beta * kl[i]); });
    int64_t last = r * spans.seq + spans.first[r] + spans.length[r] - 1;
    rewards[last] = float(double(rewards[last]) + scores[r]);
  }
  return rewards;
}

void generalizedAdvantages(const std::vector<float> &rewards,
                           const std::vector<float> &values,
                           const ResponseSpans &spans, double gamma,
                           double lambda, std::vector<float> &advantages,
                           std::vector<float> &returns) {
  advantages.assign(rewards.size(), 0.0f);
  returns.assign(rewards.size(), 0.0f);
  for (int64_t r = 0; r < spans.rows(); ++r) {
    double next = 0, running = 0; // V_{t+1} and A_{t+1}
    int64_t begin = r * spans.seq + spans.first[r];
    for (int64_t i = begin + spans.length[r] - 1; i >= begin; --i) {
      double delta = rewards[i] + gamma * next - values[i];
      running = delta + gamma * lambda * running;
      advantages[i] = float(running);
      returns[i] = float(running + values[i]);
      next = values[i];
    }
  }
}

namespace {

/// (x - mean) / sqrt(var + 1e-8), var unbiased, over the values `each`
/// visits (a callback taking a float &); adds the mean back unless
/// `shiftMean`.
template <typename Each> void whitenVisited(Each each, bool shiftMean) {
  double sum = 0, count = 0;
  each([&](float &x) { sum += x, count += 1; });
  if (count == 0)
    return;
  double mean = sum / count, squares = 0;
  each([&](float &x) { squares += (x - mean) * (x - mean); });
  double variance = count > 1 ? squares / (count - 1) : 0.0;
  double scale = 1.0 / std::sqrt(variance + 1e-8);
  each([&](float &x) {
    x = float((x - mean) * scale + (shiftMean ? 0.0 : mean));
  });
}

} // namespace

void whiten(std::vector<float> &x, const ResponseSpans &spans, bool shiftMean) {
  whitenVisited(
      [&](auto fn) {
        for (int64_t r = 0; r < spans.rows(); ++r)
          spans.forEach(r, [&](int64_t i) { fn(x[i]); });
      },
      shiftMean);
}

void whitenAll(std::vector<float> &x) {
  whitenVisited(
      [&](auto fn) {
        for (float &value : x)
          fn(value);
      },
      /*shiftMean=*/true);
}

} // namespace llamart
