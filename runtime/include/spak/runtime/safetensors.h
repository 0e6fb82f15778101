// spak/runtime/safetensors.h — read and write the safetensors format (https://github.com/huggingface/safetensors).
//
// Layout: 8-byte little-endian header length N, N bytes of JSON header, then the data buffer. The header maps each
// tensor name to {"dtype": "F32", "shape": [27, 16], "data_offsets": [begin, end]} (offsets relative to the data
// buffer) and may hold "__metadata__": {string: string}. The reader validates everything (header bounds, JSON, dtype,
// byte counts, offsets inside the buffer, no overlaps or holes) and reports corrupt files by path; it converts F32,
// F64, BF16 and F16 tensors to float. The writer writes F32 (or any dtype given raw bytes) atomically.
//
//   auto st = spak::rt::SafetensorsReader::open("init.safetensors");
//   st.read_floats("wte", {27, 16}, dst);              // error on a missing tensor or a wrong shape
//   spak::rt::SafetensorsWriter w;
//   w.set_metadata("step", "1000");
//   w.add_f32("wte", {27, 16}, src);                   // borrows src until write()
//   w.write("out.safetensors");                        // out.safetensors.tmp.<pid> + fsync + rename
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "spak/runtime/arena.h"
#include "spak/runtime/check.h"
#include "spak/runtime/io.h"
#include "spak/runtime/json.h"

namespace spak::rt {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL };

inline const char* dtype_name(DType d) {
  switch (d) {
    case DType::F64: return "F64";
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I64: return "I64";
    case DType::I32: return "I32";
    case DType::I16: return "I16";
    case DType::I8: return "I8";
    case DType::U64: return "U64";
    case DType::U32: return "U32";
    case DType::U16: return "U16";
    case DType::U8: return "U8";
    case DType::BOOL: return "BOOL";
  }
  return "?";
}

inline size_t dtype_size(DType d) {
  switch (d) {
    case DType::F64: case DType::I64: case DType::U64: return 8;
    case DType::F32: case DType::I32: case DType::U32: return 4;
    case DType::F16: case DType::BF16: case DType::I16: case DType::U16: return 2;
    case DType::I8: case DType::U8: case DType::BOOL: return 1;
  }
  return 0;
}

inline bool parse_dtype(const std::string& s, DType& out) {
  static const DType all[] = {DType::F64, DType::F32, DType::F16, DType::BF16, DType::I64, DType::I32, DType::I16,
                              DType::I8,  DType::U64, DType::U32, DType::U16, DType::U8,  DType::BOOL};
  for (DType d : all)
    if (s == dtype_name(d)) {
      out = d;
      return true;
    }
  return false;
}

