// Embedding lookup: one row of a table per token id.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace entlab {

// ids (B*T values, row-major over (B, T)), table (V, C) -> (B, T, C).
// Backward: dtable[ids[b,t]] += g[b,t] (rows of repeated ids accumulate). Saves the ids.
Tensor embedding(const Tensor& table, const std::vector<int32_t>& ids, int64_t batch, int64_t time);

}  // namespace entlab
