// Cross-check of the runtime against the float64 reference (tests/reference/microgpt_ref.py): a trainer that does
// PyRandom(42) -> Documents::shuffle -> fill_gauss over MicroGPT's parameters in declaration order gets exactly the
// initial weights of microgpt.py (as dumped by the reference with --dump-init), bit for bit in float32.
#include "test_util.h"

#include "spak/runtime/checkpoint.h"
#include "spak/runtime/data.h"

using namespace spak::rt;

TEST_CASE("MicroGPT init from the runtime equals microgpt.py's (reference --dump-init)", "[reference][python]") {
  spak_test::TempDir dir;
  std::string dump = dir.file("init.safetensors");
  std::string out = spak_test::run_capture("/usr/bin/python3 " + std::string(SPAK_SOURCE_DIR) +
                                           "/tests/reference/microgpt_ref.py --steps 0 --data " + SPAK_SHARED_DIR +
                                           "/data/names/names.txt --dump-init " + dump + " 2>&1");
  if (out.empty()) {
    WARN("the reference did not run (needs /usr/bin/python3 with numpy): skipping");
    return;
  }
  Documents docs = Documents::load(std::string(SPAK_SHARED_DIR) + "/data/names/names.txt");
  PyRandom rng(42);
  docs.shuffle(rng);
  const int64_t V = docs.tokenizer().vocab_size(), C = 16;
  Layout lay;
  lay.add("wte", {V, C});
  lay.add("wpe", {16, C});
  lay.add("lm_head", {V, C});
  lay.add("layer0.attn_wq", {C, C});
  lay.add("layer0.attn_wk", {C, C});
  lay.add("layer0.attn_wv", {C, C});
  lay.add("layer0.attn_wo", {C, C});
  lay.add("layer0.mlp_fc1", {4 * C, C});
  lay.add("layer0.mlp_fc2", {C, 4 * C});
  Arena ours(lay, {"param"});
  for (const auto& t : lay.tensors()) rng.fill_gauss(ours.view("param", t).data, t.numel, 0.0, 0.08);

  Arena ref(lay, {"param"});
  load_weights(dump, ref);
  size_t compared = 0;
  for (const auto& t : lay.tensors())
    for (size_t i = 0; i < t.numel; ++i, ++compared) REQUIRE(ours.view("param", t)[i] == ref.view("param", t)[i]);
  CHECK(compared == 4192);
}
