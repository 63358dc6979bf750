#include <doctest/doctest.h>

#include <algorithm>
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

// 1.5-entmax of one row in double by the double row kernel.
std::vector<double> entmax15_double(const std::vector<double>& z, EntmaxRowInfo* info = nullptr) {
  std::vector<double> p(z.size());
  std::vector<double> scratch;
  EntmaxRowInfo result = entmax15_row_forward(p.data(), z.data(), static_cast<int64_t>(z.size()), scratch);
  if (info) *info = result;
  return p;
}

// VJP of the double row kernel with upstream g.
std::vector<double> entmax15_vjp_double(const std::vector<double>& z, const std::vector<double>& g) {
  std::vector<double> p = entmax15_double(z);
  std::vector<double> dz(z.size(), 0.0);
  entmax15_row_backward(dz.data(), g.data(), p.data(), static_cast<int64_t>(z.size()));
  return dz;
}

// An independent reference: bisection on tau for sum_j [z_j / 2 - tau]_+^2 = 1, which
// is decreasing in tau and brackets the root in [max - 1, max - 1/sqrt(n)] (max of
// z / 2 over the finite entries). 200 halvings shrink the bracket below double epsilon.
std::vector<double> entmax15_bisection(const std::vector<double>& z) {
  std::vector<double> p(z.size(), 0.0);
  double u_max = -kInf64;
  int64_t finite = 0;
  for (double v : z)
    if (v != -kInf64) {
      u_max = std::max(u_max, v / 2);
      ++finite;
    }
  if (finite == 0) return p;
  auto mass = [&z](double tau) {
    double total = 0.0;
    for (double v : z)
      if (v != -kInf64 && v / 2 > tau) total += (v / 2 - tau) * (v / 2 - tau);
    return total;
  };
  double low = u_max - 1.0, high = u_max - 1.0 / std::sqrt(static_cast<double>(finite));
  for (int step = 0; step < 200; ++step) {
    const double middle = 0.5 * (low + high);
    (mass(middle) >= 1.0 ? low : high) = middle;
  }
  const double tau = 0.5 * (low + high);
  for (size_t j = 0; j < z.size(); ++j)
    if (z[j] != -kInf64 && z[j] / 2 > tau) p[j] = (z[j] / 2 - tau) * (z[j] / 2 - tau);
  return p;
}

// Distance, in units of z / 2, from the nearest finite entry to the threshold tau:
// the row is that far from a change of support.
double distance_to_kink(const std::vector<double>& z) {
  EntmaxRowInfo info;
  entmax15_double(z, &info);
  double distance = kInf64;
  for (double v : z)
    if (v != -kInf64) distance = std::min(distance, std::fabs(v / 2 - info.tau));
  return distance;
}

// Normal scores times `scale`, redrawn until every entry is at least `margin` from a kink.
std::vector<double> row_away_from_kinks(Rng& rng, int64_t n, double scale, double margin) {
  for (;;) {
    std::vector<double> z(static_cast<size_t>(n));
    for (double& v : z) v = scale * rng.normal();
    if (distance_to_kink(z) >= margin) return z;
  }
}

// Runs entmax15 on x (requiring grad) and returns dL/dx for L = sum(entmax15(x) * g).
std::vector<float> entmax15_vjp(const Tensor& values, const std::vector<float>& g) {
  Tensor x = param(values.clone_values());
  Tensor y = entmax15(x);
  backward(y, Tensor::from_vector(y.shape(), g));
  return x.grad().to_vector();
}

std::vector<double> to_double_row(const float* values, int64_t n) { return std::vector<double>(values, values + n); }

}  // namespace

// --- Values with closed forms ---------------------------------------------------------------

