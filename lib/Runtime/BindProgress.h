// Bind progress on stderr for the command-line tools (dsv3-generate,
// dsv3-run), on the public C API's progress callback. Binding a DeepSeek-V3
// checkpoint maps 163 shards and may gather ~690 GB of scattered experts, so
// a silent bind looks like a hang; the line says how far it is:
//   dsv3-generate: bind: 37/163 files mapped (120.4/688.6 GB); 12 s, resident
//   310.2 MiB
//   dsv3-generate: bind: 163 files mapped (688.6 GB); 1204/1876 parameters
//   bound (88.1/688.6 GB); 42 s, resident 90112.0 MiB
// Header-only so that both tools share it without another library.
#ifndef DSV3_LIB_RUNTIME_BINDPROGRESS_H
#define DSV3_LIB_RUNTIME_BINDPROGRESS_H

#include "dsv3/Runtime/dsv3rt.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace dsv3rt {

// A field of /proc/self/status in MiB (-1 if unavailable): VmRSS (resident
// now) or VmHWM (peak resident). Parameters are mapped, so VmRSS shows what
// binding actually read or copied, not the checkpoint size.
inline double procStatusMiB(const char *field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  const std::string prefix = std::string(field) + ":";
  while (std::getline(status, line))
    if (line.rfind(prefix, 0) == 0)
      return std::strtod(line.c_str() + prefix.size(), nullptr) / 1024.0;
  return -1;
}

// "120.4 GB" (decimal units, as checkpoint sizes are quoted); a pair shares
// the unit of its total: "88.1/688.6 GB".
inline std::string formatBytes(uint64_t done, uint64_t total,
                               bool pair = true) {
  static const struct {
    double scale;
    const char *unit;
  } units[] = {{1e9, "GB"}, {1e6, "MB"}, {1e3, "kB"}, {1, "B"}};
  size_t u = 0;
  while (u + 1 < std::size(units) &&
         static_cast<double>(total) < units[u].scale)
    ++u;
  const int decimals = units[u].scale > 1 ? 1 : 0; // no "24.0 B"
  char text[64];
  if (pair)
    std::snprintf(text, sizeof text, "%.*f/%.*f %s", decimals,
                  done / units[u].scale, decimals, total / units[u].scale,
                  units[u].unit);
  else
    std::snprintf(text, sizeof text, "%.*f %s", decimals,
                  total / units[u].scale, units[u].unit);
  return text;
}

// One line for a progress snapshot, without the tool's name or the time.
inline std::string describeBindProgress(const dsv3rt_bind_progress &p) {
  std::string s;
  if (p.parameters_total == 0) // still mapping files
    s = std::to_string(p.files_done) + "/" + std::to_string(p.files_total) +
        " files mapped (" + formatBytes(p.file_bytes_done, p.file_bytes_total) +
        ")";
  else
    s = std::to_string(p.files_done) + " files mapped (" +
        formatBytes(0, p.file_bytes_done, false) + "); " +
        std::to_string(p.parameters_done) + "/" +
        std::to_string(p.parameters_total) + " parameters bound (" +
        formatBytes(p.parameter_bytes_done, p.parameter_bytes_total) + ")";
  return s;
}

// Binds a module's parameters while reporting progress on stderr.
class BindProgressReporter {
public:
  enum class When {
    // Nothing (--quiet).
    Never,
    // Only a bind that takes longer than 2 s: then a line every 2 s on a
    // terminal (one line, rewritten), else every 10 s.
    Slow,
    // From the start (--progress, DSV3_PROGRESS=1): a line every second
    // (rewritten on a terminal) and a last line with the totals and time.
    Always,
  };

  // DSV3_PROGRESS=1 asks for Always, =0 for Never, whatever the tool chose
  // (an explicit flag aside: the caller applies that after).
  static When fromEnvironment(When fallback) {
    const char *env = std::getenv("DSV3_PROGRESS");
    if (!env || !*env)
      return fallback;
    return std::strcmp(env, "0") == 0 ? When::Never : When::Always;
  }

  BindProgressReporter(std::string tool, When when)
      : tool_(std::move(tool)), when_(when), tty_(isatty(STDERR_FILENO)) {}

  // Binds (every entry's parameters, or only `entry`'s) and returns the
  // seconds it took. Rethrows the bind's error after ending the line.
  double bind(Module &module, const std::vector<std::string> &paths,
              const size_t *entry = nullptr) {
    using clock = std::chrono::steady_clock;
    start_ = clock::now();
    if (when_ != When::Never)
      module.setBindProgress(&BindProgressReporter::onProgress, this);
    std::thread printer;
    if (when_ != When::Never)
      printer = std::thread([this] { printLoop(); });
    auto finish = [&] {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        done_ = true;
      }
      cv_.notify_all();
      if (printer.joinable())
        printer.join();
      if (when_ != When::Never)
        module.setBindProgress(nullptr, nullptr);
    };
    try {
      if (entry)
        module.bindEntryParameters(*entry, paths);
      else
        module.bindParameters(paths);
    } catch (...) {
      finish();
      if (printed_ && tty_)
        std::fputc('\n', stderr);
      throw;
    }
    finish();
    const double seconds = elapsed();
    if (when_ == When::Always) {
      std::fprintf(stderr,
                   "%s%s: bind: done: %s in %.2f s, resident %.1f MiB%s\n",
                   tty_ && printed_ ? "\r" : "", tool_.c_str(),
                   describeBindProgress(last_).c_str(), seconds,
                   procStatusMiB("VmRSS"), tty_ ? "\x1b[K" : "");
    } else if (printed_ && tty_) {
      std::fputc('\n', stderr);
    }
    return seconds;
  }

private:
  static void onProgress(const dsv3rt_bind_progress *p, void *self) {
    auto *r = static_cast<BindProgressReporter *>(self);
    std::lock_guard<std::mutex> lock(r->mutex_);
    r->last_ = *p;
  }

  double elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         start_)
        .count();
  }

  void printLoop() {
    using namespace std::chrono;
    const bool always = when_ == When::Always;
    auto next = start_ + (always ? seconds(1) : seconds(2));
    const auto period = always || tty_ ? seconds(always ? 1 : 2) : seconds(10);
    std::unique_lock<std::mutex> lock(mutex_);
    while (!cv_.wait_until(lock, next, [this] { return done_; })) {
      std::fprintf(stderr, "%s%s: bind: %s; %.0f s, resident %.1f MiB%s",
                   tty_ ? "\r" : "", tool_.c_str(),
                   describeBindProgress(last_).c_str(), elapsed(),
                   procStatusMiB("VmRSS"), tty_ ? "\x1b[K" : "\n");
      std::fflush(stderr);
      printed_ = true;
      next += period;
    }
  }

  std::string tool_;
  When when_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false, printed_ = false;
  dsv3rt_bind_progress last_{};
};

} // namespace dsv3rt

#endif // DSV3_LIB_RUNTIME_BINDPROGRESS_H
