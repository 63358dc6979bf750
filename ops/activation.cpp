#include "ops/activation.h"

#include <cmath>

#include "autograd/tape.h"
#include "core/parallel.h"

namespace entlab {

namespace {

constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;

// Forward: y = x Phi(x).  Backward: dx += g dy/dx, with dy/dx = Phi(x) + x phi(x)
// saved by the forward, which already evaluates erf and exp for each element.
void gelu_backward(Node& node) {
  const Tensor& slope = saved_tensor(node, 0);
  const float* dout = output_grad(node);
  float* dx = input_grad(node, 0);
  const float* dydx = slope.data();
  const int64_t count = slope.numel();
#pragma omp parallel for schedule(static) if (count > kParallelMinWork)
  for (int64_t i = 0; i < count; ++i) dx[i] += dout[i] * dydx[i];
}

}  // namespace

Tensor gelu(const Tensor& x) {
  Tensor input = x.is_contiguous() ? x : x.clone_values();
  Tensor out = Tensor::empty(x.shape());
  const bool needs_grad = any_requires_grad({x});
  Tensor slope = needs_grad ? Tensor::empty(x.shape(), "gelu derivative") : Tensor();
  const float* xs = input.data();
  float* y = out.data();
  float* dydx = needs_grad ? slope.data() : nullptr;
  const int64_t count = x.numel();

#pragma omp parallel for schedule(static) if (count > kParallelMinWork)
  for (int64_t i = 0; i < count; ++i) {
    const float v = xs[i];
    const float cdf = 0.5f * (1.0f + std::erf(v * kInvSqrt2));
    y[i] = v * cdf;
    if (dydx) dydx[i] = cdf + v * kInvSqrt2Pi * std::exp(-0.5f * v * v);
  }

  debug_check_forward("gelu", out);
  if (needs_grad) {
    Node& node = record_op(OpKind::Gelu, gelu_backward, {x}, out);
    save_for_backward(node, slope);
  }
  return out;
}

}  // namespace entlab