TEST_CASE("entmax15 of [1, 0, -inf, -inf] and its VJP") {
  // Two-entry support: a - b = 1/2 and a^2 + b^2 = 1 give p = [(4 +- sqrt 7) / 8].
  const double big = (4 + std::sqrt(7.0)) / 8, small = (4 - std::sqrt(7.0)) / 8;
  const double vjp_value = 0.375 / std::sqrt(1.75);  // ab (g_b - g_a) / (a + b) with ab = 3/8

  const std::vector<double> z = {1, 0, -kInf64, -kInf64};
  CHECK_ALL_NEAR(entmax15_double(z), (std::vector<double>{big, small, 0, 0}), kClosedForm64);
  CHECK_ALL_NEAR(entmax15_vjp_double(z, {1, 2, 3, 4}), (std::vector<double>{-vjp_value, vjp_value, 0, 0}),
                 kClosedForm64);

  Tensor x = Tensor::from_vector({4}, {1, 0, -kInf, -kInf});
  Tensor p = entmax15(x);
  CHECK_NEAR(p.at({0}), 0.8307189, kFloat32);
  CHECK_NEAR(p.at({1}), 0.1692811, kFloat32);
  CHECK(p.at({2}) == 0.0f);
  CHECK(p.at({3}) == 0.0f);
  const std::vector<float> dz = entmax15_vjp(x, {1, 2, 3, 4});
  CHECK_NEAR(dz[0], -0.2834734, kFloat32);
  CHECK_NEAR(dz[1], 0.2834734, kFloat32);
  CHECK(dz[2] == 0.0f);
  CHECK(dz[3] == 0.0f);
}

TEST_CASE("entmax15 of tied [1, 1, 0] and permuted [1, 0, 1]") {
  // u = (sqrt 10 - 2) / 6 and p = [(1/2 + u)^2, (1/2 + u)^2, u^2].
  const double u = (std::sqrt(10.0) - 2) / 6;
  const double high = (0.5 + u) * (0.5 + u), low = u * u;
  CHECK_ALL_NEAR(entmax15_double({1, 1, 0}), (std::vector<double>{high, high, low}), kClosedForm64);
  CHECK_ALL_NEAR(entmax15_double({1, 0, 1}), (std::vector<double>{high, low, high}), kClosedForm64);

  Tensor p = entmax15(Tensor::from_vector({2, 3}, {1, 1, 0, 1, 0, 1}));
  CHECK_NEAR(p.at({0, 0}), 0.4812376, kFloat32);
  CHECK_NEAR(p.at({0, 1}), 0.4812376, kFloat32);
  CHECK_NEAR(p.at({0, 2}), 0.0375247, kFloat32);
  CHECK_NEAR(p.at({1, 0}), 0.4812376, kFloat32);
  CHECK_NEAR(p.at({1, 1}), 0.0375247, kFloat32);
  CHECK_NEAR(p.at({1, 2}), 0.4812376, kFloat32);
  CHECK(p.at({0, 0}) == p.at({0, 1}));
  CHECK(p.at({1, 0}) == p.at({1, 2}));
}

TEST_CASE("entmax15 of [1, 0.5, 0] + c for c in {0, -1000, 1e4}") {
  // Closed form [(1.5 + sqrt 10.5)^2 / 36, 7/24, (sqrt 10.5 - 1.5)^2 / 36]. Every
  // shifted value is exact in float32, so only a threshold formed from unshifted
  // 1e4-sized numbers could lose accuracy here.
  const double r = std::sqrt(10.5);
  const std::vector<double> expected = {(1.5 + r) * (1.5 + r) / 36, 7.0 / 24, (r - 1.5) * (r - 1.5) / 36};
  CHECK_ALL_NEAR(entmax15_double({1, 0.5, 0}), expected, kClosedForm64);
  const Tolerance absolute_1e6{0.0, 1e-6};
  for (float c : {0.0f, -1000.0f, 1e4f}) {
    INFO("c = ", c);
    Tensor p = entmax15(Tensor::from_vector({3}, {1 + c, 0.5f + c, c}));
    CHECK_NEAR(p.at({0}), 0.6241975, absolute_1e6);
    CHECK_NEAR(p.at({1}), 0.2916667, absolute_1e6);
    CHECK_NEAR(p.at({2}), 0.0841358, absolute_1e6);
  }
}

TEST_CASE("entmax15 of [1.36762051e8, 1.59594639e8] is [0, 1]") {
  Tensor p = entmax15(Tensor::from_vector({2}, {1.36762051e8f, 1.59594639e8f}));
  CHECK(p.at({0}) == 0.0f);
  CHECK(p.at({1}) == 1.0f);
}

TEST_CASE("entmax15 of -1000 followed by 127 times -1005 is e0") {
  std::vector<float> z(128, -1005.0f);
  z[0] = -1000.0f;
  const std::vector<float> p = entmax15(Tensor::from_vector({128}, z)).to_vector();
  CHECK(p[0] == 1.0f);
  int64_t nonzero = 0;
  for (size_t j = 1; j < p.size(); ++j) nonzero += p[j] != 0.0f;
  CHECK(nonzero == 0);
}

