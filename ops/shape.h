// Shape ops: reshape, transpose, contiguous, slice, concat.
//
// reshape, transpose and slice return views that share storage (no copy); their
// gradients are separate buffers in the view's own logical shape, which backward
// scatters back into the source's gradient.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace entlab {

// View of x with a new shape of the same element count; one entry may be -1.
// Copies first (through contiguous) when x is not contiguous.
Tensor reshape(const Tensor& x, Shape shape);
// View of x with dims d0 and d1 swapped.
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1);
// x itself when already contiguous, else a contiguous copy (recorded).
Tensor contiguous(const Tensor& x);
// View of x restricted to [start, end) along dim.
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end);
// Joins tensors along dim; all other dims must match. A new contiguous tensor.
Tensor concat(const std::vector<Tensor>& parts, int64_t dim);

}  // namespace entlab
