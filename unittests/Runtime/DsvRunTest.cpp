// End-to-end tests of the dsv3-run binary on the fake modules: exit codes,
// messages, file round trips and the no-CUDA path under DSV3_LIBCUDA.
#include "Npy.h"
#include "Safetensors.h"
#include "TestUtil.h"

#include <cstdio>
#include <cstring>
#include <sys/stat.h>
#include <sys/wait.h>

using namespace dsv3test;
using namespace dsv3rt::impl;

namespace {

struct Result {
  int code;
  std::string output; // stdout and stderr together
};

class DsvRunTest : public ::testing::Test {
protected:
  void SetUp() override {
    float w[6] = {10, 20, 30, 40, 50, 60};
    weights = dir.file("w.safetensors");
    writeSafetensors(weights, {{"w", DType::F32, {2, 3}, w, sizeof w}});
  }

  // Runs dsv3-run with the arguments (each single-quoted for the shell).
  Result run(const std::vector<std::string> &args,
             const std::string &env = "") {
    std::string cmd = env + " '" DSV3_RUN "'";
    for (const std::string &a : args)
      cmd += " '" + a + "'";
    cmd += " 2>&1";
    FILE *p = popen(cmd.c_str(), "r");
    if (!p)
      return {-1, "popen failed"};
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
      out.append(buf, n);
    int status = pclose(p);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
  }

  Result runAdd(std::vector<std::string> extra) {
    std::vector<std::string> args = {FAKE_ADD_MODULE, "--function=add",
                                     "--parameters=" + weights};
    args.insert(args.end(), extra.begin(), extra.end());
    return run(args);
  }

