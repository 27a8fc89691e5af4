// Session state (ABI v2): named buffers such as an MLA latent KV cache that
// belong to a session, not to a module or the caller. Every entry of every
// module loaded into the session that declares a state of the same name gets
// the same buffer and updates it in place.
#ifndef DSV3_LIB_RUNTIME_STATE_H
#define DSV3_LIB_RUNTIME_STATE_H

#include "CudaDriver.h"
#include "DevicePool.h"
#include "HostTensor.h"
#include "KernelProfile.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace dsv3rt::impl {

enum class Device { Host, Cuda };

const char *deviceName(Device d);

// One state buffer. Storage is allocated zero-filled on first use (a call
// that passes it, or a read, write or reset), so loading a module only to
// inspect it allocates nothing.
struct StateBuffer {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t bytes = 0;
  std::string declaredBy; // "entry \"decode\" of m.so", for error messages
  std::unique_ptr<HostTensor> host; // host sessions
  cuda::CUdeviceptr device = 0;     // cuda sessions; 0 until allocated
};

class StateStore {
public:
  explicit StateStore(Device device) : device_(device) {}
  ~StateStore(); // frees device buffers
  StateStore(const StateStore &) = delete;
  StateStore &operator=(const StateStore &) = delete;

  struct Declaration {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    std::string where; // "entry \"decode\" of m.so"
  };
  // All or nothing: checks every declaration against the others and against
  // the states already known, then adds the new names. Throws Error
  // "state \"X\" is T[..] in <where> but T[..] in <where>" on a conflict.
  void declare(const std::vector<Declaration> &declarations);

  Device device() const { return device_; }
  // The session's thread count for host calls (dsv3rt.h); 0: libomp's.
  int threads() const { return threads_; }
  void setThreads(int threads) { threads_ = threads; }
  size_t size() const { return states_.size(); }
  // In declaration order; valid while the store lives.
  const StateBuffer &at(size_t index) const { return *states_.at(index); }
  // Throws Error "unknown state \"X\" (states: a, b)".
  StateBuffer &get(const std::string &name);

  // Host sessions: the buffer's memory, allocated zeroed on first use.
  uint8_t *hostData(StateBuffer &state);
  // Cuda sessions: the device buffer, allocated zeroed on first use. The
  // caller has made d's context current.
  cuda::CUdeviceptr deviceData(StateBuffer &state, const cuda::Driver &d);

  // A host copy of the state's current value.
  HostTensor read(const std::string &name);
  // dtype and shape must match exactly.
  void write(const std::string &name, const HostTensor &value);
  // Zero-fills every state.
  void reset();

  // Cuda sessions: the device memory the session's calls reuse.
  DevicePool &devicePool() { return pool_; }
  // Cuda sessions: per-kernel device times, when enabled.
  KernelProfile &kernelProfile() { return profile_; }

private:
  // Cuda sessions: the driver, or Error "no CUDA device: ...".
  const cuda::Driver &requireDriver();

  Device device_;
  int threads_ = 0;
  std::vector<std::unique_ptr<StateBuffer>> states_;
  std::map<std::string, size_t> index_;
  const cuda::Driver *driver_ = nullptr; // set by the first device allocation
  DevicePool pool_;
  KernelProfile profile_;
};

} // namespace dsv3rt::impl

#endif // DSV3_LIB_RUNTIME_STATE_H
