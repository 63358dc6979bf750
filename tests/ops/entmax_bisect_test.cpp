#include <doctest/doctest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "ops/op_test_support.h"
#include "ops/ops.h"

using namespace entlab;
using namespace entlab::testing;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr double kInf64 = std::numeric_limits<double>::infinity();

// The alphas the checks run at. 1.25, 1.5 and 2 have whole exponents 1/(alpha-1) and
// take the multiplication path, 1.01, 1.37 and 1.8 the exp/log path, and 3 and 4 also
// the anchored re-solve for alpha > 2.
const std::vector<double> kAlphas = {1.01, 1.25, 1.37, 1.5, 1.8, 2.0, 3.0, 4.0};

// alpha-entmax of one row in double by the double row kernel.
std::vector<double> bisect_double(const std::vector<double>& z, double alpha, EntmaxRowInfo* info = nullptr) {
  std::vector<double> p(z.size());
  EntmaxRowInfo result = entmax_bisect_row_forward(p.data(), z.data(), static_cast<int64_t>(z.size()), alpha);
  if (info) *info = result;
  return p;
}

// VJP of the double row kernel with upstream g.
std::vector<double> bisect_vjp_double(const std::vector<double>& z, const std::vector<double>& g, double alpha) {
  const std::vector<double> p = bisect_double(z, alpha);
  std::vector<double> dz(z.size(), 0.0);
  entmax_bisect_row_backward(dz.data(), g.data(), p.data(), static_cast<int64_t>(z.size()), alpha);
  return dz;
}

// dL/dalpha of L = <g, p> by the double row functions.
double alpha_grad_double(const std::vector<double>& z, const std::vector<double>& g, double alpha) {
  const std::vector<double> p = bisect_double(z, alpha);
  return entmax_alpha_grad_row(g.data(), p.data(), static_cast<int64_t>(z.size()), alpha);
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double total = 0.0;
  for (size_t i = 0; i < a.size(); ++i) total += a[i] * b[i];
  return total;
}

// An independent reference: 200 halvings in long double of tau in [max - 1, max] for
// sum_j [(alpha-1) z_j - tau]_+^(1/(alpha-1)) = 1 (the max over the finite entries).
std::vector<double> bisection_reference(const std::vector<double>& z, double alpha) {
  std::vector<double> p(z.size(), 0.0);
  const long double alpha_minus_1 = static_cast<long double>(alpha) - 1.0L;
  const long double exponent = 1.0L / alpha_minus_1;
  long double top = -kInf64;
  for (double v : z)
    if (v != -kInf64) top = std::max(top, alpha_minus_1 * v);
  if (top == -kInf64) return p;
  auto gap = [&](double v, long double tau) { return v == -kInf64 ? -1.0L : alpha_minus_1 * v - tau; };
  auto mass = [&](long double tau) {
    long double total = 0.0L;
    for (double v : z)
      if (gap(v, tau) > 0) total += std::pow(gap(v, tau), exponent);
    return total;
  };
  long double low = top - 1.0L, high = top;
  for (int step = 0; step < 200; ++step) {
    const long double middle = 0.5L * (low + high);
    (mass(middle) >= 1.0L ? low : high) = middle;
  }
  const long double tau = 0.5L * (low + high);
  const long double total = mass(tau);
  for (size_t j = 0; j < z.size(); ++j)
    if (gap(z[j], tau) > 0) p[j] = static_cast<double>(std::pow(gap(z[j], tau), exponent) / total);
  return p;
}

// Distance, in units of (alpha - 1) z, from the nearest finite entry to the threshold:
// the row is that far from a change of support.
double distance_to_boundary(const std::vector<double>& z, double alpha) {
  EntmaxRowInfo info;
  bisect_double(z, alpha, &info);
  double distance = kInf64;
  for (double v : z)
    if (v != -kInf64) distance = std::min(distance, std::fabs((alpha - 1) * v - info.tau));
  return distance;
}

// Normal scores times `scale`, redrawn until every entry is at least `margin` from a
// support boundary.
std::vector<double> row_away_from_boundary(Rng& rng, int64_t n, double scale, double alpha, double margin) {
  for (;;) {
    std::vector<double> z(static_cast<size_t>(n));
    for (double& v : z) v = scale * rng.normal();
    if (distance_to_boundary(z, alpha) >= margin) return z;
  }
}

// Float rows of `shape` whose double twins are at least `margin` from every support
// boundary at each alpha in `alphas`. -inf entries of `mask` (same shape, or empty)
// are added to the scores before the check; the returned scores exclude the mask.
Tensor scores_away_from_boundary(const Shape& shape, Rng& rng, double scale, const std::vector<double>& alphas,
                                 double margin, const std::vector<float>& mask = {}) {
  const int64_t n = shape.back();
  std::vector<float> values;
  while (static_cast<int64_t>(values.size()) < shape_numel(shape)) {
    const size_t start = values.size();
    std::vector<float> row;
    std::vector<double> seen;
    for (int64_t j = 0; j < n; ++j) {
      row.push_back(static_cast<float>(scale * rng.normal()));
      const bool masked = !mask.empty() && mask[start + static_cast<size_t>(j)] == -kInf;
      seen.push_back(masked ? -kInf64 : row.back());
    }
    bool far = true;
    for (double alpha : alphas) far = far && distance_to_boundary(seen, alpha) >= margin;
    if (far) values.insert(values.end(), row.begin(), row.end());
  }
  return Tensor::from_vector(shape, values);
}

// Runs entmax_bisect on x (requiring grad) and returns dL/dx for L = sum(p * g).
std::vector<float> bisect_vjp(const Tensor& values, const std::vector<float>& g, double alpha) {
  Tensor x = param(values.clone_values());
  Tensor y = entmax_bisect(x, alpha);
  backward(y, Tensor::from_vector(y.shape(), g));
  return x.grad().to_vector();
}

std::vector<double> to_double_row(const float* values, int64_t n) { return std::vector<double>(values, values + n); }

}  // namespace

// --- alpha checks --------------------------------------------------------------------------

