// dsv3-run's tensor arguments: reading --input/--expected-output specs and
// writing --output targets.
#ifndef DSV3_TOOLS_DSV3RUN_TENSORSPEC_H
#define DSV3_TOOLS_DSV3RUN_TENSORSPEC_H

#include "HostTensor.h"

#include <optional>
#include <string>
#include <vector>

namespace dsv3run {

using dsv3rt::impl::DType;
using dsv3rt::impl::HostTensor;

// The dtype and shape a literal declares, read from its "DIMSxDTYPE" part
// alone, or nullopt for an "@file" spec. Throws on a malformed type, as
// parseLiteral would. Lets a caller compare them with what it expects before
// the literal's tensor is allocated.
struct LiteralType {
  DType dtype;
  std::vector<int64_t> shape;
};
std::optional<LiteralType> literalType(const std::string &spec, bool allowF64);

// Parses an IREE-style literal "2x3xf32=1 2 3 4 5 6" (values separated by
// spaces or commas; a single value is splatted). allowF64 admits "f64",
// which only reference outputs may use. Throws std::runtime_error.
HostTensor parseLiteral(const std::string &spec, bool allowF64);

// Reads "@file.npy", "@file.safetensors[:tensor]" or a literal. For a
// safetensors file without ":tensor", the tensor named defaultName is used,
// or the only tensor in the file. An .npy file's void dtype ('<V2', as
// np.save writes ml_dtypes bfloat16) is read as voidAs (readNpy).
HostTensor readTensorSpec(const std::string &spec,
                          const std::string &defaultName, bool allowF64,
                          std::optional<DType> voidAs = std::nullopt);

// Whether --allow-narrowing lets a `from` tensor feed a `to` argument: both
// floats that convertFloat can produce (f8e8m0fnu has no encoder).
bool floatConvertible(DType from, DType to);
// The tensor's values rounded to nearest even in dtype `to` (NaN stays NaN;
// out of range gives ±inf, or NaN for f8e4m3fn, which has no inf). Values are
// rounded once, from their exact double value.
HostTensor convertFloat(const HostTensor &tensor, DType to);

// Writes to "@file.npy" or "@file.safetensors[:tensor]" (tensor name
// defaults to defaultName).
void writeTensorSpec(const std::string &spec, const std::string &defaultName,
                     const HostTensor &tensor);

// "f32[2,3] = [1, 2, 3, 4, 5, 6]" with at most maxValues values.
std::string summarize(const HostTensor &tensor, size_t maxValues = 8);
// One element, exact for integers, %.6g for floats.
std::string formatElement(DType dtype, const void *element);

} // namespace dsv3run

#endif // DSV3_TOOLS_DSV3RUN_TENSORSPEC_H
