// The training loop and the run folder it writes.
//
// A run folder holds:
//   config.json        the full RunConfig (written before the first step)
//   metrics.jsonl      one JSON object per step: step, loss, lr, grad_norm, ms, tokens_per_s
//   model.safetensors  weights and AdamW state after the last step
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>

#include "nn/transformer.h"
#include "tasks/run_config.h"

namespace entlab::tasks {

struct TrainSummary {
  int64_t steps = 0;
  double final_loss = 0.0;  // mean loss over the last log window
  double seconds = 0.0;
  double tokens_per_second = 0.0;
  int64_t parameters = 0;
};

struct TrainedRun {
  std::unique_ptr<nn::Transformer> model;
  TrainSummary summary;
};

// Trains as `config` says and writes the run folder `run_dir`, which must be missing
// or empty (so no earlier result is overwritten) and is locked against other entlab
// processes while training runs. Progress lines go to `out`.
TrainedRun train_run(const RunConfig& config, const std::string& run_dir, std::ostream& out);

// Rebuilds the model of a finished run from its config.json and model.safetensors.
std::unique_ptr<nn::Transformer> load_trained_model(const std::string& run_dir, RunConfig* config_out = nullptr);

// Applies the thread count of a config (0 leaves the OpenMP default).
void apply_thread_setting(int threads);

// "1m05s", "42s", "1h02m".
std::string format_duration(double seconds);

}  // namespace entlab::tasks
