// The entlab subcommands. Each add_* function registers one subcommand on the app
// and its callback; errors are thrown as entlab::Error and printed by main.
#pragma once

#include <CLI/CLI.hpp>

namespace entlab::tools {

// Thrown by a subcommand that ends without an error but must exit with a non-zero
// status, such as a training run stopped by SIGINT (130). main returns `status`.
struct ExitStatus {
  int status = 1;
};

void add_train_command(CLI::App& app);
void add_config_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_heatmap_command(CLI::App& app);
void add_study_command(CLI::App& app);
void add_probe_command(CLI::App& app);
void add_bench_command(CLI::App& app);

}  // namespace entlab::tools
