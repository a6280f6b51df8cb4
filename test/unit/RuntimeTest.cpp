//===- RuntimeTest.cpp - runtime pieces that need no compiled model -------===//

#include "runtime/Error.h"
#include "runtime/Json.h"
#include "runtime/Npy.h"
#include "runtime/Preferences.h"
#include "runtime/SafeTensors.h"
#include "runtime/Sampler.h"
#include "runtime/Schedule.h"
#include "runtime/Tokenizer.h"
#include "runtime/TrainData.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>

using namespace llamart;

namespace {

TEST(Json, ParsesNestedValuesAndEscapes) {
  JsonValue v = parseJson(
      R"({"a": [1, -2.5e1, true, null], "s": "x\"\u00e9\n", "n": {"k": 7}})",
      "test");
  ASSERT_TRUE(v.isObject());
  const JsonValue &a = *v.find("a");
  ASSERT_EQ(a.array.size(), 4u);
  EXPECT_TRUE(a.array[0].isInteger);
  EXPECT_EQ(a.array[0].integer, 1);
  EXPECT_FALSE(a.array[1].isInteger);
  EXPECT_DOUBLE_EQ(a.array[1].number, -25.0);
  EXPECT_TRUE(a.array[2].boolean);
  EXPECT_EQ(v.find("s")->string, "x\"\xc3\xa9\n");
  EXPECT_EQ(v.find("n")->find("k")->integer, 7);
}

TEST(Json, RejectsMalformedText) {
  for (const char *text :
       {"{", "[1,]", "{\"a\" 1}", "\"open", "01x", "{} {}", "[1, 2", "tru"})
    EXPECT_THROW(parseJson(text, "test"), RuntimeError) << text;
}

float convertOne(DType dtype, uint16_t bits) {
  float out;
  uint8_t bytes[2];
  std::memcpy(bytes, &bits, 2);
  convertToF32(dtype, bytes, &out, 1);
  return out;
}

TEST(Conversion, BFloat16) {
  EXPECT_EQ(convertOne(DType::BF16, 0x3F80), 1.0f);
  EXPECT_EQ(convertOne(DType::BF16, 0xC020), -2.5f);
}

