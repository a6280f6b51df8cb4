//===- fuzz_sft_jsonl.cpp - SFT JSONL records -----------------------------===//
//
// Any bytes as an SFT .jsonl file, tokenized with the example tokenizer:
// rows whose tokens and loss mask have the packed shapes, or one
// RuntimeError naming the line.
//
//===----------------------------------------------------------------------===//

#include "FuzzInput.h"
#include "runtime/Error.h"
#include "runtime/Tokenizer.h"
#include "runtime/TrainData.h"

#include <cstdlib>

using namespace llamart;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const Tokenizer tokenizer(LLAMAC_SOURCE_DIR
                                   "/examples/tiny/tokenizer.model");
  constexpr int64_t seq = 8;
  std::string path = writeFuzzInput(data, size, "sft.jsonl");
  try {
    TrainRows rows = packSft(path, tokenizer, seq);
    if (int64_t(rows.tokens.size()) != rows.rows() * (seq + 1) ||
        int64_t(rows.mask.size()) != rows.rows() * seq)
      std::abort();
  } catch (const RuntimeError &) {
  }
  return 0;
}
