#include "Checkpoint.h"

#include "Error.h"
#include "Json.h"
#include "MappedFile.h"

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <map>
#include <sys/stat.h>

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace dsv3rt::impl {

namespace {

bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool isDirectory(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Only a definite "no such file" gets the index's message; other faults
// (permissions, ...) are reported by the safetensors reader with errno.
bool doesNotExist(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) != 0 &&
         (errno == ENOENT || errno == ENOTDIR);
}

std::string inQuotes(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

} // namespace

Checkpoint::Checkpoint(const std::vector<std::string> &paths,
                       CheckpointProgressFn progress)
    : progressFn_(std::move(progress)) {
  for (const std::string &p : paths) {
    if (isDirectory(p)) {
      addDirectory(p);
    } else if (endsWith(p, ".json")) {
      addIndex(p);
    } else {
      plan({p});
      addTensors(openFile(p));
      searched_.push_back(p);
    }
  }
}

const Checkpoint::Located *Checkpoint::find(std::string_view name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

std::string Checkpoint::searched() const {
  std::string s;
  for (const std::string &p : searched_)
    s += (s.empty() ? "" : ", ") + p;
  return s.empty() ? "no files" : s;
}

void Checkpoint::plan(const std::vector<std::string> &files) {
  if (!progressFn_)
    return;
  for (const std::string &f : files) {
    // Only for the byte count: a file that cannot be read is reported when
    // it is opened.
    struct stat st;
    if (::stat(f.c_str(), &st) == 0 && S_ISREG(st.st_mode))
      progress_.bytesKnown += static_cast<uint64_t>(st.st_size);
  }
  progress_.filesKnown += files.size();
  progressFn_(progress_);
}

const SafetensorsFile &Checkpoint::openFile(const std::string &path) {
  files_.push_back(std::make_unique<SafetensorsFile>(path));
  if (progressFn_) {
    ++progress_.filesDone;
    progress_.bytesDone += files_.back()->fileSize();
    progressFn_(progress_);
  }
  return *files_.back();
}

void Checkpoint::addTensors(const SafetensorsFile &file) {
  for (const SafetensorsTensor &t : file.tensors()) {
    auto [it, inserted] = tensors_.emplace(t.name, Located{&t, &file});
    if (!inserted)
      fail("parameter \"" + t.name + "\" is in both " +
           it->second.file->path() + " and " + file.path());
  }
}

void Checkpoint::addIndex(const std::string &path) {
  const std::string where = path + ": invalid safetensors index";
  // The weight_map, and its shard file names numbered in name order (the
  // order Hugging Face numbers them in).
  struct Assignment {
    std::string tensor;
    const size_t *shard; // into shardNumbers
  };
  std::vector<Assignment> assignments;
  std::map<std::string, size_t> shardNumbers;
  bool haveMap = false;
  {
    MappedFile text(path);
    const char *begin = reinterpret_cast<const char *>(text.data());
    parseJsonObject(
        where, begin, begin + text.size(),
        [&](std::string_view parent, std::string &key, json &value) {
          if (parent.empty()) {
            if (key != "weight_map")
              return; // "metadata" (total_size) and anything else
            if (haveMap)
              fail(where + ": duplicate key \"weight_map\"");
            if (!value.is_object())
              fail(where +
                   ": \"weight_map\" must be an object of tensor name -> "
                   "shard file name, got " +
                   value.type_name());
            haveMap = true;
            return;
          }
          // Runs once per tensor: the message is built only on failure.
          auto entry = [&] { return "weight_map[" + inQuotes(key) + "]"; };
          if (!value.is_string())
            fail(where + ": " + entry() +
                 " must be a shard file name (a string), got " +
                 value.type_name());
          std::string &shard = value.get_ref<std::string &>();
          if (shard.empty() || shard[0] == '/')
            fail(where + ": " + entry() + " = " + inQuotes(shard) +
                 " is not a file name relative to the index's directory");
          // try_emplace: no node is built for a shard already seen.
          auto it = shardNumbers.try_emplace(std::move(shard), 0).first;
          assignments.push_back({std::move(key), &it->second});
        },
        {"weight_map"});
  }
  if (!haveMap)
    fail(where + ": no \"weight_map\" key");
  std::vector<const std::string *> shardNames;
  for (auto &[name, number] : shardNumbers) {
    number = shardNames.size();
    shardNames.push_back(&name);
  }
  // Sorted by tensor for lookups. The parser leaves duplicate weight_map
  // keys to us; sorted, they are neighbours.
  std::sort(assignments.begin(), assignments.end(),
            [](const Assignment &a, const Assignment &b) {
              return a.tensor < b.tensor;
            });
  for (size_t i = 1; i < assignments.size(); ++i)
    if (assignments[i].tensor == assignments[i - 1].tensor)
      fail(where + ": duplicate key \"" + assignments[i].tensor +
           "\" in \"weight_map\"");
  auto assignedShard = [&](std::string_view tensor) -> const size_t * {
    auto it = std::lower_bound(
        assignments.begin(), assignments.end(), tensor,
        [](const Assignment &a, std::string_view t) { return a.tensor < t; });
    return it != assignments.end() && it->tensor == tensor ? it->shard
                                                           : nullptr;
  };
  std::vector<std::vector<std::string_view>> assigned(shardNames.size());
  for (const Assignment &a : assignments)
    assigned[*a.shard].push_back(a.tensor);

  // Each shard is mapped once and must hold exactly its tensors. Nothing is
  // added to the lookup until the whole index checks out.
  const fs::path directory = fs::path(path).parent_path();
  std::vector<std::string> shardPaths;
  for (const std::string *shard : shardNames)
    shardPaths.push_back((directory / *shard).string());
  plan(shardPaths);
  std::vector<const SafetensorsFile *> shards;
  for (size_t number = 0; number < shardNames.size(); ++number) {
    const std::string &shard = *shardNames[number];
    const std::string &shardPath = shardPaths[number];
    if (doesNotExist(shardPath))
      fail(path + ": weight_map[" + inQuotes(assigned[number].front()) +
           "] names shard " + inQuotes(shard) + ", which does not exist (" +
           shardPath + ")");
    const SafetensorsFile &file = openFile(shardPath);
    for (std::string_view name : assigned[number])
      if (!file.find(name))
        fail(path + ": weight_map[" + inQuotes(name) + "] assigns tensor " +
             inQuotes(name) + " to shard " + shardPath +
             ", which does not contain it");
    // A shard holding a tensor the index places elsewhere (or nowhere) means
    // index and shards disagree; binding it anyway would hide which is stale.
    for (const SafetensorsTensor &t : file.tensors()) {
      const size_t *other = assignedShard(t.name);
      if (!other)
        fail(path + ": tensor " + inQuotes(t.name) + " is in shard " +
             shardPath + " but the index's weight_map does not list it");
      if (*other != number)
        fail(path + ": tensor " + inQuotes(t.name) + " is in shard " +
             shardPath + " but weight_map[" + inQuotes(t.name) +
             "] assigns it to shard " + inQuotes(*shardNames[*other]));
    }
    shards.push_back(&file);
  }
  tensors_.reserve(tensors_.size() + assignments.size());
  for (const SafetensorsFile *file : shards)
    addTensors(*file);
  searched_.push_back(path + " (" + std::to_string(shards.size()) +
                      (shards.size() == 1 ? " shard)" : " shards)"));
}

void Checkpoint::addDirectory(const std::string &path) {
  const fs::path index = fs::path(path) / kCheckpointIndexName;
  std::error_code ec;
  if (fs::exists(index, ec)) {
    addIndex(index.string());
    return;
  }
  std::vector<std::string> shards;
  fs::directory_iterator it(path, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::error_code typeError;
    // is_regular_file follows symlinks: Hugging Face caches link to blobs.
    if (endsWith(it->path().filename().string(), ".safetensors") &&
        it->is_regular_file(typeError))
      shards.push_back(it->path().string());
  }
  if (ec)
    fail(path + ": cannot list the checkpoint directory: " + ec.message());
  if (shards.empty())
    fail(path + ": checkpoint directory has neither " +
         std::string(kCheckpointIndexName) + " nor any *.safetensors file");
  std::sort(shards.begin(), shards.end());
  plan(shards);
  for (const std::string &shard : shards)
    addTensors(openFile(shard));
  searched_.push_back(
      path + " (" + std::to_string(shards.size()) +
      (shards.size() == 1 ? " *.safetensors file)" : " *.safetensors files)"));
}

} // namespace dsv3rt::impl
