// Loader and call tests through the public C API, against the fake modules
// built from fake_*_module.c.
#include "dsv3/Runtime/dsv3rt.h"
#include "dsv3/Runtime/mgpu.h"

#include "Safetensors.h"
#include "TestUtil.h"

#include <cmath>
#include <cstring>
#include <dlfcn.h>

using namespace dsv3test;
using dsv3rt::impl::DType;
using dsv3rt::impl::writeSafetensors;

namespace {

class LoaderTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_OK(dsv3rt_session_create("host", &host));
    ASSERT_OK(dsv3rt_session_create("cuda", &cuda));
  }
  void TearDown() override {
    dsv3rt_module_unload(module);
    dsv3rt_session_destroy(host);
    dsv3rt_session_destroy(cuda);
  }

  std::string weights(const std::string &name, DType dtype,
                      std::vector<int64_t> shape, const std::string &file) {
    static const float w[6] = {10, 20, 30, 40, 50, 60};
    std::string path = dir.file(file);
    uint64_t bytes = dsv3rt::impl::checkedByteSize(dtype, shape).value();
    std::vector<uint8_t> data(bytes);
    std::memcpy(data.data(), w, std::min<uint64_t>(bytes, sizeof w));
    writeSafetensors(path, {{name, dtype, shape, data.data(), bytes}});
    return path;
  }

  dsv3rt_tensor *tensor(dsv3_dtype dtype, std::vector<int64_t> shape,
                        const void *data = nullptr) {
    dsv3rt_tensor *t = nullptr;
    EXPECT_EQ(
        take(dsv3rt_tensor_create(dtype, shape.data(), shape.size(), data, &t)),
        "");
    return t;
  }

  void loadAdd() {
    ASSERT_OK(dsv3rt_module_load(host, FAKE_ADD_MODULE, &module));
  }

  void bind(const std::vector<std::string> &files) {
    std::vector<const char *> raw;
    for (const std::string &f : files)
      raw.push_back(f.c_str());
    last = take(dsv3rt_module_bind_parameters(module, raw.data(), raw.size()));
  }

  TempDir dir;
  dsv3rt_session *host = nullptr, *cuda = nullptr;
  dsv3rt_module *module = nullptr;
  std::string last;
};

// The session's thread count reaches the module's omp_set_num_threads
// before each call; 0 (the default) leaves libomp's own setting alone.
TEST_F(LoaderTest, SessionThreadsReachTheModule) {
  EXPECT_EQ(dsv3rt_session_threads(host), 0);
  EXPECT_ERROR(dsv3rt_session_set_threads(host, -1),
               "thread count -1 out of range (0 = libomp's default, or "
               "1..1024)");
  EXPECT_ERROR(dsv3rt_session_set_threads(host, 1025),
               "thread count 1025 out of range");
  loadAdd();
  bind({weights("w", DType::F32, {2, 3}, "w.safetensors")});
  ASSERT_EQ(last, "");
  void *handle = dlopen(FAKE_ADD_MODULE, RTLD_NOW | RTLD_NOLOAD);
  ASSERT_TRUE(handle) << dlerror();
  auto *seen = static_cast<int *>(dlsym(handle, "fake_omp_threads"));
  ASSERT_TRUE(seen);
  *seen = -1;
  size_t entry = 99;
  ASSERT_OK(dsv3rt_module_find_entry(module, "add", &entry));
  float x[6] = {1, 2, 3, 4, 5, 6};
  auto call = [&] {
    dsv3rt_tensor *in = tensor(DSV3_DTYPE_F32, {2, 3}, x);
    dsv3rt_tensor *out = nullptr;
    ASSERT_OK(dsv3rt_module_call(module, entry, &in, 1, &out, 1));
    dsv3rt_tensor_destroy(in);
    dsv3rt_tensor_destroy(out);
  };
  call();
  EXPECT_EQ(*seen, -1) << "the default must not override libomp's";
  ASSERT_OK(dsv3rt_session_set_threads(host, 3));
  EXPECT_EQ(dsv3rt_session_threads(host), 3);
  call();
  EXPECT_EQ(*seen, 3);
  dlclose(handle);
}

TEST_F(LoaderTest, HostCallAdd) {
  loadAdd();
  bind({weights("w", DType::F32, {2, 3}, "w.safetensors")});
  ASSERT_EQ(last, "");
  size_t entry = 99;
  ASSERT_OK(dsv3rt_module_find_entry(module, "add", &entry));
  float x[6] = {1, 2, 3, 4, 5, 6};
  dsv3rt_tensor *in = tensor(DSV3_DTYPE_F32, {2, 3}, x);
  dsv3rt_tensor *out = nullptr;
  ASSERT_OK(dsv3rt_module_call(module, entry, &in, 1, &out, 1));
  ASSERT_TRUE(out);
  EXPECT_EQ(dsv3rt_tensor_dtype(out), DSV3_DTYPE_F32);
  ASSERT_EQ(dsv3rt_tensor_rank(out), 2u);
  EXPECT_EQ(dsv3rt_tensor_shape(out)[1], 3);
  ASSERT_EQ(dsv3rt_tensor_byte_size(out), 24u);
  const float *y = static_cast<const float *>(dsv3rt_tensor_data(out));
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(y[i], x[i] + 10 * (i + 1));
  // A second call reuses the binding.
  dsv3rt_tensor_destroy(out);
  ASSERT_OK(dsv3rt_module_call(module, entry, &in, 1, &out, 1));
  dsv3rt_tensor_destroy(out);
  dsv3rt_tensor_destroy(in);
}

TEST_F(LoaderTest, RankZeroOutputAndBf16) {
  loadAdd();
  size_t sum, neg;
  ASSERT_OK(dsv3rt_module_find_entry(module, "sum", &sum));
  ASSERT_OK(dsv3rt_module_find_entry(module, "neg_bf16", &neg));
  float x[6] = {1, 2, 3, 4, 5, 6};
  dsv3rt_tensor *in = tensor(DSV3_DTYPE_F32, {2, 3}, x), *out = nullptr;
  // No parameters needed by "sum": no binding required.
  ASSERT_OK(dsv3rt_module_call(module, sum, &in, 1, &out, 1));
  EXPECT_EQ(dsv3rt_tensor_rank(out), 0u);
  EXPECT_EQ(*static_cast<float *>(dsv3rt_tensor_data(out)), 21.0f);
  dsv3rt_tensor_destroy(out);
  dsv3rt_tensor_destroy(in);

  uint16_t a[4] = {0x3f80, 0xbf80, 0x0000, 0x4000};
  in = tensor(DSV3_DTYPE_BF16, {4}, a);
  ASSERT_OK(dsv3rt_module_call(module, neg, &in, 1, &out, 1));
  const uint16_t *b = static_cast<uint16_t *>(dsv3rt_tensor_data(out));
  EXPECT_EQ(b[0], 0xbf80);
  EXPECT_EQ(b[1], 0x3f80);
  EXPECT_EQ(b[2], 0x8000);
  dsv3rt_tensor_destroy(out);
  dsv3rt_tensor_destroy(in);
}

