/* libdsv3rt: the C API for loading and running dsv3 modules.
 *
 * Every fallible function returns a dsv3rt_status: NULL on success, otherwise
 * an error object the caller owns; read it with dsv3rt_status_message() and
 * release it with dsv3rt_status_free(). No function lets a C++ exception or
 * abort escape on bad input. Handles are opaque. A session must outlive the
 * modules loaded into it; tensors are independent host buffers.
 *
 * Threads: a session and its modules may be used from any number of
 * threads. Every function that reads or changes a session or one of its
 * modules (calls, binds, state reads/writes/resets, module loads and
 * unloads) holds the session's lock, so on one session they run one at a
 * time, in some order: a state is never updated by two calls at once, and a
 * rebind waits for the call in flight. For parallel work use one session per
 * thread (sessions share nothing). Metadata queries (entries, arguments) of
 * a loaded module take no lock. A tensor is not locked: do not write one
 * while another thread passes it to a call. A bind progress callback runs on
 * the binding thread with the lock held; it may call into the same session
 * from that thread. Destroying a session while another thread uses it, or
 * a module after it was unloaded, is undefined. */
#ifndef DSV3_RUNTIME_DSV3RT_H
#define DSV3_RUNTIME_DSV3RT_H

#include "dsv3/Runtime/abi.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(DSV3RT_BUILDING_LIBRARY)
#define DSV3RT_API __attribute__((visibility("default")))
#else
#define DSV3RT_API
#endif

typedef struct dsv3rt_status_s *dsv3rt_status;
typedef struct dsv3rt_session_s dsv3rt_session;
typedef struct dsv3rt_module_s dsv3rt_module;
typedef struct dsv3rt_tensor_s dsv3rt_tensor;

/* ---- status ---- */
DSV3RT_API const char *dsv3rt_status_message(dsv3rt_status status);
DSV3RT_API void dsv3rt_status_free(dsv3rt_status status);

/* ---- dtype helpers ---- */
/* Metadata spelling of a dtype ("f32", ...); "?" for an invalid value. */
DSV3RT_API const char *dsv3rt_dtype_name(dsv3_dtype dtype);
/* Parses a metadata dtype name. */
DSV3RT_API dsv3rt_status dsv3rt_dtype_parse(const char *name, dsv3_dtype *out);

/* ---- session ---- */
/* device is "host" or "cuda". A cuda session does not touch the driver until
 * the first call or parameter upload, so modules can be inspected on a machine
 * without a GPU. */
DSV3RT_API dsv3rt_status dsv3rt_session_create(const char *device,
                                               dsv3rt_session **out);
/* Also frees the session's state buffers (host or device memory). */
DSV3RT_API void dsv3rt_session_destroy(dsv3rt_session *session);
DSV3RT_API const char *dsv3rt_session_device(const dsv3rt_session *session);
/* Threads of a host session's calls: parallel loops in host modules run on
 * an OpenMP team (LLVM's libomp) of this many threads, set on the calling
 * thread before each call. 0, the default, sets nothing: libomp's setting of
 * the calling thread holds (OMP_NUM_THREADS if set, else one thread per core
 * the process may run on, unless an earlier call on that thread set another
 * count). Results do not depend on it (docs/host-target.md). Errors: a
 * negative count or one above 1024. No effect on cuda sessions. */
DSV3RT_API dsv3rt_status dsv3rt_session_set_threads(dsv3rt_session *session,
                                                    int threads);
DSV3RT_API int dsv3rt_session_threads(const dsv3rt_session *session);

/* ---- kernel profile (cuda sessions) ----
 * While enabled, every kernel launch of the session's calls is timed on the
 * device with a pair of CUDA events on the launch's stream (a few
 * microseconds per launch), and the times are summed per kernel name (the
 * module's kernel symbol, e.g. "decode_linear_q_a_proj_fp8"). Enabling or
 * disabling clears the profile. No effect on host sessions (their profile
 * stays empty). */
