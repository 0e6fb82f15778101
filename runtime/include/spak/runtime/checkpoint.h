// spak/runtime/checkpoint.h — weights files (--save / --init-from) and resume checkpoints (--resume), as safetensors.
//
// Weights file: one F32 tensor per parameter, named as in the model (`wte`, `layer0.attn_wq`, ...), metadata
//   {"spak.format": "spak-weights-v1", ...caller's metadata}. Any safetensors file with those names (F32, F64, BF16 or
//   F16) can be loaded with load_weights(), e.g. one written by tests/reference/microgpt_ref.py --dump-init.
// Checkpoint: the weights file's tensors, plus `<section>/<name>` for each further saved arena section (e.g.
//   `adam_m/wte`, `adam_v/wte`), plus `__rng__` (U32, PyRandom::state()), metadata
//   {"spak.format": "spak-checkpoint-v1", "spak.step": "<steps done>", "spak.total_steps": "<--steps>",
//   "spak.data_cursor": "<cursor>", "spak.sections": "param,adam_m,adam_v", ...extra}.
//   A checkpoint is also a valid weights file (load_weights ignores the other tensors).
// Both are written atomically (see io.h), so an interrupted save never leaves a half-written file behind.
//
//   spak::rt::save_weights("final.safetensors", arena, "param", {{"spak.model", "MicroGPT"}});
//   spak::rt::load_weights("init.safetensors", arena, "param");     // every parameter must be there, same shape
//   spak::rt::TrainState st{step, total_steps, docs.cursor(), rng.state(), {}};
//   spak::rt::save_checkpoint("ckpt.safetensors", arena, {"param", "adam_m", "adam_v"}, st);
//   st = spak::rt::load_checkpoint("ckpt.safetensors", arena, {"param", "adam_m", "adam_v"});
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "spak/runtime/arena.h"
#include "spak/runtime/check.h"
#include "spak/runtime/rng.h"
#include "spak/runtime/safetensors.h"

