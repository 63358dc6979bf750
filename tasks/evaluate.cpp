#include "tasks/evaluate.h"

#include <algorithm>
#include <cmath>

#include "autograd/tape.h"
#include "core/error.h"

namespace entlab::tasks {

std::vector<Sample> make_test_set(const Task& task, int64_t length, int64_t count, uint64_t seed) {
  Rng rng(derive_seed(seed, static_cast<uint64_t>(length)));
  std::vector<Sample> samples;
  samples.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) samples.push_back(task.generate(rng, length));
  return samples;
}

int64_t sample_attention_bytes(const nn::ModelConfig& model, int64_t time) {
  return 4 * model.n_heads * time * time * static_cast<int64_t>(sizeof(float));
}

int64_t input_tokens(const Task& task, int64_t length) {
  Rng rng(0);
  Sample sample = task.generate(rng, length);
  return static_cast<int64_t>(sample.source.size() + sample.target.size()) + 2;
}

void check_eval_lengths(const Task& task, const nn::ModelConfig& model, const std::vector<int64_t>& lengths,
                        const std::string& option) {
  for (int64_t length : lengths) {
    ENTLAB_CHECK(length >= task.min_length(), "invalid ", option, " entry ", length, ": task ", task.name(),
                 " needs lengths of at least ", task.min_length());
    ENTLAB_CHECK(length <= kMaxSampleLength, "invalid ", option, " entry ", length, ": lengths go up to ",
                 kMaxSampleLength);
    const int64_t time = input_tokens(task, length);
    const double gib = static_cast<double>(sample_attention_bytes(model, time)) / (int64_t{1} << 30);
    ENTLAB_CHECK(sample_attention_bytes(model, time) <= kMaxSampleAttentionBytes, "invalid ", option, " entry ",
                 length, ": a sample of ", time, " tokens needs about ", gib,
                 " GiB of attention weights, above the 4 GiB limit (attention over blocks of queries is not "
                 "implemented yet)");
  }
}

HeadDispersion row_dispersion(const float* probs, int64_t keys) {
  HeadDispersion stats;
  stats.keys = static_cast<double>(keys);
  for (int64_t j = 0; j < keys; ++j) {
    const double p = probs[j];
    stats.max_weight = std::max(stats.max_weight, p);
    if (p > 0.0) {
      stats.support_size += 1.0;
      stats.entropy -= p * std::log(p);
    }
  }
  return stats;
}

HeadDispersion mean_dispersion(const std::vector<HeadDispersion>& heads) {
  HeadDispersion mean;
  if (heads.empty()) return mean;
  for (const HeadDispersion& head : heads) {
    mean.max_weight += head.max_weight;
    mean.support_size += head.support_size;
    mean.entropy += head.entropy;
    mean.keys += head.keys;
  }
  const double count = static_cast<double>(heads.size());
  mean.max_weight /= count;
  mean.support_size /= count;
  mean.entropy /= count;
  mean.keys /= count;
  return mean;
}

namespace {

int32_t argmax_row(const float* logits, int64_t vocab) {
  return static_cast<int32_t>(std::max_element(logits, logits + vocab) - logits);
}

// Adds the statistics of every target-predicting query of every row, layer and head
// to `sums` (layer-major), and returns how many queries were added per head.
int64_t accumulate_dispersion(const nn::Transformer& model, const Batch& batch, std::vector<HeadDispersion>& sums) {
  int64_t queries = 0;
  const int64_t heads = model.config.n_heads;
  const int64_t time = batch.time;
  for (size_t layer = 0; layer < model.blocks.size(); ++layer) {
    const Tensor& probs = model.blocks[layer]->attn.last_probs;  // (B, NH, T, T)
    ENTLAB_ASSERT(probs.defined());
    for (int64_t b = 0; b < batch.batch; ++b)
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t k = 0; k < batch.target_length[b]; ++k) {
          const int64_t t = batch.target_start[b] + k;
          const float* row = probs.data() + ((b * heads + h) * time + t) * time;
          HeadDispersion stats = row_dispersion(row, t + 1);
          HeadDispersion& sum = sums[layer * heads + h];
          sum.max_weight += stats.max_weight;
          sum.support_size += stats.support_size;
          sum.entropy += stats.entropy;
          sum.keys += stats.keys;
          if (layer == 0 && h == 0) ++queries;
        }
  }
  return queries;
}

}  // namespace