TEST_F(LoaderTest, Introspection) {
  loadAdd();
  EXPECT_STREQ(dsv3rt_module_target(module), "host");
  ASSERT_EQ(dsv3rt_module_entry_count(module), 3u);
  EXPECT_STREQ(dsv3rt_module_entry_name(module, 0), "add");
  EXPECT_EQ(dsv3rt_module_entry_name(module, 3), nullptr);
  size_t n = 0;
  ASSERT_OK(dsv3rt_module_arg_count(module, 0, &n));
  ASSERT_EQ(n, 3u);
  dsv3rt_arg_info info;
  ASSERT_OK(dsv3rt_module_arg_info(module, 0, 1, &info));
  EXPECT_STREQ(info.name, "w");
  EXPECT_EQ(info.role, DSV3_ROLE_PARAMETER);
  EXPECT_EQ(info.dtype, DSV3_DTYPE_F32);
  ASSERT_EQ(info.rank, 2u);
  EXPECT_EQ(info.shape[0], 2);
  EXPECT_ERROR(dsv3rt_module_arg_info(module, 0, 3, &info), "out of range");
  EXPECT_ERROR(dsv3rt_module_arg_count(module, 7, &n), "out of range");
  size_t e;
  EXPECT_ERROR(dsv3rt_module_find_entry(module, "mul", &e),
               "no entry named \"mul\"", "add, sum, neg_bf16");
}

TEST_F(LoaderTest, MissingParameter) {
  loadAdd();
  std::string other = weights("v", DType::F32, {2, 3}, "other.safetensors");
  bind({other});
  EXPECT_NE(last.find("missing parameter \"w\""), std::string::npos) << last;
  EXPECT_NE(last.find(other), std::string::npos) << last;
  bind({});
  EXPECT_NE(last.find("searched: no files"), std::string::npos) << last;
}

TEST_F(LoaderTest, ParameterDtypeAndShapeMismatch) {
  loadAdd();
  std::string p = weights("w", DType::BF16, {2, 3}, "bf.safetensors");
  bind({p});
  EXPECT_NE(last.find("parameter \"w\" in " + p +
                      ": expected f32[2,3], found bf16[2,3]"),
            std::string::npos)
      << last;
  bind({weights("w", DType::F32, {3, 2}, "t.safetensors")});
  EXPECT_NE(last.find("expected f32[2,3], found f32[3,2]"), std::string::npos)
      << last;
}

TEST_F(LoaderTest, ParameterInTwoFiles) {
  loadAdd();
  bind({weights("w", DType::F32, {2, 3}, "a.safetensors"),
        weights("w", DType::F32, {2, 3}, "b.safetensors")});
  EXPECT_NE(last.find("\"w\" is in both"), std::string::npos) << last;
}

TEST_F(LoaderTest, BadParameterFileNamesIt) {
  loadAdd();
  std::string p = writeBytes(dir.file("junk.safetensors"), "junk");
  bind({p});
  EXPECT_NE(last.find(p), std::string::npos) << last;
  EXPECT_NE(last.find("shorter than"), std::string::npos) << last;
}

TEST_F(LoaderTest, MisalignedParameterIsCopied) {
  loadAdd();
  // Pad the header so the f32 data starts at an odd file offset.
  std::string padded =
      R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}})";
  while ((8 + padded.size()) % 4 != 1)
    padded += ' ';
  float w[6] = {1, 1, 1, 1, 1, 1};
  std::string path = writeSafetensorsRaw(
      dir.file("mis.safetensors"), padded,
      std::string(reinterpret_cast<const char *>(w), sizeof w));
  bind({path});
  ASSERT_EQ(last, "");
  float x[6] = {0, 1, 2, 3, 4, 5};
  dsv3rt_tensor *in = tensor(DSV3_DTYPE_F32, {2, 3}, x), *out = nullptr;
  ASSERT_OK(dsv3rt_module_call(module, 0, &in, 1, &out, 1));
  EXPECT_EQ(static_cast<float *>(dsv3rt_tensor_data(out))[5], 6.0f);
  dsv3rt_tensor_destroy(out);
  dsv3rt_tensor_destroy(in);
}

TEST_F(LoaderTest, CallWithoutBinding) {
  loadAdd();
  dsv3rt_tensor *in = tensor(DSV3_DTYPE_F32, {2, 3}), *out = nullptr;
  EXPECT_ERROR(dsv3rt_module_call(module, 0, &in, 1, &out, 1),
               "needs parameter \"w\" but it is not bound");
  EXPECT_EQ(out, nullptr);
  dsv3rt_tensor_destroy(in);
}

TEST_F(LoaderTest, InputValidation) {
  loadAdd();
  bind({weights("w", DType::F32, {2, 3}, "w.safetensors")});
  dsv3rt_tensor *out = nullptr;
  dsv3rt_tensor *wrongShape = tensor(DSV3_DTYPE_F32, {3, 2});
  EXPECT_ERROR(dsv3rt_module_call(module, 0, &wrongShape, 1, &out, 1),
               "input 0 (\"x\"): expected f32[2,3], got f32[3,2]");
  dsv3rt_tensor *wrongType = tensor(DSV3_DTYPE_I32, {2, 3});
  EXPECT_ERROR(dsv3rt_module_call(module, 0, &wrongType, 1, &out, 1),
               "expected f32[2,3], got i32[2,3]");
  dsv3rt_tensor *two[2] = {wrongShape, wrongType};
  EXPECT_ERROR(dsv3rt_module_call(module, 0, two, 2, &out, 1),
               "takes 1 input(s), got 2");
  dsv3rt_tensor *outs[2];
  EXPECT_ERROR(dsv3rt_module_call(module, 0, &wrongShape, 1, outs, 2),
               "has 1 output(s)");
  dsv3rt_tensor *null = nullptr;
  EXPECT_ERROR(dsv3rt_module_call(module, 0, &null, 1, &out, 1), "is NULL");
  EXPECT_ERROR(dsv3rt_module_call(module, 9, &null, 1, &out, 1),
               "out of range");
  dsv3rt_tensor_destroy(wrongShape);
  dsv3rt_tensor_destroy(wrongType);
}

