//===- Tokenizer.h - sentencepiece tokenizer --------------------*- C++ -*-===//
#ifndef LLAMAC_RUNTIME_TOKENIZER_H
#define LLAMAC_RUNTIME_TOKENIZER_H

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace llamart {

class Tokenizer {
public:
  explicit Tokenizer(const std::string &modelPath);
  ~Tokenizer();

  /// BOS followed by the pieces of `text`, as Llama 2 prompts are fed.
  std::vector<int32_t> encode(const std::string &text) const;
  /// The text of `ids` (byte-fallback pieces become their bytes).
  std::string decode(const std::vector<int32_t> &ids) const;
  int32_t eosId() const;
  int64_t vocabSize() const;

private:
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor;
};

/// Prints the text of a growing token sequence as it grows: each call writes
/// only what the new token added, holding back an incomplete UTF-8 sequence.
class TextStream {
public:
  explicit TextStream(const Tokenizer &tokenizer) : tokenizer(tokenizer) {}
  std::string push(int32_t id);

private:
  const Tokenizer &tokenizer;
  std::vector<int32_t> ids;
  size_t printed = 0;
};

} // namespace llamart

#endif // LLAMAC_RUNTIME_TOKENIZER_H
