// Cross-entropy over class logits, computed through log-softmax (never log(softmax)).
//
//   loss_r = logsumexp(z_r) - z_r[y_r]      for each row r whose target is not ignored
//
// Rows whose target equals ignore_index are skipped (that is the loss mask: the
// training batch sets non-target positions to ignore_index). Mean reduction divides
// by the number of kept rows; when every row is ignored the mean is 0 with zero
// gradient (PyTorch returns NaN there). A target whose logit is -inf gives loss +inf
// and the finite gradient softmax - onehot. A row whose logits are all -inf also
// gives +inf, with zero gradient.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace entlab {

enum class Reduction { Mean, Sum, None };

constexpr int32_t kDefaultIgnoreIndex = -100;

// logits (..., V), one target per row (numel / V values). Mean and Sum give shape (),
// None gives one loss per row (0 for ignored rows). Saves logits and logsumexp per row.
// Backward: dz_r += (softmax(z_r) - onehot(y_r)) g_r, with g_r = g / kept rows for Mean.
Tensor cross_entropy(const Tensor& logits, const std::vector<int32_t>& targets,
                     int32_t ignore_index = kDefaultIgnoreIndex, Reduction reduction = Reduction::Mean);

}  // namespace entlab
