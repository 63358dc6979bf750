// Everything that defines a run, stored as config.json in the run folder.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nn/config.h"
#include "nn/optim.h"

namespace entlab::tasks {

class Task;

// Upper bound on train.threads and --threads: far above any core count this runs on,
// low enough to catch a typo.
constexpr int kMaxThreads = 256;

struct TaskConfig {
  std::string name = "flipflop";
  nlohmann::json options = nlohmann::json::object();
  int64_t train_length = 32;  // training lengths are drawn uniformly from
  int64_t length_spread = 8;  // [train_length - spread, train_length + spread]
};

struct TrainConfig {
  int64_t batch_size = 32;
  int64_t steps = 2000;
  float lr = 2e-3f;
  nn::LrSchedule schedule = nn::LrSchedule::Cosine;
  double warmup_fraction = 0.05;  // warm-up steps = fraction * steps
  float min_lr_ratio = 0.1f;      // the decay ends at this fraction of lr
  double clip_norm = 1.0;         // 0 disables clipping
  float weight_decay = 0.0f;
  float beta1 = 0.9f;
  float beta2 = 0.99f;
  uint64_t seed = 1;
  int threads = 0;                // 0: all cores (the OpenMP default)
  int64_t log_every = 50;
  int64_t checkpoint_every = 500;  // steps between checkpoints (0: only when a run stops early)
  int64_t keep_checkpoints = 2;    // number of newest checkpoints kept; older ones are deleted
};

struct EvalConfig {
  std::vector<int64_t> lengths;   // empty: 1, 2, 4, 8, 16 x train_length
  int64_t samples_per_length = 100;
  uint64_t seed = 1000;
  int64_t batch_size = 16;
};

// The JSON sections are "model", "attention" (both in `model`), "task", "train", "eval".
struct RunConfig {
  nn::ModelConfig model;
  TaskConfig task;
  TrainConfig train;
  EvalConfig eval;

  // Fills vocab_size from the task and checks every field and combination (errors
  // name the key). Call after all overrides are applied.
  void finalize();
  std::vector<int64_t> eval_lengths() const;
  // Switches to another task. Its options and vocabulary belong to the old task, so a
  // new name resets task.options and model.vocab_size.
  void set_task(const std::string& name);

 private:
  void check_task(const Task& built) const;
  void check_train() const;
  void check_eval(const Task& built) const;
};

nlohmann::json to_json(const RunConfig& config);
// Strict: unknown keys and wrong types are errors naming the key path. Not finalized,
// so a caller can still override fields before checking the whole.
RunConfig run_config_from_json(const nlohmann::json& json);
// Reads a config file (not finalized); errors name the file and, for JSON syntax
// errors, the line.
RunConfig load_run_config(const std::string& path);

// Applies one "key=value" assignment, with key a dotted path ("model.d_model",
// "attention.transform", "task.options.write_prob"). The value is read as JSON when it
// parses (2e-3, true, [32, 64]) and as a string otherwise (entmax15). task.name goes
// through RunConfig::set_task. An unknown key
// is an error that lists the keys of its section. Not finalized.
void apply_assignment(RunConfig& config, const std::string& assignment);

}  // namespace entlab::tasks
