#include "TensorSpec.h"

#include "Npy.h"
#include "Safetensors.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <stdexcept>

namespace dsv3run {

using namespace dsv3rt::impl;

namespace {

[[noreturn]] void bad(const std::string &message) {
  throw std::runtime_error(message);
}

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Splits "file.safetensors:name" into path and tensor name. Only a colon
// after the extension counts, so paths may contain colons.
void splitSafetensors(const std::string &spec, std::string &path,
                      std::string &name) {
  const std::string ext = ".safetensors";
  size_t pos = spec.rfind(ext + ":");
  if (pos != std::string::npos) {
    path = spec.substr(0, pos + ext.size());
    name = spec.substr(pos + ext.size() + 1);
  } else {
    path = spec;
    name.clear();
  }
}

void storeInteger(DType t, const std::string &token, void *out,
                  const std::string &spec) {
  if (t == DType::I1) {
    uint8_t b;
    if (token == "0" || token == "false")
      b = 0;
    else if (token == "1" || token == "true")
      b = 1;
    else
      bad("\"" + spec + "\": value \"" + token + "\" is not an i1 (0 or 1)");
    std::memcpy(out, &b, 1);
    return;
  }
  errno = 0;
  char *end = nullptr;
  long long v = std::strtoll(token.c_str(), &end, 10);
  long long lo = t == DType::I8    ? INT8_MIN
                 : t == DType::I32 ? INT32_MIN
                                   : INT64_MIN;
  long long hi = t == DType::I8    ? INT8_MAX
                 : t == DType::I32 ? INT32_MAX
                                   : INT64_MAX;
  if (*end || errno == ERANGE || v < lo || v > hi)
    bad("\"" + spec + "\": value \"" + token + "\" is not an " + dtypeName(t));
  if (t == DType::I8) {
    int8_t x = static_cast<int8_t>(v);
    std::memcpy(out, &x, 1);
  } else if (t == DType::I32) {
    int32_t x = static_cast<int32_t>(v);
    std::memcpy(out, &x, 4);
  } else {
    int64_t x = v;
    std::memcpy(out, &x, 8);
  }
}

void storeToken(DType t, const std::string &token, void *out,
                const std::string &spec) {
  if (!isFloatDType(t)) {
    storeInteger(t, token, out, spec);
    return;
  }
  errno = 0;
  char *end = nullptr;
  double v = std::strtod(token.c_str(), &end);
  if (*end)
    bad("\"" + spec + "\": value \"" + token + "\" is not a number");
  // strtod gives inf (or 0) with ERANGE for what double cannot hold.
  if (errno == ERANGE)
    bad("\"" + spec + "\": value \"" + token + "\" is out of range (" +
        (std::fabs(v) > 1 ? "overflows" : "underflows") + " a float64)");
  if (!storeFloat(t, v, out))
    bad("\"" + spec + "\": literals of dtype " + dtypeName(t) +
        " are not supported; use a .safetensors file");
  // A finite value the dtype rounds to inf (or, for f8e4m3fn, NaN).
  if (std::isfinite(v) && !std::isfinite(loadAsDouble(t, out)))
    bad("\"" + spec + "\": value \"" + token + "\" is out of range for " +
        dtypeName(t));
}

// "a, b, c" of the file's tensor names, in file order; past the first 20,
// "... and N more".
std::string tensorNames(const SafetensorsFile &st) {
  constexpr size_t kListed = 20;
  const std::vector<SafetensorsTensor> &all = st.tensors();
  if (all.empty())
    return "none";
  std::string s;
  for (size_t i = 0; i < all.size() && i < kListed; ++i)
    s += (i ? ", " : "") + all[i].name;
  if (all.size() > kListed)
    s += ", ... and " + std::to_string(all.size() - kListed) + " more";
  return s;
}

// The "DIMSxDTYPE" part of a literal.
LiteralType parseType(const std::string &spec, bool allowF64) {
  size_t eq = spec.find('=');
  if (eq == std::string::npos)
    bad("\"" + spec +
        "\": expected @file.npy, @file.safetensors[:name] or "
        "DIMSxDTYPE=VALUES (e.g. 2x3xf32=1 2 3 4 5 6)");
  std::string type = spec.substr(0, eq);
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t x; (x = type.find('x', start)) != std::string::npos;
       start = x + 1)
    parts.push_back(type.substr(start, x - start));
  parts.push_back(type.substr(start));
  std::optional<DType> dtype = parseDTypeName(parts.back(), allowF64);
  if (!dtype || (*dtype == DType::U8))
    bad("\"" + spec + "\": unknown dtype \"" + parts.back() +
        "\" (expected f32, f16, bf16, f8e4m3fn, i8, i32, i64 or i1" +
        (allowF64 ? ", f64" : "") + ")");
  std::vector<int64_t> shape;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    const std::string &d = parts[i];
    errno = 0;
    char *end = nullptr;
    long long v = std::strtoll(d.c_str(), &end, 10);
    if (d.empty() || *end || errno == ERANGE || v < 0 ||
        !std::isdigit(static_cast<unsigned char>(d[0])))
      bad("\"" + spec + "\": dimension \"" + d +
          "\" is not a non-negative integer");
    shape.push_back(v);
  }
  if (!checkedByteSize(*dtype, shape))
    bad("\"" + spec + "\": shape " + shapeString(shape) + " overflows");
  return {*dtype, std::move(shape)};
}

} // namespace

std::optional<LiteralType> literalType(const std::string &spec, bool allowF64) {
  if (!spec.empty() && spec[0] == '@')
    return std::nullopt;
  return parseType(spec, allowF64);
}

