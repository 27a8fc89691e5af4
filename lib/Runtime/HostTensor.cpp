#include "HostTensor.h"

#include "Error.h"

#include <cstdlib>
#include <cstring>

namespace dsv3rt::impl {

static constexpr uint64_t kAlignment = 64;

void AlignedBuffer::Free::operator()(uint8_t *p) const { std::free(p); }

AlignedBuffer::AlignedBuffer(uint64_t bytes) : size_(bytes) {
  uint64_t rounded;
  if (__builtin_add_overflow(bytes, kAlignment - 1, &rounded))
    fail("tensor of " + std::to_string(bytes) + " bytes is too large");
  rounded = rounded / kAlignment * kAlignment;
  if (rounded == 0)
    rounded = kAlignment;
  void *p = std::aligned_alloc(kAlignment, rounded);
  if (!p)
    fail("out of memory allocating " + std::to_string(bytes) + " bytes");
  std::memset(p, 0, rounded);
  data_.reset(static_cast<uint8_t *>(p));
}

static uint64_t byteSizeOrThrow(DType dtype,
                                const std::vector<int64_t> &shape) {
  if (dtypeSize(dtype) == 0)
    fail("invalid dtype value " + std::to_string(static_cast<int>(dtype)));
  std::optional<uint64_t> bytes = checkedByteSize(dtype, shape);
  if (!bytes)
    fail("invalid tensor shape " + describe(dtype, shape) +
         ": negative dimension or size overflow");
  return *bytes;
}

HostTensor::HostTensor(DType dtype, std::vector<int64_t> shape)
    : dtype(dtype), shape(std::move(shape)),
      buffer(byteSizeOrThrow(dtype, this->shape)) {}

uint64_t HostTensor::elementCount() const {
  return byteSize() / dtypeSize(dtype);
}

} // namespace dsv3rt::impl
