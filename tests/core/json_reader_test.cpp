#include <doctest/doctest.h>

#include "core/error.h"
#include "core/json_reader.h"

using namespace entlab;

namespace {

template <typename T>
T read_one(const nlohmann::json& value, T initial = T()) {
  nlohmann::json object = {{"key", value}};
  JsonReader reader(object, "section");
  reader.read("key", initial);
  reader.finish();
  return initial;
}

}  // namespace

TEST_CASE("json reader accepts well-typed values") {
  CHECK(read_one<int64_t>(-5) == -5);
  CHECK(read_one<int32_t>(7) == 7);
  CHECK(read_one<uint64_t>(3) == 3);
  CHECK(read_one<float>(0.25) == 0.25f);
  CHECK(read_one<double>(2) == 2.0);
  CHECK(read_one<bool>(true));
  CHECK(read_one<std::string>("x") == "x");
  CHECK(read_one<std::vector<int64_t>>({1, 2}) == std::vector<int64_t>{1, 2});
}

TEST_CASE("json reader rejects values of the wrong kind") {
  CHECK_THROWS_WITH_AS(read_one<int64_t>(2.5), doctest::Contains("section.key: got 2.5, expected an integer"), Error);
  CHECK_THROWS_WITH_AS(read_one<int32_t>(99999999999), doctest::Contains("expected an integer from"), Error);
  CHECK_THROWS_WITH_AS(read_one<uint64_t>(-1), doctest::Contains("section.key"), Error);
  CHECK_THROWS_WITH_AS(read_one<float>(true), doctest::Contains("a finite number"), Error);
  CHECK_THROWS_WITH_AS(read_one<float>(1e300), doctest::Contains("a finite number"), Error);
  CHECK_THROWS_WITH_AS(read_one<std::string>(3), doctest::Contains("a string"), Error);
  CHECK_THROWS_WITH_AS(read_one<std::vector<int64_t>>(5), doctest::Contains("a list"), Error);
  CHECK_THROWS_WITH_AS(read_one<std::vector<int64_t>>({32.7}), doctest::Contains("section.key[0]"), Error);
}

TEST_CASE("json reader lists allowed keys for an unknown one") {
  nlohmann::json object = {{"stepz", 1}};
  JsonReader reader(object, "train");
  int64_t steps = 0;
  reader.read("steps", steps);
  CHECK_THROWS_WITH_AS(reader.finish(), doctest::Contains("unknown key train.stepz; allowed keys: steps"), Error);
}

TEST_CASE("float too small for float32 rejected") {
  CHECK_THROWS_WITH_AS(read_one<float>(1e-50), doctest::Contains("a float can hold"), Error);
  CHECK(read_one<float>(0.0) == 0.0f);
  CHECK(read_one<double>(1e-50) == 1e-50);
}