HostTensor parseLiteral(const std::string &spec, bool allowF64) {
  const LiteralType type = parseType(spec, allowF64);
  const DType dtype = type.dtype;
  const std::vector<int64_t> &shape = type.shape;
  const size_t eq = spec.find('=');
  std::vector<std::string> tokens;
  std::string values = spec.substr(eq + 1), cur;
  for (char c : values + " ") {
    if (c == ' ' || c == ',' || c == '\t' || c == '\n') {
      if (!cur.empty())
        tokens.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  // The count is checked before the tensor is allocated: a typo in the
  // dimensions must not allocate gigabytes.
  const uint64_t n = *checkedElementCount(shape);
  if (tokens.size() != 1 && tokens.size() != n)
    bad("\"" + spec + "\": " + std::to_string(tokens.size()) + " values for " +
        describe(dtype, shape) + " (" + std::to_string(n) +
        " elements; give all of them or one to splat)");
  HostTensor t(dtype, shape);
  const size_t size = dtypeSize(dtype);
  if (tokens.size() == 1) {
    for (uint64_t i = 0; i < n; ++i)
      storeToken(dtype, tokens[0], t.data() + i * size, spec);
    if (n == 0)
      storeToken(dtype, tokens[0], t.data(), spec); // still validate it
  } else {
    for (uint64_t i = 0; i < n; ++i)
      storeToken(dtype, tokens[i], t.data() + i * size, spec);
  }
  return t;
}

HostTensor readTensorSpec(const std::string &spec,
                          const std::string &defaultName, bool allowF64,
                          std::optional<DType> voidAs) {
  if (spec.empty() || spec[0] != '@')
    return parseLiteral(spec, allowF64);
  std::string file = spec.substr(1);
  if (endsWith(file, ".npy")) {
    HostTensor t = readNpy(file, voidAs);
    if (t.dtype == DType::F64 && !allowF64)
      bad(file + ": float64 (<f8) arrays are only accepted as "
                 "--expected-output, or as inputs with --allow-narrowing "
                 "(rounded to the input's dtype); save the input as float32");
    return t;
  }
  std::string path, name;
  splitSafetensors(file, path, name);
  if (!endsWith(path, ".safetensors"))
    bad(spec + ": unknown file type (expected .npy or .safetensors)");
  SafetensorsFile st(path);
  const SafetensorsTensor *found = nullptr;
  if (!name.empty()) {
    found = st.find(name);
    if (!found)
      bad(path + ": no tensor named \"" + name +
          "\" (tensors: " + tensorNames(st) + ")");
  } else if ((found = st.find(defaultName)) == nullptr) {
    if (st.tensors().size() != 1)
      bad(path + ": holds " + std::to_string(st.tensors().size()) +
          " tensors and none is named \"" + defaultName + "\"; pick one with " +
          spec + ":NAME (tensors: " + tensorNames(st) + ")");
    found = &st.tensors()[0];
  }
  HostTensor t(found->dtype, found->shape);
  if (found->size)
    std::memcpy(t.data(), found->data, found->size);
  return t;
}

void writeTensorSpec(const std::string &spec, const std::string &defaultName,
                     const HostTensor &tensor) {
  if (spec.empty() || spec[0] != '@')
    bad("--output=" + spec + ": expected @file.npy, @file.safetensors or -");
  std::string file = spec.substr(1);
  if (endsWith(file, ".npy")) {
    writeNpy(file, tensor.dtype, tensor.shape, tensor.data(),
             tensor.byteSize());
    return;
  }
  std::string path, name;
  splitSafetensors(file, path, name);
  if (!endsWith(path, ".safetensors"))
    bad("--output=" + spec +
        ": unknown file type (expected .npy or "
        ".safetensors)");
  writeSafetensors(path, {{name.empty() ? defaultName : name, tensor.dtype,
                           tensor.shape, tensor.data(), tensor.byteSize()}});
}

bool floatConvertible(DType from, DType to) {
  uint8_t probe[8];
  return isFloatDType(from) && isFloatDType(to) && storeFloat(to, 0, probe);
}

HostTensor convertFloat(const HostTensor &tensor, DType to) {
  HostTensor out(to, tensor.shape);
  const size_t fromSize = dtypeSize(tensor.dtype), toSize = dtypeSize(to);
  const uint64_t n = tensor.elementCount();
  // loadAsDouble is exact for every float dtype, so storeFloat rounds once
  // (f64 -> bf16 directly, not through f32).
  for (uint64_t i = 0; i < n; ++i)
    storeFloat(to, loadAsDouble(tensor.dtype, tensor.data() + i * fromSize),
               out.data() + i * toSize);
  return out;
}

std::string formatElement(DType dtype, const void *element) {
  char buf[64];
  switch (dtype) {
  case DType::I64: {
    int64_t v;
    std::memcpy(&v, element, 8);
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
    return buf;
  }
  case DType::I32:
  case DType::I8:
  case DType::I1:
  case DType::U8:
    std::snprintf(buf, sizeof buf, "%lld",
                  static_cast<long long>(loadAsDouble(dtype, element)));
    return buf;
  default: {
    double v = loadAsDouble(dtype, element);
    if (std::isnan(v))
      return "nan"; // not "-nan": the sign of a NaN carries no meaning here
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
  }
  }
}

std::string summarize(const HostTensor &t, size_t maxValues) {
  std::string s = describe(t.dtype, t.shape) + " = [";
  const uint64_t n = t.elementCount();
  const size_t size = dtypeSize(t.dtype);
  for (uint64_t i = 0; i < n && i < maxValues; ++i)
    s += (i ? ", " : "") + formatElement(t.dtype, t.data() + i * size);
  if (n > maxValues)
    s += ", ... (" + std::to_string(n) + " elements)";
  return s + "]";
}

} // namespace dsv3run
