//===- SafeTensorsWriter.cpp - writing safetensors files ------------------===//

#include "runtime/SafeTensorsWriter.h"

#include "runtime/Error.h"
#include "runtime/ModelConfig.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace llamart {
namespace {

std::string jsonString(const std::string &text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + "\"";
}

/// Writes through `path`.tmp and renames it over `path`.
template <typename WriteFn>
void writeAtomically(const std::string &path, WriteFn write) {
  std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out)
      throw RuntimeError("cannot write '" + temp +
                         "': " + std::strerror(errno));
    write(out);
    out.flush();
    if (!out)
      throw RuntimeError("cannot write '" + temp + "'");
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0)
    throw RuntimeError("cannot rename '" + temp + "' to '" + path +
                       "': " + std::strerror(errno));
}

} // namespace

void writeFileAtomically(const std::string &path, const std::string &text) {
  writeAtomically(path, [&](std::ofstream &out) { out << text; });
}

void writeSafeTensors(const std::string &path,
                      const std::vector<TensorToWrite> &tensors,
                      const std::map<std::string, std::string> &metadata) {
  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto &[key, value] : metadata) {
      header += (first ? "" : ",") + jsonString(key) + ":" + jsonString(value);
      first = false;
    }
    header += "},";
  }
  uint64_t offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorToWrite &tensor = tensors[i];
    uint64_t bytes = uint64_t(llama_abi::elementCount(tensor.shape)) * 4;
    header += (i ? "," : "") + jsonString(tensor.name) +
              ":{\"dtype\":\"F32\",\"shape\":[";
    for (size_t d = 0; d < tensor.shape.size(); ++d)
      header += (d ? "," : "") + std::to_string(tensor.shape[d]);
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + bytes) + "]}";
    offset += bytes;
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' '); // data 8-byte aligned
  writeAtomically(path, [&](std::ofstream &out) {
    uint64_t size = header.size();
    out.write(reinterpret_cast<const char *>(&size), 8);
    out.write(header.data(), std::streamsize(header.size()));
    for (const TensorToWrite &tensor : tensors)
      out.write(reinterpret_cast<const char *>(tensor.data),
                std::streamsize(llama_abi::elementCount(tensor.shape) * 4));
  });
}

} // namespace llamart
