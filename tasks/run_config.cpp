#include "tasks/run_config.h"

#include <algorithm>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/json_reader.h"
#include "tasks/evaluate.h"
#include "tasks/task.h"

#include <unistd.h>

namespace entlab::tasks {

void RunConfig::finalize() {
  std::unique_ptr<Task> built = make_task(task.name, task.options);  // validates name and options
  task.options = built->options();
  const int64_t vocab_size = built->layout().vocab_size();
  ENTLAB_CHECK(model.vocab_size == 0 || model.vocab_size == vocab_size, "invalid model.vocab_size = ",
               model.vocab_size, ": task ", task.name, " has ", vocab_size,
               " tokens; leave vocab_size out and it is set from the task");
  model.vocab_size = vocab_size;
  model.validate();
  check_train();
  check_task(*built);
  check_eval(*built);
}

void RunConfig::check_task(const Task& built) const {
  ENTLAB_CHECK(task.train_length > 0 && task.train_length <= kMaxSampleLength, "invalid task.train_length = ",
               task.train_length, ": must be from 1 to ", kMaxSampleLength);
  ENTLAB_CHECK(task.length_spread >= 0 && task.length_spread < task.train_length &&
                   task.train_length + task.length_spread <= kMaxSampleLength,
               "invalid task.length_spread = ",
               task.length_spread, ": must be in [0, train_length), and train_length + length_spread at most ",
               kMaxSampleLength);
  ENTLAB_CHECK(task.train_length - task.length_spread >= built.min_length(), "invalid task.train_length = ",
               task.train_length, " with length_spread = ", task.length_spread, ": task ", task.name,
               " needs lengths of at least ", built.min_length(), ", but training would draw lengths down to ",
               task.train_length - task.length_spread);

  // Backward keeps about five (B, NH, T, T) tensors per layer (scores, scaled, biased,
  // masked, weights). Refuse up front what could never fit in this machine's memory.
  const double time = static_cast<double>(input_tokens(built, task.train_length + task.length_spread));
  const double attention_bytes = 5.0 * model.n_layers * train.batch_size * model.n_heads * time * time * sizeof(float);
  const double memory_bytes = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGE_SIZE));
  // Weights, gradients and the two AdamW moments: four floats per parameter.
  const double parameter_bytes = 4.0 * sizeof(float) * nn::parameter_count(model);
  ENTLAB_CHECK(memory_bytes <= 0 || parameter_bytes < memory_bytes, "invalid model sizes (d_model ", model.d_model,
               ", n_layers ", model.n_layers, ", mlp_hidden ", model.mlp_hidden, ", vocab ", model.vocab_size,
               "): the weights, gradients and AdamW moments would need about ", parameter_bytes / (1 << 30),
               " GiB, and this machine has ", memory_bytes / (1 << 30), " GiB");
  ENTLAB_CHECK(memory_bytes <= 0 || attention_bytes < memory_bytes, "invalid task.train_length = ",
               task.train_length, " with train.batch_size = ", train.batch_size, ": training would need about ",
               attention_bytes / (1 << 30), " GiB for attention weights alone, and this machine has ",
               memory_bytes / (1 << 30), " GiB");
}

void RunConfig::check_train() const {
  ENTLAB_CHECK(train.batch_size > 0, "invalid train.batch_size = ", train.batch_size, ": must be positive");
  ENTLAB_CHECK(train.steps > 0, "invalid train.steps = ", train.steps, ": must be positive");
  ENTLAB_CHECK(train.lr > 0, "invalid train.lr = ", train.lr, ": must be positive");
  ENTLAB_CHECK(train.warmup_fraction >= 0 && train.warmup_fraction < 1, "invalid train.warmup_fraction = ",
               train.warmup_fraction, ": must be in [0, 1)");
  ENTLAB_CHECK(train.min_lr_ratio >= 0 && train.min_lr_ratio <= 1, "invalid train.min_lr_ratio = ",
               train.min_lr_ratio, ": must be in [0, 1]");
  ENTLAB_CHECK(train.clip_norm >= 0, "invalid train.clip_norm = ", train.clip_norm, ": must be >= 0 (0 disables)");
  ENTLAB_CHECK(train.weight_decay >= 0, "invalid train.weight_decay = ", train.weight_decay, ": must be >= 0");
  ENTLAB_CHECK(train.beta1 >= 0 && train.beta1 < 1, "invalid train.beta1 = ", train.beta1, ": must be in [0, 1)");
  ENTLAB_CHECK(train.beta2 >= 0 && train.beta2 < 1, "invalid train.beta2 = ", train.beta2, ": must be in [0, 1)");
  ENTLAB_CHECK(train.threads >= 0 && train.threads <= kMaxThreads, "invalid train.threads = ", train.threads,
               ": must be in [0, ", kMaxThreads, "] (0 uses all cores)");
  ENTLAB_CHECK(train.log_every > 0, "invalid train.log_every = ", train.log_every, ": must be positive");
  ENTLAB_CHECK(train.checkpoint_every >= 0, "invalid train.checkpoint_every = ", train.checkpoint_every,
               ": must be >= 0 (0 writes a checkpoint only when a run stops early)");
  ENTLAB_CHECK(train.keep_checkpoints >= 1, "invalid train.keep_checkpoints = ", train.keep_checkpoints,
               ": must be at least 1");
}

