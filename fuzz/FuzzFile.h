// The readers map files (MappedFile), so the fuzzers hand them each input as
// a file: an in-memory file (memfd) opened through /proc/self/fd/N, rewritten
// for every input. No disk I/O, and the mapping is of exactly the input's
// bytes, as it would be for a real file.
#ifndef DSV3_FUZZ_FUZZFILE_H
#define DSV3_FUZZ_FUZZFILE_H

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

namespace dsv3fuzz {

class MemFile {
public:
  MemFile() {
    fd_ = ::memfd_create("dsv3-fuzz", MFD_CLOEXEC);
    if (fd_ < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  // Replaces the file's contents with [data, data + size).
  const std::string &write(const uint8_t *data, size_t size) {
    if (::ftruncate(fd_, 0) != 0) {
      std::perror("ftruncate");
      std::abort();
    }
    size_t done = 0;
    while (done < size) {
      ssize_t n = ::pwrite(fd_, data + done, size - done, done);
      if (n <= 0) {
        std::perror("pwrite");
        std::abort();
      }
      done += static_cast<size_t>(n);
    }
    return path_;
  }

private:
  int fd_ = -1;
  std::string path_;
};

// A fault the reader should have reported as an Error: abort, so libFuzzer
// saves the input.
[[noreturn]] inline void broken(const std::string &what) {
  std::fprintf(stderr, "fuzz oracle: %s\n", what.c_str());
  std::abort();
}

} // namespace dsv3fuzz

#endif // DSV3_FUZZ_FUZZFILE_H
