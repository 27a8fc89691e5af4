//===- Checkpoint.cpp - tensor table of a Hugging Face model directory ----===//
//
// The importer checks the graph against the checkpoint before anything is
// compiled, so it reads only the safetensors headers (names, dtypes, shapes),
// never the weights. Binding the weights is the runtime's job.
//
//===----------------------------------------------------------------------===//

#include "dsv3/Import.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

using namespace mlir::dsv3::import;

static llvm::Error fail(const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), msg.str());
}

/// Adds the tensors of one safetensors file's header to `table`.
static llvm::Error readHeader(const std::string &path,
                              std::map<std::string, CheckpointTensor> &table) {
  auto file = llvm::MemoryBuffer::getFileSlice(path, 8, 0);
  if (!file)
    return fail(path + ": cannot read: " + file.getError().message());
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i)
    n = (n << 8) | static_cast<uint8_t>((*file)->getBufferStart()[i]);
  uint64_t size = 0;
  if (std::error_code ec = llvm::sys::fs::file_size(path, size))
    return fail(path + ": " + ec.message());
  if (n == 0 || n > size - 8 || n > (uint64_t{1} << 30))
    return fail(llvm::formatv("{0}: header length {1} does not fit the file "
                              "({2} bytes): not a safetensors file",
                              path, n, size));
  auto header = llvm::MemoryBuffer::getFileSlice(path, n, 8);
  if (!header)
    return fail(path + ": cannot read: " + header.getError().message());
  llvm::Expected<llvm::json::Value> json =
      llvm::json::parse((*header)->getBuffer());
  if (!json)
    return fail(path + ": header is not valid JSON: " +
                llvm::toString(json.takeError()));
  const llvm::json::Object *obj = json->getAsObject();
  if (!obj)
    return fail(path + ": header is not a JSON object");
  uint64_t dataSize = size - 8 - n;
  for (const auto &[key, value] : *obj) {
    if (key == "__metadata__")
      continue;
    const llvm::json::Object *t = value.getAsObject();
    auto dtype = t ? t->getString("dtype") : std::nullopt;
    const llvm::json::Array *shape = t ? t->getArray("shape") : nullptr;
    const llvm::json::Array *offsets =
        t ? t->getArray("data_offsets") : nullptr;
    if (!dtype || !shape || !offsets || offsets->size() != 2)
      return fail(path + ": tensor '" + key.str() +
                  "': dtype, shape or data_offsets missing or malformed");
    CheckpointTensor ct;
    ct.dtype = dtype->str();
    ct.file = path;
    for (const llvm::json::Value &d : *shape) {
      std::optional<int64_t> v = d.getAsInteger();
      if (!v || *v < 0)
        return fail(path + ": tensor '" + key.str() + "': bad shape");
      ct.shape.push_back(*v);
    }
    std::optional<int64_t> end = (*offsets)[1].getAsInteger();
    if (!end || *end < 0 || uint64_t(*end) > dataSize)
      return fail(path + ": tensor '" + key.str() +
                  "': data_offsets point past the end of the file "
                  "(truncated?)");
    if (table.count(key.str()))
      return fail(path + ": tensor '" + key.str() + "' is also in " +
                  table[key.str()].file);
    table[key.str()] = std::move(ct);
  }
  return llvm::Error::success();
}

llvm::Expected<std::optional<std::map<std::string, CheckpointTensor>>>
mlir::dsv3::import::readCheckpoint(const std::string &dir) {
  std::map<std::string, CheckpointTensor> table;
  llvm::SmallString<256> index(dir);
  llvm::sys::path::append(index, "model.safetensors.index.json");
  if (llvm::sys::fs::exists(index)) {
    std::string indexPath = index.str().str();
    auto buffer = llvm::MemoryBuffer::getFile(indexPath);
    if (!buffer)
      return fail(indexPath + ": cannot read: " + buffer.getError().message());
    llvm::Expected<llvm::json::Value> json =
        llvm::json::parse((*buffer)->getBuffer());
    if (!json)
      return fail(indexPath +
                  ": not valid JSON: " + llvm::toString(json.takeError()));
    const llvm::json::Object *obj = json->getAsObject();
    const llvm::json::Object *map =
        obj ? obj->getObject("weight_map") : nullptr;
    if (!map)
      return fail(indexPath + ": key 'weight_map' is missing or not an object");
    // name -> shard, then each shard's header once.
    std::map<std::string, std::string> shardOf;
    std::map<std::string, bool> shards;
    for (const auto &[name, shard] : *map) {
      auto s = shard.getAsString();
      if (!s)
        return fail(indexPath + ": key 'weight_map." + name.str() +
                    "' must be a file name");
      llvm::SmallString<256> p(dir);
      llvm::sys::path::append(p, *s);
      if (!llvm::sys::fs::exists(p))
        return fail(indexPath + ": key 'weight_map." + name.str() +
                    "' names shard '" + s->str() + "', which does not exist");
      shardOf[name.str()] = p.str().str();
      shards[p.str().str()] = true;
    }
    std::map<std::string, CheckpointTensor> found;
    for (const auto &[shard, unused] : shards) {
      std::map<std::string, CheckpointTensor> one;
      if (llvm::Error e = readHeader(shard, one))
        return std::move(e);
      for (auto &[name, t] : one) {
        auto it = shardOf.find(name);
        if (it == shardOf.end())
          return fail(shard + ": tensor '" + name + "' is not listed in " +
                      indexPath);
        if (it->second != shard)
          return fail(shard + ": tensor '" + name + "' is listed in " +
                      indexPath + " under shard " + it->second);
        found[name] = std::move(t);
      }
    }
    for (const auto &[name, shard] : shardOf)
      if (!found.count(name))
        return fail(indexPath + ": key 'weight_map." + name + "' names " +
                    shard + ", which does not hold that tensor");
    return std::optional(std::move(found));
  }
  std::error_code ec;
  std::vector<std::string> files;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
       it.increment(ec))
    if (llvm::StringRef(it->path()).ends_with(".safetensors"))
      files.push_back(it->path());
  if (ec)
    return fail(dir + ": " + ec.message());
  if (files.empty())
    return std::optional<std::map<std::string, CheckpointTensor>>();
  std::sort(files.begin(), files.end());
  for (const std::string &f : files)
    if (llvm::Error e = readHeader(f, table))
      return std::move(e);
  return std::optional(std::move(table));
}
