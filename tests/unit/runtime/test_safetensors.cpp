// Unit tests for spak/runtime/safetensors.h: round trips, dtype conversion, Python interop and corrupt files.
#include "test_util.h"

#include <cmath>
#include <cstring>
#include <sstream>

#include "spak/runtime/io.h"
#include "spak/runtime/safetensors.h"

using namespace spak::rt;

namespace {
// Builds a safetensors file by hand: header JSON + data (for corrupt-file cases).
std::string make_file(const std::string& json, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[size_t(i)] = char((n >> (8 * i)) & 0xff);
  return out + json + data;
}
}  // namespace

TEST_CASE("safetensors: write then read F32 tensors and metadata", "[safetensors]") {
  spak_test::TempDir dir;
  std::vector<float> a(27 * 16), b{1.5f, -2.25f, 3.0f};
  for (size_t i = 0; i < a.size(); ++i) a[i] = float(i) * 0.01f - 1.0f;
  SafetensorsWriter w;
  w.add_f32("wte", {27, 16}, a.data());
  w.add_f32("layer0.attn_wq \"q\"", {3}, b.data());  // a name needing JSON escapes
  w.set_metadata("step", "12");
  w.set_metadata("note", "line\nbreak");
  REQUIRE(w.header().size() % 8 == 0);
  std::string path = dir.file("m.safetensors");
  w.write(path);
  CHECK(!file_exists(path + ".tmp." + std::to_string(getpid())));

  SafetensorsReader r = SafetensorsReader::open(path);
  REQUIRE(r.tensors().size() == 2);
  CHECK(r.meta("step") == "12");
  CHECK(r.meta("note") == "line\nbreak");
  CHECK(r.meta("absent", "dflt") == "dflt");
  std::vector<float> a2(a.size());
  r.read_floats("wte", {27, 16}, a2.data());
  CHECK(a2 == a);
  CHECK(r.floats("layer0.attn_wq \"q\"") == b);

  REQUIRE_ERROR_CONTAINS(r.read_floats("wte", {28, 16}, a2.data()),
                         "tensor 'wte' in '" + path + "' has shape [27, 16], expected [28, 16]");
  REQUIRE_ERROR_CONTAINS(r.floats("wpe"), "has no tensor 'wpe' (it has: wte, layer0.attn_wq");
  REQUIRE_ERROR_CONTAINS(r.u32("wte"), "has dtype F32, expected U32");
}

TEST_CASE("safetensors: F64, BF16, F16 and U32 are read", "[safetensors]") {
  spak_test::TempDir dir;
  double d[2] = {0.1, -3.5};
  uint16_t bf[2] = {0x3f80, 0xc040};         // 1.0, -3.0
  uint16_t h[4] = {0x3c00, 0xc100, 0x0001, 0x7c00};  // 1.0, -2.5, smallest subnormal, +inf
  uint32_t u[3] = {7, 8, 4000000000u};
  SafetensorsWriter w;
  w.add("d", DType::F64, {2}, d);
  w.add("bf", DType::BF16, {2, 1}, bf);
  w.add("h", DType::F16, {4}, h);
  w.add_copy("u", DType::U32, {3}, u);
  w.write(dir.file("x.safetensors"));
  SafetensorsReader r = SafetensorsReader::open(dir.file("x.safetensors"));
  CHECK(r.floats("d") == std::vector<float>{0.1f, -3.5f});
  CHECK(r.floats("bf") == std::vector<float>{1.0f, -3.0f});
  std::vector<float> hf = r.floats("h");
  CHECK(hf[0] == 1.0f);
  CHECK(hf[1] == -2.5f);
  CHECK(hf[2] == std::ldexp(1.0f, -24));
  CHECK(std::isinf(hf[3]));
  CHECK(r.u32("u") == std::vector<uint32_t>{7, 8, 4000000000u});
  REQUIRE_ERROR_CONTAINS(r.floats("u"), "expected a float dtype");
}

