#include "ops/activation.h"

#include <cmath>

#include "autograd/tape.h"

namespace entlab {

namespace {

constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;

// Forward: y = x Phi(x).  Backward: dx += g (Phi(x) + x phi(x)), phi the normal density.
void gelu_backward(Node& node) {
  const Tensor& x = saved_tensor(node, 0);
  const float* dout = output_grad(node);
  float* dx = input_grad(node, 0);
  const float* xs = x.data();
  const int64_t count = x.numel();
#pragma omp parallel for schedule(static) if (count > 16384)
  for (int64_t i = 0; i < count; ++i) {
    const float v = xs[i];
    const float cdf = 0.5f * (1.0f + std::erf(v * kInvSqrt2));
    const float pdf = kInvSqrt2Pi * std::exp(-0.5f * v * v);
    dx[i] += dout[i] * (cdf + v * pdf);
  }
}

}  // namespace

Tensor gelu(const Tensor& x) {
  Tensor input = x.is_contiguous() ? x : x.clone_values();
  Tensor out = Tensor::empty(x.shape());
  const float* xs = input.data();
  float* y = out.data();
  const int64_t count = x.numel();
#pragma omp parallel for schedule(static) if (count > 16384)
  for (int64_t i = 0; i < count; ++i) y[i] = 0.5f * xs[i] * (1.0f + std::erf(xs[i] * kInvSqrt2));

  debug_check_forward("gelu", out);
  if (any_requires_grad({x})) {
    Node& node = record_op(OpKind::Gelu, gelu_backward, {x}, out);
    save_for_backward(node, input);
  }
  return out;
}

}  // namespace entlab
