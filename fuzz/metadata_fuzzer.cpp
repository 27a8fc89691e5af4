// Fuzzes parseMetadata (lib/Runtime/Metadata.cpp), the validator of the JSON
// a compiled module describes its entry points with (docs/runtime-abi.md):
// abi_version, target, entries, args with roles, dtypes, shapes,
// dynamic_dims, bounds, stacked and expert_pointers. An input either parses,
// and then every argument must be self-consistent, or throws
// dsv3rt::impl::Error "<label>: invalid metadata: ..."; any other exception,
// crash or sanitizer report is a bug.
#include "FuzzFile.h"

#include "Error.h"
#include "Metadata.h"

#include <string>

using namespace dsv3rt::impl;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // The module hands the text over NUL-terminated.
  const std::string text(reinterpret_cast<const char *>(data), size);
  try {
    ModuleMetadata md = parseMetadata("fuzz", text.c_str());
    for (const EntryInfo &e : md.entries) {
      if (e.name.empty() || e.symbol.empty())
        dsv3fuzz::broken("empty entry name or symbol accepted");
      for (const ArgInfo &a : e.args) {
        for (int64_t d : a.shape)
          if (d < -1)
            dsv3fuzz::broken("negative dimension accepted");
        for (const DynamicDim &d : a.dynamicDims)
          if (d.dim >= a.shape.size() || a.shape[d.dim] != -1 ||
              d.min > d.max || d.min < 0)
            dsv3fuzz::broken("inconsistent dynamic dim accepted");
        if (a.bounds && a.bounds->min > a.bounds->max)
          dsv3fuzz::broken("empty bounds accepted");
        if (a.stacked && a.shape.empty())
          dsv3fuzz::broken("rank-0 stacked parameter accepted");
      }
    }
  } catch (const Error &e) {
    if (std::string(e.what()).rfind("fuzz: invalid metadata: ", 0) != 0)
      dsv3fuzz::broken(std::string("unexpected error prefix: ") + e.what());
  }
  return 0;
}
