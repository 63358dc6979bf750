// Exact-match evaluation by length, greedy decoding and dispersion metrics.
//
// Exact match: a sample counts as correct only if every target token is right.
// Greedy decoding picks argmax at each step, feeding back its own output. Its whole
// target matches exactly when, fed the true prefix, the model's argmax is right at
// every target position: up to the first error both runs see the same prefix, and
// at that error both emit the same wrong token. So one teacher-forced forward pass
// per batch gives the greedy exact-match result, without a decoding loop.
// greedy_decode() runs the real loop, for showing outputs and for testing this.
#pragma once

#include <cstdint>
#include <vector>

#include "nn/transformer.h"
#include "tasks/batch.h"
#include "tasks/task.h"

namespace entlab::tasks {

// Mean attention statistics of one head over the queries that predict target tokens.
struct HeadDispersion {
  double max_weight = 0.0;    // largest attention weight in the row
  double support_size = 0.0;  // keys with weight > 0
  double entropy = 0.0;       // -sum p log p, in nats
  double keys = 0.0;          // keys the query may attend to (its position + 1)
};

struct LengthResult {
  int64_t length = 0;
  int64_t samples = 0;
  int64_t correct = 0;
  double accuracy() const { return samples ? static_cast<double>(correct) / samples : 0.0; }
  // One entry per (layer, head), layer-major; empty unless dispersion was measured.
  std::vector<HeadDispersion> heads;
};

struct EvalOptions {
  std::vector<int64_t> lengths;
  int64_t samples_per_length = 100;
  uint64_t seed = 1000;  // test sets depend only on (task, length, seed)
  int64_t batch_size = 16;
  bool dispersion = true;
};

// Attention weights take NH * T * T floats per sample and layer, and a forward pass holds
// up to about four such matrices at once (scores, masked scores, weights, the next
// layer's scores). Evaluation shrinks its batch to stay within the first budget and
// rejects lengths whose single sample exceeds the second.
constexpr int64_t kEvalAttentionBudgetBytes = int64_t{256} << 20;
constexpr int64_t kMaxSampleAttentionBytes = int64_t{4} << 30;

// Bytes of attention matrices one sample of `time` tokens holds during a forward pass.
int64_t sample_attention_bytes(const nn::ModelConfig& model, int64_t time);
// The number of input tokens of a sample of this length (source, SEP and target).
int64_t input_tokens(const Task& task, int64_t length);
// Checks every length against the task's minimum and the memory bound; errors name `option`.
void check_eval_lengths(const Task& task, const nn::ModelConfig& model, const std::vector<int64_t>& lengths,
                        const std::string& option);

// The fixed test set for one length: the same samples for every model evaluated
// with this seed.
std::vector<Sample> make_test_set(const Task& task, int64_t length, int64_t count, uint64_t seed);

// Exact-match accuracy (and dispersion) of the model on the test set of each length.
std::vector<LengthResult> evaluate(nn::Transformer& model, const Task& task, const EvalOptions& options);
LengthResult evaluate_length(nn::Transformer& model, const Task& task, int64_t length, const EvalOptions& options);

// Autoregressive greedy decoding of target.size() tokens after BOS source SEP.
std::vector<int32_t> greedy_decode(nn::Transformer& model, const Task& task, const Sample& sample);

// Attention weights of every layer for one sample: one (NH, T, T) tensor per layer,
// T = the sample's input length; masked (future) entries are exactly 0.
std::vector<Tensor> attention_maps(nn::Transformer& model, const Task& task, const Sample& sample);

// Per-row statistics of one attention row of `keys` weights.
HeadDispersion row_dispersion(const float* probs, int64_t keys);

// Average of the per-head entries, optionally over a subset of heads (by head index).
HeadDispersion mean_dispersion(const std::vector<HeadDispersion>& heads);

}  // namespace entlab::tasks
