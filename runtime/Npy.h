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

} // namespace llamart

#endif // LLAMAC_RUNTIME_NPY_H