TEST_CASE("entmax_bisect rejects alpha = 1 and points to softmax") {
  Tensor x = Tensor::from_vector({3}, {0, 0, 1});
  CHECK_THROWS_WITH_AS(entmax_bisect(x, 1.0), doctest::Contains("softmax"), Error);
  CHECK_THROWS_WITH_AS(entmax_bisect(x, Tensor::scalar(1.0f)), doctest::Contains("softmax"), Error);
}

TEST_CASE("entmax_bisect rejects alpha below 1 and non-finite alpha") {
  Tensor x = Tensor::from_vector({3}, {0, 0, 1});
  for (double alpha : {0.9, 0.0, -2.0, std::nan(""), kInf64, -kInf64}) {
    INFO("alpha ", alpha);
    CHECK_THROWS_WITH_AS(entmax_bisect(x, alpha), doctest::Contains("finite alpha > 1"), Error);
  }
  // A per-head alpha names the offending element.
  Tensor heads = Tensor::from_vector({2, 1}, {1.5f, 0.9f}, "alpha_heads");
  CHECK_THROWS_WITH_AS(entmax_bisect(Tensor::zeros({1, 2, 3, 3}), heads),
                       doctest::Contains("at flat index 1 is 0.9"), Error);
}

TEST_CASE("entmax_bisect rejects an alpha that does not broadcast to the rows") {
  Tensor x = Tensor::zeros({2, 4, 5, 7}, "scores");
  CHECK_THROWS_WITH_AS(entmax_bisect(x, Tensor::full({3, 1}, 1.5f)), doctest::Contains("does not broadcast"), Error);
  // alpha may not run along the normalised (last) dimension.
  CHECK_THROWS_WITH_AS(entmax_bisect(x, Tensor::full({2, 4, 5, 7}, 1.5f)), doctest::Contains("does not broadcast"),
                       Error);
  CHECK_NOTHROW(entmax_bisect(x, Tensor::full({4, 1}, 1.5f)));
  CHECK_NOTHROW(entmax_bisect(x, Tensor::full({2, 4, 5}, 1.5f)));
  CHECK_NOTHROW(entmax_bisect(x, Tensor::full({1}, 1.5f)));
  CHECK_NOTHROW(entmax_bisect(x, Tensor::scalar(1.5f)));
  CHECK_NOTHROW(entmax_bisect(Tensor::zeros({7}), Tensor::full({1}, 1.5f)));
}

TEST_CASE("entmax_bisect rejects an empty last dim") {
  CHECK_THROWS_WITH_AS(entmax_bisect(Tensor::zeros({3, 0}), 1.5), doctest::Contains("non-empty last dimension"),
                       Error);
}

// --- alpha near 1 and large alpha -----------------------------------------------------------

TEST_CASE("entmax_bisect at alpha = 1.00001 is within 1e-5 of softmax, [0, 0, 1]") {
  const std::vector<double> softmax_values = {0.2119416, 0.2119416, 0.5761169};
  const std::vector<double> expected = {0.2119403, 0.2119403, 0.5761195};
  const std::vector<float> p = entmax_bisect(Tensor::from_vector({3}, {0, 0, 1}), 1.00001).to_vector();
  CHECK_ALL_NEAR(p, expected, kFloat32);
  CHECK_ALL_NEAR(p, softmax_values, (Tolerance{0.0, 1e-5}));
  CHECK_ALL_NEAR(bisect_double({0, 0, 1}, 1.00001), expected, (Tolerance{0.0, 1e-7}));
}

TEST_CASE("entmax_bisect approaches softmax as alpha -> 1 on random rows") {
  Rng rng(140);
  Tensor z = normal_tensor({20, 12}, rng);
  const std::vector<float> reference = softmax(z).to_vector();
  for (double alpha : {1.00001, 1.0000001}) {
    INFO("alpha ", alpha);
    // The difference to softmax is of order (alpha - 1) z^2.
    CHECK_ALL_NEAR(entmax_bisect(z, alpha).to_vector(), to_doubles(reference), (Tolerance{0.0, 1e-4}));
  }
}

TEST_CASE("entmax_bisect at alpha = 10 on [t, 0]") {
  // Both coordinates are positive while t < 1/9, and then p1^9 - p2^9 = 9 t with
  // p1 + p2 = 1. At t = 0.1, p2^9 = 4e-18 lies far below the double spacing of 0.9;
  // a solver that measures gaps from the max alone gets p2 from rounding (for example
  // p1 = 0.9832120 where the solution of the equations is 0.9883615).
  const std::vector<std::pair<double, double>> table = {
      {-0.05, 0.0849011}, {0.0, 0.5}, {0.01, 0.7652545}, {0.05, 0.9150989},
      {0.1, 0.9883615},   {0.2, 1.0}, {1.0, 1.0}};
  for (const auto& [t, p1] : table) {
    INFO("t = ", t);
    const std::vector<double> p = bisect_double({t, 0}, 10.0);
    CHECK_NEAR(p[0], p1, (Tolerance{0.0, 1e-7}));
    CHECK_NEAR(p[0] + p[1], 1.0, kClosedForm64);
    if (t < 1.0 / 9) CHECK_NEAR(std::pow(p[0], 9) - std::pow(p[1], 9), 9 * t, kClosedForm64);
    const std::vector<float> pf = entmax_bisect(Tensor::from_vector({2}, {static_cast<float>(t), 0}), 10.0).to_vector();
    CHECK_NEAR(pf[0], p1, kFloat32);
  }
  // At t = 1/9 the second entry sits exactly on the boundary.
  const std::vector<double> edge = bisect_double({1.0 / 9, 0}, 10.0);
  CHECK_NEAR(edge[0], 1.0, kClosedForm64);
  CHECK_NEAR(edge[1], 0.0, kClosedForm64);
}