  TempDir dir;
  std::string weights;
};

#define EXPECT_CONTAINS(haystack, needle)                                      \
  EXPECT_NE((haystack).find(needle), std::string::npos)                        \
      << "output:\n"                                                           \
      << (haystack) << "\nlacks: " << (needle)

TEST_F(DsvRunTest, Help) {
  Result r = run({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_CONTAINS(r.output, "--expected-output");
}

TEST_F(DsvRunTest, List) {
  Result r = run({FAKE_ADD_MODULE, "--list"});
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "entry add");
  EXPECT_CONTAINS(r.output, "parameter w: f32[2,3]");
  EXPECT_CONTAINS(r.output, "output    s: f32[]");
}

TEST_F(DsvRunTest, PrintsSummary) {
  Result r = runAdd({"--input=2x3xf32=1 2 3 4 5 6"});
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_CONTAINS(r.output,
                  "output 0 (y): f32[2,3] = [11, 22, 33, 44, 55, 66]");
}

TEST_F(DsvRunTest, ExpectedOutputMatches) {
  Result r = runAdd({"--input=2x3xf32=1,2,3,4,5,6",
                     "--expected-output=2x3xf32=11 22 33 44 55 66",
                     "--expected-rtol=0"});
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "[SUCCESS] all 1 outputs match");
}

TEST_F(DsvRunTest, ExpectedOutputDiffers) {
  Result r = runAdd({"--input=2x3xf32=1", "--expected-output=2x3xf32=11 21 "
                                          "31 41 51 61.5"});
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_CONTAINS(r.output, "[FAILED] output 0: 1 of 6 elements differ; worst "
                            "at [1, 2]: got 61 expected 61.5 (abs 0.5, rel "
                            "0.00813)");
}

TEST_F(DsvRunTest, ToleranceAndSplat) {
  Result r = runAdd({"--input=2x3xf32=0",
                     "--expected-output=2x3xf32=10.5 20 "
                     "30 40 50 60",
                     "--expected-atol=0.5"});
  EXPECT_EQ(r.code, 0) << r.output;
  r = runAdd({"--input=2x3xf32=0",
              "--expected-output=2x3xf32=10.5 20 30 40 "
              "50 60",
              "--expected-atol=0.4"});
  EXPECT_EQ(r.code, 1) << r.output;
}

TEST_F(DsvRunTest, NpyAndSafetensorsFiles) {
  float x[6] = {1, 2, 3, 4, 5, 6};
  std::string xin = dir.file("x.npy");
  writeNpy(xin, DType::F32, {2, 3}, x, sizeof x);
  std::string yout = dir.file("y.npy"), ysafe = dir.file("y.safetensors");
  Result r = runAdd({"--input=@" + xin, "--output=@" + yout});
  ASSERT_EQ(r.code, 0) << r.output;
  HostTensor y = readNpy(yout);
  EXPECT_EQ(reinterpret_cast<float *>(y.data())[5], 66.0f);
  // Reference from the file just written, and f64 references are fine.
  double ref[6] = {11, 22, 33, 44, 55, 66};
  std::string ref64 = dir.file("ref.npy");
  writeNpy(ref64, DType::F64, {2, 3}, ref, sizeof ref);
  r = runAdd({"--input=@" + weights + ":w", "--output=@" + ysafe + ":out",
              "--expected-output=@" + ref64});
  EXPECT_EQ(r.code, 1) << r.output; // w + w != ref
  r = runAdd({"--input=@" + xin, "--output=@" + ysafe + ":out",
              "--expected-output=@" + ref64});
  EXPECT_EQ(r.code, 0) << r.output;
  SafetensorsFile f(ysafe);
  ASSERT_TRUE(f.find("out"));
  r = runAdd({"--input=@" + xin, "--expected-output=@" + ysafe + ":out"});
  EXPECT_EQ(r.code, 0) << r.output;
}

// bf16 outputs go to .npy as np.save writes ml_dtypes bfloat16 arrays (descr
// '<V2'), and such a file feeds a bf16 input or reference back.
TEST_F(DsvRunTest, Bf16NpyOutputsAndInputs) {
  std::string b = dir.file("b.npy");
  Result r = run({FAKE_ADD_MODULE, "--function=neg_bf16",
                  "--input=4xbf16=1.5 -2 0.25 nan", "--output=@" + b});
  ASSERT_EQ(r.code, 0) << r.output;
  HostTensor h = readNpy(b, DType::BF16);
  const uint16_t negated[4] = {0xbfc0, 0x4000, 0xbe80, 0xffc0};
  ASSERT_EQ(h.byteSize(), sizeof negated);
  EXPECT_EQ(std::memcmp(h.data(), negated, sizeof negated), 0);
  r = run({FAKE_ADD_MODULE, "--function=neg_bf16", "--input=@" + b,
           "--expected-output=4xbf16=1.5 -2 0.25 nan", "--expected-rtol=0"});
  EXPECT_EQ(r.code, 0) << r.output;
  r = run({FAKE_ADD_MODULE, "--function=neg_bf16", "--input=4xbf16=1.5 -2 0 0",
           "--expected-output=@" + b, "--expected-rtol=0"});
  EXPECT_EQ(r.code, 1) << r.output; // 0 is not -0.25 nor NaN
  EXPECT_CONTAINS(r.output, "2 of 4 elements differ");
  std::string b2 = dir.file("b.safetensors");
  r = run({FAKE_ADD_MODULE, "--function=neg_bf16", "--input=4xbf16=1.5",
           "--output=@" + b2, "--expected-output=4xf32=-1.5",
           "--expected-rtol=0"});
  EXPECT_EQ(r.code, 0) << r.output;
  SafetensorsFile f(b2);
  ASSERT_TRUE(f.find("b"));
  EXPECT_EQ(f.find("b")->dtype, DType::BF16);
}

// A void .npy ('<V2') says only its element size: it feeds an argument whose
// dtype has that size and no numpy dtype, and is refused elsewhere.
TEST_F(DsvRunTest, VoidNpyNeedsAMatchingArgument) {
  const uint16_t v[6] = {0x3f80, 0x4000, 0x4040, 0x4080, 0x40a0, 0x40c0};
  std::string b = dir.file("x.npy");
  writeNpy(b, DType::BF16, {2, 3}, v, sizeof v);
  Result r = runAdd({"--input=@" + b});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_CONTAINS(r.output, b + ": npy dtype '<V2' (raw 2-byte elements) "
                                "cannot be read as f32 (4-byte elements)");
  r = runAdd({"--input=@" + b, "--allow-narrowing"});
  EXPECT_EQ(r.code, 2) << r.output; // the bytes' type is still unknown
  EXPECT_CONTAINS(r.output, "cannot be read as f32");
}

// An f32 or f64 array for a bf16 input is refused, with the flag that rounds
// it to nearest even. The values are ties (1 + 2^-8 -> 1, 1 + 3 * 2^-8 ->
// 1 + 2^-6), NaN, an overflow (f32 max -> inf) and, in f64, 1 + 2^-8 + 2^-30,
// which is rounded once (-> 1 + 2^-7; through f32 it would become 1).
TEST_F(DsvRunTest, AllowNarrowingRoundsFloatsToBf16) {
  const float x[4] = {1 + 0x1p-8f, 1 + 3 * 0x1p-8f, NAN, 3.4028235e38f};
  std::string x32 = dir.file("x32.npy"), x64 = dir.file("x64.npy");
  writeNpy(x32, DType::F32, {4}, x, sizeof x);
  const double y[4] = {1 + 0x1p-8 + 0x1p-30, -0.5, 0, 1e300};
  writeNpy(x64, DType::F64, {4}, y, sizeof y);
  Result r = run({FAKE_ADD_MODULE, "--function=neg_bf16", "--input=@" + x32});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_CONTAINS(r.output, "input 0 (\"a\") from @" + x32 +
                                ": expected bf16[4], got f32[4]; pass "
                                "--allow-narrowing to round f32 to bf16 (to "
                                "nearest even), or give bf16 data");
  r = run({FAKE_ADD_MODULE, "--function=neg_bf16", "--input=@" + x64});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_CONTAINS(r.output, "or as inputs with --allow-narrowing");
  r = run({FAKE_ADD_MODULE, "--function=neg_bf16", "--input=4xf32=1"});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_CONTAINS(r.output, "pass --allow-narrowing to round f32 to bf16");

  r = run({FAKE_ADD_MODULE, "--function=neg_bf16", "--input=@" + x32,
           "--allow-narrowing", "--expected-output=4xf32=-1 -1.015625 nan -inf",
           "--expected-rtol=0"});
  EXPECT_EQ(r.code, 0) << r.output;
  r = run({FAKE_ADD_MODULE, "--function=neg_bf16", "--input=@" + x64,
           "--allow-narrowing", "--expected-output=4xf32=-1.0078125 0.5 0 -inf",
           "--expected-rtol=0"});
  EXPECT_EQ(r.code, 0) << r.output;
  r = run({FAKE_ADD_MODULE, "--function=neg_bf16", "--input=4xf64=1.5",
           "--allow-narrowing", "--expected-output=4xbf16=-1.5",
           "--expected-rtol=0"});
  EXPECT_EQ(r.code, 0) << r.output;
  // Not a float conversion, or another shape: refused without a hint.
  r = run({FAKE_ADD_MODULE, "--function=neg_bf16", "--input=4xi32=1",
           "--allow-narrowing"});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_CONTAINS(r.output, "expected bf16[4], got i32[4]\n");
  r = runAdd({"--input=@" + x32, "--allow-narrowing"});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_CONTAINS(r.output, "expected f32[2,3], got f32[4]\n");
  // States too: an f64 array for an f32 state.
  const double kv[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  std::string kv64 = dir.file("kv64.npy");
  writeNpy(kv64, DType::F64, {8}, kv, sizeof kv);
  r = run({FAKE_STATE_MODULE, "--function=bump", "--state=kv=@" + kv64,
           "--allow-narrowing", "--state-output=kv=-"});
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "state kv: f32[8] = [2, 3, 4, 5, 6, 7, 8, 9]");
  r = run({FAKE_ADD_MODULE, "--allow-narrowing=yes"});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_CONTAINS(r.output, "--allow-narrowing takes no value");
  r = run({"--help"});
  EXPECT_CONTAINS(r.output, "--allow-narrowing");
}

TEST_F(DsvRunTest, RankZeroAndBenchmark) {
  Result r = run({FAKE_ADD_MODULE, "--function=sum", "--input=2x3xf32=1",
                  "--expected-output=f32=6", "--benchmark=3"});
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_CONTAINS(r.output,
                  "benchmark sum: 3 timed call(s) after 1 warm-up call\n"
                  "  per call: median ");
  EXPECT_CONTAINS(r.output, " ms, min ");
  EXPECT_CONTAINS(r.output, " ms, max ");
  EXPECT_CONTAINS(r.output, " ms, mean ");
  EXPECT_CONTAINS(r.output, "[SUCCESS]");
}

TEST_F(DsvRunTest, UsageErrors) {
  Result r = run({});
  EXPECT_EQ(r.code, 2);
  EXPECT_CONTAINS(r.output, "no module given");
  r = run({FAKE_ADD_MODULE, "--frobnicate=1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_CONTAINS(r.output, "unknown flag --frobnicate");
  r = run({FAKE_ADD_MODULE, "--function"});
  EXPECT_EQ(r.code, 2);
  EXPECT_CONTAINS(r.output, "--function needs a value");
  for (const char *bad : {"--threads=0", "--threads=1025", "--threads=two"}) {
    r = run({FAKE_ADD_MODULE, bad});
    EXPECT_EQ(r.code, 2) << bad;
    EXPECT_CONTAINS(r.output, "expected a count from 1 to 1024");
  }
  r = run({FAKE_ADD_MODULE});
  EXPECT_EQ(r.code, 2);
  EXPECT_CONTAINS(r.output, "has 3 entries; choose one with --function");
  r = runAdd({});
  EXPECT_EQ(r.code, 2);
  EXPECT_CONTAINS(r.output, "takes 1 input(s) (x: f32[2,3]), got 0 --input");
  r = runAdd({"--input=2x3xf32=1 2"});
  EXPECT_EQ(r.code, 2);
  EXPECT_CONTAINS(r.output, "2 values for f32[2,3]");
  r = runAdd({"--input=3x2xf32=1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_CONTAINS(r.output, "expected f32[2,3], got f32[3,2]");
  r = runAdd({"--input=2x3xf32=1", "--expected-rtol=-1"});
  EXPECT_EQ(r.code, 2);
  r = runAdd({"--input=2x3xq7=1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_CONTAINS(r.output, "unknown dtype \"q7\"");
  r = run({FAKE_ADD_MODULE, "--function=add", "--input=2x3xf32=1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_CONTAINS(r.output, "missing parameter \"w\" (searched: no files)");
  EXPECT_CONTAINS(r.output,
                  "; give the checkpoint with --parameters=MODEL_DIR");
}

TEST_F(DsvRunTest, ParametersFromDirectoryOrIndex) {
  // A directory without an index: its *.safetensors (here w.safetensors).
  std::string d = dir.file("");
  Result r = run({FAKE_ADD_MODULE, "--function=add", "--parameters=" + d,
                  "--input=2x3xf32=1", "--report-memory"});
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_CONTAINS(r.output,
                  "output 0 (y): f32[2,3] = [11, 21, 31, 41, 51, 61]");
  EXPECT_CONTAINS(r.output, "bound 1 parameters from 1 files in ");
  EXPECT_CONTAINS(r.output, " MiB");
  // A shard index, given directly or found in the directory.
  std::string index =
      writeBytes(dir.file("model.safetensors.index.json"),
                 R"({"metadata": {}, "weight_map": {"w": "w.safetensors"}})");
  for (const std::string &p : {index, d}) {
    r = run({FAKE_ADD_MODULE, "--function=add", "--parameters=" + p,
             "--input=2x3xf32=1"});
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_CONTAINS(r.output, "[11, 21, 31, 41, 51, 61]");
    EXPECT_EQ(r.output.find("resident memory"), std::string::npos)
        << "reported without --report-memory";
  }
  writeBytes(index, R"({"weight_map": {"w": "model-00001.safetensors"}})");
  r = run({FAKE_ADD_MODULE, "--function=add", "--parameters=" + d,
           "--input=2x3xf32=1"});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_CONTAINS(r.output,
                  index + ": weight_map[\"w\"] names shard "
                          "\"model-00001.safetensors\", which does not exist");
  r = run({"--help"});
  EXPECT_CONTAINS(r.output, "--report-memory");
  EXPECT_CONTAINS(r.output, "model.safetensors.index.json");
}

TEST_F(DsvRunTest, BindProgress) {
  // A quick bind reports its totals when asked (--progress or
  // DSV3_PROGRESS=1); unasked with stderr not a terminal, nothing.
  Result r = runAdd({"--input=2x3xf32=1", "--progress"});
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "dsv3-run: bind: done: 1 files mapped (");
  EXPECT_CONTAINS(r.output, "); 1/1 parameters bound (24/24 B) in ");
  r = run({FAKE_ADD_MODULE, "--function=add", "--parameters=" + weights,
           "--input=2x3xf32=1"},
          "DSV3_PROGRESS=1");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "dsv3-run: bind: done: ");
  r = runAdd({"--input=2x3xf32=1"});
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output.find("bind:"), std::string::npos) << r.output;
  r = run({"--help"});
  EXPECT_CONTAINS(r.output, "--progress");
}

TEST_F(DsvRunTest, BadInputFileIsNamed) {
  std::string bad = writeBytes(dir.file("bad.npy"), "\x93NUMPY\x01");
  Result r = runAdd({"--input=@" + bad});
  EXPECT_EQ(r.code, 2);
  EXPECT_CONTAINS(r.output, bad);
  double x[6] = {0};
  std::string f64 = dir.file("x64.npy");
  writeNpy(f64, DType::F64, {2, 3}, x, sizeof x);
  r = runAdd({"--input=@" + f64});
  EXPECT_EQ(r.code, 2);
  EXPECT_CONTAINS(r.output, "float64 (<f8) arrays are only accepted");
}

TEST_F(DsvRunTest, NoCudaDeviceWithMissingDriver) {
  Result r = run({FAKE_CUDA_MODULE, "--device=cuda", "--input=4xf32=1"},
                 "DSV3_LIBCUDA=/nonexistent/libcuda.so.1");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_CONTAINS(r.output,
                  "no CUDA device: cannot load /nonexistent/libcuda.so.1");
}

TEST_F(DsvRunTest, NoCudaDeviceWithStubDriver) {
#ifndef CUDA_STUB_LIBRARY
  GTEST_SKIP() << "no CUDA stub library";
#else
  Result r = run({FAKE_CUDA_MODULE, "--device=cuda", "--input=4xf32=1"},
                 "DSV3_LIBCUDA=" CUDA_STUB_LIBRARY);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_CONTAINS(r.output, "no CUDA device: cuInit failed: ");
  EXPECT_CONTAINS(r.output, "34");
#endif
}

TEST_F(DsvRunTest, ListStateStackedBounds) {
  Result r = run({FAKE_STATE_MODULE, "--list"});
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "entry append\n  input     pos: i32[1] in [0, 7] "
                            "(append writes 1 row(s) per call into a cache of "
                            "max_seq_len 8)\n  state     kv: f32[8]\n");
  EXPECT_CONTAINS(r.output, "  state     count: i64[]\n");
  r = run({FAKE_STACKED_MODULE, "--list"});
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_CONTAINS(r.output,
                  "  parameter experts.{e}.w: f32[4,3] (stacked: 4 experts)");
}

TEST_F(DsvRunTest, StateCarriedBetweenProcesses) {
  std::string kv = dir.file("kv.safetensors"), kv2 = dir.file("kv2.npy");
  Result r = run({FAKE_STATE_MODULE, "--function=append", "--input=1xi32=2",
                  "--input=1xf32=5", "--state-output=kv=@" + kv});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "output 0 (total): f32[] = [5]");
  SafetensorsFile f(kv);
  ASSERT_TRUE(f.find("kv")) << "the tensor is named after the state";
  // A fresh process starts from zero unless given the state.
  r = run({FAKE_STATE_MODULE, "--function=append", "--input=1xi32=3",
           "--input=1xf32=1", "--state=kv=@" + kv, "--state-output=kv=@" + kv2,
           "--state-output=count=-"});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "output 0 (total): f32[] = [6]");
  EXPECT_CONTAINS(r.output, "state count: i64[] = [0]");
  HostTensor h = readNpy(kv2);
  const float *v = reinterpret_cast<const float *>(h.data());
  EXPECT_EQ(v[2], 5);
  EXPECT_EQ(v[3], 1);
  // Literal specs, and state outputs are taken after the first call only.
  r = run({FAKE_STATE_MODULE, "--function=bump", "--state=count=i64=41",
           "--state=kv=8xf32=1", "--state-output=count=-",
           "--state-output=kv=-", "--benchmark=3"});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "output 1 (calls): i64[] = [42]");
  EXPECT_CONTAINS(r.output, "state count: i64[] = [42]");
  EXPECT_CONTAINS(r.output, "state kv: f32[8] = [2, 2, 2, 2, 2, 2, 2, 2]");
}

