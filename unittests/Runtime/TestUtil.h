// Helpers shared by the runtime unit tests: a scratch directory per test,
// byte-exact file writers for crafting malformed inputs and C API status
// checks.
#ifndef DSV3_UNITTESTS_RUNTIME_TESTUTIL_H
#define DSV3_UNITTESTS_RUNTIME_TESTUTIL_H

#include "dsv3/Runtime/dsv3rt.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace dsv3test {

class TempDir {
public:
  TempDir() {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "dsv3rt-test-XXXXXX")
            .string();
    if (!mkdtemp(tmpl.data()))
      throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string &name) const {
    return (std::filesystem::path(path_) / name).string();
  }

private:
  std::string path_;
};

inline std::string writeBytes(const std::string &path,
                              const std::string &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

inline std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i)
    s[i] = static_cast<char>(v >> (8 * i));
  return s;
}

// A safetensors file from a raw header text and data section.
inline std::string writeSafetensorsRaw(const std::string &path,
                                       const std::string &header,
                                       const std::string &data) {
  return writeBytes(path, le64(header.size()) + header + data);
}

// Runs body, which must throw an exception whose message contains every
// needle; returns the message.
template <typename F>
std::string expectThrowContaining(F body,
                                  std::initializer_list<std::string> needles) {
  try {
    body();
  } catch (const std::exception &e) {
    std::string m = e.what();
    for (const std::string &n : needles)
      EXPECT_NE(m.find(n), std::string::npos)
          << "message \"" << m << "\" lacks \"" << n << "\"";
    return m;
  }
  ADD_FAILURE() << "no exception thrown";
  return "";
}

// Whether p lies inside a mapping of `path` (from /proc/self/maps): tells a
// parameter bound in place from one copied or gathered.
inline bool insideMappingOf(uint64_t p, const std::string &path) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.size() < path.size() ||
        line.compare(line.size() - path.size(), path.size(), path) != 0)
      continue;
    std::istringstream in(line);
    uint64_t begin = 0, end = 0;
    char dash;
    in >> std::hex >> begin >> dash >> end;
    if (p >= begin && p < end)
      return true;
  }
  return false;
}

// Returns a C API status message and frees it; "" for success.
inline std::string take(dsv3rt_status s) {
  if (!s)
    return "";
  std::string m = dsv3rt_status_message(s);
  dsv3rt_status_free(s);
  return m;
}

} // namespace dsv3test

// The C API call must fail with a message containing every needle.
#define EXPECT_ERROR(expr, ...)                                                \
  do {                                                                         \
    std::string m_ = ::dsv3test::take(expr);                                   \
    EXPECT_FALSE(m_.empty()) << #expr " succeeded";                            \
    for (const char *n_ : {__VA_ARGS__})                                       \
      EXPECT_NE(m_.find(n_), std::string::npos)                                \
          << "message \"" << m_ << "\" lacks \"" << n_ << "\"";                \
  } while (0)

#define ASSERT_OK(expr) ASSERT_EQ(::dsv3test::take(expr), "")

#endif // DSV3_UNITTESTS_RUNTIME_TESTUTIL_H
