//===- RunCommand.cpp - llama-run's command line --------------------------===//

#include "tools/llama-run/RunCommand.h"

#include "runtime/Error.h"
#include "runtime/Generate.h"
#include "runtime/Model.h"
#include "runtime/Npy.h"
#include "runtime/SafeTensors.h"
#include "runtime/Tokenizer.h"
#include "tools/common/Flags.h"

#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>

namespace llamart {
namespace {

std::string usage(const std::string &program, bool wantArtifact) {
  std::string artifact = wantArtifact ? "ARTIFACT " : "";
  std::string pad(program.size() + artifact.size(), ' ');
  return "usage: " + program + " " + artifact +
         "--weights PATH [--tokenizer tokenizer.model]\n"
         "       " +
         pad +
         "(-p TEXT | --tokens 1,2,3) [-n N] [--temp T] [--top-k K]\n"
         "       " +
         pad +
         "[--top-p P] [--seed S] [-t THREADS] [--dump-logits FILE.npy]\n"
         "\n" +
         (wantArtifact
              ? "  ARTIFACT             a model library made by llamac\n"
              : "  (the model is built into this program by llamac "
                "--emit=exe)\n") +
         "  --weights PATH       a .safetensors file or an HF model directory\n"
         "                       (model.safetensors or a sharded index); "
         "F32/BF16/F16\n"
         "  --tokenizer FILE     a sentencepiece model (needed for -p and text "
         "output)\n"
         "  -p TEXT              the prompt, encoded with BOS\n"
         "  --tokens IDS         the prompt as comma-separated token ids\n"
         "  -n N                 tokens to generate (default 64)\n"
         "  --temp T             sampling temperature; 0 = greedy (default 0)\n"
         "  --top-k K            sample among the K most likely tokens "
         "(default: all)\n"
         "  --top-p P            nucleus sampling threshold in (0, 1] (default "
         "1)\n"
         "  --seed S             sampling seed (default 0)\n"
         "  -t THREADS           threads (default: all cores)\n"
         "  --dump-logits FILE   write the logits of every consumed token as "
         "a\n"
         "                       float32 .npy of shape [prompt + generated, "
         "vocab]\n";
}

std::vector<int32_t> parseTokenList(const std::string &text) {
  std::vector<int32_t> ids;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(
        start, comma == std::string::npos ? std::string::npos : comma - start);
    ids.push_back(int32_t(parseInteger("--tokens", item, 0)));
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  return ids;
}

} // namespace

GenerateOptions parseGenerateOptions(int argc, char **argv, bool wantArtifact) {
  GenerateOptions options;
  ArgReader reader(argc, argv);
  while (reader.next()) {
    const std::string &arg = reader.arg();
    auto value = [&] { return reader.value(); };
    if (arg == "-h" || arg == "--help") {
      options.help = true;
      return options;
    } else if (arg == "--weights") {
      options.weights = value();
    } else if (arg == "--tokenizer") {
      options.tokenizer = value();
    } else if (arg == "-p") {
      options.prompt = value();
      options.havePrompt = true;
    } else if (arg == "--tokens") {
      options.tokenList = value();
      options.haveTokens = true;
    } else if (arg == "-n") {
      options.steps = parseInteger(arg, value(), 0);
    } else if (arg == "--temp") {
      options.sampler.temperature =
          float(parseNumber(arg, value(), 0, 100, true));
    } else if (arg == "--top-k") {
      options.sampler.topK = int(parseInteger(arg, value(), 0));
    } else if (arg == "--top-p") {
      options.sampler.topP = float(parseNumber(arg, value(), 0, 1, false));
    } else if (arg == "--seed") {
      options.sampler.seed = uint64_t(parseInteger(arg, value(), 0));
    } else if (arg == "-t") {
      options.threads = parseInteger(arg, value(), 1);
    } else if (arg == "--dump-logits") {
      options.dumpLogits = value();
    } else if (!arg.empty() && arg[0] == '-') {
      throw RuntimeError("unknown option '" + arg + "' (see --help)");
    } else if (wantArtifact && options.artifact.empty()) {
      options.artifact = arg;
    } else {
      throw RuntimeError("unexpected argument '" + arg + "' (see --help)");
    }
  }
  if (wantArtifact && options.artifact.empty())
    throw RuntimeError("no ARTIFACT given (see --help)");
  if (options.weights.empty())
    throw RuntimeError("--weights PATH is required");
  if (options.havePrompt == options.haveTokens)
    throw RuntimeError("give the prompt with exactly one of -p and --tokens");
  if (options.havePrompt && options.tokenizer.empty())
    throw RuntimeError("-p needs --tokenizer to encode the prompt");
  return options;
}

int generate(const GenerateOptions &options, const Artifact &artifact,
             const std::string &program) {
  if (options.threads)
    artifact.setThreads(options.threads);
  SafeTensors checkpoint = SafeTensors::open(options.weights);
  Model model(artifact, checkpoint);
  const int64_t vocab = model.shape().vocabSize;

  std::unique_ptr<Tokenizer> tokenizer =
      openTokenizerFor(options.tokenizer, vocab);
  std::vector<int32_t> prompt = options.havePrompt
                                    ? tokenizer->encode(options.prompt)
                                    : parseTokenList(options.tokenList);
  int64_t needed = int64_t(prompt.size()) + options.steps;
  if (needed > model.shape().seqLen)
    throw RuntimeError("the prompt (" + std::to_string(prompt.size()) +
                       " tokens) and -n " + std::to_string(options.steps) +
                       " need " + std::to_string(needed) +
                       " positions, more than the artifact's maximum of " +
                       std::to_string(model.shape().seqLen));

  if (options.havePrompt)
    std::cout << options.prompt << std::flush;
  std::optional<TextStream> stream;
  if (tokenizer)
    stream.emplace(*tokenizer);
  GenerationOptions generation;
  generation.maxNewTokens = options.steps;
  generation.sampler = options.sampler;
  generation.stopToken = tokenizer ? tokenizer->eosId() : -1;
  generation.keepLogits = !options.dumpLogits.empty();
  bool first = true;
  Generation result =
      llamart::generate(model, prompt, generation, [&](int32_t token) {
        if (stream)
          std::cout << stream->push(token) << std::flush;
        else
          std::cout << (first ? "" : " ") << token << std::flush;
        first = false;
      });
  std::cout << std::endl;

  if (!options.dumpLogits.empty())
    writeNpy(options.dumpLogits, result.logits,
             int64_t(result.logits.size()) / vocab, vocab);
  size_t generated = result.tokens.size();
  std::fprintf(stderr,
               "prefill: %zu tokens in %.2f ms (%.1f tok/s); decode: %zu "
               "tokens in %.2f ms (%.1f tok/s)\n",
               prompt.size(), result.prefillMs,
               prompt.size() * 1000.0 / result.prefillMs, generated,
               result.decodeMs,
               generated ? generated * 1000.0 / result.decodeMs : 0.0);
  return 0;
}

int runMain(int argc, char **argv, bool wantArtifact,
            const std::function<int(const GenerateOptions &)> &body) {
  std::string program = argc > 0 ? argv[0] : "llama-run";
  program = program.substr(program.find_last_of('/') + 1);
  try {
    GenerateOptions options = parseGenerateOptions(argc, argv, wantArtifact);
    if (options.help) {
      std::cout << usage(program, wantArtifact);
      return 0;
    }
    return body(options);
  } catch (const RuntimeError &error) {
    std::cout.flush();
    std::cerr << program << ": error: " << error.what() << "\n";
    return 1;
  } catch (const std::bad_alloc &) {
    std::cerr << program << ": error: out of memory\n";
    return 1;
  }
}

} // namespace llamart
