#include "core/json_reader.h"

#include <charconv>
#include <cstdlib>

namespace entlab {

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? separator : "") + parts[i];
  return out;
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return parts;
    start = end + 1;
  }
}

double json_number(float value) {
  char text[64];
  auto result = std::to_chars(text, text + sizeof text, value);
  *result.ptr = '\0';
  return std::strtod(text, nullptr);
}

JsonReader::JsonReader(const nlohmann::json& object, std::string section)
    : object_(object), section_(std::move(section)) {
  ENTLAB_CHECK(object_.is_object(), "invalid ", section_, ": expected a JSON object, got ",
               object_.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace));
}

nlohmann::json JsonReader::child(const std::string& key) {
  allowed_.push_back(key);
  if (!object_.contains(key)) return nlohmann::json::object();
  seen_.insert(key);
  return object_.at(key);
}

void JsonReader::finish() const {
  for (const auto& [key, value] : object_.items())
    ENTLAB_CHECK(seen_.count(key), "unknown key ", section_, ".", key, "; allowed keys: ", join(allowed_, ", "));
}

}  // namespace entlab
