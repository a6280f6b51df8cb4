//===- Flags.h - parsing command-line values --------------------*- C++ -*-===//
#ifndef LLAMAC_TOOLS_COMMON_FLAGS_H
#define LLAMAC_TOOLS_COMMON_FLAGS_H

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace llamart {

/// Walks argv: `next()` gives each argument in turn, `value()` the one after
/// the current flag (throwing "FLAG needs a value" at the end).
class ArgReader {
public:
  ArgReader(int argc, char **argv) : args(argv + 1, argv + argc) {}

  bool next() {
    if (index >= args.size())
      return false;
    current = args[index++];
    return true;
  }
  const std::string &arg() const { return current; }
  std::string value();

private:
  std::vector<std::string> args;
  size_t index = 0;
  std::string current;
};

/// A positional argument into the first empty slot; throws RuntimeError for
/// an unknown option (`-...`) or when every slot is taken.
void takePositional(const std::string &arg,
                    std::initializer_list<std::string *> slots);

/// Throws RuntimeError "FLAG is required" for the first (flag, value) pair
/// whose value is empty.
void requireFlags(
    std::initializer_list<std::pair<const char *, const std::string *>> flags);

/// The whole of `text` as an integer >= min; otherwise throws RuntimeError
/// "FLAG expects an integer of at least MIN, got 'TEXT'".
int64_t parseInteger(const std::string &flag, const std::string &text,
                     int64_t min);

/// The whole of `text` as a number in [min, max] (or (min, max] when
/// `minIncluded` is false); otherwise throws RuntimeError naming the range.
double parseNumber(const std::string &flag, const std::string &text, double min,
                   double max, bool minIncluded);

} // namespace llamart

#endif // LLAMAC_TOOLS_COMMON_FLAGS_H
