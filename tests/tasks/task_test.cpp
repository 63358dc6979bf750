#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>

#include "core/error.h"
#include "tasks/batch.h"
#include "tasks/evaluate.h"
#include "tasks/run_config.h"
#include "tasks/task.h"
#include "temp_folder.h"

using namespace entlab;
using namespace entlab::tasks;

TEST_CASE("flipflop target is the last written bit") {
  FlipFlopTask task(0.3f);
  Rng rng(3);
  for (int trial = 0; trial < 200; ++trial) {
    Sample sample = task.generate(rng, 32);
    REQUIRE(sample.source.size() == 31);
    CHECK(sample.source.front() == FlipFlopTask::kWrite);
    CHECK(sample.source.back() == FlipFlopTask::kRead);
    int32_t last_written = -1;
    for (size_t i = 0; i + 1 < sample.source.size(); i += 2) {
      const int32_t instruction = sample.source[i];
      const int32_t bit = sample.source[i + 1];
      CHECK((instruction == FlipFlopTask::kWrite || instruction == FlipFlopTask::kIgnore));
      CHECK((bit == FlipFlopTask::kBit0 || bit == FlipFlopTask::kBit1));
      if (instruction == FlipFlopTask::kWrite) last_written = bit;
    }
    REQUIRE(sample.target.size() == 1);
    CHECK(sample.target[0] == last_written);
  }
}

TEST_CASE("flipflop write probability sets the write rate") {
  FlipFlopTask task(0.15f);
  Rng rng(5);
  int64_t writes = 0, instructions = 0;
  for (int trial = 0; trial < 200; ++trial) {
    Sample sample = task.generate(rng, 64);
    for (size_t i = 2; i + 1 < sample.source.size(); i += 2) {  // skip the forced first write
      writes += sample.source[i] == FlipFlopTask::kWrite;
      ++instructions;
    }
  }
  CHECK(static_cast<double>(writes) / instructions == doctest::Approx(0.15).epsilon(0.1));
}

TEST_CASE("copy target equals source") {
  CopyTask task(32);
  Rng rng(1);
  Sample sample = task.generate(rng, 20);
  CHECK(sample.source.size() == 20);
  CHECK(sample.target == sample.source);
  CHECK(*std::max_element(sample.source.begin(), sample.source.end()) < 32);
}

TEST_CASE("make_task rejects unknown names and options") {
  CHECK_THROWS_WITH_AS(make_task("sort"), doctest::Contains("valid: copy, flipflop"), Error);
  CHECK_THROWS_WITH_AS(make_task("copy", {{"alphabett", 8}}), doctest::Contains("task.options.alphabett"), Error);
  CHECK_THROWS_AS(make_task("flipflop", {{"write_probability", 0.0}}), Error);
  CHECK(make_task("copy", {{"alphabet", 8}})->layout().vocab_size() == 12);
}

TEST_CASE("batch layout and loss mask") {
  TokenLayout layout{5};
  Sample longer{{0, 3, 2}, {3}};
  Sample shorter{{2}, {4}};
  Batch batch = make_batch({longer, shorter}, layout);
  CHECK(batch.batch == 2);
  CHECK(batch.time == 6);  // BOS 0 3 2 SEP 3: every token but the final EOS is an input
  std::vector<int32_t> row0(batch.inputs.begin(), batch.inputs.begin() + 6);
  CHECK(row0 == std::vector<int32_t>{layout.bos(), 0, 3, 2, layout.sep(), 3});
  std::vector<int32_t> row1(batch.inputs.begin() + 6, batch.inputs.end());
  CHECK(row1 == std::vector<int32_t>{layout.bos(), 2, layout.sep(), 4, layout.pad(), layout.pad()});
  // Only the position that reads SEP predicts the target; the rest is ignored.
  std::vector<int32_t> labels0(batch.labels.begin(), batch.labels.begin() + 6);
  CHECK(labels0 == std::vector<int32_t>{-100, -100, -100, -100, 3, -100});
  std::vector<int32_t> labels1(batch.labels.begin() + 6, batch.labels.end());
  CHECK(labels1 == std::vector<int32_t>{-100, -100, 4, -100, -100, -100});
  CHECK(batch.target_start == std::vector<int64_t>{4, 2});
  CHECK(batch.tokens == 6 + 4);
}

TEST_CASE("layout_sequence wraps source and target") {
  TokenLayout layout{32};
  std::vector<int32_t> sequence = layout_sequence({{7, 8}, {7, 8}}, layout);
  CHECK(sequence == std::vector<int32_t>{layout.bos(), 7, 8, layout.sep(), 7, 8, layout.eos()});
}

TEST_CASE("test sets are fixed by seed and length") {
  FlipFlopTask task;
  std::vector<Sample> a = make_test_set(task, 64, 5, 7);
  std::vector<Sample> b = make_test_set(task, 64, 5, 7);
  std::vector<Sample> c = make_test_set(task, 64, 5, 8);
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i].source == b[i].source);
  bool any_differs = false;
  for (size_t i = 0; i < a.size(); ++i) any_differs = any_differs || a[i].source != c[i].source;
  CHECK(any_differs);
}

TEST_CASE("row dispersion statistics") {
  std::vector<float> row = {0.5f, 0.5f, 0.0f, 0.0f};
  HeadDispersion stats = row_dispersion(row.data(), 4);
  CHECK(stats.max_weight == doctest::Approx(0.5));
  CHECK(stats.support_size == 2.0);
  CHECK(stats.entropy == doctest::Approx(std::log(2.0)));
  CHECK(stats.keys == 4.0);
}

TEST_CASE("run config file errors name the file and line") {
  entlab_test::TempFolder folder;
  {
    std::ofstream file(folder.file("bad.json"));
    file << "{\n  \"train\": {\n    \"steps\": 10,\n  }\n}\n";
  }
  CHECK_THROWS_WITH_AS(load_run_config(folder.file("bad.json")), doctest::Contains("bad.json:4"), Error);
  {
    std::ofstream file(folder.file("unknown.json"));
    file << R"({"train": {"stepz": 10}})";
  }
  CHECK_THROWS_WITH_AS(load_run_config(folder.file("unknown.json")),
                       doctest::Contains("unknown key train.stepz; allowed keys: batch_size, steps"), Error);
  CHECK_THROWS_WITH_AS(load_run_config(folder.file("missing.json")), doctest::Contains("missing.json"), Error);
}

TEST_CASE("run config defaults finalize and round trip") {
  RunConfig config;
  config.finalize();
  CHECK(config.model.vocab_size == 9);  // Flip-Flop: 5 symbols + 4 special tokens
  CHECK(config.eval_lengths() == std::vector<int64_t>{32, 64, 128, 256, 512});
  RunConfig copy = run_config_from_json(to_json(config));
  CHECK(to_json(copy) == to_json(config));
  config.task.length_spread = 40;
  CHECK_THROWS_WITH_AS(config.finalize(), doctest::Contains("task.length_spread"), Error);
}
