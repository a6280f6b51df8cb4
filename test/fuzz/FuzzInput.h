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
#include <filesystem>
#include <string>
#include <unistd.h>

/// This process's directory of inputs, removed when the fuzzer exits.
inline std::string *fuzzInputDir = nullptr;

/// Writes data to "<dir>/<name>" in a directory of this process; returns the
/// path.
inline std::string writeFuzzInput(const uint8_t *data, size_t size,
                                  const std::string &name) {
  if (!fuzzInputDir) {
    fuzzInputDir =
        new std::string("/tmp/llamac-fuzz-" + std::to_string(getpid()));
    std::error_code error;
    std::filesystem::create_directories(*fuzzInputDir, error);
    if (error)
      std::abort();
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(*fuzzInputDir, ignored);
    });
  }
  const std::string &dir = *fuzzInputDir;
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