TEST_F(LoaderTest, TensorCreateValidation) {
  dsv3rt_tensor *t = nullptr;
  int64_t neg[1] = {-2};
  EXPECT_ERROR(dsv3rt_tensor_create(DSV3_DTYPE_F32, neg, 1, nullptr, &t),
               "negative dimension");
  int64_t huge[2] = {1ll << 40, 1ll << 40};
  EXPECT_ERROR(dsv3rt_tensor_create(DSV3_DTYPE_F32, huge, 2, nullptr, &t),
               "overflow");
  EXPECT_ERROR(dsv3rt_tensor_create(static_cast<dsv3_dtype>(42), nullptr, 0,
                                    nullptr, &t),
               "invalid dtype");
  EXPECT_EQ(t, nullptr);
  dsv3_dtype d;
  EXPECT_ERROR(dsv3rt_dtype_parse("f128", &d), "unknown dtype \"f128\"");
  ASSERT_OK(dsv3rt_dtype_parse("f8e4m3fn", &d));
  EXPECT_EQ(d, DSV3_DTYPE_F8E4M3FN);
  EXPECT_STREQ(dsv3rt_dtype_name(DSV3_DTYPE_BF16), "bf16");
}

TEST_F(LoaderTest, UnknownDevice) {
  dsv3rt_session *s = nullptr;
  EXPECT_ERROR(dsv3rt_session_create("tpu", &s), "unknown device \"tpu\"");
  EXPECT_EQ(s, nullptr);
}

TEST_F(LoaderTest, AbiMismatch) {
  EXPECT_ERROR(dsv3rt_module_load(host, FAKE_BAD_ABI_MODULE, &module),
               "module " FAKE_BAD_ABI_MODULE
               " was compiled for ABI v7, runtime is v4");
  EXPECT_EQ(module, nullptr);
}

TEST_F(LoaderTest, MalformedMetadata) {
  EXPECT_ERROR(dsv3rt_module_load(host, FAKE_BAD_METADATA_MODULE, &module),
               FAKE_BAD_METADATA_MODULE, "invalid metadata: not valid JSON");
}

TEST_F(LoaderTest, NotAModule) {
  std::string text = writeBytes(dir.file("text.so"), "hello");
  EXPECT_ERROR(dsv3rt_module_load(host, text.c_str(), &module),
               "cannot load module");
  std::string missing = dir.file("missing.so");
  EXPECT_ERROR(dsv3rt_module_load(host, missing.c_str(), &module),
               missing.c_str(), "cannot load module");
  // A shared object that is not a dsv3 module.
  EXPECT_ERROR(dsv3rt_module_load(host, DSV3RT_LIBRARY, &module),
               "not a dsv3 module", "dsv3_module_abi_version");
}

TEST_F(LoaderTest, TargetMismatch) {
  EXPECT_ERROR(dsv3rt_module_load(cuda, FAKE_ADD_MODULE, &module),
               "module targets \"host\" but the session device is \"cuda\"");
  EXPECT_ERROR(dsv3rt_module_load(host, FAKE_CUDA_MODULE, &module),
               "module targets \"cuda\" but the session device is \"host\"");
}

// Metadata faults, set through the configurable fake module.
class MetadataTest : public LoaderTest {
protected:
  void SetUp() override {
    LoaderTest::SetUp();
    handle = dlopen(FAKE_CONFIG_MODULE, RTLD_NOW | RTLD_LOCAL);
    ASSERT_TRUE(handle) << dlerror();
    metadata = static_cast<const char **>(dlsym(handle, "fake_metadata"));
    abi = static_cast<uint32_t *>(dlsym(handle, "fake_abi_version"));
    ASSERT_TRUE(metadata && abi);
  }
  void TearDown() override {
    LoaderTest::TearDown();
    module = nullptr;
    dlclose(handle);
  }
  // Loads with this metadata and returns the error ("" on success).
  std::string load(const std::string &json) {
    text = json;
    *metadata = text.c_str();
    dsv3rt_module_unload(module);
    module = nullptr;
    return take(dsv3rt_module_load(host, FAKE_CONFIG_MODULE, &module));
  }
  void expectBad(const std::string &json, const std::string &needle) {
    std::string m = load(json);
    EXPECT_NE(m.find(needle), std::string::npos)
        << "metadata " << json << "\nmessage \"" << m << "\" lacks \"" << needle
        << "\"";
    EXPECT_NE(m.find("invalid metadata"), std::string::npos) << m;
  }
  std::string entry(const std::string &args,
                    const std::string &sym = "dsv3_entry_noop") {
    return R"({"abi_version":4,"target":"host","entries":[{"name":"e","symbol":")" +
           sym + R"(","args":[)" + args + "]}]}";
  }

  void *handle = nullptr;
  const char **metadata = nullptr;
  uint32_t *abi = nullptr;
  std::string text;
};

TEST_F(MetadataTest, Valid) {
  EXPECT_EQ(
      load(entry(R"({"name":"x","role":"input","dtype":"i1","shape":[]})")),
      "");
  EXPECT_EQ(load(R"({"abi_version":4,"target":"host","entries":[],"extra":0})"),
            "");
}

// x86_64_level (dsv3-compile records its --march's level): a level this CPU
// lacks is refused before any entry runs, not left to an illegal
// instruction; an unknown one is invalid metadata; none is not checked.
TEST_F(MetadataTest, X86Level) {
  auto withLevel = [](const std::string &level) {
    return R"({"abi_version":4,"target":"host","x86_64_level":")" + level +
           R"(","entries":[]})";
  };
  EXPECT_EQ(load(withLevel("x86-64")), "");
  __builtin_cpu_init();
  const std::pair<const char *, bool> levels[] = {
      {"x86-64-v2", __builtin_cpu_supports("x86-64-v2")},
      {"x86-64-v3", __builtin_cpu_supports("x86-64-v3")},
      {"x86-64-v4", __builtin_cpu_supports("x86-64-v4")}};
  for (auto [level, supported] : levels) {
    std::string m = load(withLevel(level));
    if (supported) {
      EXPECT_EQ(m, "") << level;
    } else {
      EXPECT_NE(m.find(std::string("the module was compiled for ") + level +
                       " (dsv3-compile --march), which this CPU does not "
                       "support"),
                std::string::npos)
          << m;
    }
  }
  expectBad(withLevel("x86-64-v9"),
            "x86_64_level \"x86-64-v9\" is not x86-64 or x86-64-v2, -v3, -v4");
  expectBad(
      R"({"abi_version":4,"target":"host","x86_64_level":3,"entries":[]})",
      "field \"x86_64_level\" must be string, got 3");
}