void RunConfig::check_eval(const Task& built) const {
  ENTLAB_CHECK(eval.samples_per_length > 0, "invalid eval.samples_per_length = ", eval.samples_per_length,
               ": must be positive");
  ENTLAB_CHECK(eval.batch_size > 0, "invalid eval.batch_size = ", eval.batch_size, ": must be positive");
  check_eval_lengths(built, model, eval_lengths(), "eval.lengths");
  std::vector<int64_t> sorted = eval.lengths;
  std::sort(sorted.begin(), sorted.end());
  const auto repeated = std::adjacent_find(sorted.begin(), sorted.end());
  ENTLAB_CHECK(repeated == sorted.end(), "invalid eval.lengths: ", repeated == sorted.end() ? 0 : *repeated,
               " is listed twice");
}

void RunConfig::set_task(const std::string& name) {
  if (name == task.name) return;
  task.name = name;
  task.options = nlohmann::json::object();
  model.vocab_size = 0;
}

std::vector<int64_t> RunConfig::eval_lengths() const {
  if (!eval.lengths.empty()) return eval.lengths;
  std::vector<int64_t> lengths;
  for (int64_t multiple : {1, 2, 4, 8, 16}) lengths.push_back(multiple * task.train_length);
  return lengths;
}

nlohmann::json to_json(const RunConfig& config) {
  return {
      {"model", nn::model_section(config.model)},
      {"attention", nn::attention_section(config.model)},
      {"task",
       {{"name", config.task.name},
        {"options", config.task.options},
        {"train_length", config.task.train_length},
        {"length_spread", config.task.length_spread}}},
      {"train",
       {{"batch_size", config.train.batch_size},
        {"steps", config.train.steps},
        {"lr", json_number(config.train.lr)},
        {"schedule", nn::to_string(config.train.schedule)},
        {"warmup_fraction", config.train.warmup_fraction},
        {"min_lr_ratio", json_number(config.train.min_lr_ratio)},
        {"clip_norm", config.train.clip_norm},
        {"weight_decay", json_number(config.train.weight_decay)},
        {"beta1", json_number(config.train.beta1)},
        {"beta2", json_number(config.train.beta2)},
        {"seed", config.train.seed},
        {"threads", config.train.threads},
        {"log_every", config.train.log_every},
        {"checkpoint_every", config.train.checkpoint_every},
        {"keep_checkpoints", config.train.keep_checkpoints}}},
      {"eval",
       {{"lengths", config.eval.lengths},
        {"samples_per_length", config.eval.samples_per_length},
        {"seed", config.eval.seed},
        {"batch_size", config.eval.batch_size}}},
  };
}

namespace {

TaskConfig task_config_from_json(const nlohmann::json& json) {
  JsonReader reader(json, "task");
  TaskConfig task;
  reader.read("name", task.name);
  task.options = reader.child("options");
  reader.read("train_length", task.train_length);
  reader.read("length_spread", task.length_spread);
  reader.finish();
  return task;
}

TrainConfig train_config_from_json(const nlohmann::json& json) {
  JsonReader reader(json, "train");
  TrainConfig train;
  reader.read("batch_size", train.batch_size);
  reader.read("steps", train.steps);
  reader.read("lr", train.lr);
  nn::read_option(reader, "train", "schedule", train.schedule);
  reader.read("warmup_fraction", train.warmup_fraction);
  reader.read("min_lr_ratio", train.min_lr_ratio);
  reader.read("clip_norm", train.clip_norm);
  reader.read("weight_decay", train.weight_decay);
  reader.read("beta1", train.beta1);
  reader.read("beta2", train.beta2);
  reader.read("seed", train.seed);
  reader.read("threads", train.threads);
  reader.read("log_every", train.log_every);
  reader.read("checkpoint_every", train.checkpoint_every);
  reader.read("keep_checkpoints", train.keep_checkpoints);
  reader.finish();
  return train;
}

EvalConfig eval_config_from_json(const nlohmann::json& json) {
  JsonReader reader(json, "eval");
  EvalConfig eval;
  reader.read("lengths", eval.lengths);
  reader.read("samples_per_length", eval.samples_per_length);
  reader.read("seed", eval.seed);
  reader.read("batch_size", eval.batch_size);
  reader.finish();
  return eval;
}

}  // namespace