namespace {

// p1 of [t, 0] for 10001 points t = (i - 5000) / 5000 in [-1, 1], in double by the row
// kernel and in float by the tensor op, for one alpha. Point 10000 - i is exactly -t.
struct TwoPointCurve {
  std::vector<double> t;
  std::vector<double> p1_double;
  std::vector<float> p1_float;
};

TwoPointCurve two_point_curve(double alpha, bool use_sparsemax) {
  TwoPointCurve curve;
  std::vector<float> rows;
  for (int i = 0; i <= 10000; ++i) {
    const double t = (i - 5000) / 5000.0;
    curve.t.push_back(t);
    curve.p1_double.push_back(bisect_double({t, 0}, alpha)[0]);
    rows.push_back(static_cast<float>(t));
    rows.push_back(0.0f);
  }
  Tensor x = Tensor::from_vector({10001, 2}, rows);
  const std::vector<float> p = (use_sparsemax ? sparsemax(x) : entmax_bisect(x, alpha)).to_vector();
  for (int i = 0; i <= 10000; ++i) curve.p1_float.push_back(p[2 * i]);
  return curve;
}

}  // namespace

TEST_CASE("entmax_bisect alpha = 10 curve is monotone and symmetric") {
  const TwoPointCurve curve = two_point_curve(10.0, false);
  bool monotone_double = true, monotone_float = true, symmetric_double = true, symmetric_float = true;
  for (int i = 0; i <= 10000; ++i) {
    if (i > 0) {
      monotone_double = monotone_double && curve.p1_double[i] >= curve.p1_double[i - 1];
      monotone_float = monotone_float && curve.p1_float[i] >= curve.p1_float[i - 1];
    }
    // t at index 10000 - i is -t.
    const int mirror = 10000 - i;
    symmetric_double = symmetric_double && std::fabs(curve.p1_double[mirror] - (1.0 - curve.p1_double[i])) <= 4 * DBL_EPSILON;
    symmetric_float = symmetric_float && std::fabs(curve.p1_float[mirror] - (1.0f - curve.p1_float[i])) <= 2 * FLT_EPSILON;
  }
  CHECK(monotone_double);
  CHECK(monotone_float);
  CHECK(symmetric_double);
  CHECK(symmetric_float);
}

TEST_CASE("alpha = 2 curve on [t, 0] is clip((t + 1) / 2)") {
  for (bool use_sparsemax : {false, true}) {
    INFO("transform: ", (use_sparsemax ? "sparsemax" : "entmax_bisect(2)"));
    const TwoPointCurve curve = two_point_curve(2.0, use_sparsemax);
    bool monotone = true, symmetric = true, closed_form_double = true, closed_form_float = true;
    for (int i = 0; i <= 10000; ++i) {
      const double expected = std::min(std::max((curve.t[i] + 1.0) / 2.0, 0.0), 1.0);
      const double expected_float = std::min(std::max((static_cast<float>(curve.t[i]) + 1.0) / 2.0, 0.0), 1.0);
      closed_form_double = closed_form_double && std::fabs(curve.p1_double[i] - expected) <= 1e-15;
      closed_form_float = closed_form_float && std::fabs(curve.p1_float[i] - expected_float) <= 1e-7;
      if (i > 0) monotone = monotone && curve.p1_float[i] >= curve.p1_float[i - 1];
      symmetric = symmetric && std::fabs(curve.p1_float[10000 - i] - (1.0f - curve.p1_float[i])) <= 2 * FLT_EPSILON;
    }
    CHECK(closed_form_double);
    CHECK(closed_form_float);
    CHECK(monotone);
    CHECK(symmetric);
  }
}

TEST_CASE("entmax_bisect at large alpha sums to 1 and stays finite") {
  Rng rng(141);
  for (double alpha : {10.0, 100.0}) {
    Tensor z = normal_tensor({50, 20}, rng, 0.05f);
    const std::vector<float> p = entmax_bisect(z, alpha).to_vector();
    for (int64_t row = 0; row < 50; ++row) {
      double total = 0.0;
      bool finite_non_negative = true;
      for (int64_t j = 0; j < 20; ++j) {
        total += p[row * 20 + j];
        finite_non_negative = finite_non_negative && std::isfinite(p[row * 20 + j]) && p[row * 20 + j] >= 0.0f;
      }
      INFO("alpha ", alpha, ", row ", row);
      CHECK_NEAR(total, 1.0, kFloat32);
      CHECK(finite_non_negative);
    }
  }
}

TEST_CASE("entmax_bisect alpha = 1 + sigmoid(a) gradient") {
  // a = 0 gives alpha = 1.5 and d alpha / d a = 0.25.
  Rng rng(142);
  Tensor z = scores_away_from_boundary({3, 5}, rng, 1.0, {1.5}, 1e-2);
  Tensor g = normal_tensor({3, 5}, rng);

  Tensor a = param(Tensor::scalar(0.0f, "a"));
  Tensor alpha = add_scalar(sigmoid(a), 1.0f);
  CHECK(alpha.item() == 1.5f);
  backward(entmax_bisect(z, alpha), g);

  Tensor direct_alpha = param(Tensor::scalar(1.5f));
  backward(entmax_bisect(z, direct_alpha), g);
  CHECK_NEAR(a.grad().item(), 0.25 * direct_alpha.grad().item(), kFloat32);
  CHECK(std::fabs(direct_alpha.grad().item()) > 1e-3f);  // a real gradient, not a zero that matches anything
}

TEST_CASE("entmax_bisect rejects alpha rounded to 1") {
  // In float32, 1 + sigmoid(-20) = 1 + 2e-9 rounds to exactly 1.
  Tensor alpha = add_scalar(sigmoid(Tensor::scalar(-20.0f)), 1.0f);
  CHECK(alpha.item() == 1.0f);
  CHECK_THROWS_WITH_AS(entmax_bisect(Tensor::zeros({2, 3}), alpha), doctest::Contains("softmax"), Error);
}

// --- Agreement with the exact kernels -----------------------------------------------------------

