//===- TrainData.cpp - token blocks for training --------------------------===//

#include "runtime/TrainData.h"

#include "runtime/Error.h"
#include "runtime/Tokenizer.h"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace llamart {

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
  TrainRows rows;
  rows.seq = seq;
  for (size_t start = 0; start + seq + 1 <= stream.size(); start += seq) {
    rows.tokens.insert(rows.tokens.end(), stream.begin() + start,
                       stream.begin() + start + seq + 1);
    rows.mask.insert(rows.mask.end(), seq, 1.0f);
  }
  if (rows.rows() == 0)
    throw RuntimeError("'" + path + "' gives " + std::to_string(stream.size()) +
                       " tokens, fewer than one training row of " +
                       std::to_string(seq + 1));
  return rows;
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
