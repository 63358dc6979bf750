// Basic layers: Linear, Embedding, RMSNorm, LayerNorm and the GELU MLP.
// Dimension names: B batch, T time, C model width, OC output width, V vocabulary.
#pragma once

#include <cstdint>
#include <vector>

#include "nn/module.h"

namespace entlab::nn {

// y = x W^T (+ b), W of shape (OC, C) as in torch::nn::Linear. No bias by default.
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias, Rng& rng, float init_std);
  // x (..., C) -> (..., OC)
  Tensor forward(const Tensor& x) const;

  Tensor weight;  // (OC, C)
  Tensor bias;    // (OC) or undefined
};

// Token embedding table (V, C).
class Embedding : public Module {
 public:
  Embedding(int64_t vocab_size, int64_t channels, Rng& rng, float init_std);
  // ids (B*T) -> (B, T, C)
  Tensor forward(const std::vector<int32_t>& ids, int64_t batch, int64_t time) const;

  Tensor weight;  // (V, C)
};

class RMSNorm : public Module {
 public:
  explicit RMSNorm(int64_t channels, float eps = 1e-5f);
  Tensor forward(const Tensor& x) const;

  Tensor weight;  // (C), starts at 1
  float eps;
};

// Layer normalization over the last dimension with a learned scale and shift, as
// torch.nn.LayerNorm(C) with its default elementwise_affine=True. x (..., C) -> (..., C).
class LayerNorm : public Module {
 public:
  explicit LayerNorm(int64_t channels, float eps = 1e-5f);
  Tensor forward(const Tensor& x) const;

  Tensor weight;  // (C), starts at 1
  Tensor bias;    // (C), starts at 0
  float eps;
};

// fc2(gelu(fc1(x))): C -> hidden -> C.
class MLP : public Module {
 public:
  MLP(int64_t channels, int64_t hidden, Rng& rng, float init_std);
  Tensor forward(const Tensor& x) const;

  Linear fc1, fc2;
};

}  // namespace entlab::nn
