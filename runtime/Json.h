//===- Json.h - a small JSON reader -----------------------------*- C++ -*-===//
//
// Enough JSON for safetensors headers, index files, artifact manifests and
// the tools' JSONL, without pulling LLVM into the runtime.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_RUNTIME_JSON_H
#define LLAMAC_RUNTIME_JSON_H

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace llamart {

class JsonValue {
public:
  enum class Kind { Null, Bool, Number, String, Array, Object };

  Kind kind = Kind::Null;
  bool boolean = false;
  double number = 0;
  bool isInteger = false; // written without fraction or exponent
  int64_t integer = 0;
  std::string string;
  std::vector<JsonValue> array;
  std::map<std::string, JsonValue> object;

  bool isObject() const { return kind == Kind::Object; }
  bool isArray() const { return kind == Kind::Array; }
  bool isString() const { return kind == Kind::String; }
  bool isNumber() const { return kind == Kind::Number; }
  bool isBool() const { return kind == Kind::Bool; }

  /// The member `key` of an object, or null when absent.
  const JsonValue *find(const std::string &key) const;
};

/// Parses `text`; throws RuntimeError naming `source` on malformed input.
JsonValue parseJson(std::string_view text, const std::string &source);

/// Calls `record(value, where)` for each non-blank line of the JSONL file
/// at `path`, `where` naming it ("FILE:LINE") for errors. Throws
/// RuntimeError "cannot read WHAT 'PATH'" when the file cannot be opened,
/// and on a malformed line.
void forEachJsonLine(
    const std::string &path, const std::string &what,
    const std::function<void(const JsonValue &, const std::string &)> &record);

/// `text` as a JSON string literal, quotes included (tools write JSONL).
std::string quoteJson(const std::string &text);

} // namespace llamart

#endif // LLAMAC_RUNTIME_JSON_H
