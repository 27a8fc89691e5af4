// Binding from Hugging Face checkpoints: shard indexes
// (model.safetensors.index.json) and checkpoint directories, through the C++
// wrapper on fake_stacked_module and fake_add_module, plus the Checkpoint
// reader's faults and its cost at DeepSeek-V3 scale (~91k indexed tensors).
#include "dsv3/Runtime/dsv3rt.hpp"

#include "Checkpoint.h"
#include "Safetensors.h"
#include "TestUtil.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>

using namespace dsv3test;
using dsv3rt::impl::Checkpoint;
using dsv3rt::impl::DType;
using dsv3rt::impl::SafetensorsFile;
using dsv3rt::impl::SafetensorsWriteItem;
using dsv3rt::impl::writeSafetensors;

namespace {

template <typename T> std::vector<T> values(const dsv3rt::Tensor &t) {
  std::vector<T> v(t.byteSize() / sizeof(T));
  if (!v.empty())
    std::memcpy(v.data(), t.data(), t.byteSize());
  return v;
}

std::vector<dsv3rt::Tensor> ids(std::vector<int32_t> v) {
  std::vector<dsv3rt::Tensor> in;
  in.emplace_back(DSV3_DTYPE_I32,
                  std::vector<int64_t>{static_cast<int64_t>(v.size())},
                  v.data());
  return in;
}

class CheckpointTest : public ::testing::Test {
protected:
  // Expert e's row of fake_stacked_module's "experts.{e}.w" is
  // {10e, 10e+1, 10e+2}.
  static std::vector<float> row(int e) {
    return {10.0f * e, 10.0f * e + 1, 10.0f * e + 2};
  }
  // A safetensors file in `dir` with the experts' rows, in the given order,
  // and any extra f32[3] tensors.
  std::string shard(const std::string &name, std::vector<int> experts,
                    std::vector<std::string> extra = {}) {
    std::vector<SafetensorsWriteItem> items;
    for (int e : experts)
      items.push_back({"experts." + std::to_string(e) + ".w",
                       DType::F32,
                       {3},
                       rows.at(e).data(),
                       12});
    for (const std::string &n : extra)
      items.push_back({n, DType::F32, {3}, rows[0].data(), 12});
    std::string path = dir.file(name);
    writeSafetensors(path, items);
    return path;
  }
  // A Hugging Face style index: {"metadata": {...}, "weight_map": {...}}.
  std::string
  index(const std::vector<std::pair<std::string, std::string>> &weightMap,
        const std::string &name = "model.safetensors.index.json") {
    nlohmann::ordered_json map = nlohmann::ordered_json::object();
    for (const auto &[tensor, file] : weightMap)
      map[tensor] = file;
    nlohmann::ordered_json j = {{"metadata", {{"total_size", 48}}},
                                {"weight_map", map}};
    return writeBytes(dir.file(name), j.dump(2));
  }
  // The usual two-shard layout: experts 0, 1 in the first, 2, 3 in the
  // second, as the index says.
  std::string twoShards() {
    shard(kShard1, {0, 1});
    shard(kShard2, {2, 3});
    return index({{"experts.0.w", kShard1},
                  {"experts.1.w", kShard1},
                  {"experts.2.w", kShard2},
                  {"experts.3.w", kShard2}});
  }
  // Binds every entry from `paths`, runs gather_rows on ids {3, 1} and
  // single; returns the weights' address gather_rows saw.
  uint64_t run(const std::vector<std::string> &paths) { return run(paths, m); }
  uint64_t run(const std::vector<std::string> &paths, dsv3rt::Module &m) {
    m.bindParameters(paths);
    std::vector<dsv3rt::Tensor> out =
        m.call(m.findEntry("gather_rows"), ids({3, 1}));
    std::vector<float> want = row(3), r1 = row(1);
    want.insert(want.end(), r1.begin(), r1.end());
    EXPECT_EQ(values<float>(out.at(0)), want);
    EXPECT_EQ(values<float>(m.call(m.findEntry("single"), {}).at(0)), row(1));
    return static_cast<uint64_t>(values<int64_t>(out.at(1)).at(0));
  }
  // Binding must fail naming every needle.
  void expectBindError(const std::vector<std::string> &paths,
                       std::initializer_list<std::string> needles) {
    expectThrowContaining([&] { m.bindParameters(paths); }, needles);
  }