typedef struct dsv3rt_kernel_stat {
  const char *name;  /* valid until the profile changes (a call, a toggle) */
  uint64_t launches; /* since the profile was cleared */
  double total_ms;   /* device time of those launches */
} dsv3rt_kernel_stat;

DSV3RT_API dsv3rt_status
dsv3rt_session_set_kernel_profiling(dsv3rt_session *session, int enabled);
/* Kernels launched since the profile was cleared, in order of first launch. */
DSV3RT_API size_t dsv3rt_session_kernel_stat_count(dsv3rt_session *session);
DSV3RT_API dsv3rt_status dsv3rt_session_kernel_stat(dsv3rt_session *session,
                                                    size_t index,
                                                    dsv3rt_kernel_stat *out);

/* ---- session state ----
 * A state is a named buffer owned by the session (e.g. a KV cache). It is
 * declared by the "state" args of the modules loaded into the session, shared
 * by every entry that declares the same name, updated in place by the
 * entries, and zero-filled until first written. Storage is allocated on first
 * use; on a cuda session it is device memory. States stay in the session
 * when a module is unloaded. */
typedef struct dsv3rt_state_info {
  const char *name; /* lives as long as the session */
  dsv3_dtype dtype;
  size_t rank;
  const int64_t *shape; /* rank elements; lives as long as the session */
} dsv3rt_state_info;

/* Number of states declared so far, in declaration order. */
DSV3RT_API size_t dsv3rt_session_state_count(const dsv3rt_session *session);
DSV3RT_API dsv3rt_status dsv3rt_session_state_info(
    const dsv3rt_session *session, size_t index, dsv3rt_state_info *info);
/* A new host tensor (the caller destroys it) holding the state's value. On a
 * cuda session this copies from the device (and needs one). An unknown name
 * is an error listing the session's states. */
DSV3RT_API dsv3rt_status dsv3rt_session_read_state(dsv3rt_session *session,
                                                   const char *name,
                                                   dsv3rt_tensor **out);
/* Overwrites the state; value's dtype and shape must equal the state's. */
DSV3RT_API dsv3rt_status dsv3rt_session_write_state(dsv3rt_session *session,
                                                    const char *name,
                                                    const dsv3rt_tensor *value);
/* Zero-fills every state of the session. */
DSV3RT_API dsv3rt_status dsv3rt_session_reset_state(dsv3rt_session *session);

/* ---- module ---- */
/* dlopens path (RTLD_NOW | RTLD_LOCAL), checks the ABI version, validates the
 * metadata, resolves every entry symbol, checks the target against the
 * session device and declares the module's state args in the session (a
 * state already declared with another dtype or shape is an error naming
 * both declarations). */
DSV3RT_API dsv3rt_status dsv3rt_module_load(dsv3rt_session *session,
                                            const char *path,
                                            dsv3rt_module **out);
DSV3RT_API void dsv3rt_module_unload(dsv3rt_module *module);
/* "host" or "cuda"; the string lives as long as the module. */
DSV3RT_API const char *dsv3rt_module_target(const dsv3rt_module *module);

/* What one launch of a cuda module's kernel moves to or from device memory
 * and computes, as far as the compiler knew (the metadata's "kernels"; for
 * the profile's GB/s and TFLOP/s). Kernels without a recorded cost are not
 * listed; a field the compiler did not know is DSV3RT_COST_UNKNOWN. */
#define DSV3RT_COST_UNKNOWN UINT64_MAX
typedef struct dsv3rt_kernel_cost {
  const char *name; /* valid while the module is loaded */
  uint64_t bytes;   /* each tensor read or written counted once */
  uint64_t flops;
} dsv3rt_kernel_cost;
DSV3RT_API size_t dsv3rt_module_kernel_cost_count(const dsv3rt_module *module);
DSV3RT_API dsv3rt_status dsv3rt_module_kernel_cost(const dsv3rt_module *module,
                                                   size_t index,
                                                   dsv3rt_kernel_cost *out);