TEST_CASE("entmax15 at a kink takes the smaller support, [2, 0]") {
  // z / 2 = [1, 0] and tau = 0: entry 1 sits exactly on the threshold. The rule "p == 0
  // is off the support" gives the one-sided gradient of the support {0}, which is 0.
  EntmaxRowInfo info;
  const std::vector<double> p = entmax15_double({2, 0}, &info);
  CHECK(p[0] == 1.0);
  CHECK(p[1] == 0.0);
  CHECK(info.tau == 0.0);
  CHECK(info.support_size == 1);
  CHECK_ALL_NEAR(entmax15_vjp_double({2, 0}, {1, 2}), (std::vector<double>{0, 0}), kClosedForm64);
}

TEST_CASE("entmax15 support_size counts the entries with p > 0") {
  Rng rng(80);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<double> z(9);
    for (double& v : z) v = 2.0 * rng.normal();
    EntmaxRowInfo info;
    const std::vector<double> p = entmax15_double(z, &info);
    INFO("trial ", trial);
    CHECK(info.support_size == std::count_if(p.begin(), p.end(), [](double v) { return v > 0; }));
  }
}

TEST_CASE("entmax15 reports tau with p = [z/2 - tau]_+^2 in the given units") {
  Rng rng(79);
  for (double offset : {0.0, -37.0, 250.0}) {
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<double> z(9);
      for (double& v : z) v = offset + 1.5 * rng.normal();
      EntmaxRowInfo info;
      const std::vector<double> p = entmax15_double(z, &info);
      std::vector<double> from_tau;
      for (double v : z) {
        const double gap = std::max(v / 2 - info.tau, 0.0);
        from_tau.push_back(gap * gap);
      }
      INFO("offset ", offset, ", trial ", trial);
      CHECK_ALL_NEAR(p, from_tau, (Tolerance{0.0, 1e-12}));
    }
  }
  EntmaxRowInfo masked;
  entmax15_double({-kInf64, -kInf64}, &masked);
  CHECK(masked.tau == kInf64);
  CHECK(masked.support_size == 0);
}

// --- Masked rows ------------------------------------------------------------------------------

TEST_CASE("entmax15 of an all -inf row is zeros with zero gradient") {
  Tensor z = Tensor::full({4}, -kInf);
  for (float v : entmax15(z).to_vector()) CHECK(v == 0.0f);
  for (float v : entmax15_vjp(z, {1, -2, 3, 0.5f})) CHECK(v == 0.0f);
  CHECK_ALL_NEAR(entmax15_vjp_double({-kInf64, -kInf64}, {1, 2}), (std::vector<double>{0, 0}), kClosedForm64);
}

TEST_CASE("entmax15 of a batch with one fully masked row") {
  Tensor z = Tensor::from_vector({2, 3}, {0, -kInf, -kInf, -kInf, -kInf, -kInf});
  const std::vector<float> p = entmax15(z).to_vector();
  CHECK(p == std::vector<float>{1, 0, 0, 0, 0, 0});
  // One finite score gives a support of one entry, whose VJP is 0 for any g.
  for (float v : entmax15_vjp(z, {1, 2, 3, 4, 5, 6})) CHECK(v == 0.0f);
  CHECK(entmax15(Tensor::from_vector({1, 3}, {0, -kInf, -kInf})).to_vector() == std::vector<float>{1, 0, 0});
}

TEST_CASE("entmax15 with one finite score gives [1, 0, ...]") {
  for (float value : {-1e30f, -3.0f, 0.0f, 7.5f, 1e30f}) {
    INFO("finite score ", value);
    Tensor z = Tensor::from_vector({5}, {-kInf, -kInf, value, -kInf, -kInf});
    CHECK(entmax15(z).to_vector() == std::vector<float>{0, 0, 1, 0, 0});
    for (float v : entmax15_vjp(z, {1, 2, 3, 4, 5})) CHECK(v == 0.0f);
  }
}

TEST_CASE("entmax15 gives -inf entries zero probability and zero gradient") {
  Rng rng(81);
  Tensor z = normal_tensor({4, 6}, rng);
  for (int64_t row = 0; row < 4; ++row) z.data()[row * 6 + row] = -kInf;
  const std::vector<float> p = entmax15(z).to_vector();
  const std::vector<float> dz = entmax15_vjp(z, normal_tensor({4, 6}, rng).to_vector());
  for (int64_t row = 0; row < 4; ++row) {
    INFO("row ", row);
    CHECK(p[row * 6 + row] == 0.0f);
    CHECK(dz[row * 6 + row] == 0.0f);
  }
}

