// Pointwise activations: GELU (exact erf form), softplus, tanh and ReLU.
#pragma once

#include "core/tensor.h"

namespace entlab {

// gelu(x) = x Phi(x) = x (1 + erf(x / sqrt 2)) / 2.
// x -> same shape. Backward: dx += g (Phi(x) + x phi(x)). Saves that derivative, computed
// in the forward pass.
Tensor gelu(const Tensor& x);

// softplus(x) = log(1 + exp(x)), evaluated as max(x, 0) + log1p(exp(-|x|)) so that no
// exp overflows: the result is x itself for large x and exp(x) for very negative x.
// x -> same shape. Backward: dx += g sigmoid(x). Saves sigmoid(x), computed in the
// forward pass from the same exp(-|x|).
Tensor softplus(const Tensor& x);

// x -> same shape, tanh(x). Backward: dx += g (1 - tanh(x)^2). Saves the output.
Tensor tanh(const Tensor& x);

// x -> same shape, relu(x) = max(x, 0). A NaN input stays NaN.
// Backward: dx += g where x > 0. The gradient is 0 elsewhere, including at x = 0, as in
// PyTorch (threshold_backward with threshold 0). Saves the output, which is > 0 exactly
// where x > 0.
Tensor relu(const Tensor& x);

// Returns the x with softplus(x) = y, that is log(exp(y) - 1), for y > 0. Use it to
// initialise a bias so that softplus starts at y. Computed in double as
// log(expm1(y)), or as y + log1p(-exp(-y)) for y > 30, which stays finite for every
// float y where exp(y) would overflow.
// Throws entlab::Error for y <= 0 or a non-finite y (no x gives softplus(x) <= 0).
float inverse_softplus(float y);

}  // namespace entlab
