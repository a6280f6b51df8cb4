//===- fuzz_npy.cpp - the .npy reader -------------------------------------===//
//
// Any bytes as an int32 and as a uint8 .npy file: a matrix whose data
// matches its shape, or one RuntimeError.
//
//===----------------------------------------------------------------------===//

#include "FuzzInput.h"
#include "runtime/Error.h"
#include "runtime/Npy.h"

#include <cstdlib>

using namespace llamart;

template <typename Matrix> void checkShape(const Matrix &matrix) {
  if (matrix.rows < 0 || matrix.cols < 0 ||
      int64_t(matrix.data.size()) != matrix.rows * matrix.cols)
    std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string path = writeFuzzInput(data, size, "rows.npy");
  try {
    checkShape(readNpyInt32(path));
  } catch (const RuntimeError &) {
  }
  try {
    checkShape(readNpyUInt8(path));
  } catch (const RuntimeError &) {
  }
  return 0;
}
