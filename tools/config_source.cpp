#include "tools/config_source.h"

#include "core/json_reader.h"
#include "tasks/presets.h"

namespace entlab::tools {

void add_config_source_options(CLI::App* cmd, ConfigSource& source) {
  CLI::Option* preset = cmd->add_option("--preset", source.preset,
                                        "Built-in config: " + join(tasks::preset_names(), ", ") +
                                            " (default small; list them with entlab config --list-presets)");
  CLI::Option* file = cmd->add_option("--config", source.config_file, "Run config JSON file")->check(CLI::ExistingFile);
  preset->excludes(file);
  cmd->add_option("--set", source.assignments,
                  "Change one config key, e.g. --set model.d_model=128 --set attention.transform=entmax15 "
                  "(repeatable; applied after --preset or --config, task.name first, before the other flags)")
      ->allow_extra_args(false);
}

tasks::RunConfig load_config_source(const ConfigSource& source) {
  tasks::RunConfig config = source.config_file.empty() ? tasks::preset_config(source.preset)
                                                       : tasks::load_run_config(source.config_file);
  // task.name first: a new name resets the task options, which would otherwise drop an
  // option set for the new task before its name.
  for (const std::string& assignment : source.assignments)
    if (assignment.rfind("task.name=", 0) == 0) tasks::apply_assignment(config, assignment);
  for (const std::string& assignment : source.assignments)
    if (assignment.rfind("task.name=", 0) != 0) tasks::apply_assignment(config, assignment);
  return config;
}

}  // namespace entlab::tools