LengthResult evaluate_length(nn::Transformer& model, const Task& task, int64_t length, const EvalOptions& options) {
  ENTLAB_CHECK(options.samples_per_length > 0 && options.batch_size > 0,
               "evaluate: samples per length and batch size must be positive");
  NoGradGuard no_grad;
  model.set_keep_attention(options.dispersion);
  check_eval_lengths(task, model.config, {length}, "evaluation length");
  std::vector<Sample> samples = make_test_set(task, length, options.samples_per_length, options.seed);
  const int64_t per_sample = sample_attention_bytes(model.config, input_tokens(task, length));
  const size_t batch_size = static_cast<size_t>(
      std::min(options.batch_size, std::max<int64_t>(1, kEvalAttentionBudgetBytes / std::max<int64_t>(per_sample, 1))));
  const int64_t vocab = model.config.vocab_size;
  const int64_t heads_total = model.config.n_layers * model.config.n_heads;

  LengthResult result;
  result.length = length;
  std::vector<HeadDispersion> sums(static_cast<size_t>(heads_total));
  int64_t queries = 0;
  for (size_t first = 0; first < samples.size(); first += batch_size) {
    size_t last = std::min(samples.size(), first + batch_size);
    Batch batch = make_batch(std::vector<Sample>(samples.begin() + first, samples.begin() + last), task.layout());
    Tensor logits = model.forward(batch.inputs, batch.batch, batch.time);  // (B, T, V)

    for (int64_t b = 0; b < batch.batch; ++b) {
      bool all_right = true;
      for (int64_t k = 0; k < batch.target_length[b] && all_right; ++k) {
        const int64_t t = batch.target_start[b] + k;
        const float* row = logits.data() + (b * batch.time + t) * vocab;
        all_right = argmax_row(row, vocab) == batch.labels[b * batch.time + t];
      }
      result.correct += all_right ? 1 : 0;
      ++result.samples;
    }
    if (options.dispersion) queries += accumulate_dispersion(model, batch, sums);
  }
  model.set_keep_attention(false);

  if (options.dispersion && queries > 0) {
    for (HeadDispersion& sum : sums) {
      sum.max_weight /= queries;
      sum.support_size /= queries;
      sum.entropy /= queries;
      sum.keys /= queries;
    }
    result.heads = sums;
  }
  return result;
}

std::vector<LengthResult> evaluate(nn::Transformer& model, const Task& task, const EvalOptions& options) {
  std::vector<LengthResult> results;
  for (int64_t length : options.lengths) results.push_back(evaluate_length(model, task, length, options));
  return results;
}

std::vector<Tensor> attention_maps(nn::Transformer& model, const Task& task, const Sample& sample) {
  NoGradGuard no_grad;
  Batch batch = make_batch({sample}, task.layout());
  model.set_keep_attention(true);
  model.forward(batch.inputs, 1, batch.time);
  std::vector<Tensor> maps;
  for (auto& block : model.blocks) {
    const Tensor& probs = block->attn.last_probs;  // (1, NH, T, T)
    maps.push_back(probs.view_as_shape({probs.size(1), probs.size(2), probs.size(3)}));
  }
  model.set_keep_attention(false);
  return maps;
}

std::vector<int32_t> greedy_decode(nn::Transformer& model, const Task& task, const Sample& sample) {
  NoGradGuard no_grad;
  const TokenLayout layout = task.layout();
  std::vector<int32_t> tokens = {layout.bos()};
  tokens.insert(tokens.end(), sample.source.begin(), sample.source.end());
  tokens.push_back(layout.sep());

  std::vector<int32_t> output;
  const int64_t vocab = model.config.vocab_size;
  // NOTE: no key/value cache yet, so each step reruns the whole prefix (quadratic in length).
  for (size_t k = 0; k < sample.target.size(); ++k) {
    const int64_t time = static_cast<int64_t>(tokens.size());
    Tensor logits = model.forward(tokens, 1, time);
    const int32_t next = argmax_row(logits.data() + (time - 1) * vocab, vocab);
    output.push_back(next);
    tokens.push_back(next);
  }
  return output;
}

}  // namespace entlab::tasks