TEST_CASE("entmax15 propagates NaN") {
  const std::vector<float> p = entmax15(Tensor::from_vector({3}, {1, std::nanf(""), 0})).to_vector();
  for (float v : p) CHECK(std::isnan(v));
}

// --- Properties on random rows -----------------------------------------------------------------

TEST_CASE("entmax15 rows sum to 1, are non-negative, and zero below max - 2") {
  Rng rng(82);
  Tensor z = normal_tensor({200, 16}, rng, 2.0f);
  const std::vector<float> p = entmax15(z).to_vector();
  const std::vector<float> zs = z.to_vector();
  for (int64_t row = 0; row < 200; ++row) {
    INFO("row ", row);
    const float z_max = *std::max_element(zs.begin() + row * 16, zs.begin() + row * 16 + 16);
    double total = 0.0;
    bool non_negative = true, zero_below_gap = true;
    for (int64_t j = 0; j < 16; ++j) {
      const float value = p[row * 16 + j];
      total += value;
      non_negative = non_negative && value >= 0.0f;
      if (z_max - zs[row * 16 + j] >= 2.0f) zero_below_gap = zero_below_gap && value == 0.0f;
    }
    CHECK_NEAR(total, 1.0, kFloat32);
    CHECK(non_negative);
    CHECK(zero_below_gap);
  }
}

TEST_CASE("entmax15 gap of exactly 2 gives exact zero") {
  Tensor p = entmax15(Tensor::from_vector({3}, {3, 1, 1}));
  CHECK(p.to_vector() == std::vector<float>{1, 0, 0});
  Tensor q = entmax15(Tensor::from_vector({3}, {3, 1.01f, 0}));
  CHECK(q.at({1}) > 0.0f);
  CHECK(q.at({2}) == 0.0f);
}

TEST_CASE("entmax15 gives equal outputs to tied scores") {
  Rng rng(83);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<float> z(10);
    for (float& v : z) v = rng.normal();
    z[7] = z[2];
    z[9] = z[2];
    z[4] = z[0];
    const std::vector<float> p = entmax15(Tensor::from_vector({10}, z)).to_vector();
    INFO("trial ", trial);
    CHECK(p[7] == p[2]);
    CHECK(p[9] == p[2]);
    CHECK(p[4] == p[0]);
  }
}

TEST_CASE("entmax15 ignores a constant added to the row") {
  // Dyadic scores and shifts: every sum and difference is exact in float32, so the
  // outputs must match bit for bit.
  Rng rng(84);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<float> z(12);
    for (float& v : z) v = static_cast<float>(rng.randint(-64, 64)) / 16.0f;
    const std::vector<float> base = entmax15(Tensor::from_vector({12}, z)).to_vector();
    for (float c : {-512.0f, 0.25f, 4096.0f}) {
      std::vector<float> shifted;
      for (float v : z) shifted.push_back(v + c);
      INFO("trial ", trial, ", c = ", c);
      CHECK(entmax15(Tensor::from_vector({12}, shifted)).to_vector() == base);
    }
  }
}

TEST_CASE("entmax15 VJP sums to zero per row, shape (50,9)") {
  Rng rng(85);
  Tensor z = normal_tensor({50, 9}, rng, 2.0f);
  const std::vector<float> dz = entmax15_vjp(z, normal_tensor({50, 9}, rng).to_vector());
  for (int64_t row = 0; row < 50; ++row) {
    double total = 0.0;
    for (int64_t j = 0; j < 9; ++j) total += dz[row * 9 + j];
    INFO("row ", row);
    CHECK_NEAR(total, 0.0, kFloat32);
  }
}

TEST_CASE("entmax15 of 1e4- and 1e8-sized scores matches the bisection reference") {
  Rng rng(86);
  for (float magnitude : {1e4f, -1e4f, 1e8f, -1e8f}) {
    // At 1e4 a spread of a few units gives supports of several entries. At 1e8 the
    // float32 spacing is 8, so the scores land on multiples of 8 and most supports
    // have one entry.
    const float spread = std::fabs(magnitude) >= 1e8f ? 24.0f : 3.0f;
    std::vector<float> z(16);
    for (float& v : z) v = magnitude + spread * rng.normal();
    const std::vector<float> p = entmax15(Tensor::from_vector({16}, z)).to_vector();
    const std::vector<double> reference = entmax15_bisection(to_double_row(z.data(), 16));
    INFO("magnitude ", magnitude);
    for (float v : p) CHECK(std::isfinite(v));
    CHECK_ALL_NEAR(p, reference, kFloat32);
  }
}

