// Compile check: every CPU runtime header builds as C++17 with -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Werror
// (generated trainers are C++17 and must build with g++ 12/13 and nvcc's host compiler).
#include "spak/runtime/runtime.h"

// Instantiate the templates so their bodies are checked too.
int spak_runtime_cxx17_check() {
  spak::rt::PyRandom rng(1);
  std::vector<int> v{1, 2, 3};
  rng.shuffle(v);
  float w[2] = {0.5f, 0.5f};
  return int(rng.choice_weighted(w, 2)) + spak::rt::run_main([] { return 0; });
}
