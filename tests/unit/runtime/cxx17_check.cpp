// Compile check: every CPU runtime header builds as C++17 with -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Werror
// at the build's optimization level (generated trainers are C++17 and must build warning-free with g++ 12/13 and
// nvcc's host compiler). The function below odr-uses the APIs so that their bodies are instantiated and optimized
// (some GCC warnings only fire after inlining); it is never called.
#include "spak/runtime/runtime.h"
// Not in runtime.h (the data-parallel parts: the cuda trainer and spak-run include them).
#include "spak/runtime/dist.h"
#include "spak/runtime/launcher.h"

int spak_runtime_cxx17_check(int argc, char** argv) {
  return spak::rt::run_main([&] {
    spak::rt::TrainerArgs defaults;
    spak::rt::TrainerArgs args = spak::rt::parse_trainer_args(argc, argv, defaults, "check");
    spak::rt::PyRandom rng(args.seed);
    spak::rt::Documents docs = spak::rt::Documents::load(args.data);
    docs.shuffle(rng);
    spak::rt::Layout lay;
    lay.add("wte", {docs.tokenizer().vocab_size(), 16});
    spak::rt::Arena arena(lay, {"param", "grad", "adam_m", "adam_v"});
    for (const auto& t : lay.tensors()) rng.fill_gauss(arena.view("param", t).data, t.numel, 0.0, 0.08);
    spak::rt::Documents::Example ex = docs.next_example(16);
    spak::rt::JsonlLog log(args.log);
    spak::rt::Stopwatch sw;
    log.write(1, double(ex.inputs.size()), {{"lr", 0.01}});
    spak::rt::print_progress(1, args.steps, 1.0, 0.01, sw.elapsed_ms(), double(ex.inputs.size()));
    spak::rt::save_weights(args.save, arena);
    spak::rt::load_weights(args.init_from, arena);
    spak::rt::TrainState st{1, args.steps, docs.cursor(), rng.state(), {}};
    spak::rt::save_checkpoint(args.checkpoint, arena, {"param", "adam_m", "adam_v"}, st);
    st = spak::rt::load_checkpoint(args.resume, arena, {"param", "adam_m", "adam_v"});
    spak::rt::CharText text = spak::rt::CharText::load(args.data);
    spak::rt::TokenSplit bin = spak::rt::load_u16_tokens(args.data, 50257);
    spak::rt::Batch b;
    text.train().random_batch(rng, 4, 8, b);
    uint64_t cursor = 0;
    bin.sequential_batch(cursor, 4, 8, b);
    std::vector<float> probs(size_t(docs.tokenizer().vocab_size()), 1.0f);
    size_t next = rng.choice_weighted(probs.data(), probs.size());
    std::printf("%s\n", docs.tokenizer().decode_token(int32_t(next)).c_str());
    const spak::rt::dist::World world = spak::rt::dist::read_world();
    const auto buckets = spak::rt::dist::plan_buckets({16, 32}, spak::rt::dist::bucket_cap_bytes());
    const spak::rt::dist::Range rows = spak::rt::dist::shard_range(8, world.size, world.rank);
    const std::string id = spak::rt::dist::wait_for_id(args.data, 128, spak::rt::dist::id_timeout_s(), world.rank);
    spak::rt::dist::publish_id(args.save, id.data(), id.size());
    std::printf("%zu %lld %s\n", buckets.size(), static_cast<long long>(rows.count),
                spak::rt::dist::resume_world_note(2, 32, world.size, 16).c_str());
    if (argc > 100) return spak::rt::launch::launcher_main(argc, argv);
    return 0;
  });
}