TEST_CASE("safetensors: interoperates with a Python (json + struct) implementation", "[safetensors][python]") {
  if (!spak_test::have_python()) {
    WARN("no /usr/bin/python3: skipping the interop check");
    return;
  }
  spak_test::TempDir dir;
  std::string py = dir.file("py.safetensors");
  // Python writes the format the way the reference library does (sorted keys, compact JSON, metadata first).
  std::string made = spak_test::run_capture(
      "/usr/bin/python3 -c \"import json, struct\n"
      "data = struct.pack('<3f', 1.0, 2.0, 3.0) + struct.pack('<2d', 0.5, -0.25)\n"
      "h = {'__metadata__': {'format': 'pt'}, 'a': {'dtype': 'F32', 'shape': [3], 'data_offsets': [0, 12]},"
      " 'b': {'dtype': 'F64', 'shape': [1, 2], 'data_offsets': [12, 28]}}\n"
      "j = json.dumps(h, separators=(',', ':')).encode()\n"
      "open('" + py + "', 'wb').write(struct.pack('<Q', len(j)) + j + data)\nprint('ok')\"");
  REQUIRE(made == "ok\n");
  SafetensorsReader r = SafetensorsReader::open(py);
  CHECK(r.meta("format") == "pt");
  CHECK(r.floats("a") == std::vector<float>{1.0f, 2.0f, 3.0f});
  CHECK(r.floats("b") == std::vector<float>{0.5f, -0.25f});

  // And Python reads what we write.
  float v[4] = {0.25f, -1.0f, 3.5f, 1e-3f};
  SafetensorsWriter w;
  w.set_metadata("k", "v");
  w.add_f32("t", {2, 2}, v);
  w.write(dir.file("ours.safetensors"));
  std::string got = spak_test::run_capture(
      "/usr/bin/python3 -c \"import json, struct\nb = open('" + dir.file("ours.safetensors") +
      "', 'rb').read()\nn = struct.unpack('<Q', b[:8])[0]\nh = json.loads(b[8:8 + n])\ne = h['t']\n"
      "s, t = e['data_offsets']\nprint(h['__metadata__']['k'], e['dtype'], e['shape'], "
      "list(struct.unpack('<4f', b[8 + n + s:8 + n + t])))\"");
  CHECK(got == "v F32 [2, 2] [0.25, -1.0, 3.5, 0.0010000000474974513]\n");
}

TEST_CASE("safetensors: corrupt files get precise errors", "[safetensors]") {
  spak_test::TempDir dir;
  auto expect = [&](const std::string& bytes, const std::string& msg) {
    std::string p = dir.file("bad.safetensors");
    spak_test::write_bytes(p, bytes);
    REQUIRE_ERROR_CONTAINS(SafetensorsReader::open(p), msg);
  };
  const std::string f4(4, '\0');
  expect("abc", "shorter than the 8-byte header length");
  expect(std::string("\xff\x00\x00\x00\x00\x00\x00\x00", 8) + "{}", "header length 255 exceeds the file size");
  expect(make_file("{\"a\":", ""), "invalid JSON in the header of");
  expect(make_file("[1]", ""), "not a JSON object");
  expect(make_file(R"({"a":{"dtype":"F99","shape":[1],"data_offsets":[0,4]}})", f4), "unknown dtype F99");
  expect(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", f4), "4 bytes for 2 F32 elements");
  expect(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}})", f4), "past the data buffer");
  expect(make_file(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", f4), "negative dimension");
  expect(make_file(R"({"a":{"dtype":"F32","shape":[1]}})", f4), "lacks dtype, shape or data_offsets");
  expect(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                   R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", f4 + f4),
         "(overlap)");
  expect(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", f4 + f4), "(hole)");
  expect(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", f4 + f4), "cover 4 of 8 data bytes");
  expect(make_file(R"({"__metadata__":{"k":1}})", ""), "metadata value 'k' is not a string");
  expect(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{}})", f4), "duplicate key 'a'");
  REQUIRE_ERROR_CONTAINS(SafetensorsReader::open(dir.file("none.safetensors")),
                         "none.safetensors': No such file or directory");
}

TEST_CASE("safetensors: writer errors and atomic replacement", "[safetensors]") {
  spak_test::TempDir dir;
  float x = 1.0f;
  SafetensorsWriter w;
  w.add_f32("x", {1}, &x);
  REQUIRE_ERROR_CONTAINS(w.add_f32("x", {1}, &x), "duplicate tensor name 'x'");
  REQUIRE_ERROR_CONTAINS(w.add_f32("__metadata__", {1}, &x), "invalid tensor name");
  REQUIRE_ERROR_CONTAINS(w.write(dir.file("no/such/dir/f.safetensors")), "no/such/dir/f.safetensors.tmp.");

  // Overwriting replaces the whole file; the old content is intact until the rename.
  std::string p = dir.file("f.safetensors");
  w.write(p);
  float y[2] = {2.0f, 3.0f};
  SafetensorsWriter w2;
  w2.add_f32("y", {2}, y);
  w2.write(p);
  SafetensorsReader r = SafetensorsReader::open(p);
  CHECK(r.find("x") == nullptr);
  CHECK(r.floats("y") == std::vector<float>{2.0f, 3.0f});
}
