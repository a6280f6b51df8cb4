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
  int32_t eosId() const;
  int64_t vocabSize() const;

  /// The text one piece adds when it continues a sequence: "▁" becomes a
  /// space, control pieces add nothing. A byte-fallback piece ("<0xE2>")
  /// returns its byte with `isByte` set.
  std::string pieceText(int32_t id, bool &isByte) const;

private:
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor;
};

/// The tokenizer at `path` for a model of `vocabSize` ids (null for an empty
/// path); throws RuntimeError if it has more pieces than the model has ids.
std::unique_ptr<Tokenizer> openTokenizerFor(const std::string &path,
                                            int64_t vocabSize);

/// Turns generated tokens into text as they come: each call returns what the
/// new token adds. Byte-fallback pieces are held until they form whole UTF-8
/// characters; bytes that never do become U+FFFD, as sentencepiece decodes.
class TextStream {
public:
  explicit TextStream(const Tokenizer &tokenizer) : tokenizer(tokenizer) {}
  std::string push(int32_t id);
  /// What is still held at the end of the tokens (as replacement
  /// characters).
  std::string finish() { return takePending(/*force=*/true); }

private:
  /// Moves the complete characters of `pending` to the result (and, with
  /// `force`, the incomplete rest as replacement characters).
  std::string takePending(bool force);

  const Tokenizer &tokenizer;
  std::string pending; // bytes of an unfinished UTF-8 character
};

} // namespace llamart

#endif // LLAMAC_RUNTIME_TOKENIZER_H
