#include "State.h"

#include "Error.h"

#include <cstring>

namespace dsv3rt::impl {

using namespace cuda;

namespace {

void checkOrThrow(CUresult r, const std::string &what) {
  if (r != CUDA_SUCCESS)
    fail(what + " failed: " + errorString(r));
}

} // namespace

StateStore::~StateStore() {
  if (!driver_)
    return;
  ScopedContext ctx(*driver_);
  for (const std::unique_ptr<StateBuffer> &s : states_)
    if (s->device)
      driver_->cuMemFree(s->device);
  takeError(); // a failing free at teardown has nobody to report to
}

void StateStore::declare(const std::vector<Declaration> &declarations) {
  std::map<std::string, const Declaration *> added;
  for (const Declaration &d : declarations) {
    const DType *dtype = nullptr;
    const std::vector<int64_t> *shape = nullptr;
    const std::string *where = nullptr;
    if (auto it = index_.find(d.name); it != index_.end()) {
      const StateBuffer &s = *states_[it->second];
      dtype = &s.dtype, shape = &s.shape, where = &s.declaredBy;
    } else if (auto it = added.find(d.name); it != added.end()) {
      dtype = &it->second->dtype, shape = &it->second->shape,
      where = &it->second->where;
    } else {
      added[d.name] = &d;
      continue;
    }
    if (*dtype != d.dtype || *shape != d.shape)
      fail("state \"" + d.name + "\" is " + describe(*dtype, *shape) + " in " +
           *where + " but " + describe(d.dtype, d.shape) + " in " + d.where);
  }
  for (const Declaration &d : declarations) {
    if (index_.count(d.name))
      continue;
    auto s = std::make_unique<StateBuffer>();
    s->name = d.name;
    s->dtype = d.dtype;
    s->shape = d.shape;
    s->bytes = checkedByteSize(d.dtype, d.shape).value();
    s->declaredBy = d.where;
    index_[d.name] = states_.size();
    states_.push_back(std::move(s));
  }
}

StateBuffer &StateStore::get(const std::string &name) {
  auto it = index_.find(name);
  if (it != index_.end())
    return *states_[it->second];
  std::string names;
  for (const std::unique_ptr<StateBuffer> &s : states_)
    names += (names.empty() ? "" : ", ") + s->name;
  fail("unknown state \"" + name +
       "\" (states of this session: " + (names.empty() ? "none" : names) + ")");
}

uint8_t *StateStore::hostData(StateBuffer &state) {
  if (!state.host)
    state.host = std::make_unique<HostTensor>(state.dtype, state.shape);
  return state.host->data();
}

CUdeviceptr StateStore::deviceData(StateBuffer &state, const Driver &d) {
  if (state.device)
    return state.device;
  driver_ = &d;
  CUdeviceptr p = 0;
  // Zero-size states still get a distinct, valid pointer.
  uint64_t bytes = state.bytes ? state.bytes : 64;
  checkOrThrow(d.cuMemAlloc(&p, bytes), "allocating state \"" + state.name +
                                            "\" (" + std::to_string(bytes) +
                                            " bytes): cuMemAlloc");
  CUresult r = d.cuMemsetD8(p, 0, bytes);
  if (r == CUDA_SUCCESS)
    r = d.cuCtxSynchronize();
  if (r != CUDA_SUCCESS) {
    d.cuMemFree(p);
    fail("zeroing state \"" + state.name + "\" failed: " + errorString(r));
  }
  state.device = p;
  return p;
}

const Driver &StateStore::requireDriver() {
  std::string why;
  const Driver *d = driver(&why);
  if (!d)
    fail("no CUDA device: " + why);
  return *d;
}

HostTensor StateStore::read(const std::string &name) {
  StateBuffer &s = get(name);
  HostTensor t(s.dtype, s.shape);
  if (device_ == Device::Host) {
    if (s.host && s.bytes)
      std::memcpy(t.data(), s.host->data(), s.bytes);
    return t;
  }
  const Driver &d = requireDriver();
  ScopedContext ctx(d);
  if (s.device && s.bytes)
    checkOrThrow(d.cuMemcpyDtoH(t.data(), s.device, s.bytes),
                 "reading state \"" + name + "\": cuMemcpyDtoH");
  return t;
}

void StateStore::write(const std::string &name, const HostTensor &value) {
  StateBuffer &s = get(name);
  if (value.dtype != s.dtype || value.shape != s.shape)
    fail("state \"" + name + "\" is " + describe(s.dtype, s.shape) +
         ", the value written is " + describe(value.dtype, value.shape));
  if (s.dtype == DType::I1)
    if (std::optional<uint64_t> i =
            findInvalidI1(value.data(), value.elementCount()))
      fail("state \"" + name + "\"" +
           describeInvalidI1(value.shape, value.data(), *i) +
           "; nothing was written");
  if (device_ == Device::Host) {
    uint8_t *p = hostData(s);
    if (s.bytes)
      std::memcpy(p, value.data(), s.bytes);
    return;
  }
  const Driver &d = requireDriver();
  ScopedContext ctx(d);
  CUdeviceptr p = deviceData(s, d);
  if (s.bytes)
    checkOrThrow(d.cuMemcpyHtoD(p, value.data(), s.bytes),
                 "writing state \"" + name + "\": cuMemcpyHtoD");
  checkOrThrow(d.cuCtxSynchronize(),
               "writing state \"" + name + "\": cuCtxSynchronize");
}

void StateStore::reset() {
  // Unallocated states are zero already (they are allocated zeroed), so a
  // reset needs the driver only when some state lives on the device.
  for (const std::unique_ptr<StateBuffer> &s : states_)
    if (s->host && s->bytes)
      std::memset(s->host->data(), 0, s->bytes);
  if (!driver_)
    return;
  ScopedContext ctx(*driver_);
  for (const std::unique_ptr<StateBuffer> &s : states_)
    if (s->device && s->bytes)
      checkOrThrow(driver_->cuMemsetD8(s->device, 0, s->bytes),
                   "resetting state \"" + s->name + "\": cuMemsetD8");
  checkOrThrow(driver_->cuCtxSynchronize(),
               "resetting state: cuCtxSynchronize");
}

} // namespace dsv3rt::impl
