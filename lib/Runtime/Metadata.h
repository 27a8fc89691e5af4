// The module metadata JSON (docs/runtime-abi.md), parsed and validated.
#ifndef DSV3_LIB_RUNTIME_METADATA_H
#define DSV3_LIB_RUNTIME_METADATA_H

#include "DType.h"
#include "dsv3/Runtime/abi.h"

#include <optional>
#include <string>
#include <vector>

namespace dsv3rt::impl {

// "bounds" of an integer input: every element must lie in [min, max], or in
// [min, max - size] where `minus` names a dynamic dimension's symbol.
struct InputBounds {
  int64_t min = 0;
  int64_t max = 0;
  std::string why;   // the producer's reason, "" if none
  std::string minus; // symbol of a dynamic dimension, "" if none
};

// A dynamic dimension (shape[dim] == -1) of an input or output, named by a
// symbol: the inputs that share a symbol must agree on its size, which lies
// in [min, max] (inputs); outputs take the size their symbol has.
struct DynamicDim {
  size_t dim = 0;
  std::string symbol;
  int64_t min = 0;
  int64_t max = 0;
};

struct ArgInfo {
  std::string name;
  dsv3_arg_role role;
  DType dtype;
  std::vector<int64_t> shape;
  // Parameter bound from shape[0] per-expert tensors: name holds "{e}" once.
  bool stacked = false;
  // Stacked, and passed as memref<E x i64>: the address of each expert's
  // tensor (host modules), so the experts need not be back to back.
  bool expertPointers = false;
  // Parameter that may be a copy of this other parameter: bound to its
  // memory when the checkpoint's bytes are identical.
  std::string sameAs;
  // Parameter the runtime derives at bind time: the FP8 E4M3 codes of the
  // checkpoint's tensor of this name and shape, stored as `quantizedFrom`,
  // in 128 x 128 blocks with f32 scales (dsv3.quantize's rounding).
  std::optional<DType> quantizedFrom;
  // Parameter holding the block scales of that quantized parameter; no
  // checkpoint tensor is read for it.
  std::string scalesOf;
  std::optional<InputBounds> bounds;   // inputs of dtype i32/i64 only
  std::vector<DynamicDim> dynamicDims; // inputs and outputs only
};

struct EntryInfo {
  std::string name;
  std::string symbol;
  std::vector<ArgInfo> args;
};

// What one launch of a cuda kernel moves to or from device memory and
// computes, as far as the compiler knew (absent fields: not known).
struct KernelCost {
  std::string name;
  std::optional<uint64_t> bytes;
  std::optional<uint64_t> flops;
};

struct ModuleMetadata {
  uint32_t abiVersion = 0;
  std::string target; // "host" or "cuda"
  // The x86-64 level the module's code needs ("x86-64", "x86-64-v2".."v4"),
  // or empty: not recorded (modules before it was).
  std::string x86Level;
  std::vector<EntryInfo> entries;
  std::vector<KernelCost> kernels; // "kernels" (cuda modules; may be empty)
};

const char *roleName(dsv3_arg_role role);

// Throws Error "<label>: invalid metadata: <fault>" for malformed JSON, a
// missing field, a field of the wrong type or an unknown value. Unknown extra
// fields are ignored so producers can add informational keys.
ModuleMetadata parseMetadata(const std::string &label, const char *text);

} // namespace dsv3rt::impl

#endif // DSV3_LIB_RUNTIME_METADATA_H
