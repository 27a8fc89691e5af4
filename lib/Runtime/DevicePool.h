// A cuda session's cache of device memory.
//
// An entry call on cuda allocates its inputs and outputs, and the module
// allocates its intermediates through mgpuMemAlloc, many times per decode
// step. cuMemAlloc and cuMemFree synchronize the device and cost tens of
// microseconds each, so, as PyTorch's caching allocator does, freed blocks
// stay with the session and serve later allocations of the same size class:
// from the second call with the same shapes on, a call makes no driver
// allocation at all.
//
// Stream order keeps reuse safe. A block freed on a stream may serve the next
// allocation on that stream at once (work on the stream runs in order); a
// block freed on another stream, or with none, waits until the session has
// synchronized the context (synchronized()), which every call does before it
// returns.
#ifndef DSV3_LIB_RUNTIME_DEVICEPOOL_H
#define DSV3_LIB_RUNTIME_DEVICEPOOL_H

#include "CudaDriver.h"

#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>

namespace dsv3rt::impl {

class DevicePool {
public:
  DevicePool() = default;
  ~DevicePool(); // frees every block, in use or not
  DevicePool(const DevicePool &) = delete;
  DevicePool &operator=(const DevicePool &) = delete;

  // A block of at least `bytes` (0 gets a small block of its own), for work
  // on `stream` (null: synchronous use). The caller holds d's context. When
  // the driver has no memory left, the pool frees its idle blocks and tries
  // once more; it returns 0, with the driver's error recorded
  // (cuda::recordError), if that fails too.
  cuda::CUdeviceptr allocate(const cuda::Driver &d, uint64_t bytes,
                             cuda::CUstream stream);
  // Whether `p` is a block this pool handed out and has not got back.
  bool owns(cuda::CUdeviceptr p) const;
  // Takes back a block from allocate(), freed on `stream` (see above).
  void release(cuda::CUdeviceptr p, cuda::CUstream stream);
  // The context has synchronized: every cached block may serve any stream.
  void synchronized();
  // Whether some cached block waits for a synchronize.
  bool hasPending() const;
  // The session's stream, created on first use (the caller holds d's
  // context) and destroyed with the pool, or null with the driver's error
  // recorded. During a call the module's mgpuStreamCreate gets it instead
  // of a fresh stream, so a call creates and destroys no stream, its input
  // copies and kernels run in order on one stream, and blocks freed on it
  // serve the next allocation at once.
  cuda::CUstream stream(const cuda::Driver &d);
  // Whether `s` is the session's stream (which mgpuStreamDestroy keeps).
  bool isStream(cuda::CUstream s) const;

private:
  struct Cached {
    cuda::CUdeviceptr ptr;
    cuda::CUstream stream; // freed on it; meaningless once idle
    bool idle;             // the context synchronized since
  };
  // Frees the idle cached blocks; the caller holds mutex_.
  void freeIdle(const cuda::Driver &d);

  mutable std::mutex mutex_;
  const cuda::Driver *driver_ = nullptr;   // set by the first allocation
  std::multimap<uint64_t, Cached> cached_; // by size class
  std::unordered_map<cuda::CUdeviceptr, uint64_t> inUse_; // -> size class
  cuda::CUstream stream_ = nullptr;
};

// The pool of the cuda call running on this thread, for the mgpu* functions
// the module calls (null outside a call: they use the driver directly).
DevicePool *&currentCallPool();

// Sets currentCallPool() for a scope.
class ScopedCallPool {
public:
  explicit ScopedCallPool(DevicePool &pool) : saved_(currentCallPool()) {
    currentCallPool() = &pool;
  }
  ~ScopedCallPool() { currentCallPool() = saved_; }
  ScopedCallPool(const ScopedCallPool &) = delete;
  ScopedCallPool &operator=(const ScopedCallPool &) = delete;

private:
  DevicePool *saved_;
};

} // namespace dsv3rt::impl

#endif // DSV3_LIB_RUNTIME_DEVICEPOOL_H
