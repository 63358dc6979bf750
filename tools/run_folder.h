// Naming of run folders.
#pragma once

#include <string>

namespace entlab::tools {

// Creates and returns "runs/<prefix>-YYYYmmdd-HHMMSS" (local time), with "-2", "-3", ...
// appended when a run started in the same second already took that name.
std::string default_run_folder(const std::string& prefix);

}  // namespace entlab::tools
