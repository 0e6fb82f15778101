// spak/runtime/arena.h — one contiguous float arena for a model's parameters, gradients and optimizer state.
//
// A Layout lists the named, shaped tensors of a model (in declaration order) and assigns each an aligned offset.
// An Arena allocates ONE zero-filled, 256-byte-aligned block holding several "sections" with that layout — e.g.
// {"param", "grad", "adam_m", "adam_v"} — so tensor `t` lives at the same offset in every section. Kernels that work
// on everything (Adam, zero_grad, a host<->device copy) run over a section, or the whole block, as one flat array;
// per-tensor kernels take a TensorRef (data pointer + shape), looked up by name.
//
//   spak::rt::Layout lay;                        // alignment: 16 floats (64 bytes) by default
//   lay.add("wte", {27, 16});
//   lay.add("layer0.attn_wq", {16, 16});
//   spak::rt::Arena arena(lay, {"param", "grad", "adam_m", "adam_v"});
//   float* w = arena.view("param", "wte").data;  // or arena.section("grad") for the flat gradient buffer
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "spak/runtime/check.h"

namespace spak::rt {

// "[27, 16]"
inline std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += cat(i ? ", " : "", shape[i]);
  return s + "]";
}

inline size_t shape_numel(const std::vector<int64_t>& shape) {
  size_t n = 1;
  for (int64_t d : shape) n *= size_t(d);
  return n;
}

struct TensorInfo {
  std::string name;
  std::vector<int64_t> shape;
  size_t offset = 0;  // in floats, from the start of a section
  size_t numel = 0;
  // What the outside world sees: init, checkpoints, weight files and the parameter count cover the first
  // stored_shape[0] rows only. Equal to `shape` except for a tensor with padding rows (the lm_head padded to law
  // pad_vocab: shape [50304, 768], stored_shape [50257, 768]); the padding rows stay zero.
  std::vector<int64_t> stored_shape;
  size_t stored_numel = 0;
  bool padded() const { return stored_numel != numel; }
};

class Layout {
public:
  // alignment_floats: every tensor's offset is a multiple of this (16 floats = 64 bytes, a cache line / 16B vectors).
  explicit Layout(size_t alignment_floats = 16) : align_(alignment_floats) {
    SPAK_CHECK(align_ > 0 && (align_ & (align_ - 1)) == 0, "arena alignment must be a power of two, got ", align_);
  }

  // Appends a tensor; names are unique, every dim >= 1 (a scalar has shape {}). Returns its info. valid_rows > 0:
  // only the first valid_rows rows (dim 0) are real, the rest is padding (TensorInfo::stored_shape).
  const TensorInfo& add(const std::string& name, const std::vector<int64_t>& shape, int64_t valid_rows = 0) {
    SPAK_CHECK(!name.empty(), "arena: tensor name must not be empty");
    SPAK_CHECK(index_.find(name) == index_.end(), "arena: duplicate tensor name '", name, "'");
    for (int64_t d : shape)
      SPAK_CHECK(d >= 1, "arena: tensor '", name, "' has a non-positive dimension in shape ", shape_str(shape));
    SPAK_CHECK(valid_rows >= 0 && (valid_rows == 0 || (!shape.empty() && valid_rows <= shape[0])), "arena: tensor '",
               name, "' of shape ", shape_str(shape), " cannot have ", valid_rows, " valid rows");
    TensorInfo t;
    t.name = name;
    t.shape = shape;
    t.numel = shape_numel(shape);
    t.stored_shape = shape;
    if (valid_rows > 0) t.stored_shape[0] = valid_rows;
    t.stored_numel = shape_numel(t.stored_shape);
    t.offset = total_;
    total_ = round_up(total_ + t.numel);
    index_.emplace(name, tensors_.size());
    tensors_.push_back(std::move(t));
    return tensors_.back();
  }

  const TensorInfo* find(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
  }

