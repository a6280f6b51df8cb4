//===- fuzz_preferences_jsonl.cpp - preference pairs ----------------------===//
//
// Any bytes as a preference-pairs .jsonl file, tokenized with the example
// tokenizer: pairs whose sequences hold 1 to seq tokens (cut ones exactly
// seq) and a known rating, or one RuntimeError naming the line.
//
//===----------------------------------------------------------------------===//

#include "FuzzInput.h"
#include "runtime/Error.h"
#include "runtime/Preferences.h"
#include "runtime/Tokenizer.h"

#include <cstdlib>

using namespace llamart;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const Tokenizer tokenizer(LLAMAC_SOURCE_DIR
                                   "/examples/tiny/tokenizer.model");
  constexpr int64_t seq = 8;
  std::string path = writeFuzzInput(data, size, "pairs.jsonl");
  try {
    for (const PreferencePair &pair : loadPreferences(path, tokenizer, seq)) {
      if (int(pair.rating) < 0 || int(pair.rating) >= kNumRatings)
        std::abort();
      for (const ScoredSequence *sequence : {&pair.chosen, &pair.rejected}) {
        auto length = int64_t(sequence->tokens.size());
        if (length < 1 || length > seq || (sequence->cut && length != seq))
          std::abort();
      }
    }
  } catch (const RuntimeError &) {
  }
  return 0;
}
