// The training loop and the run folder it writes.
//
// A run folder holds:
//   config.json        the full RunConfig (written before the first step)
//   metrics.jsonl      one JSON object per step: step, loss, lr, grad_norm, ms, tokens_per_s,
//                      and with ASEntmax beta and gamma (the means per layer)
//   checkpoints/       the newest train.keep_checkpoints checkpoints (see train_state.h),
//                      written every train.checkpoint_every steps and when a run stops early
//   model.safetensors  weights, AdamW state and data RNG state after the last step; its
//                      presence marks a finished run
#pragma once

#include <atomic>
#include <csignal>
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
  TrainSummary summary;     // steps: the last completed step. Time and speed cover this process only.
  bool finished = false;    // true when train.steps were reached and model.safetensors was written
  int stop_signal = 0;      // SIGINT or SIGTERM if a signal stopped the run early, else 0
};

struct TrainOptions {
  // Stop after this step and write its checkpoint, as an interruption would
  // (0: train to train.steps). Stopping at train.steps finishes the run.
  int64_t stop_at = 0;
  // Steps between progress lines (0: train.log_every).
  int64_t log_every = 0;
  // Read after every step. Once it is non-zero, the run stops as at stop_at, and
  // TrainedRun::stop_signal takes its value (see core/stop_signal.h).
  const std::atomic<int>* stop_signal = nullptr;
};

// Trains as `config` says and writes the run folder `run_dir`, which must be missing
// or empty (so no earlier result is overwritten) and is locked against other entlab
// processes while training runs. Progress lines go to `out`.
TrainedRun train_run(const RunConfig& config, const std::string& run_dir, std::ostream& out,
                     const TrainOptions& options = {});

// Continues the unfinished run in `run_dir` from its newest valid checkpoint to
// train.steps of its config.json. Checkpoints that fail to load are reported on `out`
// and moved aside as <name>.invalid, and metrics.jsonl loses its lines after the
// checkpoint's step. `threads` < 0 keeps the run's train.threads. Throws if the run has
// finished, has no valid checkpoint, or options.stop_at is not after the checkpoint.
TrainedRun resume_run(const std::string& run_dir, std::ostream& out, const TrainOptions& options = {},
                      int threads = -1);

// Rebuilds the model of a finished run from its config.json and model.safetensors.
std::unique_ptr<nn::Transformer> load_trained_model(const std::string& run_dir, RunConfig* config_out = nullptr);

// Applies the thread count of a config (0 leaves the OpenMP default).
void apply_thread_setting(int threads);

// "1m05s", "42s", "1h02m".
std::string format_duration(double seconds);

}  // namespace entlab::tasks