TEST(Conversion, Float16IncludingSubnormalsAndInfinity) {
  EXPECT_EQ(convertOne(DType::F16, 0x3C00), 1.0f);
  EXPECT_EQ(convertOne(DType::F16, 0xC100), -2.5f);
  EXPECT_EQ(convertOne(DType::F16, 0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(convertOne(DType::F16, 0x03FF), 1023 * std::ldexp(1.0f, -24));
  EXPECT_EQ(convertOne(DType::F16, 0x7BFF), 65504.0f);
  EXPECT_TRUE(std::isinf(convertOne(DType::F16, 0x7C00)));
  EXPECT_TRUE(std::isnan(convertOne(DType::F16, 0x7E00)));
  EXPECT_EQ(convertOne(DType::F16, 0x8000), -0.0f);
}

uint16_t narrowOne(DType dtype, float value) {
  uint8_t bytes[2];
  convertDType(DType::F32, reinterpret_cast<const uint8_t *>(&value), dtype,
               bytes, 1);
  uint16_t bits;
  std::memcpy(&bits, bytes, 2);
  return bits;
}

float fromBits(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, 4);
  return value;
}

TEST(Conversion, ToBFloat16RoundsToNearestEven) {
  EXPECT_EQ(narrowOne(DType::BF16, 1.0f), 0x3F80);
  EXPECT_EQ(narrowOne(DType::BF16, -2.5f), 0xC020);
  // Halfway between 0x3F80 and 0x3F81: to the even one; just above: up.
  EXPECT_EQ(narrowOne(DType::BF16, fromBits(0x3F808000)), 0x3F80);
  EXPECT_EQ(narrowOne(DType::BF16, fromBits(0x3F818000)), 0x3F82);
  EXPECT_EQ(narrowOne(DType::BF16, fromBits(0x3F808001)), 0x3F81);
  // The largest float rounds to infinity; nan stays nan.
  EXPECT_EQ(narrowOne(DType::BF16, fromBits(0x7F7FFFFF)), 0x7F80);
  uint16_t nan = narrowOne(DType::BF16, std::nanf(""));
  EXPECT_TRUE(std::isnan(convertOne(DType::BF16, nan)));
}

TEST(Conversion, ToFloat16AndBack) {
  EXPECT_EQ(narrowOne(DType::F16, 1.0f), 0x3C00);
  EXPECT_EQ(narrowOne(DType::F16, 65504.0f), 0x7BFF);
  EXPECT_EQ(narrowOne(DType::F16, 1e6f), 0x7C00); // overflows to infinity
  EXPECT_EQ(narrowOne(DType::F16, std::ldexp(1.0f, -24)), 0x0001);
  // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: to the even one.
  EXPECT_EQ(narrowOne(DType::F16, 1.0f + std::ldexp(1.0f, -11)), 0x3C00);
}

TEST(Sampler, GreedyTakesTheArgmax) {
  float logits[] = {0.1f, 3.0f, -1.0f, 2.9f};
  Sampler sampler({});
  EXPECT_EQ(sampler.sample(logits, 4), 1);
}

TEST(Sampler, SameSeedSameTokens) {
  float logits[] = {0.5f, 0.4f, 0.3f, 0.2f, 0.1f, 0.0f};
  SamplerOptions options{1.0f, 0, 1.0f, 42};
  Sampler a(options), b(options);
  std::vector<int32_t> first, second;
  for (int i = 0; i < 50; ++i) {
    first.push_back(a.sample(logits, 6));
    second.push_back(b.sample(logits, 6));
  }
  EXPECT_EQ(first, second);
  // And the draws are spread over several tokens.
  std::sort(first.begin(), first.end());
  EXPECT_GE(std::unique(first.begin(), first.end()) - first.begin(), 4);
}

TEST(Sampler, TopKAndTopPRestrictTheChoice) {
  float logits[] = {1.0f, 5.0f, 4.9f, 0.0f};
  Sampler topK({2.0f, 2, 1.0f, 7});
  Sampler topP({1.0f, 0, 0.01f, 7});
  for (int i = 0; i < 100; ++i) {
    int32_t k = topK.sample(logits, 4);
    EXPECT_TRUE(k == 1 || k == 2) << k;
    EXPECT_EQ(topP.sample(logits, 4), 1);
  }
}

/// True when `text` is whole UTF-8 characters.
bool isCompleteUtf8(const std::string &text) {
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    size_t length = c < 0x80    ? 1
                    : c >= 0xF0 ? 4
                    : c >= 0xE0 ? 3
                    : c >= 0xC0 ? 2
                                : 0;
    if (length == 0 || i + length > text.size())
      return false;
    i += length;
  }
  return true;
}

TEST(Tokenizer, EncodesWithBosAndStreamsByteFallbackAsWholeCharacters) {
  Tokenizer tokenizer(LLAMAC_SOURCE_DIR "/examples/tiny/tokenizer.model");
  const std::string text = "na\u00efve \u2713 ok \U0001F999 42";
  std::vector<int32_t> ids = tokenizer.encode(text);
  ASSERT_GT(ids.size(), 3u);
  EXPECT_EQ(ids.front(), 1); // BOS
  ids.erase(ids.begin());
  // The tokenizer learned no piece for these characters: they arrive as
  // byte-fallback pieces, one byte each.
  EXPECT_GT(ids.size(), 12u);
  TextStream stream(tokenizer);
  std::string streamed;
  for (int32_t id : ids) {
    std::string chunk = stream.push(id);
    EXPECT_TRUE(isCompleteUtf8(chunk))
        << "chunk of " << chunk.size() << " bytes";
    streamed += chunk;
  }
  // The dummy prefix sentencepiece adds is a space when a sequence goes on.
  EXPECT_EQ(streamed, " " + text);
}

