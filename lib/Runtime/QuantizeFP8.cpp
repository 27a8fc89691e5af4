#include "QuantizeFP8.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <thread>
#include <vector>

namespace dsv3rt::impl {

namespace {

constexpr float kE4M3Max = 448.0f;
constexpr float kAmaxFloor = 1e-4f;

float elementAsF32(DType from, const uint8_t *row, int64_t col) {
  switch (from) {
  case DType::BF16: {
    uint16_t h;
    std::memcpy(&h, row + 2 * col, 2);
    uint32_t bits = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  case DType::F32: {
    float f;
    std::memcpy(&f, row + 4 * col, 4);
    return f;
  }
  default: // f16: exact in f32
    return static_cast<float>(loadAsDouble(from, row + 2 * col));
  }
}

// One 128-row stripe of blocks.
void quantizeStripe(DType from, const uint8_t *src, int64_t rows, int64_t cols,
                    int64_t stripe, uint8_t *codes, float *scales) {
  const size_t elt = dtypeSize(from);
  const int64_t r0 = stripe * kQuantizeBlock;
  const int64_t r1 = std::min(rows, r0 + kQuantizeBlock);
  const int64_t colBlocks = (cols + kQuantizeBlock - 1) / kQuantizeBlock;
  for (int64_t cb = 0; cb < colBlocks; ++cb) {
    const int64_t c0 = cb * kQuantizeBlock;
    const int64_t c1 = std::min(cols, c0 + kQuantizeBlock);
    float amax = 0.0f;
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t *row = src + static_cast<size_t>(r) * cols * elt;
      for (int64_t c = c0; c < c1; ++c)
        amax = std::fmax(amax, std::fabs(elementAsF32(from, row, c)));
    }
    const float scale = std::fmax(amax, kAmaxFloor) / kE4M3Max;
    scales[stripe * colBlocks + cb] = scale;
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t *row = src + static_cast<size_t>(r) * cols * elt;
      uint8_t *out = codes + static_cast<size_t>(r) * cols;
      for (int64_t c = c0; c < c1; ++c)
        out[c] = f32ToE4M3Saturating(elementAsF32(from, row, c) / scale);
    }
  }
}

} // namespace

uint8_t f32ToE4M3Saturating(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  const uint8_t sign = static_cast<uint8_t>((bits >> 24) & 0x80);
  // NaN keeps its sign, as the compiled cast does: inf / inf in a block whose
  // scale is inf gives x86's default NaN, which is negative (0xFF).
  if (std::isnan(x))
    return sign | 0x7f;
  float a = std::fmin(std::fabs(x), kE4M3Max);
  std::memcpy(&bits, &a, 4);
  uint8_t magnitude;
  if (a < 0x1p-6f) {
    // Subnormal codes are multiples of 2^-9; 2^-6 itself rounds up to code
    // 8, the smallest normal. Scaling by 2^9 is exact.
    magnitude = static_cast<uint8_t>(std::nearbyint(a * 0x1p9f));
  } else {
    // Round the 23-bit mantissa to 3 bits, to nearest even; a carry moves
    // into the exponent, which is what rounding up to the next binade means.
    const uint32_t lsb = (bits >> 20) & 1;
    bits += 0x7ffff + lsb;
    // Rebias the exponent from 127 to 7: (127 - 7) << 3 in code units.
    magnitude = static_cast<uint8_t>((bits >> 20) - (120u << 3));
  }
  return sign | magnitude;
}

void quantizeE4M3Blocks(DType from, const void *src, int64_t rows, int64_t cols,
                        uint8_t *codes, float *scales, unsigned threads) {
  const int64_t stripes = (rows + kQuantizeBlock - 1) / kQuantizeBlock;
  if (threads == 0)
    threads = std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(
      std::min<int64_t>(threads, std::max<int64_t>(stripes, 1)));
  const auto *in = static_cast<const uint8_t *>(src);
  auto work = [&](unsigned t) {
    for (int64_t s = t; s < stripes; s += threads)
      quantizeStripe(from, in, rows, cols, s, codes, scales);
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t)
    pool.emplace_back(work, t);
  work(0);
  for (std::thread &t : pool)
    t.join();
}

} // namespace dsv3rt::impl
