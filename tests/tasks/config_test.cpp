// Run configs: presets, --set assignments and the errors a user sees for bad keys.
#include <doctest/doctest.h>

#include <fstream>

#include "core/error.h"
#include "tasks/presets.h"
#include "tasks/run_config.h"
#include "temp_folder.h"

using namespace entlab;
using namespace entlab::tasks;

TEST_CASE("every preset finalizes") {
  for (const std::string& name : preset_names()) {
    CAPTURE(name);
    RunConfig config = preset_config(name);
    CHECK_NOTHROW(config.finalize());
  }
  CHECK(preset_names().front() == "tiny");
  CHECK(to_json(preset_config("small")) == to_json(RunConfig{}));
  RunConfig paper = preset_config("paper-copy");
  CHECK(paper.task.name == "copy");
  CHECK(paper.model.d_model == 256);
  CHECK(paper.model.n_heads == 16);
  CHECK(paper.model.activation == nn::Activation::Geglu);
  // Copy at 2048 has 4099 tokens, whose attention weights need more than 4 GiB.
  CHECK(paper.eval.lengths == std::vector<int64_t>{64, 128, 256, 512, 1024});
  CHECK(preset_config("paper-flipflop").eval.lengths.back() == 2048);
  CHECK_THROWS_WITH_AS(preset_config("huge"), doctest::Contains("unknown preset 'huge'; valid: tiny, small, paper-"),
                       Error);
}

TEST_CASE("--set changes one key of any section") {
  RunConfig config;
  apply_assignment(config, "model.d_model=128");
  apply_assignment(config, "attention.transform=entmax15");
  apply_assignment(config, "attention.learn_alpha=false");
  apply_assignment(config, "train.lr=5e-4");
  apply_assignment(config, "train.schedule=linear");
  apply_assignment(config, "eval.lengths=[32,64]");
  apply_assignment(config, "task.options.write_probability=0.25");
  CHECK(config.model.d_model == 128);
  CHECK(config.model.transform == nn::Transform::Entmax15);
  CHECK(config.train.lr == 5e-4f);
  CHECK(config.train.schedule == nn::LrSchedule::Linear);
  CHECK(config.eval.lengths == std::vector<int64_t>{32, 64});
  config.finalize();
  CHECK(config.task.options.at("write_probability").get<double>() == doctest::Approx(0.25));
}

TEST_CASE("--set task.name resets the old task's options and vocabulary") {
  RunConfig config;
  apply_assignment(config, "task.options.write_probability=0.25");
  config.finalize();
  apply_assignment(config, "task.name=copy");
  CHECK(config.task.options.empty());
  CHECK(config.model.vocab_size == 0);
  CHECK_NOTHROW(config.finalize());
}

TEST_CASE("--set errors name the assignment and the key") {
  RunConfig config;
  CHECK_THROWS_WITH_AS(apply_assignment(config, "model.dmodel=3"),
                       doctest::Contains("--set model.dmodel=3: unknown key model.dmodel; allowed keys: vocab_size, "
                                         "d_model"),
                       Error);
  CHECK_THROWS_WITH_AS(apply_assignment(config, "modle.d_model=3"),
                       doctest::Contains("unknown key config.modle; allowed keys: attention, model, task, train, eval"),
                       Error);
  CHECK_THROWS_WITH_AS(apply_assignment(config, "model.d_model=wide"),
                       doctest::Contains("invalid type for model.d_model: got \"wide\", expected an integer"), Error);
  CHECK_THROWS_WITH_AS(apply_assignment(config, "attention.transform=sparsemux"),
                       doctest::Contains("invalid attention.transform: unknown attention transform 'sparsemux'; "
                                         "valid: softmax, entmax15, sparsemax, entmax"),
                       Error);
  CHECK_THROWS_WITH_AS(apply_assignment(config, "model.d_model.x=3"),
                       doctest::Contains("'model.d_model' is a value, not a section"), Error);
  CHECK_THROWS_WITH_AS(apply_assignment(config, "d_model"), doctest::Contains("expected key=value"), Error);
  CHECK(config.model.d_model == RunConfig{}.model.d_model);  // a failed assignment changes nothing
}

