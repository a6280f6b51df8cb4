//===- Shape.h - tensor shapes ----------------------------------*- C++ -*-===//
#ifndef LLAMAC_RUNTIME_SHAPE_H
#define LLAMAC_RUNTIME_SHAPE_H

#include <cstdint>
#include <vector>

namespace llamart {

/// The number of elements of a tensor of this shape.
inline int64_t elementCount(const std::vector<int64_t> &shape) {
  int64_t count = 1;
  for (int64_t size : shape)
    count *= size;
  return count;
}

} // namespace llamart

#endif // LLAMAC_RUNTIME_SHAPE_H