  const TensorInfo& at(const std::string& name) const {
    const TensorInfo* t = find(name);
    if (!t) fail(cat("no tensor named '", name, "' (known: ", names_joined(), ")"));
    return *t;
  }

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  size_t size() const { return tensors_.size(); }
  size_t total_floats() const { return total_; }  // one section, padding included
  size_t alignment() const { return align_; }
  // Sum of stored_numel over tensors (the parameter count, without alignment or padding rows).
  size_t numel() const {
    size_t n = 0;
    for (const auto& t : tensors_) n += t.stored_numel;
    return n;
  }

  std::string names_joined() const {
    std::string s;
    for (size_t i = 0; i < tensors_.size(); ++i) s += cat(i ? ", " : "", tensors_[i].name);
    return s.empty() ? "none" : s;
  }

private:
  size_t round_up(size_t n) const { return (n + align_ - 1) & ~(align_ - 1); }

  size_t align_;
  size_t total_ = 0;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> index_;
};

// A tensor inside an arena section: data pointer + layout info. Cheap to copy.
struct TensorRef {
  float* data = nullptr;
  const TensorInfo* info = nullptr;
  size_t numel() const { return info->numel; }
  const std::vector<int64_t>& shape() const { return info->shape; }
  const std::string& name() const { return info->name; }
  float& operator[](size_t i) const { return data[i]; }
};

class Arena {
public:
  static constexpr size_t kBaseAlignBytes = 256;

  Arena(Layout layout, std::vector<std::string> sections) : layout_(std::move(layout)), sections_(std::move(sections)) {
    SPAK_CHECK(!sections_.empty(), "arena: needs at least one section");
    for (size_t i = 0; i < sections_.size(); ++i)
      for (size_t j = 0; j < i; ++j)
        SPAK_CHECK(sections_[i] != sections_[j], "arena: duplicate section name '", sections_[i], "'");
    total_ = layout_.total_floats() * sections_.size();
    size_t bytes = (total_ ? total_ : 1) * sizeof(float);
    data_ = static_cast<float*>(::operator new(bytes, std::align_val_t(kBaseAlignBytes)));
    std::memset(data_, 0, bytes);
  }
  ~Arena() { ::operator delete(data_, std::align_val_t(kBaseAlignBytes)); }
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  const Layout& layout() const { return layout_; }
  const std::vector<std::string>& sections() const { return sections_; }
  bool has_section(const std::string& s) const { return section_index_or_npos(s) != npos; }

  // The whole block (all sections back to back) and its size in floats.
  float* data() { return data_; }
  const float* data() const { return data_; }
  size_t total_floats() const { return total_; }
  size_t section_floats() const { return layout_.total_floats(); }

  float* section(const std::string& s) { return data_ + section_index(s) * layout_.total_floats(); }
  const float* section(const std::string& s) const { return data_ + section_index(s) * layout_.total_floats(); }

  TensorRef view(const std::string& s, const std::string& tensor) {
    const TensorInfo& t = layout_.at(tensor);
    return TensorRef{section(s) + t.offset, &t};
  }
  TensorRef view(const std::string& s, const TensorInfo& t) { return TensorRef{section(s) + t.offset, &t}; }

  void zero_section(const std::string& s) { std::memset(section(s), 0, layout_.total_floats() * sizeof(float)); }

private:
  static constexpr size_t npos = size_t(-1);
  size_t section_index_or_npos(const std::string& s) const {
    for (size_t i = 0; i < sections_.size(); ++i)
      if (sections_[i] == s) return i;
    return npos;
  }
  size_t section_index(const std::string& s) const {
    size_t i = section_index_or_npos(s);
    if (i == npos) {
      std::string known;
      for (size_t k = 0; k < sections_.size(); ++k) known += cat(k ? ", " : "", sections_[k]);
      fail(cat("arena has no section '", s, "' (sections: ", known, ")"));
    }
    return i;
  }

  Layout layout_;
  std::vector<std::string> sections_;
  size_t total_ = 0;
  float* data_ = nullptr;
};

}  // namespace spak::rt
