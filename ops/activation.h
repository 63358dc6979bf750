// GELU, the exact form: gelu(x) = x Phi(x) = x (1 + erf(x / sqrt 2)) / 2.
#pragma once

#include "core/tensor.h"

namespace entlab {

// x -> same shape. Backward: dx += g (Phi(x) + x phi(x)). Saves that derivative, computed
// in the forward pass.
Tensor gelu(const Tensor& x);

}  // namespace entlab
