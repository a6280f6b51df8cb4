//===- Preferences.h - preference pairs for a reward model ------*- C++ -*-===//
//
// Llama 2's preference data: a prompt, a chosen and a rejected response, and
// how much better the chosen one is on the paper's four-level scale, which
// sets the ranking loss's margin (Table 27). Each response becomes one
// sequence the reward model scores, BOS + prompt + "\n" + response + EOS as
// in SFT, right-padded to the artifact's length; the score is read at the
// sequence's last token, whose index travels with it (so which token pads a
// row never matters: nothing after that index reaches it).
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_RUNTIME_PREFERENCES_H
#define LLAMAC_RUNTIME_PREFERENCES_H

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace llamart {

class Tokenizer;

/// How much better the chosen response is, strongest first.
enum class Rating { SignificantlyBetter, Better, SlightlyBetter, Negligible };
constexpr int kNumRatings = 4;
/// "significantly better", "better", "slightly better", "negligibly better".
const char *ratingName(Rating rating);

/// Table 27's margin sets: none (all 0), small (1, 2/3, 1/3, 0), large
/// (3, 2, 1, 0).
enum class MarginSet { None, Small, Large };
/// "none", "small" or "large"; throws otherwise.
MarginSet parseMarginSet(const std::string &text);
float margin(MarginSet set, Rating rating);

/// One sequence to score: its tokens (at most the artifact's length) and
/// whether it was cut there. A cut sequence, like a generated response that
/// never produced EOS, is scored at its last token.
struct ScoredSequence {
  std::vector<int32_t> tokens;
  bool cut = false;
};

/// `prompt` then `response` (token ids), cut to `seq` tokens.
ScoredSequence scoredSequence(const std::vector<int32_t> &prompt,
                              const std::vector<int32_t> &response,
                              int64_t seq);
/// BOS + prompt + "\n" + response (+ EOS unless `eos` is false), cut to
/// `seq` tokens.
ScoredSequence scoredSequence(const Tokenizer &tokenizer,
                              const std::string &prompt,
                              const std::string &response, int64_t seq,
                              bool eos = true);

struct PreferencePair {
  ScoredSequence chosen, rejected;
  Rating rating = Rating::Negligible;
};

/// JSONL lines {"prompt", "chosen", "rejected", "rating"}, rating one of
/// ratingName's four names or "unsure" (= negligibly better). Throws,
/// naming the line, on a malformed record, an empty response or an unknown
/// rating.
std::vector<PreferencePair> loadPreferences(const std::string &path,
                                            const Tokenizer &tokenizer,
                                            int64_t seq);

/// Rows as the reward entry points take them: tokens [rows, seq] right-padded
/// with id 0, and each row's last-token index.
struct ScoreRows {
  int64_t seq = 0;
  std::vector<int32_t> tokens; // [rows, seq]
  std::vector<int32_t> ends;   // [rows]

  ScoreRows(int64_t rows, int64_t seq)
      : seq(seq), tokens(rows * seq, 0), ends(rows, 0) {}
  void put(int64_t row, const ScoredSequence &sequence);
};

/// Held-out accuracy: the share of pairs whose chosen response scores
/// higher, overall and per rating.
struct PairAccuracy {
  std::array<int64_t, kNumRatings> correct{}, total{};
  void add(Rating rating, bool right);
  double overall() const;
  double of(Rating rating) const; // NaN without pairs of that rating
};

} // namespace llamart

#endif // LLAMAC_RUNTIME_PREFERENCES_H
