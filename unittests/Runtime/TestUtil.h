// Helpers shared by the runtime unit tests: a scratch directory per test and
// byte-exact file writers for crafting malformed inputs.
#ifndef DSV3_UNITTESTS_RUNTIME_TESTUTIL_H
#define DSV3_UNITTESTS_RUNTIME_TESTUTIL_H

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
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

} // namespace dsv3test

#endif // DSV3_UNITTESTS_RUNTIME_TESTUTIL_H
