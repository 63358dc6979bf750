#include <iostream>
#include <memory>

#include "core/error.h"
#include "core/json_reader.h"
#include "tools/cli_options.h"
#include "tools/commands.h"
#include "tools/run_folder.h"
#include "tasks/train.h"
#include "tools/study.h"

namespace entlab::tools {

void add_study_command(CLI::App& app) {
  auto options = std::make_shared<StudyOptions>();
  auto seed = std::make_shared<int64_t>(1);
  CLI::App* cmd = app.add_subcommand(
      "study", "Train softmax+rope, softmax+nape and entmax15+nape, evaluate at 1-16x the training length");
  auto multiples = std::make_shared<std::string>();
  auto variants = std::make_shared<std::string>();
  cmd->add_option("--out", options->out_dir, "Study folder to create (default runs/study-<date>-<time>)");
  cmd->add_option("--task", options->task, "Task (default flipflop)");
  cmd->add_option("--steps", options->steps, "Training steps per variant (default 2000)")
      ->check(integer_in(1, kMaxSteps));
  cmd->add_option("--samples", options->samples, "Test samples per length (default 100)")
      ->check(integer_in(1, 1000000));
  cmd->add_option("--seed", *seed, "Seed for weights and training data (default 1)")->check(integer_in(0, INT64_MAX));
  cmd->add_option("--seeds", options->seeds, "Training runs per variant, seeds seed..seed+N-1 (default 3)")
      ->check(integer_in(1, 100));
  cmd->add_option("--threads", options->threads, "OpenMP threads, 0 = all cores (default 0)")
      ->check(integer_in(0, tasks::kMaxThreads));
  cmd->add_option("--variants", *variants,
                  "Comma-separated <transform>+<position>[+<scaling>] (default "
                  "softmax+rope,softmax+nape,entmax15+nape)");
  cmd->add_option("--multiples", *multiples,
                  "Comma-separated multiples of the training length to evaluate (default 1,2,4,8,16)");
  cmd->callback([cmd, options, seed, multiples, variants] {
    if (!variants->empty()) {
      options->variants.clear();
      for (const std::string& text : split(*variants, ',')) options->variants.push_back(parse_study_variant(text));
    }
    if (!multiples->empty()) options->multiples = parse_integer_list(*multiples, "--multiples", 1, 1 << 16);
    options->seed = static_cast<uint64_t>(*seed);
    check_study_options(*options);
    if (cmd->count("--out") == 0) options->out_dir = default_run_folder("study");
    tasks::apply_thread_setting(options->threads);
    print_thread_note();
    run_study(*options, std::cout);
  });
}

}  // namespace entlab::tools
