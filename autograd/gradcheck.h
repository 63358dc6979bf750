// Finite-difference gradient check for any function of tensors.
//
// The function maps inputs to one output tensor y. gradcheck draws a fixed random
// weight tensor r of y's shape and compares, for every input element x_k,
//   analytic  dL/dx_k  from backward() with seed r, where L = sum(r * y)
//   numeric   (L(x+e) - L(x-e)) / 2e, or the 4-point formula
//             (8(L(x+e) - L(x-e)) - (L(x+2e) - L(x-2e))) / 12e
// L is accumulated in double. Tensors are float32, so the perturbation must be
// large enough to beat float rounding (eps ~ 1e-2..1e-3); the 4-point formula keeps
// the truncation error at O(eps^4). Kernels whose rows need double precision (the
// attention transforms) are also checked directly on their templated row functions.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace entlab {

struct GradcheckOptions {
  double eps = 1e-2;
  double abs_tolerance = 1e-3;
  double rel_tolerance = 1e-2;
  bool four_point = true;
  uint64_t seed = 1234;
  // Check at most this many elements per input (0: all), chosen evenly.
  int64_t max_elements_per_input = 0;
};

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0.0;
  double max_rel_error = 0.0;
  int64_t elements_checked = 0;
  // One line per mismatching element (the first 10), plus a summary line.
  std::string report;
};

using TensorFunction = std::function<Tensor(const std::vector<Tensor>& inputs)>;

// Checks the gradient of `function` with respect to every input whose
// requires_grad flag is set (inputs without it are held constant).
GradcheckResult gradcheck(const TensorFunction& function, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

}  // namespace entlab
