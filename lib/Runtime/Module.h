// A loaded module: the dlopen handle, its validated metadata and entry
// symbols, bound parameters, and the call path for host and cuda sessions.
#ifndef DSV3_LIB_RUNTIME_MODULE_H
#define DSV3_LIB_RUNTIME_MODULE_H

#include "Checkpoint.h"
#include "HostTensor.h"
#include "Metadata.h"
#include "State.h"
#include "dsv3/Runtime/abi.h"

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dsv3rt::impl {

class DeviceParameters; // cuda copies of the bound parameters

// How far a bind has come: the checkpoint's files mapped, then the
// parameters bound (a gathered stacked parameter advances the bytes expert by
// expert, since the copy is what takes the time).
struct BindProgress {
  CheckpointProgress files;
  size_t parametersDone = 0, parametersTotal = 0;
  uint64_t parameterBytesDone = 0, parameterBytesTotal = 0;
};
using BindProgressFn = std::function<void(const BindProgress &)>;

class Module {
public:
  // Loads into the session whose state store is `states` (which must
  // outlive the module) and declares the module's state args there. Throws
  // Error naming the path and the fault.
  Module(StateStore &states, const std::string &path);
  ~Module();
  Module(const Module &) = delete;
  Module &operator=(const Module &) = delete;

  const std::string &path() const { return path_; }
  const ModuleMetadata &metadata() const { return metadata_; }
  // Throws Error listing the available entries.
  size_t findEntry(const std::string &name) const;

  // Binds the parameters of every entry, or only of entry `onlyEntry`, from
  // safetensors files, shard indexes and checkpoint directories (see
  // Checkpoint).
  void bindParameters(const std::vector<std::string> &paths,
                      std::optional<size_t> onlyEntry = std::nullopt);
  // Called during later binds (on the binding thread); empty: none.
  void setBindProgress(BindProgressFn fn) { bindProgress_ = std::move(fn); }
  // Safetensors files mapped by the current binding; 0 when unbound.
  size_t boundFileCount() const {
    return checkpoint_ ? checkpoint_->files().size() : 0;
  }

  // What the last bind did with each parameter marked same_as.
  struct Sharing {
    std::string name, sameAs;
    bool identical; // bound to sameAs's memory
    uint64_t bytes;
  };
  const std::vector<Sharing> &sharing() const { return sharing_; }

  // Inputs in input-arg order; returns outputs in output-arg order.
  std::vector<HostTensor> call(size_t entry,
                               const std::vector<const HostTensor *> &inputs);

private:
  struct Parameter {
    // The whole tensor when it is one block of memory (the mapping, or a
    // copy); nullptr for a stacked parameter whose experts lie apart.
    const uint8_t *data = nullptr;
    uint64_t size = 0; // bytes of the whole tensor
    // Stacked: where each expert's tensor (bytesPerExpert bytes) lies.
    std::vector<const uint8_t *> experts;
    uint64_t bytesPerExpert = 0;
    // expert_pointers: the same addresses as the memref<E x i64> the
    // module reads them through.
    std::vector<uint64_t> table;
    // Copies: a misaligned tensor or expert, or the experts gathered for a
    // host module that takes them as one block.
    std::unique_ptr<HostTensor> owned;
    std::vector<std::unique_ptr<HostTensor>> ownedExperts;
    // Bound to this (same_as) parameter's memory: the bytes were identical.
    std::string sharedWith;
  };
  // Parameters with same_as after a bind: bound to the other's memory, or
  // (their bytes differ) to their own.
  void shareIdenticalParameters(const std::vector<const ArgInfo *> &bound,
                                std::map<std::string, Parameter> &params);

  void checkParameterConsistency() const;
  void declareStates();
  // `copied` is called with the bytes of each expert a stacked parameter
  // copies (misaligned, or gathered into one block).
  Parameter bindOne(const ArgInfo &arg, const Checkpoint &checkpoint,
                    const std::string &searched,
                    const std::function<void(uint64_t)> &copied) const;
  // The quantized_from parameter of that name (checkParameterConsistency
  // made sure every scales_of names one).
  const ArgInfo *quantizedParameter(const std::string &name) const;
  // A quantized_from parameter: its FP8 codes, computed from the
  // checkpoint's tensor, and (in `scales`) their block scales.
  Parameter bindQuantized(const ArgInfo &arg, const Checkpoint &checkpoint,
                          const std::string &searched,
                          std::unique_ptr<HostTensor> &scales) const;
  // Checks the inputs (count, dtype, shape, dynamic sizes, bounds) before
  // anything runs; returns the size of each dynamic-dimension symbol.
  std::map<std::string, int64_t>
  checkInputs(const EntryInfo &entry,
              const std::vector<const HostTensor *> &inputs) const;
  // Host pointers of every argument (state: host sessions only, else
  // nullptr) and, in `shapes`, every argument's shape for this call
  // (dynamic dimensions resolved); allocates the outputs.
  std::vector<const uint8_t *>
  gatherArgs(const EntryInfo &entry,
             const std::vector<const HostTensor *> &inputs,
             std::vector<HostTensor> &outputs,
             std::vector<std::vector<int64_t>> &shapes);
  std::vector<HostTensor> callCuda(const EntryInfo &entry, dsv3_entry_fn fn,
                                   const std::vector<const HostTensor *> &in);

  Device device_;
  StateStore &states_;
  std::string path_;
  void *handle_ = nullptr;
  // libomp's, when the module has parallel loops (host).
  void (*ompSetNumThreads_)(int) = nullptr;
  ModuleMetadata metadata_;
  std::vector<dsv3_entry_fn> entryFns_;
  std::unique_ptr<Checkpoint> checkpoint_; // the mapped files bound from
  std::map<std::string, Parameter> parameters_;
  std::vector<Sharing> sharing_;
  std::unique_ptr<DeviceParameters> deviceParameters_;
  BindProgressFn bindProgress_;
};

// Builds the row-major memref descriptor words for one argument (see abi.h).
std::vector<int64_t> makeDescriptor(const void *data,
                                    const std::vector<int64_t> &shape);

} // namespace dsv3rt::impl

#endif // DSV3_LIB_RUNTIME_MODULE_H