// "kernels" (cuda modules: bytes and flops per launch, for the profile's
// rates): listed in order, unknown fields reported as such; malformed ones
// are invalid metadata.
TEST_F(MetadataTest, KernelCosts) {
  auto withKernels = [](const std::string &kernels) {
    return R"({"abi_version":4,"target":"host","kernels":)" + kernels +
           R"(,"entries":[]})";
  };
  ASSERT_EQ(load(withKernels(
                R"([{"name":"k1","bytes":1024,"flops":9223372036854775807},)"
                R"({"name":"k2","bytes":0}])")),
            "");
  ASSERT_EQ(dsv3rt_module_kernel_cost_count(module), 2u);
  dsv3rt_kernel_cost k;
  ASSERT_EQ(take(dsv3rt_module_kernel_cost(module, 0, &k)), "");
  EXPECT_STREQ(k.name, "k1");
  EXPECT_EQ(k.bytes, 1024u);
  EXPECT_EQ(k.flops, uint64_t(INT64_MAX));
  ASSERT_EQ(take(dsv3rt_module_kernel_cost(module, 1, &k)), "");
  EXPECT_STREQ(k.name, "k2");
  EXPECT_EQ(k.bytes, 0u);
  EXPECT_EQ(k.flops, DSV3RT_COST_UNKNOWN);
  EXPECT_NE(take(dsv3rt_module_kernel_cost(module, 2, &k))
                .find("kernel cost index 2 out of range (2 kernels)"),
            std::string::npos);

  expectBad(withKernels("{}"), "field \"kernels\" must be an array");
  expectBad(withKernels("[1]"), "kernels[0]: expected an object, got number");
  expectBad(withKernels(R"([{"bytes":1}])"), "missing field \"name\"");
  expectBad(withKernels(R"([{"name":"a"},{"name":"a"}])"),
            "empty or duplicate kernel name \"a\"");
  expectBad(withKernels(R"([{"name":"a","bytes":-1}])"),
            "\"bytes\" must be an integer in [0, 2^63), got -1");
  expectBad(withKernels(R"([{"name":"a","flops":9223372036854775808}])"),
            "\"flops\" must be an integer in [0, 2^63), got "
            "9223372036854775808");
  expectBad(withKernels(R"([{"name":"a","flops":1.5}])"),
            "\"flops\" must be an integer in [0, 2^63), got 1.5");
}

TEST_F(MetadataTest, AbiVersionExport) {
  *abi = 1;
  std::string m = load(entry(""));
  EXPECT_NE(m.find("was compiled for ABI v1, runtime is v4"), std::string::npos)
      << m;
  *abi = 2;
}

// Found by fuzz/ (metadata): a shape nested 10^5 deep overflowed the stack
// when its message printed it (nlohmann's dump() recurses per level).
TEST_F(MetadataTest, DeepNestingIsRefused) {
  auto arg = [](size_t depth) {
    return R"({"name":"x","role":"input","dtype":"f32","shape":)" +
           std::string(depth, '[') + std::string(depth, ']') + "}";
  };
  expectBad(entry(arg(1000000)), "nested deeper than 64 levels");
  // 64 levels in all are read: root, entries, entry, args, arg, shape + 58.
  expectBad(entry(arg(60)), "nested deeper than 64 levels");
  expectBad(entry(arg(59)), "shape dimension [[");
}

