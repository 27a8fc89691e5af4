// The safetensors files parameters are bound from, opened from what the
// caller names: safetensors files, Hugging Face shard indexes
// (*.safetensors.index.json) and checkpoint directories. A DeepSeek-V3
// checkpoint is a directory of ~163 shards plus an index of ~91k tensors, so
// everything here is linear or n log n in the number of tensors.
#ifndef DSV3_LIB_RUNTIME_CHECKPOINT_H
#define DSV3_LIB_RUNTIME_CHECKPOINT_H

#include "Safetensors.h"

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace dsv3rt::impl {

// The index file a checkpoint directory is read through when it has one.
inline constexpr std::string_view kCheckpointIndexName =
    "model.safetensors.index.json";

// How far opening a checkpoint has come: safetensors files mapped so far and
// their sizes, out of the files known so far (an index's shards or a
// directory's files become known when it is read; paths are read in order).
struct CheckpointProgress {
  size_t filesDone = 0, filesKnown = 0;
  uint64_t bytesDone = 0, bytesKnown = 0;
};
using CheckpointProgressFn = std::function<void(const CheckpointProgress &)>;

class Checkpoint {
public:
  // Opens every path, in order:
  //  * a directory: its model.safetensors.index.json if present, else all
  //    its *.safetensors files in name order; neither is an error;
  //  * a file whose name ends in ".json": a shard index
  //    {"weight_map": {tensor: shard file}}; each shard, relative to the
  //    index's directory, is mapped once (in name order) and must hold
  //    exactly the tensors the index assigns to it;
  //  * any other file: a safetensors file.
  // A tensor name found in two files is an error. Throws Error naming the
  // file (and the tensor or index key) at fault. `progress`, if set, is
  // called when a path's files become known and after each file is mapped.
  explicit Checkpoint(const std::vector<std::string> &paths,
                      CheckpointProgressFn progress = {});
  Checkpoint(const Checkpoint &) = delete;
  Checkpoint &operator=(const Checkpoint &) = delete;

  struct Located {
    const SafetensorsTensor *tensor;
    const SafetensorsFile *file;
  };
  // nullptr if no file holds the tensor.
  const Located *find(std::string_view name) const;

  // Every mapped file, in the order opened; they stay mapped while the
  // Checkpoint lives.
  const std::vector<std::unique_ptr<SafetensorsFile>> &files() const {
    return files_;
  }
  // What was searched, for "missing parameter" messages: the paths as given
  // (an index or directory with its shard count), or "no files".
  std::string searched() const;

private:
  // Counts the files about to be opened (and their sizes) for progress.
  void plan(const std::vector<std::string> &files);
  const SafetensorsFile &openFile(const std::string &path);
  void addTensors(const SafetensorsFile &file);
  void addIndex(const std::string &path);
  void addDirectory(const std::string &path);

  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  // Keys view the names owned by files_ (heap objects that never move).
  std::unordered_map<std::string_view, Located> tensors_;
  std::vector<std::string> searched_;
  CheckpointProgressFn progressFn_;
  CheckpointProgress progress_;
};

} // namespace dsv3rt::impl

#endif // DSV3_LIB_RUNTIME_CHECKPOINT_H