TEST_CASE("entmax_bisect matches entmax15 and sparsemax") {
  Rng rng(143);
  for (int trial = 0; trial < 40; ++trial) {
    const int64_t n = 2 + trial % 30;
    std::vector<double> z(static_cast<size_t>(n));
    for (double& v : z) v = (0.3 + trial % 4) * rng.normal();
    if (trial % 5 == 0) z[0] = -kInf64;
    std::vector<double> exact15(z.size()), exact2(z.size()), scratch;
    entmax15_row_forward(exact15.data(), z.data(), n, scratch);
    sparsemax_row_forward(exact2.data(), z.data(), n, scratch);
    INFO("trial ", trial, ", n = ", n);
    CHECK_ALL_NEAR(bisect_double(z, 1.5), exact15, (Tolerance{0.0, 1e-13}));
    CHECK_ALL_NEAR(bisect_double(z, 2.0), exact2, (Tolerance{0.0, 1e-13}));
  }

  Tensor x = normal_tensor({64, 40}, rng, 1.5f);
  CHECK_ALL_NEAR(entmax_bisect(x, 1.5).to_vector(), to_doubles(entmax15(x).to_vector()), kFloat32);
  CHECK_ALL_NEAR(entmax_bisect(x, 2.0).to_vector(), to_doubles(sparsemax(x).to_vector()), kFloat32);
}

TEST_CASE("entmax_bisect row kernel matches long double bisection, n = 2..40") {
  // Rows at least 1e-4 from a support boundary: for alpha > 2, p = gap^(1/(alpha-1))
  // is steep at small gaps, where the reference's own rounding would show.
  Rng rng(144);
  for (double alpha : kAlphas) {
    for (int trial = 0; trial < 25; ++trial) {
      const int64_t n = 2 + (trial * 7) % 39;
      std::vector<double> z = row_away_from_boundary(rng, n, 0.5 + trial % 3, alpha, 1e-4);
      if (trial % 4 == 0) z[static_cast<size_t>(n - 1)] = -kInf64;
      INFO("alpha ", alpha, ", trial ", trial, ", n = ", n);
      CHECK_ALL_NEAR(bisect_double(z, alpha), bisection_reference(z, alpha), (Tolerance{0.0, 1e-12}));
    }
  }
}

TEST_CASE("entmax_bisect reports tau in score units") {
  Rng rng(145);
  for (double alpha : kAlphas) {
    for (double offset : {0.0, -20.0, 75.0}) {
      std::vector<double> z(8);
      for (double& v : z) v = offset + rng.normal();
      EntmaxRowInfo info;
      const std::vector<double> p = bisect_double(z, alpha, &info);
      std::vector<double> from_tau;
      double total = 0.0;
      for (double v : z) {
        const double gap = (alpha - 1) * v - info.tau;
        from_tau.push_back(gap > 0 ? std::pow(gap, 1 / (alpha - 1)) : 0.0);
        total += from_tau.back();
      }
      INFO("alpha ", alpha, ", offset ", offset);
      CHECK_NEAR(total, 1.0, (Tolerance{0.0, 1e-10}));
      CHECK_ALL_NEAR(p, from_tau, (Tolerance{0.0, 1e-10}));
      CHECK(info.support_size == std::count_if(p.begin(), p.end(), [](double v) { return v > 0; }));
    }
  }
}

// --- Values with closed forms ---------------------------------------------------------------

TEST_CASE("entmax_bisect at alpha = 1.5 of [1, 0, -inf, -inf] and its VJP") {
  const double big = (4 + std::sqrt(7.0)) / 8, small = (4 - std::sqrt(7.0)) / 8;
  const double vjp_value = 0.375 / std::sqrt(1.75);
  CHECK_ALL_NEAR(bisect_double({1, 0, -kInf64, -kInf64}, 1.5), (std::vector<double>{big, small, 0, 0}),
                 kClosedForm64);
  Tensor x = Tensor::from_vector({4}, {1, 0, -kInf, -kInf});
  CHECK_ALL_NEAR(entmax_bisect(x, 1.5).to_vector(), (std::vector<double>{0.8307189, 0.1692811, 0, 0}), kFloat32);
  const std::vector<float> dz = bisect_vjp(x, {1, 2, 3, 4}, 1.5);
  CHECK_ALL_NEAR(dz, (std::vector<double>{-vjp_value, vjp_value, 0, 0}), kFloat32);
  CHECK(dz[2] == 0.0f);
  CHECK(dz[3] == 0.0f);
}

TEST_CASE("entmax_bisect at alpha = 2 on the sparsemax table") {
  CHECK_ALL_NEAR(bisect_double({2, 2, 2}, 2.0), (std::vector<double>{1.0 / 3, 1.0 / 3, 1.0 / 3}), kClosedForm64);
  CHECK_ALL_NEAR(bisect_double({1, 2, 3}, 2.0), (std::vector<double>{0, 0, 1}), kClosedForm64);
  CHECK_ALL_NEAR(bisect_double({1, 2}, 2.0), (std::vector<double>{0, 1}), kClosedForm64);
  CHECK_ALL_NEAR(bisect_double({2, 2}, 2.0), (std::vector<double>{0.5, 0.5}), kClosedForm64);
  CHECK_ALL_NEAR(bisect_double({0.1, 0.2, 0.3}, 2.0), (std::vector<double>{0.7 / 3, 1.0 / 3, 1.3 / 3}),
                 kClosedForm64);
  CHECK_ALL_NEAR(bisect_vjp_double({0.1, 0.2, 0.3}, {1, 2, 3}, 2.0), (std::vector<double>{-1, 0, 1}),
                 kClosedForm64);
  CHECK_ALL_NEAR(bisect_double({1, 0.5, 0.2}, 2.0), (std::vector<double>{0.75, 0.25, 0}), kClosedForm64);
  CHECK_ALL_NEAR(bisect_vjp_double({1, 0.5, 0.2}, {1, 2, 3}, 2.0), (std::vector<double>{-0.5, 0.5, 0}),
                 kClosedForm64);
}

TEST_CASE("entmax_bisect(1.5) of tied [1, 1, 0]") {
  const double u = (std::sqrt(10.0) - 2) / 6;
  const double high = (0.5 + u) * (0.5 + u), low = u * u;
  CHECK_ALL_NEAR(bisect_double({1, 1, 0}, 1.5), (std::vector<double>{high, high, low}), kClosedForm64);
  CHECK_ALL_NEAR(bisect_double({1, 0, 1}, 1.5), (std::vector<double>{high, low, high}), kClosedForm64);
  const std::vector<float> p = entmax_bisect(Tensor::from_vector({2, 3}, {1, 1, 0, 1, 0, 1}), 1.5).to_vector();
  CHECK_ALL_NEAR(p, (std::vector<double>{0.4812376, 0.4812376, 0.0375247, 0.4812376, 0.0375247, 0.4812376}),
                 kFloat32);
  CHECK(p[0] == p[1]);
  CHECK(p[3] == p[5]);
}

