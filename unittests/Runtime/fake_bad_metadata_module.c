/* A module whose metadata is not JSON. */
#include <stdint.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT uint32_t dsv3_module_abi_version(void) { return 4; }
EXPORT const char *dsv3_module_metadata(void) {
  return "{\"abi_version\": 4, \"target\": \"host\", \"entries\": [";
}
