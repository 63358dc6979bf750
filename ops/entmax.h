// 1.5-entmax (Peters, Niculae and Martins, 2019) over the last dimension, exact.
//
//   p_j = [z_j / 2 - tau]_+^2,  with tau such that sum_j p_j = 1.
//
// Scores more than 2 below the row's max get exactly zero probability, at any row
// length. Masked (-inf) entries get probability 0 and gradient 0; an all -inf row
// gives all zeros and zero gradient.
//
// Forward, sort-based (design notes section 3): with u = (z - max z) / 2 sorted in
// descending order, for each k take the mean m_k and mean of squares of the top k,
//   ss_k  = k (meansq_k - m_k^2)
//   tau_k = m_k - sqrt(max(0, (1 - ss_k) / k))
// The support size is the largest k with tau_k <= u_(k), and tau = tau_k there.
// Subtracting the max first keeps tau exact for scores of any magnitude.
//
// Backward, with s = sqrt(p) on the support and 0 elsewhere:
//   dz = s g - s (<s, g> / sum s)
// linear in the row length; the Jacobian is never formed. An entry with p == 0 is
// treated as off the support, also at a kink where z/2 equals tau exactly (the
// one-sided gradient of the smaller support).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "core/tensor.h"

namespace entlab {

// x (..., N) -> same shape. Saves the output only.
Tensor entmax15(const Tensor& x);

// --- Row kernels -------------------------------------------------------------------------

struct EntmaxRowInfo {
  double tau = 0.0;          // threshold in the shifted units u = (z - max z) / 2
  int64_t support_size = 0;  // number of entries with p > 0
};

// p = entmax15(z) for one row. `sorted` is caller-owned scratch (reused, no allocation
// once it has grown to n).
template <typename T>
EntmaxRowInfo entmax15_row_forward(T* p, const T* z, int64_t n, std::vector<T>& sorted) {
  const T neg_inf = -std::numeric_limits<T>::infinity();
  T z_max = neg_inf;
  bool has_nan = false;
  for (int64_t j = 0; j < n; ++j) {
    z_max = z[j] > z_max ? z[j] : z_max;
    has_nan = has_nan || z[j] != z[j];
  }
  EntmaxRowInfo info;
  if (has_nan) {  // propagate instead of sorting NaN (which breaks std::sort's ordering)
    for (int64_t j = 0; j < n; ++j) p[j] = std::numeric_limits<T>::quiet_NaN();
    return info;
  }
  if (z_max == neg_inf) {
    for (int64_t j = 0; j < n; ++j) p[j] = T(0);
    return info;
  }

  // 1. Shifted half-scores of the finite entries, largest first. A score whose shift
  //    overflows to -inf (z_max - z_j above the type's max) is far outside the support.
  //    It is left out like a masked one, because in the scan it would make tau -inf.
  sorted.clear();
  for (int64_t j = 0; j < n; ++j) {
    const T u = (z[j] - z_max) / T(2);
    if (u != neg_inf) sorted.push_back(u);
  }
  std::sort(sorted.begin(), sorted.end(), std::greater<T>());

  // 2. Scan the candidate support sizes k = 1..K with running sums (in double).
  double sum = 0.0, sum_squares = 0.0;
  for (size_t k = 1; k <= sorted.size(); ++k) {
    const double u_k = sorted[k - 1];
    sum += u_k;
    sum_squares += u_k * u_k;
    const double mean = sum / k;
    const double spread = k * (sum_squares / k - mean * mean);
    const double tau_k = mean - std::sqrt(std::max(0.0, (1.0 - spread) / k));
    if (tau_k <= u_k) info.tau = tau_k;
  }

  // 3. p_j = [u_j - tau]_+^2. The scan above also accepts a k whose u_(k) equals tau
  // exactly (a kink), where p is 0, so the support size is counted here.
  for (int64_t j = 0; j < n; ++j) {
    if (z[j] == neg_inf) {
      p[j] = T(0);
      continue;
    }
    const double gap = static_cast<double>((z[j] - z_max) / T(2)) - info.tau;
    p[j] = gap > 0.0 ? static_cast<T>(gap * gap) : T(0);
    if (p[j] > T(0)) ++info.support_size;
  }
  return info;
}

// dz += s g - s <s, g> / sum s, with s = sqrt(p) on the support (p > 0).
template <typename T>
void entmax15_row_backward(T* dz, const T* g, const T* p, int64_t n) {
  double sum_s = 0.0, sum_sg = 0.0;
  for (int64_t j = 0; j < n; ++j) {
    if (p[j] <= T(0)) continue;
    const double s = std::sqrt(static_cast<double>(p[j]));
    sum_s += s;
    sum_sg += s * g[j];
  }
  if (sum_s == 0.0) return;  // fully masked row
  const double weighted_mean = sum_sg / sum_s;
  for (int64_t j = 0; j < n; ++j) {
    if (p[j] <= T(0)) continue;
    dz[j] += static_cast<T>(std::sqrt(static_cast<double>(p[j])) * (g[j] - weighted_mean));
  }
}

}  // namespace entlab
