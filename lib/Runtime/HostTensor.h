// A dense row-major tensor in 64-byte aligned host memory. It backs the C
// API's dsv3rt_tensor and what the file readers return.
#ifndef DSV3_LIB_RUNTIME_HOSTTENSOR_H
#define DSV3_LIB_RUNTIME_HOSTTENSOR_H

#include "DType.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace dsv3rt::impl {

class AlignedBuffer {
public:
  AlignedBuffer() = default;
  // Zero-filled. Always allocates at least one cache line so that even a
  // zero-size tensor hands the module a valid, aligned pointer.
  explicit AlignedBuffer(uint64_t bytes);
  uint8_t *data() const { return data_.get(); }
  uint64_t size() const { return size_; }

private:
  struct Free {
    void operator()(uint8_t *p) const;
  };
  std::unique_ptr<uint8_t, Free> data_;
  uint64_t size_ = 0;
};

struct HostTensor {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  AlignedBuffer buffer;

  // Throws Error if the size overflows or memory runs out.
  HostTensor(DType dtype, std::vector<int64_t> shape);
  uint64_t byteSize() const { return buffer.size(); }
  uint64_t elementCount() const;
  uint8_t *data() const { return buffer.data(); }
};

} // namespace dsv3rt::impl

#endif // DSV3_LIB_RUNTIME_HOSTTENSOR_H