// --output=none skips an output: only the others are printed or written.
TEST_F(DsvRunTest, SkippedOutput) {
  Result r = run(
      {FAKE_STATE_MODULE, "--function=bump", "--output=none", "--output=-"});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output.find("output 0"), std::string::npos) << r.output;
  EXPECT_CONTAINS(r.output, "output 1 (calls): i64[] = [1]");
}

TEST_F(DsvRunTest, StateErrors) {
  Result r = run({FAKE_STATE_MODULE, "--function=bump", "--state=kv"});
  EXPECT_EQ(r.code, 2);
  EXPECT_CONTAINS(r.output, "--state=kv: expected --state=NAME=SPEC");
  r = run({FAKE_STATE_MODULE, "--function=bump", "--state-output=kv="});
  EXPECT_EQ(r.code, 2);
  EXPECT_CONTAINS(r.output, "expected --state-output=NAME=@file");
  r = run({FAKE_STATE_MODULE, "--function=bump", "--state=cache=8xf32=1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_CONTAINS(r.output, "--state=cache=8xf32=1: the module declares no "
                            "state \"cache\" (states: kv, count)");
  r = run({FAKE_STATE_MODULE, "--function=bump", "--state=kv=4xf32=1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_CONTAINS(r.output,
                  "state \"kv\" from 4xf32=1: expected f32[8], got f32[4]");
  r = run({FAKE_ADD_MODULE, "--function=neg_bf16", "--input=4xbf16=1",
           "--state-output=kv=-"});
  EXPECT_EQ(r.code, 2);
  EXPECT_CONTAINS(r.output, "(states: none)");
}

TEST_F(DsvRunTest, BoundsRefusal) {
  Result r = run({FAKE_STATE_MODULE, "--function=append", "--input=1xi32=8",
                  "--input=1xf32=5"});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_CONTAINS(r.output,
                  "dsv3-run: error: entry \"append\": input \"pos\" element "
                  "[0] = 8 is outside [0, 7] (append writes 1 row(s) per call "
                  "into a cache of max_seq_len 8); the call was refused and "
                  "nothing was written");
}

TEST_F(DsvRunTest, CudaStateUnderFakeDriver) {
  const std::string env = "DSV3_LIBCUDA=" FAKE_CUDA_DRIVER;
  std::string acc = dir.file("acc.npy");
  Result r = run({FAKE_CUDA_STATE_MODULE, "--device=cuda", "--function=swap",
                  "--input=4xf32=1 2 3 4", "--expected-output=4xf32=0",
                  "--state-output=acc=@" + acc},
                 env);
  ASSERT_EQ(r.code, 0) << r.output;
  r = run({FAKE_CUDA_STATE_MODULE, "--device=cuda", "--function=peek",
           "--state=acc=@" + acc, "--expected-output=4xf32=1 2 3 4"},
          env);
  EXPECT_EQ(r.code, 0) << r.output;
  r = run({FAKE_CUDA_STATE_MODULE, "--device=cuda", "--function=peek",
           "--state=acc=@" + acc},
          "DSV3_LIBCUDA=/nonexistent/libcuda.so.1");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_CONTAINS(r.output, "no CUDA device: cannot load /nonexistent");
}

// --benchmark on cuda times each kernel with CUDA events (the fake driver
// reports 0.25 ms per launch) and lists them by name, with the rates its
// cost in the metadata gives (500 kB and 0.25 GFLOP per launch: 2 GB/s,
// 1 TFLOP/s).
TEST_F(DsvRunTest, CudaBenchmarkProfilesKernels) {
  Result r = run(
      {FAKE_CUDA_MODULE, "--device=cuda", "--input=4xf32=1", "--benchmark=4"},
      "DSV3_LIBCUDA=" FAKE_CUDA_DRIVER);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "benchmark scale: 4 timed call(s)");
  EXPECT_CONTAINS(r.output, "kernels per call: 1.0 launches of 1 kernels, "
                            "0.250 ms of device time (CUDA events)");
  EXPECT_CONTAINS(r.output, "scale_kernel");
  EXPECT_CONTAINS(r.output, "GB/s   TFLOP/s");
  EXPECT_CONTAINS(r.output, "1.0       0.2500  100.0%         2         1");
}

TEST_F(DsvRunTest, CudaModuleListsWithoutDevice) {
  Result r = run({FAKE_CUDA_MODULE, "--device=cuda", "--list"},
                 "DSV3_LIBCUDA=/nonexistent");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "entry scale");
}

