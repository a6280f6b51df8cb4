//===- TrainData.cpp - token blocks for training --------------------------===//

#include "runtime/TrainData.h"

#include "runtime/Error.h"
#include "runtime/Json.h"
#include "runtime/Npy.h"
#include "runtime/Tokenizer.h"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace llamart {

namespace {

/// Cuts a token stream into rows of seq + 1 (consecutive rows share a token)
/// with `targetMask[i]` the weight of predicting stream token i.
TrainRows packStream(const std::string &path,
                     const std::vector<int32_t> &stream,
                     const std::vector<float> &targetMask, int64_t seq) {
  TrainRows rows;
  rows.seq = seq;
  for (size_t start = 0; start + seq + 1 <= stream.size(); start += seq) {
    rows.tokens.insert(rows.tokens.end(), stream.begin() + start,
                       stream.begin() + start + seq + 1);
    rows.mask.insert(rows.mask.end(), targetMask.begin() + start + 1,
                     targetMask.begin() + start + seq + 1);
  }
  if (rows.rows() == 0)
    throw RuntimeError("'" + path + "' gives " + std::to_string(stream.size()) +
                       " tokens, fewer than one training row of " +
                       std::to_string(seq + 1));
  return rows;
}

} // namespace

TrainRows packText(const std::string &path, const Tokenizer &tokenizer,
                   int64_t seq) {
  std::ifstream in(path);
  if (!in)
    throw RuntimeError("cannot read training data '" + path + "'");
  std::vector<int32_t> stream;
  std::string line, paragraph;
  auto flush = [&] {
    if (paragraph.find_first_not_of(" \t\r\n") == std::string::npos) {
      paragraph.clear();
      return;
    }
    std::vector<int32_t> ids = tokenizer.encode(paragraph); // BOS + pieces
    stream.insert(stream.end(), ids.begin(), ids.end());
    stream.push_back(tokenizer.eosId());
    paragraph.clear();
  };
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      flush();
    else
      paragraph += (paragraph.empty() ? "" : "\n") + line;
  }
  flush();
  return packStream(path, stream, std::vector<float>(stream.size(), 1.0f), seq);
}

std::vector<std::string> loadPrompts(const std::string &path) {
  std::vector<std::string> prompts;
  forEachJsonLine(
      path, "prompts", [&](const JsonValue &record, const std::string &where) {
        const JsonValue *prompt =
            record.isObject() ? record.find("prompt") : nullptr;
        if (!prompt || !prompt->isString())
          throw RuntimeError(where + ": expected {\"prompt\": \"...\"}");
        prompts.push_back(prompt->string);
      });
  if (prompts.empty())
    throw RuntimeError("'" + path + "' holds no prompts");
  return prompts;
}

std::string decodeAnswer(const Tokenizer &tokenizer,
                         const std::vector<int32_t> &answer) {
  TextStream stream(tokenizer);
  std::string text;
  for (int32_t token : answer)
    if (token != tokenizer.eosId())
      text += stream.push(token);
  text += stream.finish();
  if (!text.empty() && text[0] == ' ')
    text.erase(0, 1);
  return text;
}

EncodedSample encodeSample(const Tokenizer &tokenizer,
                           const std::string &prompt, const std::string &answer,
                           bool eos) {
  EncodedSample sample;
  sample.prompt = tokenizer.encode(prompt + "\n");
  sample.answer = tokenizer.encode(answer);
  sample.answer.erase(sample.answer.begin()); // its BOS
  if (eos)
    sample.answer.push_back(tokenizer.eosId());
  return sample;
}

