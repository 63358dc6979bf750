#include "tasks/train.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <ostream>

#include "autograd/tape.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/folder_lock.h"
#include "core/parallel.h"
#include "core/safetensors.h"
#include "nn/checkpoint.h"
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
      out << "  " << std::left << std::setw(28) << (std::string(section) + "." + key) << value.dump() << "\n";
  out << "  " << std::left << std::setw(28) << "parameters" << parameters << "\n"
      << "  " << std::left << std::setw(28) << "threads" << num_threads() << "\n";
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
                    double window_tokens, double elapsed_seconds, std::ostream& out) {
  const double ms_per_step = window_ms;
  const double tokens_per_second = window_tokens / std::max(window_ms / 1000.0, 1e-9);
  const double eta = elapsed_seconds / step * (steps - step);
  char line[256];
  std::snprintf(line, sizeof line,
                "step %6lld/%lld | loss %.6f | lr %.2e | grad norm %7.3f | %7.1f ms/step | %7.0f tok/s | ETA %s",
                (long long)step, (long long)steps, window_loss, last.lr, last.grad_norm, ms_per_step,
                tokens_per_second, format_duration(eta).c_str());
  out << line << "\n";
  out.flush();
}

}  // namespace

TrainedRun train_run(const RunConfig& config, const std::string& run_dir, std::ostream& out) {
  create_empty_folder(run_dir, "run folder (--out)");
  FolderLock lock(run_dir);
  apply_thread_setting(config.train.threads);
  write_file_atomically((fs::path(run_dir) / "config.json").string(), to_json(config).dump(2) + "\n");

  std::unique_ptr<Task> task = make_task(config.task.name, config.task.options);
  TrainedRun run;
  run.model = std::make_unique<nn::Transformer>(config.model, derive_seed(config.train.seed, 0));
  nn::Transformer& model = *run.model;
  nn::AdamW optimizer(model.parameters(), {config.train.lr, config.train.beta1, config.train.beta2, 1e-8f,
                                           config.train.weight_decay});
  Rng data_rng(derive_seed(config.train.seed, 1));
  print_header(config, model.parameter_count(), out);

  std::ofstream metrics((fs::path(run_dir) / "metrics.jsonl").string(), std::ios::trunc);
  ENTLAB_CHECK(metrics.good(), "cannot write ", run_dir, "/metrics.jsonl");
  const int64_t steps = config.train.steps;
  const int64_t warmup = static_cast<int64_t>(config.train.warmup_fraction * steps);
  auto start = std::chrono::steady_clock::now();
  double window_loss = 0.0, window_ms = 0.0, window_tokens = 0.0, total_tokens = 0.0;
  int64_t window_steps = 0;

  for (int64_t step = 1; step <= steps; ++step) {
    Batch batch = make_batch(draw_training_samples(*task, config, data_rng), task->layout());
    const float lr = nn::scheduled_lr(config.train.schedule, step, steps, warmup, config.train.lr,
                                      config.train.min_lr_ratio);
    StepStats stats = train_step(model, optimizer, batch, lr, config.train.clip_norm);
    ENTLAB_CHECK(std::isfinite(stats.loss), "training diverged at step ", step, ": loss is ", stats.loss,
                 "; try a lower --lr (", config.train.lr, ") or a smaller train.clip_norm in a --config file");

    metrics << nlohmann::json{{"step", step}, {"loss", stats.loss}, {"lr", stats.lr},
                              {"grad_norm", stats.grad_norm}, {"ms", stats.milliseconds},
                              {"tokens_per_s", stats.tokens / (stats.milliseconds / 1000.0)}}.dump()
            << "\n";
    metrics.flush();

    window_loss += stats.loss;
    window_ms += stats.milliseconds;
    window_tokens += static_cast<double>(stats.tokens);
    total_tokens += static_cast<double>(stats.tokens);
    ++window_steps;
    if (step % config.train.log_every == 0 || step == steps || step == 1) {
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      print_progress(step, steps, window_loss / window_steps, stats, window_ms / window_steps,
                     window_tokens / window_steps, elapsed, out);
      run.summary.final_loss = window_loss / window_steps;
      window_loss = window_ms = window_tokens = 0.0;
      window_steps = 0;
    }
  }

  run.summary.steps = steps;
  run.summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run.summary.tokens_per_second = total_tokens / std::max(run.summary.seconds, 1e-9);
  run.summary.parameters = model.parameter_count();
  nn::save_checkpoint((fs::path(run_dir) / "model.safetensors").string(), model, &optimizer,
                      {{"step", std::to_string(steps)}, {"config", to_json(config).dump()}});
  out << "trained " << steps << " steps in " << format_duration(run.summary.seconds) << " ("
      << static_cast<int64_t>(run.summary.tokens_per_second) << " tokens/s); final loss " << run.summary.final_loss
      << "\nrun folder: " << run_dir << "\n";
  out.flush();
  return run;
}