TEST(Schedule, WarmsUpLinearlyThenDecaysToTenPercent) {
  // Llama 2: peak * (s + 1) / W during warmup, then
  // 0.1 * peak + 0.45 * peak * (1 + cos(pi * (s - W) / (S - W))).
  const double peak = 3e-4;
  EXPECT_DOUBLE_EQ(learningRate(0, 100, 10, peak), peak / 10);
  EXPECT_DOUBLE_EQ(learningRate(9, 100, 10, peak), peak);
  EXPECT_DOUBLE_EQ(learningRate(10, 100, 10, peak), peak);
  EXPECT_NEAR(learningRate(55, 100, 10, peak), 0.1 * peak + 0.45 * peak, 1e-15);
  EXPECT_NEAR(learningRate(100, 100, 10, peak), 0.1 * peak, 1e-15);
  // No warmup: the first step is already the peak.
  EXPECT_DOUBLE_EQ(learningRate(0, 5, 0, peak), peak);
  // Warmup as long as the run: the division by S - W stays defined.
  EXPECT_DOUBLE_EQ(learningRate(4, 5, 5, peak), peak);
}

TEST(TrainData, SftMaskCoversExactlyAnswersAndEos) {
  Tokenizer tokenizer(LLAMAC_SOURCE_DIR "/examples/tiny/tokenizer.model");
  std::string path = testing::TempDir() + "/sft.jsonl";
  std::ofstream(path)
      << "{\"prompt\": \"What is rope?\", \"answer\": \"A rotation.\"}\n"
      << "\n"
      << "{\"prompt\": \"And linear?\", \"answer\": \"x w\"}\n";
  // The expected stream: BOS prompt "\n" | answer EOS, twice.
  std::vector<int32_t> stream;
  std::vector<float> target; // 1 where the token is an answer token or EOS
  for (auto [prompt, answer] :
       {std::pair<std::string, std::string>{"What is rope?", "A rotation."},
        {"And linear?", "x w"}}) {
    std::vector<int32_t> p = tokenizer.encode(prompt + "\n");
    std::vector<int32_t> a = tokenizer.encode(answer);
    a.erase(a.begin());
    a.push_back(tokenizer.eosId());
    stream.insert(stream.end(), p.begin(), p.end());
    target.insert(target.end(), p.size(), 0.0f);
    stream.insert(stream.end(), a.begin(), a.end());
    target.insert(target.end(), a.size(), 1.0f);
  }
  int64_t seq = 4;
  TrainRows rows = packSft(path, tokenizer, seq);
  ASSERT_EQ(rows.rows(), int64_t(stream.size() - 1) / seq);
  for (int64_t r = 0; r < rows.rows(); ++r)
    for (int64_t t = 0; t < seq; ++t) {
      // Row r, position t predicts stream token r * seq + t + 1.
      EXPECT_EQ(rows.tokens[r * (seq + 1) + t + 1], stream[r * seq + t + 1]);
      EXPECT_EQ(rows.mask[r * seq + t], target[r * seq + t + 1])
          << "row " << r << " position " << t;
    }
  std::remove(path.c_str());
}

TEST(TrainData, MalformedSftLineIsNamed) {
  Tokenizer tokenizer(LLAMAC_SOURCE_DIR "/examples/tiny/tokenizer.model");
  std::string path = testing::TempDir() + "/bad.jsonl";
  std::ofstream(path) << "{\"prompt\": \"a\", \"answer\": \"b\"}\n"
                      << "{\"prompt\": \"a\"}\n";
  try {
    packSft(path, tokenizer, 4);
    FAIL() << "no error";
  } catch (const RuntimeError &error) {
    EXPECT_NE(std::string(error.what()).find("bad.jsonl:2: expected"),
              std::string::npos)
        << error.what();
  }
  std::remove(path.c_str());
}

