#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "tasks/train.h"
#include "tasks/train_state.h"
#include "temp_folder.h"
#include "tiny_run_config.h"

using namespace entlab;
using namespace entlab::tasks;

namespace {

namespace fs = std::filesystem;

RunConfig tiny_config(int64_t checkpoint_every) {
  RunConfig config = entlab_test::tiny_run_config();
  config.train.batch_size = 4;
  config.train.steps = 8;
  config.train.log_every = 100;
  config.train.checkpoint_every = checkpoint_every;
  config.finalize();
  return config;
}

TrainOptions stop_at(int64_t step) {
  TrainOptions options;
  options.stop_at = step;
  return options;
}

std::string model_file(const entlab_test::TempFolder& run) { return run.file("model.safetensors"); }

// Checks that two finished runs contain the same tensors bit for bit and the same
// optimizer step and data RNG state.
void check_same_final_state(const std::string& expected_path, const std::string& actual_path) {
  SafetensorsFile expected = read_safetensors(expected_path);
  SafetensorsFile actual = read_safetensors(actual_path);
  REQUIRE(expected.tensors.size() == actual.tensors.size());
  for (size_t i = 0; i < expected.tensors.size(); ++i) {
    const auto& [name, tensor] = expected.tensors[i];
    INFO("tensor ", name);
    REQUIRE(actual.tensors[i].first == name);
    REQUIRE(actual.tensors[i].second.numel() == tensor.numel());
    CHECK(std::memcmp(actual.tensors[i].second.data(), tensor.data(), tensor.numel() * sizeof(float)) == 0);
  }
  CHECK(actual.metadata.at("optimizer_step") == expected.metadata.at("optimizer_step"));
  CHECK(actual.metadata.at("data_rng") == expected.metadata.at("data_rng"));
}

std::vector<std::string> checkpoint_names(const std::string& run_dir) {
  std::vector<std::string> names;
  for (const CheckpointFile& file : list_checkpoints(run_dir)) names.push_back(fs::path(file.path).filename());
  return names;
}

std::vector<int64_t> metrics_steps(const std::string& run_dir) {
  std::ifstream file(run_dir + "/metrics.jsonl");
  std::vector<int64_t> steps;
  for (std::string line; std::getline(file, line);) steps.push_back(nlohmann::json::parse(line).at("step"));
  return steps;
}

std::vector<int64_t> one_to(int64_t last) {
  std::vector<int64_t> steps;
  for (int64_t step = 1; step <= last; ++step) steps.push_back(step);
  return steps;
}

// Flips one byte in the last tensor's data, which the safetensors checksum covers.
void corrupt_data_section(const std::string& path) {
  std::string bytes = read_file(path);
  bytes[bytes.size() - 3] ^= 0x20;
  write_file_atomically(path, bytes);
}

}  // namespace

TEST_CASE("resumed run matches uninterrupted run") {
  entlab_test::TempFolder whole, split;
  std::ostringstream log;
  train_run(tiny_config(500), whole.path(), log);

  TrainedRun first = train_run(tiny_config(500), split.path(), log, stop_at(4));
  CHECK_FALSE(first.finished);
  CHECK(first.summary.steps == 4);
  CHECK_FALSE(fs::exists(model_file(split)));
  CHECK(checkpoint_names(split.path()) == std::vector<std::string>{"step-00000004.safetensors"});
  CHECK(log.str().find("stopped at step 4 of 8; continue with: entlab train --resume " + split.path()) !=
        std::string::npos);

  TrainedRun second = resume_run(split.path(), log);
  CHECK(second.finished);
  CHECK(second.summary.steps == 8);
  check_same_final_state(model_file(whole), model_file(split));
  CHECK(metrics_steps(split.path()) == one_to(8));
}

TEST_CASE("resume removes leftover temporary files") {
  // A process killed in the middle of an atomic write leaves "<name>.tmp.<pid>.<n>".
  entlab_test::TempFolder run;
  std::ostringstream log;
  train_run(tiny_config(500), run.path(), log, stop_at(4));
  const std::string top = run.file("model.safetensors.tmp.123.0");
  const std::string nested = checkpoint_path(run.path(), 6) + ".tmp.123.1";
  write_file_atomically(top, "partial");
  write_file_atomically(nested, "partial");
  resume_run(run.path(), log);
  CHECK_FALSE(fs::exists(top));
  CHECK_FALSE(fs::exists(nested));
  CHECK(fs::exists(model_file(run)));
}

