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

std::string Tokenizer::decode(const std::vector<int32_t> &ids) const {
  std::string text;
  std::vector<int> pieces(ids.begin(), ids.end());
  auto status = processor->Decode(pieces, &text);
  if (!status.ok())
    throw RuntimeError("cannot decode tokens: " + status.ToString());
  return text;
}

int32_t Tokenizer::eosId() const { return processor->eos_id(); }

int64_t Tokenizer::vocabSize() const { return processor->GetPieceSize(); }

std::string TextStream::push(int32_t id) {
  ids.push_back(id);
  std::string text = tokenizer.decode(ids);
  // Hold back a trailing incomplete UTF-8 character (byte-fallback pieces
  // arrive one byte at a time).
  size_t end = text.size();
  size_t lead = end;
  while (lead > printed && lead > 0 &&
         (static_cast<unsigned char>(text[lead - 1]) & 0xC0) == 0x80)
    --lead;
  if (lead > printed && lead > 0) {
    unsigned char c = static_cast<unsigned char>(text[lead - 1]);
    size_t length = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (end - (lead - 1) < length)
      end = lead - 1;
  }
  if (end <= printed)
    return "";
  std::string fresh = text.substr(printed, end - printed);
  printed = end;
  return fresh;
}

} // namespace llamart
