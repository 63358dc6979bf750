// Built-in run configs: the starting point of `entlab train --preset NAME` and of
// `entlab config`. A config file or --set changes them key by key.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "tasks/run_config.h"

namespace entlab::tasks {

struct Preset {
  std::string name;
  std::string description;         // one line for entlab config --list-presets
  std::function<RunConfig()> make;  // the config, not finalized
};

// tiny, small, then paper-<task> for every task.
const std::vector<Preset>& presets();
std::vector<std::string> preset_names();
// The preset's config, not finalized. An unknown name is an error listing the valid ones.
RunConfig preset_config(const std::string& name);

}  // namespace entlab::tasks
