#include <doctest/doctest.h>

#include <filesystem>
#include <sstream>

#include "core/error.h"
#include "temp_folder.h"
#include "tools/study.h"

using namespace entlab;
using namespace entlab::tools;

namespace {

StudyOptions tiny_study(const std::string& folder) {
  StudyOptions options;
  options.out_dir = folder;
  options.steps = 4;
  options.samples = 3;
  options.seeds = 2;
  options.multiples = {1, 2};
  options.heatmap_multiples = {1};
  options.threads = 1;
  return options;
}

}  // namespace

TEST_CASE("study writes every summary file") {
  entlab_test::TempFolder folder;
  const std::string out_dir = folder.file("study");
  std::ostringstream log;
  std::vector<VariantResult> results = run_study(tiny_study(out_dir), log);
  REQUIRE(results.size() == 3);
  CHECK(results[0].runs.size() == 2);
  CHECK(results[0].runs[1].seed == 2);
  // Pooled accuracy sums both seeds' samples.
  CHECK(results[0].lengths[0].samples == 6);
  CHECK(results[0].lengths[0].correct == results[0].runs[0].lengths[0].correct + results[0].runs[1].lengths[0].correct);
  for (const char* file : {"accuracy.csv", "dispersion.csv", "results.json", "report.md", "plots/accuracy.png",
                           "plots/max_weight.png", "softmax+rope/seed-1/model.safetensors",
                           "entmax15+nape/seed-2/eval.csv", "heatmaps/entmax15+nape_len32_layer1_head3.png"})
    CHECK_MESSAGE(std::filesystem::exists(out_dir + "/" + file), file);
  CHECK_FALSE(std::filesystem::exists(out_dir + "/.lock"));
  CHECK(log.str().find("Exact match (%) by length, 2 seeds per variant (1 to 2)") != std::string::npos);
}

TEST_CASE("study heatmap lengths follow the evaluated multiples") {
  StudyOptions options;
  CHECK(heatmap_multiples(options) == std::vector<int64_t>{1, 8});
  options.multiples = {1, 4, 16};
  CHECK(heatmap_multiples(options) == std::vector<int64_t>{1, 4});
  options.multiples = {16};
  CHECK(heatmap_multiples(options) == std::vector<int64_t>{16});
  options.heatmap_multiples = {2};
  CHECK(heatmap_multiples(options) == std::vector<int64_t>{2});
}

TEST_CASE("study refuses a folder with results and bad options") {
  entlab_test::TempFolder folder;
  std::ostringstream log;
  StudyOptions options = tiny_study(folder.path());
  std::filesystem::create_directories(folder.file("something"));
  CHECK_THROWS_WITH_AS(run_study(options, log), doctest::Contains("is not empty"), Error);
  options.out_dir = folder.file("fresh");
  options.multiples = {1, 100000};
  CHECK_THROWS_WITH_AS(run_study(options, log), doctest::Contains("--multiples"), Error);
  CHECK_FALSE(std::filesystem::exists(folder.file("fresh")));
}

TEST_CASE("study variant names parse and print") {
  StudyVariant plain = parse_study_variant("softmax+rope");
  CHECK(plain.name() == "softmax+rope");
  StudyVariant scaled = parse_study_variant("entmax15+nape+asentmax-token");
  CHECK(scaled.scaling == nn::Scaling::AsentmaxToken);
  CHECK(scaled.name() == "entmax15+nape+asentmax-token");
  CHECK_THROWS_WITH_AS(parse_study_variant("entmax15"), doctest::Contains("expected <transform>+<position>"), Error);
  CHECK_THROWS_WITH_AS(parse_study_variant("entmax15+abs"), doctest::Contains("valid: rope, nope, alibi, nape"), Error);
}