// --- Masked and hard rows ----------------------------------------------------------------------

TEST_CASE("entmax_bisect of an all -inf row is zeros with zero gradients") {
  for (double alpha : kAlphas) {
    INFO("alpha ", alpha);
    Tensor z = Tensor::full({4}, -kInf);
    CHECK(entmax_bisect(z, alpha).to_vector() == std::vector<float>{0, 0, 0, 0});
    CHECK(bisect_vjp(z, {1, -2, 3, 0.5f}, alpha) == std::vector<float>{0, 0, 0, 0});
    const std::vector<double> masked = {-kInf64, -kInf64};
    EntmaxRowInfo info;
    CHECK(bisect_double(masked, alpha, &info) == std::vector<double>{0, 0});
    CHECK(info.support_size == 0);
    CHECK(alpha_grad_double(masked, {1, 2}, alpha) == 0.0);

    Tensor x = param(Tensor::full({2, 3}, -kInf));
    Tensor a = param(Tensor::scalar(static_cast<float>(alpha)));
    backward(entmax_bisect(x, a), Tensor::ones({2, 3}));
    CHECK(x.grad().to_vector() == std::vector<float>(6, 0.0f));
    CHECK(a.grad().item() == 0.0f);
  }
}

TEST_CASE("entmax_bisect of a batch with one fully masked row") {
  Tensor z = Tensor::from_vector({2, 3}, {0, -kInf, -kInf, -kInf, -kInf, -kInf});
  for (double alpha : {1.25, 1.5, 3.0}) {
    INFO("alpha ", alpha);
    CHECK(entmax_bisect(z, alpha).to_vector() == std::vector<float>{1, 0, 0, 0, 0, 0});
    CHECK(bisect_vjp(z, {1, 2, 3, 4, 5, 6}, alpha) == std::vector<float>(6, 0.0f));
  }
}

TEST_CASE("entmax_bisect with one finite score") {
  for (float value : {-1e30f, -3.0f, 0.0f, 7.5f, 1e30f}) {
    INFO("finite score ", value);
    Tensor z = Tensor::from_vector({5}, {-kInf, -kInf, value, -kInf, -kInf});
    CHECK(entmax_bisect(z, 1.37).to_vector() == std::vector<float>{0, 0, 1, 0, 0});
    CHECK(bisect_vjp(z, {1, 2, 3, 4, 5}, 1.37) == std::vector<float>(5, 0.0f));
    const std::vector<double> row = to_double_row(z.data(), 5);
    CHECK(alpha_grad_double(row, {1, 2, 3, 4, 5}, 1.37) == 0.0);
  }
}

TEST_CASE("entmax_bisect gives -inf entries zero probability and zero gradient") {
  Rng rng(146);
  Tensor z = normal_tensor({4, 6}, rng);
  for (int64_t row = 0; row < 4; ++row) z.data()[row * 6 + row] = -kInf;
  for (double alpha : kAlphas) {
    const std::vector<float> p = entmax_bisect(z, alpha).to_vector();
    const std::vector<float> dz = bisect_vjp(z, normal_tensor({4, 6}, rng).to_vector(), alpha);
    for (int64_t row = 0; row < 4; ++row) {
      INFO("alpha ", alpha, ", row ", row);
      CHECK(p[row * 6 + row] == 0.0f);
      CHECK(dz[row * 6 + row] == 0.0f);
    }
  }
}

TEST_CASE("entmax_bisect propagates NaN and +inf as NaN, forward and backward") {
  for (float bad : {std::nanf(""), kInf}) {
    INFO("bad score ", bad);
    for (float v : entmax_bisect(Tensor::from_vector({3}, {1, bad, 0}), 1.37).to_vector()) CHECK(std::isnan(v));
  }
  const std::vector<double> nan_p(3, std::nan("")), g = {1, 2, 3};
  for (double alpha : {1.37, 1.5, 2.0}) {
    std::vector<double> dz(3, 0.0);
    entmax_bisect_row_backward(dz.data(), g.data(), nan_p.data(), 3, alpha);
    INFO("alpha ", alpha);
    for (double v : dz) CHECK(std::isnan(v));
    CHECK(std::isnan(entmax_alpha_grad_row(g.data(), nan_p.data(), 3, alpha)));
  }
}

TEST_CASE("entmax_bisect rows of length 1") {
  CHECK(entmax_bisect(Tensor::from_vector({3, 1}, {-2.5f, 1e30f, -kInf}), 1.37).to_vector() ==
        std::vector<float>{1, 1, 0});
  CHECK(std::isnan(entmax_bisect(Tensor::from_vector({1}, {std::nanf("")}), 1.37).item()));
  CHECK(bisect_vjp(Tensor::from_vector({2, 1}, {0.5f, -kInf}), {3, 4}, 1.37) == std::vector<float>{0, 0});
}

TEST_CASE("entmax_bisect gives equal outputs to tied scores") {
  Rng rng(147);
  for (double alpha : kAlphas) {
    for (int trial = 0; trial < 10; ++trial) {
      std::vector<float> z(10);
      for (float& v : z) v = rng.normal();
      z[7] = z[2];
      z[9] = z[2];
      z[4] = z[0];
      const std::vector<float> p = entmax_bisect(Tensor::from_vector({10}, z), alpha).to_vector();
      INFO("alpha ", alpha, ", trial ", trial);
      CHECK(p[7] == p[2]);
      CHECK(p[9] == p[2]);
      CHECK(p[4] == p[0]);
    }
  }
}

