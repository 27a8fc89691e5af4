#include "Safetensors.h"

#include "Error.h"
#include "TestUtil.h"

#include <cstring>

using namespace dsv3rt::impl;
using namespace dsv3test;

namespace {

class SafetensorsTest : public ::testing::Test {
protected:
  // Expects reading a file with this header and data to fail mentioning
  // the file and every needle.
  void expectBad(const std::string &header, const std::string &data,
                 std::initializer_list<std::string> needles) {
    std::string path =
        writeSafetensorsRaw(dir.file("bad.safetensors"), header, data);
    std::string m =
        expectThrowContaining([&] { SafetensorsFile f(path); }, needles);
    EXPECT_NE(m.find(path), std::string::npos) << m;
  }
  TempDir dir;
};

TEST_F(SafetensorsTest, RoundTrip) {
  float a[6] = {1, 2, 3, 4, 5, 6};
  uint16_t b[4] = {0x3f80, 0x4000, 0xbf80, 0x7fc0};
  uint8_t flag = 1;
  std::string path = dir.file("rt.safetensors");
  writeSafetensors(path,
                   {{"a", DType::F32, {2, 3}, a, sizeof a},
                    {"b", DType::BF16, {4}, b, sizeof b},
                    {"empty", DType::I64, {0, 5}, nullptr, 0},
                    {"flag", DType::I1, {}, &flag, 1}},
                   {{"format", "pt"}});
  SafetensorsFile f(path);
  ASSERT_EQ(f.tensors().size(), 4u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  const SafetensorsTensor *ta = f.find("a");
  ASSERT_TRUE(ta);
  EXPECT_EQ(ta->dtype, DType::F32);
  EXPECT_EQ(ta->shape, (std::vector<int64_t>{2, 3}));
  ASSERT_EQ(ta->size, sizeof a);
  EXPECT_EQ(std::memcmp(ta->data, a, sizeof a), 0);
  const SafetensorsTensor *tb = f.find("b");
  ASSERT_TRUE(tb);
  EXPECT_EQ(tb->dtype, DType::BF16);
  EXPECT_EQ(std::memcmp(tb->data, b, sizeof b), 0);
  EXPECT_EQ(f.find("empty")->size, 0u);
  EXPECT_EQ(f.find("flag")->shape.size(), 0u);
  EXPECT_EQ(*f.find("flag")->data, 1);
  EXPECT_EQ(f.find("missing"), nullptr);
}

TEST_F(SafetensorsTest, AcceptsTrailingSpacesAndAllDtypes) {
  std::string header =
      R"({"a":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]},)"
      R"("b":{"dtype":"F8_E8M0","shape":[1],"data_offsets":[2,3]},)"
      R"("c":{"dtype":"I8","shape":[1],"data_offsets":[3,4]},)"
      R"("d":{"dtype":"F16","shape":[2],"data_offsets":[4,8]},)"
      R"("e":{"dtype":"I32","shape":[1],"data_offsets":[8,12]},)"
      R"("z":{"dtype":"BOOL","shape":[0],"data_offsets":[12,12]}})"
      "      ";
  std::string path = writeSafetensorsRaw(dir.file("ok.safetensors"), header,
                                         std::string(12, '\x01'));
  SafetensorsFile f(path);
  EXPECT_EQ(f.tensors().size(), 6u);
  EXPECT_EQ(f.find("a")->dtype, DType::F8E4M3FN);
  EXPECT_EQ(f.find("b")->dtype, DType::F8E8M0FNU);
  EXPECT_EQ(f.find("z")->dtype, DType::I1);
}

TEST_F(SafetensorsTest, MissingFile) {
  std::string path = dir.file("nope.safetensors");
  expectThrowContaining([&] { SafetensorsFile f(path); },
                        {path, "cannot open"});
}

TEST_F(SafetensorsTest, ShorterThanEightBytes) {
  std::string path = writeBytes(dir.file("short.safetensors"), "abc");
  expectThrowContaining([&] { SafetensorsFile f(path); },
                        {path, "shorter than the 8-byte"});
  writeBytes(path, "");
  expectThrowContaining([&] { SafetensorsFile f(path); },
                        {path, "0 bytes is shorter"});
}

TEST_F(SafetensorsTest, HeaderLengthBeyondFile) {
  std::string path =
      writeBytes(dir.file("long.safetensors"), le64(1000) + "{}");
  expectThrowContaining([&] { SafetensorsFile f(path); },
                        {path, "header length 1000 exceeds the file size"});
  writeBytes(path, le64(~0ull) + "{}");
  expectThrowContaining([&] { SafetensorsFile f(path); }, {"exceeds"});
}

TEST_F(SafetensorsTest, InvalidUtf8) {
  expectBad("{\"a\xff\xfe\": {}}", "", {"malformed JSON", "UTF-8"});
}

TEST_F(SafetensorsTest, MalformedJson) {
  expectBad("{\"a\": {\"dtype\": ", "", {"malformed JSON"});
  expectBad("{} trailing", "", {"malformed JSON"});
  expectBad("", "", {"malformed JSON"});
}

TEST_F(SafetensorsTest, HeaderNotObject) {
  expectBad("[1, 2]", "", {"expected a JSON object, got array"});
}

TEST_F(SafetensorsTest, DuplicateNames) {
  expectBad(R"({"a":{"dtype":"I8","shape":[1],"data_offsets":[0,1]},)"
            R"("a":{"dtype":"I8","shape":[1],"data_offsets":[1,2]}})",
            "xx", {"duplicate key \"a\""});
}

TEST_F(SafetensorsTest, EntryNotObject) {
  expectBad(R"({"a": 3})", "", {"tensor \"a\"", "expected an object"});
}

TEST_F(SafetensorsTest, MissingFields) {
  expectBad(R"({"a":{"shape":[1],"data_offsets":[0,1]}})", "x",
            {"tensor \"a\"", "missing field \"dtype\""});
  expectBad(R"({"a":{"dtype":"I8","data_offsets":[0,1]}})", "x",
            {"missing field \"shape\""});
  expectBad(R"({"a":{"dtype":"I8","shape":[1]}})", "x",
            {"missing field \"data_offsets\""});
}

TEST_F(SafetensorsTest, UnexpectedField) {
  expectBad(R"({"a":{"dtype":"I8","shape":[1],"data_offsets":[0,1],"x":1}})",
            "x", {"unexpected field \"x\""});
}

TEST_F(SafetensorsTest, WrongFieldTypes) {
  expectBad(R"({"a":{"dtype":5,"shape":[1],"data_offsets":[0,1]}})", "x",
            {"\"dtype\" must be a string, got number"});
  expectBad(R"({"a":{"dtype":"I8","shape":"1","data_offsets":[0,1]}})", "x",
            {"\"shape\" must be an array, got string"});
  expectBad(R"({"a":{"dtype":"I8","shape":[1],"data_offsets":"0-1"}})", "x",
            {"data_offsets must be two non-negative integers"});
}

TEST_F(SafetensorsTest, UnknownDtype) {
  expectBad(R"({"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})",
            std::string(8, 'x'), {"unknown dtype \"F64\""});
  expectBad(R"({"a":{"dtype":"bf16","shape":[1],"data_offsets":[0,2]}})", "xx",
            {"unknown dtype \"bf16\""});
}

