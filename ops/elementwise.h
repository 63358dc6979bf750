// Elementwise ops with NumPy/PyTorch broadcasting, and their backward passes.
//
// Broadcasting aligns shapes from the right; a dimension of size 1 (or a missing
// leading one) repeats. In backward, the gradient of a broadcast operand is the
// output gradient summed over every dimension along which the operand was repeated,
// so it keeps the operand's own shape: (1, 3) stays (1, 3), (3,) stays (3,).
#pragma once

#include <initializer_list>

#include "core/tensor.h"

namespace entlab {

// The shape two operands broadcast to, or an error naming op and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// out = a + b, a - b, a * b, a / b (broadcast). Saves a and b where the backward needs them.
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);

// out = s * x. Saves nothing.
Tensor scale(const Tensor& x, float s);
// out = x + s. Saves nothing.
Tensor add_scalar(const Tensor& x, float s);
// out = exp(x). Saves out (d exp = exp).
Tensor exp(const Tensor& x);
// out = 1 / (1 + exp(-x)). Saves out (d sigmoid = out (1 - out)).
Tensor sigmoid(const Tensor& x);

// In-place x *= s. When x requires grad, the op is recorded on the tape, and x must
// then be a non-leaf, non-view tensor that no live view shares. The write bumps x's
// version, so an op that saved x for backward reports the change instead of
// computing a wrong gradient.
void scale_(const Tensor& x, float s);
// In-place x[index] = value, recorded like scale_: the overwritten element gets zero
// gradient, since it no longer depends on what x held before.
void set_element_(const Tensor& x, std::initializer_list<int64_t> index, float value);

}  // namespace entlab
