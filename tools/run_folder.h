// Naming of run folders.
#pragma once

#include <string>

namespace entlab::tools {

// "runs/<prefix>-YYYYmmdd-HHMMSS" (local time).
std::string default_run_folder(const std::string& prefix);

}  // namespace entlab::tools