namespace {

// Configs written before the attention settings had their own section kept them under
// "model", and so do the run folders and checkpoints of that time. Such a config (no
// "attention" section) is read as if those keys were under "attention".
nlohmann::json with_attention_section(const nlohmann::json& json) {
  if (!json.is_object() || json.contains("attention") || !json.contains("model") || !json["model"].is_object())
    return json;
  nlohmann::json moved = json;
  moved["attention"] = nlohmann::json::object();
  const nlohmann::json attention_keys = nn::attention_section(nn::ModelConfig{});
  for (const auto& [key, value] : attention_keys.items()) {
    if (!moved["model"].contains(key)) continue;
    moved["attention"][key] = moved["model"][key];
    moved["model"].erase(key);
  }
  return moved;
}

}  // namespace

RunConfig run_config_from_json(const nlohmann::json& original) {
  const nlohmann::json json = with_attention_section(original);
  JsonReader reader(json, "config");
  RunConfig config;
  config.model = nn::model_config_from_json(reader.child("model"), reader.child("attention"));
  config.task = task_config_from_json(reader.child("task"));
  config.train = train_config_from_json(reader.child("train"));
  config.eval = eval_config_from_json(reader.child("eval"));
  reader.finish();
  return config;
}

namespace {

// The JSON node `path` names, created when missing: the strict reader that reads the
// config back then reports an unknown key with the keys allowed in its section.
nlohmann::json& assignment_target(nlohmann::json& root, const std::vector<std::string>& path) {
  nlohmann::json* node = &root;
  for (size_t i = 0; i < path.size(); ++i) {
    ENTLAB_CHECK(node->is_object() || node->is_null(), "'",
                 join(std::vector<std::string>(path.begin(), path.begin() + i), "."),
                 "' is a value, not a section");
    node = &(*node)[path[i]];
  }
  return *node;
}

}  // namespace

void apply_assignment(RunConfig& config, const std::string& assignment) {
  const size_t equals = assignment.find('=');
  try {
    ENTLAB_CHECK(equals != std::string::npos && equals > 0, "expected key=value, e.g. model.d_model=128");
    const std::string key = assignment.substr(0, equals), text = assignment.substr(equals + 1);
    nlohmann::json value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) value = text;

    if (key == "task.name" && value.is_string()) return config.set_task(value.get<std::string>());

    nlohmann::json json = to_json(config);
    assignment_target(json, split(key, '.')) = value;
    config = run_config_from_json(json);
  } catch (const Error& error) {
    throw Error(str_cat("--set ", assignment, ": ", error.what()));
  }
}

RunConfig load_run_config(const std::string& path) {
  const std::string text = read_file(path);
  nlohmann::json json;
  try {
    json = parse_json_without_repeated_keys<nlohmann::json>(text);
  } catch (const nlohmann::json::parse_error& error) {
    // error.byte counts the bytes read up to and including the offending one, so the
    // lines before it are the newlines among the first byte - 1 bytes. An unexpected end
    // of the file is reported on its last line, not on the empty one after the final newline.
    size_t end = std::min<size_t>(error.byte > 0 ? error.byte - 1 : 0, text.size());
    if (end == text.size() && end > 0 && text.back() == '\n') --end;
    const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(end), '\n');
    throw Error(str_cat(path, ":", line, ": invalid JSON (byte ", error.byte, "): ", error.what()));
  } catch (const nlohmann::json::exception& error) {
    throw Error(str_cat(path, ": invalid JSON: ", error.what()));
  } catch (const Error& error) {
    throw Error(str_cat(path, ": ", error.what()));
  }
  try {
    return run_config_from_json(json);
  } catch (const Error& error) {
    throw Error(str_cat(path, ": ", error.what()));
  }
}

}  // namespace entlab::tasks
