#include "tasks/train.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "autograd/tape.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/folder_lock.h"
#include "core/parallel.h"
#include "core/safetensors.h"
#include "nn/checkpoint.h"
#include "tasks/train_state.h"
#include "ops/loss.h"
#include "ops/matmul.h"
#include "tasks/batch.h"
#include "tasks/task.h"

namespace entlab::tasks {

namespace fs = std::filesystem;

void apply_thread_setting(int threads) {
  if (threads <= 0) return;
  set_num_threads(threads);
  set_blas_threads(threads);
}

std::string format_duration(double seconds) {
  const int64_t total = static_cast<int64_t>(std::llround(std::max(0.0, seconds)));
  char text[32];
  if (total >= 3600) std::snprintf(text, sizeof text, "%lldh%02lldm", (long long)(total / 3600), (long long)(total % 3600 / 60));
  else if (total >= 60) std::snprintf(text, sizeof text, "%lldm%02llds", (long long)(total / 60), (long long)(total % 60));
  else std::snprintf(text, sizeof text, "%llds", (long long)total);
  return text;
}

namespace {

// Two columns: every hyperparameter, then the parameter count.
void print_header(const RunConfig& config, int64_t parameters, std::ostream& out) {
  nlohmann::json json = to_json(config);
  out << "entlab train: " << config.task.name << " with " << nn::to_string(config.model.transform)
      << " attention, " << nn::to_string(config.model.position) << " positions\n";
  for (const char* section : {"model", "attention", "task", "train"})
    for (const auto& [key, value] : json[section].items())
      out << "  " << std::left << std::setw(32) << (std::string(section) + "." + key) << value.dump() << "\n";
  out << "  " << std::left << std::setw(32) << "parameters" << parameters << "\n"
      << "  " << std::left << std::setw(32) << "threads" << num_threads() << "\n";
  out.flush();
}

std::vector<Sample> draw_training_samples(const Task& task, const RunConfig& config, Rng& rng) {
  std::vector<Sample> samples;
  const int64_t low = config.task.train_length - config.task.length_spread;
  const int64_t high = config.task.train_length + config.task.length_spread;
  for (int64_t b = 0; b < config.train.batch_size; ++b) samples.push_back(task.generate(rng, rng.randint(low, high)));
  return samples;
}

struct StepStats {
  double loss = 0.0, grad_norm = 0.0, milliseconds = 0.0;
  float lr = 0.0f;
  int64_t tokens = 0;
};

// One optimisation step: forward, loss, backward, clip, AdamW.
StepStats train_step(nn::Transformer& model, nn::AdamW& optimizer, const Batch& batch, float lr, double clip_norm) {
  auto start = std::chrono::steady_clock::now();
  model.zero_grad();

  Tensor logits = model.forward(batch.inputs, batch.batch, batch.time);
  Tensor loss = cross_entropy(logits, batch.labels, kIgnoreLabel);
  backward(loss);

  StepStats stats;
  stats.loss = loss.item();
  stats.grad_norm = nn::clip_grad_norm(model.parameters(), clip_norm);
  stats.lr = lr;
  optimizer.set_lr(lr);
  optimizer.step();
  stats.tokens = batch.tokens;
  stats.milliseconds = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

void print_progress(int64_t step, int64_t steps, double window_loss, const StepStats& last, double window_ms,
                    double window_tokens, double seconds_per_step, std::ostream& out) {
  const double ms_per_step = window_ms;
  const double tokens_per_second = window_tokens / std::max(window_ms / 1000.0, 1e-9);
  const double eta = seconds_per_step * (steps - step);
  char line[256];
  std::snprintf(line, sizeof line,
                "step %6lld/%lld | loss %.6f | lr %.2e | grad norm %7.3f | %7.1f ms/step | %7.0f tok/s | ETA %s",
                (long long)step, (long long)steps, window_loss, last.lr, last.grad_norm, ms_per_step,
                tokens_per_second, format_duration(eta).c_str());
  out << line << "\n";
  out.flush();
}

// Sums over the steps since the last progress line, and over the whole session.
struct ProgressWindow {
  double loss = 0.0, ms = 0.0, tokens = 0.0, total_tokens = 0.0;
  int64_t steps = 0, session_steps = 0;

  void add(const StepStats& stats) {
    loss += stats.loss;
    ms += stats.milliseconds;
    tokens += static_cast<double>(stats.tokens);
    total_tokens += static_cast<double>(stats.tokens);
    ++steps;
    ++session_steps;
  }
  // Prints the line for `step`, resets the window and returns its mean loss.
  double print(int64_t step, int64_t total_steps, const StepStats& last, double elapsed_seconds, std::ostream& out) {
    const double mean_loss = loss / steps;
    print_progress(step, total_steps, mean_loss, last, ms / steps, tokens / steps, elapsed_seconds / session_steps,
                   out);
    loss = ms = tokens = 0.0;
    steps = 0;
    return mean_loss;
  }
};

// One JSON object per step; with ASEntmax also "beta" and "gamma", the means per layer
// of the values the step's forward pass used.
void write_metrics_line(std::ostream& metrics, int64_t step, const StepStats& stats, const nn::Transformer& model) {
  nlohmann::json line = {{"step", step}, {"loss", stats.loss}, {"lr", stats.lr},
                         {"grad_norm", stats.grad_norm}, {"ms", stats.milliseconds},
                         {"tokens_per_s", stats.tokens / (stats.milliseconds / 1000.0)}};
  line.update(model.scale_metrics());
  metrics << line.dump() << "\n";
  metrics.flush();
}

// Draws the batch of the next step, trains on it and advances state.step.
StepStats advance_one_step(const RunConfig& config, const Task& task, TrainState& state) {
  const int64_t step = state.step + 1;
  const int64_t steps = config.train.steps;
  const int64_t warmup = static_cast<int64_t>(config.train.warmup_fraction * steps);
  Batch batch = make_batch(draw_training_samples(task, config, state.data_rng), task.layout());
  const float lr =
      nn::scheduled_lr(config.train.schedule, step, steps, warmup, config.train.lr, config.train.min_lr_ratio);
  StepStats stats = train_step(*state.model, *state.optimizer, batch, lr, config.train.clip_norm);
  ENTLAB_CHECK(std::isfinite(stats.loss), "training diverged at step ", step, ": loss is ", stats.loss,
               "; try a lower --lr (", config.train.lr, ") or a smaller train.clip_norm in a --config file");
  state.step = step;
  return stats;
}

const char* signal_name(int signal_number) {
  if (signal_number == SIGINT) return "SIGINT";
  if (signal_number == SIGTERM) return "SIGTERM";
  return "a signal";
}

// Writes model.safetensors, which marks the run as finished, and prints the summary.
void finish_run(const RunConfig& config, const std::string& run_dir, int64_t first_step, TrainedRun& run,
                TrainState& state, std::ostream& out) {
  save_train_state((fs::path(run_dir) / "model.safetensors").string(), state, config);
  run.finished = true;
  if (first_step == 1) out << "trained " << state.step << " steps";
  else out << "trained steps " << first_step << " to " << state.step;
  out << " in " << format_duration(run.summary.seconds) << " ("
      << static_cast<int64_t>(run.summary.tokens_per_second) << " tokens/s); final loss " << run.summary.final_loss
      << "\nrun folder: " << run_dir << "\n";
}

// Runs steps state.step + 1, ... until train.steps, options.stop_at or a stop signal,
// appending to metrics.jsonl and writing periodic checkpoints. Then finishes the run, or
// writes the checkpoint of the last step so that resume_run can continue it.
TrainedRun run_steps(const RunConfig& config, const std::string& run_dir, TrainState& state,
                     const TrainOptions& options, std::ostream& out) {
  std::unique_ptr<Task> task = make_task(config.task.name, config.task.options);
  std::ofstream metrics((fs::path(run_dir) / "metrics.jsonl").string(), std::ios::app);
  ENTLAB_CHECK(metrics.good(), "cannot write ", run_dir, "/metrics.jsonl");
  const int64_t steps = config.train.steps;
  const int64_t last_step = options.stop_at > 0 ? options.stop_at : steps;
  const int64_t log_every = options.log_every > 0 ? options.log_every : config.train.log_every;
  const int64_t every = config.train.checkpoint_every;
  const int64_t first_step = state.step + 1;
  auto start = std::chrono::steady_clock::now();
  TrainedRun run;
  ProgressWindow window;
  int64_t checkpointed_step = -1;

  while (state.step < last_step && run.stop_signal == 0) {
    StepStats stats = advance_one_step(config, *task, state);
    const int64_t step = state.step;
    write_metrics_line(metrics, step, stats, *state.model);
    window.add(stats);
    if (step % log_every == 0 || step == steps || step == first_step) {
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      run.summary.final_loss = window.print(step, steps, stats, elapsed, out);
    }
    // The last step needs no checkpoint, because model.safetensors contains the same state.
    if (every > 0 && step % every == 0 && step < steps) {
      write_checkpoint(run_dir, state, config, out);
      checkpointed_step = step;
    }
    if (options.stop_signal) run.stop_signal = *options.stop_signal;
  }

  run.summary.steps = state.step;
  run.summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run.summary.tokens_per_second = window.total_tokens / std::max(run.summary.seconds, 1e-9);
  run.summary.parameters = state.model->parameter_count();
  if (state.step == steps) {
    run.stop_signal = 0;
    finish_run(config, run_dir, first_step, run, state, out);
  } else {
    if (checkpointed_step != state.step) write_checkpoint(run_dir, state, config, out);
    if (run.stop_signal != 0) out << "received " << signal_name(run.stop_signal) << "; ";
    out << "stopped at step " << state.step << " of " << steps << "; continue with: entlab train --resume "
        << run_dir << "\n";
  }
  out.flush();
  run.model = std::move(state.model);
  return run;
}

void check_stop_at(int64_t stop_at, int64_t resumed_step, int64_t steps) {
  ENTLAB_CHECK(stop_at >= 0, "invalid --stop-at ", stop_at, ": must be positive");
  if (stop_at == 0) return;
  ENTLAB_CHECK(stop_at <= steps, "invalid --stop-at ", stop_at, ": the run has only ", steps,
               " steps (train.steps)");
  ENTLAB_CHECK(stop_at > resumed_step, "invalid --stop-at ", stop_at, ": the run resumes after step ", resumed_step,
               ", so the stop must be a later step (", resumed_step + 1, " to ", steps, ")");
}

}  // namespace

TrainedRun train_run(const RunConfig& config, const std::string& run_dir, std::ostream& out,
                     const TrainOptions& options) {
  check_stop_at(options.stop_at, 0, config.train.steps);
  apply_thread_setting(config.train.threads);
  // The model first: if it does not fit in memory, no half-made run folder is left behind.
  TrainState state = initial_train_state(config);
  FolderLock lock(run_dir, "run folder (--out)");
  write_file_atomically((fs::path(run_dir) / "config.json").string(), to_json(config).dump(2) + "\n");
  write_file_atomically((fs::path(run_dir) / "metrics.jsonl").string(), "");

  print_header(config, state.model->parameter_count(), out);
  return run_steps(config, run_dir, state, options, out);
}

namespace {

// Keeps the metrics lines of steps up to `step` and rewrites the file atomically. The
// stopped process may have logged later steps before it died, and those steps will run
// again. A line that is not a JSON object with an integer "step" (cut off by a crash, or
// edited) is dropped with a warning on `out`.
void truncate_metrics(const std::string& path, int64_t step, std::ostream& out) {
  std::string kept_lines;
  int64_t unreadable = 0;
  std::istringstream lines(fs::exists(path) ? read_file(path) : "");
  for (std::string line; std::getline(lines, line);) {
    const nlohmann::json entry = nlohmann::json::parse(line, nullptr, false);
    const bool readable = entry.is_object() && entry.contains("step") && entry["step"].is_number_integer();
    if (!readable) ++unreadable;
    if (readable && entry["step"].get<int64_t>() <= step) kept_lines += line + "\n";
  }
  if (unreadable > 0)
    out << "warning: dropped " << unreadable << " unreadable line(s) of " << path
        << " (not a JSON object with an integer \"step\")\n";
  write_file_atomically(path, kept_lines);
}

// Renames checkpoints that failed to load, so they are neither tried again nor counted
// as the newest ones, but stay available for inspection.
void set_aside_rejected(const std::vector<RejectedCheckpoint>& rejected, std::ostream& out) {
  for (const RejectedCheckpoint& entry : rejected) {
    out << "warning: skipping unusable checkpoint: " << entry.problem << "\n";
    const std::string aside = entry.file.path + ".invalid";
    std::error_code error;
    fs::rename(entry.file.path, aside, error);
    if (error) out << "warning: cannot rename " << entry.file.path << " to " << aside << ": " << error.message() << "\n";
    else out << "  moved it to " << aside << "\n";
  }
}

// Deletes the temporary files ("<name>.tmp.<pid>.<n>", see write_file_atomically) that a
// killed process left in the run folder or its checkpoint folder. The caller holds the
// folder lock, so no other process is writing them.
void remove_leftover_temporaries(const std::string& run_dir) {
  for (const std::string& folder : {run_dir, checkpoint_folder(run_dir)}) {
    if (!fs::is_directory(folder)) continue;
    for (const auto& entry : fs::directory_iterator(folder)) {
      const std::string name = entry.path().filename().string();
      std::error_code ignored;
      if (entry.is_regular_file() && name.find(".tmp.") != std::string::npos) fs::remove(entry.path(), ignored);
    }
  }
}

void print_thread_change(const nn::Metadata& metadata, const std::string& path, std::ostream& out) {
  if (!metadata.count("threads")) return;
  const int64_t saved = nn::metadata_integer(metadata, "threads", path);
  if (saved == num_threads()) return;
  out << "note: OpenMP threads: " << saved << " when the checkpoint was written, " << num_threads()
      << " now, so the result may differ in its last bits from an uninterrupted run\n";
}

// Reads and finalizes a run folder's config.json; errors name the folder or the file.
RunConfig load_run_folder_config(const std::string& run_dir) {
  ENTLAB_CHECK(!run_dir.empty(), "the run folder name is empty");
  ENTLAB_CHECK(fs::exists(run_dir), "run folder ", run_dir, " does not exist");
  ENTLAB_CHECK(fs::is_directory(run_dir), "run folder ", run_dir, " is not a folder; give the folder entlab train wrote");
  const std::string config_path = (fs::path(run_dir) / "config.json").string();
  ENTLAB_CHECK(fs::exists(config_path), "run folder ", run_dir, " has no config.json; is it an entlab run folder?");
  RunConfig config = load_run_config(config_path);
  try {
    config.finalize();
  } catch (const Error& error) {
    throw Error(str_cat(config_path, ": ", error.what()));
  }
  return config;
}

}  // namespace

TrainedRun resume_run(const std::string& run_dir, std::ostream& out, const TrainOptions& options, int threads) {
  const RunConfig config = load_run_folder_config(run_dir);
  FolderLock lock(run_dir);
  ENTLAB_CHECK(!fs::exists(fs::path(run_dir) / "model.safetensors"), "run folder ", run_dir,
               " holds a finished run (model.safetensors exists), so there is nothing to resume; evaluate it with "
               "entlab eval --run ",
               run_dir);
  apply_thread_setting(threads >= 0 ? threads : config.train.threads);

  RestoredCheckpoint restored = restore_newest_checkpoint(run_dir, config);
  check_stop_at(options.stop_at, restored.state.step, config.train.steps);
  set_aside_rejected(restored.rejected, out);
  remove_leftover_temporaries(run_dir);
  truncate_metrics((fs::path(run_dir) / "metrics.jsonl").string(), restored.state.step, out);

  print_header(config, restored.state.model->parameter_count(), out);
  print_thread_change(restored.metadata, restored.file.path, out);
  out << "resuming from " << restored.file.path << " (step " << restored.state.step << " of "
      << config.train.steps << ")\n";
  return run_steps(config, run_dir, restored.state, options, out);
}

namespace {

// Throws, listing the keys, if config.json and the checkpoint's copy describe different models.
void check_checkpoint_matches_config(const nn::Metadata& metadata, const RunConfig& config,
                                     const std::string& config_path, const std::string& checkpoint_path) {
  const std::string differences = saved_config_differences(metadata, config, {"model", "attention"}, checkpoint_path);
  ENTLAB_CHECK(differences.empty(), config_path, " does not describe the model in ", checkpoint_path, ":",
               differences, "\nhint: restore config.json from the checkpoint's metadata or retrain");
}

// Explains why an unfinished run has no model yet, and how to continue it.
std::string unfinished_run_message(const std::string& run_dir, const RunConfig& config) {
  const bool locked = fs::exists(fs::path(run_dir) / ".lock");
  const std::vector<CheckpointFile> checkpoints = list_checkpoints(run_dir);
  std::string message = str_cat("run folder ", run_dir, " has no model.safetensors: ");
  if (checkpoints.empty())
    return message + (locked ? "training is still running there, or was killed before its first checkpoint"
                             : "the run did not finish training");
  return str_cat(message, "the run stopped at step ", checkpoints.back().step, " of ", config.train.steps,
                 locked ? " (or is still training there)" : "", "; continue it with: entlab train --resume ", run_dir);
}

}  // namespace

std::unique_ptr<nn::Transformer> load_trained_model(const std::string& run_dir, RunConfig* config_out) {
  RunConfig config = load_run_folder_config(run_dir);
  const std::string config_path = (fs::path(run_dir) / "config.json").string();
  const std::string checkpoint_path = (fs::path(run_dir) / "model.safetensors").string();
  if (!fs::exists(checkpoint_path)) throw Error(unfinished_run_message(run_dir, config));

  const SafetensorsFile contents = nn::read_checkpoint(checkpoint_path);
  check_checkpoint_matches_config(contents.metadata, config, config_path, checkpoint_path);
  auto model = std::make_unique<nn::Transformer>(config.model, derive_seed(config.train.seed, 0));
  nn::copy_checkpoint(contents, checkpoint_path, *model, nullptr);
  if (config_out) *config_out = config;
  return model;
}

}  // namespace entlab::tasks
