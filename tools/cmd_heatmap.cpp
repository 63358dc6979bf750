#include <iostream>
#include <memory>
#include <string>

#include "core/error.h"
#include "core/npy.h"
#include "tasks/evaluate.h"
#include "tasks/train.h"
#include "tools/commands.h"
#include "tools/plot.h"

namespace entlab::tools {

namespace {

struct HeatmapFlags {
  std::string run_dir, out, npy_out;
  int64_t length = 0, layer = 0, head = 0, sample = 0;
};

void run_heatmap(const HeatmapFlags& flags) {
  tasks::RunConfig config;
  std::unique_ptr<nn::Transformer> model = tasks::load_trained_model(flags.run_dir, &config);
  ENTLAB_CHECK(flags.layer < config.model.n_layers, "invalid --layer ", flags.layer, ": the model has ",
               config.model.n_layers, " layers (0..", config.model.n_layers - 1, ")");
  ENTLAB_CHECK(flags.head < config.model.n_heads, "invalid --head ", flags.head, ": the model has ",
               config.model.n_heads, " heads (0..", config.model.n_heads - 1, ")");
  std::unique_ptr<tasks::Task> task = tasks::make_task(config.task.name, config.task.options);

  // The same test sample that `entlab eval` scores first at this length.
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
  cmd->add_option("--length", flags->length, "Sample length")->required()->check(CLI::PositiveNumber);
  cmd->add_option("--layer", flags->layer, "Layer index, from 0")->check(CLI::NonNegativeNumber);
  cmd->add_option("--head", flags->head, "Head index, from 0")->check(CLI::NonNegativeNumber);
  cmd->add_option("--sample", flags->sample, "Index of the test sample at this length (default 0)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--out", flags->out, "PNG file to write")->required();
  cmd->add_option("--npy", flags->npy_out, "Also write the (T, T) weights as a .npy file");
  cmd->callback([flags] { run_heatmap(*flags); });
}

}  // namespace entlab::tools