// Issue 13: bad input gets a clear error and exit status 2, never a hang, a
// crash or a silently wrong value.

// Opening a FIFO for reading blocks until a writer comes: a FIFO given as a
// file must be refused, not waited on (timeout stops a hang at 124).
TEST_F(DsvRunTest, FifoIsRefusedNotWaitedOn) {
  std::string fifoNpy = dir.file("x.npy"), fifoSt = dir.file("p.safetensors"),
              fifoIndex = dir.file("model.safetensors.index.json");
  for (const std::string &f : {fifoNpy, fifoSt, fifoIndex})
    ASSERT_EQ(mkfifo(f.c_str(), 0600), 0) << f;
  Result r = run({FAKE_ADD_MODULE, "--function=add", "--parameters=" + weights,
                  "--input=@" + fifoNpy},
                 "timeout 20");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_CONTAINS(r.output, fifoNpy + ": not a regular file (a FIFO)");
  for (const std::string &p : {fifoSt, fifoIndex}) {
    r = run({FAKE_ADD_MODULE, "--function=add", "--parameters=" + p,
             "--input=2x3xf32=1"},
            "timeout 20");
    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_CONTAINS(r.output, p + ": not a regular file (a FIFO)");
  }
  r = run({FAKE_ADD_MODULE, "--function=add", "--parameters=" + weights,
           "--input=@" + weights + ":w", "--expected-output=@" + fifoNpy},
          "timeout 20");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_CONTAINS(r.output, "not a regular file (a FIFO)");
}

