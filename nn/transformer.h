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

// Causal self-attention (design notes, section 2):
//   score[i][j] = q_i . k_j / sqrt(hs) + slope_h (j - i)      for j <= i
//   probs[i]    = transform(score[i])                          softmax or 1.5-entmax
//   out_i       = sum_j probs[i][j] v_j
// RoPE rotates q and k instead of adding a bias.
class Attention : public Module {
 public:
  Attention(const ModelConfig& config, Rng& rng);
  // x (B, T, C) -> (B, T, C). When keep_probs is set, last_probs holds the
  // attention weights (B, NH, T, T) of this call, masked entries exactly 0.
  Tensor forward(const Tensor& x);

  Linear q_proj, k_proj, v_proj, out_proj;
  int64_t n_heads, head_size;
  Transform transform;
  PositionEncoding position;
  double rope_base;
  std::vector<float> slopes;  // per head; 0 where the head has no ALiBi bias

  bool keep_probs = false;
  Tensor last_probs;

 private:
  Tensor split_heads(const Tensor& x, int64_t batch, int64_t time) const;
};

// x + attn(norm1(x)), then + mlp(norm2(x)).
class Block : public Module {
 public:
  Block(const ModelConfig& config, Rng& rng);
  Tensor forward(const Tensor& x);

  RMSNorm norm1;
  Attention attn;
  RMSNorm norm2;
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

  ModelConfig config;
  Rng init_rng;  // draws the initial weights; declared before the layers that use it
  Embedding embed;
  std::vector<std::unique_ptr<Block>> blocks;
  RMSNorm final_norm;
  Linear lm_head;
};

}  // namespace entlab::nn
