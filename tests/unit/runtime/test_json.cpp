// Unit tests for spak/runtime/json.h: the strict JSON reader used for safetensors headers.
#include "test_util.h"

#include "spak/runtime/json.h"

using namespace spak::rt;

TEST_CASE("json: values, escapes and exact integers", "[json]") {
  JsonValue v = parse_json(R"( {"a": [1, -2, 3.5e1, 9007199254740993], "s": "x\"\\\n\u00e9\ud83d\ude00",
                               "t": true, "f": false, "n": null, "o": {}} )", "test");
  REQUIRE(v.kind == JsonValue::Object);
  const auto& a = v.at("a").items;
  REQUIRE(a.size() == 4);
  CHECK(a[0].as_int("a0") == 1);
  CHECK(a[1].as_int("a1") == -2);
  CHECK(!a[2].is_integer);
  CHECK(a[2].number == 35.0);
  CHECK(a[3].integer == 9007199254740993LL);  // beyond double precision, kept exact
  CHECK(v.at("s").str == "x\"\\\n\xc3\xa9\xf0\x9f\x98\x80");
  CHECK(v.at("t").boolean);
  CHECK(v.at("n").kind == JsonValue::Null);
  CHECK(v.at("o").members.empty());
  CHECK(json_quote("a\"b\\c\n\x01") == "\"a\\\"b\\\\c\\n\\u0001\"");
  CHECK(json_number(0.1) == "0.10000000000000001");
  CHECK(json_number(1.0 / 0.0) == "Infinity");
}

TEST_CASE("json: malformed input is rejected with the byte offset", "[json]") {
  REQUIRE_ERROR_CONTAINS(parse_json("{\"a\":1,}", "hdr"), "invalid JSON in hdr at byte 7: expected a string key");
  REQUIRE_ERROR_CONTAINS(parse_json("[1 2]", "hdr"), "expected ']'");
  REQUIRE_ERROR_CONTAINS(parse_json("01", "hdr"), "unexpected trailing characters");
  REQUIRE_ERROR_CONTAINS(parse_json("\"abc", "hdr"), "unterminated string");
  REQUIRE_ERROR_CONTAINS(parse_json("\"\\ud800\"", "hdr"), "lone surrogate");
  REQUIRE_ERROR_CONTAINS(parse_json("\"\\q\"", "hdr"), "bad escape");
  REQUIRE_ERROR_CONTAINS(parse_json("-", "hdr"), "malformed number");
  REQUIRE_ERROR_CONTAINS(parse_json("", "hdr"), "unexpected end of input");
  REQUIRE_ERROR_CONTAINS(parse_json(std::string(100, '['), "hdr"), "deeper than 64 levels");
  REQUIRE_ERROR_CONTAINS(parse_json("{\"a\":1}", "hdr").at("b"), "missing JSON key 'b'");
}
