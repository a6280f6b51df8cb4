//===- Generate.h - prompt in, sampled tokens out ---------------*- C++ -*-===//
//
// The generation loop every tool shares (llama-run, executables made by
// llamac --emit=exe, and sampling tools to come): prefill the prompt, then
// sample and decode one token at a time.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_RUNTIME_GENERATE_H
#define LLAMAC_RUNTIME_GENERATE_H

#include "runtime/Model.h"
#include "runtime/Sampler.h"

#include <functional>
#include <vector>

namespace llamart {

struct GenerationOptions {
  int64_t maxNewTokens = 64;
  SamplerOptions sampler;
  int32_t stopToken = -1; // e.g. EOS: generated, then generation stops
  bool keepLogits = false;
};

struct Generation {
  std::vector<int32_t> tokens; // generated (the prompt not included)
  std::vector<float> logits;   // with keepLogits: [prompt + generated, vocab],
                               // row i the logits after consuming token i
  double prefillMs = 0, decodeMs = 0;
};

/// Runs `prompt` through `model` from its current position, then samples up
/// to maxNewTokens tokens, calling `onToken` with each as soon as it is
/// chosen. Throws RuntimeError (an empty prompt, an id outside the
/// vocabulary, running past the maximum sequence length).
Generation generate(Model &model, const std::vector<int32_t> &prompt,
                    const GenerationOptions &options,
                    const std::function<void(int32_t)> &onToken = {});

} // namespace llamart

#endif // LLAMAC_RUNTIME_GENERATE_H
