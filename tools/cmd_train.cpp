#include <filesystem>
#include <iostream>
#include <memory>
#include <set>
#include <string>

#include "core/error.h"
#include "core/json_reader.h"
#include "core/stop_signal.h"
#include "nn/config.h"
#include "tasks/run_config.h"
#include "tasks/task.h"
#include "tasks/train.h"
#include "tools/cli_options.h"
#include "tools/config_source.h"
#include "tools/commands.h"
#include "tools/run_folder.h"

namespace entlab::tools {

namespace {

struct TrainFlags {
  ConfigSource source;
  std::string task, attention, position, scaling, out;
  double alpha = 0;
  bool learn_alpha = false;
  int64_t steps = 0, batch = 0, length = 0, spread = -1, d_model = 0, layers = 0, heads = 0, head_size = 0,
          mlp = 0, log_every = 0;
  double lr = 0;
  int64_t seed = -1;
  int threads = -1;
  int64_t checkpoint_every = -1, keep_checkpoints = 0;
  std::string resume;
  int64_t stop_at = 0;
};

// Preset or config file, then --set, then every flag the user gave on top.
tasks::RunConfig build_config(const TrainFlags& flags) {
  // --task goes with the task.name assignments, which come before the other --set, so a
  // --set task.options.* given for the new task is kept.
  ConfigSource source = flags.source;
  if (!flags.task.empty()) source.assignments.insert(source.assignments.begin(), "task.name=" + flags.task);
  tasks::RunConfig config = load_config_source(source);
  if (!flags.attention.empty()) config.model.transform = nn::parse_option<nn::Transform>(flags.attention);
  if (!flags.position.empty()) config.model.position = nn::parse_option<nn::PositionEncoding>(flags.position);
  if (!flags.scaling.empty()) config.model.scaling = nn::parse_option<nn::Scaling>(flags.scaling);
  if (flags.alpha != 0) config.model.alpha = flags.alpha;
  if (flags.learn_alpha) config.model.learn_alpha = true;
  if (flags.steps) config.train.steps = flags.steps;
  if (flags.batch) config.train.batch_size = flags.batch;
  if (flags.lr) config.train.lr = static_cast<float>(flags.lr);
  if (flags.seed >= 0) config.train.seed = static_cast<uint64_t>(flags.seed);
  if (flags.threads >= 0) config.train.threads = flags.threads;
  if (flags.length) config.task.train_length = flags.length;
  if (flags.spread >= 0) config.task.length_spread = flags.spread;
  if (flags.d_model) config.model.d_model = flags.d_model;
  if (flags.layers) config.model.n_layers = flags.layers;
  if (flags.heads) config.model.n_heads = flags.heads;
  if (flags.head_size) config.model.head_size = flags.head_size;
  if (flags.mlp) config.model.mlp_hidden = flags.mlp;
  if (flags.log_every) config.train.log_every = flags.log_every;
  if (flags.checkpoint_every >= 0) config.train.checkpoint_every = flags.checkpoint_every;
  if (flags.keep_checkpoints) config.train.keep_checkpoints = flags.keep_checkpoints;
  try {
    config.finalize();
  } catch (const Error& error) {
    if (flags.source.config_file.empty()) throw;
    throw Error(str_cat(flags.source.config_file, " (with the command-line changes): ", error.what()));
  }
  return config;
}

// --resume takes the whole config from the run folder, so only options that leave the
// computed result unchanged (or, for --threads, only its last bits) may come with it.
void check_resume_options(const CLI::App& cmd) {
  const std::set<std::string> allowed = {"--resume", "--stop-at", "--threads", "--log-every"};
  for (const CLI::Option* option : cmd.get_options()) {
    const std::string name = option->get_name();
    if (option->count() == 0 || allowed.count(name) || name == "--help") continue;
    throw Error(str_cat(name, " cannot be combined with --resume: a resumed run keeps the config in its "
                              "config.json; only --stop-at, --threads and --log-every may be added"));
  }
}

// --threads, or else train.threads of the run's config.json (-1 if it has none), so the
// thread note describes the resumed run.
int resumed_thread_setting(const TrainFlags& flags) {
  if (flags.threads >= 0) return flags.threads;
  const std::string config_path = (std::filesystem::path(flags.resume) / "config.json").string();
  return std::filesystem::exists(config_path) ? tasks::load_run_config(config_path).train.threads : -1;
}

// Runs `train` with SIGINT and SIGTERM turned into a stop request after the current step.
template <typename Train>
tasks::TrainedRun run_with_stop_signals(tasks::TrainOptions& options, Train train) {
  StopSignalHandler handler;
  options.stop_signal = stop_signal_flag();
  return train();
}

// A run stopped by a signal exits with 128 + the signal number, as a shell reports a
// process killed by it, so scripts can tell it from a finished run.
void finish_command(const tasks::TrainedRun& run) {
  if (run.stop_signal != 0) throw ExitStatus{128 + run.stop_signal};
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto flags = std::make_shared<TrainFlags>();
  CLI::App* cmd = app.add_subcommand(
      "train", "Train one model and write its run folder. Settings come from --preset (default small) or "
               "--config, then --set, then the flags below; see entlab config");
  add_config_source_options(cmd, flags->source);
  cmd->add_option("--task", flags->task, "Task: " + join(tasks::task_names(), ", "));
  cmd->add_option("--attention", flags->attention,
                  "Attention transform: " + join(nn::option_names<nn::Transform>(), ", "));
  cmd->add_option("--pos", flags->position,
                  "Position encoding: " + join(nn::option_names<nn::PositionEncoding>(), ", "));
  cmd->add_option("--alpha", flags->alpha, "alpha for --attention entmax")->check(number_above(1, 10));
  cmd->add_flag("--learn-alpha", flags->learn_alpha, "Learn one alpha per head (--attention entmax)");
  cmd->add_option("--scaling", flags->scaling,
                  "Length scaling of the scores: " + join(nn::option_names<nn::Scaling>(), ", "));
  cmd->add_option("--steps", flags->steps, "Training steps")->check(integer_in(1, kMaxSteps));
  cmd->add_option("--batch", flags->batch, "Samples per step")->check(integer_in(1, kMaxBatch));
  cmd->add_option("--lr", flags->lr, "Peak learning rate")->check(number_above(0, 10));
  cmd->add_option("--seed", flags->seed, "Seed for weights and data")->check(integer_in(0, INT64_MAX));
  cmd->add_option("--threads", flags->threads, "OpenMP threads, 0 = all cores")
      ->check(integer_in(0, tasks::kMaxThreads));
  cmd->add_option("--length", flags->length, "Training length L")->check(integer_in(1, kMaxLength));
  cmd->add_option("--spread", flags->spread, "Lengths drawn from [L - spread, L + spread]")
      ->check(integer_in(0, kMaxLength));
  cmd->add_option("--d-model", flags->d_model, "Model width C")->check(integer_in(1, kMaxWidth));
  cmd->add_option("--layers", flags->layers, "Transformer blocks")->check(integer_in(1, nn::kMaxLayers));
  cmd->add_option("--heads", flags->heads, "Attention heads")->check(integer_in(1, nn::kMaxHeads));
  cmd->add_option("--head-size", flags->head_size, "Head size hs")->check(integer_in(1, kMaxWidth));
  cmd->add_option("--mlp", flags->mlp, "MLP hidden width")->check(integer_in(1, kMaxWidth));
  cmd->add_option("--log-every", flags->log_every, "Steps between progress lines")
      ->check(integer_in(1, kMaxSteps));
  cmd->add_option("--out", flags->out, "Run folder to create (default runs/<task>-<attention>-<pos>-<date>-<time>)");
  cmd->add_option("--checkpoint-every", flags->checkpoint_every,
                  "Steps between checkpoints, 0 = only when the run stops early (default 500)")
      ->check(integer_in(0, kMaxSteps));
  cmd->add_option("--keep-checkpoints", flags->keep_checkpoints, "Newest checkpoints to keep (default 2)")
      ->check(integer_in(1, kMaxSteps));
  cmd->add_option("--stop-at", flags->stop_at,
                  "Stop after this step and write a checkpoint; continue later with --resume")
      ->check(integer_in(1, kMaxSteps));
  cmd->add_option("--resume", flags->resume,
                  "Continue the stopped run in this folder to its planned steps (only --stop-at, --threads and "
                  "--log-every may be added)");

  cmd->callback([cmd, flags] {
    tasks::TrainOptions options;
    options.stop_at = flags->stop_at;
    if (cmd->count("--resume") > 0) {
      check_resume_options(*cmd);
      options.log_every = flags->log_every;
      tasks::apply_thread_setting(resumed_thread_setting(*flags));
      print_thread_note();
      finish_command(run_with_stop_signals(options, [&] {
        return tasks::resume_run(flags->resume, std::cout, options, flags->threads);
      }));
      return;
    }
    tasks::RunConfig config = build_config(*flags);
    std::string out = cmd->count("--out") > 0 ? flags->out
                                       : default_run_folder(config.task.name + "-" +
                                                            nn::to_string(config.model.transform) + "-" +
                                                            nn::to_string(config.model.position));
    tasks::apply_thread_setting(config.train.threads);
    print_thread_note();
    finish_command(run_with_stop_signals(options, [&] { return tasks::train_run(config, out, std::cout, options); }));
  });
}

}  // namespace entlab::tools
