// Read-only memory map of a whole file, so parameters in multi-GB safetensors
// checkpoints are never copied on the host.
#ifndef DSV3_LIB_RUNTIME_MAPPEDFILE_H
#define DSV3_LIB_RUNTIME_MAPPEDFILE_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace dsv3rt::impl {

class MappedFile {
public:
  // Throws Error naming the path if it cannot be opened or mapped.
  explicit MappedFile(const std::string &path);
  ~MappedFile();
  MappedFile(const MappedFile &) = delete;
  MappedFile &operator=(const MappedFile &) = delete;

  const uint8_t *data() const { return data_; }
  size_t size() const { return size_; }
  const std::string &path() const { return path_; }

private:
  std::string path_;
  const uint8_t *data_ = nullptr;
  size_t size_ = 0;
};

} // namespace dsv3rt::impl

#endif // DSV3_LIB_RUNTIME_MAPPEDFILE_H
