//===- Preferences.cpp - preference pairs for a reward model --------------===//

#include "runtime/Preferences.h"

#include "runtime/Error.h"
#include "runtime/Json.h"
#include "runtime/Tokenizer.h"
#include "runtime/TrainData.h"

#include <cmath>

namespace llamart {

const char *ratingName(Rating rating) {
  switch (rating) {
  case Rating::SignificantlyBetter:
    return "significantly better";
  case Rating::Better:
    return "better";
  case Rating::SlightlyBetter:
    return "slightly better";
  case Rating::Negligible:
    return "negligibly better";
  }
  return "?";
}

MarginSet parseMarginSet(const std::string &text) {
  if (text == "none")
    return MarginSet::None;
  if (text == "small")
    return MarginSet::Small;
  if (text == "large")
    return MarginSet::Large;
  throw RuntimeError("--margin must be none, small or large, got '" + text +
                     "'");
}

float margin(MarginSet set, Rating rating) {
  // Llama 2, Table 27, strongest rating first.
  static const float small[kNumRatings] = {1.0f, 2.0f / 3.0f, 1.0f / 3.0f, 0};
  static const float large[kNumRatings] = {3.0f, 2.0f, 1.0f, 0.0f};
  int level = int(rating);
  switch (set) {
  case MarginSet::None:
    return 0.0f;
  case MarginSet::Small:
    return small[level];
  case MarginSet::Large:
    return large[level];
  }
  return 0.0f;
}

ScoredSequence scoredSequence(const std::vector<int32_t> &prompt,
                              const std::vector<int32_t> &response,
                              int64_t seq) {
  ScoredSequence sequence;
  sequence.tokens = prompt;
  sequence.tokens.insert(sequence.tokens.end(), response.begin(),
                         response.end());
  if (int64_t(sequence.tokens.size()) > seq) {
    sequence.tokens.resize(seq);
    sequence.cut = true;
  }
  return sequence;
}

ScoredSequence scoredSequence(const Tokenizer &tokenizer,
                              const std::string &prompt,
                              const std::string &response, int64_t seq,
                              bool eos) {
  EncodedSample sample = encodeSample(tokenizer, prompt, response, eos);
  return scoredSequence(sample.prompt, sample.answer, seq);
}

namespace {

Rating parseRating(const std::string &text, const std::string &where) {
  for (int level = 0; level < kNumRatings; ++level)
    if (text == ratingName(Rating(level)))
      return Rating(level);
  if (text == "unsure")
    return Rating::Negligible;
  throw RuntimeError(where + ": unknown rating '" + text +
                     "' (expected significantly better, better, slightly "
                     "better, negligibly better or unsure)");
}

} // namespace

std::vector<PreferencePair> loadPreferences(const std::string &path,
                                            const Tokenizer &tokenizer,
                                            int64_t seq) {
  std::vector<PreferencePair> pairs;
  forEachJsonLine(
      path, "preference data",
      [&](const JsonValue &record, const std::string &where) {
        auto text = [&](const char *key) -> const std::string & {
          const JsonValue *value =
              record.isObject() ? record.find(key) : nullptr;
          if (!value || !value->isString())
            throw RuntimeError(where +
                               ": expected {\"prompt\", \"chosen\", "
                               "\"rejected\", \"rating\"} strings, no \"" +
                               key + "\"");
          return value->string;
        };
        PreferencePair pair;
        pair.rating = parseRating(text("rating"), where);
        for (auto [key, sequence] :
             {std::pair<const char *, ScoredSequence *>{"chosen", &pair.chosen},
              {"rejected", &pair.rejected}}) {
          if (text(key).find_first_not_of(" \t\r\n") == std::string::npos)
            throw RuntimeError(where + ": the \"" + key +
                               "\" response is empty");
          *sequence = scoredSequence(tokenizer, text("prompt"), text(key), seq);
        }
        pairs.push_back(std::move(pair));
      });
  if (pairs.empty())
    throw RuntimeError("'" + path + "' holds no preference pairs");
  return pairs;
}

void ScoreRows::put(int64_t row, const ScoredSequence &sequence) {
  std::fill_n(tokens.begin() + row * seq, seq, 0);
  std::copy(sequence.tokens.begin(), sequence.tokens.end(),
            tokens.begin() + row * seq);
  ends[row] = int32_t(sequence.tokens.size()) - 1;
}

void PairAccuracy::add(Rating rating, bool right) {
  ++total[int(rating)];
  correct[int(rating)] += right;
}

double PairAccuracy::overall() const {
  int64_t right = 0, all = 0;
  for (int level = 0; level < kNumRatings; ++level) {
    right += correct[level];
    all += total[level];
  }
  return all ? double(right) / double(all) : std::nan("");
}

double PairAccuracy::of(Rating rating) const {
  int level = int(rating);
  return total[level] ? double(correct[level]) / double(total[level])
                      : std::nan("");
}

} // namespace llamart
