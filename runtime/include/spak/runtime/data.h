// spak/runtime/data.h — the data sets of generated trainers and their character tokenizer.
//
// (a) Documents (MicroGPT, names.txt): one document per line, stripped as Python's str.strip() does, empty lines
//     dropped; a character tokenizer built from the data (vocab = sorted unique characters, BOS id = their count);
//     a document becomes [BOS] + ids + [BOS]. shuffle(rng) with rng = PyRandom(42) reproduces
//     `random.seed(42); random.shuffle(docs)` exactly. A cursor (documents consumed so far) makes resume exact.
// (b) CharText (shakespeare-char): the whole file, vocab = sorted unique characters (no BOS), split into the first
//     90% (configurable) for training and the rest for validation, as nanoGPT's prepare.py does.
// (c) load_u16_tokens (GPT-2 BPE .bin): raw little-endian uint16 token ids, no header; every id is checked < vocab.
// (b) and (c) give TokenSplits that produce (B, T) batches: random offsets from a seeded PyRandom (nanoGPT's
//     get_batch), or consecutive chunks from a cursor (deterministic evaluation).
//
// Characters are Unicode code points (the file is decoded as UTF-8, as Python does); invalid UTF-8 is an error.
//
//   auto docs = spak::rt::Documents::load("names.txt");
//   spak::rt::PyRandom rng(42);
//   docs.shuffle(rng);                                   // then init weights from the same rng, like microgpt.py
//   std::vector<int32_t> toks = docs.next();             // [26, 4, 12, 12, 0, 26] for "emma"
//
//   auto text = spak::rt::CharText::load("input.txt", 0.9);
//   spak::rt::Batch b;
//   text.train().random_batch(rng, 64, 256, b);          // b.x, b.y: 64*256 int32 ids each
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "spak/runtime/check.h"
#include "spak/runtime/io.h"
#include "spak/runtime/rng.h"

namespace spak::rt {

// ---- UTF-8 ----------------------------------------------------------------------------------------------------------

inline void utf8_append(std::string& out, uint32_t cp) {
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

// Decodes UTF-8 strictly (no overlongs, no surrogates, max U+10FFFF); `what` names the source in errors.
inline std::vector<uint32_t> utf8_decode(const std::string& s, const std::string& what) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out.push_back(c);
      ++i;
      continue;
    }
    int len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    bool ok = len != 0 && i + size_t(len) <= n;
    uint32_t cp = len == 2 ? (c & 0x1Fu) : len == 3 ? (c & 0x0Fu) : (c & 0x07u);
    for (int k = 1; ok && k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + size_t(k)]);
      if ((cc & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (cc & 0x3Fu);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (ok && (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000))) ok = false;
    if (!ok) fail(cat(what, " is not valid UTF-8 (byte offset ", i, ")"));
    out.push_back(cp);
    i += size_t(len);
  }
  return out;
}

// Python's str.isspace() for the characters str.strip() removes.
inline bool py_isspace(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// ---- tokenizer ------------------------------------------------------------------------------------------------------

class CharTokenizer {
public:
  CharTokenizer() = default;

  // vocab = sorted unique code points of `text`; with_bos appends one BOS token whose id is the number of characters.
  static CharTokenizer from_codepoints(const std::vector<uint32_t>& text, bool with_bos) {
    CharTokenizer t;
    t.chars_ = text;
    std::sort(t.chars_.begin(), t.chars_.end());
    t.chars_.erase(std::unique(t.chars_.begin(), t.chars_.end()), t.chars_.end());
    t.bos_ = with_bos ? int32_t(t.chars_.size()) : -1;
    std::fill(std::begin(t.ascii_), std::end(t.ascii_), -1);
    for (size_t i = 0; i < t.chars_.size(); ++i)
      if (t.chars_[i] < 128) t.ascii_[t.chars_[i]] = int32_t(i);
    return t;
  }

  int32_t vocab_size() const { return int32_t(chars_.size()) + (bos_ >= 0 ? 1 : 0); }
  bool has_bos() const { return bos_ >= 0; }
  int32_t bos() const {
    SPAK_CHECK(bos_ >= 0, "this tokenizer has no BOS token");
    return bos_;
  }
  const std::vector<uint32_t>& chars() const { return chars_; }

  // The id of a character, or -1 when it is not in the vocabulary.
  int32_t find(uint32_t cp) const {
    if (cp < 128) return ascii_[cp];
    auto it = std::lower_bound(chars_.begin(), chars_.end(), cp);
    return it != chars_.end() && *it == cp ? int32_t(it - chars_.begin()) : -1;
  }

  int32_t id(uint32_t cp) const {
    int32_t i = find(cp);
    if (i < 0) fail(cat("character U+", hex(cp), " is not in the vocabulary (", chars_.size(), " characters)"));
    return i;
  }

  std::vector<int32_t> encode(const std::string& utf8) const {
    std::vector<int32_t> ids;
    for (uint32_t cp : utf8_decode(utf8, "text to encode")) ids.push_back(id(cp));
    return ids;
  }

  // The text of a token (BOS decodes to ""); an id outside the vocabulary is an error.
  std::string decode_token(int32_t id) const {
    SPAK_CHECK(id >= 0 && id < vocab_size(), "token id ", id, " is outside the vocabulary (size ", vocab_size(), ")");
    if (id == bos_) return std::string();
    std::string s;
    utf8_append(s, chars_[size_t(id)]);
    return s;
  }

  std::string decode(const std::vector<int32_t>& ids) const {
    std::string s;
    for (int32_t i : ids) s += decode_token(i);
    return s;
  }

private:
  static std::string hex(uint32_t cp) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04X", unsigned(cp));
    return buf;
  }
  std::vector<uint32_t> chars_;
  int32_t bos_ = -1;
  int32_t ascii_[128] = {};
};

