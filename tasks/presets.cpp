#include "tasks/presets.h"

#include "core/error.h"
#include "core/json_reader.h"
#include "tasks/evaluate.h"
#include "tasks/task.h"

namespace entlab::tasks {

namespace {

// The model size of Vasylenko et al., "Long-Context Generalization with Sparse Attention"
// (arXiv 2506.16640) for the synthetic tasks: hidden 256, 2 layers, 16 heads of 16, gated
// GELU MLP, AdamW (0.9, 0.99), trained at length 64. A full run takes hours on 2 cores:
// 0.4 s (Flip-Flop) to 1 s (Copy) per step, measured with entlab train.
RunConfig paper_config(const std::string& task_name) {
  RunConfig config;
  config.model.d_model = 256;
  config.model.n_layers = 2;
  config.model.n_heads = 16;
  config.model.head_size = 16;
  config.model.mlp_hidden = 1024;
  config.model.activation = nn::Activation::Geglu;
  config.task.name = task_name;
  config.task.train_length = 64;
  config.task.length_spread = 16;
  config.train.batch_size = 32;
  config.train.steps = 20000;
  config.train.lr = 1e-3f;
  config.train.log_every = 100;
  config.eval.samples_per_length = 1000;
  // The paper tests 64, 128, ..., 4096. Here one sample's attention weights must fit in
  // kMaxSampleAttentionBytes, which ends Copy (2L + 3 tokens) at 1024 and Flip-Flop at 2048.
  std::unique_ptr<Task> task = make_task(task_name, nlohmann::json::object());
  config.model.vocab_size = task->layout().vocab_size();
  for (int64_t length = 64; length <= 4096; length *= 2)
    if (sample_attention_bytes(config.model, input_tokens(*task, length)) <= kMaxSampleAttentionBytes)
      config.eval.lengths.push_back(length);
  return config;
}

// A model that learns flip-flop at length 16 in about 10 seconds on 2 cores.
RunConfig tiny_config() {
  RunConfig config;
  config.model.d_model = 32;
  config.model.n_heads = 4;
  config.model.head_size = 8;
  config.model.mlp_hidden = 128;
  config.task.train_length = 16;
  config.task.length_spread = 4;
  config.train.batch_size = 32;
  config.train.steps = 600;
  config.train.log_every = 50;
  return config;
}

}  // namespace

const std::vector<Preset>& presets() {
  static const std::vector<Preset> list = [] {
    std::vector<Preset> all = {
        {"tiny", "flip-flop at length 16, d_model 32, 600 steps: about 10 seconds on 2 cores", tiny_config},
        {"small", "the default study: flip-flop at length 32, d_model 64, 2 layers, 4 heads, 2000 steps",
         [] { return RunConfig{}; }},
    };
    for (const std::string& task : task_names())
      all.push_back({"paper-" + task,
                     task + " with the paper's model: d_model 256, 2 layers, 16 heads, gated GELU, length 64, "
                            "20000 steps (hours on 2 cores)",
                     [task] { return paper_config(task); }});
    return all;
  }();
  return list;
}

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const Preset& preset : presets()) names.push_back(preset.name);
  return names;
}

RunConfig preset_config(const std::string& name) {
  for (const Preset& preset : presets())
    if (preset.name == name) return preset.make();
  throw Error(str_cat("unknown preset '", name, "'; valid: ", join(preset_names(), ", ")));
}

}  // namespace entlab::tasks