TEST(Preferences, MarginsFollowTable27AndRatingsParse) {
  // Llama 2, Table 27, strongest rating first.
  const Rating ratings[] = {Rating::SignificantlyBetter, Rating::Better,
                            Rating::SlightlyBetter, Rating::Negligible};
  const float small[] = {1.0f, 2.0f / 3.0f, 1.0f / 3.0f, 0.0f};
  const float large[] = {3.0f, 2.0f, 1.0f, 0.0f};
  for (int i = 0; i < kNumRatings; ++i) {
    EXPECT_EQ(margin(MarginSet::None, ratings[i]), 0.0f);
    EXPECT_EQ(margin(MarginSet::Small, ratings[i]), small[i]);
    EXPECT_EQ(margin(MarginSet::Large, ratings[i]), large[i]);
  }
  EXPECT_EQ(parseMarginSet("large"), MarginSet::Large);

  Tokenizer tokenizer(LLAMAC_SOURCE_DIR "/examples/tiny/tokenizer.model");
  std::string path = testing::TempDir() + "/pairs.jsonl";
  std::ofstream(path) << "{\"prompt\": \"p\", \"chosen\": \"a\", \"rejected\": "
                         "\"b\", \"rating\": \"better\"}\n"
                      << "{\"prompt\": \"p\", \"chosen\": \"a\", \"rejected\": "
                         "\"b\", \"rating\": \"unsure\"}\n";
  std::vector<PreferencePair> pairs = loadPreferences(path, tokenizer, 64);
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[0].rating, Rating::Better);
  EXPECT_EQ(pairs[1].rating, Rating::Negligible);
  std::remove(path.c_str());
}

TEST(Preferences, SequencesAreSftFormattedRightPaddedAndCut) {
  Tokenizer tokenizer(LLAMAC_SOURCE_DIR "/examples/tiny/tokenizer.model");
  // BOS prompt "\n" | response EOS, the score read at the EOS.
  EncodedSample sample = encodeSample(tokenizer, "We test", "fast code");
  std::vector<int32_t> expected = sample.prompt;
  expected.insert(expected.end(), sample.answer.begin(), sample.answer.end());
  ScoredSequence whole = scoredSequence(tokenizer, "We test", "fast code", 64);
  EXPECT_EQ(whole.tokens, expected);
  EXPECT_EQ(whole.tokens.back(), tokenizer.eosId());
  EXPECT_FALSE(whole.cut);
  ScoredSequence cut = scoredSequence(tokenizer, "We test", "fast code", 4);
  EXPECT_EQ(cut.tokens,
            std::vector<int32_t>(expected.begin(), expected.begin() + 4));
  EXPECT_TRUE(cut.cut);

  ScoreRows rows(2, 8);
  rows.tokens.assign(16, 7); // a previous batch's tokens
  rows.put(1, cut);
  for (int64_t t = 0; t < 8; ++t)
    EXPECT_EQ(rows.tokens[8 + t], t < 4 ? cut.tokens[t] : 0) << t;
  EXPECT_EQ(rows.ends[1], 3); // the last kept token
  EXPECT_EQ(rows.tokens[0], 7);
}

// Found by fuzz_npy: a shape whose element count overflows, or exceeds what
// the file holds, is "truncated", before anything is allocated.
TEST(Npy, ShapeLargerThanTheFileIsTruncated) {
  for (const char *shape : {"(3, 257777777777777777777777)",
                            "(4611686018427387904, 4)", "(2, 3)"}) {
    std::string header = std::string("{'descr': '|u1', 'fortran_order': "
                                     "False, 'shape': ") +
                         shape + ", }";
    std::string path = testing::TempDir() + "/huge.npy";
    std::ofstream out(path, std::ios::binary);
    uint16_t length = header.size();
    out.write("\x93NUMPY\x01\x00", 8);
    out.write(reinterpret_cast<const char *>(&length), 2);
    out << header << "abc"; // 3 bytes of data
    out.close();
    try {
      readNpyUInt8(path);
      FAIL() << "no error for shape " << shape;
    } catch (const RuntimeError &error) {
      EXPECT_NE(std::string(error.what()).find("truncated"), std::string::npos)
          << error.what();
    }
  }
}

} // namespace
