#include "Metadata.h"

#include "Error.h"
#include "Stacked.h"

#include <nlohmann/json.hpp>

#include <map>
#include <set>

using json = nlohmann::json;

namespace dsv3rt::impl {

const char *roleName(dsv3_arg_role role) {
  switch (role) {
  case DSV3_ROLE_INPUT:
    return "input";
  case DSV3_ROLE_PARAMETER:
    return "parameter";
  case DSV3_ROLE_OUTPUT:
    return "output";
  case DSV3_ROLE_STATE:
    return "state";
  }
  return "?";
}

namespace {

class Validator {
public:
  explicit Validator(const std::string &label) : label_(label) {}

  [[noreturn]] void error(const std::string &where, const std::string &what) {
    fail(label_ + ": invalid metadata: " + where + what);
  }

  const json &field(const json &obj, const char *name, json::value_t type,
                    const std::string &where) {
    auto it = obj.find(name);
    if (it == obj.end())
      error(where, std::string("missing field \"") + name + "\"");
    bool ok = it->type() == type || (type == json::value_t::number_integer &&
                                     it->is_number_integer());
    if (!ok)
      error(where, std::string("field \"") + name + "\" must be " +
                       (type == json::value_t::number_integer
                            ? "integer"
                            : json(type).type_name()) +
                       ", got " +
                       (it->is_number() ? it->dump() : it->type_name()));
    return *it;
  }

