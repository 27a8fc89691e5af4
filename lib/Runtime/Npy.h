// NumPy .npy reader and writer (format versions 1.0, 2.0 and 3.0).
//
// Supported descr: <f4 <f2 <f8 <i4 <i8 |i1 |u1 |b1, C order only. <f8 reads
// as DType::F64 and |u1 as DType::U8: neither is an ABI dtype, so callers
// decide where they are acceptable (reference outputs, raw f8 bytes).
#ifndef DSV3_LIB_RUNTIME_NPY_H
#define DSV3_LIB_RUNTIME_NPY_H

#include "HostTensor.h"

#include <string>

namespace dsv3rt::impl {

// Throws Error naming the path and the fault.
HostTensor readNpy(const std::string &path);

// Writes format 1.0 (2.0 if the header needs it). bf16 and f8 have no numpy
// dtype, so they are refused with a message pointing at .safetensors.
void writeNpy(const std::string &path, DType dtype,
              const std::vector<int64_t> &shape, const void *data,
              uint64_t size);

} // namespace dsv3rt::impl

#endif // DSV3_LIB_RUNTIME_NPY_H
