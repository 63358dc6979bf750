// Basic layers: Linear, Embedding, the norms and the MLP.
// Dimension names: B batch, T time, C model width, OC output width, V vocabulary.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "nn/config.h"
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

// RMSNorm or LayerNorm over the last axis, x (..., C) -> (..., C).
class NormLayer : public Module {
 public:
  NormLayer(Norm kind, int64_t channels, float eps);
  Tensor forward(const Tensor& x) const;

  Norm kind;
  Tensor weight;  // (C), starts at 1
  Tensor bias;    // (C), starts at 0; LayerNorm only
  float eps;
};

// C -> hidden -> C:  fc2(act(fc1 x)), or for geglu fc2(gelu(fc1 x) * gate x).
class MLP : public Module {
 public:
  MLP(int64_t channels, int64_t hidden, Activation activation, Rng& rng, float init_std);
  Tensor forward(const Tensor& x) const;

  Activation activation;
  Linear fc1, fc2;
  std::unique_ptr<Linear> gate;  // geglu only
};

}  // namespace entlab::nn
