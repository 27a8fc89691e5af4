#include "Json.h"

#include "Error.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace dsv3rt::impl {

namespace {

using json = nlohmann::json;

// Headers and indexes nest 3 levels. Far deeper nesting is refused: the
// values built from it are printed (dump()) by recursion, one stack frame per
// level, so ~10^5 '[' in a file would overflow the stack (found by fuzz/).
constexpr int kMaxJsonDepth = 64;

// SAX handler. Depths 1..streamed_ are objects whose members are handed to
// onMember (the top-level object, and an expanded member of it); deeper
// containers are built as json, innermost last in built_.
class MemberStreamer : public nlohmann::json_sax<json> {
public:
  MemberStreamer(const std::string &where, const JsonMemberFn &onMember,
                 std::initializer_list<std::string_view> expand)
      : where_(where), onMember_(onMember), expand_(expand) {}

  bool null() override { return add(nullptr); }
  bool boolean(bool v) override { return add(v); }
  bool number_integer(number_integer_t v) override { return add(v); }
  bool number_unsigned(number_unsigned_t v) override { return add(v); }
  bool number_float(number_float_t v, const string_t &) override {
    return add(v);
  }
  bool string(string_t &v) override { return add(std::move(v)); }
  bool binary(binary_t &) override {
    fail(where_ + ": malformed JSON: binary value"); // JSON text has none
  }

  bool start_object(std::size_t) override {
    // The top-level object, or the value of an expanded member of it.
    const bool expanded =
        depth_ == 1 && streamed_ == 1 &&
        std::find(expand_.begin(), expand_.end(), keys_[0]) != expand_.end();
    if (depth_ == 0 || expanded) {
      ++depth_;
      streamed_ = depth_;
      return true;
    }
    open(json::object());
    return true;
  }
  bool start_array(std::size_t) override {
    if (depth_ == 0)
      notAnObject(json::array());
    open(json::array());
    return true;
  }
  bool key(string_t &k) override {
    if (depth_ == streamed_) {
      keys_[streamed_ - 1] = std::move(k);
      return true;
    }
    json &object = *built_.back();
    if (object.contains(k))
      duplicate(k);
    // std::map nodes never move, so the slot stays valid while the value's
    // events arrive.
    member_ = &object[k];
    return true;
  }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }

  bool parse_error(std::size_t, const std::string &,
                   const nlohmann::detail::exception &e) override {
    fail(where_ + ": malformed JSON: " + e.what());
  }

private:
  [[noreturn]] void duplicate(const std::string &k) {
    fail(where_ + ": duplicate key \"" + k + "\"");
  }
  [[noreturn]] void notAnObject(const json &v) {
    fail(where_ + ": expected a JSON object, got " + v.type_name());
  }
  void emit(json &&v) {
    json value = std::move(v);
    onMember_(streamed_ == 2 ? std::string_view(keys_[0]) : std::string_view(),
              keys_[streamed_ - 1], value);
  }
  // Places v where the next value goes: the end of the innermost open array
  // or the member named by the last key. Only the innermost open container
  // grows, so pointers to the open ones stay valid.
  json *place(json &&v) {
    json &parent = *built_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(v));
      return &parent.back();
    }
    *member_ = std::move(v);
    return member_;
  }
  template <typename T> bool add(T &&v) {
    if (depth_ == 0)
      notAnObject(json(std::forward<T>(v)));
    if (depth_ == streamed_)
      emit(json(std::forward<T>(v)));
    else
      place(json(std::forward<T>(v)));
    return true;
  }
  void open(json &&container) {
    if (depth_ >= kMaxJsonDepth)
      fail(where_ + ": malformed JSON: nested deeper than " +
           std::to_string(kMaxJsonDepth) + " levels");
    if (depth_ == streamed_) {
      value_ = std::move(container);
      built_.push_back(&value_);
    } else {
      built_.push_back(place(std::move(container)));
    }
    ++depth_;
  }
  bool close() {
    --depth_;
    if (!built_.empty()) {
      built_.pop_back();
      if (depth_ == streamed_)
        emit(std::move(value_));
    } else if (depth_ == 1) { // the end of an expanded member
      streamed_ = 1;
      emit(json::object());
    }
    return true;
  }

  const std::string &where_;
  const JsonMemberFn &onMember_;
  std::initializer_list<std::string_view> expand_;
  int depth_ = 0;             // open containers
  int streamed_ = 0;          // depth of the innermost streamed object
  std::string keys_[2];       // current key per streamed depth
  json value_;                // the member value being built
  std::vector<json *> built_; // open containers inside it
  json *member_ = nullptr;    // where an object's next value goes
};

} // namespace

void parseJsonObject(const std::string &where, const char *begin,
                     const char *end, const JsonMemberFn &onMember,
                     std::initializer_list<std::string_view> expand) {
  // An empty file maps to no memory: [nullptr, nullptr) must not reach the
  // parser or memchr (undefined behaviour); it reads as the empty text it is.
  if (begin == end)
    begin = end = "";
  // nlohmann's lexer takes a NUL byte for the end of the input: text after
  // one would be dropped silently, and a NUL is never valid JSON text.
  if (const void *nul = std::memchr(begin, 0, end - begin))
    fail(where + ": malformed JSON: NUL byte at offset " +
         std::to_string(static_cast<const char *>(nul) - begin));
  MemberStreamer streamer(where, onMember, expand);
  // strict: trailing text after the object is an error.
  json::sax_parse(begin, end, &streamer, json::input_format_t::json,
                  /*strict=*/true);
}

} // namespace dsv3rt::impl
