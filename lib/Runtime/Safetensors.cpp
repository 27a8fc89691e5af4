#include "Safetensors.h"

#include "Error.h"
#include "Json.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <unordered_set>

using json = nlohmann::json;

namespace dsv3rt::impl {

namespace {

uint64_t readLE64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i)
    v = (v << 8) | p[i];
  return v;
}

// A non-negative integer that fits int64 (shape dims and offsets); the
// JSON layer distinguishes 3 from 3.0 and -3.
bool asNonNegative(const json &j, uint64_t &out) {
  if (j.is_number_unsigned()) {
    out = j.get<uint64_t>();
    return out <= static_cast<uint64_t>(INT64_MAX);
  }
  return false; // negative integers, floats, strings, ...
}

std::string jsonTypeName(const json &j) { return j.type_name(); }

} // namespace

SafetensorsFile::SafetensorsFile(const std::string &path) : file_(path) {
  const uint8_t *base = file_.data();
  const uint64_t fileSize = file_.size();
  if (fileSize < 8)
    fail(path + ": not a safetensors file: " + std::to_string(fileSize) +
         " bytes is shorter than the 8-byte header length");
  uint64_t headerLen = readLE64(base);
  if (headerLen > fileSize - 8)
    fail(path + ": invalid safetensors header: header length " +
         std::to_string(headerLen) + " exceeds the file size " +
         std::to_string(fileSize));
  const char *headerBegin = reinterpret_cast<const char *>(base + 8);
  const uint8_t *dataSection = base + 8 + headerLen;
  const uint64_t dataSize = fileSize - 8 - headerLen;
  struct Range {
    uint64_t begin, end;
    size_t index;
  };
  std::vector<Range> ranges;

  // Entries arrive in header order, which tensors() keeps.
  bool haveMetadata = false;
  auto onEntry = [&](std::string_view, std::string &name, json &entry) {
    if (name == "__metadata__") {
      if (haveMetadata)
        fail(path + ": invalid safetensors header: duplicate key \"" + name +
             "\"");
      haveMetadata = true;
      if (!entry.is_object())
        fail(path +
             ": invalid safetensors header: __metadata__ must be an "
             "object of strings, got " +
             jsonTypeName(entry));
      for (auto m = entry.begin(); m != entry.end(); ++m) {
        if (!m.value().is_string())
          fail(path + ": invalid safetensors header: __metadata__ value \"" +
               m.key() + "\" is not a string");
        metadata_[m.key()] = m.value().get<std::string>();
      }
      return;
    }
    // An escaped NUL (\u0000) would cut the name short wherever it crosses
    // the C API (and cut every message that quotes it).
    if (name.find('\0') != std::string::npos)
      fail(path + ": invalid safetensors header: tensor name \"" +
           name.substr(0, name.find('\0')) + "\\u0000...\" contains a NUL");
    // Built only on failure: this runs once per tensor.
    auto where = [&] {
      return path + ": invalid safetensors header: tensor \"" + name + "\": ";
    };
    if (!entry.is_object())
      fail(where() + "expected an object, got " + jsonTypeName(entry));
    for (const char *field : {"dtype", "shape", "data_offsets"})
      if (!entry.contains(field))
        fail(where() + "missing field \"" + field + "\"");
    for (auto f = entry.begin(); f != entry.end(); ++f)
      if (f.key() != "dtype" && f.key() != "shape" && f.key() != "data_offsets")
        fail(where() + "unexpected field \"" + f.key() + "\"");

    const json &dtypeJ = entry["dtype"];
    if (!dtypeJ.is_string())
      fail(where() + "field \"dtype\" must be a string, got " +
           jsonTypeName(dtypeJ));
    std::optional<DType> dtype =
        parseSafetensorsDType(dtypeJ.get_ref<const std::string &>());
    if (!dtype)
      fail(where() + "unknown dtype \"" + dtypeJ.get<std::string>() +
           "\" (supported: BF16 F16 F32 F8_E4M3 F8_E8M0 I8 I32 I64 BOOL)");

    const json &shapeJ = entry["shape"];
    if (!shapeJ.is_array())
      fail(where() + "field \"shape\" must be an array, got " +
           jsonTypeName(shapeJ));
    std::vector<int64_t> shape;
    for (const json &d : shapeJ) {
      uint64_t v;
      if (!asNonNegative(d, v))
        fail(where() + "shape dimension " + d.dump() +
             " is not a non-negative integer");
      shape.push_back(static_cast<int64_t>(v));
    }

    const json &offJ = entry["data_offsets"];
    uint64_t begin, end;
    if (!offJ.is_array() || offJ.size() != 2 ||
        !asNonNegative(offJ[0], begin) || !asNonNegative(offJ[1], end))
      fail(where() + "data_offsets must be two non-negative integers, got " +
           offJ.dump());
    if (begin > end)
      fail(where() + "data_offsets are reversed: begin " +
           std::to_string(begin) + " > end " + std::to_string(end));
    if (end > dataSize)
      fail(where() + "data_offsets [" + std::to_string(begin) + ", " +
           std::to_string(end) + "] are out of the data section (" +
           std::to_string(dataSize) + " bytes)");
    std::optional<uint64_t> expected = checkedByteSize(*dtype, shape);
    if (!expected)
      fail(where() + "shape " + shapeString(shape) +
           " overflows the byte size");
    if (*expected != end - begin)
      fail(where() + "data_offsets span " + std::to_string(end - begin) +
           " bytes but " + describe(*dtype, shape) + " needs " +
           std::to_string(*expected));
    ranges.push_back({begin, end, tensors_.size()});
    tensors_.push_back({std::move(name), *dtype, std::move(shape),
                        dataSection + begin, end - begin});
  };
  parseJsonObject(path + ": invalid safetensors header", headerBegin,
                  headerBegin + headerLen, onEntry);

  // Name lookup by binary search: a checkpoint shard holds thousands of
  // tensors and every parameter is looked up.
  byName_.resize(tensors_.size());
  for (size_t i = 0; i < byName_.size(); ++i)
    byName_[i] = i;
  std::sort(byName_.begin(), byName_.end(), [&](size_t a, size_t b) {
    return tensors_[a].name < tensors_[b].name;
  });
  // The parser leaves duplicate tensor names to us; sorted, they are
  // neighbours.
  for (size_t i = 1; i < byName_.size(); ++i)
    if (tensors_[byName_[i]].name == tensors_[byName_[i - 1]].name)
      fail(path + ": invalid safetensors header: duplicate key \"" +
           tensors_[byName_[i]].name + "\"");

  // Zero-size tensors occupy nothing, so they cannot overlap.
  ranges.erase(std::remove_if(ranges.begin(), ranges.end(),
                              [](const Range &r) { return r.begin == r.end; }),
               ranges.end());
  std::sort(ranges.begin(), ranges.end(),
            [](const Range &a, const Range &b) { return a.begin < b.begin; });
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].begin < ranges[i - 1].end)
      fail(path + ": invalid safetensors header: tensor \"" +
           tensors_[ranges[i].index].name + "\" overlaps tensor \"" +
           tensors_[ranges[i - 1].index].name + "\" in the data section");
}