namespace spak::rt {

inline constexpr const char* kWeightsFormat = "spak-weights-v1";
inline constexpr const char* kCheckpointFormat = "spak-checkpoint-v1";

struct TrainState {
  int64_t step = 0;                    // optimizer steps completed
  int64_t total_steps = 0;             // the run's --steps (the LR schedule's length); resume must use the same
  uint64_t data_cursor = 0;            // data position (Documents::cursor() or a TokenSplit offset)
  std::vector<uint32_t> rng_state;     // PyRandom::state()
  std::map<std::string, std::string> extra;  // caller metadata (model name, config digest, ...)
};

// The tensor name of `tensor` in `section`: the parameter section ("param") uses bare names.
inline std::string checkpoint_tensor_name(const std::string& section, const std::string& tensor) {
  return section == "param" ? tensor : section + "/" + tensor;
}

namespace detail {
inline void add_section(SafetensorsWriter& w, const Arena& arena, const std::string& section) {
  const float* base = arena.section(section);
  for (const auto& t : arena.layout().tensors())
    w.add_f32(checkpoint_tensor_name(section, t.name), t.stored_shape, base + t.offset);  // padding rows: not saved
}

// Reads one tensor's stored rows; its padding rows (TensorInfo::stored_shape) become zeros.
inline void read_tensor(const SafetensorsReader& r, const std::string& name, const TensorInfo& t, float* dst) {
  r.read_floats(name, t.stored_shape, dst);
  std::fill(dst + t.stored_numel, dst + t.numel, 0.0f);
}

inline void read_section(const SafetensorsReader& r, Arena& arena, const std::string& section) {
  for (const auto& t : arena.layout().tensors())
    read_tensor(r, checkpoint_tensor_name(section, t.name), t, arena.section(section) + t.offset);
}

inline uint64_t parse_meta_u64(const SafetensorsReader& r, const std::string& key) {
  std::string v = r.meta(key);
  SPAK_CHECK(!v.empty(), "'", r.path(), "' lacks metadata '", key, "' (not a spak checkpoint?)");
  char* end = nullptr;
  errno = 0;
  unsigned long long x = std::strtoull(v.c_str(), &end, 10);
  SPAK_CHECK(errno == 0 && end && *end == '\0' && v[0] != '-', "'", r.path(), "': metadata '", key, "' = '", v,
             "' is not a non-negative integer");
  return uint64_t(x);
}
}  // namespace detail

// Writes the tensors of `section` as F32 under their model names.
inline void save_weights(const std::string& path, const Arena& arena, const std::string& section = "param",
                         const std::map<std::string, std::string>& metadata = {}) {
  SafetensorsWriter w;
  for (const auto& kv : metadata) w.set_metadata(kv.first, kv.second);
  w.set_metadata("spak.format", kWeightsFormat);
  detail::add_section(w, arena, section);
  w.write(path);
}

// Loads every tensor of the layout into `section` from `path` (F32/F64/BF16/F16). A missing tensor or a different
// shape is an error; tensors the model does not have are ignored. Returns the file's metadata.
inline std::map<std::string, std::string> load_weights(const std::string& path, Arena& arena,
                                                       const std::string& section = "param") {
  SafetensorsReader r = SafetensorsReader::open(path);
  for (const auto& t : arena.layout().tensors()) detail::read_tensor(r, t.name, t, arena.section(section) + t.offset);
  return r.metadata();
}

// Writes a resume checkpoint: the given sections (the first should be "param"), the RNG state, step and cursor.
inline void save_checkpoint(const std::string& path, const Arena& arena, const std::vector<std::string>& sections,
                            const TrainState& state) {
  SPAK_CHECK(state.rng_state.size() == PyRandom::kStateWords, "checkpoint: RNG state has ", state.rng_state.size(),
             " words, expected ", PyRandom::kStateWords);
  SafetensorsWriter w;
  for (const auto& kv : state.extra) w.set_metadata(kv.first, kv.second);
  w.set_metadata("spak.format", kCheckpointFormat);
  w.set_metadata("spak.step", std::to_string(state.step));
  w.set_metadata("spak.total_steps", std::to_string(state.total_steps));
  w.set_metadata("spak.data_cursor", std::to_string(state.data_cursor));
  std::string list;
  for (size_t i = 0; i < sections.size(); ++i) list += cat(i ? "," : "", sections[i]);
  w.set_metadata("spak.sections", list);
  for (const auto& s : sections) detail::add_section(w, arena, s);
  w.add_copy("__rng__", DType::U32, {int64_t(state.rng_state.size())}, state.rng_state.data());
  w.write(path);
}

// Reads a checkpoint written by save_checkpoint into `arena` (the same sections) and returns its state; the
// metadata other than the five reserved keys is returned in `extra` so the trainer can compare model name / config digest.
inline TrainState load_checkpoint(const std::string& path, Arena& arena, const std::vector<std::string>& sections) {
  SafetensorsReader r = SafetensorsReader::open(path);
  std::string fmt = r.meta("spak.format");
  SPAK_CHECK(fmt == kCheckpointFormat, "'", path, "' is not a spak checkpoint (spak.format is '", fmt,
             "', expected '", kCheckpointFormat, "')");
  for (const auto& s : sections) detail::read_section(r, arena, s);
  TrainState st;
  st.step = int64_t(detail::parse_meta_u64(r, "spak.step"));
  st.total_steps = int64_t(detail::parse_meta_u64(r, "spak.total_steps"));
  st.data_cursor = detail::parse_meta_u64(r, "spak.data_cursor");
  st.rng_state = r.u32("__rng__");
  SPAK_CHECK(st.rng_state.size() == PyRandom::kStateWords, "'", path, "': __rng__ has ", st.rng_state.size(),
             " words, expected ", PyRandom::kStateWords);
  for (const auto& kv : r.metadata())
    if (kv.first != "spak.format" && kv.first != "spak.step" && kv.first != "spak.total_steps" &&
        kv.first != "spak.data_cursor" && kv.first != "spak.sections")
      st.extra[kv.first] = kv.second;
  return st;
}

}  // namespace spak::rt
