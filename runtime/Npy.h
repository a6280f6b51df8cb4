//===- Npy.h - writing NumPy .npy files -------------------------*- C++ -*-===//
#ifndef LLAMAC_RUNTIME_NPY_H
#define LLAMAC_RUNTIME_NPY_H

#include <cstdint>
#include <string>
#include <vector>

namespace llamart {

/// Writes a C-order float32 array of shape [rows, cols] (.npy version 1.0).
void writeNpy(const std::string &path, const std::vector<float> &data,
              int64_t rows, int64_t cols);

/// A 2-D C-order array read from a .npy file.
template <typename T> struct NpyMatrix {
  int64_t rows = 0, cols = 0;
  std::vector<T> data;
};

/// Reads a 2-D int32 ('<i4') / uint8 ('|u1') .npy file; throws RuntimeError
/// naming the file for any other dtype, order, rank or a truncated file.
NpyMatrix<int32_t> readNpyInt32(const std::string &path);
NpyMatrix<uint8_t> readNpyUInt8(const std::string &path);

} // namespace llamart

#endif // LLAMAC_RUNTIME_NPY_H
