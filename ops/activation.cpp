#include "ops/activation.h"

#include <algorithm>
#include <cmath>

#include "autograd/tape.h"
#include "core/error.h"
#include "ops/pointwise.h"
#include "core/parallel.h"

namespace entlab {

namespace {

constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;

// Forward: y = x Phi(x).  Backward: dx += g dy/dx, with dy/dx = Phi(x) + x phi(x)
// saved by the forward, which already evaluates erf and exp for each element.
void gelu_backward(Node& node) {
  add_pointwise_grad(node, [](float dydx) { return dydx; });
}

// Forward: y = log(1 + exp(x)).  Backward: dx += g sigmoid(x), with sigmoid(x) saved
// by the forward.
void softplus_backward(Node& node) {
  add_pointwise_grad(node, [](float sigmoid_x) { return sigmoid_x; });
}

// Forward: y = tanh(x).  Backward: dx += g (1 - y^2), from the saved output y.
void tanh_backward(Node& node) {
  add_pointwise_grad(node, [](float y) { return 1.0f - y * y; });
}

// Forward: y = max(x, 0).  Backward: dx += g where y > 0, which is where x > 0. Not
// g * 0 elsewhere: like PyTorch, an infinite or NaN g leaves dx unchanged there.
void relu_backward(Node& node) {
  const Tensor& out = saved_tensor(node, 0);
  const float* dout = output_grad(node);
  float* dx = input_grad(node, 0);
  const float* y = out.data();
  const int64_t count = out.numel();
#pragma omp parallel for schedule(static) if (count > kParallelMinWork)
  for (int64_t i = 0; i < count; ++i)
    if (y[i] > 0.0f) dx[i] += dout[i];
}

}  // namespace

Tensor gelu(const Tensor& x) {
  return map_values_with_derivative(x, OpKind::Gelu, "gelu", gelu_backward, [](float v, float* dydx) {
    const float cdf = 0.5f * (1.0f + std::erf(v * kInvSqrt2));
    if (dydx) *dydx = cdf + v * kInvSqrt2Pi * std::exp(-0.5f * v * v);
    return v * cdf;
  });
}

Tensor softplus(const Tensor& x) {
  // With e = exp(-|x|) <= 1:  log(1 + exp(x)) = max(x, 0) + log1p(e), and
  // sigmoid(x) = 1 / (1 + e) for x >= 0, e / (1 + e) for x < 0. Neither overflows.
  return map_values_with_derivative(x, OpKind::Softplus, "softplus", softplus_backward, [](float v, float* dydx) {
    const float e = std::exp(-std::fabs(v));
    if (dydx) *dydx = v >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
    return std::max(v, 0.0f) + std::log1p(e);
  });
}

Tensor tanh(const Tensor& x) {
  Tensor out = map_values(x, [](float v) { return std::tanh(v); });

  debug_check_forward("tanh", out);
  if (any_requires_grad({x})) {
    Node& node = record_op(OpKind::Tanh, tanh_backward, {x}, out);
    save_for_backward(node, out);
  }
  return out;
}

Tensor relu(const Tensor& x) {
  // "v <= 0" is false for NaN, so a NaN input passes through. An input of -0 gives +0.
  Tensor out = map_values(x, [](float v) { return v <= 0.0f ? 0.0f : v; });

  debug_check_forward("relu", out);
  if (any_requires_grad({x})) {
    Node& node = record_op(OpKind::Relu, relu_backward, {x}, out);
    save_for_backward(node, out);
  }
  return out;
}

float inverse_softplus(float y) {
  ENTLAB_CHECK(std::isfinite(y) && y > 0.0f, "inverse_softplus: y = ", y,
               " is invalid; softplus only takes finite values > 0, so pass a target y > 0");
  const double target = y;
  if (target > 30.0) return static_cast<float>(target + std::log1p(-std::exp(-target)));
  return static_cast<float>(std::log(std::expm1(target)));
}

}  // namespace entlab
