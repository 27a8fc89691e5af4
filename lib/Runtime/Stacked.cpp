#include "Stacked.h"

namespace dsv3rt::impl {

size_t countExpertPlaceholders(std::string_view name) {
  size_t count = 0;
  for (size_t pos = name.find(kExpertPlaceholder); pos != std::string::npos;
       pos = name.find(kExpertPlaceholder, pos + kExpertPlaceholder.size()))
    ++count;
  return count;
}

std::string expertTensorName(std::string_view pattern, int64_t expert) {
  std::string name(pattern);
  size_t pos = name.find(kExpertPlaceholder);
  if (pos != std::string::npos)
    name.replace(pos, kExpertPlaceholder.size(), std::to_string(expert));
  return name;
}

const uint8_t *stackedView(const std::vector<ExpertSlice> &experts,
                           uint64_t bytesPerExpert, size_t alignment) {
  if (experts.empty() || bytesPerExpert == 0)
    return nullptr;
  // Compare addresses as integers: the expected position of expert e may lie
  // outside any object when the layout does not match.
  const uintptr_t base = reinterpret_cast<uintptr_t>(experts[0].data);
  if (alignment && base % alignment != 0)
    return nullptr;
  for (size_t e = 0; e < experts.size(); ++e) {
    if (experts[e].file != experts[0].file)
      return nullptr;
    uint64_t offset;
    uintptr_t expected;
    if (__builtin_mul_overflow(static_cast<uint64_t>(e), bytesPerExpert,
                               &offset) ||
        __builtin_add_overflow(base, offset, &expected) ||
        reinterpret_cast<uintptr_t>(experts[e].data) != expected)
      return nullptr;
  }
  return experts[0].data;
}

} // namespace dsv3rt::impl
