// The decoder-only transformer: causal multi-head attention, pre-norm blocks.
//
// Dimension names: B batch, T time (tokens), C = d_model, NH heads, hs head size,
// V vocabulary. Shapes follow PyTorch's row-major (B, T, C) order.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "nn/config.h"
#include "nn/layers.h"

namespace entlab::nn {

// Causal self-attention:
//   score[i][j] = scale_i q_i . k_j / sqrt(hs) + slope_h (j - i)   for j <= i
//   probs[i]    = transform(score[i])           softmax, 1.5-entmax, sparsemax or alpha-entmax
//   out_i       = sum_j probs[i][j] v_j
// RoPE rotates q and k instead of adding a bias. scale_i is the length scaling of
// ModelConfig::scaling (1 when there is none, and for unscaled heads).
// The floor of a learned alpha. With alpha = 1 + softplus(a), float32 rounds alpha to
// exactly 1 (softmax, rejected by entmax_bisect) once a falls below about -16.6.
constexpr float kMinLearnedAlpha = 1.01f;

class Attention : public Module {
 public:
  Attention(const ModelConfig& config, Rng& rng);
  // x (B, T, C) -> (B, T, C). When keep_probs is set, last_probs holds the
  // attention weights (B, NH, T, T) of this call, masked entries exactly 0.
  Tensor forward(const Tensor& x);

  Linear q_proj, k_proj, v_proj, out_proj;
  ModelConfig config;
  std::vector<float> slopes;  // per head; 0 where the head has no ALiBi bias
  Tensor head_mask;           // (NH, 1): 1 for heads that get the length scaling, else 0

  // Learned parameters of the optional parts (undefined when unused), all (NH, 1):
  Tensor alpha_raw;   // alpha = kMinLearnedAlpha + softplus(alpha_raw)
  Tensor ssmax_s;     // SSMax s_h
  Tensor beta_raw;    // ASEntmax per head: beta = softplus(beta_raw)
  Tensor gamma_raw;   // ASEntmax per head: gamma = r tanh(gamma_raw)
  // ASEntmax per token: beta = softplus(beta_proj x), gamma = r tanh(gamma_proj x), C -> NH.
  std::unique_ptr<Linear> beta_proj, gamma_proj;

  bool keep_probs = false;
  Tensor last_probs;

  // Mean beta and gamma of ASEntmax in the last forward call, over the scaled heads and,
  // for asentmax-token, over every query position of the batch (padding included).
  // {0, 0} without ASEntmax or before the first forward call.
  struct ScaleMeans {
    double beta = 0.0, gamma = 0.0;
  };
  const ScaleMeans& scale_means() const { return last_scale_means_; }

 private:
  Tensor split_heads(const Tensor& x, int64_t batch, int64_t time) const;
  void add_scaling_parameters(Rng& rng);
  // Applies the length scaling to content scores (B, NH, T, T); x is the layer input.
  // Under asentmax-token it also records the mean beta and gamma for scale_means().
  Tensor scale_scores(const Tensor& scores, const Tensor& x);
  // The configured transform of masked scores.
  Tensor attention_weights(const Tensor& scores) const;
  // Mean over the scaled heads of per-head values laid out (outer, NH, inner).
  double scaled_head_mean(const Tensor& values) const;

  ScaleMeans last_scale_means_;  // set by scale_scores
};

// x + attn(norm1(x)), then + mlp(norm2(x)).
class Block : public Module {
 public:
  Block(const ModelConfig& config, Rng& rng);
  Tensor forward(const Tensor& x);

  NormLayer norm1;
  Attention attn;
  NormLayer norm2;
  MLP mlp;
};

class Transformer : public Module {
 public:
  // Builds the model and initialises weights N(0, init_std^2) from `seed`.
  Transformer(const ModelConfig& config, uint64_t seed);
  // ids (B*T, row-major) -> logits (B, T, V).
  Tensor forward(const std::vector<int32_t>& ids, int64_t batch, int64_t time);
  // Records attention weights in every layer's last_probs on the next forward calls.
  void set_keep_attention(bool keep);
  // Returns ASEntmax's mean beta and gamma per layer, as metrics.jsonl logs them:
  // {"beta": [layer 0, layer 1, ...], "gamma": [...]}. Without ASEntmax, an empty object.
  nlohmann::json scale_metrics() const;

  ModelConfig config;
  Rng init_rng;  // draws the initial weights; declared before the layers that use it
  Embedding embed;
  std::vector<std::unique_ptr<Block>> blocks;
  NormLayer final_norm;
  Linear lm_head;
};

}  // namespace entlab::nn