inline float bf16_to_float(uint16_t h) {
  uint32_t bits = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

inline float f16_to_float(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else {  // subnormal: renormalize
      int e = -1;
      do {
        ++e;
        man <<= 1;
      } while ((man & 0x400u) == 0);
      bits = sign | (uint32_t(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (man << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

namespace detail {
inline bool host_is_little_endian() {
  const uint16_t one = 1;
  unsigned char b;
  std::memcpy(&b, &one, 1);
  return b == 1;
}
}  // namespace detail

struct StTensor {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  size_t begin = 0, end = 0;  // byte offsets in the data buffer
  size_t numel() const { return shape_numel(shape); }
};

class SafetensorsReader {
public:
  // Reads and validates the whole file. Errors: missing file, truncated/corrupt header, bad offsets.
  static SafetensorsReader open(const std::string& path) {
    SPAK_CHECK(detail::host_is_little_endian(), "safetensors I/O needs a little-endian host");
    SafetensorsReader r;
    r.path_ = path;
    r.file_ = read_file(path);
    r.parse();
    return r;
  }

  const std::string& path() const { return path_; }
  const std::vector<StTensor>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // A metadata value, or `fallback` when the key is absent.
  std::string meta(const std::string& key, const std::string& fallback = "") const {
    auto it = metadata_.find(key);
    return it == metadata_.end() ? fallback : it->second;
  }

  const StTensor* find(const std::string& name) const {
    for (const auto& t : tensors_)
      if (t.name == name) return &t;
    return nullptr;
  }

  const StTensor& at(const std::string& name) const {
    const StTensor* t = find(name);
    if (!t) {
      std::string have;
      for (size_t i = 0; i < tensors_.size() && i < 12; ++i) have += cat(i ? ", " : "", tensors_[i].name);
      if (tensors_.size() > 12) have += ", ...";
      fail(cat("'", path_, "' has no tensor '", name, "' (it has: ", have.empty() ? "none" : have, ")"));
    }
    return *t;
  }

  // The raw little-endian bytes of a tensor.
  const uint8_t* bytes(const StTensor& t) const {
    return reinterpret_cast<const uint8_t*>(file_.data()) + data_start_ + t.begin;
  }

  // Converts tensor `name` (F32, F64, BF16 or F16) to float into dst[numel]; its shape must equal expected_shape.
  void read_floats(const std::string& name, const std::vector<int64_t>& expected_shape, float* dst) const {
    const StTensor& t = at(name);
    SPAK_CHECK(t.shape == expected_shape, "tensor '", name, "' in '", path_, "' has shape ", shape_str(t.shape),
               ", expected ", shape_str(expected_shape));
    convert_to_float(t, dst);
  }

  // Tensor `name` as floats, whatever its (float) shape.
  std::vector<float> floats(const std::string& name) const {
    const StTensor& t = at(name);
    std::vector<float> out(t.numel());
    convert_to_float(t, out.data());
    return out;
  }

  // Tensor `name` as uint32 words; it must have dtype U32 (used for RNG states in checkpoints).
  std::vector<uint32_t> u32(const std::string& name) const {
    const StTensor& t = at(name);
    SPAK_CHECK(t.dtype == DType::U32, "tensor '", name, "' in '", path_, "' has dtype ", dtype_name(t.dtype),
               ", expected U32");
    std::vector<uint32_t> out(t.numel());
    if (!out.empty()) std::memcpy(out.data(), bytes(t), out.size() * 4);
    return out;
  }

private:
  void convert_to_float(const StTensor& t, float* dst) const {
    const uint8_t* p = bytes(t);
    size_t n = t.numel();
    switch (t.dtype) {
      case DType::F32: if (n) std::memcpy(dst, p, n * 4); break;
      case DType::F64:
        for (size_t i = 0; i < n; ++i) {
          double d;
          std::memcpy(&d, p + 8 * i, 8);
          dst[i] = float(d);
        }
        break;
      case DType::BF16:
      case DType::F16:
        for (size_t i = 0; i < n; ++i) {
          uint16_t h;
          std::memcpy(&h, p + 2 * i, 2);
          dst[i] = t.dtype == DType::BF16 ? bf16_to_float(h) : f16_to_float(h);
        }
        break;
      default:
        fail(cat("tensor '", t.name, "' in '", path_, "' has dtype ", dtype_name(t.dtype),
                 "; expected a float dtype (F32, F64, BF16, F16)"));
    }
  }

  [[noreturn]] void corrupt(const std::string& why) const {
    fail(cat("'", path_, "' is not a valid safetensors file: ", why));
  }

  void parse() {
    if (file_.size() < 8) corrupt(cat("only ", file_.size(), " bytes, shorter than the 8-byte header length"));
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(file_[size_t(i)]);
    if (n > file_.size() - 8) corrupt(cat("header length ", n, " exceeds the file size ", file_.size()));
    data_start_ = 8 + size_t(n);
    size_t data_size = file_.size() - data_start_;
    JsonValue h = parse_json(file_.substr(8, size_t(n)), cat("the header of '", path_, "'"));
    if (h.kind != JsonValue::Object) corrupt("the header is not a JSON object");
    for (const auto& m : h.members) {
      if (m.first == "__metadata__") {
        if (m.second.kind != JsonValue::Object) corrupt("__metadata__ is not an object");
        for (const auto& kv : m.second.members) {
          if (kv.second.kind != JsonValue::String) corrupt(cat("metadata value '", kv.first, "' is not a string"));
          metadata_[kv.first] = kv.second.str;
        }
        continue;
      }
      const JsonValue& e = m.second;
      std::string where = cat("tensor '", m.first, "'");
      if (e.kind != JsonValue::Object) corrupt(where + " is not an object");
      const JsonValue* dt = e.find("dtype");
      const JsonValue* sh = e.find("shape");
      const JsonValue* off = e.find("data_offsets");
      if (!dt || !sh || !off) corrupt(where + " lacks dtype, shape or data_offsets");
      StTensor t;
      t.name = m.first;
      if (dt->kind != JsonValue::String || !parse_dtype(dt->str, t.dtype))
        corrupt(cat(where, " has an unknown dtype ", dt->kind == JsonValue::String ? dt->str : "(not a string)"));
      if (sh->kind != JsonValue::Array) corrupt(where + ": shape is not an array");
      uint64_t numel = 1;
      for (const auto& d : sh->items) {
        if (d.kind != JsonValue::Number || !d.is_integer || d.integer < 0)
          corrupt(where + ": shape holds a non-integer or negative dimension");
        t.shape.push_back(d.integer);
        if (d.integer != 0 && numel > (uint64_t(1) << 58) / uint64_t(d.integer)) corrupt(where + ": shape too large");
        numel *= uint64_t(d.integer);
      }
      if (off->kind != JsonValue::Array || off->items.size() != 2 || !off->items[0].is_integer ||
          !off->items[1].is_integer || off->items[0].integer < 0 || off->items[1].integer < off->items[0].integer)
        corrupt(where + ": data_offsets must be [begin, end] with 0 <= begin <= end");
      t.begin = size_t(off->items[0].integer);
      t.end = size_t(off->items[1].integer);
      if (t.end > data_size)
        corrupt(cat(where, ": data_offsets end ", t.end, " is past the data buffer (", data_size, " bytes)"));
      if (t.end - t.begin != numel * dtype_size(t.dtype))
        corrupt(cat(where, ": ", t.end - t.begin, " bytes for ", numel, " ", dtype_name(t.dtype), " elements (",
                    numel * dtype_size(t.dtype), " expected)"));
      tensors_.push_back(std::move(t));
    }
    // The buffer must be covered exactly, without overlaps or holes (as the reference implementation requires).
    std::vector<const StTensor*> by_offset;
    for (const auto& t : tensors_) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(), [](const StTensor* a, const StTensor* b) {
      return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    size_t cursor = 0;
    for (const StTensor* t : by_offset) {
      if (t->begin != cursor)
        corrupt(cat("tensor '", t->name, "' starts at byte ", t->begin, " but the previous one ends at ", cursor,
                    t->begin < cursor ? " (overlap)" : " (hole)"));
      cursor = t->end;
    }
    if (cursor != data_size) corrupt(cat("the tensors cover ", cursor, " of ", data_size, " data bytes"));
  }

  std::string path_;
  std::string file_;
  size_t data_start_ = 0;
  std::vector<StTensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

class SafetensorsWriter {
public:
  // Adds a tensor whose bytes (little-endian, numel * dtype_size) stay owned by the caller until write().
  void add(const std::string& name, DType dtype, const std::vector<int64_t>& shape, const void* data) {
    SPAK_CHECK(!name.empty() && name != "__metadata__", "safetensors: invalid tensor name '", name, "'");
    for (const auto& e : entries_) SPAK_CHECK(e.name != name, "safetensors: duplicate tensor name '", name, "'");
    for (int64_t d : shape) SPAK_CHECK(d >= 0, "safetensors: negative dimension in ", name, " ", shape_str(shape));
    entries_.push_back(Entry{name, dtype, shape, data, shape_numel(shape) * dtype_size(dtype), nullptr});
  }
  void add_f32(const std::string& name, const std::vector<int64_t>& shape, const float* data) {
    add(name, DType::F32, shape, data);
  }
  // Like add(), but copies the bytes (for temporaries such as an RNG state).
  void add_copy(const std::string& name, DType dtype, const std::vector<int64_t>& shape, const void* data) {
    size_t nbytes = shape_numel(shape) * dtype_size(dtype);
    auto owned = std::make_shared<std::vector<uint8_t>>(nbytes);
    if (nbytes) std::memcpy(owned->data(), data, nbytes);
    add(name, dtype, shape, owned->data());
    entries_.back().owned = std::move(owned);
  }
  void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }

  // The 8-byte length + JSON header (padded with spaces to a multiple of 8 so the data buffer stays aligned).
  std::string header() const {
    std::string j = "{";
    bool first = true;
    if (!metadata_.empty()) {
      j += "\"__metadata__\":{";
      bool f2 = true;
      for (const auto& kv : metadata_) {
        j += cat(f2 ? "" : ",", json_quote(kv.first), ":", json_quote(kv.second));
        f2 = false;
      }
      j += "}";
      first = false;
    }
    size_t off = 0;
    for (const auto& e : entries_) {
      j += cat(first ? "" : ",", json_quote(e.name), ":{\"dtype\":\"", dtype_name(e.dtype), "\",\"shape\":[");
      for (size_t i = 0; i < e.shape.size(); ++i) j += cat(i ? "," : "", e.shape[i]);
      j += cat("],\"data_offsets\":[", off, ",", off + e.nbytes, "]}");
      off += e.nbytes;
      first = false;
    }
    j += "}";
    while ((8 + j.size()) % 8 != 0) j += ' ';
    std::string out(8, '\0');
    uint64_t n = j.size();
    for (int i = 0; i < 8; ++i) out[size_t(i)] = char((n >> (8 * i)) & 0xff);
    return out + j;
  }

  // Writes the file atomically (`<path>.tmp.<pid>`, fsync, rename).
  void write(const std::string& path) const {
    SPAK_CHECK(detail::host_is_little_endian(), "safetensors I/O needs a little-endian host");
    AtomicFile f(path);
    f.write(header());
    for (const auto& e : entries_) f.write(e.data, e.nbytes);
    f.commit();
  }

private:
  struct Entry {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    const void* data;
    size_t nbytes;
    std::shared_ptr<std::vector<uint8_t>> owned;
  };
  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace spak::rt
