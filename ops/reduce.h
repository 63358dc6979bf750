// Sum and mean over all elements or over chosen dimensions.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace entlab {

// Sum of every element -> shape (). Accumulates in double. Saves nothing.
Tensor sum(const Tensor& x);
// Sum over `dims` (negative counts from the end); keepdim leaves them as size 1.
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
// Mean of every element -> shape (). Backward spreads g / numel to every element.
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);

}  // namespace entlab