TEST_CASE("entmax_bisect of far-apart large scores") {
  for (double alpha : {1.5, 1.25, 3.0}) {
    INFO("alpha ", alpha);
    CHECK(entmax_bisect(Tensor::from_vector({2}, {1.36762051e8f, 1.59594639e8f}), alpha).to_vector() ==
          std::vector<float>{0, 1});
    std::vector<float> z(128, -1005.0f);
    z[0] = -1000.0f;
    std::vector<float> expected(128, 0.0f);
    expected[0] = 1.0f;
    // The gap 5 is beyond the boundary 1 / (alpha - 1) for these alphas.
    CHECK(entmax_bisect(Tensor::from_vector({128}, z), alpha).to_vector() == expected);
  }
}

TEST_CASE("entmax_bisect of [1, 0.5, 0] + c for c in {0, -1000, 1e4}") {
  const Tolerance absolute_1e6{0.0, 1e-6};
  for (float c : {0.0f, -1000.0f, 1e4f}) {
    INFO("c = ", c);
    Tensor z = Tensor::from_vector({3}, {1 + c, 0.5f + c, c});
    CHECK_ALL_NEAR(entmax_bisect(z, 1.5).to_vector(), (std::vector<double>{0.6241975, 0.2916667, 0.0841358}),
                   absolute_1e6);
    CHECK_ALL_NEAR(entmax_bisect(z, 2.0).to_vector(), (std::vector<double>{0.75, 0.25, 0}), absolute_1e6);
  }
}

TEST_CASE("entmax_bisect of 1e4-sized scores matches the double row kernel") {
  // Differences of float scores are exact in double, so the float op must agree with
  // the double kernel on the same values to float round-off.
  Rng rng(148);
  for (float magnitude : {1e4f, -1e4f}) {
    for (double alpha : kAlphas) {
      std::vector<float> z(16);
      for (float& v : z) v = magnitude + 2.0f * rng.normal();
      INFO("magnitude ", magnitude, ", alpha ", alpha);
      CHECK_ALL_NEAR(entmax_bisect(Tensor::from_vector({16}, z), alpha).to_vector(),
                     bisect_double(to_double_row(z.data(), 16), alpha), kFloat32);
    }
  }
}

TEST_CASE("entmax_bisect row of length 100000 matches the double row kernel") {
  Rng rng(149);
  for (double alpha : {1.25, 1.5, 3.0}) {
    for (float scale : {0.01f, 1.0f}) {
      Tensor z = param(normal_tensor({100000}, rng, scale));
      Tensor p = entmax_bisect(z, alpha);
      const std::vector<double> z_double = to_double_row(z.data(), 100000);
      INFO("alpha ", alpha, ", scale ", scale);
      CHECK_ALL_NEAR(p.to_vector(), bisect_double(z_double, alpha), kFloat32);
      double total = 0.0;
      for (float v : p.to_vector()) total += v;
      CHECK_NEAR(total, 1.0, kFloat32);

      // The float backward against the double one on the same (float) p. For alpha > 2
      // the weights p^(2-alpha) grow without bound as p -> 0, so an entry whose p
      // underflows in float32 (p = 3e-64 here at alpha = 3, scale 0.01) changes the
      // VJP completely; comparing with the double forward would test that underflow.
      Tensor g = normal_tensor({100000}, rng);
      backward(p, g);
      const std::vector<double> p_double = to_doubles(p.to_vector()), g_double = to_doubles(g.to_vector());
      std::vector<double> expected(100000, 0.0);
      entmax_bisect_row_backward(expected.data(), g_double.data(), p_double.data(), 100000, alpha);
      CHECK_ALL_NEAR(z.grad().to_vector(), expected, (Tolerance{1e-4, 1e-6}));
      if (alpha <= 2.0) {
        CHECK_ALL_NEAR(z.grad().to_vector(), bisect_vjp_double(z_double, g_double, alpha), (Tolerance{1e-4, 1e-6}));
      }
    }
  }
}

// --- Properties on random rows -----------------------------------------------------------------

TEST_CASE("entmax_bisect rows are distributions, zero past boundary") {
  Rng rng(150);
  Tensor z = normal_tensor({100, 16}, rng, 1.5f);
  const std::vector<float> zs = z.to_vector();
  for (double alpha : kAlphas) {
    const std::vector<float> p = entmax_bisect(z, alpha).to_vector();
    for (int64_t row = 0; row < 100; ++row) {
      INFO("alpha ", alpha, ", row ", row);
      const float z_max = *std::max_element(zs.begin() + row * 16, zs.begin() + row * 16 + 16);
      double total = 0.0;
      bool non_negative = true, zero_past_boundary = true;
      for (int64_t j = 0; j < 16; ++j) {
        const float value = p[row * 16 + j];
        total += value;
        non_negative = non_negative && value >= 0.0f;
        if ((alpha - 1) * (static_cast<double>(z_max) - zs[row * 16 + j]) >= 1.0)
          zero_past_boundary = zero_past_boundary && value == 0.0f;
      }
      CHECK_NEAR(total, 1.0, kFloat32);
      CHECK(non_negative);
      CHECK(zero_past_boundary);
    }
  }
}

TEST_CASE("entmax_bisect ignores a constant added to the row") {
  // Dyadic scores and shifts: z_j - max z is exact, so the outputs match bit for bit.
  Rng rng(151);
  for (double alpha : kAlphas) {
    for (int trial = 0; trial < 10; ++trial) {
      std::vector<float> z(12);
      for (float& v : z) v = static_cast<float>(rng.randint(-64, 64)) / 32.0f;
      const std::vector<float> base = entmax_bisect(Tensor::from_vector({12}, z), alpha).to_vector();
      for (float c : {-512.0f, 0.25f, 4096.0f}) {
        std::vector<float> shifted;
        for (float v : z) shifted.push_back(v + c);
        INFO("alpha ", alpha, ", trial ", trial, ", c = ", c);
        CHECK(entmax_bisect(Tensor::from_vector({12}, shifted), alpha).to_vector() == base);
      }
    }
  }
}

