// Ops that shape attention scores (B, NH, T, S): the causal mask, the ALiBi bias and
// rotary position embeddings (RoPE) for queries and keys.
//
// Queries may be the last T of S positions (decoding with cached keys): query row i
// sits at absolute position i + (S - T), and key column j at position j.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace entlab {

// scores (..., T, S) -> same shape with -inf wherever key j is after query i.
// Backward passes the gradient through on kept entries and gives masked ones exactly 0.
Tensor causal_mask(const Tensor& scores);

// scores (B, NH, T, S) + slope_h * (j - i) for each head h, so the bias is 0 on the
// diagonal and more negative further back. A slope of 0 leaves the head unbiased.
// Backward: the gradient passes through unchanged (slopes are constants).
Tensor alibi_bias(const Tensor& scores, const std::vector<float>& slopes);

// x (B, NH, T, hs) -> same shape, rotated by position (GPT-NeoX "rotate-half" pairing:
// dimension i pairs with i + hs/2, frequency theta_i = base^(-2i/hs)). Row t has
// position t + position_offset. Angles are computed in double so positions far beyond
// training stay accurate. Backward rotates the gradient by the opposite angle.
Tensor rope(const Tensor& x, int64_t position_offset = 0, double base = 10000.0);

}  // namespace entlab
