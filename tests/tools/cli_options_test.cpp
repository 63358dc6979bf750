#include <doctest/doctest.h>

#include "core/error.h"
#include "tools/cli_options.h"

using namespace entlab;
using namespace entlab::tools;

namespace {

// The validator's message for `text` ("" when accepted).
std::string check(const CLI::Validator& validator, std::string text) { return validator(text); }

}  // namespace

TEST_CASE("integer_in accepts and rejects") {
  CLI::Validator steps = integer_in(1, 100);
  CHECK(check(steps, "5") == "");
  CHECK(check(steps, "0") == "0 is out of range: expected 1 to 100");
  CHECK(check(steps, "abc") == "'abc' is not an integer");
  CHECK(check(steps, "5x") == "'5x' is not an integer");
  CHECK(check(steps, "") == "'' is not an integer");
  CHECK(check(steps, "99999999999999999999") == "99999999999999999999 is out of range: expected 1 to 100");
}

TEST_CASE("number_above accepts and rejects") {
  CLI::Validator lr = number_above(0, 10);
  CHECK(check(lr, "2e-3") == "");
  CHECK(check(lr, "0") != "");
  CHECK(check(lr, "1e40") != "");
  CHECK(check(lr, "nan") != "");
  CHECK(check(lr, "x") == "'x' is not a number");
}

TEST_CASE("parse_integer_list reads comma lists") {
  CHECK(parse_integer_list("32,64,128", "--lengths", 1, 1000) == std::vector<int64_t>{32, 64, 128});
  CHECK(parse_integer_list("7", "--lengths", 1, 1000) == std::vector<int64_t>{7});
}

TEST_CASE("parse_integer_list rejects bad entries") {
  CHECK_THROWS_WITH_AS(parse_integer_list("64,,128", "--lengths", 1, 1000), doctest::Contains("empty entry"), Error);
  CHECK_THROWS_WITH_AS(parse_integer_list("64,", "--lengths", 1, 1000), doctest::Contains("empty entry"), Error);
  CHECK_THROWS_WITH_AS(parse_integer_list("64,abc", "--lengths", 1, 1000), doctest::Contains("'abc' is not an integer"),
                       Error);
  CHECK_THROWS_WITH_AS(parse_integer_list("0", "--lengths", 1, 1000), doctest::Contains("out of range"), Error);
  CHECK_THROWS_WITH_AS(parse_integer_list("2,2", "--multiples", 1, 1000), doctest::Contains("listed twice"), Error);
}
