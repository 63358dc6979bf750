// The default study: several attention variants trained on one task, evaluated at
// growing lengths, with dispersion tables, plots, heatmaps and a report.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "nn/config.h"
#include "tasks/evaluate.h"
#include "tasks/run_config.h"
#include "tasks/train.h"

namespace entlab::tools {

struct StudyVariant {
  nn::Transform transform;
  nn::PositionEncoding position;
  nn::Scaling scaling = nn::Scaling::None;
  std::string name() const;  // "softmax+rope", or "entmax15+nape+asentmax-token" with scaling
};

// Parses "<transform>+<position>[+<scaling>]", e.g. "entmax15+nape+asentmax-token".
StudyVariant parse_study_variant(const std::string& text);

struct StudyOptions {
  std::string out_dir;
  std::string task = "flipflop";
  int64_t steps = 2000;
  int64_t samples = 100;                                // test samples per length
  uint64_t seed = 1;                                    // first seed; runs use seed, seed + 1, ...
  int64_t seeds = 3;                                    // training runs per variant
  int threads = 0;                                      // 0: all cores
  std::vector<int64_t> multiples = {1, 2, 4, 8, 16};    // of the training length
  // Lengths for heatmaps, as multiples; empty: the first evaluated multiple and the
  // largest evaluated one up to 8 (beyond that a heatmap has too many cells to read).
  std::vector<int64_t> heatmap_multiples;
  std::vector<StudyVariant> variants = default_variants();

  static std::vector<StudyVariant> default_variants();  // softmax+rope, softmax+nape, entmax15+nape
};

// One training run of a variant, evaluated at every length.
struct SeedRun {
  uint64_t seed = 0;
  tasks::TrainSummary training;
  std::vector<tasks::LengthResult> lengths;
};

struct VariantResult {
  StudyVariant variant;
  tasks::RunConfig config;  // of the first seed; the others differ only in train.seed
  std::vector<SeedRun> runs;
  // Pooled over the seeds: correct and samples summed (so accuracy is the mean over
  // seeds), dispersion averaged per head.
  std::vector<tasks::LengthResult> lengths;
};

// The run config of one variant and seed: the built-in defaults with the study's task,
// steps, threads and evaluation lengths.
tasks::RunConfig variant_config(const StudyOptions& options, const StudyVariant& variant, uint64_t seed);

// The heatmap multiples the study draws (see StudyOptions::heatmap_multiples).
std::vector<int64_t> heatmap_multiples(const StudyOptions& options);

// Checks every variant's config and every evaluation length before any work starts.
void check_study_options(const StudyOptions& options);

// Trains and evaluates every variant into options.out_dir and writes the summary files
// (accuracy.csv, dispersion.csv, results.json, report.md, plots/, heatmaps/). The folder
// must be missing or empty.
// Progress and the final tables go to `out`.
std::vector<VariantResult> run_study(const StudyOptions& options, std::ostream& out);

}  // namespace entlab::tools
