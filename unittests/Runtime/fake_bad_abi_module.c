/* A module built for a future ABI; the loader must refuse it. */
#include <stdint.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT uint32_t dsv3_module_abi_version(void) { return 7; }
EXPORT const char *dsv3_module_metadata(void) {
  return "{\"abi_version\": 7, \"target\": \"host\", \"entries\": []}";
}
