// Comparison of an output against a reference, numpy.allclose-style.
#ifndef DSV3_TOOLS_DSV3RUN_COMPARE_H
#define DSV3_TOOLS_DSV3RUN_COMPARE_H

#include "HostTensor.h"

#include <string>

namespace dsv3run {

struct CompareResult {
  bool ok;
  std::string message; // one line, without the [SUCCESS]/[FAILED] tag
};

// Both sides are converted to float64; an element matches when
// |got - expected| <= atol + rtol * |expected|, or both are NaN, or both are
// the same infinity. With rtol = atol = 0 and equal dtypes the bits must be
// identical (any NaN still matches any NaN).
CompareResult compareTensors(size_t index, const dsv3rt::impl::HostTensor &got,
                             const dsv3rt::impl::HostTensor &expected,
                             double rtol, double atol);

} // namespace dsv3run

#endif // DSV3_TOOLS_DSV3RUN_COMPARE_H