TEST_CASE("stop-at on the last step finishes the run") {
  entlab_test::TempFolder run;
  std::ostringstream log;
  TrainedRun result = train_run(tiny_config(500), run.path(), log, stop_at(8));
  CHECK(result.finished);
  CHECK(fs::exists(model_file(run)));
  CHECK(log.str().find("stopped at") == std::string::npos);
}

TEST_CASE("checkpoints keep only the newest K") {
  entlab_test::TempFolder run;
  std::ostringstream log;
  RunConfig config = tiny_config(1);
  config.train.keep_checkpoints = 2;
  train_run(config, run.path(), log, stop_at(5));
  CHECK(checkpoint_names(run.path()) ==
        std::vector<std::string>{"step-00000004.safetensors", "step-00000005.safetensors"});

  resume_run(run.path(), log);
  // The last step is saved as model.safetensors only.
  CHECK(checkpoint_names(run.path()) ==
        std::vector<std::string>{"step-00000006.safetensors", "step-00000007.safetensors"});
}

TEST_CASE("resume skips a checkpoint with a bad threads value") {
  // The value passes the metadata checksum (save_checkpoint computes it), so only the
  // check of the value itself can catch it.
  entlab_test::TempFolder run;
  std::ostringstream log;
  const RunConfig config = tiny_config(2);
  train_run(config, run.path(), log, stop_at(4));
  const std::string newest = checkpoint_path(run.path(), 4);
  const SafetensorsFile file = nn::read_checkpoint(newest);
  TrainState state = train_state_from_checkpoint(file, newest, config);
  nn::Metadata forged = file.metadata;
  forged.erase(nn::kMetadataChecksumKey);
  forged.erase("format");
  forged.erase("optimizer_step");
  forged["threads"] = "-1";
  nn::save_checkpoint(newest, *state.model, state.optimizer.get(), forged);

  std::ostringstream resume_log;
  resume_run(run.path(), resume_log);
  CHECK(resume_log.str().find("metadata 'threads' is '-1'") != std::string::npos);
  CHECK(resume_log.str().find("resuming from " + checkpoint_path(run.path(), 2)) != std::string::npos);
}

TEST_CASE("resume skips a corrupt checkpoint") {
  entlab_test::TempFolder whole, split;
  std::ostringstream log;
  train_run(tiny_config(2), whole.path(), log);
  train_run(tiny_config(2), split.path(), log, stop_at(6));
  const std::string newest = checkpoint_path(split.path(), 6);
  corrupt_data_section(newest);

  std::ostringstream resume_log;
  resume_run(split.path(), resume_log);
  CHECK(resume_log.str().find("warning: skipping unusable checkpoint: invalid safetensors file '" + newest +
                              "': checksum mismatch") != std::string::npos);
  CHECK(resume_log.str().find("resuming from " + checkpoint_path(split.path(), 4)) != std::string::npos);
  CHECK(fs::exists(newest + ".invalid"));
  check_same_final_state(model_file(whole), model_file(split));
  CHECK(metrics_steps(split.path()) == one_to(8));
}

TEST_CASE("resume fails when every checkpoint is truncated") {
  entlab_test::TempFolder run;
  std::ostringstream log;
  train_run(tiny_config(2), run.path(), log, stop_at(5));
  REQUIRE(list_checkpoints(run.path()).size() == 2);
  for (const CheckpointFile& file : list_checkpoints(run.path())) {
    const std::string bytes = read_file(file.path);
    write_file_atomically(file.path, bytes.substr(0, bytes.size() / 2));
  }

  try {
    resume_run(run.path(), log);
    FAIL("resume_run accepted truncated checkpoints");
  } catch (const Error& error) {
    const std::string message = error.what();
    CHECK(message.find("has no usable checkpoint") != std::string::npos);
    CHECK(message.find(checkpoint_path(run.path(), 5)) != std::string::npos);
    CHECK(message.find(checkpoint_path(run.path(), 4)) != std::string::npos);
  }
  CHECK_FALSE(fs::exists(model_file(run)));
  CHECK(list_checkpoints(run.path()).size() == 2);  // nothing renamed or deleted
}

TEST_CASE("resume fails without checkpoints") {
  entlab_test::TempFolder run;
  write_file_atomically(run.file("config.json"), to_json(tiny_config(500)).dump());
  std::ostringstream log;
  CHECK_THROWS_WITH_AS(resume_run(run.path(), log), doctest::Contains("has no checkpoints"), Error);
}

