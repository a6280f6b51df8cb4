//===- DType.h - element types of stored weights ----------------*- C++ -*-===//
//
// The element types a checkpoint stores and an artifact takes its weights in,
// with the conversions the runtime makes once at load when the two differ.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_RUNTIME_DTYPE_H
#define LLAMAC_RUNTIME_DTYPE_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace llamart {

enum class DType { F32, BF16, F16 };

/// The safetensors name: "F32", "BF16", "F16".
const char *dtypeName(DType dtype);
/// Bytes per element.
size_t dtypeSize(DType dtype);
/// An artifact manifest's "dtype" (llama_abi.h); throws RuntimeError naming
/// `where` for any other.
DType parseManifestDType(const std::string &name, const std::string &where);

/// Converts `count` elements of `dtype` to float32.
void convertToF32(DType dtype, const uint8_t *src, float *dst, int64_t count);
/// Converts `count` elements between any two dtypes (rounding to nearest
/// even when narrowing).
void convertDType(DType from, const uint8_t *src, DType to, uint8_t *dst,
                  int64_t count);

} // namespace llamart

#endif // LLAMAC_RUNTIME_DTYPE_H
