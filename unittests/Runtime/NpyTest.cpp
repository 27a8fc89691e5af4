#include "Npy.h"

#include "MappedFile.h"
#include "TestUtil.h"

#include <cstring>

using namespace dsv3rt::impl;
using namespace dsv3test;

namespace {

// A version-1.0 npy file with the given header dict and raw data.
std::string npyBytes(const std::string &dict, const std::string &data,
                     int major = 1) {
  std::string header = dict + "\n";
  std::string s = std::string("\x93NUMPY", 6) + char(major) + '\0';
  if (major == 1) {
    s += char(header.size() & 0xff);
    s += char(header.size() >> 8);
  } else {
    s += le64(header.size()).substr(0, 4);
  }
  return s + header + data;
}

class NpyTest : public ::testing::Test {
protected:
  void expectBad(const std::string &bytes,
                 std::initializer_list<std::string> needles) {
    std::string path = writeBytes(dir.file("bad.npy"), bytes);
    std::string m = expectThrowContaining([&] { readNpy(path); }, needles);
    EXPECT_NE(m.find(path), std::string::npos) << m;
  }
  TempDir dir;
};

template <typename T>
void roundTrip(const TempDir &dir, DType dtype, std::vector<int64_t> shape,
               std::vector<T> values,
               std::optional<DType> voidAs = std::nullopt) {
  std::string path = dir.file("rt.npy");
  writeNpy(path, dtype, shape, values.data(), values.size() * sizeof(T));
  HostTensor t = readNpy(path, voidAs);
  EXPECT_EQ(t.dtype, dtype);
  EXPECT_EQ(t.shape, shape);
  ASSERT_EQ(t.byteSize(), values.size() * sizeof(T));
  if (t.byteSize())
    EXPECT_EQ(std::memcmp(t.data(), values.data(), t.byteSize()), 0);
}

TEST_F(NpyTest, RoundTrip) {
  roundTrip<float>(dir, DType::F32, {2, 3}, {1, 2, 3, 4, 5, 6});
  roundTrip<float>(dir, DType::F32, {3}, {1, 2, 3});
  roundTrip<float>(dir, DType::F32, {}, {42});
  roundTrip<float>(dir, DType::F32, {0, 4}, {});
  roundTrip<uint16_t>(dir, DType::F16, {2}, {0x3c00, 0xc000});
  roundTrip<double>(dir, DType::F64, {2}, {1.5, -2});
  roundTrip<int32_t>(dir, DType::I32, {1, 1, 2}, {-7, 9});
  roundTrip<int64_t>(dir, DType::I64, {2}, {INT64_MIN, INT64_MAX});
  roundTrip<int8_t>(dir, DType::I8, {2}, {-128, 127});
  roundTrip<uint8_t>(dir, DType::U8, {2}, {0, 255});
  roundTrip<uint8_t>(dir, DType::I1, {3}, {1, 0, 1});
  roundTrip<uint16_t>(dir, DType::BF16, {2}, {0x3fc0, 0x7fc0}, DType::BF16);
  roundTrip<uint8_t>(dir, DType::F8E4M3FN, {2}, {0x38, 0x7f}, DType::F8E4M3FN);
  roundTrip<uint8_t>(dir, DType::F8E8M0FNU, {1}, {127}, DType::F8E8M0FNU);
}

TEST_F(NpyTest, ReadsVersions2And3AndPythonSpelling) {
  float v[2] = {1, 2};
  std::string data(reinterpret_cast<const char *>(v), sizeof v);
  for (int major : {2, 3}) {
    std::string path = writeBytes(
        dir.file("v.npy"),
        npyBytes("{\"shape\": (2,), 'fortran_order': False, 'descr': '<f4'}",
                 data, major));
    HostTensor t = readNpy(path);
    EXPECT_EQ(t.shape, std::vector<int64_t>{2});
    EXPECT_EQ(std::memcmp(t.data(), v, 8), 0);
  }
}

// What np.save writes for np.array([1.5, -2, nan], ml_dtypes.bfloat16)
// (numpy 2.4, ml_dtypes 0.7): bf16 has no numpy dtype, so the descr is the
// void type '<V2'. The writer produces these bytes exactly, so np.load gives
// what it gives for ml_dtypes' own files, and the reader takes them back.
const std::string kMlDtypesBf16Npy =
    std::string("\x93NUMPY\x01\x00\x76\x00", 10) +
    "{'descr': '<V2', 'fortran_order': False, 'shape': (3,), }" +
    std::string(60, ' ') + "\n" + std::string("\xc0\x3f\x00\xc0\xc0\x7f", 6);

TEST_F(NpyTest, WritesBf16AsNumpyWritesMlDtypesBfloat16) {
  const uint16_t v[3] = {0x3fc0, 0xc000, 0x7fc0}; // 1.5, -2, nan
  std::string path = dir.file("b.npy");
  writeNpy(path, DType::BF16, {3}, v, sizeof v);
  MappedFile f(path);
  EXPECT_EQ(std::string(reinterpret_cast<const char *>(f.data()), f.size()),
            kMlDtypesBf16Npy);
}

TEST_F(NpyTest, ReadsVoidDescrAsTheDeclaredDType) {
  std::string path = writeBytes(dir.file("ml.npy"), kMlDtypesBf16Npy);
  HostTensor t = readNpy(path, DType::BF16);
  EXPECT_EQ(t.dtype, DType::BF16);
  EXPECT_EQ(t.shape, std::vector<int64_t>{3});
  EXPECT_EQ(std::memcmp(t.data(), "\xc0\x3f\x00\xc0\xc0\x7f", 6), 0);
  // np.load gives a '|V2' array; saved again it says so. f8 arrays are '<V1'
  // for both f8 dtypes: only the declared dtype tells them apart.
  path = writeBytes(
      dir.file("v.npy"),
      npyBytes("{'descr': '|V2', 'fortran_order': False, 'shape': (1,)}",
               "\x80\x3f"));
  EXPECT_EQ(readNpy(path, DType::BF16).dtype, DType::BF16);
  path = writeBytes(
      dir.file("f8.npy"),
      npyBytes("{'descr': '<V1', 'fortran_order': False, 'shape': (2,)}",
               "\x38\x7f"));
  EXPECT_EQ(readNpy(path, DType::F8E4M3FN).dtype, DType::F8E4M3FN);
  EXPECT_EQ(readNpy(path, DType::F8E8M0FNU).dtype, DType::F8E8M0FNU);
}

// A void descr says only the element size: without a declared dtype, or with
// one of another size or one numpy has (f32, i8), it is refused naming both.
TEST_F(NpyTest, VoidDescrNeedsAMatchingDeclaredDType) {
  std::string path = writeBytes(dir.file("ml.npy"), kMlDtypesBf16Npy);
  expectThrowContaining([&] { readNpy(path); },
                        {path,
                         "npy dtype '<V2' (raw 2-byte elements) does "
                         "not say its type",
                         "bf16 ('<V2', an ml_dtypes bfloat16 array)"});
  expectThrowContaining([&] { readNpy(path, DType::F32); },
                        {path, "'<V2' (raw 2-byte elements) cannot be read as "
                               "f32 (4-byte elements)"});
  expectThrowContaining([&] { readNpy(path, DType::F8E4M3FN); },
                        {"cannot be read as f8e4m3fn (1-byte elements)"});
  expectThrowContaining([&] { readNpy(path, DType::F16); },
                        {"cannot be read as f16 (2-byte elements)"});
  std::string v1 = writeBytes(
      dir.file("v1.npy"),
      npyBytes("{'descr': '<V1', 'fortran_order': False, 'shape': (1,)}", "x"));
  expectThrowContaining([&] { readNpy(v1, DType::I8); },
                        {"'<V1' (raw 1-byte elements) cannot be read as i8"});
  expectBad(
      npyBytes("{'descr': '>V2', 'fortran_order': False, 'shape': (1,)}", "xx"),
      {"big-endian dtype '>V2'"});
  expectBad(
      npyBytes("{'descr': '<V2x', 'fortran_order': False, 'shape': ()}", "xx"),
      {"unsupported npy dtype '<V2x'"});
}

TEST_F(NpyTest, BadMagic) {
  expectBad("PK\x03\x04 not numpy", {"missing \\x93NUMPY magic"});
  expectBad("", {"magic"});
}

TEST_F(NpyTest, UnsupportedVersion) {
  expectBad(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': ()}",
                     "xxxx", 4),
            {"unsupported npy format version 4.0"});
}

