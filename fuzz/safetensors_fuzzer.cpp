// Fuzzes SafetensorsFile (lib/Runtime/Safetensors.cpp) and the streaming JSON
// header parser under it (Json.cpp). An input either opens, and then every
// tensor it lists must be consistent and inside the data section, or throws
// dsv3rt::impl::Error; any other exception, crash or sanitizer report is a
// bug.
#include "FuzzFile.h"

#include "DType.h"
#include "Error.h"
#include "Safetensors.h"

#include <algorithm>
#include <cstring>

using namespace dsv3rt::impl;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static dsv3fuzz::MemFile file;
  const std::string &path = file.write(data, size);
  try {
    SafetensorsFile st(path);
    // Opened: the header was at least 8 + its length bytes.
    uint64_t headerLen = 0;
    std::memcpy(&headerLen, data, 8); // little-endian host
    const uint64_t dataSize = size - 8 - headerLen;
    uint64_t total = 0;
    const uint8_t *lo = nullptr, *hi = nullptr;
    unsigned sum = 0;
    for (const SafetensorsTensor &t : st.tensors()) {
      std::optional<uint64_t> bytes = checkedByteSize(t.dtype, t.shape);
      if (!bytes || *bytes != t.size)
        dsv3fuzz::broken("tensor \"" + t.name + "\": size does not match " +
                         describe(t.dtype, t.shape));
      if (st.find(t.name) != &t)
        dsv3fuzz::broken("find(\"" + t.name + "\") misses the tensor");
      if (!t.size)
        continue;
      total += t.size;
      lo = lo ? std::min(lo, t.data) : t.data;
      hi = hi ? std::max(hi, t.data + t.size) : t.data + t.size;
      for (uint64_t i = 0; i < t.size; ++i) // touches every byte
        sum += t.data[i];
    }
    // Non-empty tensors are disjoint and inside the data section.
    if (total > dataSize || (lo && uint64_t(hi - lo) > dataSize))
      dsv3fuzz::broken("tensors span more than the " +
                       std::to_string(dataSize) + "-byte data section");
    if (st.find("__metadata__"))
      dsv3fuzz::broken("__metadata__ listed as a tensor");
    volatile unsigned sink = sum;
    (void)sink;
  } catch (const Error &e) {
    if (std::string(e.what()).rfind(path + ": ", 0) != 0)
      dsv3fuzz::broken(std::string("error does not name the file: ") +
                       e.what());
  }
  return 0;
}
