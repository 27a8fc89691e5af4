#include "DType.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

using namespace dsv3rt::impl;

namespace {

template <typename Bits> Bits encode(DType t, double v) {
  Bits b = 0;
  EXPECT_TRUE(storeFloat(t, v, &b));
  return b;
}

// Every non-NaN code must decode and re-encode to itself.
template <typename Bits> void exhaustiveRoundTrip(DType t, unsigned count) {
  for (unsigned code = 0; code < count; ++code) {
    Bits b = static_cast<Bits>(code);
    double v = loadAsDouble(t, &b);
    if (std::isnan(v))
      continue;
    ASSERT_EQ(encode<Bits>(t, v), b) << dtypeName(t) << " code " << code;
  }
}

TEST(DType, Sizes) {
  EXPECT_EQ(dtypeSize(DType::F32), 4u);
  EXPECT_EQ(dtypeSize(DType::F16), 2u);
  EXPECT_EQ(dtypeSize(DType::BF16), 2u);
  EXPECT_EQ(dtypeSize(DType::F8E4M3FN), 1u);
  EXPECT_EQ(dtypeSize(DType::F8E8M0FNU), 1u);
  EXPECT_EQ(dtypeSize(DType::I8), 1u);
  EXPECT_EQ(dtypeSize(DType::I32), 4u);
  EXPECT_EQ(dtypeSize(DType::I64), 8u);
  EXPECT_EQ(dtypeSize(DType::I1), 1u);
}

TEST(DType, Names) {
  for (int i = 0; i < 9; ++i) {
    DType t = static_cast<DType>(i);
    EXPECT_EQ(parseDTypeName(dtypeName(t)), t);
    EXPECT_EQ(parseSafetensorsDType(safetensorsDTypeName(t)), t);
  }
  EXPECT_FALSE(parseDTypeName("f64"));
  EXPECT_EQ(parseDTypeName("f64", true), DType::F64);
  EXPECT_FALSE(parseSafetensorsDType("F64"));
}

TEST(DType, ExhaustiveRoundTrips) {
  exhaustiveRoundTrip<uint16_t>(DType::F16, 65536);
  exhaustiveRoundTrip<uint16_t>(DType::BF16, 65536);
  exhaustiveRoundTrip<uint8_t>(DType::F8E4M3FN, 256);
}

TEST(DType, Rounding) {
  // ties to even
  EXPECT_EQ(encode<uint16_t>(DType::BF16, 1.0 + 1.0 / 256), 0x3f80);
  EXPECT_EQ(encode<uint16_t>(DType::BF16, 1.0 + 3.0 / 256), 0x3f82);
  EXPECT_EQ(encode<uint16_t>(DType::F16, 65504), 0x7bff);
  EXPECT_EQ(encode<uint16_t>(DType::F16, 65520), 0x7c00); // to inf
  EXPECT_EQ(encode<uint16_t>(DType::F16, std::ldexp(1.0, -24)), 0x0001);
  EXPECT_EQ(encode<uint16_t>(DType::F16, std::ldexp(1.0, -26)), 0x0000);
  EXPECT_EQ(encode<uint8_t>(DType::F8E4M3FN, 448), 0x7e);
  EXPECT_EQ(encode<uint8_t>(DType::F8E4M3FN, 460), 0x7e);
  EXPECT_EQ(encode<uint8_t>(DType::F8E4M3FN, 464), 0x7e); // tie: even
  EXPECT_EQ(encode<uint8_t>(DType::F8E4M3FN, 465), 0x7f); // overflow: NaN
  EXPECT_EQ(encode<uint8_t>(DType::F8E4M3FN, std::ldexp(1.0, -10)), 0x00);
  EXPECT_EQ(encode<uint8_t>(DType::F8E4M3FN, 3 * std::ldexp(1.0, -11)), 0x01);
  EXPECT_EQ(encode<uint8_t>(DType::F8E4M3FN, -1e9), 0xff);
  EXPECT_EQ(encode<uint8_t>(DType::F8E4M3FN, INFINITY), 0x7f);
  EXPECT_EQ(encode<uint8_t>(DType::F8E4M3FN, std::ldexp(1.0, -9)), 0x01);
  EXPECT_EQ(encode<uint8_t>(DType::F8E4M3FN, -0.0), 0x80);
  uint8_t e8 = 127;
  EXPECT_EQ(loadAsDouble(DType::F8E8M0FNU, &e8), 1.0);
  e8 = 0xff;
  EXPECT_TRUE(std::isnan(loadAsDouble(DType::F8E8M0FNU, &e8)));
  EXPECT_FALSE(storeFloat(DType::F8E8M0FNU, 1.0, &e8));
}

TEST(DType, CheckedSizes) {
  EXPECT_EQ(checkedByteSize(DType::F32, {2, 3}), 24u);
  EXPECT_EQ(checkedByteSize(DType::F32, {}), 4u);
  EXPECT_EQ(checkedByteSize(DType::F32, {0, 7}), 0u);
  EXPECT_FALSE(checkedByteSize(DType::F32, {-1}));
  EXPECT_FALSE(checkedByteSize(DType::I64, {1ll << 62}));
  EXPECT_FALSE(checkedElementCount({1ll << 32, 1ll << 32}));
}

} // namespace
