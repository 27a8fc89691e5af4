// Element types as the runtime and its file readers see them: the nine ABI
// dtypes plus f64 and u8, which only appear in .npy files (reference outputs,
// raw f8 bytes) and never cross the module ABI.
#ifndef DSV3_LIB_RUNTIME_DTYPE_H
#define DSV3_LIB_RUNTIME_DTYPE_H

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dsv3rt::impl {

// The first nine values equal dsv3_dtype so casts between them are free.
enum class DType : int {
  F32 = 0,
  F16 = 1,
  BF16 = 2,
  F8E4M3FN = 3,
  F8E8M0FNU = 4,
  I8 = 5,
  I32 = 6,
  I64 = 7,
  I1 = 8,
  F64 = 9,
  U8 = 10,
};

size_t dtypeSize(DType t);
// Metadata spelling: "f32", "bf16", "f8e4m3fn", ... ("f64", "u8" for extras).
const char *dtypeName(DType t);
bool isAbiDType(DType t);
bool isFloatDType(DType t);
// Parses metadata names; only ABI dtypes unless allowExtra.
std::optional<DType> parseDTypeName(std::string_view name,
                                    bool allowExtra = false);
// Safetensors spelling ("F32", "F8_E4M3", "BOOL", ...); ABI dtypes only.
const char *safetensorsDTypeName(DType t);
std::optional<DType> parseSafetensorsDType(std::string_view name);

// Value of one element as a double (exact for every dtype but i64 > 2^53).
double loadAsDouble(DType t, const void *element);
// Rounds to nearest even. f8e4m3fn overflow gives NaN (it has no inf), like
// ml_dtypes. Returns false for dtypes without an encoder (f8e8m0fnu) and for
// integer dtypes (callers parse integers as text to keep i64 exact).
bool storeFloat(DType t, double value, void *element);

// The first of count i1 elements (one byte each) that is neither 0 nor 1, if
// any: modules take an i1 to be one of the two, anything else is undefined.
std::optional<uint64_t> findInvalidI1(const void *data, uint64_t count);
// " element [1, 17] = 2 is not a valid i1 (0 or 1)" (no " element [...]" at
// rank 0) for the invalid i1 at that flat index of a row-major tensor.
std::string describeInvalidI1(const std::vector<int64_t> &shape,
                              const void *data, uint64_t flat);

// "f32[2,3]" — used in every shape/dtype error message.
std::string describe(DType t, const std::vector<int64_t> &shape);
std::string shapeString(const std::vector<int64_t> &shape);

// Product of dims times element size, or nullopt on a negative dim or
// overflow of uint64.
std::optional<uint64_t> checkedByteSize(DType t,
                                        const std::vector<int64_t> &shape);
std::optional<uint64_t> checkedElementCount(const std::vector<int64_t> &shape);

} // namespace dsv3rt::impl

#endif // DSV3_LIB_RUNTIME_DTYPE_H
