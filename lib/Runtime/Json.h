// Streaming JSON object parsing for the safetensors header and shard index
// readers.
#ifndef DSV3_LIB_RUNTIME_JSON_H
#define DSV3_LIB_RUNTIME_JSON_H

#include <nlohmann/json.hpp>

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

namespace dsv3rt::impl {

// onMember(parent, key, value): one member of the parsed object. parent is
// "" for a member of the top-level object, else the key of the expanded
// top-level member it belongs to (see parseJsonObject).
using JsonMemberFn = std::function<void(
    std::string_view parent, std::string &key, nlohmann::json &value)>;

// Parses [begin, end), which must hold one JSON object, and hands its
// members to onMember in document order as each value completes, instead of
// building the object: a checkpoint header or shard index has ~100k members,
// and a whole-document DOM is slow at that size (nlohmann::json allocates a
// std::map node per member, ordered_json looks every key up linearly, and
// nlohmann's parse callbacks rescan the parent object after every nested
// object). Member values are built as nlohmann::json.
//
// A top-level member whose key is in `expand` and whose value is an object
// (e.g. "weight_map") is streamed too: its members are handed over with
// parent set to its key, then the member itself, with an empty object as its
// value. Any other value of it is handed over as is.
//
// Duplicate keys, which nlohmann would otherwise collapse silently (the last
// wins), are refused inside member values. Among the streamed members they
// are the caller's to find: a set of 100k keys here would cost more than the
// rest of the parse, and both callers sort the keys anyway, where duplicates
// are neighbours. A corrupt or malicious file must not pick a tensor's data
// or shard ambiguously. Throws Error
// "<where>: malformed JSON: ..." (also for a NUL byte anywhere in the text),
// "<where>: duplicate key \"k\"" or
// "<where>: expected a JSON object, got <type>"; exceptions from onMember
// pass through.
void parseJsonObject(const std::string &where, const char *begin,
                     const char *end, const JsonMemberFn &onMember,
                     std::initializer_list<std::string_view> expand = {});

} // namespace dsv3rt::impl

#endif // DSV3_LIB_RUNTIME_JSON_H
