//===- FuzzInput.h - a fuzzer's input as a file -----------------*- C++ -*-===//
//
// The runtime's parsers read files (mmap for safetensors), so each fuzz
// target writes its input to a file of this process first.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_TEST_FUZZ_FUZZINPUT_H
#define LLAMAC_TEST_FUZZ_FUZZINPUT_H

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

/// Writes data to "<dir>/<name>" in a directory of this process; returns the
/// path.
inline std::string writeFuzzInput(const uint8_t *data, size_t size,
                                  const std::string &name) {
  static const std::string dir = [] {
    std::string path = "/tmp/llamac-fuzz-" + std::to_string(getpid());
    std::string command = "mkdir -p " + path;
    if (std::system(command.c_str()) != 0)
      std::abort();
    return path;
  }();
  std::string path = dir + "/" + name;
  FILE *file = std::fopen(path.c_str(), "wb");
  if (!file)
    std::abort();
  if (size)
    std::fwrite(data, 1, size, file);
  std::fclose(file);
  return path;
}

#endif // LLAMAC_TEST_FUZZ_FUZZINPUT_H
