#include "tools/cli_options.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "core/error.h"
#include "core/json_reader.h"
#include "core/parallel.h"

namespace entlab::tools {

namespace {

// The integer in `text`, or an error message; the whole text must be the number.
std::string parse_integer(const std::string& text, int64_t low, int64_t high, int64_t& value) {
  const char* first = text.data();
  const char* last = text.data() + text.size();
  auto [end, error] = std::from_chars(first, last, value);
  if (text.empty() || end != last || error == std::errc::invalid_argument)
    return "'" + text + "' is not an integer";
  if (error == std::errc::result_out_of_range || value < low || value > high)
    return str_cat(text, " is out of range: expected ", low, " to ", high);
  return "";
}

}  // namespace

CLI::Validator integer_in(int64_t low, int64_t high) {
  return CLI::Validator(
      [low, high](std::string& input) {
        int64_t value = 0;
        return parse_integer(input, low, high, value);
      },
      str_cat("INT in [", low, ", ", high, "]"));
}

CLI::Validator number_above(double low, double high) {
  return CLI::Validator(
      [low, high](std::string& input) -> std::string {
        char* end = nullptr;
        const double value = std::strtod(input.c_str(), &end);
        if (input.empty() || end != input.c_str() + input.size()) return "'" + input + "' is not a number";
        if (!std::isfinite(value) || value <= low || value > high)
          return str_cat(input, " is out of range: expected a number above ", low, " and at most ", high);
        return "";
      },
      str_cat("NUMBER in (", low, ", ", high, "]"));
}

std::vector<int64_t> parse_integer_list(const std::string& text, const std::string& option, int64_t low,
                                        int64_t high) {
  std::vector<int64_t> values;
  std::set<int64_t> seen;
  for (const std::string& entry : split(text, ',')) {
    int64_t value = 0;
    std::string error = parse_integer(entry, low, high, value);
    ENTLAB_CHECK(!entry.empty(), "invalid ", option, " '", text, "': empty entry; write comma-separated integers like 32,64,128");
    ENTLAB_CHECK(error.empty(), "invalid ", option, " '", text, "': ", error);
    ENTLAB_CHECK(seen.insert(value).second, "invalid ", option, " '", text, "': ", value, " is listed twice");
    values.push_back(value);
  }
  return values;
}

// libgomp reads OMP_WAIT_POLICY once, when the process starts, so entlab cannot change
// it. Its default lets idle threads spin. On the 2-vCPU development machine that made
// training steps of the default model 4x slower than passive waiting (measured with
// `entlab train`), so the note tells the user how to avoid it.
void print_thread_note() {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT") || entlab::num_threads() < 2) return;
  std::fprintf(stderr,
               "entlab: note: OMP_WAIT_POLICY is not set, so idle OpenMP threads busy-wait; on machines whose "
               "cores share execution units this slows small models down. Run with OMP_WAIT_POLICY=passive "
               "(tools/run.sh sets it) or --threads 1.\n");
}

}  // namespace entlab::tools
