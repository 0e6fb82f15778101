// spak/runtime/json.h — a minimal, strict JSON reader/writer helper, enough for safetensors headers and metadata.
//
// parse_json(text, what) returns a JsonValue tree (objects keep key order, duplicate keys are an error, nesting is
// limited to 64 levels so hostile input cannot overflow the stack). Integers are kept exact (int64) next to their
// double value. Errors are spak::rt::Error naming `what` and the byte offset. json_quote() escapes a string.
//
//   JsonValue v = parse_json(R"({"a": [1, 2], "b": "x"})", "header of 'm.safetensors'");
//   int64_t one = v.at("a").items.at(0).as_int("a[0]");
#pragma once

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "spak/runtime/check.h"

namespace spak::rt {

struct JsonValue {
  enum Kind { Null, Bool, Number, String, Array, Object };
  Kind kind = Null;
  bool boolean = false;
  double number = 0.0;
  bool is_integer = false;  // the literal had no fraction/exponent and fits int64
  int64_t integer = 0;
  std::string str;
  std::vector<JsonValue> items;                              // Array
  std::vector<std::pair<std::string, JsonValue>> members;    // Object, in file order

  const JsonValue* find(const std::string& key) const {
    for (const auto& m : members)
      if (m.first == key) return &m.second;
    return nullptr;
  }
  const JsonValue& at(const std::string& key) const {
    const JsonValue* v = find(key);
    if (!v) fail(cat("missing JSON key '", key, "'"));
    return *v;
  }
  int64_t as_int(const std::string& what) const {
    SPAK_CHECK(kind == Number && is_integer, what, " must be an integer");
    return integer;
  }
  const std::string& as_string(const std::string& what) const {
    SPAK_CHECK(kind == String, what, " must be a string");
    return str;
  }
};

namespace detail {

class JsonParser {
public:
  JsonParser(const std::string& text, std::string what) : s_(text), what_(std::move(what)) {}

  JsonValue parse_document() {
    JsonValue v = parse_value(0);
    skip_ws();
    if (pos_ != s_.size()) error("unexpected trailing characters");
    return v;
  }

private:
  [[noreturn]] void error(const std::string& msg) const {
    fail(cat("invalid JSON in ", what_, " at byte ", pos_, ": ", msg));
  }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool consume(char c) {
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!consume(c)) error(cat("expected '", c, "'"));
  }
  bool literal(const char* word) {
    size_t n = std::char_traits<char>::length(word);
    if (s_.compare(pos_, n, word) == 0) {
      pos_ += n;
      return true;
    }
    return false;
  }

  JsonValue parse_value(int depth) {
    if (depth > 64) error("nesting deeper than 64 levels");
    skip_ws();
    if (pos_ >= s_.size()) error("unexpected end of input");
    JsonValue v;
    char c = s_[pos_];
    if (c == '{') {
      ++pos_;
      v.kind = JsonValue::Object;
      if (consume('}')) return v;
      do {
        skip_ws();
        if (pos_ >= s_.size() || s_[pos_] != '"') error("expected a string key");
        std::string key = parse_string();
        for (const auto& m : v.members)
          if (m.first == key) error(cat("duplicate key '", key, "'"));
        expect(':');
        v.members.emplace_back(std::move(key), parse_value(depth + 1));
      } while (consume(','));
      expect('}');
    } else if (c == '[') {
      ++pos_;
      v.kind = JsonValue::Array;
      if (consume(']')) return v;
      do v.items.push_back(parse_value(depth + 1));
      while (consume(','));
      expect(']');
    } else if (c == '"') {
      v.kind = JsonValue::String;
      v.str = parse_string();
    } else if (literal("true")) {
      v.kind = JsonValue::Bool;
      v.boolean = true;
    } else if (literal("false")) {
      v.kind = JsonValue::Bool;
    } else if (literal("null")) {
      v.kind = JsonValue::Null;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      parse_number(v);
    } else {
      error(cat("unexpected character '", c, "'"));
    }
    return v;
  }

  void parse_number(JsonValue& v) {
    size_t start = pos_;
    bool integral = true;
    if (s_[pos_] == '-') ++pos_;
    auto digits = [&] {
      size_t d = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      if (pos_ == d) error("malformed number");
    };
    if (pos_ < s_.size() && s_[pos_] == '0') ++pos_; else digits();
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      integral = false;
      digits();
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      integral = false;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      digits();
    }
    std::string lit = s_.substr(start, pos_ - start);
    v.kind = JsonValue::Number;
    v.number = std::strtod(lit.c_str(), nullptr);
    if (integral) {
      errno = 0;
      char* end = nullptr;
      long long x = std::strtoll(lit.c_str(), &end, 10);
      if (errno == 0 && end && *end == '\0') {
        v.is_integer = true;
        v.integer = x;
      }
    }
  }

  static void put_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += char(cp);
    } else if (cp < 0x800) {
      out += char(0xC0 | (cp >> 6));
      out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += char(0xE0 | (cp >> 12));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    } else {
      out += char(0xF0 | (cp >> 18));
      out += char(0x80 | ((cp >> 12) & 0x3F));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    }
  }

  uint32_t hex4() {
    if (pos_ + 4 > s_.size()) error("truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= uint32_t(c - '0');
      else if (c >= 'a' && c <= 'f') v |= uint32_t(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= uint32_t(c - 'A' + 10);
      else error("bad hex digit in \\u escape");
    }
    return v;
  }

  std::string parse_string() {
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      if (pos_ >= s_.size()) error("unterminated string");
      char c = s_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) error("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) error("unterminated escape");
      char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00) {
            if (!(pos_ + 1 < s_.size() && s_[pos_] == '\\' && s_[pos_ + 1] == 'u')) error("lone surrogate");
            pos_ += 2;
            uint32_t lo = hex4();
            if (lo < 0xDC00 || lo >= 0xE000) error("bad surrogate pair");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            error("lone surrogate");
          }
          put_utf8(out, cp);
          break;
        }
        default: error(cat("bad escape '\\", e, "'"));
      }
    }
  }

  const std::string& s_;
  std::string what_;
  size_t pos_ = 0;
};

}  // namespace detail

// Parses a complete JSON document; `what` names the source in error messages.
inline JsonValue parse_json(const std::string& text, const std::string& what) {
  return detail::JsonParser(text, what).parse_document();
}

// A JSON string literal for s (quotes included), escaping quotes, backslashes and control characters.
inline std::string json_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

// A JSON number for x with enough digits to round-trip a double; NaN/Infinity as Python's json module writes them.
inline std::string json_number(double x) {
  if (std::isnan(x)) return "NaN";
  if (std::isinf(x)) return x > 0 ? "Infinity" : "-Infinity";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}

}  // namespace spak::rt
