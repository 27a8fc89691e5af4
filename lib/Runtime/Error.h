// The one exception type the runtime throws internally. The C API catches it
// (and anything else) at the boundary and turns it into a dsv3rt_status.
#ifndef DSV3_LIB_RUNTIME_ERROR_H
#define DSV3_LIB_RUNTIME_ERROR_H

#include <stdexcept>
#include <string>

namespace dsv3rt::impl {

class Error : public std::runtime_error {
public:
  explicit Error(const std::string &message) : std::runtime_error(message) {}
};

[[noreturn]] inline void fail(const std::string &message) {
  throw Error(message);
}

} // namespace dsv3rt::impl

#endif // DSV3_LIB_RUNTIME_ERROR_H