TEST_F(NpyTest, TruncatedHeader) {
  expectBad(std::string("\x93NUMPY\x01\x00", 8), {"header length missing"});
  expectBad(std::string("\x93NUMPY\x01\x00\xff\x00{", 11),
            {"header length 255 exceeds the file size"});
}

TEST_F(NpyTest, FortranOrder) {
  expectBad(npyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (1,)}",
                     "xxxx"),
            {"fortran_order"});
}

TEST_F(NpyTest, BigEndian) {
  expectBad(npyBytes("{'descr': '>f4', 'fortran_order': False, 'shape': (1,)}",
                     "xxxx"),
            {"big-endian dtype '>f4'"});
}

TEST_F(NpyTest, UnsupportedDescr) {
  expectBad(npyBytes("{'descr': '<c8', 'fortran_order': False, 'shape': (1,)}",
                     "xxxxxxxx"),
            {"unsupported npy dtype '<c8'"});
}

TEST_F(NpyTest, TruncatedData) {
  expectBad(
      npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}",
               std::string(20, 'x')),
      {"truncated npy data", "needs 24 bytes, file has 20"});
}

TEST_F(NpyTest, ExtraData) {
  expectBad(npyBytes("{'descr': '<i4', 'fortran_order': False, 'shape': (1,)}",
                     std::string(8, 'x')),
            {"data length 8 does not match shape [1]"});
}

