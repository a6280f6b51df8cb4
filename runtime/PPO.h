//===- PPO.h - PPO's rewards, advantages and returns ------------*- C++ -*-===//
//
// What PPO computes between rollout and update, where no gradient flows:
// the per-token KL penalty to the reference policy, the rewards (the
// reward model's score on each response's last token), GAE advantages and
// returns, and whitening. The formulas are TRL's PPOTrainer (1.12) with the
// score on the last response token (OpenRLHF, DeepSpeed-Chat) rather than on
// the slot after it; test/e2e/check_ppo.py restates them in float64.
//
// Layout: a rollout is `rows` sequences of [seq] positions; position t
// stands for the prediction of token t + 1 (its log-probability, its value:
// the state before it). Row r's response occupies positions
// [first[r], first[r] + length[r]).
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_RUNTIME_PPO_H
#define LLAMAC_RUNTIME_PPO_H

#include <cstdint>
#include <string>
#include <vector>

namespace llamart {

/// Where each row's response lies among its positions.
struct ResponseSpans {
  int64_t seq = 0;                    // positions per row
  std::vector<int64_t> first, length; // per row; length >= 1

  int64_t rows() const { return int64_t(first.size()); }
  /// [rows, seq]: 1 on response positions, 0 elsewhere.
  std::vector<float> mask() const;
  /// Calls fn(index) for each response position of row r, in order.
  template <typename Fn> void forEach(int64_t r, Fn fn) const {
    for (int64_t t = first[r]; t < first[r] + length[r]; ++t)
      fn(r * seq + t);
  }
};

/// How the per-token KL to the reference is estimated from the sampled
/// tokens' log-ratio d = logprob - ref_logprob (Schulman's estimators):
/// k1 = d (unbiased, can be negative), k3 = exp(-d) - 1 + d (>= 0).
enum class KLEstimator { K1, K3 };
KLEstimator parseKLEstimator(const std::string &name);

/// kl [rows, seq]: the estimator on response positions, 0 elsewhere.
std::vector<float> klPenalty(const std::vector<float> &logprobs,
                             const std::vector<float> &refLogprobs,
                             const ResponseSpans &spans, KLEstimator estimator);

/// rewards [rows, seq]: -beta * kl on response positions, plus each row's
/// score on its last response token.
std::vector<float> tokenRewards(const std::vector<float> &kl,
                                const std::vector<float> &scores, double beta,
                                const ResponseSpans &spans);

/// Generalized advantage estimation over each response, backwards from its
/// last token (whose next value is 0):
///   delta_t = r_t + gamma * V_{t+1} - V_t,  A_t = delta_t + gamma * lambda *
///   A_{t+1},  return_t = A_t + V_t.
/// Both [rows, seq], 0 off the responses.
void generalizedAdvantages(const std::vector<float> &rewards,
                           const std::vector<float> &values,
                           const ResponseSpans &spans, double gamma,
                           double lambda, std::vector<float> &advantages,
                           std::vector<float> &returns);

/// TRL's masked_whiten over the response positions: (x - mean) /
/// sqrt(var + 1e-8) with the unbiased variance, the mean added back when
/// `shiftMean` is false. Positions off the responses are left alone.
void whiten(std::vector<float> &x, const ResponseSpans &spans, bool shiftMean);

/// (x - mean) / sqrt(var + 1e-8) over all of `x` (unbiased variance; none
/// of one value): the Llama 2 paper's WHITEN of the reward-model scores.
void whitenAll(std::vector<float> &x);

} // namespace llamart

#endif // LLAMAC_RUNTIME_PPO_H
