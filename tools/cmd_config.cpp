#include <filesystem>
#include <iostream>
#include <memory>

#include "core/atomic_file.h"
#include "core/error.h"
#include "tasks/presets.h"
#include "tools/commands.h"
#include "tools/config_source.h"

namespace entlab::tools {

void add_config_command(CLI::App& app) {
  auto source = std::make_shared<ConfigSource>();
  auto out = std::make_shared<std::string>();
  auto list = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "config", "Print a complete run config (a preset or file, with --set applied), ready to edit and pass to "
                "entlab train --config");
  add_config_source_options(cmd, *source);
  cmd->add_option("--out", *out, "Write the config to this file instead of printing it (never overwrites)");
  cmd->add_flag("--list-presets", *list, "List the built-in presets");

  cmd->callback([source, out, list] {
    if (*list) {
      for (const tasks::Preset& preset : tasks::presets())
        std::cout << "  " << preset.name << std::string(16 - std::min<size_t>(15, preset.name.size()), ' ')
                  << preset.description << "\n";
      return;
    }
    tasks::RunConfig config = load_config_source(*source);
    config.finalize();
    const std::string text = tasks::to_json(config).dump(2) + "\n";
    if (out->empty()) {
      std::cout << text;
      return;
    }
    ENTLAB_CHECK(!std::filesystem::exists(*out), "--out ", *out, " already exists; choose a new file name");
    const std::filesystem::path parent = std::filesystem::path(*out).parent_path();
    ENTLAB_CHECK(parent.empty() || std::filesystem::is_directory(parent), "--out ", *out, ": the folder ",
                 parent.string(), " does not exist");
    write_file_atomically(*out, text);
    std::cout << "wrote " << *out << "\n";
  });
}

}  // namespace entlab::tools
