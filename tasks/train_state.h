// The state of a training run between two steps, and its checkpoints in the run folder.
//
// A checkpoint contains everything the next step reads, so a run resumed from it computes
// the same bits as a run that never stopped, given the same number of threads:
//   tensors   model.*, optim.exp_avg.*, optim.exp_avg_sq.* (see nn/checkpoint.h)
//   metadata  step, optimizer_step, config (the run config as JSON), data_rng (the four
//             state words of the data RNG as 16-digit hex, separated by spaces),
//             threads (the OpenMP thread count of the writing process), format and
//             the header checksums entlab.index_checksum and entlab.metadata_checksum
// Checkpoints go to <run>/checkpoints/step-<step, zero-padded to 8 digits>.safetensors.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/rng.h"
#include "nn/checkpoint.h"
#include "nn/optim.h"
#include "nn/transformer.h"
#include "tasks/run_config.h"

namespace entlab::tasks {

struct TrainState {
  std::unique_ptr<nn::Transformer> model;
  std::unique_ptr<nn::AdamW> optimizer;  // updates the parameters of `model`
  Rng data_rng;                          // draws the training samples
  int64_t step = 0;                      // steps completed
};

// The state before step 1: weights from derive_seed(seed, 0), data from derive_seed(seed, 1).
TrainState initial_train_state(const RunConfig& config);

// Writes `state` and `config` to `path` (atomically, through write_safetensors).
void save_train_state(const std::string& path, const TrainState& state, const RunConfig& config);

// Builds the state of a checkpoint written by save_train_state and read by
// nn::read_checkpoint, for `config`'s model. Throws entlab::Error naming the file if it
// lacks the metadata checksum, a key or a tensor, or a tensor has the wrong shape.
TrainState train_state_from_checkpoint(const SafetensorsFile& file, const std::string& path,
                                       const RunConfig& config);

// Lists the keys of `sections` ("model", "train", ...) in which `config` and the run
// config stored in a checkpoint's metadata differ. Each gets one line of the form
// "\n  section.key: A in config.json, B in the checkpoint", and the result is empty when
// they agree. Throws if the metadata contains no valid run config.
std::string saved_config_differences(const nn::Metadata& metadata, const RunConfig& config,
                                     const std::vector<std::string>& sections, const std::string& path);

struct CheckpointFile {
  int64_t step = 0;
  std::string path;
};

std::string checkpoint_folder(const std::string& run_dir);
std::string checkpoint_path(const std::string& run_dir, int64_t step);

// The files named step-<digits>.safetensors in the run's checkpoint folder, oldest step
// first; none if the folder is missing. The files are not read.
std::vector<CheckpointFile> list_checkpoints(const std::string& run_dir);

// Writes the checkpoint of state.step, and only then deletes the oldest checkpoints
// beyond train.keep_checkpoints. A failed deletion is reported on `out`, not thrown.
void write_checkpoint(const std::string& run_dir, const TrainState& state, const RunConfig& config,
                      std::ostream& out);

struct RejectedCheckpoint {
  CheckpointFile file;
  std::string problem;  // the error message, which names the file
};

struct RestoredCheckpoint {
  TrainState state;
  nn::Metadata metadata;
  CheckpointFile file;
  std::vector<RejectedCheckpoint> rejected;  // newer files that failed to load, newest first
};

// Loads the newest checkpoint of the run that reads and verifies, trying older ones in
// turn. Throws if there is none, listing each file and its problem, and also if the
// config stored in the chosen file differs from `config`.
RestoredCheckpoint restore_newest_checkpoint(const std::string& run_dir, const RunConfig& config);

}  // namespace entlab::tasks
