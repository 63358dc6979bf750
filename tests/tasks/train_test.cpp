#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/tape.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/folder_lock.h"
#include "tasks/evaluate.h"
#include "tasks/train.h"
#include "temp_folder.h"
#include "tiny_run_config.h"

using namespace entlab;
using namespace entlab::tasks;

namespace {

RunConfig tiny_run(nn::Transform transform) {
  RunConfig config = entlab_test::tiny_run_config();
  config.model.transform = transform;
  config.train.batch_size = 8;
  config.train.steps = 40;
  config.train.log_every = 20;
  config.finalize();
  return config;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream file(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(file, line);) lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE("train writes a complete run folder") {
  entlab_test::TempFolder folder;
  std::ostringstream log;
  TrainedRun run = train_run(tiny_run(nn::Transform::Entmax15), folder.path(), log);
  CHECK(run.summary.steps == 40);
  CHECK(std::filesystem::exists(folder.file("config.json")));
  CHECK(std::filesystem::exists(folder.file("model.safetensors")));
  CHECK(read_lines(folder.file("metrics.jsonl")).size() == 40);
  CHECK(log.str().find("step     40/40") != std::string::npos);
  CHECK(tape_size() == 0);

  RunConfig loaded_config;
  auto model = load_trained_model(folder.path(), &loaded_config);
  CHECK(loaded_config.model.transform == nn::Transform::Entmax15);
  auto trained = run.model->named_parameters();
  auto loaded = model->named_parameters();
  for (size_t i = 0; i < trained.size(); ++i) CHECK(trained[i].second.to_vector() == loaded[i].second.to_vector());
}

TEST_CASE("train refuses to overwrite a finished run") {
  entlab_test::TempFolder folder;
  std::ostringstream log;
  train_run(tiny_run(nn::Transform::Softmax), folder.path(), log);
  const std::string checkpoint = read_file(folder.file("model.safetensors"));
  CHECK_THROWS_WITH_AS(train_run(tiny_run(nn::Transform::Entmax15), folder.path(), log),
                       doctest::Contains("is not empty"), Error);
  CHECK(read_file(folder.file("model.safetensors")) == checkpoint);
  CHECK_FALSE(std::filesystem::exists(folder.file(".lock")));
}

TEST_CASE("train refuses a folder locked by another process") {
  entlab_test::TempFolder folder;
  FolderLock held(folder.path());
  std::ostringstream log;
  CHECK_THROWS_WITH_AS(train_run(tiny_run(nn::Transform::Softmax), folder.path(), log),
                       doctest::Contains("not empty"), Error);
}

TEST_CASE("folder lock is exclusive") {
  entlab_test::TempFolder folder;
  FolderLock held(folder.path());
  CHECK_THROWS_WITH_AS(FolderLock(folder.path()), doctest::Contains("in use by another entlab process"), Error);
}

TEST_CASE("unique folders get numbered suffixes") {
  entlab_test::TempFolder folder;
  const std::string base = folder.file("run");
  CHECK(create_unique_folder(base) == base);
  CHECK(create_unique_folder(base) == base + "-2");
  CHECK(create_unique_folder(base) == base + "-3");
}

TEST_CASE("load_trained_model rejects a config that does not match the checkpoint") {
  entlab_test::TempFolder folder;
  std::ostringstream log;
  train_run(tiny_run(nn::Transform::Softmax), folder.path(), log);
  nlohmann::json config = nlohmann::json::parse(read_file(folder.file("config.json")));
  config["attention"]["transform"] = "entmax15";
  write_file_atomically(folder.file("config.json"), config.dump(2));
  CHECK_THROWS_WITH_AS(load_trained_model(folder.path()),
                       doctest::Contains("attention.transform: \"entmax15\" in config.json, \"softmax\" in the checkpoint"),
                       Error);
}

TEST_CASE("same seed gives the same loss curve") {
  entlab_test::TempFolder first, second;
  std::ostringstream log;
  train_run(tiny_run(nn::Transform::Softmax), first.path(), log);
  train_run(tiny_run(nn::Transform::Softmax), second.path(), log);
  std::vector<std::string> a = read_lines(first.file("metrics.jsonl"));
  std::vector<std::string> b = read_lines(second.file("metrics.jsonl"));
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    nlohmann::json line_a = nlohmann::json::parse(a[i]);
    nlohmann::json line_b = nlohmann::json::parse(b[i]);
    CHECK(line_a["loss"] == line_b["loss"]);
    CHECK(line_a["grad_norm"] == line_b["grad_norm"]);
  }
}

TEST_CASE("load_trained_model reports a missing folder") {
  CHECK_THROWS_WITH_AS(load_trained_model("/nonexistent/entlab-run"), doctest::Contains("does not exist"), Error);
}

TEST_CASE("greedy decoding agrees with the teacher-forced exact match") {
  // Up to the first wrong token, greedy decoding sees the true prefix, so its outputs
  // must equal the teacher-forced argmax predictions through that token.
  RunConfig config = tiny_run(nn::Transform::Softmax);
  config.task.name = "copy";
  config.task.options = {{"alphabet", 4}};
  config.model.vocab_size = 0;  // set again from the new task
  config.finalize();
  nn::Transformer model(config.model, 3);
  std::unique_ptr<Task> task = make_task("copy", config.task.options);
  std::vector<Sample> samples = make_test_set(*task, 6, 8, 1);
  NoGradGuard no_grad;
  for (const Sample& sample : samples) {
    Batch batch = make_batch({sample}, task->layout());
    Tensor logits = model.forward(batch.inputs, 1, batch.time);
    std::vector<int32_t> decoded = greedy_decode(model, *task, sample);
    const int64_t vocab = config.model.vocab_size;
    for (int64_t k = 0; k < static_cast<int64_t>(sample.target.size()); ++k) {
      const float* row = logits.data() + (batch.target_start[0] + k) * vocab;
      const int32_t teacher = static_cast<int32_t>(std::max_element(row, row + vocab) - row);
      CHECK(decoded[k] == teacher);
      if (teacher != sample.target[k]) break;
    }
  }
}

TEST_CASE("evaluate counts exact matches per length") {
  RunConfig config = tiny_run(nn::Transform::Entmax15);
  nn::Transformer model(config.model, 3);
  std::unique_ptr<Task> task = make_task(config.task.name, config.task.options);
  EvalOptions options;
  options.lengths = {12, 24};
  options.samples_per_length = 10;
  options.batch_size = 4;
  std::vector<LengthResult> results = evaluate(model, *task, options);
  REQUIRE(results.size() == 2);
  CHECK(results[1].length == 24);
  CHECK(results[1].samples == 10);
  CHECK(results[1].correct <= 10);
  REQUIRE(results[1].heads.size() == 2);  // 1 layer x 2 heads
  CHECK(results[1].heads[0].keys > 0);
  CHECK(results[1].heads[0].max_weight <= 1.0);
  CHECK(results[1].heads[0].support_size <= results[1].heads[0].keys);
}

TEST_CASE("metrics log ASEntmax beta and gamma") {
  entlab_test::TempFolder scaled, plain;
  std::ostringstream log;
  RunConfig config = tiny_run(nn::Transform::Entmax15);
  config.model.n_layers = 2;
  config.model.scaling = nn::Scaling::AsentmaxHead;
  config.train.steps = 2;
  train_run(config, scaled.path(), log);
  const nlohmann::json first = nlohmann::json::parse(read_lines(scaled.file("metrics.jsonl")).front());
  REQUIRE(first.contains("beta"));
  REQUIRE(first["beta"].size() == 2);
  REQUIRE(first["gamma"].size() == 2);
  // Step 1's forward pass uses the initial values: beta 0.05 and gamma 0.
  CHECK(first["beta"][1].get<double>() == doctest::Approx(0.05).epsilon(1e-6));
  CHECK(first["gamma"][0].get<double>() == 0.0);

  config.model.scaling = nn::Scaling::None;
  train_run(config, plain.path(), log);
  CHECK_FALSE(nlohmann::json::parse(read_lines(plain.file("metrics.jsonl")).front()).contains("beta"));
}
