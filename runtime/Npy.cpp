//===- Npy.cpp - writing NumPy .npy files ---------------------------------===//

#include "runtime/Npy.h"

#include "runtime/Error.h"

#include <cerrno>
#include <cstring>
#include <fstream>

namespace llamart {

void writeNpy(const std::string &path, const std::vector<float> &data,
              int64_t rows, int64_t cols) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" +
                       std::to_string(rows) + ", " + std::to_string(cols) +
                       "), }";
  // magic (6) + version (2) + length (2) + header + '\n', 64-byte aligned.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  if (!out)
    throw RuntimeError("cannot write '" + path + "': " + std::strerror(errno));
  uint16_t length = uint16_t(header.size());
  out.write("\x93NUMPY\x01\x00", 8);
  out.write(reinterpret_cast<const char *>(&length), 2);
  out.write(header.data(), std::streamsize(header.size()));
  out.write(reinterpret_cast<const char *>(data.data()),
            std::streamsize(data.size() * sizeof(float)));
  if (!out)
    throw RuntimeError("cannot write '" + path + "'");
}

} // namespace llamart
