// Stacked parameters (ABI v2): a parameter of shape [E, ...rest] whose name
// holds the placeholder "{e}" is bound from the E checkpoint tensors named
// with "{e}" replaced by 0..E-1. These helpers expand the names and decide
// whether the E tensors can be used in place (zero copy) or must be gathered.
#ifndef DSV3_LIB_RUNTIME_STACKED_H
#define DSV3_LIB_RUNTIME_STACKED_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dsv3rt::impl {

inline constexpr std::string_view kExpertPlaceholder = "{e}";

// Number of (non-overlapping) occurrences of "{e}" in name.
size_t countExpertPlaceholders(std::string_view name);

// pattern with its first "{e}" replaced by the decimal expert index.
std::string expertTensorName(std::string_view pattern, int64_t expert);

// Where one expert's tensor lives: the file it was read from (any identity,
// compared by address) and its data in that file's mapping.
struct ExpertSlice {
  const void *file;
  const uint8_t *data;
};

// The address of the [E, ...] block when the experts can be passed in place:
// E >= 1, bytesPerExpert >= 1, all slices in the same file, expert e's data
// starting exactly at experts[0].data + e * bytesPerExpert, and
// experts[0].data aligned to `alignment` bytes (a power of two). nullptr
// otherwise; the caller then gathers the experts into one buffer.
const uint8_t *stackedView(const std::vector<ExpertSlice> &experts,
                           uint64_t bytesPerExpert, size_t alignment);

} // namespace dsv3rt::impl

#endif // DSV3_LIB_RUNTIME_STACKED_H
