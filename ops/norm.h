// Row normalizations over the last dimension.
// RMSNorm (Zhang and Sennrich, 2019): y = x / rms(x) * w, rms(x) = sqrt(mean(x^2) + eps).
// LayerNorm: y = (x - mean(x)) / sqrt(var(x) + eps) * w + b.
#pragma once

#include "core/tensor.h"

namespace entlab {

// x (..., C), weight (C) -> (..., C). Saves x, weight and 1/rms per row.
Tensor rmsnorm(const Tensor& x, const Tensor& weight, float eps = 1e-5f);

// x (..., C), weight (C), bias (C) -> (..., C), as torch.nn.LayerNorm(C) computes it.
// var is the biased variance mean((x - mean(x))^2). Saves x, weight, and the mean and
// 1/sqrt(var + eps) of each row.
// A constant row gives y = b when eps > 0, but NaN when eps = 0.
// Throws entlab::Error when weight or bias is not of shape (C,), when C = 0, or when
// eps is negative or NaN.
Tensor layernorm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps = 1e-5f);

}  // namespace entlab