DSV3RT_API size_t dsv3rt_module_entry_count(const dsv3rt_module *module);
/* NULL if entry is out of range. */
DSV3RT_API const char *dsv3rt_module_entry_name(const dsv3rt_module *module,
                                                size_t entry);
DSV3RT_API dsv3rt_status dsv3rt_module_find_entry(const dsv3rt_module *module,
                                                  const char *name,
                                                  size_t *entry);

typedef struct dsv3rt_arg_info {
  const char *name; /* lives as long as the module */
  dsv3_arg_role role;
  dsv3_dtype dtype;
  size_t rank;
  const int64_t *shape; /* rank elements; lives as long as the module */
} dsv3rt_arg_info;

DSV3RT_API dsv3rt_status dsv3rt_module_arg_count(const dsv3rt_module *module,
                                                 size_t entry, size_t *count);
DSV3RT_API dsv3rt_status dsv3rt_module_arg_info(const dsv3rt_module *module,
                                                size_t entry, size_t arg,
                                                dsv3rt_arg_info *info);

/* ABI v2 attributes of an argument beyond dsv3rt_arg_info. */
typedef struct dsv3rt_arg_attrs {
  int stacked;        /* parameter bound from per-expert tensors ("{e}") */
  int has_bounds;     /* input whose elements must lie in [min, max] */
  int64_t bounds_min; /* 0 without bounds */
  int64_t bounds_max;
  const char *bounds_why; /* "" if none; lives as long as the module */
} dsv3rt_arg_attrs;

DSV3RT_API dsv3rt_status dsv3rt_module_arg_attrs(const dsv3rt_module *module,
                                                 size_t entry, size_t arg,
                                                 dsv3rt_arg_attrs *attrs);

/* Binds every parameter of every entry from the given paths (names
 * verbatim, dtype and shape must match exactly; a name present in two files
 * is an error). Each path is one of:
 *  - a safetensors file;
 *  - a Hugging Face shard index (a file named *.json, e.g.
 *    model.safetensors.index.json: {"weight_map": {tensor: shard file}}):
 *    every shard it names is mapped once, resolved relative to the index's
 *    directory, and must hold exactly the tensors the index assigns to it;
 *  - a checkpoint directory: its model.safetensors.index.json when present,
 *    else all its *.safetensors files (in name order).
 * A stacked parameter "...{e}..." of shape [E, ...rest] is bound from the E
 * tensors with "{e}" replaced by 0..E-1, each of shape rest, in place: a
 * host module built by dsv3-compile reads each expert where its file maps it
 * (metadata "expert_pointers"), a cuda module gets them uploaded one by one
 * into one device buffer. Only a misaligned expert is copied, and all of them
 * are gathered into one buffer only for a host module without
 * "expert_pointers" whose experts do not lie back to back. The files stay
 * mapped while the module lives. Errors name the file and the
 * tensor or index key. Can be called again to rebind. */
DSV3RT_API dsv3rt_status dsv3rt_module_bind_parameters(dsv3rt_module *module,
                                                       const char *const *paths,
                                                       size_t path_count);
/* Number of safetensors files mapped by the current binding (each shard of an
 * index or directory counts); 0 when unbound or module is NULL. */
DSV3RT_API size_t dsv3rt_module_bound_file_count(const dsv3rt_module *module);
/* Parameters the metadata marks "same_as" another (a possible copy, such as
 * the MTP layer's embed_tokens of model.embed_tokens), and what the current
 * binding did with each: `identical` is 1 when the checkpoint's bytes of the
 * two tensors were equal and the parameter is bound to the other's memory
 * (read, kept resident and uploaded once), 0 when it is bound to its own.
 * The strings live until the next bind. Count 0 when unbound or NULL. */
