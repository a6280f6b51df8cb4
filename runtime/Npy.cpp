//===- Npy.cpp - writing NumPy .npy files ---------------------------------===//

#include "runtime/Npy.h"

#include "runtime/Error.h"

#include <cerrno>
#include <cstdio>
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

namespace {

template <typename T>
NpyMatrix<T> readNpy(const std::string &path, const std::string &descr) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw RuntimeError("cannot read '" + path + "': " + std::strerror(errno));
  char magic[8];
  uint16_t headerLength = 0;
  in.read(magic, 8);
  in.read(reinterpret_cast<char *>(&headerLength), 2);
  if (!in || std::string(magic, 6) != "\x93NUMPY" || magic[6] != 1)
    throw RuntimeError(path + ": not a version 1 .npy file");
  std::string header(headerLength, ' ');
  in.read(header.data(), headerLength);
  auto field = [&](const std::string &key) {
    size_t at = header.find("'" + key + "':");
    if (at == std::string::npos)
      throw RuntimeError(path + ": .npy header lacks " + key);
    return header.substr(at + key.size() + 3);
  };
  if (field("descr").find("'" + descr + "'") > 1) // after an optional space
    throw RuntimeError(path + ": expected dtype " + descr + " in " + header);
  if (field("fortran_order").find("False") > 1)
    throw RuntimeError(path + ": Fortran-ordered arrays are not supported");
  std::string shape = field("shape");
  long long rows = 0, cols = 0;
  char close = 0;
  if (std::sscanf(shape.c_str(), " (%lld, %lld %c", &rows, &cols, &close) !=
          3 ||
      close != ')' || rows < 0 || cols <= 0)
    throw RuntimeError(path + ": expected a 2-D array, header " + header);
  // Check the shape against the bytes the file holds before allocating
  // (and without overflowing rows * cols).
  std::streamoff dataStart = in.tellg();
  in.seekg(0, std::ios::end);
  std::streamoff available = in.tellg() - dataStart;
  in.seekg(dataStart);
  if (!in || dataStart < 0 ||
      rows > (available / std::streamoff(sizeof(T))) / cols)
    throw RuntimeError(path + ": truncated (" + std::to_string(rows) + " x " +
                       std::to_string(cols) + " expected)");
  NpyMatrix<T> matrix{rows, cols, std::vector<T>(size_t(rows * cols))};
  in.read(reinterpret_cast<char *>(matrix.data.data()),
          std::streamsize(matrix.data.size() * sizeof(T)));
  if (!in)
    throw RuntimeError(path + ": truncated (" + std::to_string(rows) + " x " +
                       std::to_string(cols) + " expected)");
  return matrix;
}

} // namespace

NpyMatrix<int32_t> readNpyInt32(const std::string &path) {
  return readNpy<int32_t>(path, "<i4");
}

NpyMatrix<uint8_t> readNpyUInt8(const std::string &path) {
  return readNpy<uint8_t>(path, "|u1");
}

} // namespace llamart