TEST_F(MetadataTest, Faults) {
  expectBad("[]", "expected a JSON object, got array");
  expectBad("", "not valid JSON");
  expectBad(R"({"target":"host","entries":[]})",
            "missing field \"abi_version\"");
  expectBad(R"({"abi_version":"1","target":"host","entries":[]})",
            "field \"abi_version\" must be integer, got string");
  expectBad(R"({"abi_version":1,"target":"host","entries":[]})",
            "abi_version is 1, runtime is v4");
  expectBad(R"({"abi_version":4,"entries":[]})", "missing field \"target\"");
  expectBad(R"({"abi_version":4,"target":"tpu","entries":[]})",
            "target \"tpu\"");
  expectBad(R"({"abi_version":4,"target":"host","entries":{}})",
            "field \"entries\" must be array, got object");
  expectBad(R"({"abi_version":4,"target":"host","entries":[3]})",
            "entries[0]: expected an object");
  expectBad(
      R"({"abi_version":4,"target":"host","entries":[{"name":"e","args":[]}]})",
      "entry \"e\": missing field \"symbol\"");
  expectBad(R"({"abi_version":4,"target":"host","entries":[{"name":1}]})",
            "field \"name\" must be string");
  expectBad(R"({"abi_version":4,"target":"host","entries":[)"
            R"({"name":"e","symbol":"dsv3_entry_noop","args":[]},)"
            R"({"name":"e","symbol":"dsv3_entry_noop","args":[]}]})",
            "duplicate entry name \"e\"");
  expectBad(entry(R"({"name":"x","role":"weight","dtype":"f32","shape":[]})"),
            "unknown role \"weight\"");
  expectBad(entry(R"({"name":"x","role":"input","dtype":"f64","shape":[]})"),
            "unknown dtype \"f64\"");
  expectBad(entry(R"({"name":"x","role":"input","dtype":"f32","shape":[-1]})"),
            "dimension 0 is dynamic (-1) but no dynamic_dims entry names it");
  // Dynamic dimensions (ABI v3): named by a symbol, ranged on inputs.
  const std::string dynIn =
      R"({"name":"x","role":"input","dtype":"i64","shape":[1,-1],)"
      R"("dynamic_dims":[{"dim":1,"symbol":"tokens","min":1,"max":8}]})";
  EXPECT_EQ(
      load(entry(dynIn + "," +
                 R"({"name":"s","role":"input","dtype":"i64","shape":[1],)"
                 R"("bounds":{"min":0,"max":8,"minus":"tokens"}},)"
                 R"({"name":"y","role":"output","dtype":"f32","shape":[-1],)"
                 R"("dynamic_dims":[{"dim":0,"symbol":"tokens"}]})")),
      "");
  expectBad(entry(R"({"name":"x","role":"input","dtype":"i64","shape":[1,-1],)"
                  R"("dynamic_dims":[{"dim":1,"symbol":"tokens"}]})"),
            "missing field \"min\"");
  expectBad(
      entry(R"({"name":"x","role":"input","dtype":"i64","shape":[1,-1],)"
            R"("dynamic_dims":[{"dim":1,"symbol":"t","min":5,"max":4}]})"),
      "range [5, 4] of \"t\" is empty or negative");
  expectBad(
      entry(R"({"name":"x","role":"input","dtype":"i64","shape":[1,-1],)"
            R"("dynamic_dims":[{"dim":0,"symbol":"t","min":1,"max":4}]})"),
      "dim 0 is not a -1 of the shape [1,?]");
  expectBad(entry(R"({"name":"y","role":"output","dtype":"f32","shape":[-1],)"
                  R"("dynamic_dims":[{"dim":0,"symbol":"tokens"}]})"),
            "symbol \"tokens\" is not defined by an earlier input");
  expectBad(entry(R"({"name":"w","role":"parameter","dtype":"f32",)"
                  R"("shape":[-1],"dynamic_dims":[{"dim":0,"symbol":"t"}]})"),
            "\"dynamic_dims\" on a parameter (only inputs and outputs)");
  expectBad(entry(dynIn + "," +
                  R"({"name":"s","role":"input","dtype":"i64","shape":[1],)"
                  R"("bounds":{"min":0,"max":8,"minus":"rows"}})"),
            "minus \"rows\" is not a dynamic dimension of an earlier input");
  expectBad(entry(R"({"name":"x","role":"input","dtype":"f32","shape":[-1,-1],)"
                  R"("dynamic_dims":[{"dim":0,"symbol":"a","min":1,)"
                  R"("max":4611686018427387904},{"dim":1,"symbol":"b",)"
                  R"("min":1,"max":4611686018427387904}]})"),
            "overflows");
  expectBad(entry(R"({"name":"x","role":"input","dtype":"f32","shape":[-3]})"),
            "negative shape dimension -3");
  expectBad(entry(R"({"name":"x","role":"input","dtype":"f32","shape":[2.5]})"),
            "shape dimension 2.5 is not an integer");
  expectBad(entry(R"({"name":"x","role":"input","dtype":"f32","shape":"2"})"),
            "field \"shape\" must be array");
  expectBad(entry(R"({"role":"input","dtype":"f32","shape":[]})"),
            "args[0]: missing field \"name\"");
  expectBad(entry(R"({"name":"x","role":"input","dtype":"f32","shape":[]},)"
                  R"({"name":"x","role":"output","dtype":"f32","shape":[]})"),
            "duplicate argument name \"x\"");
  expectBad(
      R"({"abi_version":4,"target":"host","entries":[)"
      R"({"name":"a","symbol":"dsv3_entry_noop","args":[)"
      R"({"name":"w","role":"parameter","dtype":"f32","shape":[2]}]},)"
      R"({"name":"b","symbol":"dsv3_entry_noop","args":[)"
      R"({"name":"w","role":"parameter","dtype":"f32","shape":[3]}]}]})",
      "parameter \"w\" is f32[2] in entry \"a\" but f32[3] in entry \"b\"");
}

TEST_F(MetadataTest, MissingEntrySymbol) {
  std::string m = load(entry("", "dsv3_entry_missing"));
  EXPECT_NE(m.find("symbol \"dsv3_entry_missing\" is not exported"),
            std::string::npos)
      << m;
}

TEST_F(MetadataTest, StateRole) {
  ASSERT_EQ(
      load(entry(
          R"({"name":"x","role":"input","dtype":"f32","shape":[2]},)"
          R"({"name":"kv","role":"state","dtype":"bf16","shape":[1,4]})")),
      "");
  dsv3rt_arg_info info;
  ASSERT_OK(dsv3rt_module_arg_info(module, 0, 1, &info));
  EXPECT_EQ(info.role, DSV3_ROLE_STATE);
  ASSERT_EQ(dsv3rt_session_state_count(host), 1u);
  dsv3rt_state_info s;
  ASSERT_OK(dsv3rt_session_state_info(host, 0, &s));
  EXPECT_STREQ(s.name, "kv");
  EXPECT_EQ(s.dtype, DSV3_DTYPE_BF16);
  ASSERT_EQ(s.rank, 2u);
  EXPECT_EQ(s.shape[1], 4);
  EXPECT_ERROR(dsv3rt_session_state_info(host, 1, &s), "out of range");
  EXPECT_ERROR(dsv3rt_session_state_info(nullptr, 0, &s), "NULL");
}

TEST_F(MetadataTest, StackedAndBoundsValid) {
  ASSERT_EQ(
      load(entry(R"({"name":"ids","role":"input","dtype":"i64","shape":[2],)"
                 R"("bounds":{"min":-5,"max":9223372036854775807}},)"
                 R"({"name":"p","role":"input","dtype":"i32","shape":[],)"
                 R"("bounds":{"min":3,"max":3,"why":"only 3"}},)"
                 R"({"name":"w.{e}.x","role":"parameter","dtype":"f32",)"
                 R"("shape":[2,3],"stacked":true,"expert_pointers":false},)"
                 R"({"name":"v","role":"parameter","dtype":"f32","shape":[1],)"
                 R"("stacked":false})")),
      "");
  dsv3rt_arg_attrs a;
  ASSERT_OK(dsv3rt_module_arg_attrs(module, 0, 0, &a));
  EXPECT_FALSE(a.stacked);
  EXPECT_TRUE(a.has_bounds);
  EXPECT_EQ(a.bounds_min, -5);
  EXPECT_EQ(a.bounds_max, INT64_MAX);
  EXPECT_STREQ(a.bounds_why, "");
  ASSERT_OK(dsv3rt_module_arg_attrs(module, 0, 1, &a));
  EXPECT_STREQ(a.bounds_why, "only 3");
  ASSERT_OK(dsv3rt_module_arg_attrs(module, 0, 2, &a));
  EXPECT_TRUE(a.stacked);
  EXPECT_FALSE(a.has_bounds);
  ASSERT_OK(dsv3rt_module_arg_attrs(module, 0, 3, &a));
  EXPECT_FALSE(a.stacked);
  EXPECT_ERROR(dsv3rt_module_arg_attrs(module, 0, 4, &a), "out of range");
}

