// Strict reading of JSON objects (configs): every key must be known and of the right
// type. Errors name the full key path ("model.n_heads") and list the allowed keys.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace entlab {

std::string join(const std::vector<std::string>& parts, const std::string& separator);
// Splits at every `separator`, keeping empty parts ("a,,b" -> "a", "", "b").
std::vector<std::string> split(const std::string& text, char separator);

// The double closest to the shortest decimal that reads back as `value`, so configs show
// 0.002 rather than 0.0020000000949949026 (the float's exact value).
double json_number(float value);

// Parses JSON text like Json::parse, but an object that repeats a key is an error
// ("the JSON repeats the key 'k' in one object") where nlohmann::json would keep the last
// value silently. Syntax errors throw nlohmann's parse_error, as Json::parse does.
template <typename Json>
Json parse_json_without_repeated_keys(const std::string& text) {
  using Event = typename Json::parse_event_t;
  std::vector<std::set<std::string>> open_objects;  // the keys seen in each open object
  auto reject_repeated_keys = [&](int /*depth*/, Event event, Json& parsed) {
    if (event == Event::object_start) open_objects.emplace_back();
    if (event == Event::object_end) open_objects.pop_back();
    if (event == Event::key && !open_objects.back().insert(parsed.template get<std::string>()).second)
      throw Error(str_cat("the JSON repeats the key '", parsed.template get<std::string>(), "' in one object"));
    return true;
  };
  return Json::parse(text, reject_repeated_keys);
}

class JsonReader {
 public:
  // `section` is the key path of `object` used in messages ("model", "train").
  JsonReader(const nlohmann::json& object, std::string section);

  // Reads `key` into `value` if present (keeping the default otherwise). Throws if the
  // stored value is not of T's kind: integers must be whole and fit T (unsigned ones
  // non-negative), numbers must be finite numbers (not true/false), strings strings.
  template <typename T>
  void read(const std::string& key, T& value) {
    allowed_.push_back(key);
    if (!object_.contains(key)) return;
    seen_.insert(key);
    value = convert<T>(object_.at(key), section_ + "." + key);
  }

  // The sub-object at `key` (an empty object when absent).
  nlohmann::json child(const std::string& key);

  // Throws if the object has a key that no read() asked for, listing the allowed keys.
  void finish() const;

 private:
  template <typename T>
  static T convert(const nlohmann::json& stored, const std::string& key_path) {
    if constexpr (is_vector<T>::value) {
      if (!stored.is_array()) fail(key_path, stored, "a list");
      T values;
      for (size_t i = 0; i < stored.size(); ++i)
        values.push_back(convert<typename T::value_type>(stored[i], str_cat(key_path, "[", i, "]")));
      return values;
    } else if constexpr (std::is_same_v<T, bool>) {
      if (!stored.is_boolean()) fail(key_path, stored, "true or false");
      return stored.get<bool>();
    } else if constexpr (std::is_integral_v<T>) {
      const bool fits = std::is_signed_v<T>
                            ? stored.is_number_integer() && !(stored.is_number_unsigned() &&
                                                              stored.get<uint64_t>() > uint64_t(INT64_MAX)) &&
                                  in_range<T>(stored.get<int64_t>())
                            : stored.is_number_integer() &&
                                  (stored.is_number_unsigned() || stored.get<int64_t>() >= 0) &&
                                  stored.get<uint64_t>() <= std::numeric_limits<T>::max();
      // The full 64-bit range is no useful hint, so only narrower types name their range.
      if (!fits && std::is_same_v<T, int64_t>) fail(key_path, stored, "an integer");
      if (!fits && std::is_same_v<T, uint64_t>) fail(key_path, stored, "a non-negative integer");
      if (!fits)
        fail(key_path, stored, str_cat("an integer from ", +std::numeric_limits<T>::min(), " to ",
                                       +std::numeric_limits<T>::max()));
      return stored.get<T>();
    } else if constexpr (std::is_floating_point_v<T>) {
      if (!stored.is_number() || !std::isfinite(static_cast<T>(stored.get<double>())))
        fail(key_path, stored, "a finite number");
      // 1e-50 would silently become 0 in a float.
      if (stored.get<double>() != 0.0 && static_cast<T>(stored.get<double>()) == 0)
        fail(key_path, stored, "a number whose size a float can hold (at least about 1e-38)");
      return static_cast<T>(stored.get<double>());
    } else {
      if (!stored.is_string()) fail(key_path, stored, "a string");
      return stored.get<T>();
    }
  }

  template <typename T>
  static bool in_range(int64_t value) {
    return value >= static_cast<int64_t>(std::numeric_limits<T>::min()) &&
           value <= static_cast<int64_t>(std::numeric_limits<T>::max());
  }

  [[noreturn]] static void fail(const std::string& key_path, const nlohmann::json& stored, const std::string& expected) {
    std::string shown = stored.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
    if (shown.size() > 80) shown = shown.substr(0, 77) + "...";
    throw Error(str_cat("invalid type for ", key_path, ": got ", shown, ", expected ", expected));
  }

  template <typename T>
  struct is_vector : std::false_type {};
  template <typename T>
  struct is_vector<std::vector<T>> : std::true_type {};

  const nlohmann::json& object_;
  std::string section_;
  std::vector<std::string> allowed_;
  std::set<std::string> seen_;
};

}  // namespace entlab
