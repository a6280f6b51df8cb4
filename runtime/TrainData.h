//===- TrainData.h - token blocks for training ------------------*- C++ -*-===//
#ifndef LLAMAC_RUNTIME_TRAINDATA_H
#define LLAMAC_RUNTIME_TRAINDATA_H

#include <cstdint>
#include <string>
#include <vector>

namespace llamart {

class Tokenizer;

/// Rows of seq + 1 token ids with a loss mask for their seq targets.
struct TrainRows {
  int64_t seq = 0;
  std::vector<int32_t> tokens; // [rows, seq + 1]
  std::vector<float> mask;     // [rows, seq]
  int64_t rows() const { return seq ? int64_t(mask.size()) / seq : 0; }
};

/// Plain text: each non-empty paragraph (blank-line separated) becomes
/// BOS + its pieces + EOS; all are concatenated and cut into rows of seq + 1
/// (consecutive rows share one token, so every token is predicted once).
/// Every target is trained on. Throws if the text gives less than one row.
TrainRows packText(const std::string &path, const Tokenizer &tokenizer,
                   int64_t seq);

/// One prompt-answer sample as Llama 2 SFT feeds it: `prompt` is BOS +
/// prompt + "\n", `answer` the answer's pieces + EOS (with `eos`). The
/// reward model and rejection sampling see their samples the same way.
struct EncodedSample {
  std::vector<int32_t> prompt, answer;
};
EncodedSample encodeSample(const Tokenizer &tokenizer,
                           const std::string &prompt, const std::string &answer,
                           bool eos = true);

/// The "prompt" string of each line of a JSONL file (other fields
/// ignored): what sampling tools respond to. Throws, naming the line, on a
/// line without one, or if there is none.
std::vector<std::string> loadPrompts(const std::string &path);

/// A generated answer as text, its EOS dropped: what encodeSample's
/// `answer` encodes back (without sentencepiece's dummy-prefix space, which
/// encoding adds back).
std::string decodeAnswer(const Tokenizer &tokenizer,
                         const std::vector<int32_t> &answer);

/// JSONL supervised fine-tuning records {"prompt": ..., "answer": ...}, one
/// per line (Llama 2 SFT): each becomes BOS + prompt + "\n" + answer + EOS,
/// and the samples are packed into rows like packText. The loss mask is 1
/// exactly where the target is an answer token or the EOS, so the model is
/// trained on answers only. Throws on a malformed line, naming it.
TrainRows packSft(const std::string &path, const Tokenizer &tokenizer,
                  int64_t seq);

/// Pre-tokenized rows: int32 .npy [N, seq + 1], and optionally a uint8 .npy
/// loss mask [N, seq] (all ones without one). Throws when the shapes do not
/// fit the compiled sequence length or each other.
TrainRows loadNpyRows(const std::string &tokensPath,
                      const std::string &maskPath, int64_t seq);

/// packSft for .jsonl files, loadNpyRows for .npy, packText otherwise.
TrainRows loadTrainData(const std::string &path, const std::string &maskPath,
                        const Tokenizer *tokenizer, int64_t seq);

/// Moves the last `count` rows of `data` into the result (a held-out split:
/// the end of the text, one contiguous piece).
TrainRows splitLastRows(TrainRows &data, int64_t count);

/// Fills `tokens` [batch, seq + 1] and `mask` [batch, seq] with the rows of
/// batch `index` (rows wrap around at the end of the data).
void fillBatch(const TrainRows &data, int64_t index, int64_t batch,
               std::vector<int32_t> &tokens, std::vector<float> &mask);

} // namespace llamart

#endif // LLAMAC_RUNTIME_TRAINDATA_H
