// The source of a run config on the command line: a preset or a JSON file, then
// --set key=value assignments. Shared by `entlab train` and `entlab config`.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "tasks/run_config.h"

namespace entlab::tools {

struct ConfigSource {
  std::string preset = "small";  // used unless a file is given
  std::string config_file;       // excludes preset
  std::vector<std::string> assignments;
};

// Adds --preset, --config and --set to `cmd`.
void add_config_source_options(CLI::App* cmd, ConfigSource& source);
// The preset or file, with every --set applied in order. Not finalized.
tasks::RunConfig load_config_source(const ConfigSource& source);

}  // namespace entlab::tools