TEST_CASE("stop-at outside the run is rejected") {
  entlab_test::TempFolder run;
  std::ostringstream log;
  CHECK_THROWS_WITH_AS(train_run(tiny_config(500), run.path(), log, stop_at(9)),
                       doctest::Contains("invalid --stop-at 9: the run has only 8 steps"), Error);
  CHECK(run.entries().empty());
  CHECK_THROWS_WITH_AS(train_run(tiny_config(500), run.path(), log, stop_at(-1)),
                       doctest::Contains("invalid --stop-at -1"), Error);

  train_run(tiny_config(500), run.path(), log, stop_at(4));
  CHECK_THROWS_WITH_AS(resume_run(run.path(), log, stop_at(4)),
                       doctest::Contains("the stop must be a later step (5 to 8)"), Error);
  CHECK_THROWS_WITH_AS(resume_run(run.path(), log, stop_at(9)), doctest::Contains("only 8 steps"), Error);
}

TEST_CASE("resume of a finished run is rejected") {
  entlab_test::TempFolder run;
  std::ostringstream log;
  train_run(tiny_config(2), run.path(), log);
  const std::string model = read_file(model_file(run));
  CHECK_THROWS_WITH_AS(resume_run(run.path(), log), doctest::Contains("holds a finished run"), Error);
  CHECK(read_file(model_file(run)) == model);
}

TEST_CASE("resume rejects an edited config.json") {
  entlab_test::TempFolder run;
  std::ostringstream log;
  train_run(tiny_config(500), run.path(), log, stop_at(4));
  nlohmann::json config = nlohmann::json::parse(read_file(run.file("config.json")));
  config["train"]["steps"] = 10;
  write_file_atomically(run.file("config.json"), config.dump(2));
  CHECK_THROWS_WITH_AS(resume_run(run.path(), log),
                       doctest::Contains("train.steps: 10 in config.json, 8 in the checkpoint"), Error);

  // A new model size changes the tensor shapes; the message names the key, not the tensors.
  config["train"]["steps"] = 8;
  config["model"]["d_model"] = 24;
  write_file_atomically(run.file("config.json"), config.dump(2));
  CHECK_THROWS_WITH_AS(resume_run(run.path(), log),
                       doctest::Contains("model.d_model: 24 in config.json, 16 in the checkpoint"), Error);
  CHECK(fs::exists(checkpoint_path(run.path(), 4)));  // not set aside as damaged
}

TEST_CASE("resume drops metrics lines after the checkpoint") {
  // A process killed after its last checkpoint has logged steps that will run again,
  // and possibly half a line.
  entlab_test::TempFolder run;
  std::ostringstream log;
  train_run(tiny_config(500), run.path(), log, stop_at(3));
  {
    std::ofstream metrics(run.file("metrics.jsonl"), std::ios::app);
    metrics << "{\"step\": 4, \"loss\": 1.0}\n{\"step\": 5, \"lo";
  }
  REQUIRE(read_file(run.file("metrics.jsonl")).find("{\"step\": 5, \"lo") != std::string::npos);
  resume_run(run.path(), log);
  CHECK(metrics_steps(run.path()) == one_to(8));
}

TEST_CASE("stop signal ends the run with a checkpoint") {
  entlab_test::TempFolder whole, split;
  std::ostringstream log;
  train_run(tiny_config(500), whole.path(), log);

  std::atomic<int> received{SIGTERM};
  TrainOptions options;
  options.stop_signal = &received;
  TrainedRun stopped = train_run(tiny_config(500), split.path(), log, options);
  CHECK(stopped.stop_signal == SIGTERM);
  CHECK(stopped.summary.steps == 1);
  CHECK(checkpoint_names(split.path()) == std::vector<std::string>{"step-00000001.safetensors"});
  CHECK(log.str().find("received SIGTERM; stopped at step 1 of 8") != std::string::npos);

  TrainedRun resumed = resume_run(split.path(), log);
  CHECK(resumed.stop_signal == 0);
  check_same_final_state(model_file(whole), model_file(split));
}

TEST_CASE("load_trained_model explains a stopped run") {
  entlab_test::TempFolder run;
  std::ostringstream log;
  train_run(tiny_config(500), run.path(), log, stop_at(4));
  CHECK_THROWS_WITH_AS(load_trained_model(run.path()),
                       doctest::Contains("the run stopped at step 4 of 8; continue it with: entlab train --resume"),
                       Error);
}
