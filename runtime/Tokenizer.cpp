//===- Tokenizer.cpp - sentencepiece tokenizer ----------------------------===//

#include "runtime/Tokenizer.h"

#include "runtime/Error.h"

#include <sentencepiece_processor.h>

namespace llamart {

Tokenizer::Tokenizer(const std::string &modelPath)
    : processor(std::make_unique<sentencepiece::SentencePieceProcessor>()) {
  auto status = processor->Load(modelPath);
  if (!status.ok())
    throw RuntimeError("cannot load tokenizer '" + modelPath +
                       "': " + status.ToString());
}

Tokenizer::~Tokenizer() = default;

std::vector<int32_t> Tokenizer::encode(const std::string &text) const {
  std::vector<int> pieces;
  auto status = processor->Encode(text, &pieces);
  if (!status.ok())
    throw RuntimeError("cannot tokenize the prompt: " + status.ToString());
  std::vector<int32_t> ids;
  if (processor->bos_id() >= 0)
    ids.push_back(processor->bos_id());
  ids.insert(ids.end(), pieces.begin(), pieces.end());
  return ids;
}

int32_t Tokenizer::eosId() const { return processor->eos_id(); }

int64_t Tokenizer::vocabSize() const { return processor->GetPieceSize(); }

std::unique_ptr<Tokenizer> openTokenizerFor(const std::string &path,
                                            int64_t vocabSize) {
  if (path.empty())
    return nullptr;
  auto tokenizer = std::make_unique<Tokenizer>(path);
  if (tokenizer->vocabSize() > vocabSize)
    throw RuntimeError(
        "the tokenizer has " + std::to_string(tokenizer->vocabSize()) +
        " pieces but the model's vocabulary is " + std::to_string(vocabSize));
  return tokenizer;
}

std::string Tokenizer::pieceText(int32_t id, bool &isByte) const {
  isByte = processor->IsByte(id);
  std::string piece = processor->IdToPiece(id);
  if (isByte) // "<0xAB>"
    return std::string(1, char(std::stoi(piece.substr(3, 2), nullptr, 16)));
  if (processor->IsControl(id))
    return "";
  if (processor->IsUnknown(id))
    return " \xE2\x81\x87 "; // " ⁇ ", as sentencepiece decodes <unk>
  std::string text;
  const std::string space = "\xE2\x96\x81"; // U+2581, sentencepiece's space
  for (size_t i = 0; i < piece.size();) {
    if (piece.compare(i, space.size(), space) == 0) {
      text += ' ';
      i += space.size();
    } else {
      text += piece[i++];
    }
  }
  return text;
}

/// The length of the UTF-8 sequence `lead` starts (0: not a lead byte).
static size_t utf8Length(unsigned char lead) {
  return lead < 0x80    ? 1
         : lead >= 0xF8 ? 0
         : lead >= 0xF0 ? 4
         : lead >= 0xE0 ? 3
         : lead >= 0xC0 ? 2
                        : 0;
}

std::string TextStream::takePending(bool force) {
  const std::string replacement = "\xEF\xBF\xBD";
  std::string out;
  size_t i = 0;
  while (i < pending.size()) {
    size_t length = utf8Length(static_cast<unsigned char>(pending[i]));
    bool valid = length > 0;
    for (size_t k = 1; valid && k < length && i + k < pending.size(); ++k)
      valid = (static_cast<unsigned char>(pending[i + k]) & 0xC0) == 0x80;
    if (!valid) { // a stray byte can never complete
      out += replacement;
      ++i;
    } else if (i + length <= pending.size()) {
      out += pending.substr(i, length);
      i += length;
    } else if (force) {
      out += replacement;
      i = pending.size();
    } else {
      break; // wait for the rest of this character
    }
  }
  pending.erase(0, i);
  return out;
}

std::string TextStream::push(int32_t id) {
  bool isByte = false;
  std::string text = tokenizer.pieceText(id, isByte);
  if (isByte) {
    pending += text;
    return takePending(/*force=*/false);
  }
  return takePending(/*force=*/true) + text;
}

} // namespace llamart