TrainRows packSft(const std::string &path, const Tokenizer &tokenizer,
                  int64_t seq) {
  std::vector<int32_t> stream;
  std::vector<float> targetMask; // 1 on answer tokens and EOS
  forEachJsonLine(
      path, "training data",
      [&](const JsonValue &record, const std::string &where) {
        const JsonValue *prompt = record.find("prompt");
        const JsonValue *answer = record.find("answer");
        if (!record.isObject() || !prompt || !prompt->isString() || !answer ||
            !answer->isString())
          throw RuntimeError(
              where + ": expected {\"prompt\": \"...\", \"answer\": \"...\"}");
        EncodedSample sample =
            encodeSample(tokenizer, prompt->string, answer->string);
        stream.insert(stream.end(), sample.prompt.begin(), sample.prompt.end());
        targetMask.insert(targetMask.end(), sample.prompt.size(), 0.0f);
        stream.insert(stream.end(), sample.answer.begin(), sample.answer.end());
        targetMask.insert(targetMask.end(), sample.answer.size(), 1.0f);
      });
  return packStream(path, stream, targetMask, seq);
}

TrainRows loadNpyRows(const std::string &tokensPath,
                      const std::string &maskPath, int64_t seq) {
  NpyMatrix<int32_t> tokens = readNpyInt32(tokensPath);
  if (tokens.cols != seq + 1)
    throw RuntimeError(tokensPath + ": rows of " + std::to_string(tokens.cols) +
                       " tokens, but the artifact trains on rows of " +
                       std::to_string(seq + 1) + " (seq " +
                       std::to_string(seq) + " + 1)");
  if (tokens.rows == 0)
    throw RuntimeError(tokensPath + ": no rows");
  TrainRows rows;
  rows.seq = seq;
  rows.tokens = std::move(tokens.data);
  if (maskPath.empty()) {
    rows.mask.assign(tokens.rows * seq, 1.0f);
    return rows;
  }
  NpyMatrix<uint8_t> mask = readNpyUInt8(maskPath);
  if (mask.rows != tokens.rows || mask.cols != seq)
    throw RuntimeError(
        maskPath + ": shape [" + std::to_string(mask.rows) + ", " +
        std::to_string(mask.cols) + "] does not match the tokens' [" +
        std::to_string(tokens.rows) + ", " + std::to_string(seq) + "]");
  rows.mask.assign(mask.data.begin(), mask.data.end());
  return rows;
}

static bool endsWith(const std::string &text, const std::string &suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

TrainRows loadTrainData(const std::string &path, const std::string &maskPath,
                        const Tokenizer *tokenizer, int64_t seq) {
  if (endsWith(path, ".npy"))
    return loadNpyRows(path, maskPath, seq);
  if (!maskPath.empty())
    throw RuntimeError("--loss-mask goes with pre-tokenized .npy data");
  if (!tokenizer)
    throw RuntimeError("--tokenizer is required to read '" + path + "'");
  return endsWith(path, ".jsonl") ? packSft(path, *tokenizer, seq)
                                  : packText(path, *tokenizer, seq);
}

TrainRows splitLastRows(TrainRows &data, int64_t count) {
  int64_t seq = data.seq, keep = data.rows() - count;
  TrainRows tail;
  tail.seq = seq;
  tail.tokens.assign(data.tokens.begin() + keep * (seq + 1), data.tokens.end());
  tail.mask.assign(data.mask.begin() + keep * seq, data.mask.end());
  data.tokens.resize(keep * (seq + 1));
  data.mask.resize(keep * seq);
  return tail;
}

void fillBatch(const TrainRows &data, int64_t index, int64_t batch,
               std::vector<int32_t> &tokens, std::vector<float> &mask) {
  int64_t seq = data.seq;
  tokens.resize(batch * (seq + 1));
  mask.resize(batch * seq);
  for (int64_t b = 0; b < batch; ++b) {
    int64_t row = (index * batch + b) % data.rows();
    std::copy_n(data.tokens.begin() + row * (seq + 1), seq + 1,
                tokens.begin() + b * (seq + 1));
    std::copy_n(data.mask.begin() + row * seq, seq, mask.begin() + b * seq);
  }
}

} // namespace llamart