// A literal's declared shape is compared with the input's before anything
// is allocated: 2^40 bytes here, which would throw std::bad_alloc (or take
// the machine's memory).
TEST_F(DsvRunTest, LiteralShapeCheckedBeforeAllocation) {
  Result r = runAdd({"--input=65536x4194304xf32=0"});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_CONTAINS(r.output, "input 0 (\"x\") from 65536x4194304xf32=0: "
                            "expected f32[2,3], got f32[65536,4194304]");
  r = run(
      {FAKE_STATE_MODULE, "--function=bump", "--state=kv=65536x4194304xf32=0"});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_CONTAINS(r.output, "expected f32[8], got f32[65536,4194304]");
  r = runAdd({"--input=2x3xf32=1", "--expected-output=65536x4194304xf32=0"});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_CONTAINS(r.output, "output 0 (\"y\") is f32[2,3], the literal "
                            "declares shape [65536,4194304]");
  // Without an expected shape the value count bounds it, before allocating.
  r = runAdd(
      {"--input=2x3xf32=1", "--expected-output=65536x4194304xf32=1 2 3"});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_CONTAINS(r.output, "the literal declares shape");
}

TEST_F(DsvRunTest, OutOfRangeLiteralIsRefused) {
  Result r = runAdd({"--input=2x3xf32=1 2 3 4 5 1e999"});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_CONTAINS(r.output, "value \"1e999\" is out of range (overflows a "
                            "float64)");
  r = runAdd({"--input=2x3xf32=-1e-999"});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_CONTAINS(r.output, "value \"-1e-999\" is out of range (underflows");
  // Finite as a double, but not as the dtype.
  r = runAdd({"--input=2x3xf32=1e39"});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_CONTAINS(r.output, "value \"1e39\" is out of range for f32");
  r = run({FAKE_ADD_MODULE, "--function=neg_bf16", "--input=4xbf16=1e39"});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_CONTAINS(r.output, "value \"1e39\" is out of range for bf16");
  // inf and nan spelled out are still values.
  r = run({FAKE_ADD_MODULE, "--function=neg_bf16", "--input=4xbf16=inf"});
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "bf16[4] = [-inf, -inf, -inf, -inf]");
}

