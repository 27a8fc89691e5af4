/* The module ABI shared by dsv3-compile output and libdsv3rt.
 *
 * See docs/runtime-abi.md for the full contract. This header is plain C so a
 * module's C glue and the runtime agree on the numbers without depending on
 * each other. */
#ifndef DSV3_RUNTIME_ABI_H
#define DSV3_RUNTIME_ABI_H

#include <stddef.h>
#include <stdint.h>

/* Bumped on any incompatible change to the exports, metadata or calling
 * convention; the loader rejects modules built for another version. */
#define DSV3_ABI_VERSION 4

/* Element types. The metadata spells them "f32", "f16", "bf16", "f8e4m3fn",
 * "f8e8m0fnu", "i8", "i32", "i64", "i1". The numeric values are part of the
 * C API, so never renumber them. */
typedef enum dsv3_dtype {
  DSV3_DTYPE_F32 = 0,
  DSV3_DTYPE_F16 = 1,
  DSV3_DTYPE_BF16 = 2,
  DSV3_DTYPE_F8E4M3FN = 3,
  DSV3_DTYPE_F8E8M0FNU = 4,
  DSV3_DTYPE_I8 = 5,
  DSV3_DTYPE_I32 = 6,
  DSV3_DTYPE_I64 = 7,
  DSV3_DTYPE_I1 = 8 /* one byte per element, 0 or 1 */
} dsv3_dtype;

#define DSV3_DTYPE_COUNT 9

/* Size in bytes of one element; 0 for a value outside the enum. */
static inline size_t dsv3_dtype_size(dsv3_dtype t) {
  switch (t) {
  case DSV3_DTYPE_F32:
  case DSV3_DTYPE_I32:
    return 4;
  case DSV3_DTYPE_F16:
  case DSV3_DTYPE_BF16:
    return 2;
  case DSV3_DTYPE_F8E4M3FN:
  case DSV3_DTYPE_F8E8M0FNU:
  case DSV3_DTYPE_I8:
  case DSV3_DTYPE_I1:
    return 1;
  case DSV3_DTYPE_I64:
    return 8;
  }
  return 0;
}

/* Role of an entry argument in the metadata ("input", "parameter",
 * "output", "state"). A state argument is a named buffer owned by the
 * session, shared by every entry that declares the same name and updated in
 * place (ABI v2). */
typedef enum dsv3_arg_role {
  DSV3_ROLE_INPUT = 0,
  DSV3_ROLE_PARAMETER = 1,
  DSV3_ROLE_OUTPUT = 2,
  DSV3_ROLE_STATE = 3
} dsv3_arg_role;

/* Memref descriptor layout (what args[i] of dsv3_entry_<name>(void **args)
 * points to) for an argument of rank R:
 *
 *   struct { void *allocated; void *aligned; int64_t offset;
 *            int64_t sizes[R]; int64_t strides[R]; }
 *
 * A rank-0 descriptor has only the first three fields. Offset and strides
 * count elements. The runtime passes dense row-major buffers: allocated ==
 * aligned
 * == data, offset 0, strides[R-1] = 1, strides[i] = strides[i+1] *
 * sizes[i+1]. This is the layout MLIR's LLVM lowering of memref expects, so
 * the descriptor is sized 2 pointers + (1 + 2R) int64 words. */
#define DSV3_DESCRIPTOR_WORDS(rank) (3 + 2 * (rank))

/* Signatures of the module exports. */
typedef uint32_t (*dsv3_module_abi_version_fn)(void);
typedef const char *(*dsv3_module_metadata_fn)(void);
typedef void (*dsv3_entry_fn)(void **args);

/* Optional data export `dsv3_module_allocator` (host modules): where the
 * module's intermediate buffers come from. The module initializes it to
 * libc's malloc and free; the runtime replaces both after dlopen, so that a
 * failed allocation ends the call with an error (instead of a NULL the module
 * would write through) and what the call had allocated is freed.
 * `alloc` never returns NULL to the module. */
typedef struct dsv3_module_allocator {
  void *(*alloc)(uint64_t bytes);
  void (*free)(void *ptr);
} dsv3_module_allocator;

#endif /* DSV3_RUNTIME_ABI_H */
