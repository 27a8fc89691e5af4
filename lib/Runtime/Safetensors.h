// Safetensors reader (mmap, fully validated header) and writer.
//
// Format: u64 little-endian header length N, N bytes of UTF-8 JSON mapping
// tensor name -> {"dtype", "shape", "data_offsets": [begin, end]} (offsets
// relative to the data section that follows) plus an optional
// "__metadata__" string->string object.
#ifndef DSV3_LIB_RUNTIME_SAFETENSORS_H
#define DSV3_LIB_RUNTIME_SAFETENSORS_H

#include "DType.h"
#include "MappedFile.h"

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace dsv3rt::impl {

struct SafetensorsTensor {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const uint8_t *data; // into the mapping; not necessarily aligned
  uint64_t size;       // bytes
};

class SafetensorsFile {
public:
  // Maps and validates the file; throws Error naming the path and the fault.
  explicit SafetensorsFile(const std::string &path);

  const std::string &path() const { return file_.path(); }
  uint64_t fileSize() const { return file_.size(); }
  // In header order.
  const std::vector<SafetensorsTensor> &tensors() const { return tensors_; }
  // Logarithmic in the number of tensors; nullptr if absent.
  const SafetensorsTensor *find(std::string_view name) const;
  const std::map<std::string, std::string> &metadata() const {
    return metadata_;
  }

private:
  MappedFile file_;
  std::vector<SafetensorsTensor> tensors_;
  std::vector<size_t> byName_; // indices into tensors_, sorted by name
  std::map<std::string, std::string> metadata_;
};

struct SafetensorsWriteItem {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const void *data;
  uint64_t size; // must equal the dtype x shape byte size
};

// Writes the tensors in the given order; the header is padded with spaces so
// the data section starts 8-byte aligned. Throws Error naming the path.
void writeSafetensors(const std::string &path,
                      const std::vector<SafetensorsWriteItem> &tensors,
                      const std::map<std::string, std::string> &metadata = {});

} // namespace dsv3rt::impl

#endif // DSV3_LIB_RUNTIME_SAFETENSORS_H
