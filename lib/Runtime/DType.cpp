#include "DType.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace dsv3rt::impl {

namespace {
struct DTypeInfo {
  DType type;
  const char *name;
  const char *safetensors; // nullptr: not storable in safetensors here
  size_t size;
  bool isFloat;
};

constexpr DTypeInfo kInfos[] = {
    {DType::F32, "f32", "F32", 4, true},
    {DType::F16, "f16", "F16", 2, true},
    {DType::BF16, "bf16", "BF16", 2, true},
    {DType::F8E4M3FN, "f8e4m3fn", "F8_E4M3", 1, true},
    {DType::F8E8M0FNU, "f8e8m0fnu", "F8_E8M0", 1, true},
    {DType::I8, "i8", "I8", 1, false},
    {DType::I32, "i32", "I32", 4, false},
    {DType::I64, "i64", "I64", 8, false},
    {DType::I1, "i1", "BOOL", 1, false},
    {DType::F64, "f64", nullptr, 8, true},
    {DType::U8, "u8", nullptr, 1, false},
};

const DTypeInfo *info(DType t) {
  for (const DTypeInfo &i : kInfos)
    if (i.type == t)
      return &i;
  return nullptr;
}

template <typename T> T loadUnaligned(const void *p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

double halfToDouble(uint16_t h) {
  int sign = h >> 15, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  double v;
  if (exp == 0)
    v = std::ldexp(man, -24);
  else if (exp == 31)
    v = man ? std::numeric_limits<double>::quiet_NaN()
            : std::numeric_limits<double>::infinity();
  else
    v = std::ldexp(man + 1024, exp - 25);
  return sign ? -v : v;
}

double e4m3fnToDouble(uint8_t b) {
  int sign = b >> 7, exp = (b >> 3) & 0xf, man = b & 7;
  double v;
  if (exp == 15 && man == 7)
    v = std::numeric_limits<double>::quiet_NaN();
  else if (exp == 0)
    v = std::ldexp(man, -9);
  else
    v = std::ldexp(man + 8, exp - 10);
  return sign ? -v : v;
}

// Generic round-to-nearest-even encoder for small IEEE-like formats with
// expBits exponent bits and manBits mantissa bits. `finiteMax` is the largest
// finite exponent field/mantissa combination; `inf` the code for +infinity
// (or the NaN code for formats without one).
uint32_t encodeSmallFloat(double v, int expBits, int manBits, bool hasInf,
                          uint32_t nanCode) {
  const uint32_t signBit = 1u << (expBits + manBits);
  const int bias = (1 << (expBits - 1)) - 1;
  const uint32_t expMax = (1u << expBits) - 1;
  if (std::isnan(v))
    return nanCode;
  uint32_t sign = std::signbit(v) ? signBit : 0;
  double a = std::fabs(v);
  uint32_t overflow = hasInf ? (expMax << manBits) : nanCode & ~signBit;
  if (std::isinf(a))
    return sign | overflow;
  if (a == 0)
    return sign;
  int x;
  std::frexp(a, &x); // a = f * 2^x, f in [0.5, 1)
  int e = x - 1;
  const int emin = 1 - bias;
  if (e < emin)
    e = emin;
  double q = std::nearbyint(std::ldexp(a, manBits - e)); // ties to even
  if (q >= std::ldexp(1.0, manBits + 1)) {
    q = std::ldexp(q, -1); // rounding carried into the next binade (exact)
    ++e;
  }
  uint32_t mant = static_cast<uint32_t>(q);
  uint32_t code;
  if (mant < (1u << manBits)) {
    code = mant; // subnormal (e == emin)
  } else {
    int field = e + bias;
    if (field > static_cast<int>(expMax) ||
        (hasInf && field == static_cast<int>(expMax)))
      return sign | overflow;
    code = (static_cast<uint32_t>(field) << manBits) | (mant - (1u << manBits));
    // Without inf, all-ones is NaN; it is the overflow of the largest value.
    if (!hasInf && code == (nanCode & ~signBit))
      return sign | overflow;
  }
  return sign | code;
}
} // namespace

size_t dtypeSize(DType t) {
  const DTypeInfo *i = info(t);
  return i ? i->size : 0;
}

const char *dtypeName(DType t) {
  const DTypeInfo *i = info(t);
  return i ? i->name : "?";
}

bool isAbiDType(DType t) {
  return static_cast<int>(t) >= 0 && static_cast<int>(t) <= 8;
}

bool isFloatDType(DType t) {
  const DTypeInfo *i = info(t);
  return i && i->isFloat;
}

std::optional<DType> parseDTypeName(std::string_view name, bool allowExtra) {
  for (const DTypeInfo &i : kInfos)
    if (name == i.name && (allowExtra || isAbiDType(i.type)))
      return i.type;
  return std::nullopt;
}

const char *safetensorsDTypeName(DType t) {
  const DTypeInfo *i = info(t);
  return i ? i->safetensors : nullptr;
}

std::optional<DType> parseSafetensorsDType(std::string_view name) {
  for (const DTypeInfo &i : kInfos)
    if (i.safetensors && name == i.safetensors)
      return i.type;
  return std::nullopt;
}

double loadAsDouble(DType t, const void *p) {
  switch (t) {
  case DType::F32:
    return loadUnaligned<float>(p);
  case DType::F64:
    return loadUnaligned<double>(p);
  case DType::F16:
    return halfToDouble(loadUnaligned<uint16_t>(p));
  case DType::BF16: {
    uint32_t bits = static_cast<uint32_t>(loadUnaligned<uint16_t>(p)) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  case DType::F8E4M3FN:
    return e4m3fnToDouble(loadUnaligned<uint8_t>(p));
  case DType::F8E8M0FNU: {
    uint8_t b = loadUnaligned<uint8_t>(p);
    return b == 0xff ? std::numeric_limits<double>::quiet_NaN()
                     : std::ldexp(1.0, static_cast<int>(b) - 127);
  }
  case DType::I8:
    return loadUnaligned<int8_t>(p);
  case DType::U8:
  case DType::I1:
    return loadUnaligned<uint8_t>(p);
  case DType::I32:
    return loadUnaligned<int32_t>(p);
  case DType::I64:
    return static_cast<double>(loadUnaligned<int64_t>(p));
  }
  return std::numeric_limits<double>::quiet_NaN();
}

bool storeFloat(DType t, double v, void *p) {
  switch (t) {
  case DType::F32: {
    float f = static_cast<float>(v);
    std::memcpy(p, &f, 4);
    return true;
  }
  case DType::F64:
    std::memcpy(p, &v, 8);
    return true;
  case DType::F16: {
    uint16_t h =
        static_cast<uint16_t>(encodeSmallFloat(v, 5, 10, true, 0x7e00));
    std::memcpy(p, &h, 2);
    return true;
  }
  case DType::BF16: {
    uint16_t h = static_cast<uint16_t>(encodeSmallFloat(v, 8, 7, true, 0x7fc0));
    std::memcpy(p, &h, 2);
    return true;
  }
  case DType::F8E4M3FN: {
    uint8_t b = static_cast<uint8_t>(encodeSmallFloat(v, 4, 3, false, 0x7f));
    std::memcpy(p, &b, 1);
    return true;
  }
  default:
    return false;
  }
}

std::optional<uint64_t> findInvalidI1(const void *data, uint64_t count) {
  const uint8_t *p = static_cast<const uint8_t *>(data);
  for (uint64_t i = 0; i < count; ++i)
    if (p[i] > 1)
      return i;
  return std::nullopt;
}

std::string describeInvalidI1(const std::vector<int64_t> &shape,
                              const void *data, uint64_t flat) {
  std::string s;
  if (!shape.empty()) {
    std::vector<int64_t> index(shape.size());
    uint64_t rest = flat;
    for (size_t i = shape.size(); i-- > 0;) {
      index[i] = static_cast<int64_t>(rest % static_cast<uint64_t>(shape[i]));
      rest /= static_cast<uint64_t>(shape[i]);
    }
    s = " element [";
    for (size_t i = 0; i < index.size(); ++i)
      s += (i ? ", " : "") + std::to_string(index[i]);
    s += "]";
  }
  return s + " = " + std::to_string(static_cast<const uint8_t *>(data)[flat]) +
         " is not a valid i1 (0 or 1)";
}

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? "," : "") +
         (shape[i] == -1 ? std::string("?") : std::to_string(shape[i]));
  return s + "]";
}

std::string describe(DType t, const std::vector<int64_t> &shape) {
  return std::string(dtypeName(t)) + shapeString(shape);
}

std::optional<uint64_t> checkedElementCount(const std::vector<int64_t> &shape) {
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(n, static_cast<uint64_t>(d), &n))
      return std::nullopt;
  }
  return n;
}

std::optional<uint64_t> checkedByteSize(DType t,
                                        const std::vector<int64_t> &shape) {
  std::optional<uint64_t> n = checkedElementCount(shape);
  uint64_t bytes;
  if (!n || __builtin_mul_overflow(*n, dtypeSize(t), &bytes))
    return std::nullopt;
  return bytes;
}

} // namespace dsv3rt::impl
