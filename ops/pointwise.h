// Shared by the pointwise ops: a parallel map over the values of a tensor, and the
// backward of y = f(x), dx += g f'(x), with f'(x) computed from a tensor the forward saved.
#pragma once

#include <cstdint>

#include "autograd/tape.h"
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
