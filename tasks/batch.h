// Turning samples into a padded training batch with a loss mask.
#pragma once

#include <cstdint>
#include <vector>

#include "tasks/task.h"

namespace entlab::tasks {

// The label used where no loss is taken (passed to cross_entropy as ignore_index).
constexpr int32_t kIgnoreLabel = -100;

// B sequences BOS source SEP target EOS, right-padded with PAD to a common length.
// inputs[b, t] is token t; labels[b, t] is token t + 1 where that token is part of the
// target and kIgnoreLabel everywhere else (source, EOS, padding). Causal attention
// means right padding never influences earlier positions.
struct Batch {
  int64_t batch = 0;
  int64_t time = 0;
  std::vector<int32_t> inputs;         // (B, T)
  std::vector<int32_t> labels;         // (B, T)
  std::vector<int64_t> target_start;   // per row: first position t whose label is a target token
  std::vector<int64_t> target_length;  // per row: number of target tokens
  int64_t tokens = 0;                  // real (non-padding) input tokens
};

// BOS source SEP target EOS.
std::vector<int32_t> layout_sequence(const Sample& sample, const TokenLayout& layout);
Batch make_batch(const std::vector<Sample>& samples, const TokenLayout& layout);

}  // namespace entlab::tasks