TEST_F(MetadataTest, StackedFaults) {
  expectBad(entry(R"({"name":"w","role":"parameter","dtype":"f32",)"
                  R"("shape":[2,3],"stacked":true})"),
            "stacked parameter \"w\" must hold the expert placeholder {e} "
            "exactly once (found 0)");
  expectBad(entry(R"({"name":"w.{e}.{e}","role":"parameter","dtype":"f32",)"
                  R"("shape":[2,3],"stacked":true})"),
            "exactly once (found 2)");
  expectBad(entry(R"({"name":"w.{e}","role":"parameter","dtype":"f32",)"
                  R"("shape":[],"stacked":true})"),
            "stacked parameter \"w.{e}\" has rank 0");
  expectBad(entry(R"({"name":"w.{e}","role":"parameter","dtype":"f32",)"
                  R"("shape":[2],"stacked":1})"),
            "field \"stacked\" must be boolean, got number");
  expectBad(entry(R"({"name":"x.{e}","role":"input","dtype":"f32",)"
                  R"("shape":[2],"stacked":true})"),
            "\"stacked\" on a input (only parameters can be stacked)");
  expectBad(entry(R"({"name":"w.{e}","role":"parameter","dtype":"f32",)"
                  R"("shape":[2]})"),
            "parameter \"w.{e}\" holds the expert placeholder {e} but is not "
            "stacked");
  expectBad(entry(R"({"name":"w.{e}","role":"parameter","dtype":"f32",)"
                  R"("shape":[2],"stacked":true,"expert_pointers":"yes"})"),
            "field \"expert_pointers\" must be boolean, got string");
  expectBad(entry(R"({"name":"w","role":"parameter","dtype":"f32",)"
                  R"("shape":[2],"expert_pointers":true})"),
            "\"expert_pointers\" on \"w\", which is not stacked");
  expectBad(R"({"abi_version":4,"target":"cuda","entries":[{"name":"e",)"
            R"("symbol":"dsv3_entry_noop","args":[{"name":"w.{e}",)"
            R"("role":"parameter","dtype":"f32","shape":[2],"stacked":true,)"
            R"("expert_pointers":true}]}]})",
            "\"expert_pointers\" on \"w.{e}\" of a cuda module");
}

TEST_F(MetadataTest, SameAsFaults) {
  auto param = [](const std::string &name, const std::string &shape,
                  const std::string &extra = "") {
    return R"({"name":")" + name +
           R"(","role":"parameter","dtype":"f32","shape":)" + shape + extra +
           "}";
  };
  EXPECT_EQ(load(entry(param("a", "[2]") + "," +
                       param("b", "[2]", R"(,"same_as":"a")"))),
            "");
  expectBad(entry(param("b", "[2]", R"(,"same_as":"")")),
            "field \"same_as\" must be a non-empty string");
  expectBad(entry(param("b", "[2]", R"(,"same_as":"b")")),
            "\"same_as\" on \"b\": only an unstacked parameter can name "
            "another parameter");
  expectBad(entry(param("b", "[2]", R"(,"same_as":"a")")),
            "parameter \"b\" is same_as \"a\", which is not a parameter");
  expectBad(
      entry(param("a", "[3]") + "," + param("b", "[2]", R"(,"same_as":"a")")),
      "parameter \"b\" is f32[2] but its same_as \"a\" is f32[3]");
}

// A same_as parameter is bound to the other's memory only when the
// checkpoint's bytes agree, and each bind reports what it did.
TEST_F(MetadataTest, SameAsSharesIdenticalBytes) {
  ASSERT_EQ(load(entry(R"({"name":"a","role":"parameter","dtype":"f32",)"
                       R"("shape":[4]},)"
                       R"({"name":"b","role":"parameter","dtype":"f32",)"
                       R"("shape":[4],"same_as":"a"})")),
            "");
  const float x[4] = {1, 2, 3, 4}, y[4] = {1, 2, 3, 5};
  std::string same = dir.file("same.safetensors"),
              other = dir.file("other.safetensors");
  writeSafetensors(
      same, {{"a", DType::F32, {4}, x, 16}, {"b", DType::F32, {4}, x, 16}});
  writeSafetensors(
      other, {{"a", DType::F32, {4}, x, 16}, {"b", DType::F32, {4}, y, 16}});
  EXPECT_EQ(dsv3rt_module_parameter_sharing_count(module), 0u);
  bind({same});
  ASSERT_EQ(last, "");
  ASSERT_EQ(dsv3rt_module_parameter_sharing_count(module), 1u);
  dsv3rt_parameter_sharing info;
  ASSERT_OK(dsv3rt_module_parameter_sharing(module, 0, &info));
  EXPECT_STREQ(info.name, "b");
  EXPECT_STREQ(info.same_as, "a");
  EXPECT_EQ(info.identical, 1);
  EXPECT_EQ(info.bytes, 16u);
  bind({other});
  ASSERT_EQ(last, "");
  ASSERT_OK(dsv3rt_module_parameter_sharing(module, 0, &info));
  EXPECT_EQ(info.identical, 0);
  EXPECT_ERROR(dsv3rt_module_parameter_sharing(module, 1, &info),
               "out of range");
}

