// Naming of run folders.
#pragma once

#include <string>
#include <vector>

namespace entlab::tools {

// Creates and returns "runs/<prefix>-YYYYmmdd-HHMMSS" (local time), with "-2", "-3", ...
// appended when a run started in the same second already took that name.
std::string default_run_folder(const std::string& prefix);

// The first suffix "" , "-2", "-3", ... for which every "<folder>/<stem><suffix>.csv" of
// `stems` is free, so a new evaluation never replaces an earlier one.
std::string free_result_suffix(const std::string& folder, const std::vector<std::string>& stems);

}  // namespace entlab::tools
