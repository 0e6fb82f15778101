// Unit tests for spak/runtime/data.h: documents + shuffle parity with Python, char text, uint16 token files.
#include "test_util.h"

#include <set>
#include <sstream>

#include "spak/runtime/data.h"

using namespace spak::rt;

static const std::string kNames = std::string(SPAK_SHARED_DIR) + "/data/names/names.txt";
static const std::string kShakespeare = std::string(SPAK_SHARED_DIR) + "/data/tinyshakespeare/input.txt";
static const std::string kGpt2Val = std::string(SPAK_SHARED_DIR) + "/data/tinyshakespeare/gpt2_val.bin";

TEST_CASE("names.txt: documents, tokenizer and microgpt.py's shuffled order", "[data]") {
  Documents docs = Documents::load(kNames);
  REQUIRE(docs.size() == 32033);
  const CharTokenizer& tok = docs.tokenizer();
  CHECK(tok.vocab_size() == 27);
  CHECK(tok.bos() == 26);
  CHECK(tok.id('a') == 0);
  CHECK(tok.id('z') == 25);
  CHECK(docs.doc(0) == "emma");
  CHECK(docs.tokens(0) == std::vector<int32_t>{26, 4, 12, 12, 0, 26});

  PyRandom rng(42);
  docs.shuffle(rng);
  // python3: random.seed(42); random.shuffle(docs); docs[:10]
  const char* first10[] = {"yuheng", "diondre", "xavien", "jori", "juanluis",
                           "erandi", "phia",    "samatha", "phoenix", "emmelynn"};
  for (size_t i = 0; i < 10; ++i) CHECK(docs.doc(i) == first10[i]);
  CHECK(docs.doc(32032) == "yovani");
  // microgpt.py then draws the weights from the same stream: the first is random.gauss(0, 0.08) after the shuffle.
  CHECK(rng.gauss(0, 0.08) == -0.04273180935726127);

  // Cursor: step s trains on document s mod N; an example has n = min(block, len - 1) positions.
  docs.set_cursor(32033 + 3);
  Documents::Example e = docs.next_example(16);
  CHECK(e.inputs == std::vector<int32_t>{26, 9, 14, 17, 8});    // "jori"
  CHECK(e.targets == std::vector<int32_t>{9, 14, 17, 8, 26});
  CHECK(docs.cursor() == 32033 + 4);
}

TEST_CASE("the whole shuffled order matches the live python3", "[data][python]") {
  if (!spak_test::have_python()) {
    WARN("no /usr/bin/python3: skipping the full-order comparison");
    return;
  }
  std::string out = spak_test::run_capture(
      "/usr/bin/python3 -c \"import random\ndocs = [l.strip() for l in open('" + kNames +
      "') if l.strip()]\nrandom.seed(42)\nrandom.shuffle(docs)\nprint('\\n'.join(docs))\"");
  REQUIRE(!out.empty());
  Documents docs = Documents::load(kNames);
  PyRandom rng(42);
  docs.shuffle(rng);
  std::istringstream in(out);
  std::string line;
  size_t i = 0;
  while (std::getline(in, line)) {
    REQUIRE(i < docs.size());
    REQUIRE(docs.doc(i) == line);
    ++i;
  }
  CHECK(i == docs.size());
}

TEST_CASE("documents: Python-style line handling and errors", "[data]") {
  spak_test::TempDir dir;
  spak_test::write_bytes(dir.file("d.txt"), "  bob \r\n\r\n\t\nal ice\rzoë\n   \n");
  Documents d = Documents::load(dir.file("d.txt"));
  REQUIRE(d.size() == 3);
  CHECK(d.doc(0) == "bob");
  CHECK(d.doc(1) == "al ice");
  CHECK(d.doc(2) == "zoë");
  // vocab = sorted unique code points: ' ' a b c e i l o z ë ; BOS = 10
  CHECK(d.tokenizer().vocab_size() == 11);
  CHECK(d.tokenizer().bos() == 10);
  CHECK(d.tokenizer().decode(d.tokens(2)) == "zoë");
  REQUIRE_ERROR_CONTAINS(d.tokenizer().encode("q"), "not in the vocabulary");
  REQUIRE_ERROR_CONTAINS(d.tokenizer().decode_token(11), "outside the vocabulary");

  spak_test::write_bytes(dir.file("empty.txt"), " \n\n  \r\n");
  REQUIRE_ERROR_CONTAINS(Documents::load(dir.file("empty.txt")), "contains no documents");
  REQUIRE_ERROR_CONTAINS(Documents::load(dir.file("missing.txt")), "missing.txt': No such file or directory");
  REQUIRE_ERROR_CONTAINS(Documents::load(dir.path()), "is a directory");
  spak_test::write_bytes(dir.file("bad.txt"), "ok\n\xff\xfe\n");
  REQUIRE_ERROR_CONTAINS(Documents::load(dir.file("bad.txt")), "not valid UTF-8 (byte offset 3)");
}

