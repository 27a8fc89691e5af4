#include "Safetensors.h"

#include "Error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>

using json = nlohmann::ordered_json;

namespace dsv3rt::impl {

namespace {

// Parses with a callback that rejects duplicate keys, which nlohmann would
// otherwise silently collapse (the last one wins) — a corrupt or malicious
// header must not pick a tensor's data ambiguously.
json parseHeader(const std::string &path, const char *begin, const char *end) {
  std::vector<std::set<std::string>> keys;
  auto callback = [&](int, json::parse_event_t event, json &parsed) {
    switch (event) {
    case json::parse_event_t::object_start:
      keys.emplace_back();
      break;
    case json::parse_event_t::object_end:
      keys.pop_back();
      break;
    case json::parse_event_t::key: {
      const std::string &key = parsed.get_ref<const std::string &>();
      if (!keys.back().insert(key).second)
        fail(path + ": invalid safetensors header: duplicate key \"" + key +
             "\"");
      break;
    }
    default:
      break;
    }
    return true;
  };
  try {
    return json::parse(begin, end, callback);
  } catch (const json::exception &e) {
    fail(path + ": invalid safetensors header: malformed JSON: " + e.what());
  }
}

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
  json header = parseHeader(path, headerBegin, headerBegin + headerLen);
  if (!header.is_object())
    fail(path + ": invalid safetensors header: expected a JSON object, got " +
         jsonTypeName(header));

  const uint8_t *dataSection = base + 8 + headerLen;
  const uint64_t dataSize = fileSize - 8 - headerLen;
  struct Range {
    uint64_t begin, end;
    size_t index;
  };
  std::vector<Range> ranges;

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string &name = it.key();
    const json &entry = it.value();
    if (name == "__metadata__") {
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
      continue;
    }
    const std::string where =
        path + ": invalid safetensors header: tensor \"" + name + "\": ";
    if (!entry.is_object())
      fail(where + "expected an object, got " + jsonTypeName(entry));
    for (const char *field : {"dtype", "shape", "data_offsets"})
      if (!entry.contains(field))
        fail(where + "missing field \"" + field + "\"");
    for (auto f = entry.begin(); f != entry.end(); ++f)
      if (f.key() != "dtype" && f.key() != "shape" && f.key() != "data_offsets")
        fail(where + "unexpected field \"" + f.key() + "\"");

    const json &dtypeJ = entry["dtype"];
    if (!dtypeJ.is_string())
      fail(where + "field \"dtype\" must be a string, got " +
           jsonTypeName(dtypeJ));
    std::optional<DType> dtype =
        parseSafetensorsDType(dtypeJ.get_ref<const std::string &>());
    if (!dtype)
      fail(where + "unknown dtype \"" + dtypeJ.get<std::string>() +
           "\" (supported: BF16 F16 F32 F8_E4M3 F8_E8M0 I8 I32 I64 BOOL)");

    const json &shapeJ = entry["shape"];
    if (!shapeJ.is_array())
      fail(where + "field \"shape\" must be an array, got " +
           jsonTypeName(shapeJ));
    std::vector<int64_t> shape;
    for (const json &d : shapeJ) {
      uint64_t v;
      if (!asNonNegative(d, v))
        fail(where + "shape dimension " + d.dump() +
             " is not a non-negative integer");
      shape.push_back(static_cast<int64_t>(v));
    }

    const json &offJ = entry["data_offsets"];
    uint64_t begin, end;
    if (!offJ.is_array() || offJ.size() != 2 ||
        !asNonNegative(offJ[0], begin) || !asNonNegative(offJ[1], end))
      fail(where + "data_offsets must be two non-negative integers, got " +
           offJ.dump());
    if (begin > end)
      fail(where + "data_offsets are reversed: begin " + std::to_string(begin) +
           " > end " + std::to_string(end));
    if (end > dataSize)
      fail(where + "data_offsets [" + std::to_string(begin) + ", " +
           std::to_string(end) + "] are out of the data section (" +
           std::to_string(dataSize) + " bytes)");
    std::optional<uint64_t> expected = checkedByteSize(*dtype, shape);
    if (!expected)
      fail(where + "shape " + shapeString(shape) + " overflows the byte size");
    if (*expected != end - begin)
      fail(where + "data_offsets span " + std::to_string(end - begin) +
           " bytes but " + describe(*dtype, shape) + " needs " +
           std::to_string(*expected));
    ranges.push_back({begin, end, tensors_.size()});
    tensors_.push_back(
        {name, *dtype, std::move(shape), dataSection + begin, end - begin});
  }

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
  for (const SafetensorsTensor &t : tensors_)
    if (t.name == name)
      return &t;
  return nullptr;
}

void writeSafetensors(const std::string &path,
                      const std::vector<SafetensorsWriteItem> &tensors,
                      const std::map<std::string, std::string> &metadata) {
  json header = json::object();
  if (!metadata.empty())
    header["__metadata__"] = metadata;
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
    if (t.name == "__metadata__" || header.contains(t.name))
      fail(path + ": cannot write tensor \"" + t.name +
           "\": duplicate or reserved name");
    header[t.name] = {{"dtype", dtype},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.size}}};
    offset += t.size;
  }
  std::string text = header.dump();
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
