// entlab bench: timing of entlab's kernels on fixed shapes (never part of the unit tests).
#include <algorithm>
#include <chrono>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "autograd/tape.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "ops/ops.h"
#include "tasks/run_config.h"
#include "tasks/train.h"
#include "tools/cli_options.h"
#include "tools/commands.h"
#include "tools/report.h"

namespace entlab::tools {

namespace {

struct BenchFlags {
  int64_t repeats = 7;
  int threads = 0;
  double score_std = 2.0;
};

struct TransformUnderTest {
  std::string name;
  std::function<Tensor(const Tensor&)> apply;
};

std::vector<TransformUnderTest> transforms_under_test() {
  return {{"softmax", [](const Tensor& x) { return softmax(x); }},
          {"sparsemax", [](const Tensor& x) { return sparsemax(x); }},
          {"entmax15 (exact)", [](const Tensor& x) { return entmax15(x); }},
          {"entmax alpha=1.5 (bisection)", [](const Tensor& x) { return entmax_bisect(x, 1.5); }},
          {"entmax alpha=1.25 (bisection)", [](const Tensor& x) { return entmax_bisect(x, 1.25); }}};
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Median milliseconds of forward alone and forward + backward over `repeats` runs,
// after one warm-up run.
std::pair<double, double> time_transform(const TransformUnderTest& transform, const Tensor& scores,
                                         const Tensor& upstream, int64_t repeats) {
  std::vector<double> forward_ms, total_ms;
  for (int64_t run = 0; run <= repeats; ++run) {
    Tensor x = scores.clone_values();
    x.set_requires_grad(true);
    auto start = std::chrono::steady_clock::now();
    Tensor probs = transform.apply(x);
    auto middle = std::chrono::steady_clock::now();
    backward(probs, upstream);
    auto end = std::chrono::steady_clock::now();
    if (run == 0) continue;  // warm-up: first-touch page faults, buffer pool
    forward_ms.push_back(std::chrono::duration<double, std::milli>(middle - start).count());
    total_ms.push_back(std::chrono::duration<double, std::milli>(end - start).count());
  }
  return {median(forward_ms), median(total_ms)};
}

Tensor random_scores(const Shape& shape, double score_std, bool causal, Rng& rng) {
  Tensor scores = Tensor::empty(shape);
  for (int64_t i = 0; i < scores.numel(); ++i) scores.data()[i] = static_cast<float>(score_std) * rng.normal();
  return causal ? causal_mask(scores) : scores;
}

void run_case(const std::string& title, const Shape& shape, bool causal, const BenchFlags& flags) {
  Rng rng(7);
  Tensor scores = random_scores(shape, flags.score_std, causal, rng);
  Tensor upstream = random_scores(shape, 1.0, false, rng);
  std::cout << "\n" << title << " " << shape_str(shape) << (causal ? ", causally masked" : "") << ", scores N(0, "
            << flags.score_std << "^2), median of " << flags.repeats << " runs:\n";

  std::vector<TableRow> rows;
  double softmax_total = 0.0;
  for (const TransformUnderTest& transform : transforms_under_test()) {
    auto [forward, total] = time_transform(transform, scores, upstream, flags.repeats);
    if (transform.name == "softmax") softmax_total = total;
    rows.push_back({transform.name, format_fixed(forward, 2), format_fixed(total - forward, 2),
                     format_fixed(total, 2), format_fixed(total / softmax_total, 2) + "x"});
    std::cout << "  " << transform.name << ": " << format_fixed(total, 2) << " ms\n" << std::flush;
  }
  std::cout << "\n"
            << format_table({"transform", "forward ms", "backward ms", "forward+backward ms", "vs softmax"}, rows);
}

void run_transform_bench(const BenchFlags& flags) {
  tasks::apply_thread_setting(flags.threads);
  print_thread_note();
  std::cout << "entlab bench transforms: " << num_threads() << " thread(s)\n";
  run_case("attention scores", {32, 16, 128, 128}, true, flags);
  run_case("long rows", {256, 4096}, false, flags);
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto flags = std::make_shared<BenchFlags>();
  CLI::App* bench = app.add_subcommand("bench", "Time entlab's kernels");
  bench->require_subcommand(1);
  CLI::App* transforms = bench->add_subcommand(
      "transforms", "Forward and backward of every attention transform on (32,16,128,128) and (256,4096)");
  transforms->add_option("--repeats", flags->repeats, "Timed runs per transform (default 7)")->check(integer_in(1, 1000));
  transforms->add_option("--threads", flags->threads, "OpenMP threads, 0 = all cores (default 0)")
      ->check(integer_in(0, tasks::kMaxThreads));
  transforms->add_option("--score-std", flags->score_std, "Standard deviation of the random scores (default 2)")
      ->check(number_above(0, 1000));
  transforms->callback([flags] { run_transform_bench(*flags); });
}

}  // namespace entlab::tools