// ---- (a) documents --------------------------------------------------------------------------------------------------

class Documents {
public:
  // Loads `path`: lines split like Python's text mode (\n, \r\n, \r), each stripped (str.strip()), empty ones dropped.
  static Documents load(const std::string& path) {
    Documents d;
    d.path_ = path;
    std::vector<uint32_t> all = utf8_decode(read_file(path), cat("'", path, "'"));
    std::vector<uint32_t> line;
    auto flush = [&] {
      size_t b = 0, e = line.size();
      while (b < e && py_isspace(line[b])) ++b;
      while (e > b && py_isspace(line[e - 1])) --e;
      if (e > b) d.docs_.emplace_back(line.begin() + long(b), line.begin() + long(e));
      line.clear();
    };
    for (size_t i = 0; i < all.size(); ++i) {
      if (all[i] == '\n' || all[i] == '\r') {
        if (all[i] == '\r' && i + 1 < all.size() && all[i + 1] == '\n') ++i;
        flush();
      } else {
        line.push_back(all[i]);
      }
    }
    flush();
    SPAK_CHECK(!d.docs_.empty(), "'", path, "' contains no documents (every line is empty)");
    std::vector<uint32_t> chars;
    for (const auto& doc : d.docs_) chars.insert(chars.end(), doc.begin(), doc.end());
    d.tok_ = CharTokenizer::from_codepoints(chars, /*with_bos=*/true);
    return d;
  }

  // == random.shuffle(docs) with `rng` (PyRandom(42) reproduces microgpt.py's order). Resets the cursor.
  void shuffle(PyRandom& rng) {
    rng.shuffle(docs_);
    cursor_ = 0;
  }

  const std::string& path() const { return path_; }
  size_t size() const { return docs_.size(); }
  const CharTokenizer& tokenizer() const { return tok_; }

  std::string doc(size_t i) const {
    std::string s;
    for (uint32_t cp : docs_.at(i)) utf8_append(s, cp);
    return s;
  }

  // [BOS] + ids(doc i) + [BOS].
  std::vector<int32_t> tokens(size_t i) const {
    const auto& d = docs_.at(i);
    std::vector<int32_t> t;
    t.reserve(d.size() + 2);
    t.push_back(tok_.bos());
    for (uint32_t cp : d) t.push_back(tok_.id(cp));
    t.push_back(tok_.bos());
    return t;
  }

  // Documents consumed so far; the next one is doc(cursor % size()). Saved in checkpoints for an exact resume.
  uint64_t cursor() const { return cursor_; }
  void set_cursor(uint64_t c) { cursor_ = c; }

  // The tokens of document cursor % size(), then advances the cursor (step s trains on document s mod N).
  std::vector<int32_t> next() { return tokens(size_t(cursor_++ % docs_.size())); }

  // One training example from the next document: n = min(block_size, len - 1) positions,
  // inputs = tokens[0..n), targets = tokens[1..n].
  struct Example {
    std::vector<int32_t> inputs, targets;
  };
  Example next_example(int block_size) {
    SPAK_CHECK(block_size >= 1, "block size must be positive, got ", block_size);
    std::vector<int32_t> t = next();
    size_t n = std::min(size_t(block_size), t.size() - 1);
    Example e;
    e.inputs.assign(t.begin(), t.begin() + long(n));
    e.targets.assign(t.begin() + 1, t.begin() + long(n) + 1);
    return e;
  }

private:
  std::string path_;
  std::vector<std::vector<uint32_t>> docs_;
  CharTokenizer tok_;
  uint64_t cursor_ = 0;
};

// ---- token streams: (B, T) batches ----------------------------------------------------------------------------------

// A (B, T) batch: x[b*T + t] is the input token, y[b*T + t] the target (the next token).
struct Batch {
  int B = 0, T = 0;
  std::vector<int32_t> x, y;
};

class TokenSplit {
public:
  TokenSplit() = default;
  TokenSplit(std::string name, std::vector<int32_t> tokens) : name_(std::move(name)), tokens_(std::move(tokens)) {}

  const std::string& name() const { return name_; }
  const std::vector<int32_t>& tokens() const { return tokens_; }
  size_t size() const { return tokens_.size(); }

  // nanoGPT's get_batch: B offsets i = rng.randbelow(size - T), x = tokens[i, i+T), y = tokens[i+1, i+T+1).
  void random_batch(PyRandom& rng, int B, int T, Batch& out) const {
    check_batch(B, T);
    prepare(B, T, out);
    uint64_t range = uint64_t(tokens_.size()) - uint64_t(T);
    for (int b = 0; b < B; ++b) {
      size_t i = size_t(rng.randbelow(range));
      copy_row(i, b, T, out);
    }
  }

