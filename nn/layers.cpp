#include "nn/layers.h"

#include "core/error.h"
#include "ops/ops.h"

namespace entlab::nn {

Linear::Linear(int64_t in_features, int64_t out_features, bool with_bias, Rng& rng, float init_std) {
  ENTLAB_CHECK(in_features > 0 && out_features > 0, "Linear: sizes must be positive, got in_features=",
               in_features, " out_features=", out_features);
  Tensor w = Tensor::empty({out_features, in_features});
  init_normal(w, rng, init_std);
  weight = register_parameter("weight", w);
  if (with_bias) bias = register_parameter("bias", Tensor::zeros({out_features}));
}

Tensor Linear::forward(const Tensor& x) const {
  Tensor y = matmul(x, transpose(weight, 0, 1));  // transpose is a view: sgemm reads W as W^T
  return bias.defined() ? add(y, bias) : y;
}

Embedding::Embedding(int64_t vocab_size, int64_t channels, Rng& rng, float init_std) {
  ENTLAB_CHECK(vocab_size > 0 && channels > 0, "Embedding: sizes must be positive, got vocab_size=",
               vocab_size, " channels=", channels);
  Tensor w = Tensor::empty({vocab_size, channels});
  init_normal(w, rng, init_std);
  weight = register_parameter("weight", w);
}

Tensor Embedding::forward(const std::vector<int32_t>& ids, int64_t batch, int64_t time) const {
  return embedding(weight, ids, batch, time);
}

RMSNorm::RMSNorm(int64_t channels, float epsilon) : eps(epsilon) {
  weight = register_parameter("weight", Tensor::ones({channels}));
}

Tensor RMSNorm::forward(const Tensor& x) const { return rmsnorm(x, weight, eps); }

LayerNorm::LayerNorm(int64_t channels, float epsilon) : eps(epsilon) {
  ENTLAB_CHECK(channels > 0, "LayerNorm: channels must be positive, got channels=", channels);
  ENTLAB_CHECK(epsilon >= 0.0f, "LayerNorm: eps = ", epsilon, " is invalid; pass eps >= 0 (typically 1e-5)");
  weight = register_parameter("weight", Tensor::ones({channels}));
  bias = register_parameter("bias", Tensor::zeros({channels}));
}

Tensor LayerNorm::forward(const Tensor& x) const { return layernorm(x, weight, bias, eps); }

MLP::MLP(int64_t channels, int64_t hidden, Rng& rng, float init_std)
    : fc1(channels, hidden, false, rng, init_std), fc2(hidden, channels, false, rng, init_std) {
  register_module("fc1", fc1);
  register_module("fc2", fc2);
}

Tensor MLP::forward(const Tensor& x) const { return fc2.forward(gelu(fc1.forward(x))); }

}  // namespace entlab::nn
