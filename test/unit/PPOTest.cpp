//===- PPOTest.cpp - PPO's rewards, advantages and whitening --------------===//
//
// Hand-computed cases; test/e2e/check_ppo.py checks the same functions
// against a float64 restatement of TRL on a real rollout.
//
//===----------------------------------------------------------------------===//

#include "runtime/PPO.h"
#include "runtime/Error.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace llamart;

namespace {

/// Two rows of 5 positions: row 0 responds at positions 1..3, row 1 (a
/// response that is only EOS) at position 0.
ResponseSpans twoRows() {
  ResponseSpans spans;
  spans.seq = 5;
  spans.first = {1, 0};
  spans.length = {3, 1};
  return spans;
}

} // namespace

TEST(PPO, MaskCoversExactlyTheResponses) {
  std::vector<float> expected = {0, 1, 1, 1, 0, 1, 0, 0, 0, 0};
  EXPECT_EQ(twoRows().mask(), expected);
}

TEST(PPO, KLEstimatorsOnResponsesOnly) {
  ResponseSpans spans = twoRows();
  std::vector<float> lp(10, -1.0f), ref(10, -1.5f);
  lp[2] = -2.0f; // d = -0.5 there, 0.5 elsewhere
  std::vector<float> k1 = klPenalty(lp, ref, spans, KLEstimator::K1);
  std::vector<float> k3 = klPenalty(lp, ref, spans, KLEstimator::K3);
  EXPECT_FLOAT_EQ(k1[1], 0.5f);
  EXPECT_FLOAT_EQ(k1[2], -0.5f); // k1 can be negative
  EXPECT_FLOAT_EQ(k3[1], float(std::exp(-0.5) - 1 + 0.5));
  EXPECT_FLOAT_EQ(k3[2], float(std::exp(0.5) - 1 - 0.5)); // k3 >= 0
  for (int i : {0, 4, 6, 9})
    EXPECT_EQ(k1[i], 0.0f) << i;
  EXPECT_THROW(parseKLEstimator("k2"), RuntimeError);
}

TEST(PPO, ScoreLandsOnTheLastResponseToken) {
  ResponseSpans spans = twoRows();
  std::vector<float> kl(10, 0.0f);
  kl[1] = 1.0f, kl[3] = 2.0f, kl[5] = 4.0f, kl[4] = 8.0f; // 4: off-span
  std::vector<float> rewards = tokenRewards(kl, {10.0f, 20.0f}, 0.5, spans);
  std::vector<float> expected = {0, -0.5f, 0, 9.0f, 0, 18.0f, 0, 0, 0, 0};
  EXPECT_EQ(rewards, expected);
}

TEST(PPO, GeneralizedAdvantagesRunBackwardsOverEachResponse) {
  ResponseSpans spans = twoRows();
  std::vector<float> rewards = {0, 0, 0, 1, 0, 2, 0, 0, 0, 0};
  std::vector<float> values = {9, 0.5f, 0.25f, 0.125f, 9, 1, 9, 9, 9, 9};
  std::vector<float> advantages, returns;
  generalizedAdvantages(rewards, values, spans, 1.0, 0.5, advantages, returns);
  // delta_3 = 1 - 0.125; delta_2 = 0.125 - 0.25; delta_1 = 0.25 - 0.5.
  EXPECT_FLOAT_EQ(advantages[3], 0.875f);
  EXPECT_FLOAT_EQ(advantages[2], -0.125f + 0.5f * 0.875f);
  EXPECT_FLOAT_EQ(advantages[1], -0.25f + 0.5f * 0.3125f);
  EXPECT_FLOAT_EQ(returns[1], advantages[1] + 0.5f);
  EXPECT_FLOAT_EQ(advantages[5], 1.0f); // 2 - V, nothing after it
  for (int i : {0, 4, 6})
    EXPECT_EQ(advantages[i], 0.0f) << i;
  // lambda = 1: the returns are the rewards still to come.
  generalizedAdvantages(rewards, values, spans, 1.0, 1.0, advantages, returns);
  for (int i : {1, 2, 3})
    EXPECT_FLOAT_EQ(returns[i], 1.0f) << i;
}

TEST(PPO, WhiteningUsesTheResponsesWithBesselsCorrection) {
  ResponseSpans spans = twoRows();
  std::vector<float> x = {7, 1, 2, 3, 7, 6, 7, 7, 7, 7};
  whiten(x, spans, /*shiftMean=*/true);
  // Over {1, 2, 3, 6}: mean 3, unbiased variance 14 / 3.
  float scale = float(1.0 / std::sqrt(14.0 / 3.0 + 1e-8));
  EXPECT_FLOAT_EQ(x[1], -2 * scale);
  EXPECT_FLOAT_EQ(x[5], 3 * scale);
  EXPECT_EQ(x[0], 7.0f); // off the responses: untouched
  std::vector<float> scores = {1, 2, 3};
  whitenAll(scores);
  EXPECT_NEAR(scores[0], -1.0f, 1e-6f);
  EXPECT_NEAR(scores[2], 1.0f, 1e-6f);
}