namespace {

// The model and attention settings as one object with keys "model.d_model", "attention.transform", ...
nlohmann::json model_json(const nn::ModelConfig& model) {
  nlohmann::json flat = nlohmann::json::object();
  const nlohmann::json sections = {{"model", nn::model_section(model)}, {"attention", nn::attention_section(model)}};
  for (const auto& [section, keys] : sections.items())
    for (const auto& [key, value] : keys.items()) flat[section + "." + key] = value;
  return flat;
}

// Lists the model settings in which config.json and the checkpoint's own copy differ.
void check_checkpoint_matches_config(const nn::Metadata& metadata, const RunConfig& config,
                                     const std::string& config_path, const std::string& checkpoint_path) {
  auto it = metadata.find("config");
  ENTLAB_CHECK(it != metadata.end(), checkpoint_path, ": metadata 'config' is missing; was it written by entlab train?");
  // Both sides go through the parser, so equal settings compare equal however their
  // numbers were printed.
  nlohmann::json saved;
  try {
    const nlohmann::json saved_run = nlohmann::json::parse(it->second);
    saved = model_json(nn::model_config_from_json(saved_run.at("model"), saved_run.at("attention")));
  } catch (const nlohmann::json::exception& error) {
    throw Error(str_cat(checkpoint_path, ": metadata 'config' is not a valid run config: ", error.what()));
  } catch (const Error& error) {
    throw Error(str_cat(checkpoint_path, ": metadata 'config' is not a valid run config: ", error.what()));
  }
  const nlohmann::json current = model_json(config.model);
  std::string differences;
  for (const auto& [key, value] : current.items())
    if (!saved.contains(key) || saved.at(key) != value)
      differences += str_cat("\n  ", key, ": ", value.dump(), " in config.json, ",
                             saved.contains(key) ? saved.at(key).dump() : "missing", " in the checkpoint");
  ENTLAB_CHECK(differences.empty(), config_path, " does not describe the model in ", checkpoint_path, ":",
               differences, "\nhint: restore config.json from the checkpoint's metadata or retrain");
}

}  // namespace

std::unique_ptr<nn::Transformer> load_trained_model(const std::string& run_dir, RunConfig* config_out) {
  ENTLAB_CHECK(fs::is_directory(run_dir), "run folder ", run_dir, " does not exist");
  const std::string config_path = (fs::path(run_dir) / "config.json").string();
  const std::string checkpoint_path = (fs::path(run_dir) / "model.safetensors").string();
  ENTLAB_CHECK(fs::exists(config_path), "run folder ", run_dir, " has no config.json; is it an entlab run folder?");
  ENTLAB_CHECK(fs::exists(checkpoint_path), "run folder ", run_dir,
               " has no model.safetensors: ",
               fs::exists(fs::path(run_dir) / ".lock") ? "training is still running there, or was interrupted"
                                                      : "the run did not finish training");
  RunConfig config = load_run_config(config_path);
  try {
    config.finalize();
  } catch (const Error& error) {
    throw Error(str_cat(config_path, ": ", error.what()));
  }

  check_checkpoint_matches_config(read_safetensors(checkpoint_path).metadata, config, config_path, checkpoint_path);
  auto model = std::make_unique<nn::Transformer>(config.model, derive_seed(config.train.seed, 0));
  nn::load_checkpoint(checkpoint_path, *model, nullptr);
  if (config_out) *config_out = config;
  return model;
}

}  // namespace entlab::tasks
