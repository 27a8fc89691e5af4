// ABI v2 behaviour through the C++ wrapper (dsv3rt.hpp): session state shared
// across entries, calls and modules; the state API; input bounds; stacked
// parameters bound in place or gathered; and the cuda paths, without a
// device and under the host-memory fake driver (fake_cuda_driver.c).
#include "dsv3/Runtime/dsv3rt.hpp"

#include "Safetensors.h"
#include "Stacked.h"
#include "TestUtil.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <thread>

using namespace dsv3test;
using dsv3rt::impl::DType;
using dsv3rt::impl::ExpertSlice;
using dsv3rt::impl::SafetensorsWriteItem;
using dsv3rt::impl::stackedView;
using dsv3rt::impl::writeSafetensors;

namespace {

template <typename T> std::vector<T> values(const dsv3rt::Tensor &t) {
  std::vector<T> v(t.byteSize() / sizeof(T));
  if (!v.empty())
    std::memcpy(v.data(), t.data(), t.byteSize());
  return v;
}

// The tensors are move-only, so no braced list of them.
template <typename... T> std::vector<dsv3rt::Tensor> list(T &&...tensors) {
  std::vector<dsv3rt::Tensor> v;
  (v.push_back(std::move(tensors)), ...);
  return v;
}

dsv3rt::Tensor i32(std::vector<int32_t> v) {
  return dsv3rt::Tensor(DSV3_DTYPE_I32, {static_cast<int64_t>(v.size())},
                        v.data());
}
dsv3rt::Tensor f32(std::vector<float> v) {
  return dsv3rt::Tensor(DSV3_DTYPE_F32, {static_cast<int64_t>(v.size())},
                        v.data());
}

// "append"(pos, value) of fake_state_module: returns the sum of "kv".
float append(dsv3rt::Module &m, int32_t pos, float value) {
  std::vector<dsv3rt::Tensor> out =
      m.call(m.findEntry("append"), list(i32({pos}), f32({value})));
  return values<float>(out.at(0)).at(0);
}

TEST(StateTest, SharedAcrossEntriesAndCalls) {
  dsv3rt::Session s("host");
  dsv3rt::Module m(s, FAKE_STATE_MODULE);
  std::vector<dsv3rt::StateInfo> states = s.states();
  ASSERT_EQ(states.size(), 2u);
  EXPECT_EQ(states[0].name, "kv");
  EXPECT_EQ(states[0].dtype, DSV3_DTYPE_F32);
  EXPECT_EQ(states[0].shape, std::vector<int64_t>{8});
  EXPECT_EQ(states[1].name, "count");
  EXPECT_EQ(states[1].dtype, DSV3_DTYPE_I64);
  EXPECT_TRUE(states[1].shape.empty());
  // Zero-filled before anything writes it.
  EXPECT_EQ(values<float>(s.readState("kv")), std::vector<float>(8, 0));

  EXPECT_EQ(append(m, 2, 5), 5);
  EXPECT_EQ(append(m, 7, 1), 6); // the second call sees the first's write
  size_t bump = m.findEntry("bump");
  for (int64_t call = 1; call <= 2; ++call) {
    std::vector<dsv3rt::Tensor> out = m.call(bump, {});
    ASSERT_EQ(out.size(), 2u);
    std::vector<float> want(8, static_cast<float>(call));
    want[2] += 5, want[7] += 1;
    EXPECT_EQ(values<float>(out[0]), want);
    EXPECT_EQ(values<int64_t>(out[1]), std::vector<int64_t>{call});
  }
  EXPECT_EQ(values<float>(s.readState("kv")),
            (std::vector<float>{2, 2, 7, 2, 2, 2, 2, 3}));
  EXPECT_EQ(values<int64_t>(s.readState("count")), std::vector<int64_t>{2});
  // Only role=input args are passed.
  expectThrowContaining([&] { m.call(bump, list(f32({1}))); },
                        {"entry \"bump\" takes 0 input(s), got 1"});
}

TEST(StateTest, SharedAcrossModulesAndSessionsIndependent) {
  dsv3rt::Session s("host"), other("host");
  {
    dsv3rt::Module a(s, FAKE_STATE_MODULE);
    EXPECT_EQ(append(a, 0, 3), 3);
  }
  // The state outlives the module that declared it; a module loaded later
  // shares it, and so does one loaded alongside.
  dsv3rt::Module b(s, FAKE_STATE_MODULE), c(s, FAKE_STATE_MODULE);
  EXPECT_EQ(s.states().size(), 2u);
  EXPECT_EQ(append(b, 1, 4), 7);
  EXPECT_EQ(append(c, 2, 1), 8);
  dsv3rt::Module d(other, FAKE_STATE_MODULE);
  EXPECT_EQ(append(d, 1, 1), 1);
}

TEST(StateTest, ReadWriteReset) {
  dsv3rt::Session s("host");
  dsv3rt::Module m(s, FAKE_STATE_MODULE);
  s.writeState("kv", f32({1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(append(m, 0, 0), 35);
  int64_t count = 41;
  s.writeState("count", dsv3rt::Tensor(DSV3_DTYPE_I64, {}, &count));
  std::vector<dsv3rt::Tensor> out = m.call(m.findEntry("bump"), {});
  EXPECT_EQ(values<int64_t>(out[1]), std::vector<int64_t>{42});
  // The value read is a copy.
  dsv3rt::Tensor kv = s.readState("kv");
  static_cast<float *>(kv.data())[0] = 100;
  EXPECT_EQ(values<float>(s.readState("kv"))[0], 1);

  expectThrowContaining(
      [&] {
        s.writeState("kv", f32({1, 2}));
      },
      {"state \"kv\" is f32[8], the value written is f32[2]"});
  expectThrowContaining(
      [&] { s.writeState("kv", dsv3rt::Tensor(DSV3_DTYPE_BF16, {8})); },
      {"state \"kv\" is f32[8], the value written is bf16[8]"});
  expectThrowContaining(
      [&] { s.readState("kv_cache"); },
      {"unknown state \"kv_cache\" (states of this session: kv, count)"});
  expectThrowContaining([&] { s.writeState("nope", f32({1})); },
                        {"unknown state \"nope\"", "kv, count"});

  s.resetState();
  EXPECT_EQ(values<float>(s.readState("kv")), std::vector<float>(8, 0));
  EXPECT_EQ(values<int64_t>(s.readState("count")), std::vector<int64_t>{0});
  EXPECT_EQ(append(m, 3, 2), 2);

  // The C API refuses NULLs instead of crashing.
  dsv3rt_tensor *t = nullptr;
  EXPECT_ERROR(dsv3rt_session_read_state(s.get(), nullptr, &t), "NULL");
  EXPECT_ERROR(dsv3rt_session_write_state(s.get(), "kv", nullptr), "NULL");
  EXPECT_ERROR(dsv3rt_session_reset_state(nullptr), "NULL");
  EXPECT_EQ(dsv3rt_session_state_count(nullptr), 0u);
}

TEST(StateTest, NoStatesListed) {
  dsv3rt::Session s("host");
  expectThrowContaining([&] { s.readState("kv"); },
                        {"unknown state \"kv\" (states of this session: "
                         "none)"});
  s.resetState(); // nothing to do
}

TEST(BoundsTest, RefusedCallWritesNothing) {
  dsv3rt::Session s("host");
  dsv3rt::Module m(s, FAKE_STATE_MODULE);
  EXPECT_EQ(append(m, 7, 2), 2);
  for (int32_t pos : {8, -1, 4096}) {
    std::string msg = expectThrowContaining([&] { append(m, pos, 100); },
                                            {"input \"pos\" element [0] = "});
    EXPECT_EQ(msg, "entry \"append\": input \"pos\" element [0] = " +
                       std::to_string(pos) +
                       " is outside [0, 7] (append writes 1 row(s) per call "
                       "into a cache of max_seq_len 8); the call was refused "
                       "and nothing was written");
  }
  std::vector<float> want(8, 0);
  want[7] = 2;
  EXPECT_EQ(values<float>(s.readState("kv")), want);

  // i64, rank 2: the element index is multi-dimensional; bounds inclusive.
  size_t ids = m.findEntry("ids");
  int64_t ok[4] = {-1, 3, 0, 0}, bad[4] = {0, 1, 2, 4};
  std::vector<dsv3rt::Tensor> out =
      m.call(ids, list(dsv3rt::Tensor(DSV3_DTYPE_I64, {2, 2}, ok)));
  EXPECT_EQ(values<int64_t>(out[0]), std::vector<int64_t>{2});
  expectThrowContaining(
      [&] {
        m.call(ids, list(dsv3rt::Tensor(DSV3_DTYPE_I64, {2, 2}, bad)));
      },
      {"entry \"ids\": input \"ids\" element [1, 1] = 4 is outside [-1, 3] "
       "(expert ids index 4 routed experts); the call was refused"});
  // Attributes are visible through the API.
  dsv3rt_arg_attrs a = m.attrs(m.findEntry("append"), 0);
  EXPECT_TRUE(a.has_bounds);
  EXPECT_EQ(a.bounds_min, 0);
  EXPECT_EQ(a.bounds_max, 7);
  EXPECT_STREQ(a.bounds_why,
               "append writes 1 row(s) per call into a cache of max_seq_len 8");
}

// ---- stacked parameters ----

TEST(StackedLayout, Names) {
  using dsv3rt::impl::countExpertPlaceholders;
  using dsv3rt::impl::expertTensorName;
  EXPECT_EQ(countExpertPlaceholders("a.{e}.b"), 1u);
  EXPECT_EQ(countExpertPlaceholders("a.{e}{e}"), 2u);
  EXPECT_EQ(countExpertPlaceholders("a.{e.b"), 0u);
  EXPECT_EQ(
      expertTensorName("model.layers.3.mlp.experts.{e}.gate_proj.weight", 255),
      "model.layers.3.mlp.experts.255.gate_proj.weight");
}

TEST(StackedLayout, View) {
  alignas(8) static uint8_t a[64], b[64];
  int fileA, fileB;
  auto slices = [&](std::vector<std::pair<int *, uint8_t *>> v) {
    std::vector<ExpertSlice> s;
    for (auto &[f, p] : v)
      s.push_back({f, p});
    return s;
  };
  // Back to back in order, aligned: in place.
  EXPECT_EQ(stackedView(
                slices({{&fileA, a}, {&fileA, a + 8}, {&fileA, a + 16}}), 8, 4),
            a);
  // Gaps, shuffled order, repeated expert, another file, misalignment.
  EXPECT_EQ(stackedView(slices({{&fileA, a}, {&fileA, a + 12}}), 8, 4),
            nullptr);
  EXPECT_EQ(stackedView(slices({{&fileA, a + 8}, {&fileA, a}}), 8, 4), nullptr);
  EXPECT_EQ(stackedView(slices({{&fileA, a}, {&fileA, a}}), 8, 4), nullptr);
  EXPECT_EQ(stackedView(slices({{&fileA, a}, {&fileB, a + 8}}), 8, 4), nullptr);
  EXPECT_EQ(stackedView(slices({{&fileA, a + 2}, {&fileA, a + 10}}), 8, 4),
            nullptr);
  EXPECT_EQ(stackedView(slices({{&fileA, a + 2}, {&fileA, a + 10}}), 8, 2),
            a + 2);
  // One expert, zero experts, zero-size experts.
  EXPECT_EQ(stackedView(slices({{&fileB, b}}), 64, 8), b);
  EXPECT_EQ(stackedView({}, 8, 4), nullptr);
  EXPECT_EQ(stackedView(slices({{&fileA, a}, {&fileA, a}}), 0, 4), nullptr);
}

class StackedTest : public ::testing::Test {
protected:
  // Expert e's row is {10e, 10e+1, 10e+2}.
  static std::vector<float> row(int e) {
    return {10.0f * e, 10.0f * e + 1, 10.0f * e + 2};
  }
  std::string write(const std::string &file, std::vector<int> experts,
                    std::vector<int64_t> shape = {3}) {
    rows.resize(10);
    std::vector<SafetensorsWriteItem> items;
    for (int e : experts) {
      rows[e] = row(e);
      rows[e].resize(shape[0]);
      items.push_back({"experts." + std::to_string(e) + ".w", DType::F32, shape,
                       rows[e].data(), 4 * rows[e].size()});
    }
    std::string path = dir.file(file);
    writeSafetensors(path, items);
    return path;
  }
  // Binds gather_rows from the files and runs it on ids {3, 1}; returns the
  // weights' address the module saw.
  uint64_t run(const std::vector<std::string> &files) {
    size_t entry = m.findEntry("gather_rows");
    m.bindEntryParameters(entry, files);
    std::vector<dsv3rt::Tensor> out = m.call(entry, list(i32({3, 1})));
    std::vector<float> want = row(3), r1 = row(1);
    want.insert(want.end(), r1.begin(), r1.end());
    EXPECT_EQ(values<float>(out.at(0)), want);
    // Repeated calls use the same binding (no per-call gather).
    std::vector<dsv3rt::Tensor> again = m.call(entry, list(i32({0, 2})));
    EXPECT_EQ(values<int64_t>(again.at(1)), values<int64_t>(out.at(1)));
    return static_cast<uint64_t>(values<int64_t>(out.at(1)).at(0));
  }

  TempDir dir;
  std::vector<std::vector<float>> rows;
  dsv3rt::Session s{"host"};
  dsv3rt::Module m{s, FAKE_STACKED_MODULE};
};

TEST_F(StackedTest, InPlaceWhenBackToBack) {
  std::string f = write("in-order.safetensors", {0, 1, 2, 3});
  uint64_t address = run({f});
  EXPECT_TRUE(insideMappingOf(address, f))
      << "weights were copied instead of bound in place";
  EXPECT_TRUE(m.attrs(m.findEntry("gather_rows"), 1).stacked);
}

TEST_F(StackedTest, GatheredOtherwise) {
  std::string shuffled = write("shuffled.safetensors", {3, 1, 0, 2});
  EXPECT_FALSE(insideMappingOf(run({shuffled}), shuffled));
  std::string a = write("a.safetensors", {0, 1}),
              b = write("b.safetensors", {2, 3});
  uint64_t address = run({a, b});
  EXPECT_FALSE(insideMappingOf(address, a) || insideMappingOf(address, b));
  // Extra tensors in between break contiguity too.
  std::string gap = write("gap.safetensors", {0, 1, 5, 2, 3});
  EXPECT_FALSE(insideMappingOf(run({gap}), gap));
}

TEST_F(StackedTest, GatheredWhenMisaligned) {
  // f32 data at an odd file offset.
  std::string header =
      R"({"experts.0.w":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},)"
      R"("experts.1.w":{"dtype":"F32","shape":[3],"data_offsets":[12,24]},)"
      R"("experts.2.w":{"dtype":"F32","shape":[3],"data_offsets":[24,36]},)"
      R"("experts.3.w":{"dtype":"F32","shape":[3],"data_offsets":[36,48]}})";
  while ((8 + header.size()) % 4 != 1)
    header += ' ';
  std::string data;
  for (int e = 0; e < 4; ++e)
    data.append(reinterpret_cast<const char *>(row(e).data()), 12);
  std::string f =
      writeSafetensorsRaw(dir.file("odd.safetensors"), header, data);
  EXPECT_FALSE(insideMappingOf(run({f}), f));
}

TEST_F(StackedTest, MissingOrMismatchedExpert) {
  size_t entry = m.findEntry("gather_rows");
  std::string f = write("missing.safetensors", {0, 1, 3});
  expectThrowContaining(
      [&] { m.bindEntryParameters(entry, {f}); },
      {"missing parameter \"experts.2.w\" (expert 2 of stacked parameter "
       "\"experts.{e}.w\" f32[4,3]; searched: " +
       f + ")"});
  std::string g = write("wide.safetensors", {0, 1, 3});
  std::vector<float> wide(4, 1);
  std::string h = dir.file("wide2.safetensors");
  writeSafetensors(h, {{"experts.2.w", DType::F32, {4}, wide.data(), 16}});
  expectThrowContaining(
      [&] {
        m.bindEntryParameters(entry, {g, h});
      },
      {"parameter \"experts.2.w\" in " + h +
       " (expert 2 of stacked parameter \"experts.{e}.w\" f32[4,3]): "
       "expected f32[3], found f32[4]"});
  // A failed bind leaves the module unbound rather than half bound.
  expectThrowContaining(
      [&] {
        m.call(entry, list(i32({0, 0})));
      },
      {"needs parameter \"experts.{e}.w\" but it is not "
       "bound"});
}

TEST_F(StackedTest, UnstackedNeighbourAndBounds) {
  std::string f = write("all.safetensors", {0, 1, 2, 3});
  m.bindParameters({f}); // both entries: stacked and experts.1.w alone
  std::vector<dsv3rt::Tensor> y = m.call(m.findEntry("single"), {});
  EXPECT_EQ(values<float>(y.at(0)), row(1));
  expectThrowContaining(
      [&] {
        m.call(m.findEntry("gather_rows"), list(i32({0, 4})));
      },
      {"input \"ids\" element [1] = 4 is outside [0, 3] (expert ids index 4 "
       "routed experts)"});
}

// ---- cuda ----

// True where a driver and device exist (or the fake driver is in use).
bool haveCudaDevice() {
  dsv3rt::Session s("cuda");
  dsv3rt::Module m(s, FAKE_CUDA_STATE_MODULE);
  try {
    s.readState("acc");
    return true;
  } catch (const dsv3rt::Error &) {
    return false;
  }
}

TEST(CudaStateTest, NoDevice) {
  if (haveCudaDevice())
    GTEST_SKIP() << "a CUDA device (or the fake driver) is present";
  dsv3rt::Session s("cuda");
  dsv3rt::Module m(s, FAKE_CUDA_STATE_MODULE); // loads without a device
  ASSERT_EQ(s.states().size(), 1u);
  EXPECT_EQ(s.states()[0].name, "acc");
  expectThrowContaining([&] { s.readState("acc"); }, {"no CUDA device: "});
  expectThrowContaining(
      [&] {
        s.writeState("acc", f32({1, 2, 3, 4}));
      },
      {"no CUDA device: "});
  s.resetState(); // nothing is on a device, so nothing to do
  expectThrowContaining([&] { m.call(m.findEntry("peek"), {}); },
                        {"no CUDA device: "});
  // Names are still checked first.
  expectThrowContaining([&] { s.readState("kv"); }, {"unknown state \"kv\""});
}

// One session shared by threads (dsv3rt.h, "Threads"): calls run one at a
// time, so no update of the states is lost, their lazy allocation happens
// once, and a rebind never meets a call in flight.
TEST(SessionThreads, CallsOnOneSessionAreSerialized) {
  dsv3rt::Session s("host");
  dsv3rt::Module m(s, FAKE_STATE_MODULE);
  const size_t bump = m.findEntry("bump");
  constexpr int kThreads = 4, kCalls = 3000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < kCalls; ++i)
        m.call(bump, {});
    });
  for (std::thread &t : threads)
    t.join();
  EXPECT_EQ(values<int64_t>(s.readState("count")),
            std::vector<int64_t>{kThreads * kCalls});
  EXPECT_EQ(values<float>(s.readState("kv")),
            std::vector<float>(8, float(kThreads * kCalls)));
}

TEST(SessionThreads, RebindWhileCalling) {
  TempDir dir;
  std::vector<std::vector<float>> rows;
  std::vector<SafetensorsWriteItem> items;
  for (int e = 0; e < 4; ++e)
    rows.push_back({10.0f * e, 10.0f * e + 1, 10.0f * e + 2});
  for (int e = 0; e < 4; ++e)
    items.push_back({"experts." + std::to_string(e) + ".w",
                     DType::F32,
                     {3},
                     rows[e].data(),
                     12});
  std::string file = dir.file("w.safetensors");
  writeSafetensors(file, items);
  dsv3rt::Session s("host");
  dsv3rt::Module m(s, FAKE_STACKED_MODULE);
  m.bindParameters({file});
  std::atomic<bool> done{false};
  std::thread rebinder([&] {
    while (!done)
      m.bindParameters({file});
  });
  std::vector<int32_t> ids = {3, 1};
  for (int i = 0; i < 2000; ++i) {
    std::vector<dsv3rt::Tensor> in;
    in.emplace_back(DSV3_DTYPE_I32, std::vector<int64_t>{2}, ids.data());
    std::vector<float> got =
        values<float>(m.call(m.findEntry("gather_rows"), in).at(0));
    ASSERT_EQ(got, (std::vector<float>{30, 31, 32, 10, 11, 12}))
        << "call " << i;
  }
  done = true;
  rebinder.join();
}

// The host-memory fake driver (DSV3_LIBCUDA=fake_cuda_driver) exercises the
// device paths. ctest runs these in a process of their own (see
// CMakeLists.txt); elsewhere they skip.
class FakeCudaDriverTest : public ::testing::Test {
protected:
  void SetUp() override {
    const char *lib = std::getenv("DSV3_LIBCUDA");
    if (!lib || std::string(lib) != FAKE_CUDA_DRIVER)
      GTEST_SKIP() << "needs DSV3_LIBCUDA=" FAKE_CUDA_DRIVER;
    void *h = dlopen(FAKE_CUDA_DRIVER, RTLD_NOW | RTLD_LOCAL);
    ASSERT_TRUE(h);
    live = static_cast<int64_t *>(dlsym(h, "fake_cuda_live_allocations"));
    ASSERT_TRUE(live);
    allocCalls = static_cast<int64_t *>(dlsym(h, "fake_cuda_alloc_calls"));
    ASSERT_TRUE(allocCalls);
  }
  int64_t *live = nullptr, *allocCalls = nullptr;
};

TEST_F(FakeCudaDriverTest, StateOnDevice) {
  const int64_t before = *live;
  {
    dsv3rt::Session s("cuda");
    {
      dsv3rt::Module m(s, FAKE_CUDA_STATE_MODULE);
      EXPECT_EQ(*live, before) << "loading allocates nothing";
      size_t swap = m.findEntry("swap"), peek = m.findEntry("peek");
      // Zeroed on first use, although the driver's memory is not.
      EXPECT_EQ(values<float>(m.call(swap, list(f32({1, 2, 3, 4}))).at(0)),
                std::vector<float>(4, 0));
      EXPECT_EQ(values<float>(m.call(swap, list(f32({5, 6, 7, 8}))).at(0)),
                (std::vector<float>{1, 2, 3, 4}));
      EXPECT_EQ(values<float>(m.call(peek, {}).at(0)),
                (std::vector<float>{5, 6, 7, 8}));
      EXPECT_EQ(values<float>(s.readState("acc")),
                (std::vector<float>{5, 6, 7, 8}));
      s.writeState("acc", f32({9, 9, 9, 9}));
      EXPECT_EQ(values<float>(m.call(peek, {}).at(0)),
                std::vector<float>(4, 9));
      s.resetState();
      EXPECT_EQ(values<float>(m.call(peek, {}).at(0)),
                std::vector<float>(4, 0));
      s.writeState("acc", f32({1, 1, 1, 1}));
    }
    // The state stays on the device after the module is unloaded, and so do
    // the session's pooled blocks (swap's input and output; peek's output
    // reuses one of them).
    EXPECT_EQ(*live, before + 3);
    dsv3rt::Module again(s, FAKE_CUDA_STATE_MODULE);
    EXPECT_EQ(values<float>(again.call(again.findEntry("peek"), {}).at(0)),
              std::vector<float>(4, 1));
  }
  EXPECT_EQ(*live, before) << "session destroy frees the device state";
}

TEST_F(FakeCudaDriverTest, WriteBeforeFirstCallAndReadUnwritten) {
  dsv3rt::Session s("cuda");
  dsv3rt::Module m(s, FAKE_CUDA_STATE_MODULE);
  EXPECT_EQ(values<float>(s.readState("acc")), std::vector<float>(4, 0));
  s.writeState("acc", f32({4, 3, 2, 1}));
  EXPECT_EQ(values<float>(m.call(m.findEntry("peek"), {}).at(0)),
            (std::vector<float>{4, 3, 2, 1}));
}

// A stacked parameter whose experts do not lie back to back (here each
// followed by another tensor, as a name-sorted checkpoint interleaves an
// expert's weight and scale) is uploaded expert by expert into one device
// buffer: no expert is copied on the host, which the bind progress would
// report expert by expert.
TEST_F(FakeCudaDriverTest, StackedExpertsUploadedWhereTheyLie) {
  TempDir dir;
  std::string file = dir.file("experts.safetensors");
  std::vector<std::vector<float>> rows;
  std::vector<dsv3rt::impl::SafetensorsWriteItem> items;
  for (int e = 0; e < 4; ++e)
    rows.push_back({10.0f * e, 10.0f * e + 1, 10.0f * e + 2});
  for (int e = 0; e < 4; ++e) {
    items.push_back({"experts." + std::to_string(e) + ".w",
                     dsv3rt::impl::DType::F32,
                     {3},
                     rows[e].data(),
                     12});
    items.push_back({"experts." + std::to_string(e) + ".scale",
                     dsv3rt::impl::DType::F32,
                     {1},
                     rows[e].data(),
                     4});
  }
  dsv3rt::impl::writeSafetensors(file, items);
  dsv3rt::Session s("cuda");
  dsv3rt::Module m(s, FAKE_CUDA_STATE_MODULE);
  std::vector<uint64_t> bytesDone;
  m.setBindProgress(
      [](const dsv3rt_bind_progress *p, void *user) {
        if (p->parameters_total)
          static_cast<std::vector<uint64_t> *>(user)->push_back(
              p->parameter_bytes_done);
      },
      &bytesDone);
  m.bindParameters({file});
  EXPECT_EQ(bytesDone, (std::vector<uint64_t>{0, 48}))
      << "experts were copied on the host";
  std::vector<float> want;
  for (const std::vector<float> &r : rows)
    want.insert(want.end(), r.begin(), r.end());
  EXPECT_EQ(values<float>(m.call(m.findEntry("experts"), {}).at(0)), want);
}

// A call's work runs on the session's stream: the module's mgpuStreamCreate
// gets it (one cuStreamCreate for the session, not one per call), its
// mgpuStreamDestroy keeps it, and the session destroys it.
TEST_F(FakeCudaDriverTest, OneStreamPerSession) {
  void *h = dlopen(FAKE_CUDA_DRIVER, RTLD_NOW | RTLD_LOCAL);
  ASSERT_TRUE(h);
  auto *creates = static_cast<int64_t *>(dlsym(h, "fake_cuda_stream_creates"));
  auto *liveStreams =
      static_cast<int64_t *>(dlsym(h, "fake_cuda_live_streams"));
  ASSERT_TRUE(creates && liveStreams);
  const int64_t createdBefore = *creates, liveBefore = *liveStreams;
  {
    dsv3rt::Session s("cuda");
    dsv3rt::Module m(s, FAKE_CUDA_MODULE);
    for (int i = 0; i < 3; ++i)
      EXPECT_EQ(m.call(0, list(f32({1, 2, 3, 4}))).size(), 1u);
    EXPECT_EQ(*creates - createdBefore, 1) << "a stream per call";
    EXPECT_EQ(*liveStreams - liveBefore, 1);
  }
  EXPECT_EQ(*liveStreams, liveBefore) << "the session keeps its stream";
}

TEST_F(FakeCudaDriverTest, ModuleWithoutStateRuns) {
  const int64_t before = *live;
  {
    dsv3rt::Session s("cuda");
    dsv3rt::Module m(s, FAKE_CUDA_MODULE);
    EXPECT_EQ(m.call(0, list(f32({1, 2, 3, 4}))).size(), 1u);
  }
  EXPECT_EQ(*live, before);
}

// The kernel profile: off by default; when on, each launch of the session's
// calls is timed (the fake driver says 0.25 ms) and counted by kernel name;
// toggling clears it.
TEST_F(FakeCudaDriverTest, KernelProfile) {
  dsv3rt::Session s("cuda");
  dsv3rt::Module m(s, FAKE_CUDA_MODULE);
  m.call(0, list(f32({1, 2, 3, 4})));
  EXPECT_TRUE(s.kernelStats().empty()) << "off by default";
  s.setKernelProfiling(true);
  for (int i = 0; i < 3; ++i)
    m.call(0, list(f32({1, 2, 3, 4})));
  std::vector<dsv3rt::KernelStat> k = s.kernelStats();
  ASSERT_EQ(k.size(), 1u);
  EXPECT_EQ(k[0].name, "scale_kernel");
  EXPECT_EQ(k[0].launches, 3u);
  EXPECT_DOUBLE_EQ(k[0].totalMs, 0.75);
  // The module's cost of a launch, for dsv3-run's GB/s.
  std::vector<dsv3rt_kernel_cost> costs = m.kernelCosts();
  ASSERT_EQ(costs.size(), 1u);
  EXPECT_STREQ(costs[0].name, "scale_kernel");
  EXPECT_EQ(costs[0].bytes, 500000u);
  EXPECT_EQ(costs[0].flops, 250000000u);
  s.setKernelProfiling(false);
  EXPECT_TRUE(s.kernelStats().empty()) << "toggling clears it";
  m.call(0, list(f32({1, 2, 3, 4})));
  EXPECT_TRUE(s.kernelStats().empty()) << "off again";
}

// The session's device pool: the first call allocates its input, output and
// the module's intermediate (mgpuMemAlloc on the call's stream); later calls
// with the same shapes reuse those blocks and make no driver allocation. The
// blocks stay with the session until it ends.
TEST_F(FakeCudaDriverTest, SteadyStateCallsMakeNoDriverAllocation) {
  const int64_t live0 = *live;
  {
    dsv3rt::Session s("cuda");
    dsv3rt::Module m(s, FAKE_CUDA_MODULE);
    const int64_t calls0 = *allocCalls;
    ASSERT_EQ(m.call(0, list(f32({1, 2, 3, 4}))).size(), 1u);
    EXPECT_EQ(*allocCalls - calls0, 3) << "input, output, intermediate";
    for (int step = 0; step < 3; ++step)
      ASSERT_EQ(m.call(0, list(f32({5, 6, 7, 8}))).size(), 1u);
    EXPECT_EQ(*allocCalls - calls0, 3) << "later calls reuse the blocks";
    EXPECT_EQ(*live - live0, 3) << "the session keeps them";
  }
  EXPECT_EQ(*live, live0) << "the session's end frees them";
}

} // namespace
