//===- Error.h - runtime errors ---------------------------------*- C++ -*-===//
//
// The runtime reports bad input (files, tokens, flags) by throwing
// RuntimeError with one sentence; tools print it as one line and exit 1.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_RUNTIME_ERROR_H
#define LLAMAC_RUNTIME_ERROR_H

#include <stdexcept>
#include <string>

namespace llamart {

class RuntimeError : public std::runtime_error {
public:
  explicit RuntimeError(const std::string &message)
      : std::runtime_error(message) {}
};

} // namespace llamart

#endif // LLAMAC_RUNTIME_ERROR_H