TEST_CASE("entmax_bisect VJP sums to zero per row, shape (50,9)") {
  Rng rng(152);
  Tensor z = normal_tensor({50, 9}, rng);
  for (double alpha : kAlphas) {
    const std::vector<float> dz = bisect_vjp(z, normal_tensor({50, 9}, rng).to_vector(), alpha);
    for (int64_t row = 0; row < 50; ++row) {
      double total = 0.0, magnitude = 0.0;
      for (int64_t j = 0; j < 9; ++j) {
        total += dz[row * 9 + j];
        magnitude += std::fabs(dz[row * 9 + j]);
      }
      INFO("alpha ", alpha, ", row ", row);
      CHECK_NEAR(total, 0.0, (Tolerance{0.0, 1e-6 * std::max(1.0, magnitude)}));
    }
  }
}

TEST_CASE("entmax_alpha_grad_row of a constant g is zero") {
  // p always sums to 1, so <c 1, p> does not depend on alpha.
  Rng rng(153);
  for (double alpha : kAlphas) {
    std::vector<double> z(10);
    for (double& v : z) v = rng.normal();
    INFO("alpha ", alpha);
    CHECK_NEAR(alpha_grad_double(z, std::vector<double>(10, 3.0), alpha), 0.0, (Tolerance{0.0, 1e-9}));
  }
}

// --- Row kernels in double against central differences --------------------------------------

TEST_CASE("entmax_bisect row Jacobian in double vs central differences, n = 7") {
  // Rows within 1e-2 of a support boundary are redrawn; the step 1e-6 moves a gap by
  // at most about 4e-6, so it cannot cross one.
  Rng rng(154);
  const double h = 1e-6;
  for (double alpha : kAlphas) {
    for (int trial = 0; trial < 8; ++trial) {
      const int64_t n = 7;
      std::vector<double> z = row_away_from_boundary(rng, n, 0.5 + trial % 3, alpha, 1e-2);
      if (trial % 3 == 2) {
        z[static_cast<size_t>(trial % n)] = -kInf64;
        if (distance_to_boundary(z, alpha) < 1e-2) continue;
      }
      for (int64_t k = 0; k < n; ++k) {
        if (z[k] == -kInf64) continue;  // a -inf score stays -inf when moved by h
        std::vector<double> plus = z, minus = z;
        plus[k] += h;
        minus[k] -= h;
        const std::vector<double> p_plus = bisect_double(plus, alpha), p_minus = bisect_double(minus, alpha);
        for (int64_t i = 0; i < n; ++i) {
          std::vector<double> g(n, 0.0);
          g[i] = 1.0;
          const double analytic = bisect_vjp_double(z, g, alpha)[k];
          const double numeric = (p_plus[i] - p_minus[i]) / (2 * h);
          INFO("alpha ", alpha, ", trial ", trial, ", d p_", i, " / d z_", k);
          CHECK_NEAR(analytic, numeric, (Tolerance{1e-6, 1e-6}));
        }
      }
    }
  }
}

TEST_CASE("entmax_alpha_grad_row in double vs central differences in alpha") {
  Rng rng(155);
  const double h = 1e-6;
  for (double alpha : kAlphas) {
    for (int trial = 0; trial < 10; ++trial) {
      const int64_t n = 3 + trial % 6;
      // Far from a boundary at alpha +- h as well.
      std::vector<double> z;
      do {
        z = row_away_from_boundary(rng, n, 0.5 + trial % 3, alpha, 1e-2);
      } while (distance_to_boundary(z, alpha + h) < 1e-2 || distance_to_boundary(z, alpha - h) < 1e-2);
      if (trial % 4 == 3) z.push_back(-kInf64);
      std::vector<double> g(z.size());
      for (double& v : g) v = rng.normal();
      const double analytic = alpha_grad_double(z, g, alpha);
      const double numeric = (dot(g, bisect_double(z, alpha + h)) - dot(g, bisect_double(z, alpha - h))) / (2 * h);
      INFO("alpha ", alpha, ", trial ", trial, ", n = ", z.size());
      CHECK_NEAR(analytic, numeric, (Tolerance{1e-6, 1e-6}));
    }
  }
}

// --- Finite-difference checks of the float ops -------------------------------------------------

// The 4-point formula moves a score by up to 2 eps = 4e-3, which moves a gap
// (alpha - 1) z_j - tau by up to 2 (alpha - 1) 4e-3; the margins below cover that.
TEST_CASE("entmax_bisect gradcheck, shape (3,6)") {
  Rng rng(156);
  for (double alpha : {1.25, 1.5, 2.0, 3.0}) {
    INFO("alpha ", alpha);
    const double margin = alpha <= 2.0 ? 1e-2 : 2e-2;
    std::vector<Tensor> inputs = {param(scores_away_from_boundary({3, 6}, rng, 1.0, {alpha}, margin))};
    auto f = [alpha](const std::vector<Tensor>& x) { return entmax_bisect(x[0], alpha); };
    CHECK_GRADCHECK(f, inputs, gradcheck_options(2e-3, 3e-4, 5e-3));
  }
}

TEST_CASE("entmax_bisect gradcheck, alpha of shape () and (1)") {
  Rng rng(157);
  for (const Shape& alpha_shape : {Shape{}, Shape{1}}) {
    INFO("alpha shape ", shape_str(alpha_shape));
    // alpha moves by up to 4e-3 too, so the rows must stay clear of a boundary there.
    std::vector<Tensor> inputs = {param(scores_away_from_boundary({3, 5}, rng, 1.0, {1.366, 1.37, 1.374}, 2e-2)),
                                  param(Tensor::full(alpha_shape, 1.37f))};
    auto f = [](const std::vector<Tensor>& x) { return entmax_bisect(x[0], x[1]); };
    CHECK_GRADCHECK(f, inputs, gradcheck_options(2e-3, 3e-4, 5e-3));
  }
}