TEST_CASE("entmax15 stays finite when z_j - z_max overflows, +-3e38") {
  const std::vector<float> p = entmax15(Tensor::from_vector({4}, {3e38f, -3e38f, 3e38f, -kInf})).to_vector();
  CHECK(p == std::vector<float>{0.5f, 0, 0.5f, 0});
  const std::vector<float> q = entmax15(Tensor::from_vector({3}, {-3e38f, -3e38f, -3.4e38f})).to_vector();
  CHECK(q == std::vector<float>{0.5f, 0.5f, 0});
  // The same overflow of z_j - z_max in double.
  CHECK_ALL_NEAR(entmax15_double({1.5e308, -1.5e308, 1.5e308}), (std::vector<double>{0.5, 0, 0.5}),
                 kClosedForm64);
}

TEST_CASE("entmax15 row of length 4096 matches the bisection reference") {
  Rng rng(87);
  for (float scale : {0.05f, 1.0f, 4.0f}) {
    Tensor z = param(normal_tensor({4096}, rng, scale));
    Tensor p = entmax15(z);
    const std::vector<double> reference = entmax15_bisection(to_double_row(z.data(), 4096));
    INFO("scale ", scale);
    CHECK_ALL_NEAR(p.to_vector(), reference, kFloat32);
    double total = 0.0;
    for (float v : p.to_vector()) total += v;
    CHECK_NEAR(total, 1.0, kFloat32);

    // The float VJP against the double row kernel on the same scores.
    Tensor g = normal_tensor({4096}, rng);
    backward(p, g);
    const std::vector<double> expected = entmax15_vjp_double(to_double_row(z.data(), 4096), to_doubles(g.to_vector()));
    CHECK_ALL_NEAR(z.grad().to_vector(), expected, (Tolerance{1e-4, 1e-6}));
  }
}

TEST_CASE("entmax15 rows on the OpenMP path match the row kernel, (256,512)") {
  ThreadCountGuard two_threads(2);
  if (openmp_enabled()) CHECK(num_threads() == 2);
  CHECK(256 * 512 > kParallelMinWork);  // large enough for the kernels to go parallel
  Rng rng(88);
  Tensor x = param(normal_tensor({256, 512}, rng, 3.0f));
  Tensor g = normal_tensor({256, 512}, rng);
  Tensor p = entmax15(x);
  backward(p, g);
  std::vector<float> row_p(512), row_dz(512), scratch;
  bool forward_equal = true, backward_equal = true;
  for (int64_t row = 0; row < 256; ++row) {
    std::fill(row_dz.begin(), row_dz.end(), 0.0f);
    entmax15_row_forward(row_p.data(), x.data() + row * 512, 512, scratch);
    entmax15_row_backward(row_dz.data(), g.data() + row * 512, row_p.data(), 512);
    forward_equal = forward_equal && std::equal(row_p.begin(), row_p.end(), p.data() + row * 512);
    backward_equal = backward_equal && std::equal(row_dz.begin(), row_dz.end(), x.grad().data() + row * 512);
  }
  CHECK(forward_equal);
  CHECK(backward_equal);

  // One thread gives the same bits.
  ThreadCountGuard one_thread(1);
  CHECK(entmax15(x.clone_values()).to_vector() == p.to_vector());
}

// --- Row kernel in double against central differences and bisection --------------------------

TEST_CASE("entmax15 row kernel matches bisection in double, n = 3..40") {
  Rng rng(89);
  for (int trial = 0; trial < 60; ++trial) {
    const int64_t n = 3 + trial % 38;
    std::vector<double> z(static_cast<size_t>(n));
    for (double& v : z) v = (trial % 3 + 1) * rng.normal();
    if (trial % 4 == 0) z[0] = -kInf64;
    INFO("trial ", trial, ", n = ", n);
    CHECK_ALL_NEAR(entmax15_double(z), entmax15_bisection(z), (Tolerance{0.0, 1e-12}));
  }
}