TEST_CASE("impossible combinations name the keys and what is allowed") {
  RunConfig config;
  apply_assignment(config, "model.n_heads=5");
  CHECK_THROWS_WITH_AS(config.finalize(), doctest::Contains("use an even head count"), Error);
  config = RunConfig{};
  apply_assignment(config, "attention.transform=entmax");
  apply_assignment(config, "attention.alpha=1");
  CHECK_THROWS_WITH_AS(config.finalize(), doctest::Contains("invalid attention.alpha = 1: alpha-entmax needs 1 < alpha"),
                       Error);
  config = RunConfig{};
  apply_assignment(config, "attention.learn_alpha=true");
  CHECK_THROWS_WITH_AS(config.finalize(), doctest::Contains("a learned alpha needs transform entmax"), Error);
  config = RunConfig{};
  apply_assignment(config, "task.options.write_prob=0.2");
  CHECK_THROWS_WITH_AS(config.finalize(), doctest::Contains("task.options.write_prob"), Error);
}

TEST_CASE("old layout without attention section loads") {
  // Run folders written before the "attention" section kept these keys under "model".
  RunConfig expected;
  expected.model.transform = nn::Transform::Entmax15;
  expected.model.nape_slopes = nn::NapeSlopes::Exp;
  nlohmann::json json = to_json(expected);
  for (const auto& [key, value] : json["attention"].items()) json["model"][key] = value;
  json.erase("attention");
  CHECK(to_json(run_config_from_json(json)) == to_json(expected));
}

TEST_CASE("attention key under model rejected") {
  nlohmann::json json = to_json(RunConfig{});
  json["model"]["transform"] = "softmax";
  CHECK_THROWS_WITH_AS(run_config_from_json(json),
                       doctest::Contains("invalid key model.transform: attention settings go in the \"attention\" "
                                         "section (attention.transform)"),
                       Error);
}

TEST_CASE("model norm, activation and schedule keys round trip") {
  RunConfig config;
  apply_assignment(config, "model.norm=layernorm");
  apply_assignment(config, "model.activation=geglu");
  apply_assignment(config, "attention.nape_slopes=exp");
  apply_assignment(config, "train.schedule=constant");
  config.finalize();
  RunConfig copy = run_config_from_json(to_json(config));
  CHECK(copy.model.norm == nn::Norm::LayerNorm);
  CHECK(copy.model.activation == nn::Activation::Geglu);
  CHECK(copy.model.nape_slopes == nn::NapeSlopes::Exp);
  CHECK(copy.train.schedule == nn::LrSchedule::Constant);
  CHECK(to_json(copy) == to_json(config));
}

TEST_CASE("config file errors point at the right line") {
  entlab_test::TempFolder folder;
  auto error_of = [&](const std::string& text) {
    {
      std::ofstream file(folder.file("c.json"), std::ios::trunc);
      file << text;
    }
    try {
      load_run_config(folder.file("c.json"));
    } catch (const Error& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  // A raw newline inside a string is the fault, on line 2.
  CHECK(error_of("{\n \"task\": {\"name\": \"co\npy\"}}\n").find("c.json:2:") != std::string::npos);
  // The file ends early: reported on its last line, not the empty one after it.
  CHECK(error_of("{\"model\": {}\n").find("c.json:1:") != std::string::npos);
  CHECK(error_of("{\n  \"train\": {\n    \"steps\": 10,\n  }\n}\n").find("c.json:4:") != std::string::npos);
  CHECK(error_of("{\"model\": {\"d_model\": 16, \"d_model\": 8}}").find("repeats the key 'd_model'") !=
        std::string::npos);
}
