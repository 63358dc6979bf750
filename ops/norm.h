// RMSNorm (Zhang and Sennrich, 2019): y = x / rms(x) * w, rms(x) = sqrt(mean(x^2) + eps).
#pragma once

#include "core/tensor.h"

namespace entlab {

// x (..., C), weight (C) -> (..., C). Saves x, weight and 1/rms per row.
Tensor rmsnorm(const Tensor& x, const Tensor& weight, float eps = 1e-5f);

}  // namespace entlab
