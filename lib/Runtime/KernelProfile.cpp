#include "KernelProfile.h"

#include <unordered_map>

namespace dsv3rt::impl {

using namespace cuda;

namespace {

std::mutex namesMutex;
std::unordered_map<CUfunction, std::string> &names() {
  static auto *map = new std::unordered_map<CUfunction, std::string>();
  return *map;
}

} // namespace

void KernelProfile::setEnabled(bool enabled) {
  std::lock_guard<std::mutex> lock(mutex_);
  enabled_ = enabled;
  stats_.clear();
  index_.clear();
}

std::vector<KernelProfile::Stat> KernelProfile::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void KernelProfile::collect(const Driver &d, bool synchronized) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const Pending &p : pending_) {
    float ms = 0;
    if (synchronized && p.timed &&
        d.cuEventElapsedTime(&ms, p.start, p.end) == CUDA_SUCCESS) {
      std::string name = functionName(p.function);
      auto [it, added] = index_.emplace(name, stats_.size());
      if (added)
        stats_.push_back({name, 0, 0});
      Stat &s = stats_[it->second];
      ++s.launches;
      s.ms += ms;
    }
    if (p.start)
      d.cuEventDestroy(p.start);
    if (p.end)
      d.cuEventDestroy(p.end);
  }
  pending_.clear();
}

KernelProfile *&currentCallProfile() {
  thread_local KernelProfile *profile = nullptr;
  return profile;
}

void rememberFunctionName(CUfunction f, const char *name) {
  if (!f || !name)
    return;
  std::lock_guard<std::mutex> lock(namesMutex);
  names()[f] = name;
}

std::string functionName(CUfunction f) {
  std::lock_guard<std::mutex> lock(namesMutex);
  auto it = names().find(f);
  return it == names().end() ? "?" : it->second;
}

} // namespace dsv3rt::impl
