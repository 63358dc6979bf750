#include "tasks/task.h"

#include "core/error.h"
#include "core/json_reader.h"

namespace entlab::tasks {

std::string Task::token_text(int32_t token) const {
  const TokenLayout tokens = layout();
  if (token == tokens.pad()) return "<pad>";
  if (token == tokens.bos()) return "<bos>";
  if (token == tokens.sep()) return "<sep>";
  if (token == tokens.eos()) return "<eos>";
  return std::to_string(token);
}

// --- Copy --------------------------------------------------------------------------------

CopyTask::CopyTask(int32_t alphabet) : alphabet_(alphabet) {
  ENTLAB_CHECK(alphabet >= 2 && alphabet <= kMaxCopyAlphabet, "invalid task.options.alphabet = ", alphabet,
               ": must be from 2 to ", kMaxCopyAlphabet);
}

Sample CopyTask::generate(Rng& rng, int64_t length) const {
  ENTLAB_CHECK(length >= 1, "copy: invalid length ", length, ": must be at least 1");
  Sample sample;
  for (int64_t i = 0; i < length; ++i) sample.source.push_back(static_cast<int32_t>(rng.randint(0, alphabet_ - 1)));
  sample.target = sample.source;
  return sample;
}

nlohmann::json CopyTask::options() const { return {{"alphabet", alphabet_}}; }

// --- Flip-Flop ---------------------------------------------------------------------------

FlipFlopTask::FlipFlopTask(float write_probability) : write_probability_(write_probability) {
  ENTLAB_CHECK(write_probability > 0 && write_probability <= 1, "invalid task.options.write_probability = ",
               write_probability, ": must be in (0, 1]");
}

Sample FlipFlopTask::generate(Rng& rng, int64_t length) const {
  ENTLAB_CHECK(length >= 4, "flipflop: invalid length ", length,
               ": must be at least 4 (a write and a read, two tokens each)");
  const int64_t instructions = length / 2;
  Sample sample;
  int32_t last_written = kBit0;
  for (int64_t i = 0; i + 1 < instructions; ++i) {
    const bool write = i == 0 || rng.bernoulli(write_probability_);
    const int32_t bit = rng.bernoulli(0.5f) ? kBit1 : kBit0;
    sample.source.push_back(write ? kWrite : kIgnore);
    sample.source.push_back(bit);
    if (write) last_written = bit;
  }
  sample.source.push_back(kRead);
  sample.target = {last_written};
  return sample;
}

nlohmann::json FlipFlopTask::options() const { return {{"write_probability", json_number(write_probability_)}}; }

std::string FlipFlopTask::token_text(int32_t token) const {
  static const char* const kNames[] = {"w", "i", "r", "0", "1"};
  return token >= 0 && token < 5 ? kNames[token] : Task::token_text(token);
}

// --- Registry ----------------------------------------------------------------------------

const std::vector<std::string>& task_names() {
  static const std::vector<std::string> names = {"copy", "flipflop"};
  return names;
}

std::unique_ptr<Task> make_task(const std::string& name, const nlohmann::json& options) {
  JsonReader reader(options, "task.options");
  std::unique_ptr<Task> task;
  if (name == "copy") {
    int32_t alphabet = 32;
    reader.read("alphabet", alphabet);
    task = std::make_unique<CopyTask>(alphabet);
  } else if (name == "flipflop") {
    float write_probability = 0.15f;
    reader.read("write_probability", write_probability);
    task = std::make_unique<FlipFlopTask>(write_probability);
  } else {
    throw Error(str_cat("unknown task '", name, "'; valid: ", join(task_names(), ", ")));
  }
  reader.finish();
  return task;
}

}  // namespace entlab::tasks
