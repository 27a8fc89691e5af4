// Fuzzes readNpy (lib/Runtime/Npy.cpp): the magic, version, header length,
// the Python dict literal of the header (descr, fortran_order, shape) and
// the data length. An input either reads, as a tensor whose byte size matches
// its dtype and shape, or throws dsv3rt::impl::Error naming the file; any
// other exception, crash or sanitizer report is a bug.
#include "FuzzFile.h"

#include "Error.h"
#include "HostTensor.h"
#include "Npy.h"

using namespace dsv3rt::impl;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static dsv3fuzz::MemFile file;
  const std::string &path = file.write(data, size);
  try {
    HostTensor t = readNpy(path);
    std::optional<uint64_t> bytes = checkedByteSize(t.dtype, t.shape);
    if (!bytes || *bytes != t.byteSize() || *bytes > size)
      dsv3fuzz::broken("tensor size does not match " +
                       describe(t.dtype, t.shape));
  } catch (const Error &e) {
    if (std::string(e.what()).rfind(path + ": ", 0) != 0)
      dsv3fuzz::broken(std::string("error does not name the file: ") +
                       e.what());
  }
  return 0;
}
