#include "tasks/train_state.h"

#include <algorithm>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <ostream>
#include <sstream>
#include <tuple>

#include "core/error.h"
#include "core/parallel.h"

namespace entlab::tasks {

namespace fs = std::filesystem;

namespace {

const char* const kFilePrefix = "step-";
const char* const kFileSuffix = ".safetensors";

std::string format_rng_state(const Rng::State& state) {
  char text[4 * 17];
  std::snprintf(text, sizeof text, "%016" PRIx64 " %016" PRIx64 " %016" PRIx64 " %016" PRIx64, state[0], state[1],
                state[2], state[3]);
  return text;
}

Rng::State parse_rng_state(const nn::Metadata& metadata, const std::string& path) {
  auto found = metadata.find("data_rng");
  ENTLAB_CHECK(found != metadata.end(), path, ": metadata 'data_rng' is missing");
  const std::string& text = found->second;
  Rng::State state{};
  bool valid = text.size() == 4 * 17 - 1;
  for (size_t word = 0; valid && word < 4; ++word) {
    const char* begin = text.data() + word * 17;
    auto [end, error] = std::from_chars(begin, begin + 16, state[word], 16);
    valid = error == std::errc() && end == begin + 16 && (word == 3 || *end == ' ');
  }
  ENTLAB_CHECK(valid, path, ": metadata 'data_rng' is '", text, "', expected four 16-digit hex words");
  return state;
}

// The step of a file named step-<digits>.safetensors, or -1 for any other name.
int64_t step_of_file_name(const std::string& name) {
  const std::string prefix = kFilePrefix, suffix = kFileSuffix;
  if (name.size() <= prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return -1;
  const char* begin = name.data() + prefix.size();
  const char* end = name.data() + name.size() - suffix.size();
  int64_t step = -1;
  auto [parsed_end, error] = std::from_chars(begin, end, step);
  return error == std::errc() && parsed_end == end ? step : -1;
}

void delete_old_checkpoints(const std::string& run_dir, int64_t keep, std::ostream& out) {
  std::vector<CheckpointFile> files = list_checkpoints(run_dir);
  const int64_t excess = static_cast<int64_t>(files.size()) - keep;
  for (int64_t i = 0; i < excess; ++i) {
    std::error_code error;
    fs::remove(files[i].path, error);
    if (error) out << "warning: cannot delete old checkpoint " << files[i].path << ": " << error.message() << "\n";
  }
}

}  // namespace

TrainState initial_train_state(const RunConfig& config) {
  TrainState state;
  state.model = std::make_unique<nn::Transformer>(config.model, derive_seed(config.train.seed, 0));
  state.optimizer = std::make_unique<nn::AdamW>(
      state.model->parameters(),
      nn::AdamWOptions{config.train.lr, config.train.beta1, config.train.beta2, 1e-8f, config.train.weight_decay});
  state.data_rng = Rng(derive_seed(config.train.seed, 1));
  return state;
}

void save_train_state(const std::string& path, const TrainState& state, const RunConfig& config) {
  nn::save_checkpoint(path, *state.model, state.optimizer.get(),
                      {{"step", std::to_string(state.step)},
                       {"config", to_json(config).dump()},
                       {"data_rng", format_rng_state(state.data_rng.state())},
                       {"threads", std::to_string(num_threads())}});
}

TrainState train_state_from_checkpoint(const SafetensorsFile& file, const std::string& path,
                                       const RunConfig& config) {
  const nn::Metadata& metadata = file.metadata;
  ENTLAB_CHECK(metadata.count(nn::kMetadataChecksumKey), path, ": metadata '", nn::kMetadataChecksumKey,
               "' is missing, so the step count and RNG state cannot be verified");
  TrainState state = initial_train_state(config);
  nn::copy_checkpoint(file, path, *state.model, state.optimizer.get());
  state.step = nn::metadata_integer(metadata, "step", path);
  ENTLAB_CHECK(state.step == state.optimizer->step_count(), path, ": metadata 'step' is ", state.step,
               " but 'optimizer_step' is ", state.optimizer->step_count(), "; they must be equal");
  state.data_rng.set_state(parse_rng_state(metadata, path));
  // Checked here, so a file with a bad value is set aside like any other damaged file.
  if (metadata.count("threads")) nn::metadata_integer(metadata, "threads", path);
  return state;
}

std::string saved_config_differences(const nn::Metadata& metadata, const RunConfig& config,
                                     const std::vector<std::string>& sections, const std::string& path) {
  auto found = metadata.find("config");
  ENTLAB_CHECK(found != metadata.end(), path, ": metadata 'config' is missing");
  nlohmann::json saved;
  try {
    RunConfig parsed = run_config_from_json(nlohmann::json::parse(found->second));
    parsed.finalize();
    saved = to_json(parsed);
  } catch (const nlohmann::json::exception& error) {
    throw Error(str_cat(path, ": metadata 'config' is not a valid run config: ", error.what()));
  } catch (const Error& error) {
    throw Error(str_cat(path, ": metadata 'config' is not a valid run config: ", error.what()));
  }

  const nlohmann::json current = to_json(config);
  std::string differences;
  for (const std::string& section : sections)
    for (const auto& [key, value] : current.at(section).items()) {
      const nlohmann::json* stored = saved.contains(section) && saved[section].contains(key) ? &saved[section][key]
                                                                                           : nullptr;
      if (!stored || *stored != value)
        differences += str_cat("\n  ", section, ".", key, ": ", value.dump(), " in config.json, ",
                               stored ? stored->dump() : "missing", " in the checkpoint");
    }
  return differences;
}

std::string checkpoint_folder(const std::string& run_dir) { return (fs::path(run_dir) / "checkpoints").string(); }

std::string checkpoint_path(const std::string& run_dir, int64_t step) {
  char name[64];
  std::snprintf(name, sizeof name, "%s%08lld%s", kFilePrefix, static_cast<long long>(step), kFileSuffix);
  return (fs::path(checkpoint_folder(run_dir)) / name).string();
}

std::vector<CheckpointFile> list_checkpoints(const std::string& run_dir) {
  std::vector<CheckpointFile> files;
  const fs::path folder = checkpoint_folder(run_dir);
  if (!fs::is_directory(folder)) return files;
  for (const auto& entry : fs::directory_iterator(folder)) {
    const int64_t step = step_of_file_name(entry.path().filename().string());
    if (step >= 0 && entry.is_regular_file()) files.push_back({step, entry.path().string()});
  }
  std::sort(files.begin(), files.end(),
            [](const CheckpointFile& a, const CheckpointFile& b) { return a.step < b.step; });
  return files;
}

void write_checkpoint(const std::string& run_dir, const TrainState& state, const RunConfig& config,
                      std::ostream& out) {
  std::error_code error;
  fs::create_directories(checkpoint_folder(run_dir), error);
  ENTLAB_CHECK(!error, "cannot create folder ", checkpoint_folder(run_dir), ": ", error.message());
  save_train_state(checkpoint_path(run_dir, state.step), state, config);
  delete_old_checkpoints(run_dir, config.train.keep_checkpoints, out);
}

RestoredCheckpoint restore_newest_checkpoint(const std::string& run_dir, const RunConfig& config) {
  std::vector<CheckpointFile> files = list_checkpoints(run_dir);
  ENTLAB_CHECK(!files.empty(), "run folder ", run_dir, " has no checkpoints (", checkpoint_folder(run_dir),
               " is missing or has no step-*.safetensors files); the run stopped before its first checkpoint, so "
               "start it again");
  std::vector<RejectedCheckpoint> rejected;
  auto reject = [&](const CheckpointFile& file, const Error& error) {
    const std::string problem = error.what();
    rejected.push_back({file, problem.find(file.path) == std::string::npos ? file.path + ": " + problem : problem});
  };
  for (auto file = files.rbegin(); file != files.rend(); ++file) {
    SafetensorsFile contents;
    try {
      contents = nn::read_checkpoint(file->path);
    } catch (const Error& error) {
      reject(*file, error);
      continue;
    }

    // Both checksums passed, so a different config means config.json was edited or the
    // file comes from another run: an older checkpoint would not fix that. Compared
    // before the tensors, so an edited model size is named as such.
    const std::string differences =
        saved_config_differences(contents.metadata, config, {"model", "attention", "task", "train", "eval"}, file->path);
    ENTLAB_CHECK(differences.empty(), "config.json does not match the config stored in ", file->path, ":",
                 differences, "\nhint: a run can only be resumed with the config it started with; restore config.json");

    RestoredCheckpoint restored;
    try {
      restored.state = train_state_from_checkpoint(contents, file->path, config);
      ENTLAB_CHECK(restored.state.step == file->step, file->path, ": the file name says step ", file->step,
                   " but metadata 'step' is ", restored.state.step);
      ENTLAB_CHECK(restored.state.step <= config.train.steps, file->path, ": step ", restored.state.step,
                   " is beyond train.steps = ", config.train.steps);
    } catch (const Error& error) {
      reject(*file, error);
      continue;
    }
    restored.metadata = std::move(contents.metadata);
    restored.file = *file;
    restored.rejected = std::move(rejected);
    return restored;
  }

  std::ostringstream problems;
  for (const RejectedCheckpoint& entry : rejected) problems << "\n  " << entry.problem;
  throw Error(str_cat("run folder ", run_dir, " has no usable checkpoint; every one failed to load:",
                      problems.str()));
}

}  // namespace entlab::tasks
