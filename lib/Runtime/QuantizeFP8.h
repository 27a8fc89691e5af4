// Block FP8 quantization of a weight when parameters are bound: what a
// compiled `dsv3.quantize %w block [128, 128]` (f32 scales) gives, bit for
// bit (docs/runtime-abi.md, "Parameters quantized at bind time").
#ifndef DSV3_LIB_RUNTIME_QUANTIZEFP8_H
#define DSV3_LIB_RUNTIME_QUANTIZEFP8_H

#include "DType.h"

#include <cstdint>

namespace dsv3rt::impl {

inline constexpr int64_t kQuantizeBlock = 128;

// e4m3fn code of x: clamped to ±448, then rounded to nearest even, as dsv3's
// saturating cast does; a NaN gives the NaN code with its sign.
uint8_t f32ToE4M3Saturating(float x);

// `src` is a row-major [rows, cols] tensor of dtype `from` (bf16, f16 or
// f32). For each 128 x 128 block (edge blocks: their valid elements only):
//   amax  = max(max |x| over the block, ignoring NaN, 1e-4)
//   scale = amax / 448                           (f32)
//   code  = e4m3_sat(f32(x) / scale)              (f32 division)
// `codes` receives rows x cols bytes, `scales` ceil(rows/128) x
// ceil(cols/128) floats. Runs on up to `threads` threads (0: the machine's);
// the result does not depend on the thread count.
void quantizeE4M3Blocks(DType from, const void *src, int64_t rows, int64_t cols,
                        uint8_t *codes, float *scales, unsigned threads = 0);

} // namespace dsv3rt::impl

#endif // DSV3_LIB_RUNTIME_QUANTIZEFP8_H