TEST_CASE("char text: shakespeare vocab, 90/10 split and batches", "[data]") {
  CharText t = CharText::load(kShakespeare, 0.9);
  CHECK(t.tokenizer().vocab_size() == 65);
  CHECK(!t.tokenizer().has_bos());
  CHECK(t.train().size() == 1003854);  // int(1115394 * 0.9), as nanoGPT's prepare.py
  CHECK(t.val().size() == 1115394 - 1003854);
  CHECK(t.tokenizer().decode({t.train().tokens().begin(), t.train().tokens().begin() + 14}) == "First Citizen:");

  PyRandom rng(1337);
  Batch b;
  t.train().random_batch(rng, 4, 8, b);
  REQUIRE(b.x.size() == 32);
  for (int r = 0; r < 4; ++r)
    for (int i = 0; i + 1 < 8; ++i) CHECK(b.y[size_t(r * 8 + i)] == b.x[size_t(r * 8 + i + 1)]);
  // Same seed, same batch.
  PyRandom rng2(1337);
  Batch b2;
  t.train().random_batch(rng2, 4, 8, b2);
  CHECK(b.x == b2.x);
  CHECK(b.y == b2.y);

  uint64_t cursor = 0;
  t.val().sequential_batch(cursor, 2, 5, b);
  CHECK(cursor == 10);
  CHECK(std::vector<int32_t>(b.x.begin(), b.x.begin() + 5) ==
        std::vector<int32_t>(t.val().tokens().begin(), t.val().tokens().begin() + 5));
  CHECK(b.y[9] == t.val().tokens()[10]);

  REQUIRE_ERROR_CONTAINS(CharText::load(kShakespeare, 1.5), "train fraction");
  spak_test::TempDir dir;
  spak_test::write_bytes(dir.file("tiny.txt"), "abcab");
  CharText tiny = CharText::load(dir.file("tiny.txt"), 0.8);
  CHECK(tiny.train().size() == 4);
  CHECK(tiny.val().size() == 1);
  REQUIRE_ERROR_CONTAINS(tiny.val().random_batch(rng, 1, 4, b), "the val split of");
  REQUIRE_ERROR_CONTAINS(tiny.train().random_batch(rng, 0, 2, b), "must be positive");
  spak_test::write_bytes(dir.file("zero.txt"), "");
  REQUIRE_ERROR_CONTAINS(CharText::load(dir.file("zero.txt")), "is empty");
}

TEST_CASE("uint16 token files: nanoGPT's gpt2_val.bin and errors", "[data]") {
  TokenSplit val = load_u16_tokens(kGpt2Val, 50257);
  CHECK(val.size() == 36059);
  CHECK(val.tokens()[0] == 30);
  CHECK(val.tokens()[1] == 198);
  CHECK(val.tokens()[3] == 28934);

  spak_test::TempDir dir;
  spak_test::write_bytes(dir.file("t.bin"), std::string("\x01\x00\x02\x00\xff\xff", 6));
  TokenSplit t = load_u16_tokens(dir.file("t.bin"), 65536);
  CHECK(t.tokens() == std::vector<int32_t>{1, 2, 65535});
  REQUIRE_ERROR_CONTAINS(load_u16_tokens(dir.file("t.bin"), 50257),
                         "token 65535 at index 2 is outside the vocabulary (size 50257)");
  spak_test::write_bytes(dir.file("odd.bin"), std::string("\x01\x00\x02", 3));
  REQUIRE_ERROR_CONTAINS(load_u16_tokens(dir.file("odd.bin"), 100), "odd size");
  spak_test::write_bytes(dir.file("e.bin"), "");
  REQUIRE_ERROR_CONTAINS(load_u16_tokens(dir.file("e.bin"), 100), "is empty");
  REQUIRE_ERROR_CONTAINS(load_u16_tokens(dir.file("nope.bin"), 100), "nope.bin': No such file");
}