  static constexpr const char *kShard1 = "model-00001-of-00002.safetensors";
  static constexpr const char *kShard2 = "model-00002-of-00002.safetensors";
  TempDir dir;
  std::vector<std::vector<float>> rows = {row(0), row(1), row(2), row(3)};
  dsv3rt::Session s{"host"};
  dsv3rt::Module m{s, FAKE_STACKED_MODULE};
};

TEST_F(CheckpointTest, BindReportsProgress) {
  std::string idx = twoShards();
  const uint64_t shardBytes = std::filesystem::file_size(dir.file(kShard1)),
                 bothShards =
                     shardBytes + std::filesystem::file_size(dir.file(kShard2));
  std::vector<dsv3rt_bind_progress> seen;
  auto record = [](const dsv3rt_bind_progress *p, void *user) {
    static_cast<std::vector<dsv3rt_bind_progress> *>(user)->push_back(*p);
  };
  m.setBindProgress(record, &seen);
  run({idx});
  ASSERT_GE(seen.size(), 5u);
  // The index names both shards before either is mapped.
  EXPECT_EQ(seen[0].files_done, 0u);
  EXPECT_EQ(seen[0].files_total, 2u);
  EXPECT_EQ(seen[0].file_bytes_total, bothShards);
  EXPECT_EQ(seen[1].files_done, 1u);
  EXPECT_EQ(seen[1].file_bytes_done, shardBytes);
  EXPECT_EQ(seen[1].parameters_total, 0u) << "still mapping files";
  // Then the parameters: experts.{e}.w f32[4,3] (gathered across the shards,
  // 12 bytes per expert) and experts.1.w f32[3] of entry single.
  const dsv3rt_bind_progress &last = seen.back();
  EXPECT_EQ(last.files_done, 2u);
  EXPECT_EQ(last.file_bytes_done, bothShards);
  EXPECT_EQ(last.parameters_done, 2u);
  EXPECT_EQ(last.parameters_total, 2u);
  EXPECT_EQ(last.parameter_bytes_done, 60u);
  EXPECT_EQ(last.parameter_bytes_total, 60u);
  // (parameters done, bytes done) of the parameter phase.
  std::vector<std::pair<size_t, uint64_t>> bound;
  for (size_t i = 1; i < seen.size(); ++i) {
    EXPECT_GE(seen[i].files_done, seen[i - 1].files_done);
    EXPECT_GE(seen[i].parameter_bytes_done, seen[i - 1].parameter_bytes_done);
    if (seen[i].parameters_total)
      bound.emplace_back(seen[i].parameters_done, seen[i].parameter_bytes_done);
  }
  using Step = std::pair<size_t, uint64_t>;
  EXPECT_EQ(bound,
            (std::vector<Step>{
                {0, 0}, {0, 12}, {0, 24}, {0, 36}, {0, 48}, {1, 48}, {2, 60}}))
      << "the gathered parameter advances expert by expert";

  // Reset: later binds report nothing.
  m.setBindProgress(nullptr, nullptr);
  seen.clear();
  run({idx});
  EXPECT_TRUE(seen.empty());
}

TEST_F(CheckpointTest, IndexBindsLikeSingleFile) {
  TempDir single;
  std::string file = single.file("all.safetensors");
  writeSafetensors(file,
                   {{"experts.0.w", DType::F32, {3}, rows[0].data(), 12},
                    {"experts.1.w", DType::F32, {3}, rows[1].data(), 12},
                    {"experts.2.w", DType::F32, {3}, rows[2].data(), 12},
                    {"experts.3.w", DType::F32, {3}, rows[3].data(), 12}});
  run({file});
  EXPECT_EQ(m.boundFileCount(), 1u);

  std::string idx = twoShards();
  uint64_t address = run({idx});
  // Each shard is mapped once, however many tensors the index puts in it.
  EXPECT_EQ(m.boundFileCount(), 2u);
  // Experts across two shards are gathered, as from two files.
  EXPECT_FALSE(insideMappingOf(address, dir.file(kShard1)) ||
               insideMappingOf(address, dir.file(kShard2)));
}

TEST_F(CheckpointTest, StackedInPlaceFromAShard) {
  shard(kShard1, {0, 1, 2, 3});
  shard(kShard2, {}, {"norm"});
  std::string idx = index({{"experts.0.w", kShard1},
                           {"experts.1.w", kShard1},
                           {"experts.2.w", kShard1},
                           {"experts.3.w", kShard1},
                           {"norm", kShard2}});
  EXPECT_TRUE(insideMappingOf(run({idx}), dir.file(kShard1)))
      << "experts back to back in one shard were copied";
}

// A module that takes the experts as a table of addresses (as dsv3-compile's
// host modules do) reads them where the shards map them: nothing is gathered.
TEST_F(CheckpointTest, ExpertPointersReadExpertsInPlace) {
  dsv3rt::Module pointers{s, FAKE_STACKED_POINTERS_MODULE};
  // Expert 3 (the first id) lies in the second shard.
  EXPECT_TRUE(insideMappingOf(run({twoShards()}, pointers), dir.file(kShard2)))
      << "experts in two shards were copied";
  // Interleaved with other tensors, as name-sorted checkpoints hold the
  // weight and scale of each expert.
  TempDir one;
  std::string file = one.file("interleaved.safetensors");
  std::vector<SafetensorsWriteItem> items;
  std::vector<std::string> names;
  for (int e = 0; e < 4; ++e) {
    items.push_back({"experts." + std::to_string(e) + ".w",
                     DType::F32,
                     {3},
                     rows[e].data(),
                     12});
    names.push_back("experts." + std::to_string(e) + ".scale");
    items.push_back({names.back(), DType::F32, {3}, rows[0].data(), 12});
  }
  writeSafetensors(file, items);
  EXPECT_TRUE(insideMappingOf(run({file}, pointers), file));
}

// An expert whose data is not aligned to its element size is copied (only
// that expert), since modules load elements with natural alignment.
TEST_F(CheckpointTest, ExpertPointersCopyAMisalignedExpert) {
  dsv3rt::Module pointers{s, FAKE_STACKED_POINTERS_MODULE};
  std::string file = dir.file("odd.safetensors");
  const int8_t pad = 7;
  writeSafetensors(file,
                   {{"experts.0.w", DType::F32, {3}, rows[0].data(), 12},
                    {"experts.1.w", DType::F32, {3}, rows[1].data(), 12},
                    {"experts.2.w", DType::F32, {3}, rows[2].data(), 12},
                    {"pad", DType::I8, {1}, &pad, 1},
                    {"experts.3.w", DType::F32, {3}, rows[3].data(), 12}});
  uint64_t address = run({file}, pointers);
  EXPECT_FALSE(insideMappingOf(address, file)) << "misaligned expert 3";
  EXPECT_EQ(address % alignof(float), 0u);
}

TEST_F(CheckpointTest, DirectoryUsesItsIndex) {
  twoShards();
  // Not named by the index, so never opened (it is not even safetensors).
  writeBytes(dir.file("stale.safetensors"), "junk");
  run({dir.file("")});
  EXPECT_EQ(m.boundFileCount(), 2u);
}

TEST_F(CheckpointTest, DirectoryWithoutIndexUsesAllShards) {
  shard("b.safetensors", {2, 3});
  shard("a.safetensors", {0, 1});
  writeBytes(dir.file("README.md"), "not a shard");
  std::filesystem::create_directory(dir.file("sub.safetensors"));
  run({dir.file("")});
  EXPECT_EQ(m.boundFileCount(), 2u);
  // Shards are opened in name order: a before b.
  shard("c.safetensors", {1});
  expectBindError({dir.file("")}, {"parameter \"experts.1.w\" is in both " +
                                   dir.file("a.safetensors") + " and " +
                                   dir.file("c.safetensors")});
}

TEST_F(CheckpointTest, DirectoryWithNeither) {
  writeBytes(dir.file("config.json"), "{}");
  std::string d = dir.file("");
  expectBindError({d}, {d, "checkpoint directory has neither "
                           "model.safetensors.index.json nor any "
                           "*.safetensors file"});
}

TEST_F(CheckpointTest, MissingParameterNamesTheIndex) {
  shard(kShard1, {0, 1});
  shard(kShard2, {2});
  std::string idx = index({{"experts.0.w", kShard1},
                           {"experts.1.w", kShard1},
                           {"experts.2.w", kShard2}});
  expectBindError({idx}, {"missing parameter \"experts.3.w\"",
                          "searched: " + idx + " (2 shards)"});
  std::string d = dir.file("");
  expectBindError({d}, {"searched: " + idx + " (2 shards)"});
}

TEST_F(CheckpointTest, IndexShardDoesNotExist) {
  shard(kShard1, {0, 1});
  std::string idx = index({{"experts.0.w", kShard1},
                           {"experts.1.w", kShard1},
                           {"experts.2.w", kShard2},
                           {"experts.3.w", kShard2}});
  run({shard("all.safetensors", {0, 1, 2, 3}, {})});
  expectBindError({idx}, {idx +
                          ": weight_map[\"experts.2.w\"] names shard "
                          "\"" +
                          kShard2 + "\", which does not exist (" +
                          dir.file(kShard2) + ")"});
  // A failed bind keeps the previous binding.
  EXPECT_EQ(values<float>(m.call(m.findEntry("single"), {}).at(0)), row(1));
}

TEST_F(CheckpointTest, IndexAssignsTensorToShardWithoutIt) {
  shard(kShard1, {0, 1});
  shard(kShard2, {2});
  std::string idx = index({{"experts.0.w", kShard1},
                           {"experts.1.w", kShard1},
                           {"experts.2.w", kShard2},
                           {"experts.3.w", kShard2}});
  expectBindError({idx}, {idx +
                          ": weight_map[\"experts.3.w\"] assigns tensor "
                          "\"experts.3.w\" to shard " +
                          dir.file(kShard2) + ", which does not contain it"});
}

TEST_F(CheckpointTest, TensorInShardTheIndexAssignsElsewhere) {
  shard(kShard1, {0, 1, 2});
  shard(kShard2, {3});
  std::string idx = index({{"experts.0.w", kShard1},
                           {"experts.1.w", kShard1},
                           {"experts.2.w", kShard2},
                           {"experts.3.w", kShard2}});
  expectBindError({idx}, {idx + ": tensor \"experts.2.w\" is in shard " +
                          dir.file(kShard1) +
                          " but weight_map[\"experts.2.w\"] assigns it to "
                          "shard \"" +
                          kShard2 + "\""});
}

TEST_F(CheckpointTest, TensorInShardTheIndexOmits) {
  shard(kShard1, {0, 1, 2, 3}, {"extra"});
  std::string idx = index({{"experts.0.w", kShard1},
                           {"experts.1.w", kShard1},
                           {"experts.2.w", kShard1},
                           {"experts.3.w", kShard1}});
  expectBindError({idx},
                  {idx + ": tensor \"extra\" is in shard " + dir.file(kShard1) +
                   " but the index's weight_map does not list it"});
}

TEST_F(CheckpointTest, MalformedIndex) {
  shard(kShard1, {0, 1, 2, 3});
  auto expectBad = [&](const std::string &text,
                       std::initializer_list<std::string> needles) {
    std::string idx = writeBytes(dir.file("bad.safetensors.index.json"), text);
    std::string message =
        expectThrowContaining([&] { Checkpoint c({idx}); }, needles);
    EXPECT_NE(message.find(idx + ": invalid safetensors index: "),
              std::string::npos)
        << message;
  };
  expectBad("{\"weight_map\": {", {"malformed JSON"});
  // An empty file is mapped as no memory at all (fuzz/, checkpoint_index).
  expectBad("", {"malformed JSON"});
  expectBad(R"({"metadata": )" + std::string(100000, '[') +
                std::string(100000, ']') + "}",
            {"malformed JSON: nested deeper than 64 levels"});
  expectBad("not json", {"malformed JSON"});
  expectBad("[]", {"expected a JSON object, got array"});
  expectBad(R"({"metadata": {}})", {"no \"weight_map\" key"});
  expectBad(R"({"weight_map": ["experts.0.w"]})",
            {"\"weight_map\" must be an object", "got array"});
  expectBad(R"({"weight_map": {"experts.0.w": 1}})",
            {"weight_map[\"experts.0.w\"] must be a shard file name (a "
             "string), got number"});
  expectBad(R"({"weight_map": {"experts.0.w": null}})",
            {"weight_map[\"experts.0.w\"]", "got null"});
  expectBad(std::string(R"({"weight_map": {"experts.0.w": ")") + kShard1 +
                R"(", "experts.0.w": ")" + kShard1 + "\"}}",
            {"duplicate key \"experts.0.w\""});
  expectBad(R"({"weight_map": {"experts.0.w": ""}})",
            {"weight_map[\"experts.0.w\"] = \"\" is not a file name relative "
             "to the index's directory"});
  expectBad(R"({"weight_map": {"experts.0.w": "/etc/passwd"}})",
            {"weight_map[\"experts.0.w\"] = \"/etc/passwd\""});
  // Through the C API too, naming the file.
  std::string idx = writeBytes(dir.file("model.safetensors.index.json"), "{");
  expectBindError({idx}, {idx, "malformed JSON"});
  expectBindError({dir.file("")}, {idx, "malformed JSON"});
}

TEST_F(CheckpointTest, MissingIndexFile) {
  std::string idx = dir.file("model.safetensors.index.json");
  expectBindError({idx}, {idx, "cannot open"});
}

TEST_F(CheckpointTest, IndexAndFilesTogether) {
  shard(kShard1, {0, 1});
  std::string idx = index({{"experts.0.w", kShard1}, {"experts.1.w", kShard1}});
  TempDir other;
  std::string rest = other.file("rest.safetensors");
  writeSafetensors(rest,
                   {{"experts.2.w", DType::F32, {3}, rows[2].data(), 12},
                    {"experts.3.w", DType::F32, {3}, rows[3].data(), 12}});
  run({idx, rest});
  EXPECT_EQ(m.boundFileCount(), 2u);
  // The same tensor from an index shard and a file: named in both.
  expectBindError({idx, rest, dir.file(kShard1)},
                  {"parameter \"experts.0.w\" is in both " + dir.file(kShard1) +
                   " and " + dir.file(kShard1)});
}

// DeepSeek-V3's index lists ~91k tensors: reading a 100k-tensor shard and a
// 100k-entry index and looking every tensor up must stay linear (or n log n);
// the former ordered_json header parse took 11 s for 40k tensors.
TEST(CheckpointScale, HundredThousandTensors) {
  using clock = std::chrono::steady_clock;
  constexpr int kTensors = 100000;
  TempDir dir;
  std::vector<std::string> names;
  names.reserve(kTensors);
  names.push_back("w"); // fake_add_module's parameter, f32[2,3]
  for (int i = 1; i < kTensors; ++i)
    names.push_back("model.layers." + std::to_string(i % 61) + ".t" +
                    std::to_string(i) + ".weight");
  std::vector<uint8_t> bytes(kTensors);
  for (int i = 0; i < kTensors; ++i)
    bytes[i] = static_cast<uint8_t>(i);
  static const float w[6] = {10, 20, 30, 40, 50, 60};
  std::vector<SafetensorsWriteItem> items;
  items.reserve(kTensors);
  items.push_back({"w", DType::F32, {2, 3}, w, sizeof w});
  for (int i = 1; i < kTensors; ++i)
    items.push_back({names[i], DType::I8, {1}, &bytes[i], 1});
  const std::string shardName = "model-00001-of-00001.safetensors";
  auto start = clock::now();
  writeSafetensors(dir.file(shardName), items);
  std::string text = R"({"metadata": {"total_size": 100023}, "weight_map": {)";
  for (const std::string &n : names)
    text += (n == names[0] ? "\"" : ", \"") + n + "\": \"" + shardName + "\"";
  writeBytes(dir.file("model.safetensors.index.json"), text + "}}");
  const double writeSeconds =
      std::chrono::duration<double>(clock::now() - start).count();

  start = clock::now();
  {
    Checkpoint c({dir.file("model.safetensors.index.json")});
    ASSERT_EQ(c.files().size(), 1u);
    const std::vector<dsv3rt::impl::SafetensorsTensor> &tensors =
        c.files()[0]->tensors();
    ASSERT_EQ(tensors.size(), static_cast<size_t>(kTensors));
    EXPECT_EQ(tensors[1].name, names[1]); // header order is kept
    for (int i = 1; i < kTensors; ++i) {
      const Checkpoint::Located *t = c.find(names[i]);
      ASSERT_TRUE(t) << names[i];
      ASSERT_EQ(*t->tensor->data, bytes[i]) << names[i];
    }
  }
  // The same through the C API, binding the directory.
  dsv3rt::Session s("host");
  dsv3rt::Module m(s, FAKE_ADD_MODULE);
  m.bindParameters({dir.file("")});
  float x[6] = {1, 2, 3, 4, 5, 6};
  std::vector<dsv3rt::Tensor> in;
  in.emplace_back(DSV3_DTYPE_F32, std::vector<int64_t>{2, 3}, x);
  EXPECT_EQ(values<float>(m.call(m.findEntry("add"), in).at(0)),
            (std::vector<float>{11, 22, 33, 44, 55, 66}));
  const double readSeconds =
      std::chrono::duration<double>(clock::now() - start).count();
  std::cout << "[ timing ] 100k tensors: write " << writeSeconds
            << " s; read, look up and bind twice " << readSeconds << " s\n";
  RecordProperty("read_seconds", std::to_string(readSeconds));
  // Linear work takes about a second here in a release build; quadratic
  // lookups took minutes.
  EXPECT_LT(readSeconds, 60.0);
}

} // namespace
