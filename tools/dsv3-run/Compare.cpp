#include "Compare.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

namespace dsv3run {

using namespace dsv3rt::impl;

namespace {

std::string fmt(const char *format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string indexString(uint64_t flat, const std::vector<int64_t> &shape) {
  std::vector<int64_t> idx(shape.size());
  for (size_t i = shape.size(); i-- > 0;) {
    idx[i] = static_cast<int64_t>(flat % static_cast<uint64_t>(shape[i]));
    flat /= static_cast<uint64_t>(shape[i]);
  }
  std::string s = "[";
  for (size_t i = 0; i < idx.size(); ++i)
    s += (i ? ", " : "") + std::to_string(idx[i]);
  return s + "]";
}

} // namespace

CompareResult compareTensors(size_t index, const HostTensor &got,
                             const HostTensor &expected, double rtol,
                             double atol) {
  const std::string name = "output " + std::to_string(index);
  if (got.shape != expected.shape)
    return {false, name + ": shape " + describe(got.dtype, got.shape) +
                       " does not match expected " +
                       describe(expected.dtype, expected.shape)};
  const bool bitExact = rtol == 0 && atol == 0 && got.dtype == expected.dtype;
  const size_t gs = dtypeSize(got.dtype), es = dtypeSize(expected.dtype);
  const uint64_t n = got.elementCount();
  uint64_t bad = 0, worst = 0;
  double worstAbs = -1, maxAbs = 0, maxRel = 0;
  for (uint64_t i = 0; i < n; ++i) {
    const uint8_t *gp = got.data() + i * gs, *ep = expected.data() + i * es;
    double g = loadAsDouble(got.dtype, gp);
    double e = loadAsDouble(expected.dtype, ep);
    double abs, rel;
    bool match;
    if (std::isnan(g) || std::isnan(e)) {
      match = std::isnan(g) && std::isnan(e);
      abs = rel = match ? 0 : std::numeric_limits<double>::infinity();
    } else if (std::isinf(g) || std::isinf(e)) {
      match = g == e;
      abs = rel = match ? 0 : std::numeric_limits<double>::infinity();
    } else {
      abs = std::fabs(g - e);
      rel = abs == 0 ? 0
            : e == 0 ? std::numeric_limits<double>::infinity()
                     : abs / std::fabs(e);
      match = bitExact ? std::memcmp(gp, ep, gs) == 0
                       : abs <= atol + rtol * std::fabs(e);
    }
    maxAbs = std::fmax(maxAbs, abs);
    maxRel = std::fmax(maxRel, rel);
    if (!match) {
      if (abs > worstAbs) {
        worstAbs = abs;
        worst = i;
      }
      ++bad;
    }
  }
  std::string stats = "max abs error " + fmt("%.3g", maxAbs) +
                      ", max rel error " + fmt("%.3g", maxRel);
  if (bad == 0)
    return {true, name + ": " + std::to_string(n) + " elements match (" +
                      stats + ")"};
  double g = loadAsDouble(got.dtype, got.data() + worst * gs);
  double e = loadAsDouble(expected.dtype, expected.data() + worst * es);
  double abs = std::fabs(g - e);
  double rel = e == 0 ? (abs == 0 ? 0 : std::numeric_limits<double>::infinity())
                      : abs / std::fabs(e);
  if (std::isnan(g) != std::isnan(e))
    abs = rel = std::numeric_limits<double>::quiet_NaN();
  return {false, name + ": " + std::to_string(bad) + " of " +
                     std::to_string(n) + " elements differ; worst at " +
                     indexString(worst, got.shape) + ": got " + fmt("%.6g", g) +
                     " expected " + fmt("%.6g", e) + " (abs " +
                     fmt("%.3g", abs) + ", rel " + fmt("%.3g", rel) + "); " +
                     stats};
}

} // namespace dsv3run