TEST_CASE("entmax_bisect gradcheck, per-head alpha (NH,1), causal") {
  // Scores (B, NH, T, S) = (2, 2, 3, 4), causally masked, alpha = [1.3, 1.8] per head.
  Rng rng(158);
  const float head_alphas[2] = {1.3f, 1.8f};
  std::vector<float> mask_values;
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t i = 0; i < 3; ++i)
        for (int64_t j = 0; j < 4; ++j) mask_values.push_back(j <= i + 1 ? 0.0f : -kInf);
  // Each row is drawn clear of the boundary for its own head's alpha, also at alpha +- 4e-3.
  std::vector<float> scores;
  for (int64_t row = 0; row < 12; ++row) {
    const double alpha = head_alphas[(row / 3) % 2];
    const std::vector<float> row_mask(mask_values.begin() + row * 4, mask_values.begin() + row * 4 + 4);
    Tensor drawn = scores_away_from_boundary({4}, rng, 1.0, {alpha - 4e-3, alpha, alpha + 4e-3}, 2e-2, row_mask);
    const std::vector<float> values = drawn.to_vector();
    scores.insert(scores.end(), values.begin(), values.end());
  }
  std::vector<Tensor> inputs = {param(Tensor::from_vector({2, 2, 3, 4}, scores)),
                                param(Tensor::from_vector({2, 1}, {head_alphas[0], head_alphas[1]}, "alpha")),
                                Tensor::from_vector({2, 2, 3, 4}, mask_values)};
  auto f = [](const std::vector<Tensor>& x) { return entmax_bisect(add(x[0], x[2]), x[1]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(2e-3, 3e-4, 5e-3));
}

// --- Tensor alpha against the row functions ----------------------------------------------------

TEST_CASE("entmax_bisect tensor alpha matches scalar alpha") {
  Rng rng(159);
  Tensor z = normal_tensor({2, 3, 4, 6}, rng);
  Tensor g = normal_tensor({2, 3, 4, 6}, rng);
  const std::vector<float> heads = {1.2f, 1.5f, 2.6f};

  Tensor x = param(z.clone_values());
  Tensor alpha = param(Tensor::from_vector({3, 1}, heads));
  Tensor p = entmax_bisect(x, alpha);
  backward(p, g);

  // Forward and dx per head equal the scalar op's bits.
  for (int64_t h = 0; h < 3; ++h) {
    Tensor x_head = param(Tensor::empty({2, 4, 6}));
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t k = 0; k < 24; ++k) x_head.data()[b * 24 + k] = z.data()[(b * 3 + h) * 24 + k];
    Tensor g_head = Tensor::empty({2, 4, 6});
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t k = 0; k < 24; ++k) g_head.data()[b * 24 + k] = g.data()[(b * 3 + h) * 24 + k];
    Tensor p_head = entmax_bisect(x_head, heads[h]);
    backward(p_head, g_head);
    bool forward_equal = true, backward_equal = true;
    double alpha_grad = 0.0;
    for (int64_t b = 0; b < 2; ++b) {
      for (int64_t k = 0; k < 24; ++k) {
        const int64_t flat = (b * 3 + h) * 24 + k;
        forward_equal = forward_equal && p.data()[flat] == p_head.data()[b * 24 + k];
        backward_equal = backward_equal && x.grad().data()[flat] == x_head.grad().data()[b * 24 + k];
      }
      for (int64_t t = 0; t < 4; ++t) {
        const int64_t row = (b * 3 + h) * 4 + t;
        alpha_grad += entmax_alpha_grad_row(g.data() + row * 6, p.data() + row * 6, 6, static_cast<double>(heads[h]));
      }
    }
    INFO("head ", h);
    CHECK(forward_equal);
    CHECK(backward_equal);
    CHECK_NEAR(alpha.grad().data()[h], alpha_grad, kFloat32);
  }
}

TEST_CASE("entmax_bisect rows on the OpenMP path match the row kernels, (4,64,512)") {
  ThreadCountGuard two_threads(2);
  if (openmp_enabled()) CHECK(num_threads() == 2);
  CHECK(4 * 64 * 512 > kParallelMinWork);  // large enough for the kernels to go parallel
  Rng rng(160);
  Tensor z = normal_tensor({4, 64, 512}, rng, 2.0f);
  Tensor g = normal_tensor({4, 64, 512}, rng);
  const std::vector<float> alphas = {1.2f, 1.37f, 1.5f, 2.5f};

  // Scalar alpha: forward and backward against the row kernels, bit for bit.
  Tensor x = param(z.clone_values());
  Tensor p = entmax_bisect(x, 1.37);
  backward(p, g);
  std::vector<float> row_p(512), row_dz(512);
  bool forward_equal = true, backward_equal = true;
  for (int64_t row = 0; row < 256; ++row) {
    std::fill(row_dz.begin(), row_dz.end(), 0.0f);
    entmax_bisect_row_forward(row_p.data(), z.data() + row * 512, 512, 1.37);
    entmax_bisect_row_backward(row_dz.data(), g.data() + row * 512, row_p.data(), 512, 1.37);
    forward_equal = forward_equal && std::equal(row_p.begin(), row_p.end(), p.data() + row * 512);
    backward_equal = backward_equal && std::equal(row_dz.begin(), row_dz.end(), x.grad().data() + row * 512);
  }
  CHECK(forward_equal);
  CHECK(backward_equal);

  // alpha of shape (4, 1): one per leading index.
  Tensor x2 = param(z.clone_values());
  Tensor alpha2 = param(Tensor::from_vector({4, 1}, alphas));
  Tensor p2 = entmax_bisect(x2, alpha2);
  backward(p2, g);
  bool forward_equal2 = true;
  for (int64_t row = 0; row < 256; ++row) {
    entmax_bisect_row_forward(row_p.data(), z.data() + row * 512, 512, static_cast<double>(alphas[row / 64]));
    forward_equal2 = forward_equal2 && std::equal(row_p.begin(), row_p.end(), p2.data() + row * 512);
  }
  CHECK(forward_equal2);

  // One thread gives the same bits, alpha gradient included.
  ThreadCountGuard one_thread(1);
  Tensor x1 = param(z.clone_values());
  Tensor alpha1 = param(Tensor::from_vector({4, 1}, alphas));
  Tensor p1 = entmax_bisect(x1, alpha1);
  backward(p1, g);
  CHECK(p1.to_vector() == p2.to_vector());
  CHECK(x1.grad().to_vector() == x2.grad().to_vector());
  CHECK(alpha1.grad().to_vector() == alpha2.grad().to_vector());
}
