// Calls into module code with a way out when the module cannot get memory.
//
// A module's buffers come from the runtime: host modules allocate through
// their exported `dsv3_module_allocator` (abi.h), which the loader points
// here, and cuda modules through mgpuMemAlloc. When an allocation fails inside
// a call, the runtime jumps back to the start of the call (siglongjmp), frees
// every buffer the call still held, and throws an Error; the module never
// sees a NULL. Jumping over module frames is sound because they are
// LLVM-generated C-like code: no destructors, locks or exception handlers.
#ifndef DSV3_LIB_RUNTIME_MODULECALL_H
#define DSV3_LIB_RUNTIME_MODULECALL_H

#include "dsv3/Runtime/abi.h"

#include <cstdint>
#include <string>

namespace dsv3rt::impl {

// Points the module's `dsv3_module_allocator`, if it exports one, at the
// runtime's allocator. Modules without it (no intermediate buffers, older
// compilers) keep calling malloc directly.
void installModuleAllocator(void *dlHandle);

// Runs fn(args). If an allocation fails inside, frees what the call held and
// throws Error("<what>: the module could not allocate ...").
void callModule(dsv3_entry_fn fn, void **args, const std::string &what);

// For the runtime's mgpu* functions: a device buffer the running call (if
// any) holds until it frees it, and the failure of one. Outside a call
// moduleAllocationFailed returns and the caller reports as before.
void trackModuleBuffer(void *ptr, void (*release)(void *));
void untrackModuleBuffer(void *ptr);
void moduleAllocationFailed(uint64_t bytes, const char *memory);

} // namespace dsv3rt::impl

#endif // DSV3_LIB_RUNTIME_MODULECALL_H
