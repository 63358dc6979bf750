// Option checks for the entlab command line, with messages that name the problem.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "nn/config.h"
#include "tasks/task.h"

namespace entlab::tools {

// Accepts a whole number in [low, high]: "'abc' is not an integer", "0 is out of range:
// expected 1 to 1000000000". Out-of-range values are caught before CLI11 converts them.
CLI::Validator integer_in(int64_t low, int64_t high);
// Accepts a finite number greater than `low` and at most `high`.
CLI::Validator number_above(double low, double high);

// Parses "32,64,128" into integers in [low, high]. Empty entries, non-numbers and
// repeated values are errors naming `option`.
std::vector<int64_t> parse_integer_list(const std::string& text, const std::string& option, int64_t low,
                                        int64_t high);

// Prints a one-line note when OpenMP threads would busy-wait (OMP_WAIT_POLICY unset and
// more than one thread), since that slows small models down on shared cores.
void print_thread_note();

// Upper bounds shared by several subcommands.
constexpr int64_t kMaxSteps = 1000000000;
constexpr int64_t kMaxBatch = 65536;
constexpr int64_t kMaxLength = tasks::kMaxSampleLength;
constexpr int64_t kMaxWidth = nn::kMaxModelWidth;

}  // namespace entlab::tools