TEST_F(SafetensorsTest, BadShapeDims) {
  expectBad(R"({"a":{"dtype":"I8","shape":[-1],"data_offsets":[0,0]}})", "",
            {"shape dimension -1 is not a non-negative integer"});
  expectBad(R"({"a":{"dtype":"I8","shape":[2.0],"data_offsets":[0,2]}})", "xx",
            {"shape dimension 2.0 is not a non-negative integer"});
  expectBad(R"({"a":{"dtype":"I8","shape":["2"],"data_offsets":[0,2]}})", "xx",
            {"not a non-negative integer"});
}

TEST_F(SafetensorsTest, DataOffsetsNotTwoIntegers) {
  for (const char *offsets :
       {"[0]", "[0,1,2]", "[0,\"1\"]", "[0,1.0]", "[-1,1]", "{}"})
    expectBad(std::string(R"({"a":{"dtype":"I8","shape":[1],"data_offsets":)") +
                  offsets + "}}",
              "x", {"data_offsets must be two non-negative integers"});
}

TEST_F(SafetensorsTest, DataOffsetsReversed) {
  expectBad(R"({"a":{"dtype":"I8","shape":[1],"data_offsets":[2,1]}})", "xx",
            {"reversed", "begin 2 > end 1"});
}

TEST_F(SafetensorsTest, DataOffsetsOutOfData) {
  expectBad(R"({"a":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}})", "xxxx",
            {"out of the data section (4 bytes)"});
}

