#include "tools/study.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <ostream>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/folder_lock.h"
#include "tasks/task.h"
#include "tools/plot.h"
#include "tools/report.h"

namespace entlab::tools {

namespace fs = std::filesystem;

std::string StudyVariant::name() const { return nn::to_string(transform) + "+" + nn::to_string(position); }

std::vector<StudyVariant> StudyOptions::default_variants() {
  return {{nn::Transform::Softmax, nn::PositionEncoding::Rope},
          {nn::Transform::Softmax, nn::PositionEncoding::Nape},
          {nn::Transform::Entmax15, nn::PositionEncoding::Nape}};
}

tasks::RunConfig variant_config(const StudyOptions& options, const StudyVariant& variant) {
  tasks::RunConfig config;
  config.task.name = options.task;
  config.model.transform = variant.transform;
  config.model.position = variant.position;
  config.train.steps = options.steps;
  config.train.seed = options.seed;
  config.train.threads = options.threads;
  config.train.log_every = std::max<int64_t>(1, options.steps / 10);
  config.eval.samples_per_length = options.samples;
  for (int64_t multiple : options.multiples) config.eval.lengths.push_back(multiple * config.task.train_length);
  config.finalize();
  return config;
}

namespace {

// One PNG per layer and head for the first test sample at each heatmap length.
void write_variant_heatmaps(nn::Transformer& model, const tasks::Task& task, const VariantResult& result,
                            const StudyOptions& options, const fs::path& folder) {
  fs::create_directories(folder);
  for (int64_t multiple : options.heatmap_multiples) {
    const int64_t length = multiple * result.config.task.train_length;
    tasks::Sample sample = tasks::make_test_set(task, length, 1, result.config.eval.seed).front();
    std::vector<Tensor> maps = tasks::attention_maps(model, task, sample);
    for (size_t layer = 0; layer < maps.size(); ++layer)
      for (int64_t head = 0; head < maps[layer].size(0); ++head) {
        const int64_t time = maps[layer].size(1);
        HeatmapOptions heatmap;
        heatmap.causal = true;
        heatmap.title = result.variant.name() + " length " + std::to_string(length) + " layer " +
                        std::to_string(layer) + " head " + std::to_string(head);
        const std::string file = result.variant.name() + "_len" + std::to_string(length) + "_layer" +
                                 std::to_string(layer) + "_head" + std::to_string(head) + ".png";
        write_heatmap_png((folder / file).string(), maps[layer].data() + head * time * time, time, time, heatmap);
      }
  }
}

VariantResult run_variant(const StudyOptions& options, const StudyVariant& variant, std::ostream& out) {
  VariantResult result;
  result.variant = variant;
  result.config = variant_config(options, variant);
  const fs::path run_dir = fs::path(options.out_dir) / variant.name();

  tasks::TrainedRun run = tasks::train_run(result.config, run_dir.string(), out);
  result.training = run.summary;
  std::unique_ptr<tasks::Task> task = tasks::make_task(result.config.task.name, result.config.task.options);

  tasks::EvalOptions eval;
  eval.samples_per_length = result.config.eval.samples_per_length;
  eval.seed = result.config.eval.seed;
  eval.batch_size = result.config.eval.batch_size;
  for (int64_t length : result.config.eval_lengths()) {
    auto start = std::chrono::steady_clock::now();
    result.lengths.push_back(tasks::evaluate_length(*run.model, *task, length, eval));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    out << "  eval length " << length << ": " << format_fixed(100.0 * result.lengths.back().accuracy(), 1)
        << "% exact match (" << format_fixed(seconds, 1) << " s)\n" << std::flush;
  }
  write_file_atomically((run_dir / "eval.csv").string(), eval_csv(result.lengths));
  write_file_atomically((run_dir / "dispersion.csv").string(), dispersion_csv(result.lengths, result.config.model));
  write_variant_heatmaps(*run.model, *task, result, options, fs::path(options.out_dir) / "heatmaps");
  return result;
}

// --- Summary tables ------------------------------------------------------------------------

TableRow accuracy_header(const std::vector<VariantResult>& results, const StudyOptions& options) {
  TableRow header = {"variant"};
  for (size_t i = 0; i < options.multiples.size(); ++i)
    header.push_back(std::to_string(options.multiples[i]) + "x (" +
                     std::to_string(results.front().lengths[i].length) + ")");
  return header;
}

std::vector<TableRow> accuracy_rows(const std::vector<VariantResult>& results) {
  std::vector<TableRow> rows;
  for (const VariantResult& result : results) {
    TableRow row = {result.variant.name()};
    for (const tasks::LengthResult& length : result.lengths) row.push_back(format_fixed(100.0 * length.accuracy(), 1));
    rows.push_back(row);
  }
  return rows;
}

TableRow dispersion_header(const std::vector<HeadGroup>& groups) {
  TableRow header = {"length", "keys"};
  for (const HeadGroup& group : groups) {
    header.push_back("max weight (" + group.name + ")");
    header.push_back("support (" + group.name + ")");
    header.push_back("entropy (" + group.name + ")");
  }
  return header;
}

std::vector<TableRow> dispersion_rows(const VariantResult& result, const std::vector<HeadGroup>& groups) {
  std::vector<TableRow> rows;
  for (const tasks::LengthResult& length : result.lengths) {
    TableRow row = {std::to_string(length.length),
                    format_fixed(tasks::mean_dispersion(length.heads).keys, 0)};
    for (const HeadGroup& group : groups) {
      tasks::HeadDispersion stats = group_dispersion(length, group, result.config.model.n_heads);
      row.push_back(format_fixed(stats.max_weight, 3));
      row.push_back(format_fixed(stats.support_size, 1));
      row.push_back(format_fixed(stats.entropy, 2));
    }
    rows.push_back(row);
  }
  return rows;
}

// --- Files ---------------------------------------------------------------------------------

std::string accuracy_csv(const std::vector<VariantResult>& results) {
  std::ostringstream out;
  out << "variant,length,samples,correct,accuracy\n";
  for (const VariantResult& result : results)
    for (const tasks::LengthResult& length : result.lengths)
      out << result.variant.name() << "," << length.length << "," << length.samples << "," << length.correct << ","
          << length.accuracy() << "\n";
  return out.str();
}

nlohmann::json results_json(const std::vector<VariantResult>& results) {
  nlohmann::json variants = nlohmann::json::array();
  for (const VariantResult& result : results) {
    nlohmann::json lengths = nlohmann::json::array();
    for (const tasks::LengthResult& length : result.lengths) {
      tasks::HeadDispersion mean = tasks::mean_dispersion(length.heads);
      lengths.push_back({{"length", length.length}, {"samples", length.samples}, {"correct", length.correct},
                         {"accuracy", length.accuracy()}, {"mean_max_weight", mean.max_weight},
                         {"mean_support_size", mean.support_size}, {"mean_entropy", mean.entropy}});
    }
    variants.push_back({{"variant", result.variant.name()}, {"config", tasks::to_json(result.config)},
                        {"train_seconds", result.training.seconds}, {"final_loss", result.training.final_loss},
                        {"parameters", result.training.parameters}, {"lengths", lengths}});
  }
  return {{"variants", variants}};
}

void write_plots(const std::vector<VariantResult>& results, const fs::path& folder) {
  fs::create_directories(folder);
  LinePlot accuracy;
  accuracy.title = "Exact match by length";
  accuracy.x_label = "sequence length (log2)";
  accuracy.y_label = "exact match";
  accuracy.log2_x = true;
  LinePlot focus;
  focus.title = "Largest attention weight by length";
  focus.x_label = "sequence length (log2)";
  focus.y_label = "mean max weight";
  focus.log2_x = true;
  for (const VariantResult& result : results) {
    LineSeries series{result.variant.name(), {}};
    for (const tasks::LengthResult& length : result.lengths)
      series.points.push_back({static_cast<double>(length.length), length.accuracy()});
    accuracy.series.push_back(series);
    for (const HeadGroup& group : head_groups(result.config.model)) {
      LineSeries heads{result.variant.name() + " " + group.name, {}};
      for (const tasks::LengthResult& length : result.lengths)
        heads.points.push_back({static_cast<double>(length.length),
                                group_dispersion(length, group, result.config.model.n_heads).max_weight});
      focus.series.push_back(heads);
    }
  }
  write_line_plot_png((folder / "accuracy.png").string(), accuracy);
  write_line_plot_png((folder / "max_weight.png").string(), focus);
}

std::string markdown_report(const std::vector<VariantResult>& results, const StudyOptions& options) {
  std::ostringstream out;
  const tasks::RunConfig& config = results.front().config;
  out << "# entlab study: " << config.task.name << "\n\n"
      << "Trained at lengths " << config.task.train_length - config.task.length_spread << "-"
      << config.task.train_length + config.task.length_spread << " for " << config.train.steps
      << " steps (seed " << config.train.seed << "); evaluated on " << options.samples
      << " fixed test samples per length (greedy exact match).\n\n"
      << "## Exact match (%)\n\n"
      << format_markdown_table(accuracy_header(results, options), accuracy_rows(results))
      << "\n![accuracy](plots/accuracy.png)\n\n## Attention dispersion\n\n"
      << "Mean over the queries that predict target tokens, per group of heads: the largest weight, the "
         "number of keys with weight > 0 (support) and the entropy in nats.\n\n"
      << "![max weight](plots/max_weight.png)\n\n";
  for (const VariantResult& result : results) {
    std::vector<HeadGroup> groups = head_groups(result.config.model);
    out << "### " << result.variant.name() << "\n\n"
        << format_markdown_table(dispersion_header(groups), dispersion_rows(result, groups)) << "\n";
  }
  out << "## Heatmaps\n\nFirst test sample; white = exactly 0, grey = future positions.\n\n";
  for (const VariantResult& result : results)
    for (int64_t multiple : options.heatmap_multiples) {
      const int64_t length = multiple * result.config.task.train_length;
      out << "**" << result.variant.name() << ", length " << length << "**\n\n";
      for (int64_t layer = 0; layer < result.config.model.n_layers; ++layer)
        for (int64_t head = 0; head < result.config.model.n_heads; ++head)
          out << "![](heatmaps/" << result.variant.name() << "_len" << length << "_layer" << layer << "_head" << head
              << ".png) ";
      out << "\n\n";
    }
  return out.str();
}

}  // namespace

void check_study_options(const StudyOptions& options) {
  ENTLAB_CHECK(!options.variants.empty() && !options.multiples.empty(), "study: no variants or lengths to run");
  for (const StudyVariant& variant : options.variants) {
    tasks::RunConfig config = variant_config(options, variant);
    std::unique_ptr<tasks::Task> task = tasks::make_task(config.task.name, config.task.options);
    tasks::check_eval_lengths(*task, config.model, config.eval_lengths(), "--multiples");
  }
}

std::vector<VariantResult> run_study(const StudyOptions& options, std::ostream& out) {
  check_study_options(options);
  create_empty_folder(options.out_dir, "study folder (--out)");
  FolderLock lock(options.out_dir);
  auto start = std::chrono::steady_clock::now();

  std::vector<VariantResult> results;
  for (size_t i = 0; i < options.variants.size(); ++i) {
    out << "\n=== variant " << i + 1 << "/" << options.variants.size() << ": " << options.variants[i].name()
        << " ===\n" << std::flush;
    results.push_back(run_variant(options, options.variants[i], out));
  }

  const fs::path folder(options.out_dir);
  write_file_atomically((folder / "accuracy.csv").string(), accuracy_csv(results));
  std::string dispersion;
  for (const VariantResult& result : results) {
    std::string rows = dispersion_csv(result.lengths, result.config.model, result.variant.name());
    dispersion += dispersion.empty() ? rows : rows.substr(rows.find('\n') + 1);
  }
  write_file_atomically((folder / "dispersion.csv").string(), dispersion);
  write_plots(results, folder / "plots");
  write_file_atomically((folder / "report.md").string(), markdown_report(results, options));
  write_file_atomically((folder / "results.json").string(), results_json(results).dump(2) + "\n");

  out << "\nExact match (%) by length, " << options.samples << " test samples per length:\n\n"
      << format_table(accuracy_header(results, options), accuracy_rows(results));
  for (const VariantResult& result : results) {
    std::vector<HeadGroup> groups = head_groups(result.config.model);
    out << "\nAttention dispersion, " << result.variant.name() << " (mean over target queries):\n"
        << format_table(dispersion_header(groups), dispersion_rows(result, groups));
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out << "\nstudy finished in " << tasks::format_duration(seconds) << "; report: " << (folder / "report.md").string()
      << "\n";
  return results;
}

}  // namespace entlab::tools
