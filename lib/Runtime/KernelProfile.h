// Per-kernel device time of a cuda session's calls.
//
// When a session profiles (dsv3rt_session_set_kernel_profiling), every kernel
// launch of its calls is bracketed by two CUDA events on the launch's stream;
// after the call has synchronized, the events' elapsed times are added to the
// kernel's entry, by kernel name (the name the module asked
// mgpuModuleGetFunction for). Events cost a few microseconds per launch, so
// profiling is off by default.
#ifndef DSV3_LIB_RUNTIME_KERNELPROFILE_H
#define DSV3_LIB_RUNTIME_KERNELPROFILE_H

#include "CudaDriver.h"

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace dsv3rt::impl {

class KernelProfile {
public:
  struct Stat {
    std::string name;
    uint64_t launches = 0;
    double ms = 0; // device time, summed over launches
  };

  bool enabled() const { return enabled_; }
  // Turning profiling on or off clears the statistics.
  void setEnabled(bool enabled);
  // In order of first launch.
  std::vector<Stat> stats() const;

  // For mgpuLaunchKernel: events around one launch on `stream`; `launch`
  // enqueues the kernel. The caller holds d's context.
  template <typename F>
  void profileLaunch(const cuda::Driver &d, cuda::CUfunction f,
                     cuda::CUstream stream, F launch) {
    cuda::CUevent start = nullptr, end = nullptr;
    bool timed = d.cuEventCreate(&start, 0) == cuda::CUDA_SUCCESS &&
                 d.cuEventCreate(&end, 0) == cuda::CUDA_SUCCESS &&
                 d.cuEventRecord(start, stream) == cuda::CUDA_SUCCESS;
    launch();
    timed = timed && d.cuEventRecord(end, stream) == cuda::CUDA_SUCCESS;
    std::lock_guard<std::mutex> lock(mutex_);
    pending_.push_back({f, start, end, timed});
  }
  // After the call's synchronize: adds the pending launches' times (if
  // `synchronized`, else only drops them) and destroys their events.
  void collect(const cuda::Driver &d, bool synchronized);

private:
  struct Pending {
    cuda::CUfunction function;
    cuda::CUevent start, end;
    bool timed;
  };
  mutable std::mutex mutex_;
  bool enabled_ = false;
  std::vector<Pending> pending_;
  std::vector<Stat> stats_;
  std::map<std::string, size_t> index_; // name -> stats_ index
};

// The profile of the cuda call running on this thread, while its session
// profiles (null otherwise).
KernelProfile *&currentCallProfile();

// The name a function was looked up by (mgpuModuleGetFunction), or "?".
void rememberFunctionName(cuda::CUfunction f, const char *name);
std::string functionName(cuda::CUfunction f);

} // namespace dsv3rt::impl

#endif // DSV3_LIB_RUNTIME_KERNELPROFILE_H