TEST_F(MetadataTest, QuantizedFromFaults) {
  const std::string q =
      R"({"name":"w","role":"parameter","dtype":"f8e4m3fn","shape":[300,200],)"
      R"("quantized_from":"bf16","block":[128,128]})";
  const std::string s =
      R"({"name":"w_scale_inv","role":"parameter","dtype":"f32",)"
      R"("shape":[3,2],"scales_of":"w"})";
  EXPECT_EQ(load(entry(q + "," + s)), "");
  expectBad(entry(R"({"name":"w","role":"parameter","dtype":"f8e4m3fn",)"
                  R"("shape":[2,2],"quantized_from":"i8","block":[128,128]})"),
            "field \"quantized_from\" must be \"bf16\", \"f16\" or \"f32\", "
            "got \"i8\"");
  expectBad(entry(R"({"name":"w","role":"parameter","dtype":"f8e4m3fn",)"
                  R"("shape":[2,2],"quantized_from":"bf16","block":[1,128]})"),
            "quantized parameter \"w\" needs \"block\": [128, 128]");
  expectBad(
      entry(R"({"name":"w","role":"parameter","dtype":"bf16",)"
            R"("shape":[2,2],"quantized_from":"bf16","block":[128,128]})"),
      "\"quantized_from\" on \"w\": only an unstacked rank-2 f8e4m3fn "
      "parameter");
  expectBad(
      entry(R"({"name":"w","role":"input","dtype":"f8e4m3fn",)"
            R"("shape":[2,2],"quantized_from":"bf16","block":[128,128]})"),
      "\"quantized_from\" on \"w\"");
  expectBad(entry(s), "parameter \"w_scale_inv\" is scales_of \"w\", which "
                      "is not a quantized_from parameter");
  expectBad(entry(R"({"name":"w","role":"parameter","dtype":"f8e4m3fn",)"
                  R"("shape":[300,200]},)" +
                  s),
            "which is not a quantized_from parameter");
  expectBad(entry(q + R"(,{"name":"w_scale_inv","role":"parameter",)"
                      R"("dtype":"f32","shape":[2,2],"scales_of":"w"})"),
            "parameter \"w_scale_inv\" is f32[2,2] but the 128x128 block "
            "scales of \"w\" are f32[3,2]");
  expectBad(entry(q + R"(,{"name":"w_scale_inv","role":"parameter",)"
                      R"("dtype":"bf16","shape":[3,2],"scales_of":"w"})"),
            "\"scales_of\" on \"w_scale_inv\": only an unstacked rank-2 f32 "
            "parameter");
  expectBad(entry(q + R"(,{"name":"w_scale_inv","role":"parameter",)"
                      R"("dtype":"f32","shape":[3,2],"scales_of":""})"),
            "field \"scales_of\" must be a non-empty string");
}

// The runtime reads a quantized parameter's checkpoint tensor in the dtype
// it is stored in and asks for no scales tensor; what it computes is checked
// bit for bit against dsv3.quantize in test/Integration/host/quantize-at-bind.
TEST_F(MetadataTest, QuantizedFromBinds) {
  ASSERT_EQ(load(entry(R"({"name":"w","role":"parameter","dtype":"f8e4m3fn",)"
                       R"("shape":[2,3],"quantized_from":"bf16",)"
                       R"("block":[128,128]},)"
                       R"({"name":"w_scale_inv","role":"parameter",)"
                       R"("dtype":"f32","shape":[1,1],"scales_of":"w"})")),
            "");
  const uint16_t bf16[6] = {0x3f80, 0xbf80, 0x4000, 0, 0x43e0, 0xc3e0};
  const float f32[6] = {1, -1, 2, 0, 448, -448};
  std::string good = dir.file("good.safetensors"),
              wrong = dir.file("wrong.safetensors"),
              none = dir.file("none.safetensors");
  writeSafetensors(good, {{"w", DType::BF16, {2, 3}, bf16, 12}});
  writeSafetensors(wrong, {{"w", DType::F32, {2, 3}, f32, 24}});
  writeSafetensors(none, {{"v", DType::BF16, {2, 3}, bf16, 12}});
  bind({good});
  EXPECT_EQ(last, "");
  bind({wrong});
  EXPECT_NE(last.find("parameter \"w\" in " + wrong +
                      ": expected bf16[2,3] (the module quantizes it to "
                      "f8e4m3fn[2,3] when binding), found f32[2,3]"),
            std::string::npos)
      << last;
  bind({none});
  EXPECT_NE(last.find("missing parameter \"w\""), std::string::npos) << last;
}

TEST_F(MetadataTest, BoundsFaults) {
  auto arg = [](const std::string &dtype, const std::string &bounds,
                const std::string &role = "input") {
    return R"({"name":"i","role":")" + role + R"(","dtype":")" + dtype +
           R"(","shape":[2],"bounds":)" + bounds + "}";
  };
  expectBad(entry(arg("f32", R"({"min":0,"max":1})")),
            "\"bounds\" on an input of dtype f32 (only i32 and i64 inputs)");
  expectBad(entry(arg("i8", R"({"min":0,"max":1})")), "dtype i8");
  expectBad(entry(arg("i32", R"({"min":0,"max":1})", "output")),
            "\"bounds\" on a output (only inputs can have bounds)");
  expectBad(entry(arg("i32", R"({"min":2,"max":1})")),
            "args[0]: bounds: min 2 > max 1");
  expectBad(entry(arg("i32", R"({"min":0})")), "bounds: missing field \"max\"");
  expectBad(entry(arg("i32", R"({"min":0.5,"max":1})")),
            "field \"min\" must be integer, got 0.5");
  expectBad(entry(arg("i32", R"({"min":0,"max":18446744073709551615})")),
            "max 18446744073709551615 does not fit in int64");
  expectBad(entry(arg("i32", R"({"min":0,"max":1,"why":7})")),
            "field \"why\" must be string");
  expectBad(entry(arg("i32", "[0,1]")),
            "field \"bounds\" must be object, got array");
}

TEST_F(MetadataTest, StateConflicts) {
  // Within one module: named by entry.
  std::string m =
      load(R"({"abi_version":4,"target":"host","entries":[)"
           R"({"name":"a","symbol":"dsv3_entry_noop","args":[)"
           R"({"name":"kv","role":"state","dtype":"f32","shape":[8]}]},)"
           R"({"name":"b","symbol":"dsv3_entry_noop","args":[)"
           R"({"name":"kv","role":"state","dtype":"f32","shape":[9]}]}]})");
  EXPECT_NE(
      m.find("state \"kv\" is f32[8] in entry \"a\" of " FAKE_CONFIG_MODULE
             " but f32[9] in entry \"b\" of " FAKE_CONFIG_MODULE),
      std::string::npos)
      << m;
  EXPECT_EQ(dsv3rt_session_state_count(host), 0u) << "a failed load declares";

  // Across modules of one session: the first declaration wins.
  dsv3rt_module *state = nullptr;
  ASSERT_OK(dsv3rt_module_load(host, FAKE_STATE_MODULE, &state));
  ASSERT_EQ(dsv3rt_session_state_count(host), 2u);
  m = load(entry(R"({"name":"kv","role":"state","dtype":"bf16","shape":[8]})"));
  EXPECT_NE(
      m.find("state \"kv\" is f32[8] in entry \"append\" of " FAKE_STATE_MODULE
             " but bf16[8] in entry \"e\" of " FAKE_CONFIG_MODULE),
      std::string::npos)
      << m;
  // A failed load declares nothing, not even its valid states.
  m = load(entry(R"({"name":"fresh","role":"state","dtype":"f32","shape":[1]})",
                 "dsv3_entry_missing"));
  EXPECT_NE(m.find("is not exported"), std::string::npos) << m;
  EXPECT_EQ(dsv3rt_session_state_count(host), 2u);
  // Same name, same type: shared, not redeclared.
  EXPECT_EQ(
      load(entry(R"({"name":"kv","role":"state","dtype":"f32","shape":[8]})")),
      "");
  EXPECT_EQ(dsv3rt_session_state_count(host), 2u);
  // Another session does not see them.
  EXPECT_EQ(dsv3rt_session_state_count(cuda), 0u);
  dsv3rt_module_unload(state);
}

