// NumPy .npy reader and writer (format versions 1.0, 2.0 and 3.0).
//
// Supported descr: <f4 <f2 <f8 <i4 <i8 |i1 |u1 |b1, C order only. <f8 reads
// as DType::F64 and |u1 as DType::U8: neither is an ABI dtype, so callers
// decide where they are acceptable (reference outputs, raw f8 bytes).
//
// numpy itself has no bf16 or f8 dtype. np.save of an ml_dtypes bfloat16
// array writes the void descr '<V2', of a float8_e4m3fn or float8_e8m0fnu
// array '<V1' ('|V2', '|V1' once numpy has reloaded it): raw elements of that
// many bytes whose type the file does not say.
#ifndef DSV3_LIB_RUNTIME_NPY_H
#define DSV3_LIB_RUNTIME_NPY_H

#include "HostTensor.h"

#include <optional>
#include <string>

namespace dsv3rt::impl {

// Throws Error naming the path and the fault. A void descr ('<V2', '|V1')
// is read as voidAs, the dtype the caller expects there (an argument's), when
// that is bf16 or an f8 dtype of the same size; otherwise, and without
// voidAs, it is refused naming both, as its bytes could be anything.
HostTensor readNpy(const std::string &path,
                   std::optional<DType> voidAs = std::nullopt);

// Writes format 1.0 (2.0 if the header needs it). bf16 is written as '<V2'
// and f8 as '<V1', as np.save writes ml_dtypes arrays: np.load gives a void
// array that .view(ml_dtypes.bfloat16) (or float8_*) reinterprets.
void writeNpy(const std::string &path, DType dtype,
              const std::vector<int64_t> &shape, const void *data,
              uint64_t size);

} // namespace dsv3rt::impl

#endif // DSV3_LIB_RUNTIME_NPY_H
