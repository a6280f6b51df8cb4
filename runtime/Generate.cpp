//===- Generate.cpp - prompt in, sampled tokens out -----------------------===//

#include "runtime/Generate.h"

#include <chrono>

namespace llamart {
namespace {

double millisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - start)
      .count();
}

} // namespace

Generation generate(Model &model, const std::vector<int32_t> &prompt,
                    const GenerationOptions &options,
                    const std::function<void(int32_t)> &onToken) {
  const int64_t vocab = model.shape().vocabSize;
  Generation result;
  auto start = std::chrono::steady_clock::now();
  // [prompt, vocab] when the logits are kept, else the last row [1, vocab]
  std::vector<float> logits = model.prefill(prompt, options.keepLogits);
  result.prefillMs = millisecondsSince(start);
  if (options.keepLogits)
    result.logits = logits;
  const float *last = logits.data() + logits.size() - vocab;

  Sampler sampler(options.sampler);
  start = std::chrono::steady_clock::now();
  while (int64_t(result.tokens.size()) < options.maxNewTokens) {
    int32_t token = sampler.sample(last, vocab);
    result.tokens.push_back(token);
    if (onToken)
      onToken(token);
    logits = model.decode(token); // [vocab]
    last = logits.data();
    if (options.keepLogits)
      result.logits.insert(result.logits.end(), logits.begin(), logits.end());
    if (token == options.stopToken)
      break;
  }
  result.decodeMs = millisecondsSince(start);
  return result;
}

} // namespace llamart
