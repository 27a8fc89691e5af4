// Thin header-only C++ wrapper over the libdsv3rt C API: RAII handles and
// exceptions instead of status objects. Everything goes through dsv3rt.h, so
// the wrapper adds no ABI surface to the library.
#ifndef DSV3_RUNTIME_DSV3RT_HPP
#define DSV3_RUNTIME_DSV3RT_HPP

#include "dsv3/Runtime/dsv3rt.h"

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace dsv3rt {

class Error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// Throws Error with the status message (and frees the status) if not OK.
inline void check(dsv3rt_status status) {
  if (!status)
    return;
  std::string message = dsv3rt_status_message(status);
  dsv3rt_status_free(status);
  throw Error(message);
}

class Tensor {
public:
  Tensor() = default;
  explicit Tensor(dsv3rt_tensor *raw) : raw_(raw) {}
  Tensor(dsv3_dtype dtype, const std::vector<int64_t> &shape,
         const void *data = nullptr) {
    dsv3rt_tensor *raw = nullptr;
    check(dsv3rt_tensor_create(dtype, shape.data(), shape.size(), data, &raw));
    raw_.reset(raw);
  }
  dsv3rt_tensor *get() const { return raw_.get(); }
  dsv3_dtype dtype() const { return dsv3rt_tensor_dtype(get()); }
  std::vector<int64_t> shape() const {
    const int64_t *s = dsv3rt_tensor_shape(get());
    return std::vector<int64_t>(s, s + dsv3rt_tensor_rank(get()));
  }
  size_t byteSize() const { return dsv3rt_tensor_byte_size(get()); }
  void *data() const { return dsv3rt_tensor_data(get()); }

private:
  struct Deleter {
    void operator()(dsv3rt_tensor *t) const { dsv3rt_tensor_destroy(t); }
  };
  std::unique_ptr<dsv3rt_tensor, Deleter> raw_;
};

struct KernelStat {
  std::string name;
  uint64_t launches;
  double totalMs;
};

struct StateInfo {
  std::string name;
  dsv3_dtype dtype;
  std::vector<int64_t> shape;
};

class Session {
public:
  explicit Session(const std::string &device) {
    dsv3rt_session *raw = nullptr;
    check(dsv3rt_session_create(device.c_str(), &raw));
    raw_.reset(raw);
  }
  dsv3rt_session *get() const { return raw_.get(); }
  std::string device() const { return dsv3rt_session_device(get()); }
  // Threads of host calls (0: libomp's default); see dsv3rt.h.
  void setThreads(int threads) {
    check(dsv3rt_session_set_threads(get(), threads));
  }
  int threads() const { return dsv3rt_session_threads(get()); }

  // Per-kernel device times of cuda calls (see dsv3rt.h); enabling or
  // disabling clears them.
  void setKernelProfiling(bool enabled) {
    check(dsv3rt_session_set_kernel_profiling(get(), enabled ? 1 : 0));
  }
  std::vector<KernelStat> kernelStats() const {
    std::vector<KernelStat> result;
    for (size_t i = 0, n = dsv3rt_session_kernel_stat_count(get()); i < n;
         ++i) {
      dsv3rt_kernel_stat k;
      check(dsv3rt_session_kernel_stat(get(), i, &k));
      result.push_back({k.name, k.launches, k.total_ms});
    }
    return result;
  }

  // The states declared by the modules loaded so far.
  std::vector<StateInfo> states() const {
    std::vector<StateInfo> result;
    for (size_t i = 0, n = dsv3rt_session_state_count(get()); i < n; ++i) {
      dsv3rt_state_info info;
      check(dsv3rt_session_state_info(get(), i, &info));
      result.push_back(
          {info.name, info.dtype,
           std::vector<int64_t>(info.shape, info.shape + info.rank)});
    }
    return result;
  }
  Tensor readState(const std::string &name) const {
    dsv3rt_tensor *raw = nullptr;
    check(dsv3rt_session_read_state(get(), name.c_str(), &raw));
    return Tensor(raw);
  }
  void writeState(const std::string &name, const Tensor &value) {
    check(dsv3rt_session_write_state(get(), name.c_str(), value.get()));
  }
  void resetState() { check(dsv3rt_session_reset_state(get())); }

private:
  struct Deleter {
    void operator()(dsv3rt_session *s) const { dsv3rt_session_destroy(s); }
  };
  std::unique_ptr<dsv3rt_session, Deleter> raw_;
};

class Module {
public:
  Module(Session &session, const std::string &path) {
    dsv3rt_module *raw = nullptr;
    check(dsv3rt_module_load(session.get(), path.c_str(), &raw));
    raw_.reset(raw);
  }
  dsv3rt_module *get() const { return raw_.get(); }
  std::string target() const { return dsv3rt_module_target(get()); }
  size_t entryCount() const { return dsv3rt_module_entry_count(get()); }
  std::string entryName(size_t i) const {
    const char *n = dsv3rt_module_entry_name(get(), i);
    return n ? n : "";
  }
  size_t findEntry(const std::string &name) const {
    size_t i = 0;
    check(dsv3rt_module_find_entry(get(), name.c_str(), &i));
    return i;
  }
  std::vector<dsv3rt_arg_info> args(size_t entry) const {
    size_t n = 0;
    check(dsv3rt_module_arg_count(get(), entry, &n));
    std::vector<dsv3rt_arg_info> infos(n);
    for (size_t i = 0; i < n; ++i)
      check(dsv3rt_module_arg_info(get(), entry, i, &infos[i]));
    return infos;
  }
  dsv3rt_arg_attrs attrs(size_t entry, size_t arg) const {
    dsv3rt_arg_attrs a;
    check(dsv3rt_module_arg_attrs(get(), entry, arg, &a));
    return a;
  }
  void bindParameters(const std::vector<std::string> &paths) {
    std::vector<const char *> raw;
    for (const std::string &p : paths)
      raw.push_back(p.c_str());
    check(dsv3rt_module_bind_parameters(get(), raw.data(), raw.size()));
  }
  void bindEntryParameters(size_t entry,
                           const std::vector<std::string> &paths) {
    std::vector<const char *> raw;
    for (const std::string &p : paths)
      raw.push_back(p.c_str());
    check(dsv3rt_module_bind_entry_parameters(get(), entry, raw.data(),
                                              raw.size()));
  }
  size_t boundFileCount() const {
    return dsv3rt_module_bound_file_count(get());
  }
  // See dsv3rt_module_parameter_sharing.
  std::vector<dsv3rt_parameter_sharing> parameterSharing() const {
    std::vector<dsv3rt_parameter_sharing> all(
        dsv3rt_module_parameter_sharing_count(get()));
    for (size_t i = 0; i < all.size(); ++i)
      check(dsv3rt_module_parameter_sharing(get(), i, &all[i]));
    return all;
  }
  // See dsv3rt_module_set_bind_progress; fn must outlive the binds (or be
  // reset with nullptr).
  void setBindProgress(dsv3rt_bind_progress_fn fn, void *userData) {
    check(dsv3rt_module_set_bind_progress(get(), fn, userData));
  }
  // See dsv3rt_module_kernel_cost (unknown fields: DSV3RT_COST_UNKNOWN).
  std::vector<dsv3rt_kernel_cost> kernelCosts() const {
    std::vector<dsv3rt_kernel_cost> all(dsv3rt_module_kernel_cost_count(get()));
    for (size_t i = 0; i < all.size(); ++i)
      check(dsv3rt_module_kernel_cost(get(), i, &all[i]));
    return all;
  }
  // Returns the outputs in output-arg order.
  std::vector<Tensor> call(size_t entry, const std::vector<Tensor> &inputs) {
    size_t outputCount = 0;
    for (const dsv3rt_arg_info &a : args(entry))
      outputCount += a.role == DSV3_ROLE_OUTPUT;
    std::vector<dsv3rt_tensor *> in;
    for (const Tensor &t : inputs)
      in.push_back(t.get());
    std::vector<dsv3rt_tensor *> out(outputCount, nullptr);
    check(dsv3rt_module_call(get(), entry, in.data(), in.size(), out.data(),
                             out.size()));
    std::vector<Tensor> result;
    for (dsv3rt_tensor *t : out)
      result.emplace_back(t);
    return result;
  }

private:
  struct Deleter {
    void operator()(dsv3rt_module *m) const { dsv3rt_module_unload(m); }
  };
  std::unique_ptr<dsv3rt_module, Deleter> raw_;
};

} // namespace dsv3rt

#endif // DSV3_RUNTIME_DSV3RT_HPP
