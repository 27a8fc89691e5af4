// Device-side state of a module on a cuda session.
#ifndef DSV3_LIB_RUNTIME_CUDACALL_H
#define DSV3_LIB_RUNTIME_CUDACALL_H

#include "CudaDriver.h"

#include <map>
#include <string>

namespace dsv3rt::impl {

// Device copies of a module's bound parameters, uploaded on the first call
// and kept until the module is unloaded or rebound.
class DeviceParameters {
public:
  explicit DeviceParameters(const cuda::Driver &d) : driver(d) {}
  ~DeviceParameters();
  const cuda::Driver &driver;
  std::map<std::string, cuda::CUdeviceptr> buffers;
  // Parameters bound to another's memory (same_as): its buffer, not freed
  // twice.
  std::map<std::string, cuda::CUdeviceptr> aliases;
};

} // namespace dsv3rt::impl

#endif // DSV3_LIB_RUNTIME_CUDACALL_H