TEST_F(DsvRunTest, EmptyFunctionIsRefused) {
  Result r = run({FAKE_ADD_MODULE, "--function=", "--input=2x3xf32=1"});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_CONTAINS(r.output, "--function= needs an entry name");
}

TEST_F(DsvRunTest, MissingTensorListsTheFile) {
  std::vector<float> v(25 * 6, 1.0f);
  std::vector<SafetensorsWriteItem> items;
  std::vector<std::string> names;
  for (int i = 0; i < 25; ++i)
    names.push_back("t" + std::to_string(i));
  for (int i = 0; i < 25; ++i)
    items.push_back({names[i], DType::F32, {2, 3}, v.data() + 6 * i, 24});
  std::string many = dir.file("many.safetensors");
  writeSafetensors(many, items);
  Result r = runAdd({"--input=@" + many + ":nope"});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_CONTAINS(r.output, many + ": no tensor named \"nope\" (tensors: t0, "
                                   "t1, t2, t3, t4, t5, t6, t7, t8, t9, t10, "
                                   "t11, t12, t13, t14, t15, t16, t17, t18, "
                                   "t19, ... and 5 more)");
  r = runAdd({"--input=@" + weights + ":nope"});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_CONTAINS(r.output, "no tensor named \"nope\" (tensors: w)");
  r = runAdd({"--input=@" + many});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_CONTAINS(r.output, "none is named \"x\"; pick one with @" + many +
                                ":NAME (tensors: t0, t1, ");
}

