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
#include "core/json_reader.h"
#include "tasks/presets.h"
#include "tasks/task.h"
#include "tools/plot.h"
#include "tools/report.h"

namespace entlab::tools {

namespace fs = std::filesystem;

std::string StudyVariant::name() const {
  std::string text = nn::to_string(transform) + "+" + nn::to_string(position);
  return scaling == nn::Scaling::None ? text : text + "+" + nn::to_string(scaling);
}

StudyVariant parse_study_variant(const std::string& text) {
  std::vector<std::string> parts = split(text, '+');
  ENTLAB_CHECK(parts.size() == 2 || parts.size() == 3, "invalid variant '", text,
               "': expected <transform>+<position>[+<scaling>], e.g. entmax15+nape or entmax15+nape+asentmax-token");
  StudyVariant variant{nn::parse_option<nn::Transform>(parts[0]), nn::parse_option<nn::PositionEncoding>(parts[1])};
  if (parts.size() == 3) variant.scaling = nn::parse_option<nn::Scaling>(parts[2]);
  return variant;
}

std::vector<StudyVariant> StudyOptions::default_variants() {
  return {{nn::Transform::Softmax, nn::PositionEncoding::Rope},
          {nn::Transform::Softmax, nn::PositionEncoding::Nape},
          {nn::Transform::Entmax15, nn::PositionEncoding::Nape}};
}

std::vector<int64_t> heatmap_multiples(const StudyOptions& options) {
  if (!options.heatmap_multiples.empty()) return options.heatmap_multiples;
  std::vector<int64_t> chosen = {options.multiples.front()};
  int64_t largest = 0;
  for (int64_t multiple : options.multiples)
    if (multiple <= 8 && multiple != chosen.front()) largest = std::max(largest, multiple);
  if (largest > 0) chosen.push_back(largest);
  return chosen;
}

tasks::RunConfig variant_config(const StudyOptions& options, const StudyVariant& variant, uint64_t seed) {
  tasks::RunConfig config = tasks::preset_config("small");
  config.set_task(options.task);
  config.model.transform = variant.transform;
  config.model.position = variant.position;
  config.model.scaling = variant.scaling;
  config.train.steps = options.steps;
  config.train.seed = seed;
  config.train.threads = options.threads;
  config.train.log_every = std::max<int64_t>(1, options.steps / 10);
  config.eval.samples_per_length = options.samples;
  for (int64_t multiple : options.multiples) config.eval.lengths.push_back(multiple * config.task.train_length);
  try {
    config.finalize();
  } catch (const Error& error) {
    throw Error(str_cat("invalid study settings (--task, --multiples and the others): ", error.what()));
  }
  return config;
}

namespace {

// One PNG per layer and head for the first test sample at each heatmap length.
void write_variant_heatmaps(nn::Transformer& model, const tasks::Task& task, const VariantResult& result,
                            const StudyOptions& options, const fs::path& folder) {
  fs::create_directories(folder);
  for (int64_t multiple : heatmap_multiples(options)) {
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

SeedRun run_seed(const StudyOptions& options, VariantResult& result, uint64_t seed, std::ostream& out) {
  tasks::RunConfig config = variant_config(options, result.variant, seed);
  const fs::path run_dir = fs::path(options.out_dir) / result.variant.name() / ("seed-" + std::to_string(seed));
  tasks::TrainedRun trained = tasks::train_run(config, run_dir.string(), out);
  std::unique_ptr<tasks::Task> task = tasks::make_task(config.task.name, config.task.options);

  SeedRun run;
  run.seed = seed;
  run.training = trained.summary;
  tasks::EvalOptions eval;
  eval.samples_per_length = config.eval.samples_per_length;
  eval.seed = config.eval.seed;
  eval.batch_size = config.eval.batch_size;
  for (int64_t length : config.eval_lengths()) {
    auto start = std::chrono::steady_clock::now();
    run.lengths.push_back(tasks::evaluate_length(*trained.model, *task, length, eval));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    out << "  eval length " << length << ": " << format_fixed(100.0 * run.lengths.back().accuracy(), 1)
        << "% exact match (" << format_fixed(seconds, 1) << " s)\n" << std::flush;
  }
  write_file_atomically((run_dir / "eval.csv").string(), eval_csv(run.lengths));
  write_file_atomically((run_dir / "dispersion.csv").string(), dispersion_csv(run.lengths, config.model));
  if (result.runs.empty())  // heatmaps of the first seed only
    write_variant_heatmaps(*trained.model, *task, result, options, fs::path(options.out_dir) / "heatmaps");
  return run;
}

// Sums the correct counts and averages the per-head dispersion over the seeds.
std::vector<tasks::LengthResult> pool_seeds(const std::vector<SeedRun>& runs) {
  std::vector<tasks::LengthResult> pooled = runs.front().lengths;
  for (size_t i = 0; i < pooled.size(); ++i) {
    pooled[i].samples = pooled[i].correct = 0;
    for (tasks::HeadDispersion& head : pooled[i].heads) head = tasks::HeadDispersion();
    for (const SeedRun& run : runs) {
      pooled[i].samples += run.lengths[i].samples;
      pooled[i].correct += run.lengths[i].correct;
      for (size_t h = 0; h < pooled[i].heads.size(); ++h) {
        tasks::HeadDispersion& sum = pooled[i].heads[h];
        const tasks::HeadDispersion& head = run.lengths[i].heads[h];
        sum.max_weight += head.max_weight / runs.size();
        sum.support_size += head.support_size / runs.size();
        sum.entropy += head.entropy / runs.size();
        sum.keys += head.keys / runs.size();
      }
    }
  }
  return pooled;
}

VariantResult run_variant(const StudyOptions& options, const StudyVariant& variant, std::ostream& out) {
  VariantResult result;
  result.variant = variant;
  result.config = variant_config(options, variant, options.seed);
  for (int64_t k = 0; k < options.seeds; ++k) {
    const uint64_t seed = options.seed + static_cast<uint64_t>(k);
    out << "\n--- " << variant.name() << ", seed " << seed << " (" << k + 1 << "/" << options.seeds << ") ---\n"
        << std::flush;
    result.runs.push_back(run_seed(options, result, seed, out));
  }
  result.lengths = pool_seeds(result.runs);
  return result;
}

// --- Summary tables ------------------------------------------------------------------------

TableRow accuracy_header(const std::vector<VariantResult>& results, const StudyOptions& options,
                         const std::string& first_column) {
  TableRow header = {first_column};
  for (size_t i = 0; i < options.multiples.size(); ++i)
    header.push_back(std::to_string(options.multiples[i]) + "x (" +
                     std::to_string(results.front().lengths[i].length) + ")");
  return header;
}

// One row per variant: the mean over seeds, then each seed's value in brackets.
std::vector<TableRow> accuracy_rows(const std::vector<VariantResult>& results) {
  std::vector<TableRow> rows;
  for (const VariantResult& result : results) {
    TableRow row = {result.variant.name()};
    for (size_t i = 0; i < result.lengths.size(); ++i) {
      std::string cell = format_fixed(100.0 * result.lengths[i].accuracy(), 1);
      if (result.runs.size() > 1) {
        cell += " [";
        for (size_t k = 0; k < result.runs.size(); ++k)
          cell += (k ? " " : "") + format_fixed(100.0 * result.runs[k].lengths[i].accuracy(), 0);
        cell += "]";
      }
      row.push_back(cell);
    }
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
  out << "variant,seed,length,samples,correct,accuracy\n";
  for (const VariantResult& result : results)
    for (const SeedRun& run : result.runs)
      for (const tasks::LengthResult& length : run.lengths)
        out << result.variant.name() << "," << run.seed << "," << length.length << "," << length.samples << ","
            << length.correct << "," << length.accuracy() << "\n";
  return out.str();
}

nlohmann::json length_json(const tasks::LengthResult& length) {
  tasks::HeadDispersion mean = tasks::mean_dispersion(length.heads);
  return {{"length", length.length}, {"samples", length.samples}, {"correct", length.correct},
          {"accuracy", length.accuracy()}, {"mean_max_weight", mean.max_weight},
          {"mean_support_size", mean.support_size}, {"mean_entropy", mean.entropy}};
}

nlohmann::json results_json(const std::vector<VariantResult>& results) {
  nlohmann::json variants = nlohmann::json::array();
  for (const VariantResult& result : results) {
    nlohmann::json pooled = nlohmann::json::array();
    for (const tasks::LengthResult& length : result.lengths) pooled.push_back(length_json(length));
    nlohmann::json runs = nlohmann::json::array();
    for (const SeedRun& run : result.runs) {
      nlohmann::json lengths = nlohmann::json::array();
      for (const tasks::LengthResult& length : run.lengths) lengths.push_back(length_json(length));
      runs.push_back({{"seed", run.seed}, {"train_seconds", run.training.seconds},
                      {"final_loss", run.training.final_loss}, {"lengths", lengths}});
    }
    variants.push_back({{"variant", result.variant.name()}, {"config", tasks::to_json(result.config)},
                        {"parameters", result.runs.front().training.parameters}, {"pooled", pooled},
                        {"runs", runs}});
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

// "seed 1" or "3 seeds per variant (1 to 3)".
std::string seed_text(const StudyOptions& options) {
  if (options.seeds == 1) return "seed " + std::to_string(options.seed);
  return std::to_string(options.seeds) + " seeds per variant (" + std::to_string(options.seed) + " to " +
         std::to_string(options.seed + options.seeds - 1) + ")";
}

std::string markdown_report(const std::vector<VariantResult>& results, const StudyOptions& options) {
  std::ostringstream out;
  const tasks::RunConfig& config = results.front().config;
  out << "# entlab study: " << config.task.name << "\n\n"
      << "Trained at lengths " << config.task.train_length - config.task.length_spread << "-"
      << config.task.train_length + config.task.length_spread << " for " << config.train.steps << " steps, "
      << seed_text(options) << "; evaluated on " << options.samples
      << " fixed test samples per length (greedy exact match).\n\n"
      << "## Exact match (%)\n\n" << (options.seeds > 1 ? "Mean over seeds, then each seed in brackets.\n\n" : "")
      << format_markdown_table(accuracy_header(results, options, "variant"), accuracy_rows(results))
      << "\n![accuracy](plots/accuracy.png)\n\n## Attention dispersion\n\n"
      << "Mean over the queries that predict target tokens and over seeds, per group of heads: the largest "
         "weight, the number of keys with weight > 0 (support) and the entropy in nats.\n\n"
      << "![max weight](plots/max_weight.png)\n\n";
  for (const VariantResult& result : results) {
    std::vector<HeadGroup> groups = head_groups(result.config.model);
    out << "### " << result.variant.name() << "\n\n"
        << format_markdown_table(dispersion_header(groups), dispersion_rows(result, groups)) << "\n";
  }
  out << "## Heatmaps\n\nFirst seed, first test sample; white = exactly 0, grey = future positions.\n\n";
  for (const VariantResult& result : results)
    for (int64_t multiple : heatmap_multiples(options)) {
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
  ENTLAB_CHECK(options.seeds >= 1, "invalid --seeds ", options.seeds, ": must be at least 1");
  // variant_config checks every setting, the evaluation lengths included.
  for (const StudyVariant& variant : options.variants) variant_config(options, variant, options.seed);
}

std::vector<VariantResult> run_study(const StudyOptions& options, std::ostream& out) {
  check_study_options(options);
  FolderLock lock(options.out_dir, "study folder (--out)");
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
    for (const SeedRun& run : result.runs) {
      std::string rows = dispersion_csv(run.lengths, result.config.model, "variant,seed",
                                        result.variant.name() + "," + std::to_string(run.seed));
      dispersion += dispersion.empty() ? rows : rows.substr(rows.find('\n') + 1);  // one header line
    }
  }
  write_file_atomically((folder / "dispersion.csv").string(), dispersion);
  write_plots(results, folder / "plots");
  write_file_atomically((folder / "report.md").string(), markdown_report(results, options));
  write_file_atomically((folder / "results.json").string(), results_json(results).dump(2) + "\n");

  out << "\nExact match (%) by length, " << seed_text(options) << (options.seeds > 1 ? ", mean [each seed]" : "")
      << ", " << options.samples << " test samples per length:\n\n"
      << format_table(accuracy_header(results, options, "variant"), accuracy_rows(results));
  for (const VariantResult& result : results) {
    std::vector<HeadGroup> groups = head_groups(result.config.model);
    out << "\nAttention dispersion, " << result.variant.name() << " (mean over target queries and seeds):\n"
        << format_table(dispersion_header(groups), dispersion_rows(result, groups));
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out << "\nstudy finished in " << tasks::format_duration(seconds) << "; report: " << (folder / "report.md").string()
      << "\n";
  return results;
}

}  // namespace entlab::tools