typedef struct dsv3rt_parameter_sharing {
  const char *name;
  const char *same_as;
  int identical;
  uint64_t bytes;
} dsv3rt_parameter_sharing;
DSV3RT_API size_t
dsv3rt_module_parameter_sharing_count(const dsv3rt_module *module);
DSV3RT_API dsv3rt_status dsv3rt_module_parameter_sharing(
    const dsv3rt_module *module, size_t index, dsv3rt_parameter_sharing *out);
/* Like dsv3rt_module_bind_parameters, but binds (and requires) only the
 * parameters of one entry, so one entry of a multi-entry module can run with
 * just its own weights. Replaces any previous binding. */
DSV3RT_API dsv3rt_status dsv3rt_module_bind_entry_parameters(
    dsv3rt_module *module, size_t entry, const char *const *paths,
    size_t path_count);

/* How far a bind has come. First the checkpoint's safetensors files are
 * mapped (and their headers read): files_done of files_total, whose sizes are
 * file_bytes_done of file_bytes_total; the totals grow as each path is read
 * (an index's shards or a directory's files become known then). Then the
 * parameters are bound: parameters_done of parameters_total, with their byte
 * sizes; parameters_total is 0 until the files are mapped. Binding in place
 * costs nothing; a stacked parameter gathered from scattered experts is
 * copied, and its bytes advance expert by expert. */
typedef struct dsv3rt_bind_progress {
  size_t files_done, files_total;
  uint64_t file_bytes_done, file_bytes_total;
  size_t parameters_done, parameters_total;
  uint64_t parameter_bytes_done, parameter_bytes_total;
} dsv3rt_bind_progress;
typedef void (*dsv3rt_bind_progress_fn)(const dsv3rt_bind_progress *progress,
                                        void *user_data);
/* Makes every later bind of the module (dsv3rt_module_bind_parameters,
 * dsv3rt_module_bind_entry_parameters) call fn on the binding thread: when a
 * path's files become known, after each file is mapped, after each parameter
 * is bound and after each expert a gathered stacked parameter copies. fn must
 * not call into the module; NULL: no calls. */
DSV3RT_API dsv3rt_status dsv3rt_module_set_bind_progress(
    dsv3rt_module *module, dsv3rt_bind_progress_fn fn, void *user_data);

/* Runs an entry. inputs are in the order of the entry's input args (state
 * args are not passed: the entry gets the session's buffers); outputs
 * receives output_count new tensors (in output-arg order) that the caller
 * destroys. Every input's dtype and shape, and the bounds of bounded inputs,
 * are checked against the metadata before anything runs. On a cuda session
 * inputs are copied to the device and outputs back; parameters are uploaded
 * on the first call and cached. */
DSV3RT_API dsv3rt_status dsv3rt_module_call(dsv3rt_module *module, size_t entry,
                                            dsv3rt_tensor *const *inputs,
                                            size_t input_count,
                                            dsv3rt_tensor **outputs,
                                            size_t output_count);

/* ---- tensors (host memory, 64-byte aligned, row-major) ---- */
/* data may be NULL (zero-filled); otherwise byte-size bytes are copied. */
DSV3RT_API dsv3rt_status dsv3rt_tensor_create(dsv3_dtype dtype,
                                              const int64_t *shape, size_t rank,
                                              const void *data,
                                              dsv3rt_tensor **out);
DSV3RT_API void dsv3rt_tensor_destroy(dsv3rt_tensor *tensor);
DSV3RT_API dsv3_dtype dsv3rt_tensor_dtype(const dsv3rt_tensor *tensor);
DSV3RT_API size_t dsv3rt_tensor_rank(const dsv3rt_tensor *tensor);
DSV3RT_API const int64_t *dsv3rt_tensor_shape(const dsv3rt_tensor *tensor);
DSV3RT_API size_t dsv3rt_tensor_byte_size(const dsv3rt_tensor *tensor);
DSV3RT_API void *dsv3rt_tensor_data(dsv3rt_tensor *tensor);

#ifdef __cplusplus
}
#endif

#endif /* DSV3_RUNTIME_DSV3RT_H */