// Modules take an i1 byte to be 0 or 1; any other byte in an input, a state
// or a parameter is refused with the element named before it reaches one.
TEST_F(MetadataTest, I1MustBeZeroOrOne) {
  ASSERT_EQ(
      load(entry(R"({"name":"m","role":"input","dtype":"i1","shape":[2,2]},)"
                 R"({"name":"p","role":"parameter","dtype":"i1","shape":[3]},)"
                 R"({"name":"s","role":"state","dtype":"i1","shape":[2]})")),
      "");
  const uint8_t badP[3] = {0, 1, 5}, goodP[3] = {1, 0, 1};
  std::string bad = dir.file("bad.safetensors"),
              good = dir.file("good.safetensors");
  writeSafetensors(bad, {{"p", DType::I1, {3}, badP, 3}});
  writeSafetensors(good, {{"p", DType::I1, {3}, goodP, 3}});
  bind({bad});
  EXPECT_NE(last.find("parameter \"p\" element [2] = 5 is not a valid i1 (0 "
                      "or 1) (in " +
                      bad + ")"),
            std::string::npos)
      << last;
  bind({good});
  ASSERT_EQ(last, "");

  const uint8_t badS[2] = {1, 2};
  dsv3rt_tensor *state = tensor(DSV3_DTYPE_I1, {2}, badS);
  EXPECT_ERROR(dsv3rt_session_write_state(host, "s", state),
               "state \"s\" element [1] = 2 is not a valid i1 (0 or 1)");
  dsv3rt_tensor_destroy(state);

  const uint8_t badM[4] = {0, 1, 1, 255}, goodM[4] = {0, 1, 1, 0};
  dsv3rt_tensor *in = tensor(DSV3_DTYPE_I1, {2, 2}, badM);
  EXPECT_ERROR(dsv3rt_module_call(module, 0, &in, 1, nullptr, 0),
               "entry \"e\": input 0 (\"m\") element [1, 1] = 255 is not a "
               "valid i1 (0 or 1); the call was refused");
  dsv3rt_tensor_destroy(in);
  in = tensor(DSV3_DTYPE_I1, {2, 2}, goodM);
  ASSERT_OK(dsv3rt_module_call(module, 0, &in, 1, nullptr, 0));
  dsv3rt_tensor_destroy(in);
}

// This machine has no GPU: a cuda module still loads (its constructor's
// mgpuModuleLoad fails softly) and a call reports the missing device.
bool haveCudaDevice();

TEST_F(LoaderTest, CudaModuleWithoutDevice) {
  if (haveCudaDevice())
    GTEST_SKIP() << "a CUDA device is present";
  ASSERT_OK(dsv3rt_module_load(cuda, FAKE_CUDA_MODULE, &module));
  EXPECT_STREQ(dsv3rt_module_target(module), "cuda");
  float x[4] = {1, 2, 3, 4};
  dsv3rt_tensor *in = tensor(DSV3_DTYPE_F32, {4}, x), *out = nullptr;
  EXPECT_ERROR(dsv3rt_module_call(module, 0, &in, 1, &out, 1),
               "no CUDA device: ");
  EXPECT_EQ(out, nullptr);
  dsv3rt_tensor_destroy(in);
}

// True where a driver and device exist (then the no-device tests skip).
bool haveCudaDevice() {
  void *s = mgpuStreamCreate();
  mgpuStreamDestroy(s);
  return s != nullptr;
}

TEST(Mgpu, FunctionsAreSafeWithoutDriver) {
  if (haveCudaDevice())
    GTEST_SKIP() << "a CUDA device is present";
  EXPECT_EQ(mgpuModuleLoad(nullptr, 0), nullptr);
  EXPECT_EQ(mgpuModuleLoadJIT(nullptr, 2), nullptr);
  EXPECT_EQ(mgpuModuleGetFunction(nullptr, "k"), nullptr);
  mgpuLaunchKernel(nullptr, 1, 1, 1, 1, 1, 1, 64 * 1024, nullptr, nullptr,
                   nullptr, 0);
  EXPECT_EQ(mgpuStreamCreate(), nullptr);
  mgpuStreamSynchronize(nullptr);
  mgpuStreamDestroy(nullptr);
  EXPECT_EQ(mgpuEventCreate(), nullptr);
  mgpuEventRecord(nullptr, nullptr);
  mgpuEventSynchronize(nullptr);
  mgpuStreamWaitEvent(nullptr, nullptr);
  mgpuEventDestroy(nullptr);
  EXPECT_EQ(mgpuMemAlloc(16, nullptr, false), nullptr);
  EXPECT_EQ(mgpuMemAlloc(16, nullptr, true), nullptr);
  mgpuMemcpy(nullptr, nullptr, 16, nullptr);
  mgpuMemset32(nullptr, 0, 4, nullptr);
  mgpuMemset16(nullptr, 0, 4, nullptr);
  mgpuMemFree(nullptr, nullptr);
  mgpuModuleUnload(nullptr);
}

} // namespace

namespace {

TEST_F(LoaderTest, BindEntryParametersOnly) {
  loadAdd();
  size_t sum = 0, add = 0;
  ASSERT_OK(dsv3rt_module_find_entry(module, "sum", &sum));
  ASSERT_OK(dsv3rt_module_find_entry(module, "add", &add));
  // "sum" has no parameters: binding it needs no files; "add" does.
  ASSERT_OK(dsv3rt_module_bind_entry_parameters(module, sum, nullptr, 0));
  EXPECT_ERROR(dsv3rt_module_bind_entry_parameters(module, add, nullptr, 0),
               "missing parameter \"w\"");
  std::string w = weights("w", DType::F32, {2, 3}, "w.safetensors");
  const char *paths[] = {w.c_str()};
  ASSERT_OK(dsv3rt_module_bind_entry_parameters(module, add, paths, 1));
  EXPECT_ERROR(dsv3rt_module_bind_entry_parameters(module, 5, paths, 1),
               "out of range");
}

} // namespace
