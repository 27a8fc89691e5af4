// The C API boundary: every entry point catches all exceptions and returns
// them as a dsv3rt_status, so no C++ exception ever reaches a C caller.
#include "dsv3/Runtime/dsv3rt.h"

#include "Error.h"
#include "HostTensor.h"
#include "Module.h"

#include <cstring>
#include <mutex>
#include <new>

using namespace dsv3rt::impl;

struct dsv3rt_status_s {
  std::string message;
};

struct dsv3rt_session_s {
  // The state buffers outlive any module: modules may be unloaded and others
  // loaded that share the same states.
  StateStore states;
  // Held by every function that reads or changes the session or one of its
  // modules (dsv3rt.h, "Threads"): calls, binds, state access, loads and
  // unloads of one session run one at a time. Recursive, so a bind progress
  // callback may query the module it reports on.
  std::recursive_mutex mutex;

  explicit dsv3rt_session_s(Device device) : states(device) {}

  // The kernel profile as last read (dsv3rt_session_kernel_stat hands out
  // pointers into it).
  std::vector<KernelProfile::Stat> kernelStats;
};

struct dsv3rt_module_s {
  std::unique_ptr<Module> module;
  dsv3rt_session_s *session;
};

struct dsv3rt_tensor_s {
  HostTensor tensor;
};

namespace {

using SessionLock = std::lock_guard<std::recursive_mutex>;

// dsv3rt_session_set_threads' bound: past any machine this runs on, and a
// typo (10000) is an error rather than 10000 threads.
constexpr int kMaxThreads = 1024;

// Returned when even a status cannot be allocated: NULL would mean success.
dsv3rt_status_s outOfMemory{"out of memory"};

dsv3rt_status makeStatus(const std::string &message) {
  try {
    return new dsv3rt_status_s{message};
  } catch (...) {
    return &outOfMemory;
  }
}

template <typename F> dsv3rt_status guard(F body) {
  try {
    body();
    return nullptr;
  } catch (const std::bad_alloc &) {
    return makeStatus("out of memory");
  } catch (const std::exception &e) {
    return makeStatus(e.what());
  } catch (...) {
    return makeStatus("unknown internal error");
  }
}

void require(bool condition, const char *what) {
  if (!condition)
    fail(std::string("invalid argument: ") + what);
}

// The raw value of a dtype argument. C callers may pass any int; reading an
// out-of-range value as the C++ enum type would be undefined behaviour, so
// copy the bits instead.
int rawDType(const dsv3_dtype &dtype) {
  int raw;
  static_assert(sizeof raw == sizeof dtype, "dsv3_dtype is int-sized");
  std::memcpy(&raw, &dtype, sizeof raw);
  return raw;
}

bool validDType(int raw) { return raw >= 0 && raw < DSV3_DTYPE_COUNT; }

const EntryInfo &entryAt(const dsv3rt_module *m, size_t entry) {
  require(m, "module is NULL");
  const ModuleMetadata &md = m->module->metadata();
  if (entry >= md.entries.size())
    fail("entry index " + std::to_string(entry) + " out of range (" +
         std::to_string(md.entries.size()) + " entries)");
  return md.entries[entry];
}

} // namespace

