// The bind-time FP8 quantizer's cast against the runtime's reference encoder
// (DType.cpp's storeFloat, whose round trips and rounding cases DTypeTest
// checks), and its result's independence of the thread count. The whole
// quantization is checked bit for bit against dsv3.quantize and ml_dtypes in
// test/Integration/host/quantize-at-bind.test.
#include "QuantizeFP8.h"
#include "DType.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

using namespace dsv3rt::impl;

namespace {

uint8_t reference(float x) {
  // Saturate, then round to nearest even.
  float c = std::isnan(x) ? x : std::fmin(std::fmax(x, -448.0f), 448.0f);
  uint8_t code;
  EXPECT_TRUE(storeFloat(DType::F8E4M3FN, c, &code));
  return code;
}

float fromBits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

} // namespace

// Every f32 whose low 16 mantissa bits are 0 or a rounding-critical pattern
// (ties and their neighbours at the 3-bit cut), over all exponents and
// signs: each e4m3 rounding case, subnormals and saturation included.
TEST(QuantizeFP8, CastMatchesTheReferenceEncoder) {
  const uint32_t lows[] = {0x0,     0x1,     0x7ffff,  0x80000,
                           0x80001, 0xfffff, 0x100000, 0x17ffff};
  uint64_t checked = 0;
  for (uint32_t hi = 0; hi < (1u << 12); ++hi) // sign, exponent, 3 bits
    for (uint32_t mid = 0; mid < 2; ++mid)
      for (uint32_t low : lows) {
        uint32_t bits = (hi << 20) | (mid << 19) ^ low;
        float x = fromBits(bits);
        if (std::isnan(x))
          continue;
        ASSERT_EQ(f32ToE4M3Saturating(x), reference(x))
            << "x = " << x << " (bits 0x" << std::hex << bits << ")";
        ++checked;
      }
  // And random finite values.
  std::mt19937 rng(11);
  for (int i = 0; i < 2000000; ++i) {
    float x = fromBits(rng());
    if (std::isnan(x))
      continue;
    ASSERT_EQ(f32ToE4M3Saturating(x), reference(x)) << "x = " << x;
    ++checked;
  }
  EXPECT_GT(checked, 2000000u);
}

TEST(QuantizeFP8, NaNKeepsItsSign) {
  EXPECT_EQ(f32ToE4M3Saturating(fromBits(0x7fc00000)), 0x7f);
  EXPECT_EQ(f32ToE4M3Saturating(fromBits(0xffc00000)), 0xff);
  EXPECT_EQ(f32ToE4M3Saturating(INFINITY), 0x7e);
  EXPECT_EQ(f32ToE4M3Saturating(-INFINITY), 0xfe);
}

TEST(QuantizeFP8, ResultDoesNotDependOnThreads) {
  const int64_t rows = 300, cols = 260;
  std::vector<float> w(rows * cols);
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  for (float &x : w)
    x = normal(rng);
  std::vector<uint8_t> q1(w.size()), q3(w.size());
  std::vector<float> s1(3 * 3), s3(3 * 3);
  quantizeE4M3Blocks(DType::F32, w.data(), rows, cols, q1.data(), s1.data(), 1);
  quantizeE4M3Blocks(DType::F32, w.data(), rows, cols, q3.data(), s3.data(), 3);
  EXPECT_EQ(q1, q3);
  EXPECT_EQ(s1, s3);
  // The last block (rows 256..299, cols 256..259) has its own scale.
  float amax = 0;
  for (int64_t r = 256; r < rows; ++r)
    for (int64_t c = 256; c < cols; ++c)
      amax = std::fmax(amax, std::fabs(w[r * cols + c]));
  EXPECT_EQ(s1[8], amax / 448.0f);
}