TEST_CASE("entmax15 row kernel Jacobian in double vs central differences, n = 7") {
  // Samples within 1e-3 of a kink are redrawn; the step 1e-6 cannot cross a kink then.
  Rng rng(90);
  const double h = 1e-6;
  for (int trial = 0; trial < 30; ++trial) {
    const int64_t n = 7;
    std::vector<double> z = row_away_from_kinks(rng, n, 1.0 + trial % 3, 1e-3);
    if (trial % 3 == 2) z[static_cast<size_t>(trial % n)] = -kInf64;
    const std::vector<double> p = entmax15_double(z);
    for (int64_t k = 0; k < n; ++k) {
      if (z[k] == -kInf64) continue;  // a -inf score stays -inf when moved by h
      std::vector<double> plus = z, minus = z;
      plus[k] += h;
      minus[k] -= h;
      const std::vector<double> p_plus = entmax15_double(plus), p_minus = entmax15_double(minus);
      for (int64_t i = 0; i < n; ++i) {
        std::vector<double> g(n, 0.0);
        g[i] = 1.0;
        const double analytic = entmax15_vjp_double(z, g)[k];
        const double numeric = (p_plus[i] - p_minus[i]) / (2 * h);
        INFO("trial ", trial, ", d p_", i, " / d z_", k, ", p = ", p[i]);
        CHECK_NEAR(analytic, numeric, kIterative64);
      }
    }
  }
}

// --- Finite-difference checks of the float op ------------------------------------------------

namespace {

// Float scores whose double twins are at least `margin` from every kink.
Tensor tensor_away_from_kinks(const Shape& shape, Rng& rng, double scale, double margin) {
  const int64_t n = shape.back();
  std::vector<float> values;
  while (static_cast<int64_t>(values.size()) < shape_numel(shape)) {
    std::vector<double> row = row_away_from_kinks(rng, n, scale, 0.0);
    std::vector<double> rounded;
    for (double v : row) rounded.push_back(static_cast<float>(v));
    if (distance_to_kink(rounded) < margin) continue;
    values.insert(values.end(), rounded.begin(), rounded.end());
  }
  return Tensor::from_vector(shape, values);
}

}  // namespace

// The 4-point formula moves a score by up to 2 eps = 4e-3, which shifts u_j - tau by at
// most 4e-3, so a margin of 1e-2 keeps every evaluation on one support.
TEST_CASE("entmax15 backward vs finite differences, shape (2,3,6)") {
  Rng rng(91);
  std::vector<Tensor> inputs = {param(tensor_away_from_kinks({2, 3, 6}, rng, 2.0, 1e-2))};
  auto f = [](const std::vector<Tensor>& x) { return entmax15(x[0]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(2e-3, 3e-4, 5e-3));
}

TEST_CASE("entmax15 backward vs finite differences, dense support, shape (3,5)") {
  Rng rng(92);
  std::vector<Tensor> inputs = {param(tensor_away_from_kinks({3, 5}, rng, 0.3, 1e-2))};
  auto f = [](const std::vector<Tensor>& x) { return entmax15(x[0]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(2e-3, 3e-4, 5e-3));
}

TEST_CASE("entmax15 backward vs finite differences, (2,5) with -inf entries") {
  Rng rng(93);
  const std::vector<float> mask_values = {0, -kInf, 0, 0, 0, -kInf, 0, 0, -kInf, 0};
  // Redraw until each row, after masking, is at least 1e-2 from a kink.
  std::vector<float> scores;
  while (scores.size() < mask_values.size()) {
    const size_t start = scores.size();
    std::vector<double> seen;
    std::vector<float> row;
    for (size_t j = 0; j < 5; ++j) {
      row.push_back(static_cast<float>(2.0 * rng.normal()));
      seen.push_back(mask_values[start + j] == -kInf ? -kInf64 : row.back());
    }
    if (distance_to_kink(seen) >= 1e-2) scores.insert(scores.end(), row.begin(), row.end());
  }
  std::vector<Tensor> inputs = {param(Tensor::from_vector({2, 5}, scores)),
                                Tensor::from_vector({2, 5}, mask_values)};
  auto f = [](const std::vector<Tensor>& x) { return entmax15(add(x[0], x[1])); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(2e-3, 3e-4, 5e-3));
}

TEST_CASE("entmax15 rejects an empty last dim") {
  CHECK_THROWS_AS(entmax15(Tensor::zeros({3, 0})), Error);
}
