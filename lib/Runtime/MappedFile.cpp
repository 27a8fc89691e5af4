#include "MappedFile.h"

#include "Error.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace dsv3rt::impl {

namespace {

const char *fileKind(mode_t mode) {
  if (S_ISDIR(mode))
    return "a directory";
  if (S_ISFIFO(mode))
    return "a FIFO";
  if (S_ISSOCK(mode))
    return "a socket";
  if (S_ISCHR(mode))
    return "a character device";
  if (S_ISBLK(mode))
    return "a block device";
  return "not a regular file";
}

[[noreturn]] void notRegular(const std::string &path, mode_t mode) {
  fail(path + ": not a regular file (" + fileKind(mode) +
       "); give a file on disk");
}

} // namespace

MappedFile::MappedFile(const std::string &path) : path_(path) {
  // The type is checked before opening: opening a FIFO for reading blocks
  // until a writer appears, which may be never.
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    fail(path + ": cannot open: " + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    notRegular(path, st.st_mode);
  // O_NONBLOCK: should the path become a FIFO after the stat, the open
  // returns at once and the fstat below refuses it. It has no effect on a
  // regular file.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    fail(path + ": cannot open: " + std::strerror(errno));
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    fail(path + ": cannot stat: " + std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    notRegular(path, st.st_mode);
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    void *p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      fail(path + ": cannot mmap: " + std::strerror(e));
    }
    data_ = static_cast<const uint8_t *>(p);
  }
  ::close(fd); // the mapping keeps the file alive
}

MappedFile::~MappedFile() {
  if (data_)
    ::munmap(const_cast<uint8_t *>(data_), size_);
}

} // namespace dsv3rt::impl