  // Consecutive rows from `cursor` (a token offset, advanced by B*T); wraps to 0 when the next batch would run past
  // the end. Deterministic: use it for evaluation or for epoch-style reading.
  void sequential_batch(uint64_t& cursor, int B, int T, Batch& out) const {
    check_batch(B, T);
    SPAK_CHECK(uint64_t(B) * uint64_t(T) + 1 <= tokens_.size(), name_, " has ", tokens_.size(),
               " tokens; a sequential batch of ", B, "x", T, " needs at least ", uint64_t(B) * uint64_t(T) + 1);
    prepare(B, T, out);
    if (cursor + uint64_t(B) * uint64_t(T) + 1 > tokens_.size()) cursor = 0;
    for (int b = 0; b < B; ++b) copy_row(size_t(cursor) + size_t(b) * size_t(T), b, T, out);
    cursor += uint64_t(B) * uint64_t(T);
  }

private:
  void check_batch(int B, int T) const {
    SPAK_CHECK(B >= 1 && T >= 1, "batch dimensions must be positive, got B=", B, " T=", T);
    SPAK_CHECK(tokens_.size() >= size_t(T) + 1, name_, " has ", tokens_.size(), " tokens; a sequence of T=", T,
               " needs at least ", T + 1);
  }
  static void prepare(int B, int T, Batch& out) {
    out.B = B;
    out.T = T;
    out.x.resize(size_t(B) * size_t(T));
    out.y.resize(size_t(B) * size_t(T));
  }
  void copy_row(size_t i, int b, int T, Batch& out) const {
    std::memcpy(&out.x[size_t(b) * size_t(T)], &tokens_[i], size_t(T) * sizeof(int32_t));
    std::memcpy(&out.y[size_t(b) * size_t(T)], &tokens_[i + 1], size_t(T) * sizeof(int32_t));
  }

  std::string name_;
  std::vector<int32_t> tokens_;
};

// ---- (b) character-level text ---------------------------------------------------------------------------------------

class CharText {
public:
  // The whole file; vocab = sorted unique characters; train = first floor(n * train_fraction) characters, val = rest.
  static CharText load(const std::string& path, double train_fraction = 0.9) {
    SPAK_CHECK(train_fraction > 0.0 && train_fraction <= 1.0, "train fraction must be in (0, 1], got ", train_fraction);
    std::vector<uint32_t> text = utf8_decode(read_file(path), cat("'", path, "'"));
    SPAK_CHECK(!text.empty(), "'", path, "' is empty");
    CharText c;
    c.path_ = path;
    c.tok_ = CharTokenizer::from_codepoints(text, /*with_bos=*/false);
    size_t n_train = size_t(double(text.size()) * train_fraction);
    std::vector<int32_t> ids(text.size());
    for (size_t i = 0; i < text.size(); ++i) ids[i] = c.tok_.find(text[i]);
    c.train_ = TokenSplit(cat("the train split of '", path, "'"),
                          std::vector<int32_t>(ids.begin(), ids.begin() + long(n_train)));
    c.val_ = TokenSplit(cat("the val split of '", path, "'"),
                        std::vector<int32_t>(ids.begin() + long(n_train), ids.end()));
    return c;
  }

  const std::string& path() const { return path_; }
  const CharTokenizer& tokenizer() const { return tok_; }
  const TokenSplit& train() const { return train_; }
  const TokenSplit& val() const { return val_; }

private:
  std::string path_;
  CharTokenizer tok_;
  TokenSplit train_, val_;
};

// ---- (c) raw uint16 token files -------------------------------------------------------------------------------------

// Reads a headerless little-endian uint16 token file (nanoGPT's train.bin/val.bin); every id must be < vocab_size.
inline TokenSplit load_u16_tokens(const std::string& path, int64_t vocab_size) {
  SPAK_CHECK(vocab_size >= 1 && vocab_size <= 65536, "vocab size for uint16 tokens must be in [1, 65536], got ",
             vocab_size);
  std::string bytes = read_file(path);
  SPAK_CHECK(!bytes.empty(), "'", path, "' is empty (expected uint16 token ids)");
  SPAK_CHECK(bytes.size() % 2 == 0, "'", path, "' has an odd size (", bytes.size(),
             " bytes); expected little-endian uint16 token ids");
  std::vector<int32_t> ids(bytes.size() / 2);
  const unsigned char* p = reinterpret_cast<const unsigned char*>(bytes.data());
  for (size_t i = 0; i < ids.size(); ++i) {
    int32_t id = int32_t(p[2 * i]) | (int32_t(p[2 * i + 1]) << 8);
    if (id >= vocab_size)
      fail(cat("'", path, "': token ", id, " at index ", i, " is outside the vocabulary (size ", vocab_size, ")"));
    ids[i] = id;
  }
  return TokenSplit(cat("'", path, "'"), std::move(ids));
}

}  // namespace spak::rt
