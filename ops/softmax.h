// Softmax, log-softmax and logsumexp over the last dimension.
//
// Masked entries are -inf. They get probability exactly 0 and gradient exactly 0.
// A row that is entirely -inf (a fully masked query) gives all zeros for softmax,
// -inf for logsumexp and log_softmax, and a zero gradient; never NaN.
//
// The row kernels are templates so tests can run them in double precision; the
// tensor ops use the float instantiation.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "core/tensor.h"

namespace entlab {

// x (..., N) -> same shape, rows sum to 1 (or 0 when fully masked). Saves the output.
Tensor softmax(const Tensor& x);
// x (..., N) -> same shape, log of softmax computed as z - max - log(sum exp(z - max)). Saves the output.
Tensor log_softmax(const Tensor& x);
// x (..., N) -> (...), log(sum exp(x)) along the last dim. Saves x and the output.
Tensor logsumexp(const Tensor& x);

// --- Row kernels -------------------------------------------------------------------------

// p = exp(z - max z) / sum(exp(z - max z)); all -inf gives all 0.
template <typename T>
void softmax_row_forward(T* p, const T* z, int64_t n) {
  T z_max = -std::numeric_limits<T>::infinity();
  for (int64_t j = 0; j < n; ++j) z_max = z[j] > z_max ? z[j] : z_max;
  if (z_max == -std::numeric_limits<T>::infinity()) {
    for (int64_t j = 0; j < n; ++j) p[j] = T(0);
    return;
  }
  double total = 0.0;
  for (int64_t j = 0; j < n; ++j) {
    p[j] = std::exp(z[j] - z_max);
    total += p[j];
  }
  const T inv_total = static_cast<T>(1.0 / total);
  for (int64_t j = 0; j < n; ++j) p[j] *= inv_total;
}

// log(sum_j exp(z_j)) computed as max + log(sum exp(z - max)); -inf for an all -inf row.
template <typename T>
T logsumexp_row(const T* z, int64_t n) {
  T z_max = -std::numeric_limits<T>::infinity();
  for (int64_t j = 0; j < n; ++j) z_max = z[j] > z_max ? z[j] : z_max;
  if (z_max == -std::numeric_limits<T>::infinity()) return z_max;
  double total = 0.0;
  for (int64_t j = 0; j < n; ++j) total += std::exp(static_cast<double>(z[j] - z_max));
  return z_max + static_cast<T>(std::log(total));
}

// dz += p (g - <p, g>): the softmax Jacobian diag(p) - p p^T applied to g.
template <typename T>
void softmax_row_backward(T* dz, const T* g, const T* p, int64_t n) {
  double p_dot_g = 0.0;
  for (int64_t j = 0; j < n; ++j) p_dot_g += static_cast<double>(p[j]) * g[j];
  for (int64_t j = 0; j < n; ++j) dz[j] += p[j] * static_cast<T>(g[j] - p_dot_g);
}

}  // namespace entlab
