//===- DType.cpp - element types of stored weights
//-------------------------===//

#include "runtime/DType.h"

#include "runtime/Error.h"
#include "runtime/llama_abi.h"

#include <cstring>
#include <vector>

namespace llamart {

const char *dtypeName(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "F32";
  case DType::BF16:
    return "BF16";
  case DType::F16:
    return "F16";
  }
  return "?";
}

size_t dtypeSize(DType dtype) { return dtype == DType::F32 ? 4 : 2; }

DType parseManifestDType(const std::string &name, const std::string &where) {
  if (name == LLAMA_ABI_DTYPE_F32)
    return DType::F32;
  if (name == LLAMA_ABI_DTYPE_BF16)
    return DType::BF16;
  if (name == LLAMA_ABI_DTYPE_F16)
    return DType::F16;
  throw RuntimeError(where + ": the manifest's weight dtype '" + name +
                     "' is not one this runtime knows (f32, bf16, f16)");
}

namespace {

float halfToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exponent = (h >> 10) & 0x1F;
  uint32_t mantissa = h & 0x3FF;
  uint32_t bits;
  if (exponent == 0x1F) { // inf / nan
    bits = sign | 0x7F800000 | (mantissa << 13);
  } else if (exponent != 0) { // normal
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) { // zero
    bits = sign;
  } else { // subnormal: renormalise
    int shift = 0;
    while (!(mantissa & 0x400)) {
      mantissa <<= 1;
      ++shift;
    }
    mantissa &= 0x3FF;
    bits = sign | uint32_t(113 - shift) << 23 | (mantissa << 13);
  }
  float value;
  std::memcpy(&value, &bits, 4);
  return value;
}

uint16_t floatToBF16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  if ((bits & 0x7FFFFFFF) > 0x7F800000) // nan: keep it a quiet nan
    return uint16_t((bits >> 16) | 0x40);
  bits += 0x7FFF + ((bits >> 16) & 1); // round to nearest even
  return uint16_t(bits >> 16);
}

uint16_t floatToHalf(float value) {
  // The compiler's own conversion, which rounds to nearest even.
  _Float16 half = static_cast<_Float16>(value);
  uint16_t bits;
  std::memcpy(&bits, &half, 2);
  return bits;
}

} // namespace

void convertToF32(DType dtype, const uint8_t *src, float *dst, int64_t count) {
  switch (dtype) {
  case DType::F32:
    std::memcpy(dst, src, size_t(count) * 4);
    return;
  case DType::BF16:
    for (int64_t i = 0; i < count; ++i) {
      uint16_t h;
      std::memcpy(&h, src + 2 * i, 2);
      uint32_t bits = uint32_t(h) << 16;
      std::memcpy(dst + i, &bits, 4);
    }
    return;
  case DType::F16:
    for (int64_t i = 0; i < count; ++i) {
      uint16_t h;
      std::memcpy(&h, src + 2 * i, 2);
      dst[i] = halfToFloat(h);
    }
    return;
  }
}

void convertDType(DType from, const uint8_t *src, DType to, uint8_t *dst,
                  int64_t count) {
  if (from == to) {
    std::memcpy(dst, src, size_t(count) * dtypeSize(from));
    return;
  }
  if (to == DType::F32) {
    convertToF32(from, src, reinterpret_cast<float *>(dst), count);
    return;
  }
  std::vector<float> wide(static_cast<size_t>(count));
  convertToF32(from, src, wide.data(), count);
  for (int64_t i = 0; i < count; ++i) {
    uint16_t bits =
        to == DType::BF16 ? floatToBF16(wide[i]) : floatToHalf(wide[i]);
    std::memcpy(dst + 2 * i, &bits, 2);
  }
}

} // namespace llamart
