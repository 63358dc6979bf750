// Strict reading of JSON objects (configs): every key must be known and of the right
// type. Errors name the full key path ("model.n_heads") and list the allowed keys.
#pragma once

#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace entlab {

std::string join(const std::vector<std::string>& parts, const std::string& separator);

class JsonReader {
 public:
  // `section` is the key path of `object` used in messages ("model", "train").
  JsonReader(const nlohmann::json& object, std::string section);

  // Reads `key` into `value` if present (keeping the default otherwise); throws if
  // the stored type does not convert to T.
  template <typename T>
  void read(const std::string& key, T& value) {
    allowed_.push_back(key);
    if (!object_.contains(key)) return;
    seen_.insert(key);
    const nlohmann::json& stored = object_.at(key);
    bool integer_expected = std::is_integral_v<T> && !std::is_same_v<T, bool>;
    if (integer_expected && !stored.is_number_integer())
      throw Error(str_cat("invalid type for ", section_, ".", key, ": got ", stored.dump(),
                          ", expected an integer"));
    try {
      value = stored.get<T>();
    } catch (const nlohmann::json::exception&) {
      throw Error(str_cat("invalid type for ", section_, ".", key, ": got ", object_.at(key).dump(),
                          ", expected ", type_name(value)));
    }
  }

  // The sub-object at `key` (an empty object when absent).
  nlohmann::json child(const std::string& key);

  // Throws if the object has a key that no read() asked for, listing the allowed keys.
  void finish() const;

 private:
  static std::string type_name(const std::string&) { return "a string"; }
  static std::string type_name(bool) { return "true or false"; }
  static std::string type_name(double) { return "a number"; }
  static std::string type_name(float) { return "a number"; }
  template <typename T>
  static std::string type_name(const T&) { return "an integer"; }
  template <typename T>
  static std::string type_name(const std::vector<T>&) { return "a list"; }

  const nlohmann::json& object_;
  std::string section_;
  std::vector<std::string> allowed_;
  std::set<std::string> seen_;
};

}  // namespace entlab
