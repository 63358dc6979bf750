// Synthetic tasks and how a sample becomes a token sequence.
//
// A sample is laid out as   BOS source SEP target EOS.
// The model reads the sequence left to right; the loss and the exact-match check
// cover the target tokens only. Task symbols are ids 0..S-1; the special tokens
// follow them, so the vocabulary is S + 4.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/rng.h"

namespace entlab::tasks {

struct Sample {
  std::vector<int32_t> source;
  std::vector<int32_t> target;
};

// Token ids of the special tokens for a task with `symbols` task symbols.
struct TokenLayout {
  int32_t symbols = 0;
  int32_t pad() const { return symbols; }
  int32_t bos() const { return symbols + 1; }
  int32_t sep() const { return symbols + 2; }
  int32_t eos() const { return symbols + 3; }
  int32_t vocab_size() const { return symbols + 4; }
};

class Task {
 public:
  virtual ~Task() = default;
  virtual std::string name() const = 0;
  virtual TokenLayout layout() const = 0;
  // A sample whose size is set by `length` (what length means is task-specific and
  // documented on each task).
  virtual Sample generate(Rng& rng, int64_t length) const = 0;
  // The smallest length generate() accepts.
  virtual int64_t min_length() const { return 1; }
  // Options as JSON, for the run's config.json.
  virtual nlohmann::json options() const = 0;
  // A readable rendering of one token ("w", "1", "<sep>").
  virtual std::string token_text(int32_t token) const;
};

// The largest sample length (source size) any config or option may ask for, so that no
// token count or memory estimate overflows.
constexpr int64_t kMaxSampleLength = 1 << 20;

// The largest Copy alphabet: far beyond any study, and its vocabulary stays below nn::kMaxVocab.
constexpr int32_t kMaxCopyAlphabet = 1 << 20;

// Copy: the source is `length` symbols drawn uniformly from an alphabet of size
// `alphabet`; the target repeats it.
class CopyTask : public Task {
 public:
  explicit CopyTask(int32_t alphabet = 32);
  std::string name() const override { return "copy"; }
  TokenLayout layout() const override { return {alphabet_}; }
  Sample generate(Rng& rng, int64_t length) const override;
  nlohmann::json options() const override;

 private:
  int32_t alphabet_;
};

// Flip-Flop (Liu et al., 2023): a program of (instruction, bit) pairs. The first
// instruction is a write; each later one is a write with probability
// `write_probability` and an ignore otherwise; the last is a read whose bit is
// missing. The target is the bit of the last write.
// `length` counts the program's tokens including the missing bit: length/2
// instructions, so the source holds length - 1 tokens. Symbols: w=0, i=1, r=2, 0=3, 1=4.
class FlipFlopTask : public Task {
 public:
  explicit FlipFlopTask(float write_probability = 0.15f);
  std::string name() const override { return "flipflop"; }
  TokenLayout layout() const override { return {5}; }
  Sample generate(Rng& rng, int64_t length) const override;
  int64_t min_length() const override { return 4; }
  nlohmann::json options() const override;
  std::string token_text(int32_t token) const override;

  static constexpr int32_t kWrite = 0, kIgnore = 1, kRead = 2, kBit0 = 3, kBit1 = 4;

 private:
  float write_probability_;
};

const std::vector<std::string>& task_names();
// Builds a task by name with options from JSON (unknown options raise errors that list
// the valid ones; an unknown name lists the valid task names).
std::unique_ptr<Task> make_task(const std::string& name, const nlohmann::json& options = nlohmann::json::object());

}  // namespace entlab::tasks
