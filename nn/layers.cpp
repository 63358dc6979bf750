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

NormLayer::NormLayer(Norm norm_kind, int64_t channels, float epsilon) : kind(norm_kind), eps(epsilon) {
  ENTLAB_CHECK(channels > 0, "NormLayer: channels must be positive, got channels=", channels);
  ENTLAB_CHECK(epsilon >= 0.0f, "NormLayer: eps = ", epsilon, " is invalid; pass eps >= 0 (typically 1e-5)");
  weight = register_parameter("weight", Tensor::ones({channels}));
  if (kind == Norm::LayerNorm) bias = register_parameter("bias", Tensor::zeros({channels}));
}

Tensor NormLayer::forward(const Tensor& x) const {
  return kind == Norm::LayerNorm ? layernorm(x, weight, bias, eps) : rmsnorm(x, weight, eps);
}

MLP::MLP(int64_t channels, int64_t hidden, Activation kind, Rng& rng, float init_std)
    : activation(kind), fc1(channels, hidden, false, rng, init_std), fc2(hidden, channels, false, rng, init_std) {
  register_module("fc1", fc1);
  register_module("fc2", fc2);
  if (activation == Activation::Geglu) {
    gate = std::make_unique<Linear>(channels, hidden, false, rng, init_std);
    register_module("gate", *gate);
  }
}

Tensor MLP::forward(const Tensor& x) const {
  Tensor hidden = fc1.forward(x);
  switch (activation) {
    case Activation::Gelu: hidden = gelu(hidden); break;
    case Activation::Relu: hidden = relu(hidden); break;
    case Activation::Geglu: hidden = mul(gelu(hidden), gate->forward(x)); break;
  }
  return fc2.forward(hidden);
}

}  // namespace entlab::nn
