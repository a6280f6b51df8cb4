//===- SafeTensors.cpp - reading safetensors checkpoints ------------------===//

#include "runtime/SafeTensors.h"

#include "runtime/Error.h"
#include "runtime/Json.h"
#include "runtime/ModelConfig.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <set>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace llamart {

MappedFile::MappedFile(const std::string &path) : filePath(path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0)
    throw RuntimeError("cannot open '" + path + "': " + std::strerror(errno));
  struct stat info;
  if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    throw RuntimeError("'" + path + "' is not a regular file");
  }
  length = static_cast<size_t>(info.st_size);
  if (length > 0) {
    // Populated: the pages are read and mapped here, at load, rather than
    // faulted in one by one by the first forward pass (as llama.cpp does).
    void *mapped =
        mmap(nullptr, length, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (mapped == MAP_FAILED) {
      ::close(fd);
      throw RuntimeError("cannot map '" + path + "': " + std::strerror(errno));
    }
    bytes = static_cast<const uint8_t *>(mapped);
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (bytes)
    munmap(const_cast<uint8_t *>(bytes), length);
}

int64_t TensorView::numElements() const {
  return llama_abi::elementCount(shape);
}

namespace {

bool isDirectory(const std::string &path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

bool exists(const std::string &path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0;
}

std::string readFile(const std::string &path) {
  MappedFile file(path);
  return std::string(reinterpret_cast<const char *>(file.data()), file.size());
}

DType parseDType(const std::string &name, const std::string &where) {
  if (name == "F32")
    return DType::F32;
  if (name == "BF16")
    return DType::BF16;
  if (name == "F16")
    return DType::F16;
  throw RuntimeError(where + ": dtype " + name +
                     " is not supported (F32, BF16 or F16)");
}

} // namespace

void SafeTensors::addFile(const std::string &path) {
  auto file = std::make_shared<MappedFile>(path);
  files.push_back(file);
  if (file->size() < 8)
    throw RuntimeError(path + ": truncated safetensors file (" +
                       std::to_string(file->size()) + " bytes, no header)");
  uint64_t headerSize = 0;
  std::memcpy(&headerSize, file->data(), 8); // little-endian, as x86
  if (headerSize > file->size() - 8)
    throw RuntimeError(path + ": header of " + std::to_string(headerSize) +
                       " bytes runs past the end of the file (" +
                       std::to_string(file->size()) + " bytes)");
  std::string_view headerText(reinterpret_cast<const char *>(file->data()) + 8,
                              headerSize);
  JsonValue header = parseJson(headerText, path);
  if (!header.isObject())
    throw RuntimeError(path + ": the header is not a JSON object");

  const uint8_t *dataStart = file->data() + 8 + headerSize;
  uint64_t dataSize = file->size() - 8 - headerSize;
  for (const auto &[name, entry] : header.object) {
    if (name == "__metadata__") {
      for (const auto &[key, value] : entry.object)
        if (value.isString())
          meta[key] = value.string;
      continue;
    }
    std::string where = path + ": tensor '" + name + "'";
    const JsonValue *dtype = entry.find("dtype");
    const JsonValue *shape = entry.find("shape");
    const JsonValue *offsets = entry.find("data_offsets");
    if (!entry.isObject() || !dtype || !dtype->isString() || !shape ||
        !shape->isArray() || !offsets || !offsets->isArray() ||
        offsets->array.size() != 2)
      throw RuntimeError(where + " needs dtype, shape and data_offsets");
    TensorView view{name, parseDType(dtype->string, where), {}, nullptr, path};
    uint64_t count = 1;
    for (const JsonValue &size : shape->array) {
      if (!size.isNumber() || !size.isInteger || size.integer < 0 ||
          size.integer > (int64_t(1) << 40))
        throw RuntimeError(where + " has an invalid shape");
      view.shape.push_back(size.integer);
      count *= uint64_t(size.integer);
    }
    const JsonValue &begin = offsets->array[0], &end = offsets->array[1];
    if (!begin.isInteger || !end.isInteger || begin.integer < 0 ||
        end.integer < begin.integer)
      throw RuntimeError(where + " has invalid data_offsets");
    if (uint64_t(end.integer) > dataSize)
      throw RuntimeError(where + " ends at byte " +
                         std::to_string(end.integer) + " of the data, past " +
                         "the end of the file (" + std::to_string(dataSize) +
                         " data bytes): the file is truncated or corrupt");
    if (uint64_t(end.integer - begin.integer) != count * dtypeSize(view.dtype))
      throw RuntimeError(where + " holds " +
                         std::to_string(end.integer - begin.integer) +
                         " bytes but its shape and dtype need " +
                         std::to_string(count * dtypeSize(view.dtype)));
    view.data = dataStart + begin.integer;
    if (!byName.emplace(name, std::move(view)).second)
      throw RuntimeError(where + " appears in more than one file");
  }
}

SafeTensors SafeTensors::open(const std::string &path) {
  SafeTensors checkpoint;
  if (!isDirectory(path)) {
    checkpoint.addFile(path);
    return checkpoint;
  }
  checkpoint.dir = path;
  std::string index = path + "/model.safetensors.index.json";
  if (exists(index)) {
    JsonValue json = parseJson(readFile(index), index);
    const JsonValue *map = json.find("weight_map");
    if (!map || !map->isObject())
      throw RuntimeError(index + ": no weight_map object");
    std::set<std::string> shards;
    for (const auto &[name, shard] : map->object) {
      if (!shard.isString() || shard.string.find('/') != std::string::npos)
        throw RuntimeError(index + ": tensor '" + name +
                           "' names an invalid shard");
      shards.insert(shard.string);
    }
    for (const std::string &shard : shards)
      checkpoint.addFile(path + "/" + shard);
    for (const auto &[name, shard] : map->object)
      if (!checkpoint.find(name))
        throw RuntimeError(index + ": tensor '" + name + "' is not in " +
                           shard.string);
    return checkpoint;
  }
  std::string single = path + "/model.safetensors";
  if (!exists(single))
    throw RuntimeError("directory '" + path + "' holds neither " +
                       "model.safetensors nor model.safetensors.index.json");
  checkpoint.addFile(single);
  return checkpoint;
}

const TensorView *SafeTensors::find(const std::string &name) const {
  auto it = byName.find(name);
  return it == byName.end() ? nullptr : &it->second;
}

} // namespace llamart
