#include "DevicePool.h"

namespace dsv3rt::impl {

using namespace cuda;

namespace {

constexpr CUresult kOutOfMemory = 2; // CUDA_ERROR_OUT_OF_MEMORY

// Size classes: multiples of 512 bytes up to 1 MiB, of 64 KiB above, so a
// decode step's buffers (the same sizes every step) find their blocks again
// and a prompt a few tokens longer mostly does too.
uint64_t sizeClass(uint64_t bytes) {
  const uint64_t unit = bytes <= (uint64_t{1} << 20) ? 512 : 64 * 1024;
  if (bytes == 0)
    return unit;
  // Past any device's memory; rounding up must not wrap around.
  if (bytes > (uint64_t{1} << 62))
    return 0;
  return (bytes + unit - 1) / unit * unit;
}

} // namespace

DevicePool::~DevicePool() {
  if (!driver_)
    return;
  ScopedContext ctx(*driver_);
  for (auto &[size, block] : cached_)
    driver_->cuMemFree(block.ptr);
  // Blocks still handed out belong to a call that is gone (a module that
  // forgot a free): the session's end is theirs too.
  for (auto &[ptr, size] : inUse_)
    driver_->cuMemFree(ptr);
  if (stream_)
    driver_->cuStreamDestroy(stream_);
  takeError(); // a failing free at teardown has nobody to report to
}

CUstream DevicePool::stream(const Driver &d) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stream_)
    return stream_;
  driver_ = &d;
  CUstream s = nullptr;
  if (!check(d.cuStreamCreate(&s, 0), "cuStreamCreate"))
    return nullptr;
  return stream_ = s;
}

bool DevicePool::isStream(CUstream s) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return s && s == stream_;
}

CUdeviceptr DevicePool::allocate(const Driver &d, uint64_t bytes,
                                 CUstream stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  driver_ = &d;
  const uint64_t size = sizeClass(bytes);
  if (size == 0) {
    recordError("cannot allocate " + std::to_string(bytes) +
                " bytes of device memory");
    return 0;
  }
  auto [begin, end] = cached_.equal_range(size);
  for (auto it = begin; it != end; ++it) {
    if (!it->second.idle && !(stream && it->second.stream == stream))
      continue;
    CUdeviceptr p = it->second.ptr;
    cached_.erase(it);
    inUse_.emplace(p, size);
    return p;
  }
  CUdeviceptr p = 0;
  CUresult r = d.cuMemAlloc(&p, size);
  if (r == kOutOfMemory && !cached_.empty()) {
    // Blocks freed on other streams may still be in use until the device
    // catches up.
    if (d.cuCtxSynchronize() == CUDA_SUCCESS)
      for (auto &[s, block] : cached_)
        block.idle = true;
    freeIdle(d);
    r = d.cuMemAlloc(&p, size);
  }
  if (!check(r, "cuMemAlloc"))
    return 0;
  try {
    inUse_.emplace(p, size);
  } catch (...) {
    d.cuMemFree(p);
    recordError("out of host memory for the device pool's bookkeeping");
    return 0;
  }
  return p;
}

bool DevicePool::owns(CUdeviceptr p) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return inUse_.count(p) != 0;
}

void DevicePool::release(CUdeviceptr p, CUstream stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = inUse_.find(p);
  if (it == inUse_.end())
    return;
  const uint64_t size = it->second;
  inUse_.erase(it);
  try {
    cached_.emplace(size, Cached{p, stream, /*idle=*/false});
  } catch (...) { // no room to remember it: give it back to the driver
    if (driver_)
      driver_->cuMemFree(p);
  }
}

bool DevicePool::hasPending() const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto &[size, block] : cached_)
    if (!block.idle)
      return true;
  return false;
}

DevicePool *&currentCallPool() {
  thread_local DevicePool *pool = nullptr;
  return pool;
}

void DevicePool::synchronized() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto &[size, block] : cached_)
    block.idle = true;
}

void DevicePool::freeIdle(const Driver &d) {
  for (auto it = cached_.begin(); it != cached_.end();) {
    if (!it->second.idle) {
      ++it;
      continue;
    }
    d.cuMemFree(it->second.ptr);
    it = cached_.erase(it);
  }
}

} // namespace dsv3rt::impl
