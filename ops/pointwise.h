// Helpers shared by the pointwise ops: parallel maps over the values of a tensor, one that
// also saves dy/dx for the backward, and the backward dx += g f'(x) itself.
#pragma once

#include <cstdint>

#include "autograd/tape.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/tensor.h"

namespace entlab {

// Returns f applied to every value of x, as a new contiguous tensor of x's shape.
// A non-contiguous x is copied to row-major order first.
template <typename F>
Tensor map_values(const Tensor& x, F f) {
  Tensor input = x.is_contiguous() ? x : x.clone_values();
  Tensor out = Tensor::empty(x.shape());
  const float* in = input.data();
  float* y = out.data();
  const int64_t count = out.numel();
#pragma omp parallel for schedule(static) if (count > kParallelMinWork)
  for (int64_t i = 0; i < count; ++i) y[i] = f(in[i]);
  return out;
}

// Returns y = f(v, dydx) for every value v of x. When x requires grad, f also writes dy/dx
// at v through the pointer dydx (nullptr otherwise, so inference skips that work), and the
// op `kind` is recorded with `backward` and dy/dx saved for it. `name` labels debug checks.
template <typename F>
Tensor map_values_with_derivative(const Tensor& x, OpKind kind, const char* name, BackwardFn backward, F f) {
  Tensor input = x.is_contiguous() ? x : x.clone_values();
  Tensor out = Tensor::empty(x.shape());
  const bool needs_grad = any_requires_grad({x});
  Tensor slope = needs_grad ? Tensor::empty(x.shape(), str_cat(name, " derivative")) : Tensor();
  const float* xs = input.data();
  float* y = out.data();
  float* dydx = needs_grad ? slope.data() : nullptr;
  const int64_t count = x.numel();
#pragma omp parallel for schedule(static) if (count > kParallelMinWork)
  for (int64_t i = 0; i < count; ++i) y[i] = f(xs[i], dydx ? dydx + i : nullptr);

  debug_check_forward(name, out);
  if (needs_grad) {
    Node& node = record_op(kind, backward, {x}, out);
    save_for_backward(node, slope);
  }
  return out;
}

// Adds g * derivative(s) to the gradient of the node's input 0, for every value s of its
// saved tensor 0 (the output y, or dy/dx itself, as the op chose) and upstream value g.
template <typename Derivative>
void add_pointwise_grad(Node& node, Derivative derivative) {
  const Tensor& saved = saved_tensor(node, 0);
  const float* dout = output_grad(node);
  float* dx = input_grad(node, 0);
  const float* s = saved.data();
  const int64_t count = saved.numel();
#pragma omp parallel for schedule(static) if (count > kParallelMinWork)
  for (int64_t i = 0; i < count; ++i) dx[i] += dout[i] * derivative(s[i]);
}

}  // namespace entlab