const SafetensorsTensor *SafetensorsFile::find(std::string_view name) const {
  auto it = std::lower_bound(
      byName_.begin(), byName_.end(), name,
      [&](size_t i, std::string_view n) { return tensors_[i].name < n; });
  if (it == byName_.end() || tensors_[*it].name != name)
    return nullptr;
  return &tensors_[*it];
}

void writeSafetensors(const std::string &path,
                      const std::vector<SafetensorsWriteItem> &tensors,
                      const std::map<std::string, std::string> &metadata) {
  // The header text is assembled entry by entry, in the given order: a JSON
  // object of the whole header would sort the names (json) or insert in
  // linear time per name (ordered_json).
  std::string text = "{";
  if (!metadata.empty())
    text += "\"__metadata__\":" + json(metadata).dump();
  std::unordered_set<std::string_view> names;
  uint64_t offset = 0;
  for (const SafetensorsWriteItem &t : tensors) {
    const char *dtype = safetensorsDTypeName(t.dtype);
    if (!dtype)
      fail(path + ": cannot write tensor \"" + t.name + "\": dtype " +
           dtypeName(t.dtype) + " has no safetensors equivalent");
    std::optional<uint64_t> bytes = checkedByteSize(t.dtype, t.shape);
    if (!bytes || *bytes != t.size)
      fail(path + ": cannot write tensor \"" + t.name +
           "\": " + describe(t.dtype, t.shape) + " does not match its " +
           std::to_string(t.size) + " bytes of data");
    if (t.name == "__metadata__" || !names.insert(t.name).second)
      fail(path + ": cannot write tensor \"" + t.name +
           "\": duplicate or reserved name");
    nlohmann::ordered_json entry = {
        {"dtype", dtype},
        {"shape", t.shape},
        {"data_offsets", {offset, offset + t.size}}};
    if (text.size() > 1)
      text += ',';
    text += json(t.name).dump() + ':' + entry.dump();
    offset += t.size;
  }
  text += '}';
  text.append((8 - text.size() % 8) % 8, ' ');
  uint8_t len[8];
  for (int i = 0; i < 8; ++i)
    len[i] =
        static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));

  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out)
    fail(path + ": cannot open for writing: " + std::strerror(errno));
  out.write(reinterpret_cast<const char *>(len), 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const SafetensorsWriteItem &t : tensors)
    out.write(static_cast<const char *>(t.data),
              static_cast<std::streamsize>(t.size));
  out.close();
  if (!out)
    fail(path + ": write failed: " + std::strerror(errno));
}

} // namespace dsv3rt::impl