TEST_F(NpyTest, MalformedHeader) {
  expectBad(npyBytes("{'descr': '<f4', 'fortran_order': False}", "xxxx"),
            {"malformed npy header", "missing key 'shape'"});
  expectBad(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), "
                     "'extra': 1}",
                     "xxxx"),
            {"malformed npy header", "unexpected key 'extra'"});
  expectBad(npyBytes("{'descr': '<f4', 'fortran_order': Nope, 'shape': (1,)}",
                     "xxxx"),
            {"expected True or False"});
  expectBad(
      npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", ""),
      {"non-negative integer dimension"});
  expectBad(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)",
                     "xxxx"),
            {"malformed npy header"});
  expectBad(npyBytes("'descr'", "xxxx"), {"malformed npy header"});
  expectBad(npyBytes("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, "
                     "'shape': (1,)}",
                     "xxxx"),
            {"duplicate key 'descr'"});
}

// A malformed header is quoted in the error only up to 200 characters (a
// version-2 header may be 4 GB long), and so is a key or dtype from it.
TEST_F(NpyTest, LongHeaderIsQuotedTruncated) {
  const std::string junk(100000, 'z');
  std::string m = expectThrowContaining(
      [&] {
        readNpy(writeBytes(
            dir.file("long.npy"),
            npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)" +
                         junk,
                     "xxxx", 2)));
      },
      {"malformed npy header", "... (100055 characters in all)"});
  EXPECT_LT(m.size(), 800u) << m;
  m = expectThrowContaining(
      [&] {
        readNpy(writeBytes(dir.file("key.npy"),
                           npyBytes("{'" + junk + "': 1}", "", 2)));
      },
      {"unexpected key '", "characters in all"});
  EXPECT_LT(m.size(), 800u) << m.substr(0, 1000);
  m = expectThrowContaining(
      [&] {
        readNpy(writeBytes(dir.file("descr.npy"),
                           npyBytes("{'descr': '<" + junk +
                                        "', 'fortran_order': False, "
                                        "'shape': (1,)}",
                                    "xxxx", 2)));
      },
      {"unsupported npy dtype '<zz", "characters in all"});
  EXPECT_LT(m.size(), 800u) << m.substr(0, 1000);
}

} // namespace
