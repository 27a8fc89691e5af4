#include "Npy.h"

#include "Error.h"
#include "MappedFile.h"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>

namespace dsv3rt::impl {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

struct DescrMap {
  const char *descr;
  DType dtype;
};
constexpr DescrMap kDescrs[] = {
    {"<f4", DType::F32}, {"<f2", DType::F16}, {"<f8", DType::F64},
    {"<i4", DType::I32}, {"<i8", DType::I64}, {"|i1", DType::I8},
    {"|u1", DType::U8},  {"|b1", DType::I1},
};
// What np.save writes for the ml_dtypes arrays of the dtypes numpy lacks.
// The writer uses the first entry of a dtype; the reader takes any void descr
// of the right size ('<V2' or '|V2', ...) as the dtype its caller expects.
constexpr DescrMap kVoidDescrs[] = {
    {"<V2", DType::BF16},
    {"<V1", DType::F8E4M3FN},
    {"<V1", DType::F8E8M0FNU},
};
constexpr char kVoidHelp[] =
    "a void dtype is read only as bf16 ('<V2', an ml_dtypes bfloat16 array) "
    "or f8e4m3fn/f8e8m0fnu ('<V1', ml_dtypes float8_e4m3fn/float8_e8m0fnu), "
    "for an argument of that dtype";

// Header text quoted in an error: a crafted file's header may be up to
// 4 GB, so only its start is echoed.
std::string quoted(const std::string &text, char quote = '"') {
  constexpr size_t kQuoted = 200;
  if (text.size() <= kQuoted)
    return quote + text + quote;
  return quote + text.substr(0, kQuoted) + quote + "... (" +
         std::to_string(text.size()) + " characters in all)";
}

// Parser for the header, a Python dict literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }.
class HeaderParser {
public:
  HeaderParser(const std::string &path, const std::string &text)
      : path_(path), text_(text) {}

  [[noreturn]] void error(const std::string &what) {
    fail(path_ + ": malformed npy header: " + what + " at offset " +
         std::to_string(pos_) + " in " + quoted(text_));
  }
  void skipSpace() {
    while (pos_ < text_.size() && std::isspace((unsigned char)text_[pos_]))
      ++pos_;
  }
  bool consume(char c) {
    skipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!consume(c))
      error(std::string("expected '") + c + "'");
  }
  std::string parseString() {
    skipSpace();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"'))
      error("expected a string");
    char quote = text_[pos_++];
    size_t end = text_.find(quote, pos_);
    if (end == std::string::npos)
      error("unterminated string");
    std::string s = text_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return s;
  }
  bool parseBool() {
    skipSpace();
    for (auto [word, value] : {std::pair{"True", true}, {"False", false}}) {
      size_t n = std::strlen(word);
      if (text_.compare(pos_, n, word) == 0) {
        pos_ += n;
        return value;
      }
    }
    error("expected True or False");
  }
  std::vector<int64_t> parseShape() {
    expect('(');
    std::vector<int64_t> shape;
    while (!consume(')')) {
      skipSpace();
      size_t start = pos_;
      while (pos_ < text_.size() && std::isdigit((unsigned char)text_[pos_]))
        ++pos_;
      if (start == pos_)
        error("expected a non-negative integer dimension");
      errno = 0;
      long long v = std::strtoll(text_.c_str() + start, nullptr, 10);
      if (errno == ERANGE)
        error("dimension out of range");
      shape.push_back(v);
      if (!consume(',')) {
        expect(')');
        break;
      }
    }
    return shape;
  }
  void parse(std::string &descr, bool &fortran, std::vector<int64_t> &shape) {
    expect('{');
    std::map<std::string, bool> seen;
    while (!consume('}')) {
      std::string key = parseString();
      if (seen[key])
        error("duplicate key " + quoted(key, '\''));
      seen[key] = true;
      expect(':');
      if (key == "descr")
        descr = parseString();
      else if (key == "fortran_order")
        fortran = parseBool();
      else if (key == "shape")
        shape = parseShape();
      else
        error("unexpected key " + quoted(key, '\''));
      if (!consume(',')) {
        expect('}');
        break;
      }
    }
    skipSpace();
    if (pos_ != text_.size())
      error("trailing characters after the dict");
    for (const char *k : {"descr", "fortran_order", "shape"})
      if (!seen[k])
        fail(path_ + ": malformed npy header: missing key '" + k + "'");
  }

private:
  const std::string &path_;
  const std::string &text_;
  size_t pos_ = 0;
};

