#include "ModuleCall.h"

#include "CudaDriver.h"
#include "Error.h"

#include <dlfcn.h>

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <unordered_map>

namespace dsv3rt::impl {

namespace {

// The module call running on this thread. Static storage, not a local of
// callModule: locals changed between sigsetjmp and siglongjmp are
// indeterminate after the jump.
struct CallFrame {
  bool active = false;
  sigjmp_buf env;
  // Buffers the call holds, and how to release each.
  std::unordered_map<void *, void (*)(void *)> live;
  uint64_t failedBytes = 0;
  const char *failedMemory = "";
};
thread_local CallFrame frame;

void releaseHost(void *p) { std::free(p); }

extern "C" void *moduleAlloc(uint64_t bytes) {
  // malloc(0) may return NULL; a zero-sized buffer still needs an address.
  void *p = std::malloc(bytes ? bytes : 1);
  if (p && frame.active) {
    try {
      frame.live.emplace(p, &releaseHost);
    } catch (...) { // the bookkeeping itself ran out of memory
      std::free(p);
      p = nullptr;
    }
  }
  if (!p)
    moduleAllocationFailed(bytes, "host memory");
  return p;
}

extern "C" void moduleFree(void *p) {
  untrackModuleBuffer(p);
  std::free(p);
}

std::string humanBytes(uint64_t bytes) {
  const char *units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 6) {
    v /= 1024;
    ++u;
  }
  char text[32];
  std::snprintf(text, sizeof(text), u ? "%.1f %s" : "%.0f %s", v, units[u]);
  return text;
}

} // namespace

void installModuleAllocator(void *dlHandle) {
  auto *allocator = static_cast<dsv3_module_allocator *>(
      dlsym(dlHandle, "dsv3_module_allocator"));
  if (!allocator)
    return;
  allocator->alloc = &moduleAlloc;
  allocator->free = &moduleFree;
}

void trackModuleBuffer(void *ptr, void (*release)(void *)) {
  if (!frame.active || !ptr)
    return;
  try {
    frame.live.emplace(ptr, release);
  } catch (...) {
    release(ptr);
    moduleAllocationFailed(0, "host memory for the runtime's bookkeeping");
  }
}

void untrackModuleBuffer(void *ptr) {
  if (frame.active && ptr)
    frame.live.erase(ptr);
}

void moduleAllocationFailed(uint64_t bytes, const char *memory) {
  if (!frame.active)
    return;
  frame.failedBytes = bytes;
  frame.failedMemory = memory;
  siglongjmp(frame.env, 1);
}

void callModule(dsv3_entry_fn fn, void **args, const std::string &what) {
  if (frame.active)
    fail(what + ": internal error: a module call is already running on this "
                "thread");
  frame.live.clear();
  frame.active = true;
  if (sigsetjmp(frame.env, /*savemask=*/0) == 0) {
    fn(args);
    frame.active = false;
    frame.live.clear();
    return;
  }
  // Back from moduleAllocationFailed: nothing after the failed allocation
  // ran. Release in any order; the module's buffers do not refer to each
  // other's lifetimes.
  frame.active = false;
  size_t held = frame.live.size();
  for (auto &[ptr, release] : frame.live)
    release(ptr);
  frame.live.clear();
  // A driver error recorded by the failed cuMemAlloc is explained here.
  std::string driverError = cuda::takeError();
  fail(what + ": the module could not allocate " +
       std::to_string(frame.failedBytes) + " bytes (" +
       humanBytes(frame.failedBytes) + ") of " + frame.failedMemory +
       (driverError.empty() ? "" : " (" + driverError + ")") +
       "; the call was abandoned" +
       (held ? " and the " + std::to_string(held) + " buffers it held freed"
             : std::string()) +
       ". Inputs of this size need more memory than this machine gives; the "
       "session's states may hold a partial update from this call");
}

} // namespace dsv3rt::impl
