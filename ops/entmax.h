// The entmax family over the last dimension (Peters, Niculae and Martins, 2019):
//
//   p_j = [(alpha - 1) z_j - tau]_+^(1 / (alpha - 1)),  with tau such that sum_j p_j = 1.
//
//   alpha = 2      sparsemax, p = [z - tau]_+                 exact, sort-based
//   alpha = 1.5    1.5-entmax, p = [z / 2 - tau]_+^2          exact, sort-based
//   alpha > 1      entmax_bisect, any alpha                   root finding on tau
//   alpha -> 1     tends to softmax
//
// A score with (alpha - 1)(max z - z_j) >= 1 gets exactly 0, at any row length: the gap
// is 1 for sparsemax and 2 for 1.5-entmax. Masked (-inf) entries get probability 0 and
// gradient 0. A row that is all -inf gives all zeros and zero gradient, never NaN. A
// row that contains a NaN or +inf gives NaN everywhere, as softmax does.
//
// Backward for every alpha, with s_j = p_j^(2 - alpha) where p_j > 0 and 0 elsewhere:
//   dz = s g - s (<s, g> / sum s)
// (s = sqrt(p) for 1.5-entmax, the support indicator for sparsemax.) It is linear in
// the row length and never forms the Jacobian. An entry with p == 0 counts as off the
// support, also at a kink where (alpha - 1) z_j equals tau exactly: the gradient there
// is the one-sided gradient of the smaller support.
//
// The row kernels are templates so tests can run them in double precision; the tensor
// ops use the float instantiation, which accumulates in double.
#pragma once

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace entlab {

// x (..., N) -> same shape, exact 1.5-entmax. Saves the output only.
Tensor entmax15(const Tensor& x);

// x (..., N) -> same shape, exact sparsemax. Saves the output only.
Tensor sparsemax(const Tensor& x);

// x (..., N) -> same shape, alpha-entmax for one alpha > 1. Saves the output only.
// Raises entlab::Error for alpha <= 1 or a non-finite alpha (softmax is alpha = 1).
Tensor entmax_bisect(const Tensor& x, double alpha);

// x (..., N) -> same shape, with alpha differentiable. alpha must broadcast to
// x.shape[:-1], aligned from the right: (NH, 1) gives one alpha per head of
// (B, NH, T, S) scores, () or (1) one alpha for every row. Each value must be > 1.
// The gradient of an alpha value is summed over the rows that share it.
// Saves the output and alpha.
Tensor entmax_bisect(const Tensor& x, const Tensor& alpha);

// --- Row kernels -------------------------------------------------------------------------

// Threshold and support size that a forward row kernel returns along with p.
struct EntmaxRowInfo {
  // The threshold in p_j = [(alpha - 1) z_j - tau]_+^(1/(alpha - 1)), in the units of the
  // scores as given: sparsemax reports tau with p = [z - tau]_+, 1.5-entmax with
  // p = [z/2 - tau]_+^2. The kernels compute in units shifted by the row max and add
  // (alpha - 1) max z back here, so for scores near 1e8 tau carries that magnitude's
  // rounding while p does not. +inf for an all -inf row and NaN for a NaN row.
  double tau = 0.0;
  int64_t support_size = 0;  // number of entries with p > 0
};

// Sort strategy of the exact kernels for the candidates (the entries within the zero
// gap of the max). Both strategies give bit-identical results.
enum class EntmaxSort {
  // Select and sort only the top k (16 first) with nth_element, and double k while
  // the support fills it: O(N + k log k) for a support of about k entries.
  TopK,
  // Sort every candidate: O(N log N). The reference for the TopK path.
  Full,
};

namespace entmax_detail {

// The first k of the TopK sort.
constexpr size_t kInitialTopK = 16;

// The row max of the scores, and whether the row is all -inf or contains a NaN or +inf.
template <typename T>
struct RowMax {
  T max;
  bool all_masked;
  bool invalid;
};

template <typename T>
RowMax<T> find_row_max(const T* z, int64_t n) {
  const T inf = std::numeric_limits<T>::infinity();
  T z_max = -inf;
  bool invalid = false;
  for (int64_t j = 0; j < n; ++j) {
    z_max = z[j] > z_max ? z[j] : z_max;
    invalid = invalid || z[j] != z[j] || z[j] == inf;
  }
  return {z_max, z_max == -inf, invalid};
}

// Writes the output of a row that has no valid threshold: NaN for a NaN or +inf row,
// zeros for an all -inf row. Returns false when the row is a normal one.
template <typename T>
bool write_special_row(T* p, int64_t n, const RowMax<T>& row, EntmaxRowInfo& info) {
  if (row.invalid) {
    for (int64_t j = 0; j < n; ++j) p[j] = std::numeric_limits<T>::quiet_NaN();
    info.tau = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (row.all_masked) {
    for (int64_t j = 0; j < n; ++j) p[j] = T(0);
    info.tau = std::numeric_limits<double>::infinity();
    return true;
  }
  return false;
}

// Threshold scan of sparsemax over the shifted scores v = z - max z in descending
// order: entry k (1-based) is in the support iff 1 + k v_(k) > sum_{j<=k} v_(j), and
// then tau = (sum_{j<=k} v_(j) - 1) / k.
struct SparsemaxScan {
  double sum = 0.0;
  double tau = 0.0;
  int64_t k = 0;

  // Takes v_(k+1); returns whether it is in the support.
  bool add(double v) {
    const double next_sum = sum + v;
    if (1.0 + static_cast<double>(k + 1) * v <= next_sum) return false;
    ++k;
    sum = next_sum;
    tau = (sum - 1.0) / static_cast<double>(k);
    return true;
  }
};

// Threshold scan of 1.5-entmax over u = (z - max z) / 2 in descending order: with the
// mean m_k and mean of squares of the top k,
//   ss_k  = k (meansq_k - m_k^2)
//   tau_k = m_k - sqrt(max(0, (1 - ss_k) / k))
// entry k is in the support iff tau_k <= u_(k), and then tau = tau_k.
struct Entmax15Scan {
  double sum = 0.0;
  double sum_squares = 0.0;
  double tau = 0.0;
  int64_t k = 0;

  // Takes u_(k+1); returns whether it is in the support.
  bool add(double u) {
    const double count = static_cast<double>(k + 1);
    const double next_sum = sum + u;
    const double next_sum_squares = sum_squares + u * u;
    const double mean = next_sum / count;
    const double spread = count * (next_sum_squares / count - mean * mean);
    const double tau_k = mean - std::sqrt(std::max(0.0, (1.0 - spread) / count));
    if (tau_k > u) return false;
    ++k;
    sum = next_sum;
    sum_squares = next_sum_squares;
    tau = tau_k;
    return true;
  }
};

// Feeds `values` to `scan` in descending order until an entry falls outside the
// support. The support condition holds for k = 1..K and fails from K + 1 on, so the
// scan stops at the first failure. TopK sorts only as far as the scan gets: once k
// entries are sorted and all of them are in the support, the next k are selected with
// nth_element and sorted. The scan then receives the same values in the same order as
// after a full sort, so both strategies give the same bits. `values` must hold no NaN.
template <typename T, typename Scan>
void scan_descending(std::vector<T>& values, EntmaxSort sort, Scan& scan) {
  const size_t count = values.size();
  if (sort == EntmaxSort::Full) {
    std::sort(values.begin(), values.end(), std::greater<T>());
    for (size_t k = 0; k < count; ++k)
      if (!scan.add(values[k])) return;
    return;
  }

  size_t sorted_end = 0;
  size_t block_end = std::min(count, kInitialTopK);
  while (sorted_end < count) {
    std::nth_element(values.begin() + sorted_end, values.begin() + (block_end - 1), values.end(),
                     std::greater<T>());
    std::sort(values.begin() + sorted_end, values.begin() + block_end, std::greater<T>());
    for (size_t k = sorted_end; k < block_end; ++k)
      if (!scan.add(values[k])) return;
    sorted_end = block_end;
    block_end = std::min(count, 2 * block_end);
  }
}

// Exact sort-based forward shared by sparsemax (alpha - 1 = 1, power 1) and 1.5-entmax
// (alpha - 1 = 1/2, power 2). Both scales are exact, so u_j = (alpha - 1)(z_j - max z)
// computed in T is the shifted score of either, and p_j = [u_j - tau]_+^power.
template <typename T, typename Scan, int power>
EntmaxRowInfo sorted_row_forward(T* p, const T* z, int64_t n, std::vector<T>& values, T alpha_minus_1,
                                 EntmaxSort sort) {
  EntmaxRowInfo info;
  const RowMax<T> row = find_row_max(z, n);
  if (write_special_row(p, n, row, info)) return info;

  // 1. The candidates: shifted scores u_j > -1. tau >= -1, because the max entry alone
  //    has mass 1 at tau = -1, so an entry with u_j <= -1 gets exactly 0 and the scan
  //    never needs it. This also leaves out masked entries and scores whose shift
  //    overflows to -inf (max z - z_j above the type's max).
  values.clear();
  for (int64_t j = 0; j < n; ++j) {
    const T u = (z[j] - row.max) * alpha_minus_1;
    if (u > T(-1)) values.push_back(u);
  }

  // 2. The threshold, in the shifted units.
  Scan scan;
  scan_descending(values, sort, scan);

  // 3. p_j = [u_j - tau]_+^power on the candidates. The scan also accepts an entry
  //    whose u equals tau exactly (a kink), where p is 0, so the support size is
  //    counted here.
  for (int64_t j = 0; j < n; ++j) {
    const T u = (z[j] - row.max) * alpha_minus_1;
    const double gap = static_cast<double>(u) - scan.tau;
    if (!(u > T(-1)) || !(gap > 0.0)) {
      p[j] = T(0);
      continue;
    }
    p[j] = static_cast<T>(power == 2 ? gap * gap : gap);
    if (p[j] > T(0)) ++info.support_size;
  }
  info.tau = scan.tau + static_cast<double>(alpha_minus_1) * static_cast<double>(row.max);
  return info;
}

// Accumulates dz += s (g - <s, g> / sum s) for given support weights s_j = weight(p_j),
// over the entries with p_j > 0 (NaN included, so a NaN row stays NaN).
template <typename T, typename Weight>
void weighted_row_backward(T* dz, const T* g, const T* p, int64_t n, Weight weight) {
  double sum_s = 0.0, sum_sg = 0.0;
  for (int64_t j = 0; j < n; ++j) {
    if (p[j] <= T(0)) continue;
    const double s = weight(static_cast<double>(p[j]));
    sum_s += s;
    sum_sg += s * g[j];
  }
  if (sum_s == 0.0) return;  // fully masked row
  const double weighted_mean = sum_sg / sum_s;
  for (int64_t j = 0; j < n; ++j) {
    if (p[j] <= T(0)) continue;
    dz[j] += static_cast<T>(weight(static_cast<double>(p[j])) * (g[j] - weighted_mean));
  }
}

}  // namespace entmax_detail

// --- 1.5-entmax, exact -------------------------------------------------------------------

// p = entmax15(z) for one row, by the threshold scan of Entmax15Scan on
// u = (z - max z) / 2. Subtracting the max first keeps tau exact for scores of any
// magnitude. `scratch` is caller-owned (reused, no allocation once it has grown to n).
template <typename T>
EntmaxRowInfo entmax15_row_forward(T* p, const T* z, int64_t n, std::vector<T>& scratch,
                                   EntmaxSort sort = EntmaxSort::TopK) {
  return entmax_detail::sorted_row_forward<T, entmax_detail::Entmax15Scan, 2>(p, z, n, scratch, T(0.5), sort);
}

// dz += s g - s <s, g> / sum s, with s = sqrt(p) on the support (p > 0).
template <typename T>
void entmax15_row_backward(T* dz, const T* g, const T* p, int64_t n) {
  entmax_detail::weighted_row_backward(dz, g, p, n, [](double p_j) { return std::sqrt(p_j); });
}

// --- Sparsemax, exact --------------------------------------------------------------------

// p = sparsemax(z) for one row: with v = z - max z sorted in descending order, the
// support size is the largest k with 1 + k v_(k) > sum_{j<=k} v_(j),
// tau = (sum_{j<=k} v_(j) - 1) / k and p = [v - tau]_+.
// `scratch` is caller-owned as for entmax15_row_forward.
template <typename T>
EntmaxRowInfo sparsemax_row_forward(T* p, const T* z, int64_t n, std::vector<T>& scratch,
                                    EntmaxSort sort = EntmaxSort::TopK) {
  return entmax_detail::sorted_row_forward<T, entmax_detail::SparsemaxScan, 1>(p, z, n, scratch, T(1), sort);
}

// dz += s g - s <s, g> / sum s with s the support indicator (p > 0): on the support,
// g minus the mean of g over the support; 0 elsewhere.
template <typename T>
void sparsemax_row_backward(T* dz, const T* g, const T* p, int64_t n) {
  entmax_detail::weighted_row_backward(dz, g, p, n, [](double p_j) { return p_j == p_j ? 1.0 : p_j; });
}

// --- alpha-entmax for any alpha > 1 --------------------------------------------------------

namespace entmax_detail {

// Cap on the mass evaluations after the first one. Bisection alone shrinks the bracket
// to double round-off in about 50 to 70 halvings, and the search falls back to it (see
// entmax_bisect_row_forward), so the cap is only a guard.
constexpr int kMaxRootIterations = 200;

// For alpha > 2, gaps below this (in units of (alpha - 1) z) decide support membership
// by an exact test instead of by the sign of the computed gap. The tau search leaves
// an error of about 2 m eps (alpha - 1) in the gaps of m candidates, which is below
// 1e-8 while m (alpha - 1) < 2e7.
constexpr double kAmbiguousGap = 1e-6;

// p = y^(1/(alpha-1)) for a gap y = (alpha - 1) z_j - tau in (0, 1], written y = 1 + w.
// For alpha near 1 the exponent is large and y is near 1, so the digits of w that 1 + w
// drops matter. The general form adds them back to log(y) as a first-order correction,
// which is cheaper than log1p(w). Integer exponents up to 16 (alpha = 2, 1.5, 1.25 and
// other alpha = 1 + 1/k that are exact in binary) use multiplications instead.
class EntmaxPower {
 public:
  explicit EntmaxPower(double alpha) : exponent_(1.0 / (alpha - 1.0)), integer_exponent_(integer_or_zero(exponent_)) {}

  double exponent() const { return exponent_; }

  // y^exponent for y = 1 + w.
  double value(double w) const {
    const double y = 1.0 + w;
    if (integer_exponent_ > 0) {
      double result = 1.0, factor = y;
      for (int remaining = integer_exponent_; remaining > 0; remaining >>= 1) {  // binary powering
        if (remaining & 1) result *= factor;
        factor *= factor;
      }
      return result;
    }
    // 1 + w rounds to y with error (w - (y - 1)), where y - 1 is exact for y in
    // [0.5, 2] (and the error is 0 below 0.5), so log(1 + w) = log(y) + that error / y,
    // with y ~ 1 whenever the error matters.
    return std::exp(exponent_ * (std::log(y) + (w - (y - 1.0))));
  }

 private:
  // The exponent as an int when it is a whole number from 1 to 16, else 0.
  static int integer_or_zero(double exponent) {
    if (!(exponent >= 1.0 && exponent <= 16.0) || exponent != std::floor(exponent)) return 0;
    return static_cast<int>(exponent);
  }

  double exponent_;
  int integer_exponent_;
};

// The row's mass f(delta) = sum_j y_j^r, r = 1/(alpha-1), over the gaps
// y_j = 1 + x_j - delta > 0 with x_j = (alpha - 1)(z_j - max z), and its first two
// derivatives in delta: f' = -r sum_j y_j^(r-1), f'' = r (r-1) sum_j y_j^(r-2).
struct MassDerivatives {
  double mass = 0.0;
  double slope = 0.0;
  double curvature = 0.0;
};

// Evaluates f at delta over the candidates' x and stores their unnormalised p in
// `values`, so the last evaluation is the output.
inline MassDerivatives candidates_mass(const std::vector<double>& shifted, std::vector<double>& values, double delta,
                                       const EntmaxPower& power) {
  double mass = 0.0, sum_over_gap = 0.0, sum_over_gap_squared = 0.0;
  for (size_t c = 0; c < shifted.size(); ++c) {
    const double w = shifted[c] - delta;
    if (!(w > -1.0)) {
      values[c] = 0.0;
      continue;
    }
    const double p_c = power.value(w);
    const double inverse_gap = 1.0 / (1.0 + w);
    const double p_over_gap = p_c * inverse_gap;
    values[c] = p_c;
    mass += p_c;
    sum_over_gap += p_over_gap;
    sum_over_gap_squared += p_over_gap * inverse_gap;
  }
  const double r = power.exponent();
  return {mass, -r * sum_over_gap, r * (r - 1.0) * sum_over_gap_squared};
}

// Collects the candidates (entries with x_j > -1) into `shifted` and `index`, and
// returns a start for delta that lies left of the root when alpha <= 2. For any set S
// of entries, Jensen's inequality on the convex y^r gives f(delta) >= |S| mean_S(y)^r,
// so delta_S = mean_S(x) + 1 - |S|^(1-alpha) has f(delta_S) >= 1. The entries above
// -1/4, -1/2, -3/4 and -1 give four such bounds; the largest is the start.
template <typename T>
double collect_candidates(const T* z, int64_t n, double max_score, double alpha_minus_1,
                          std::vector<double>& shifted, std::vector<int64_t>& index) {
  constexpr int kBins = 4;
  int64_t count[kBins] = {0, 0, 0, 0};
  double sum[kBins] = {0.0, 0.0, 0.0, 0.0};
  if (shifted.size() < static_cast<size_t>(n)) {
    shifted.resize(static_cast<size_t>(n));
    index.resize(static_cast<size_t>(n));
  }
  size_t candidates = 0;
  for (int64_t j = 0; j < n; ++j) {
    const double x = alpha_minus_1 * (static_cast<double>(z[j]) - max_score);
    if (!(x > -1.0)) continue;
    shifted[candidates] = x;
    index[candidates] = j;
    ++candidates;
    const int bin = std::min(kBins - 1, static_cast<int>(-kBins * x));  // x in (-(bin+1)/4, -bin/4]
    ++count[bin];
    sum[bin] += x;
  }
  shifted.resize(candidates);
  index.resize(candidates);

  double start = 0.0, size = 0.0, total = 0.0;
  for (int bin = 0; bin < kBins; ++bin) {  // S = the entries above -(bin + 1)/4
    size += static_cast<double>(count[bin]);
    total += sum[bin];
    if (size == 0.0) continue;
    start = std::max(start, total / size - std::expm1(-alpha_minus_1 * std::log(size)));
  }
  return start;
}

// Mass at tau = (alpha - 1) z_k from the entries above z_k: sum over z_j > z_k of
// ((alpha - 1)(z_j - z_k))^r. Entry k is in the support iff this is < 1.
template <typename T>
double mass_above(const T* z, int64_t n, T z_k, double alpha_minus_1) {
  const double r = 1.0 / alpha_minus_1;
  double mass = 0.0;
  for (int64_t j = 0; j < n; ++j)
    if (z[j] > z_k) mass += std::pow(alpha_minus_1 * (static_cast<double>(z[j]) - static_cast<double>(z_k)), r);
  return mass;
}

// The mass h(t) of anchored_row_mass and its slope
// h'(t) = t^(alpha-2) sum_j y_j^(r-1), where an entry tied with the anchor contributes 1.
template <typename T>
double anchored_mass(const T* z, int64_t n, double z_anchor, double alpha_minus_1, double t, double& slope) {
  const double r = 1.0 / alpha_minus_1;
  const double s = std::pow(t, alpha_minus_1);
  const double s_over_t = std::pow(t, alpha_minus_1 - 1.0);
  double mass = 0.0, slope_sum = 0.0;
  for (int64_t j = 0; j < n; ++j) {
    if (!(static_cast<double>(z[j]) >= z_anchor)) continue;
    const double d = alpha_minus_1 * (static_cast<double>(z[j]) - z_anchor);
    if (d == 0.0) {
      mass += t;
      slope_sum += 1.0;
      continue;
    }
    const double p_j = std::pow(d + s, r);
    mass += p_j;
    slope_sum += s_over_t * p_j / (d + s);
  }
  slope = slope_sum;
  return mass;
}

// Re-solves a row for alpha > 2 in coordinates anchored at its lowest support entry K,
// and writes p (unnormalised); returns the mass and sets tau. For r = 1/(alpha-1) < 1,
// p = y^r is steep at small gaps y: a gap of 1e-17 already gives p = 0.013 at
// alpha = 10, and gaps measured from the row max cannot resolve that. Here each support
// gap is y_j = d_j + s with d_j = (alpha - 1)(z_j - z_K) >= 0 formed from the scores
// directly, and the unknown is t = p_K = s^r, in which the mass
//   h(t) = sum_{z_j >= z_K} (d_j + t^(alpha-1))^r
// is smooth with h(0) < 1 <= h(1) (entry K alone has mass t). K is the lowest entry
// whose gap from the tau search is clearly positive or, for gaps within
// kAmbiguousGap, whose mass_above is < 1.
template <typename T>
double anchored_row_mass(T* p, const T* z, int64_t n, double max_score, double alpha_minus_1,
                         double tau_shifted, double& tau) {
  const double r = 1.0 / alpha_minus_1;

  // 1. The anchor K.
  int64_t anchor = -1;
  for (int64_t j = 0; j < n; ++j) {
    const double gap = alpha_minus_1 * (static_cast<double>(z[j]) - max_score) - tau_shifted;
    if (!(gap > -kAmbiguousGap)) continue;
    if (anchor >= 0 && !(z[j] < z[anchor])) continue;
    if (gap > kAmbiguousGap || mass_above(z, n, z[j], alpha_minus_1) < 1.0) anchor = j;
  }
  const double z_anchor = static_cast<double>(z[anchor]);

  // 2. Safeguarded Newton on h(t) = 1 in [0, 1], from the tau search's p_K.
  const double anchor_gap = alpha_minus_1 * (z_anchor - max_score) - tau_shifted;
  double lower = 0.0, upper = 1.0;
  double t = std::min(std::pow(std::max(anchor_gap, 0.0), r), 1.0);
  for (int iteration = 0; iteration < kMaxRootIterations; ++iteration) {
    double slope = 0.0;
    const double excess = anchored_mass(z, n, z_anchor, alpha_minus_1, t, slope) - 1.0;
    if (std::fabs(excess) <= 2.0 * static_cast<double>(n) * DBL_EPSILON) break;
    if (excess > 0.0) {
      upper = t;
    } else {
      lower = t;
    }
    if (upper - lower <= 4.0 * DBL_EPSILON * upper) break;
    const double step = -excess / slope;
    if (std::fabs(step) <= 2.0 * DBL_EPSILON * t) break;
    const double next = t + step;
    t = next > lower && next < upper ? next : 0.5 * (lower + upper);
  }

  // 3. p from the anchored gaps.
  const double s = std::pow(t, alpha_minus_1);
  double mass = 0.0;
  for (int64_t j = 0; j < n; ++j) {
    double p_j = 0.0;
    if (static_cast<double>(z[j]) >= z_anchor) {
      const double d = alpha_minus_1 * (static_cast<double>(z[j]) - z_anchor);
      p_j = d == 0.0 ? t : std::pow(d + s, r);
    }
    p[j] = static_cast<T>(p_j);
    mass += p_j;
  }
  tau = alpha_minus_1 * z_anchor - s;
  return mass;
}

}  // namespace entmax_detail

// Caller-owned scratch for entmax_bisect_row_forward (reused, no allocation once it
// has grown to the row length).
struct EntmaxBisectScratch {
  std::vector<double> shifted;  // x_j = (alpha - 1)(z_j - max z) of the candidates
  std::vector<double> values;   // their unnormalised p from the last evaluation
  std::vector<int64_t> index;   // their positions j in the row
};

// p = alpha-entmax(z) for one row, any alpha > 1, accurate to double round-off in the
// gaps (alpha - 1) z_j - tau.
//
// Work with x_j = (alpha - 1)(z_j - max z) <= 0 and delta = tau + 1 (tau shifted by
// (alpha - 1) max z), so p_j = (1 + x_j - delta)_+^(1/(alpha-1)), and solve
// f(delta) = sum_j p_j = 1:
// 1. Entries with x_j <= -1 get exactly 0: tau >= -1, because the max entry alone has
//    mass 1 at tau = -1. The m entries left are the candidates.
// 2. The root lies in [0, 1 - m^(1-alpha)]: at the upper end each candidate's gap is at
//    most m^(1-alpha), so the mass is at most 1.
// 3. Halley steps on phi(delta) = f(delta)^(alpha-1) = 1, the (1/(alpha-1))-norm of the
//    gaps. For alpha <= 2 phi is convex and Jensen's bound (collect_candidates) starts
//    left of the root; the steps take about 2 to 4 evaluations of f. For alpha > 2 f
//    has steep kinks where entries join the support. The bracket shrinks with every
//    evaluation, and a step that leaves it, or follows two evaluations that did not
//    halve it, is replaced by bisection (about 5 to 30 evaluations up to alpha = 10).
// 4. Stop when the mass is within summation round-off of 1, the step falls below the
//    round-off of delta, or the bracket collapses. The p of that last evaluation,
//    renormalised to sum to 1, is the output; for alpha > 2, that of anchored_row_mass.
// alpha must be > 1 and finite; the tensor ops check that.
template <typename T>
EntmaxRowInfo entmax_bisect_row_forward(T* p, const T* z, int64_t n, double alpha, EntmaxBisectScratch& scratch) {
  using entmax_detail::MassDerivatives;
  ENTLAB_DEBUG_ASSERT(alpha > 1.0 && std::isfinite(alpha));
  EntmaxRowInfo info;
  const entmax_detail::RowMax<T> row = entmax_detail::find_row_max(z, n);
  if (entmax_detail::write_special_row(p, n, row, info)) return info;

  const double alpha_minus_1 = alpha - 1.0;
  const double max_score = static_cast<double>(row.max);
  const entmax_detail::EntmaxPower power(alpha);

  // 1-2. Candidates, bracket and start. A single candidate has mass exactly 1 at
  //      delta = 0, which is then both ends of the bracket.
  std::vector<double>& values = scratch.values;
  const double start =
      entmax_detail::collect_candidates(z, n, max_score, alpha_minus_1, scratch.shifted, scratch.index);
  const size_t candidates = scratch.shifted.size();
  values.resize(candidates);
  double lower = 0.0;
  double upper = -std::expm1(-alpha_minus_1 * std::log(static_cast<double>(candidates)));
  double delta = std::min(start, upper);
  const double mass_round_off = 2.0 * static_cast<double>(candidates) * DBL_EPSILON;

  // 3-4. Each evaluation of the mass also stores the candidates' unnormalised p.
  MassDerivatives at = entmax_detail::candidates_mass(scratch.shifted, values, delta, power);
  double width_before_last = upper - lower, width_last = upper - lower;
  for (int iteration = 0; iteration < entmax_detail::kMaxRootIterations; ++iteration) {
    const double excess = at.mass - 1.0;
    if (std::fabs(excess) <= mass_round_off) break;
    if (excess > 0.0) {
      lower = delta;
    } else {
      upper = delta;
    }
    if (upper - lower <= 4.0 * DBL_EPSILON * upper) break;
    // For alpha > 2 the steps can crawl along a steep kink; bisect whenever the last
    // two evaluations did not halve the bracket. (For alpha <= 2 the steps approach
    // the root from one side, so only one end moves and the rule would misfire.)
    const bool slow = alpha > 2.0 && upper - lower > 0.5 * width_before_last;
    width_before_last = width_last;
    width_last = upper - lower;

    // Halley on psi = phi - 1 = expm1((alpha-1) log f), with
    //   phi'  = c f'                          c = (alpha-1) f^(alpha-2)
    //   phi'' = c (f'' + (alpha-2) f'^2 / f)
    //   step  = -2 psi phi' / (2 phi'^2 - psi phi'')
    //         = -2 psi f' / (2 c f'^2 - psi (f'' + (alpha-2) f'^2 / f))
    // expm1 keeps the digits of psi when alpha is near 1.
    const double log_mass = std::log(at.mass);
    const double psi = std::expm1(alpha_minus_1 * log_mass);
    const double c = alpha_minus_1 * std::exp((alpha_minus_1 - 1.0) * log_mass);
    const double slope_squared = at.slope * at.slope;
    const double step = -2.0 * psi * at.slope /
                        (2.0 * c * slope_squared - psi * (at.curvature + (alpha_minus_1 - 1.0) * slope_squared / at.mass));
    if (std::fabs(step) <= 2.0 * DBL_EPSILON * delta) break;  // below the round-off of delta
    const double next = delta + step;
    delta = next > lower && next < upper && !slow ? next : 0.5 * (lower + upper);
    at = entmax_detail::candidates_mass(scratch.shifted, values, delta, power);
  }
  info.tau = (delta - 1.0) + alpha_minus_1 * max_score;

  // 5. p = the candidates' values renormalised to sum to 1, 0 elsewhere; for
  //    alpha > 2 from anchored_row_mass, which writes all of p.
  if (alpha > 2.0 && candidates > 1) {
    const double mass = entmax_detail::anchored_row_mass(p, z, n, max_score, alpha_minus_1, delta - 1.0, info.tau);
    const double inverse_mass = 1.0 / mass;
    for (int64_t j = 0; j < n; ++j) p[j] = static_cast<T>(static_cast<double>(p[j]) * inverse_mass);
  } else {
    const double inverse_mass = 1.0 / at.mass;
    for (int64_t j = 0; j < n; ++j) p[j] = T(0);
    for (size_t c = 0; c < candidates; ++c) p[scratch.index[c]] = static_cast<T>(values[c] * inverse_mass);
  }
  for (int64_t j = 0; j < n; ++j) info.support_size += p[j] > T(0);
  return info;
}

// As above with scratch allocated for this call.
template <typename T>
EntmaxRowInfo entmax_bisect_row_forward(T* p, const T* z, int64_t n, double alpha) {
  EntmaxBisectScratch scratch;
  return entmax_bisect_row_forward(p, z, n, alpha, scratch);
}

// dz += s g - s <s, g> / sum s, with s = p^(2 - alpha) on the support (p > 0).
// `weights` is caller-owned scratch for s, so each s is computed once.
// NOTE: for alpha > 2, s grows without bound as p -> 0, so an entry just inside the
// support can get a very large gradient, and in float32 one with p below about 1e-36
// can overflow to inf. That is the Jacobian itself, not round-off.
template <typename T>
void entmax_bisect_row_backward(T* dz, const T* g, const T* p, int64_t n, double alpha, std::vector<double>& weights) {
  if (alpha == 2.0) {
    sparsemax_row_backward(dz, g, p, n);
    return;
  }
  if (alpha == 1.5) {
    entmax15_row_backward(dz, g, p, n);
    return;
  }

  // 1. s_j = p_j^(2 - alpha) through exp and log (faster here than std::pow), with the
  //    sums sum s and <s, g>. NaN p counts as support, so a NaN row stays NaN.
  const double weight_exponent = 2.0 - alpha;
  weights.resize(static_cast<size_t>(n));
  double sum_s = 0.0, sum_sg = 0.0;
  for (int64_t j = 0; j < n; ++j) {
    if (p[j] <= T(0)) {
      weights[j] = 0.0;
      continue;
    }
    weights[j] = std::exp(weight_exponent * std::log(static_cast<double>(p[j])));
    sum_s += weights[j];
    sum_sg += weights[j] * g[j];
  }
  if (sum_s == 0.0) return;  // fully masked row

  // 2. dz_j += s_j (g_j - <s, g> / sum s).
  const double weighted_mean = sum_sg / sum_s;
  for (int64_t j = 0; j < n; ++j) {
    if (p[j] <= T(0)) continue;
    dz[j] += static_cast<T>(weights[j] * (g[j] - weighted_mean));
  }
}

// As above with scratch allocated for this call.
template <typename T>
void entmax_bisect_row_backward(T* dz, const T* g, const T* p, int64_t n, double alpha) {
  std::vector<double> weights;
  entmax_bisect_row_backward(dz, g, p, n, alpha, weights);
}

// dL/d alpha for one row, given g = dL/dp and the row's output p:
//   S_j = p_j log p_j (0 off the support), H = sum_j S_j, s_j = p_j^(2-alpha), t = s / sum s
//   dalpha = sum_j g_j ((p_j - t_j) / (alpha-1)^2 - (S_j - t_j H) / (alpha-1))
// Derivation: on the support log p_j = log y_j / (alpha-1) with y_j = (alpha-1) z_j - tau,
// and log y_j = (alpha-1) log p_j, p_j / y_j = s_j, so
//   dp_j/dalpha = (s_j (z_j - tau') - S_j) / (alpha-1).
// sum_j dp_j = 0 gives tau' = (<s, z> - H) / sum s. With s_j z_j = (p_j + s_j tau) / (alpha-1)
// the z terms s_j z_j - t_j <s, z> become (p_j - t_j) / (alpha-1).
// For alpha near 1, p - t is a small difference of near-equal numbers, so it is formed
// from e_j = s_j / p_j - 1 = expm1((1-alpha) log p_j) and E = sum_j p_j e_j:
// p_j - t_j = p_j (E - e_j) / (1 + E). 0 for an all -inf row, NaN for a NaN row.
template <typename T>
T entmax_alpha_grad_row(const T* g, const T* p, int64_t n, double alpha) {
  const double alpha_minus_1 = alpha - 1.0;
  double sum_gp = 0.0;   // sum g_j p_j
  double sum_gpe = 0.0;  // sum g_j p_j e_j
  double sum_gS = 0.0;   // sum g_j S_j
  double sum_pe = 0.0;   // E = sum p_j e_j
  double entropy_term = 0.0;  // H = sum S_j
  for (int64_t j = 0; j < n; ++j) {
    if (p[j] <= T(0)) continue;
    const double p_j = static_cast<double>(p[j]);
    const double log_p = std::log(p_j);
    const double e_j = std::expm1(-alpha_minus_1 * log_p);
    const double S_j = p_j * log_p;
    sum_gp += g[j] * p_j;
    sum_gpe += g[j] * p_j * e_j;
    sum_gS += g[j] * S_j;
    sum_pe += p_j * e_j;
    entropy_term += S_j;
  }
  // t_j = p_j (1 + e_j) / (1 + E), so
  //   sum_j g_j (p_j - t_j) = (E sum g p - sum g p e) / (1 + E)
  //   sum_j g_j t_j         = (sum g p + sum g p e) / (1 + E)
  const double one_plus_e = 1.0 + sum_pe;
  const double g_dot_p_minus_t = (sum_pe * sum_gp - sum_gpe) / one_plus_e;
  const double g_dot_t = (sum_gp + sum_gpe) / one_plus_e;
  const double dalpha = g_dot_p_minus_t / (alpha_minus_1 * alpha_minus_1) -
                        (sum_gS - g_dot_t * entropy_term) / alpha_minus_1;
  return static_cast<T>(dalpha);
}

}  // namespace entlab
