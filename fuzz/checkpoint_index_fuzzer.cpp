// Fuzzes Checkpoint's shard index reader (lib/Runtime/Checkpoint.cpp, with
// the streaming JSON parser of Json.cpp expanding "weight_map"): the input
// is written as model.safetensors.index.json into a private directory that
// also holds two small valid shards, so the fuzzer can reach the checks that
// index and shards agree:
//   model-00001-of-00002.safetensors: "a" (f32 [2]), "b" (i32 [3])
//   model-00002-of-00002.safetensors: "c" (bf16 [1, 2])
// The index either opens, and then every tensor it assigns is found, or
// throws dsv3rt::impl::Error; any other exception, crash or sanitizer report
// is a bug. Shard names are the input's: "../x" reaches outside the
// directory, as the reader allows (it only refuses absolute names).
#include "FuzzFile.h"

#include "Checkpoint.h"
#include "Error.h"
#include "Safetensors.h"

#include <cstring>
#include <fstream>
#include <string>

using namespace dsv3rt::impl;

namespace {

std::string makeDirectory() {
  // In memory (/dev/shm) unless TMPDIR says otherwise: the index is
  // rewritten for every input.
  const char *base = std::getenv("TMPDIR");
  if (!base || !*base)
    base = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  std::string dir = std::string(base) + "/dsv3-checkpoint-fuzz-XXXXXX";
  if (!::mkdtemp(dir.data())) {
    std::perror("mkdtemp");
    std::abort();
  }
  float a[2] = {1, 2};
  int32_t b[3] = {1, 2, 3};
  uint16_t c[2] = {0x3f80, 0x4000};
  writeSafetensors(dir + "/model-00001-of-00002.safetensors",
                   {{"a", DType::F32, {2}, a, sizeof a},
                    {"b", DType::I32, {3}, b, sizeof b}});
  writeSafetensors(dir + "/model-00002-of-00002.safetensors",
                   {{"c", DType::BF16, {1, 2}, c, sizeof c}});
  return dir;
}

struct Directory {
  std::string path = makeDirectory();
  ~Directory() {
    for (const char *f :
         {"/model-00001-of-00002.safetensors",
          "/model-00002-of-00002.safetensors", "/model.safetensors.index.json"})
      ::unlink((path + f).c_str());
    ::rmdir(path.c_str());
  }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static Directory dir;
  const std::string index = dir.path + "/model.safetensors.index.json";
  {
    std::ofstream out(index, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char *>(data),
              static_cast<std::streamsize>(size));
    if (!out)
      dsv3fuzz::broken("cannot write " + index);
  }
  try {
    Checkpoint ckpt({index});
    for (const auto &file : ckpt.files())
      for (const SafetensorsTensor &t : file->tensors()) {
        const Checkpoint::Located *l = ckpt.find(t.name);
        if (!l || l->tensor != &t || l->file != file.get())
          dsv3fuzz::broken("tensor \"" + t.name + "\" not found");
      }
    (void)ckpt.searched();
  } catch (const Error &e) {
    // Errors name the index; a shard's own fault names the shard.
    if (std::strstr(e.what(), dir.path.c_str()) == nullptr)
      dsv3fuzz::broken(std::string("error names no file: ") + e.what());
  }
  return 0;
}