extern "C" {

const char *dsv3rt_status_message(dsv3rt_status status) {
  return status ? status->message.c_str() : "ok";
}

void dsv3rt_status_free(dsv3rt_status status) {
  if (status != &outOfMemory)
    delete status;
}

const char *dsv3rt_dtype_name(dsv3_dtype dtype) {
  int raw = rawDType(dtype);
  return validDType(raw) ? dtypeName(static_cast<DType>(raw)) : "?";
}

dsv3rt_status dsv3rt_dtype_parse(const char *name, dsv3_dtype *out) {
  return guard([&] {
    require(name && out, "name or out is NULL");
    std::optional<DType> t = parseDTypeName(name);
    if (!t)
      fail(std::string("unknown dtype \"") + name +
           "\" (expected f32, f16, bf16, f8e4m3fn, f8e8m0fnu, i8, i32, i64 or "
           "i1)");
    *out = static_cast<dsv3_dtype>(*t);
  });
}

dsv3rt_status dsv3rt_session_create(const char *device, dsv3rt_session **out) {
  return guard([&] {
    require(device && out, "device or out is NULL");
    *out = nullptr;
    Device d;
    if (std::strcmp(device, "host") == 0)
      d = Device::Host;
    else if (std::strcmp(device, "cuda") == 0)
      d = Device::Cuda;
    else
      fail(std::string("unknown device \"") + device +
           "\" (expected \"host\" or \"cuda\")");
    *out = new dsv3rt_session_s(d);
  });
}

void dsv3rt_session_destroy(dsv3rt_session *session) {
  try {
    delete session;
  } catch (...) {
    // Destructors do not throw; this only keeps the C boundary watertight.
  }
}

const char *dsv3rt_session_device(const dsv3rt_session *session) {
  return session ? deviceName(session->states.device()) : "?";
}

dsv3rt_status dsv3rt_session_set_threads(dsv3rt_session *session, int threads) {
  return guard([&] {
    require(session, "session is NULL");
    if (threads < 0 || threads > kMaxThreads)
      fail("thread count " + std::to_string(threads) +
           " out of range (0 = libomp's default, or 1.." +
           std::to_string(kMaxThreads) + ")");
    SessionLock lock(session->mutex);
    session->states.setThreads(threads);
  });
}

int dsv3rt_session_threads(const dsv3rt_session *session) {
  if (!session)
    return 0;
  SessionLock lock(const_cast<dsv3rt_session *>(session)->mutex);
  return session->states.threads();
}

dsv3rt_status dsv3rt_session_set_kernel_profiling(dsv3rt_session *session,
                                                  int enabled) {
  return guard([&] {
    require(session, "session is NULL");
    SessionLock lock(session->mutex);
    session->states.kernelProfile().setEnabled(enabled != 0);
    session->kernelStats.clear();
  });
}

size_t dsv3rt_session_kernel_stat_count(dsv3rt_session *session) {
  if (!session)
    return 0;
  try {
    SessionLock lock(session->mutex);
    session->kernelStats = session->states.kernelProfile().stats();
    return session->kernelStats.size();
  } catch (...) { // out of memory copying the names
    return 0;
  }
}

dsv3rt_status dsv3rt_session_kernel_stat(dsv3rt_session *session, size_t index,
                                         dsv3rt_kernel_stat *out) {
  return guard([&] {
    require(session && out, "session or out is NULL");
    SessionLock lock(session->mutex);
    // Read afresh unless dsv3rt_session_kernel_stat_count just did.
    if (index >= session->kernelStats.size())
      session->kernelStats = session->states.kernelProfile().stats();
    if (index >= session->kernelStats.size())
      fail("kernel stat index " + std::to_string(index) + " out of range (" +
           std::to_string(session->kernelStats.size()) + " kernels)");
    const KernelProfile::Stat &k = session->kernelStats[index];
    *out = {k.name.c_str(), k.launches, k.ms};
  });
}

size_t dsv3rt_session_state_count(const dsv3rt_session *session) {
  if (!session)
    return 0;
  SessionLock lock(const_cast<dsv3rt_session *>(session)->mutex);
  return session->states.size();
}

dsv3rt_status dsv3rt_session_state_info(const dsv3rt_session *session,
                                        size_t index, dsv3rt_state_info *info) {
  return guard([&] {
    require(session && info, "session or info is NULL");
    SessionLock lock(const_cast<dsv3rt_session *>(session)->mutex);
    if (index >= session->states.size())
      fail("state index " + std::to_string(index) + " out of range (" +
           std::to_string(session->states.size()) + " states)");
    const StateBuffer &s = session->states.at(index);
    info->name = s.name.c_str();
    info->dtype = static_cast<dsv3_dtype>(s.dtype);
    info->rank = s.shape.size();
    info->shape = s.shape.data();
  });
}

dsv3rt_status dsv3rt_session_read_state(dsv3rt_session *session,
                                        const char *name, dsv3rt_tensor **out) {
  return guard([&] {
    require(session && name && out, "session, name or out is NULL");
    *out = nullptr;
    SessionLock lock(session->mutex);
    auto t = std::make_unique<dsv3rt_tensor_s>(
        dsv3rt_tensor_s{session->states.read(name)});
    *out = t.release();
  });
}

dsv3rt_status dsv3rt_session_write_state(dsv3rt_session *session,
                                         const char *name,
                                         const dsv3rt_tensor *value) {
  return guard([&] {
    require(session && name && value, "session, name or value is NULL");
    SessionLock lock(session->mutex);
    session->states.write(name, value->tensor);
  });
}

dsv3rt_status dsv3rt_session_reset_state(dsv3rt_session *session) {
  return guard([&] {
    require(session, "session is NULL");
    SessionLock lock(session->mutex);
    session->states.reset();
  });
}

dsv3rt_status dsv3rt_module_load(dsv3rt_session *session, const char *path,
                                 dsv3rt_module **out) {
  return guard([&] {
    require(session && path && out, "session, path or out is NULL");
    *out = nullptr;
    SessionLock lock(session->mutex);
    auto m = std::make_unique<Module>(session->states, path);
    *out = new dsv3rt_module_s{std::move(m), session};
  });
}

void dsv3rt_module_unload(dsv3rt_module *module) {
  try {
    if (!module)
      return;
    // Not while another thread calls or binds it.
    SessionLock lock(module->session->mutex);
    delete module;
  } catch (...) {
    // Destructors do not throw; this only keeps the C boundary watertight.
  }
}

const char *dsv3rt_module_target(const dsv3rt_module *module) {
  return module ? module->module->metadata().target.c_str() : "?";
}

size_t dsv3rt_module_kernel_cost_count(const dsv3rt_module *module) {
  return module ? module->module->metadata().kernels.size() : 0;
}

dsv3rt_status dsv3rt_module_kernel_cost(const dsv3rt_module *module,
                                        size_t index, dsv3rt_kernel_cost *out) {
  return guard([&] {
    require(module && out, "module or out is NULL");
    const std::vector<KernelCost> &all = module->module->metadata().kernels;
    if (index >= all.size())
      fail("kernel cost index " + std::to_string(index) + " out of range (" +
           std::to_string(all.size()) + " kernels)");
    const KernelCost &k = all[index];
    *out = {k.name.c_str(), k.bytes.value_or(DSV3RT_COST_UNKNOWN),
            k.flops.value_or(DSV3RT_COST_UNKNOWN)};
  });
}

size_t dsv3rt_module_entry_count(const dsv3rt_module *module) {
  return module ? module->module->metadata().entries.size() : 0;
}

const char *dsv3rt_module_entry_name(const dsv3rt_module *module,
                                     size_t entry) {
  if (!module || entry >= module->module->metadata().entries.size())
    return nullptr;
  return module->module->metadata().entries[entry].name.c_str();
}

dsv3rt_status dsv3rt_module_find_entry(const dsv3rt_module *module,
                                       const char *name, size_t *entry) {
  return guard([&] {
    require(module && name && entry, "module, name or entry is NULL");
    *entry = module->module->findEntry(name);
  });
}

dsv3rt_status dsv3rt_module_arg_count(const dsv3rt_module *module, size_t entry,
                                      size_t *count) {
  return guard([&] {
    require(count, "count is NULL");
    *count = entryAt(module, entry).args.size();
  });
}

dsv3rt_status dsv3rt_module_arg_info(const dsv3rt_module *module, size_t entry,
                                     size_t arg, dsv3rt_arg_info *info) {
  return guard([&] {
    require(info, "info is NULL");
    const EntryInfo &e = entryAt(module, entry);
    if (arg >= e.args.size())
      fail("entry \"" + e.name + "\": argument index " + std::to_string(arg) +
           " out of range (" + std::to_string(e.args.size()) + " arguments)");
    const ArgInfo &a = e.args[arg];
    info->name = a.name.c_str();
    info->role = a.role;
    info->dtype = static_cast<dsv3_dtype>(a.dtype);
    info->rank = a.shape.size();
    info->shape = a.shape.data();
  });
}

dsv3rt_status dsv3rt_module_arg_attrs(const dsv3rt_module *module, size_t entry,
                                      size_t arg, dsv3rt_arg_attrs *attrs) {
  return guard([&] {
    require(attrs, "attrs is NULL");
    const EntryInfo &e = entryAt(module, entry);
    if (arg >= e.args.size())
      fail("entry \"" + e.name + "\": argument index " + std::to_string(arg) +
           " out of range (" + std::to_string(e.args.size()) + " arguments)");
    const ArgInfo &a = e.args[arg];
    attrs->stacked = a.stacked;
    attrs->has_bounds = a.bounds.has_value();
    attrs->bounds_min = a.bounds ? a.bounds->min : 0;
    attrs->bounds_max = a.bounds ? a.bounds->max : 0;
    attrs->bounds_why = a.bounds ? a.bounds->why.c_str() : "";
  });
}

dsv3rt_status dsv3rt_module_bind_parameters(dsv3rt_module *module,
                                            const char *const *paths,
                                            size_t path_count) {
  return guard([&] {
    require(module, "module is NULL");
    require(paths || path_count == 0, "paths is NULL");
    SessionLock lock(module->session->mutex);
    std::vector<std::string> p;
    for (size_t i = 0; i < path_count; ++i) {
      require(paths[i], "a parameter path is NULL");
      p.emplace_back(paths[i]);
    }
    module->module->bindParameters(p);
  });
}

size_t dsv3rt_module_bound_file_count(const dsv3rt_module *module) {
  if (!module)
    return 0;
  SessionLock lock(module->session->mutex);
  return module->module->boundFileCount();
}

size_t dsv3rt_module_parameter_sharing_count(const dsv3rt_module *module) {
  if (!module)
    return 0;
  SessionLock lock(module->session->mutex);
  return module->module->sharing().size();
}

dsv3rt_status dsv3rt_module_parameter_sharing(const dsv3rt_module *module,
                                              size_t index,
                                              dsv3rt_parameter_sharing *out) {
  return guard([&] {
    require(module, "module is NULL");
    require(out, "out is NULL");
    SessionLock lock(module->session->mutex);
    const auto &all = module->module->sharing();
    if (index >= all.size())
      fail("parameter sharing index " + std::to_string(index) +
           " out of range (" + std::to_string(all.size()) + ")");
    const auto &s = all[index];
    *out = {s.name.c_str(), s.sameAs.c_str(), s.identical ? 1 : 0, s.bytes};
  });
}

dsv3rt_status dsv3rt_module_bind_entry_parameters(dsv3rt_module *module,
                                                  size_t entry,
                                                  const char *const *paths,
                                                  size_t path_count) {
  return guard([&] {
    entryAt(module, entry);
    require(paths || path_count == 0, "paths is NULL");
    SessionLock lock(module->session->mutex);
    std::vector<std::string> p;
    for (size_t i = 0; i < path_count; ++i) {
      require(paths[i], "a parameter path is NULL");
      p.emplace_back(paths[i]);
    }
    module->module->bindParameters(p, entry);
  });
}

dsv3rt_status dsv3rt_module_set_bind_progress(dsv3rt_module *module,
                                              dsv3rt_bind_progress_fn fn,
                                              void *user_data) {
  return guard([&] {
    require(module, "module is NULL");
    SessionLock lock(module->session->mutex);
    if (!fn) {
      module->module->setBindProgress({});
      return;
    }
    module->module->setBindProgress([fn, user_data](const BindProgress &p) {
      dsv3rt_bind_progress c;
      c.files_done = p.files.filesDone;
      c.files_total = p.files.filesKnown;
      c.file_bytes_done = p.files.bytesDone;
      c.file_bytes_total = p.files.bytesKnown;
      c.parameters_done = p.parametersDone;
      c.parameters_total = p.parametersTotal;
      c.parameter_bytes_done = p.parameterBytesDone;
      c.parameter_bytes_total = p.parameterBytesTotal;
      fn(&c, user_data);
    });
  });
}

dsv3rt_status dsv3rt_module_call(dsv3rt_module *module, size_t entry,
                                 dsv3rt_tensor *const *inputs,
                                 size_t input_count, dsv3rt_tensor **outputs,
                                 size_t output_count) {
  return guard([&] {
    const EntryInfo &e = entryAt(module, entry);
    require(inputs || input_count == 0, "inputs is NULL");
    require(outputs || output_count == 0, "outputs is NULL");
    size_t expectedOutputs = 0;
    for (const ArgInfo &a : e.args)
      expectedOutputs += a.role == DSV3_ROLE_OUTPUT;
    if (output_count != expectedOutputs)
      fail("entry \"" + e.name + "\" has " + std::to_string(expectedOutputs) +
           " output(s), caller provided room for " +
           std::to_string(output_count));
    for (size_t i = 0; i < output_count; ++i)
      outputs[i] = nullptr;
    std::vector<const HostTensor *> in;
    for (size_t i = 0; i < input_count; ++i)
      in.push_back(inputs[i] ? &inputs[i]->tensor : nullptr);
    std::vector<HostTensor> result;
    {
      SessionLock lock(module->session->mutex);
      result = module->module->call(entry, in);
    }
    std::vector<std::unique_ptr<dsv3rt_tensor_s>> wrapped;
    for (HostTensor &t : result)
      wrapped.push_back(
          std::make_unique<dsv3rt_tensor_s>(dsv3rt_tensor_s{std::move(t)}));
    for (size_t i = 0; i < output_count; ++i)
      outputs[i] = wrapped[i].release();
  });
}

dsv3rt_status dsv3rt_tensor_create(dsv3_dtype dtype, const int64_t *shape,
                                   size_t rank, const void *data,
                                   dsv3rt_tensor **out) {
  return guard([&] {
    require(out, "out is NULL");
    require(shape || rank == 0, "shape is NULL");
    *out = nullptr;
    int raw = rawDType(dtype);
    if (!validDType(raw))
      fail("invalid dtype value " + std::to_string(raw));
    auto t = std::make_unique<dsv3rt_tensor_s>(dsv3rt_tensor_s{HostTensor(
        static_cast<DType>(raw), std::vector<int64_t>(shape, shape + rank))});
    if (data && t->tensor.byteSize())
      std::memcpy(t->tensor.data(), data, t->tensor.byteSize());
    *out = t.release();
  });
}

void dsv3rt_tensor_destroy(dsv3rt_tensor *tensor) { delete tensor; }

dsv3_dtype dsv3rt_tensor_dtype(const dsv3rt_tensor *tensor) {
  return tensor ? static_cast<dsv3_dtype>(tensor->tensor.dtype)
                : DSV3_DTYPE_F32;
}

size_t dsv3rt_tensor_rank(const dsv3rt_tensor *tensor) {
  return tensor ? tensor->tensor.shape.size() : 0;
}

const int64_t *dsv3rt_tensor_shape(const dsv3rt_tensor *tensor) {
  return tensor ? tensor->tensor.shape.data() : nullptr;
}

size_t dsv3rt_tensor_byte_size(const dsv3rt_tensor *tensor) {
  return tensor ? tensor->tensor.byteSize() : 0;
}

void *dsv3rt_tensor_data(dsv3rt_tensor *tensor) {
  return tensor ? tensor->tensor.data() : nullptr;
}

} // extern "C"