  std::string string(const json &obj, const char *name,
                     const std::string &where) {
    return field(obj, name, json::value_t::string, where).get<std::string>();
  }

private:
  const std::string &label_;
};

// Optional "stacked": true on a parameter whose name holds "{e}" once, and
// "expert_pointers": true on a stacked one the module reads through a table of
// per-expert addresses.
void parseStacked(Validator &v, const json &aj, ArgInfo &arg,
                  const std::string &where) {
  size_t placeholders = countExpertPlaceholders(arg.name);
  auto it = aj.find("stacked");
  if (it != aj.end()) {
    if (!it->is_boolean())
      v.error(where, std::string("field \"stacked\" must be boolean, got ") +
                         it->type_name());
    arg.stacked = it->get<bool>();
  }
  auto pointers = aj.find("expert_pointers");
  if (pointers != aj.end()) {
    if (!pointers->is_boolean())
      v.error(where,
              std::string("field \"expert_pointers\" must be boolean, got ") +
                  pointers->type_name());
    arg.expertPointers = pointers->get<bool>();
    if (arg.expertPointers && !arg.stacked)
      v.error(where, "\"expert_pointers\" on \"" + arg.name +
                         "\", which is not stacked");
  }
  if (!arg.stacked) {
    if (placeholders && arg.role == DSV3_ROLE_PARAMETER)
      v.error(where, "parameter \"" + arg.name +
                         "\" holds the expert placeholder {e} but is not "
                         "stacked");
    return;
  }
  if (arg.role != DSV3_ROLE_PARAMETER)
    v.error(where, std::string("\"stacked\" on a ") + roleName(arg.role) +
                       " (only parameters can be stacked)");
  if (placeholders != 1)
    v.error(where, "stacked parameter \"" + arg.name +
                       "\" must hold the expert placeholder {e} exactly once "
                       "(found " +
                       std::to_string(placeholders) + ")");
  if (arg.shape.empty())
    v.error(where, "stacked parameter \"" + arg.name +
                       "\" has rank 0 (its shape must be [E, ...])");
}

// Optional "bounds": {"min": int64, "max": int64, "why": string} on an i32 or
// i64 input.
void parseBounds(Validator &v, const json &aj, ArgInfo &arg,
                 const std::map<std::string, int64_t> &symbols,
                 const std::string &where) {
  auto it = aj.find("bounds");
  if (it == aj.end())
    return;
  const json &b = *it;
  if (!b.is_object())
    v.error(where, std::string("field \"bounds\" must be object, got ") +
                       b.type_name());
  if (arg.role != DSV3_ROLE_INPUT)
    v.error(where, std::string("\"bounds\" on a ") + roleName(arg.role) +
                       " (only inputs can have bounds)");
  if (arg.dtype != DType::I32 && arg.dtype != DType::I64)
    v.error(where, std::string("\"bounds\" on an input of dtype ") +
                       dtypeName(arg.dtype) + " (only i32 and i64 inputs)");
  std::string bwhere = where + "bounds: ";
  auto bound = [&](const char *name) {
    const json &f = v.field(b, name, json::value_t::number_integer, bwhere);
    if (f.is_number_unsigned() && f.get<uint64_t>() > INT64_MAX)
      v.error(bwhere,
              std::string(name) + " " + f.dump() + " does not fit in int64");
    return f.get<int64_t>();
  };
  InputBounds bounds;
  bounds.min = bound("min");
  bounds.max = bound("max");
  if (b.contains("why"))
    bounds.why = v.string(b, "why", bwhere);
  if (bounds.min > bounds.max)
    v.error(bwhere, "min " + std::to_string(bounds.min) + " > max " +
                        std::to_string(bounds.max));
  if (b.contains("minus")) {
    bounds.minus = v.string(b, "minus", bwhere);
    if (!symbols.count(bounds.minus))
      v.error(bwhere, "minus \"" + bounds.minus +
                          "\" is not a dynamic dimension of an earlier input");
  }
  arg.bounds = std::move(bounds);
}

// "dynamic_dims": [{"dim", "symbol", "min", "max"}] naming each -1 of the
// shape; inputs define symbols (with their range), outputs use them.
void parseDynamicDims(Validator &v, const json &aj, ArgInfo &arg,
                      std::map<std::string, int64_t> &symbols,
                      const std::string &where) {
  auto it = aj.find("dynamic_dims");
  if (it != aj.end()) {
    if (!it->is_array())
      v.error(where, std::string("field \"dynamic_dims\" must be array, got ") +
                         it->type_name());
    if (arg.role != DSV3_ROLE_INPUT && arg.role != DSV3_ROLE_OUTPUT)
      v.error(where, std::string("\"dynamic_dims\" on a ") +
                         roleName(arg.role) + " (only inputs and outputs)");
    std::string dwhere = where + "dynamic_dims: ";
    for (const json &dj : *it) {
      if (!dj.is_object())
        v.error(dwhere, "expected objects");
      auto integer = [&](const char *name) {
        const json &f =
            v.field(dj, name, json::value_t::number_integer, dwhere);
        if (f.is_number_unsigned() && f.get<uint64_t>() > INT64_MAX)
          v.error(dwhere, std::string(name) + " " + f.dump() +
                              " does not fit in int64");
        return f.get<int64_t>();
      };
      DynamicDim d;
      int64_t dim = integer("dim");
      if (dim < 0 || dim >= static_cast<int64_t>(arg.shape.size()) ||
          arg.shape[dim] != -1)
        v.error(dwhere, "dim " + std::to_string(dim) +
                            " is not a -1 of the shape " +
                            shapeString(arg.shape));
      d.dim = static_cast<size_t>(dim);
      for (const DynamicDim &o : arg.dynamicDims)
        if (o.dim == d.dim)
          v.error(dwhere, "dim " + std::to_string(dim) + " is named twice");
      d.symbol = v.string(dj, "symbol", dwhere);
      if (d.symbol.empty())
        v.error(dwhere, "empty symbol");
      if (arg.role == DSV3_ROLE_INPUT) {
        d.min = integer("min");
        d.max = integer("max");
        if (d.min < 0 || d.min > d.max)
          v.error(dwhere, "range [" + std::to_string(d.min) + ", " +
                              std::to_string(d.max) + "] of \"" + d.symbol +
                              "\" is empty or negative");
        auto [s, inserted] = symbols.emplace(d.symbol, d.max);
        if (!inserted && s->second != d.max)
          v.error(dwhere,
                  "symbol \"" + d.symbol + "\" has two different ranges");
      } else if (!symbols.count(d.symbol)) {
        v.error(dwhere, "symbol \"" + d.symbol +
                            "\" is not defined by an earlier input");
      }
      arg.dynamicDims.push_back(std::move(d));
    }
  }
  for (size_t i = 0; i < arg.shape.size(); ++i) {
    if (arg.shape[i] != -1)
      continue;
    bool named = false;
    for (const DynamicDim &d : arg.dynamicDims)
      named |= d.dim == i;
    if (!named)
      v.error(where, "dimension " + std::to_string(i) +
                         " is dynamic (-1) but no dynamic_dims entry names it");
  }
}

} // namespace

ModuleMetadata parseMetadata(const std::string &label, const char *text) {
  if (!text)
    fail(label + ": invalid metadata: dsv3_module_metadata() returned NULL");
  // dump() in the messages below recurses once per nesting level: deep
  // nesting (valid metadata has 7 levels) would overflow the stack.
  constexpr int kMaxDepth = 64;
  json root = json::parse(
      text,
      [&](int depth, json::parse_event_t event, json &) {
        // depth: the containers open around the one starting here.
        if ((event == json::parse_event_t::object_start ||
             event == json::parse_event_t::array_start) &&
            depth >= kMaxDepth)
          fail(label + ": invalid metadata: nested deeper than " +
               std::to_string(kMaxDepth) + " levels");
        return true;
      },
      /*allow_exceptions=*/false);
  if (root.is_discarded())
    fail(label + ": invalid metadata: not valid JSON");
  Validator v(label);
  if (!root.is_object())
    v.error("", std::string("expected a JSON object, got ") + root.type_name());

  ModuleMetadata md;
  const json &abi =
      v.field(root, "abi_version", json::value_t::number_integer, "");
  if (abi.get<int64_t>() != DSV3_ABI_VERSION)
    v.error("", "abi_version is " + abi.dump() + ", runtime is v" +
                    std::to_string(DSV3_ABI_VERSION));
  md.abiVersion = DSV3_ABI_VERSION;
  md.target = v.string(root, "target", "");
  if (md.target != "host" && md.target != "cuda")
    v.error("", "target \"" + md.target + "\" is not \"host\" or \"cuda\"");
  if (root.contains("x86_64_level")) {
    md.x86Level = v.string(root, "x86_64_level", "");
    if (md.x86Level != "x86-64" && md.x86Level != "x86-64-v2" &&
        md.x86Level != "x86-64-v3" && md.x86Level != "x86-64-v4")
      v.error("", "x86_64_level \"" + md.x86Level +
                      "\" is not x86-64 or x86-64-v2, -v3, -v4");
  }

  if (auto it = root.find("kernels"); it != root.end()) {
    if (!it->is_array())
      v.error("", "field \"kernels\" must be an array");
    std::set<std::string> kernelNames;
    for (size_t k = 0; k < it->size(); ++k) {
      std::string where = "kernels[" + std::to_string(k) + "]: ";
      const json &kj = (*it)[k];
      if (!kj.is_object())
        v.error(where,
                std::string("expected an object, got ") + kj.type_name());
      KernelCost cost;
      cost.name = v.string(kj, "name", where);
      if (cost.name.empty() || !kernelNames.insert(cost.name).second)
        v.error(where, "empty or duplicate kernel name \"" + cost.name + "\"");
      for (auto [field, out] :
           {std::pair{"bytes", &cost.bytes}, std::pair{"flops", &cost.flops}}) {
        auto f = kj.find(field);
        if (f == kj.end())
          continue;
        if (!f->is_number_integer() ||
            (!f->is_number_unsigned() && f->get<int64_t>() < 0) ||
            (f->is_number_unsigned() && f->get<uint64_t>() > INT64_MAX))
          v.error(where, std::string("\"") + field +
                             "\" must be an integer in [0, 2^63), got " +
                             f->dump());
        *out = f->get<uint64_t>();
      }
      md.kernels.push_back(std::move(cost));
    }
  }

  std::set<std::string> entryNames;
  const json &entries = v.field(root, "entries", json::value_t::array, "");
  for (size_t e = 0; e < entries.size(); ++e) {
    std::string where = "entries[" + std::to_string(e) + "]: ";
    const json &ej = entries[e];
    if (!ej.is_object())
      v.error(where, std::string("expected an object, got ") + ej.type_name());
    EntryInfo entry;
    entry.name = v.string(ej, "name", where);
    if (entry.name.empty())
      v.error(where, "empty entry name");
    if (!entryNames.insert(entry.name).second)
      v.error(where, "duplicate entry name \"" + entry.name + "\"");
    where = "entry \"" + entry.name + "\": ";
    entry.symbol = v.string(ej, "symbol", where);
    if (entry.symbol.empty())
      v.error(where, "empty symbol");
    const json &args = v.field(ej, "args", json::value_t::array, where);
    std::set<std::string> argNames;
    // Symbols of the dynamic dimensions the inputs define -> their max.
    std::map<std::string, int64_t> symbols;
    for (size_t a = 0; a < args.size(); ++a) {
      std::string awhere = where + "args[" + std::to_string(a) + "]: ";
      const json &aj = args[a];
      if (!aj.is_object())
        v.error(awhere,
                std::string("expected an object, got ") + aj.type_name());
      ArgInfo arg;
      arg.name = v.string(aj, "name", awhere);
      if (!argNames.insert(arg.name).second)
        v.error(awhere, "duplicate argument name \"" + arg.name + "\"");
      std::string role = v.string(aj, "role", awhere);
      if (role == "input")
        arg.role = DSV3_ROLE_INPUT;
      else if (role == "parameter")
        arg.role = DSV3_ROLE_PARAMETER;
      else if (role == "output")
        arg.role = DSV3_ROLE_OUTPUT;
      else if (role == "state")
        arg.role = DSV3_ROLE_STATE;
      else
        v.error(awhere, "unknown role \"" + role + "\"");
      std::string dtype = v.string(aj, "dtype", awhere);
      std::optional<DType> dt = parseDTypeName(dtype);
      if (!dt)
        v.error(awhere, "unknown dtype \"" + dtype + "\"");
      arg.dtype = *dt;
      const json &shape = v.field(aj, "shape", json::value_t::array, awhere);
      for (const json &d : shape) {
        if (!d.is_number_integer())
          v.error(awhere, "shape dimension " + d.dump() + " is not an integer");
        int64_t dim = d.get<int64_t>();
        if (d.is_number_unsigned() && d.get<uint64_t>() > INT64_MAX)
          v.error(awhere, "shape dimension " + d.dump() + " is too large");
        if (dim < -1)
          v.error(awhere, "negative shape dimension " + d.dump());
        arg.shape.push_back(dim);
      }
      parseDynamicDims(v, aj, arg, symbols, awhere);
      // The largest buffer the argument can need must be addressable.
      std::vector<int64_t> largest = arg.shape;
      for (const DynamicDim &d : arg.dynamicDims)
        largest[d.dim] = symbols.at(d.symbol);
      if (!checkedByteSize(arg.dtype, largest))
        v.error(awhere, "shape " + shapeString(largest) + " overflows");
      parseStacked(v, aj, arg, awhere);
      if (auto it = aj.find("same_as"); it != aj.end()) {
        if (!it->is_string() || it->get<std::string>().empty())
          v.error(awhere, "field \"same_as\" must be a non-empty string");
        arg.sameAs = it->get<std::string>();
        if (arg.role != DSV3_ROLE_PARAMETER || arg.stacked ||
            arg.sameAs == arg.name)
          v.error(awhere, "\"same_as\" on \"" + arg.name +
                              "\": only an unstacked parameter can name "
                              "another parameter");
      }
      if (auto it = aj.find("quantized_from"); it != aj.end()) {
        std::optional<DType> from;
        if (it->is_string())
          from = parseDTypeName(it->get<std::string>());
        if (!from || (*from != DType::BF16 && *from != DType::F16 &&
                      *from != DType::F32))
          v.error(awhere, "field \"quantized_from\" must be \"bf16\", "
                          "\"f16\" or \"f32\", got " +
                              it->dump());
        arg.quantizedFrom = from;
        auto block = aj.find("block");
        if (block == aj.end() || *block != json::array({128, 128}))
          v.error(awhere, "quantized parameter \"" + arg.name +
                              "\" needs \"block\": [128, 128] (the only "
                              "block this runtime quantizes with), got " +
                              (block == aj.end() ? "none" : block->dump()));
        if (arg.role != DSV3_ROLE_PARAMETER || arg.stacked ||
            arg.dtype != DType::F8E4M3FN || arg.shape.size() != 2)
          v.error(awhere, "\"quantized_from\" on \"" + arg.name +
                              "\": only an unstacked rank-2 f8e4m3fn "
                              "parameter can be quantized at bind time");
      }
      if (auto it = aj.find("scales_of"); it != aj.end()) {
        if (!it->is_string() || it->get<std::string>().empty())
          v.error(awhere, "field \"scales_of\" must be a non-empty string");
        arg.scalesOf = it->get<std::string>();
        if (arg.role != DSV3_ROLE_PARAMETER || arg.stacked ||
            arg.dtype != DType::F32 || arg.shape.size() != 2 ||
            arg.quantizedFrom || !arg.sameAs.empty() ||
            arg.scalesOf == arg.name)
          v.error(awhere, "\"scales_of\" on \"" + arg.name +
                              "\": only an unstacked rank-2 f32 parameter "
                              "can hold another parameter's block scales");
      }
      if (arg.expertPointers && md.target != "host")
        v.error(awhere, "\"expert_pointers\" on \"" + arg.name + "\" of a " +
                            md.target +
                            " module (tables of host addresses are for host "
                            "modules)");
      parseBounds(v, aj, arg, symbols, awhere);
      entry.args.push_back(std::move(arg));
    }
    md.entries.push_back(std::move(entry));
  }
  return md;
}

} // namespace dsv3rt::impl