TEST_F(DsvRunTest, ModuleForTheOtherDeviceSuggestsTheFlag) {
  Result r = run({FAKE_CUDA_MODULE, "--list"});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_CONTAINS(r.output,
                  "module targets \"cuda\" but the session device "
                  "is \"host\"; load it into a \"cuda\" session (dsv3-run "
                  "--device=cuda)");
  r = run({FAKE_ADD_MODULE, "--device=cuda", "--list"},
          "DSV3_LIBCUDA=/nonexistent/libcuda.so.1");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_CONTAINS(r.output,
                  "; load it into a \"host\" session (dsv3-run --device=host)");
}

// Default tolerances suit each output's dtype: a correctly rounded bf16
// result passes without --expected-rtol; an explicit one still applies.
TEST_F(DsvRunTest, DefaultToleranceFollowsDtype) {
  // bf16(1.1) = 1.1015625: relative error 1.4e-3 against -1.1.
  Result r = run({FAKE_ADD_MODULE, "--function=neg_bf16", "--input=4xbf16=1.1",
                  "--expected-output=4xf32=-1.1"});
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "[SUCCESS]");
  r = run({FAKE_ADD_MODULE, "--function=neg_bf16", "--input=4xbf16=1.1",
           "--expected-output=4xf32=-1.1", "--expected-rtol=1e-5"});
  EXPECT_EQ(r.code, 1) << r.output;
  // Past 2^-7 relative it fails under the default as well.
  r = run({FAKE_ADD_MODULE, "--function=neg_bf16", "--input=4xbf16=1.1",
           "--expected-output=4xf32=-1.12"});
  EXPECT_EQ(r.code, 1) << r.output;
  // f32 keeps 1e-5.
  r = runAdd(
      {"--input=2x3xf32=0", "--expected-output=2x3xf32=10.001 20 30 40 50 60"});
  EXPECT_EQ(r.code, 1) << r.output;
  // Integers compare exactly.
  r = run({FAKE_STATE_MODULE, "--function=bump", "--state=count=i64=41",
           "--expected-output=8xf32=1", "--expected-output=f64=42.0001"});
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_CONTAINS(r.output, "[FAILED] output 1: 1 of 1 elements differ");
  r = run({"--help"});
  EXPECT_CONTAINS(r.output, "bf16 2^-7");
  EXPECT_CONTAINS(r.output, "f8e4m3fn 2^-4");
}

} // namespace