const char *descrFor(DType t) {
  for (const DescrMap &d : kDescrs)
    if (d.dtype == t)
      return d.descr;
  for (const DescrMap &d : kVoidDescrs)
    if (d.dtype == t)
      return d.descr;
  return nullptr;
}

// The element size of a void descr such as '<V2' or '|V1', or nullopt for
// any other descr.
std::optional<uint64_t> voidSize(const std::string &descr) {
  if (descr.size() < 3 || (descr[0] != '<' && descr[0] != '|') ||
      descr[1] != 'V' || descr.size() > 6)
    return std::nullopt;
  uint64_t n = 0;
  for (size_t i = 2; i < descr.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(descr[i])))
      return std::nullopt;
    n = n * 10 + (descr[i] - '0');
  }
  return n;
}

// The dtype of a void descr of n-byte elements: voidAs, the caller's, when
// np.save writes that dtype's ml_dtypes arrays with a void descr of this size.
// The bytes carry no type of their own, so nothing else is guessed.
DType voidDType(const std::string &path, const std::string &descr, uint64_t n,
                std::optional<DType> voidAs) {
  const std::string what = path + ": npy dtype " + quoted(descr, '\'') +
                           " (raw " + std::to_string(n) + "-byte elements)";
  if (!voidAs)
    fail(what + " does not say its type: " + kVoidHelp);
  for (const DescrMap &d : kVoidDescrs)
    if (d.dtype == *voidAs && dtypeSize(d.dtype) == n)
      return d.dtype;
  fail(what + " cannot be read as " + dtypeName(*voidAs) + " (" +
       std::to_string(dtypeSize(*voidAs)) + "-byte elements): " + kVoidHelp);
}

} // namespace

HostTensor readNpy(const std::string &path, std::optional<DType> voidAs) {
  MappedFile file(path);
  const uint8_t *p = file.data();
  const size_t size = file.size();
  if (size < kMagicLen + 2 || std::memcmp(p, kMagic, kMagicLen) != 0)
    fail(path + ": not an npy file (missing \\x93NUMPY magic)");
  const int major = p[6];
  size_t headerLen, headerStart;
  if (major == 1) {
    if (size < 10)
      fail(path + ": truncated npy file: header length missing");
    headerLen = p[8] | (p[9] << 8);
    headerStart = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12)
      fail(path + ": truncated npy file: header length missing");
    headerLen = static_cast<size_t>(p[8]) | (static_cast<size_t>(p[9]) << 8) |
                (static_cast<size_t>(p[10]) << 16) |
                (static_cast<size_t>(p[11]) << 24);
    headerStart = 12;
  } else {
    fail(path + ": unsupported npy format version " + std::to_string(major) +
         "." + std::to_string(p[7]));
  }
  if (headerLen > size - headerStart)
    fail(path + ": truncated npy file: header length " +
         std::to_string(headerLen) + " exceeds the file size");
  std::string header(reinterpret_cast<const char *>(p + headerStart),
                     headerLen);
  std::string descr;
  bool fortran = false;
  std::vector<int64_t> shape;
  HeaderParser(path, header).parse(descr, fortran, shape);

  if (fortran)
    fail(path + ": fortran_order arrays are not supported (save a "
                "C-contiguous array)");
  if (!descr.empty() && descr[0] == '>')
    fail(path + ": big-endian dtype " + quoted(descr, '\'') +
         " is not supported");
  std::optional<DType> dtype;
  for (const DescrMap &d : kDescrs)
    if (descr == d.descr)
      dtype = d.dtype;
  if (!dtype)
    if (std::optional<uint64_t> n = voidSize(descr))
      dtype = voidDType(path, descr, *n, voidAs);
  if (!dtype)
    fail(path + ": unsupported npy dtype " + quoted(descr, '\'') +
         " (supported: <f4 <f2 <f8 <i4 <i8 |i1 |u1 |b1, and <V2 <V1 as bf16 "
         "and f8)");

  std::optional<uint64_t> bytes = checkedByteSize(*dtype, shape);
  if (!bytes)
    fail(path + ": npy shape " + shapeString(shape) + " overflows");
  const uint64_t dataLen = size - headerStart - headerLen;
  if (dataLen < *bytes)
    fail(path + ": truncated npy data: shape " + shapeString(shape) + " of " +
         descr + " needs " + std::to_string(*bytes) + " bytes, file has " +
         std::to_string(dataLen));
  if (dataLen > *bytes)
    fail(path + ": npy data length " + std::to_string(dataLen) +
         " does not match shape " + shapeString(shape) + " of " + descr + " (" +
         std::to_string(*bytes) + " bytes)");
  HostTensor t(*dtype, shape);
  if (*bytes)
    std::memcpy(t.data(), p + headerStart + headerLen, *bytes);
  return t;
}

