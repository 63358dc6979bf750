#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "core/error.h"
#include "core/npy.h"
#include "tasks/evaluate.h"
#include "tasks/train.h"
#include "tools/cli_options.h"
#include "tools/commands.h"
#include "tools/plot.h"

namespace entlab::tools {

namespace {

// The heatmap renderer's limit on rows and columns.
constexpr int64_t kMaxHeatmapSide = 8192;

struct HeatmapFlags {
  std::string run_dir, out, npy_out;
  int64_t length = 0, layer = 0, head = 0, sample = 0;
};

void check_output_path(const std::string& path, const std::string& extension, const std::string& option) {
  namespace fs = std::filesystem;
  ENTLAB_CHECK(fs::path(path).extension() == extension, "invalid ", option, " '", path, "': the file name must end in ",
               extension, " (entlab does not write pictures over other files)");
  const fs::path parent = fs::path(path).parent_path();
  ENTLAB_CHECK(parent.empty() || fs::is_directory(parent), "invalid ", option, " '", path, "': folder ",
               parent.string(), " does not exist");
}

void run_heatmap(const HeatmapFlags& flags) {
  check_output_path(flags.out, ".png", "--out");
  if (!flags.npy_out.empty()) check_output_path(flags.npy_out, ".npy", "--npy");
  tasks::RunConfig config;
  std::unique_ptr<nn::Transformer> model = tasks::load_trained_model(flags.run_dir, &config);
  auto plural = [](int64_t count, const char* noun) { return str_cat(count, " ", noun, count == 1 ? "" : "s"); };
  ENTLAB_CHECK(flags.layer < config.model.n_layers, "invalid --layer ", flags.layer, ": the model has ",
               plural(config.model.n_layers, "layer"), " (0..", config.model.n_layers - 1, ")");
  ENTLAB_CHECK(flags.head < config.model.n_heads, "invalid --head ", flags.head, ": the model has ",
               plural(config.model.n_heads, "head"), " (0..", config.model.n_heads - 1, ")");
  std::unique_ptr<tasks::Task> task = tasks::make_task(config.task.name, config.task.options);
  tasks::check_eval_lengths(*task, config.model, {flags.length}, "--length");
  const int64_t tokens = tasks::input_tokens(*task, flags.length);
  ENTLAB_CHECK(tokens <= kMaxHeatmapSide, "invalid --length ", flags.length, ": a sample has ", tokens,
               " tokens, and heatmaps are limited to ", kMaxHeatmapSide, " rows");

  // The same test sample that `entlab eval` scores at this position and length.
  std::vector<tasks::Sample> samples = tasks::make_test_set(*task, flags.length, flags.sample + 1, config.eval.seed);
  std::vector<Tensor> maps = tasks::attention_maps(*model, *task, samples.back());
  const Tensor& layer_map = maps[flags.layer];  // (NH, T, T)
  const int64_t time = layer_map.size(1);
  const float* head_map = layer_map.data() + flags.head * time * time;

  HeatmapOptions options;
  options.title = config.task.name + " " + nn::to_string(config.model.transform) + "+" +
                  nn::to_string(config.model.position) + " length " + std::to_string(flags.length) + " layer " +
                  std::to_string(flags.layer) + " head " + std::to_string(flags.head);
  options.causal = true;
  write_heatmap_png(flags.out, head_map, time, time, options);
  std::cout << "wrote " << flags.out << " (" << time << " x " << time << " attention weights; white = exactly 0, "
            << "grey = future positions)\n";
  if (!flags.npy_out.empty()) {
    write_npy(flags.npy_out, Tensor::from_vector({time, time}, std::vector<float>(head_map, head_map + time * time)));
    std::cout << "wrote " << flags.npy_out << "\n";
  }
}

}  // namespace

void add_heatmap_command(CLI::App& app) {
  auto flags = std::make_shared<HeatmapFlags>();
  CLI::App* cmd = app.add_subcommand("heatmap", "Draw the attention weights of one head on one test sample");
  cmd->add_option("--run", flags->run_dir, "Run folder written by entlab train")->required();
  cmd->add_option("--length", flags->length, "Sample length")->required()->check(integer_in(1, kMaxLength));
  cmd->add_option("--layer", flags->layer, "Layer index, from 0 (default 0)")->check(integer_in(0, 1023));
  cmd->add_option("--head", flags->head, "Head index, from 0 (default 0)")->check(integer_in(0, 1023));
  cmd->add_option("--sample", flags->sample, "Index of the test sample at this length (default 0)")
      ->check(integer_in(0, 99999));
  cmd->add_option("--out", flags->out, "PNG file to write")->required();
  cmd->add_option("--npy", flags->npy_out, "Also write the (T, T) weights as a .npy file");
  cmd->callback([flags] { run_heatmap(*flags); });
}

}  // namespace entlab::tools