TEST_F(SafetensorsTest, DataOffsetsDisagreeWithShape) {
  expectBad(R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})",
            std::string(24, 'x'), {"span 20 bytes but f32[2,3] needs 24"});
}

TEST_F(SafetensorsTest, ShapeOverflow) {
  expectBad(R"({"a":{"dtype":"F32","shape":[4611686018427387904,4],)"
            R"("data_offsets":[0,0]}})",
            "", {"overflows"});
  expectBad(R"({"a":{"dtype":"F32","shape":[4611686018427387904],)"
            R"("data_offsets":[0,0]}})",
            "", {"overflows"});
}

// Found by fuzz/ (safetensors): a shape nested 10^5 deep overflowed the
// stack when its message printed it (nlohmann's dump() recurses per level).
TEST_F(SafetensorsTest, DeepNestingIsRefused) {
  auto nested = [](size_t depth) {
    return R"({"a":{"dtype":"I8","shape":)" + std::string(depth, '[') +
           std::string(depth, ']') + R"(,"data_offsets":[0,1]}})";
  };
  expectBad(nested(1000000), "x",
            {"invalid safetensors header: malformed JSON: nested deeper "
             "than 64 levels"});
  expectBad(nested(63), "x", {"nested deeper than 64 levels"});
  // 64 levels in all are read, and the shape refused for what it says.
  expectBad(nested(62), "x", {"shape dimension [[", "is not a non-negative"});
}

TEST_F(SafetensorsTest, OverlappingTensors) {
  expectBad(R"({"a":{"dtype":"I32","shape":[2],"data_offsets":[0,8]},)"
            R"("b":{"dtype":"I32","shape":[1],"data_offsets":[4,8]}})",
            std::string(8, 'x'), {"overlaps"});
}

TEST_F(SafetensorsTest, ZeroSizeTensorsMayShareOffsets) {
  std::string path = writeSafetensorsRaw(
      dir.file("z.safetensors"),
      R"({"a":{"dtype":"I32","shape":[0],"data_offsets":[4,4]},)"
      R"("b":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}})",
      std::string(8, 'x'));
  SafetensorsFile f(path);
  EXPECT_EQ(f.tensors().size(), 2u);
}

TEST_F(SafetensorsTest, MetadataMustBeStrings) {
  expectBad(R"({"__metadata__":{"a":1}})", "",
            {"__metadata__", "not a string"});
  expectBad(R"({"__metadata__":[]})", "", {"__metadata__ must be an object"});
}

TEST_F(SafetensorsTest, WriterRejectsSizeMismatch) {
  float a[2] = {1, 2};
  std::string path = dir.file("w.safetensors");
  expectThrowContaining(
      [&] {
        writeSafetensors(path, {{"a", DType::F32, {3}, a, sizeof a}});
      },
      {path, "does not match"});
}

// The JSON parser takes a NUL byte for the end of its input: whatever
// follows one was dropped without a word.
TEST_F(SafetensorsTest, NulByteInHeaderIsRefused) {
  const std::string a =
      R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  expectBad(a + std::string(1, '\0') +
                R"(,"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
            std::string(8, 'x'),
            {"invalid safetensors header", "NUL byte at offset 54"});
  expectBad(a + std::string(8, '\0'), std::string(4, 'x'),
            {"NUL byte at offset 54"});
  // Escaped, a NUL would cut the name (and the messages quoting it) short.
  expectBad(R"({"a\u0000b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
            std::string(4, 'x'),
            {"tensor name \"a\\u0000...\" contains a NUL"});
}

} // namespace
