#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/error.h"
#include "tasks/evaluate.h"
#include "tasks/train.h"
#include "tools/cli_options.h"
#include "tools/commands.h"
#include "tools/report.h"
#include "tools/run_folder.h"

namespace entlab::tools {

namespace {

struct EvalFlags {
  std::string run_dir;
  std::string lengths;
  int64_t samples = 0, batch = 0;
  int64_t seed = -1;
  int threads = -1;
};

void run_eval(const EvalFlags& flags) {
  const std::vector<int64_t> requested_lengths =
      flags.lengths.empty() ? std::vector<int64_t>() : parse_integer_list(flags.lengths, "--lengths", 1, kMaxLength);
  tasks::RunConfig config;
  std::unique_ptr<nn::Transformer> model = tasks::load_trained_model(flags.run_dir, &config);
  tasks::apply_thread_setting(flags.threads >= 0 ? flags.threads : config.train.threads);
  std::unique_ptr<tasks::Task> task = tasks::make_task(config.task.name, config.task.options);

  tasks::EvalOptions options;
  options.lengths = requested_lengths.empty() ? config.eval_lengths() : requested_lengths;
  tasks::check_eval_lengths(*task, config.model, options.lengths,
                            requested_lengths.empty() ? "eval.lengths (config.json)" : "--lengths");
  options.samples_per_length = flags.samples ? flags.samples : config.eval.samples_per_length;
  options.batch_size = flags.batch ? flags.batch : config.eval.batch_size;
  options.seed = flags.seed >= 0 ? static_cast<uint64_t>(flags.seed) : config.eval.seed;

  print_thread_note();
  std::vector<HeadGroup> groups = head_groups(config.model);
  std::vector<tasks::LengthResult> results;
  std::vector<TableRow> rows;
  std::cout << "evaluating " << flags.run_dir << " (" << config.task.name << ", trained at length "
            << config.task.train_length << ", " << options.samples_per_length << " samples per length)\n";
  for (int64_t length : options.lengths) {
    results.push_back(tasks::evaluate_length(*model, *task, length, options));
    rows.push_back(eval_table_row(results.back(), groups, config.model.n_heads));
    std::cout << "  length " << length << ": " << format_fixed(100.0 * results.back().accuracy(), 1)
              << "% exact match\n" << std::flush;
  }
  std::cout << "\n" << format_table(eval_table_header(groups), rows);

  namespace fs = std::filesystem;
  const std::string suffix = free_result_suffix(flags.run_dir, {"eval", "dispersion"});
  const std::string eval_path = (fs::path(flags.run_dir) / ("eval" + suffix + ".csv")).string();
  const std::string dispersion_path = (fs::path(flags.run_dir) / ("dispersion" + suffix + ".csv")).string();
  write_file_atomically(eval_path, eval_csv(results));
  write_file_atomically(dispersion_path, dispersion_csv(results, config.model));
  std::cout << "wrote " << eval_path << " and " << dispersion_path << "\n";
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto flags = std::make_shared<EvalFlags>();
  CLI::App* cmd = app.add_subcommand("eval", "Exact-match accuracy and attention dispersion by length");
  cmd->add_option("--run", flags->run_dir, "Run folder written by entlab train")->required();
  cmd->add_option("--lengths", flags->lengths, "Comma-separated lengths (default 1,2,4,8,16 x train length)");
  cmd->add_option("--samples", flags->samples, "Test samples per length (default from the run config)")
      ->check(integer_in(1, 1000000));
  cmd->add_option("--batch", flags->batch, "Samples per forward pass (shrunk for long sequences)")
      ->check(integer_in(1, kMaxBatch));
  cmd->add_option("--seed", flags->seed, "Test-set seed (default from the run config)")->check(integer_in(0, INT64_MAX));
  cmd->add_option("--threads", flags->threads, "OpenMP threads, 0 = all cores")
      ->check(integer_in(0, tasks::kMaxThreads));
  cmd->callback([flags] { run_eval(*flags); });
}

}  // namespace entlab::tools
