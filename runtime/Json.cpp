//===- Json.cpp - a small JSON reader -------------------------------------===//

#include "runtime/Json.h"

#include "runtime/Error.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace llamart {
namespace {

class Parser {
public:
  Parser(std::string_view text, const std::string &source)
      : text(text), source(source) {}

  JsonValue parseDocument() {
    JsonValue value = parseValue(0);
    skipSpace();
    if (pos != text.size())
      fail("unexpected text after the JSON value");
    return value;
  }

private:
  static constexpr int kMaxDepth = 64;

  [[noreturn]] void fail(const std::string &what) {
    throw RuntimeError(source + ": invalid JSON at byte " +
                       std::to_string(pos) + ": " + what);
  }

  void skipSpace() {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\n' ||
                                 text[pos] == '\r' || text[pos] == '\t'))
      ++pos;
  }

  bool consume(char c) {
    skipSpace();
    if (pos < text.size() && text[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  }

  void expect(char c) {
    if (!consume(c))
      fail(std::string("expected '") + c + "'");
  }

  bool consumeWord(std::string_view word) {
    if (text.substr(pos, word.size()) != word)
      return false;
    pos += word.size();
    return true;
  }

  JsonValue parseValue(int depth) {
    if (depth > kMaxDepth)
      fail("nested too deeply");
    skipSpace();
    if (pos >= text.size())
      fail("unexpected end of input");
    JsonValue value;
    char c = text[pos];
    if (c == '{') {
      ++pos;
      value.kind = JsonValue::Kind::Object;
      if (consume('}'))
        return value;
      do {
        skipSpace();
        if (pos >= text.size() || text[pos] != '"')
          fail("expected a string key");
        std::string key = parseString();
        expect(':');
        value.object[key] = parseValue(depth + 1);
      } while (consume(','));
      expect('}');
    } else if (c == '[') {
      ++pos;
      value.kind = JsonValue::Kind::Array;
      if (consume(']'))
        return value;
      do
        value.array.push_back(parseValue(depth + 1));
      while (consume(','));
      expect(']');
    } else if (c == '"') {
      value.kind = JsonValue::Kind::String;
      value.string = parseString();
    } else if (consumeWord("true") || consumeWord("false")) {
      value.kind = JsonValue::Kind::Bool;
      value.boolean = c == 't';
    } else if (consumeWord("null")) {
      value.kind = JsonValue::Kind::Null;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      parseNumber(value);
    } else {
      fail(std::string("unexpected character '") + c + "'");
    }
    return value;
  }

  void parseNumber(JsonValue &value) {
    size_t start = pos;
    if (text[pos] == '-')
      ++pos;
    bool integral = true;
    while (pos < text.size()) {
      char c = text[pos];
      if (c == '.' || c == 'e' || c == 'E' || c == '+' ||
          (c == '-' && pos > start))
        integral = false;
      else if (c < '0' || c > '9')
        break;
      ++pos;
    }
    std::string digits(text.substr(start, pos - start));
    char *end = nullptr;
    value.kind = JsonValue::Kind::Number;
    value.number = std::strtod(digits.c_str(), &end);
    if (end != digits.c_str() + digits.size() || digits == "-")
      fail("malformed number '" + digits + "'");
    if (integral) {
      errno = 0;
      value.integer = std::strtoll(digits.c_str(), nullptr, 10);
      value.isInteger = errno == 0;
    }
  }

  void appendUtf8(std::string &out, uint32_t code) {
    if (code < 0x80) {
      out += char(code);
    } else if (code < 0x800) {
      out += char(0xC0 | (code >> 6));
      out += char(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      out += char(0xE0 | (code >> 12));
      out += char(0x80 | ((code >> 6) & 0x3F));
      out += char(0x80 | (code & 0x3F));
    } else {
      out += char(0xF0 | (code >> 18));
      out += char(0x80 | ((code >> 12) & 0x3F));
      out += char(0x80 | ((code >> 6) & 0x3F));
      out += char(0x80 | (code & 0x3F));
    }
  }

  uint32_t parseHex4() {
    if (pos + 4 > text.size())
      fail("truncated \\u escape");
    uint32_t code = 0;
    for (int i = 0; i < 4; ++i) {
      char h = text[pos++];
      code <<= 4;
      if (h >= '0' && h <= '9')
        code |= h - '0';
      else if (h >= 'a' && h <= 'f')
        code |= h - 'a' + 10;
      else if (h >= 'A' && h <= 'F')
        code |= h - 'A' + 10;
      else
        fail("bad \\u escape");
    }
    return code;
  }

  std::string parseString() {
    ++pos; // the opening quote
    std::string out;
    while (true) {
      if (pos >= text.size())
        fail("unterminated string");
      char c = text[pos++];
      if (c == '"')
        return out;
      if (static_cast<unsigned char>(c) < 0x20)
        fail("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos >= text.size())
        fail("unterminated escape");
      char e = text[pos++];
      switch (e) {
      case '"':
      case '\\':
      case '/':
        out += e;
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        uint32_t code = parseHex4();
        if (code >= 0xD800 && code < 0xDC00 && text.substr(pos, 2) == "\\u") {
          pos += 2;
          uint32_t low = parseHex4();
          code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
        }
        appendUtf8(out, code);
        break;
      }
      default:
        fail(std::string("bad escape '\\") + e + "'");
      }
    }
  }

  std::string_view text;
  const std::string &source;
  size_t pos = 0;
};

} // namespace

const JsonValue *JsonValue::find(const std::string &key) const {
  auto it = object.find(key);
  return it == object.end() ? nullptr : &it->second;
}

JsonValue parseJson(std::string_view text, const std::string &source) {
  return Parser(text, source).parseDocument();
}

void forEachJsonLine(
    const std::string &path, const std::string &what,
    const std::function<void(const JsonValue &, const std::string &)> &record) {
  std::ifstream in(path);
  if (!in)
    throw RuntimeError("cannot read " + what + " '" + path + "'");
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    std::string where = path + ":" + std::to_string(number);
    record(parseJson(line, where), where);
  }
}

std::string quoteJson(const std::string &text) {
  std::string quoted = "\"";
  for (unsigned char c : text) {
    switch (c) {
    case '"':
      quoted += "\\\"";
      break;
    case '\\':
      quoted += "\\\\";
      break;
    case '\n':
      quoted += "\\n";
      break;
    case '\r':
      quoted += "\\r";
      break;
    case '\t':
      quoted += "\\t";
      break;
    default:
      if (c < 0x20) {
        char escape[8];
        std::snprintf(escape, sizeof escape, "\\u%04x", c);
        quoted += escape;
      } else {
        quoted += char(c);
      }
    }
  }
  return quoted + "\"";
}

} // namespace llamart
