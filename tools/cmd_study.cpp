#include <iostream>
#include <memory>

#include "core/error.h"
#include "tools/commands.h"
#include "tools/run_folder.h"
#include "tools/study.h"

namespace entlab::tools {

void add_study_command(CLI::App& app) {
  auto options = std::make_shared<StudyOptions>();
  auto seed = std::make_shared<int64_t>(1);
  CLI::App* cmd = app.add_subcommand(
      "study", "Train softmax+rope, softmax+nape and entmax15+nape, evaluate at 1-16x the training length");
  cmd->add_option("--out", options->out_dir, "Study folder to create (default runs/study-<time>)");
  cmd->add_option("--task", options->task, "Task (default flipflop)");
  cmd->add_option("--steps", options->steps, "Training steps per variant (default 2000)")->check(CLI::PositiveNumber);
  cmd->add_option("--samples", options->samples, "Test samples per length (default 100)")->check(CLI::PositiveNumber);
  cmd->add_option("--seed", *seed, "Seed for weights and training data (default 1)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--threads", options->threads, "OpenMP threads, 0 = all cores (default 0)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--multiples", options->multiples, "Comma-separated multiples of the training length to evaluate")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  cmd->callback([options, seed] {
    if (options->out_dir.empty()) options->out_dir = default_run_folder("study");
    options->seed = static_cast<uint64_t>(*seed);
    run_study(*options, std::cout);
  });
}

}  // namespace entlab::tools
