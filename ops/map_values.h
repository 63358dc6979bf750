// Shared by the pointwise ops: a parallel map over the values of a tensor.
#pragma once

#include <cstdint>

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

}  // namespace entlab
