//===- Flags.cpp - parsing command-line values ----------------------------===//

#include "tools/common/Flags.h"

#include "runtime/Error.h"

#include <cmath>
#include <sstream>

namespace llamart {

std::string ArgReader::value() {
  if (index >= args.size())
    throw RuntimeError(current + " needs a value");
  return args[index++];
}

int64_t parseInteger(const std::string &flag, const std::string &text,
                     int64_t min) {
  size_t used = 0;
  long long value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (...) {
    used = 0;
  }
  if (used != text.size() || text.empty() || value < min)
    throw RuntimeError(flag + " expects an integer of at least " +
                       std::to_string(min) + ", got '" + text + "'");
  return value;
}

double parseNumber(const std::string &flag, const std::string &text, double min,
                   double max, bool minIncluded) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (...) {
    used = 0;
  }
  bool aboveMin = minIncluded ? value >= min : value > min;
  if (used != text.size() || text.empty() || !aboveMin || !(value <= max)) {
    std::ostringstream range;
    range << (minIncluded ? "[" : "(") << min << ", " << max << "]";
    throw RuntimeError(flag + " expects a number in " + range.str() +
                       ", got '" + text + "'");
  }
  return value;
}

void takePositional(const std::string &arg,
                    std::initializer_list<std::string *> slots) {
  if (!arg.empty() && arg[0] == '-')
    throw RuntimeError("unknown option '" + arg + "' (see --help)");
  for (std::string *slot : slots)
    if (slot->empty()) {
      *slot = arg;
      return;
    }
  throw RuntimeError("unexpected argument '" + arg + "' (see --help)");
}

void requireFlags(
    std::initializer_list<std::pair<const char *, const std::string *>> flags) {
  for (auto [flag, value] : flags)
    if (value->empty())
      throw RuntimeError(std::string(flag) + " is required");
}

} // namespace llamart
