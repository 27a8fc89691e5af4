/* A module whose ABI version and metadata the test sets before loading it
 * (it dlopens the same file first and writes these globals), so one shared
 * object covers every metadata fault. */
#include <stdint.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT uint32_t fake_abi_version = 4;
EXPORT const char *fake_metadata = "{}";

EXPORT uint32_t dsv3_module_abi_version(void) { return fake_abi_version; }
EXPORT const char *dsv3_module_metadata(void) { return fake_metadata; }
EXPORT void dsv3_entry_noop(void **args) { (void)args; }
