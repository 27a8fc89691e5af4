// The module metadata JSON (docs/runtime-abi.md), parsed and validated.
#ifndef DSV3_LIB_RUNTIME_METADATA_H
#define DSV3_LIB_RUNTIME_METADATA_H

#include "DType.h"
#include "dsv3/Runtime/abi.h"

#include <optional>
#include <string>
#include <vector>

namespace dsv3rt::impl {

// "bounds" of an integer input: every element must lie in [min, max].
struct InputBounds {
  int64_t min = 0;
  int64_t max = 0;
  std::string why; // the producer's reason, "" if none
};

struct ArgInfo {
  std::string name;
  dsv3_arg_role role;
  DType dtype;
  std::vector<int64_t> shape;
  // Parameter bound from shape[0] per-expert tensors: name holds "{e}" once.
  bool stacked = false;
  std::optional<InputBounds> bounds; // inputs of dtype i32/i64 only
};

struct EntryInfo {
  std::string name;
  std::string symbol;
  std::vector<ArgInfo> args;
};

struct ModuleMetadata {
  uint32_t abiVersion = 0;
  std::string target; // "host" or "cuda"
  std::vector<EntryInfo> entries;
};

const char *roleName(dsv3_arg_role role);

// Throws Error "<label>: invalid metadata: <fault>" for malformed JSON, a
// missing field, a field of the wrong type or an unknown value. Unknown extra
// fields are ignored so producers can add informational keys.
ModuleMetadata parseMetadata(const std::string &label, const char *text);

} // namespace dsv3rt::impl

#endif // DSV3_LIB_RUNTIME_METADATA_H