void writeNpy(const std::string &path, DType dtype,
              const std::vector<int64_t> &shape, const void *data,
              uint64_t size) {
  const char *descr = descrFor(dtype);
  if (!descr)
    fail(path + ": cannot write " + std::string(dtypeName(dtype)) +
         " to .npy; write this tensor to a .safetensors file instead");
  std::optional<uint64_t> bytes = checkedByteSize(dtype, shape);
  if (!bytes || *bytes != size)
    fail(path + ": tensor " + describe(dtype, shape) + " does not match its " +
         std::to_string(size) + " bytes of data");
  std::string dict = std::string("{'descr': '") + descr +
                     "', 'fortran_order': False, 'shape': (";
  // Spelled as numpy spells it ("(3,)", "(2, 3)"), so that the file is byte
  // for byte what np.save writes for the same array.
  for (size_t i = 0; i < shape.size(); ++i)
    dict += (i ? ", " : "") + std::to_string(shape[i]);
  dict += shape.size() == 1 ? ",), }" : "), }";
  // Pad with spaces and a newline so the data starts 64-byte aligned.
  size_t prefix = 10;
  size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64;
  bool v2 = total - prefix > 65535;
  if (v2) {
    prefix = 12;
    total = (prefix + dict.size() + 1 + 63) / 64 * 64;
  }
  dict.append(total - prefix - dict.size() - 1, ' ');
  dict += '\n';

  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out)
    fail(path + ": cannot open for writing: " + std::strerror(errno));
  out.write(kMagic, kMagicLen);
  const size_t len = dict.size();
  if (v2) {
    const char ver[2] = {2, 0};
    const char l[4] = {char(len & 0xff), char((len >> 8) & 0xff),
                       char((len >> 16) & 0xff), char((len >> 24) & 0xff)};
    out.write(ver, 2);
    out.write(l, 4);
  } else {
    const char ver[2] = {1, 0};
    const char l[2] = {char(len & 0xff), char((len >> 8) & 0xff)};
    out.write(ver, 2);
    out.write(l, 2);
  }
  out.write(dict.data(), static_cast<std::streamsize>(dict.size()));
  out.write(static_cast<const char *>(data),
            static_cast<std::streamsize>(size));
  out.close();
  if (!out)
    fail(path + ": write failed: " + std::strerror(errno));
}

} // namespace dsv3rt::impl
