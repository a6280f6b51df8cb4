//===- Flags.h - parsing command-line values --------------------*- C++ -*-===//
#ifndef LLAMAC_RUNTIME_FLAGS_H
#define LLAMAC_RUNTIME_FLAGS_H

#include <cstdint>
#include <string>

namespace llamart {

/// The whole of `text` as an integer >= min; otherwise throws RuntimeError
/// "FLAG expects an integer of at least MIN, got 'TEXT'".
int64_t parseInteger(const std::string &flag, const std::string &text,
                     int64_t min);

/// The whole of `text` as a number in [min, max] (or (min, max] when
/// `minIncluded` is false); otherwise throws RuntimeError naming the range.
double parseNumber(const std::string &flag, const std::string &text, double min,
                   double max, bool minIncluded);

} // namespace llamart

#endif // LLAMAC_RUNTIME_FLAGS_H
