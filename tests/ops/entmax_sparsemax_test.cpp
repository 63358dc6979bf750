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

// sparsemax of one row in double by the double row kernel.
std::vector<double> sparsemax_double(const std::vector<double>& z, EntmaxRowInfo* info = nullptr) {
  std::vector<double> p(z.size());
  std::vector<double> scratch;
  EntmaxRowInfo result = sparsemax_row_forward(p.data(), z.data(), static_cast<int64_t>(z.size()), scratch);
  if (info) *info = result;
  return p;
}

// VJP of the double row kernel with upstream g.
std::vector<double> sparsemax_vjp_double(const std::vector<double>& z, const std::vector<double>& g) {
  std::vector<double> p = sparsemax_double(z);
  std::vector<double> dz(z.size(), 0.0);
  sparsemax_row_backward(dz.data(), g.data(), p.data(), static_cast<int64_t>(z.size()));
  return dz;
}

// An independent reference: bisection on tau for sum_j [z_j - tau]_+ = 1, which is
// decreasing in tau with the root in [max - 1, max - 1/n] over the finite entries.
std::vector<double> sparsemax_bisection(const std::vector<double>& z) {
  std::vector<double> p(z.size(), 0.0);
  double z_max = -kInf64;
  int64_t finite = 0;
  for (double v : z)
    if (v != -kInf64) {
      z_max = std::max(z_max, v);
      ++finite;
    }
  if (finite == 0) return p;
  auto mass = [&z](double tau) {
    double total = 0.0;
    for (double v : z)
      if (v > tau) total += v - tau;
    return total;
  };
  double low = z_max - 1.0, high = z_max - 1.0 / static_cast<double>(finite);
  for (int step = 0; step < 200; ++step) {
    const double middle = 0.5 * (low + high);
    (mass(middle) >= 1.0 ? low : high) = middle;
  }
  const double tau = 0.5 * (low + high);
  for (size_t j = 0; j < z.size(); ++j)
    if (z[j] > tau) p[j] = z[j] - tau;
  return p;
}

// Distance from the nearest finite score to tau: the row is that far from a change
// of support.
double distance_to_kink(const std::vector<double>& z) {
  EntmaxRowInfo info;
  sparsemax_double(z, &info);
  double distance = kInf64;
  for (double v : z)
    if (v != -kInf64) distance = std::min(distance, std::fabs(v - info.tau));
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

// Float scores of `shape` whose double twins are at least `margin` from every kink.
Tensor tensor_away_from_kinks(const Shape& shape, Rng& rng, double scale, double margin) {
  const int64_t n = shape.back();
  std::vector<float> values;
  while (static_cast<int64_t>(values.size()) < shape_numel(shape)) {
    std::vector<double> rounded;
    for (int64_t j = 0; j < n; ++j) rounded.push_back(static_cast<float>(scale * rng.normal()));
    if (distance_to_kink(rounded) < margin) continue;
    values.insert(values.end(), rounded.begin(), rounded.end());
  }
  return Tensor::from_vector(shape, values);
}

// Runs sparsemax on x (requiring grad) and returns dL/dx for L = sum(sparsemax(x) * g).
std::vector<float> sparsemax_vjp(const Tensor& values, const std::vector<float>& g) {
  Tensor x = param(values.clone_values());
  Tensor y = sparsemax(x);
  backward(y, Tensor::from_vector(y.shape(), g));
  return x.grad().to_vector();
}

std::vector<double> to_double_row(const float* values, int64_t n) { return std::vector<double>(values, values + n); }

}  // namespace

// --- Values with closed forms ---------------------------------------------------------------

TEST_CASE("sparsemax of ties and boundary points") {
  // [1, 2, 3]: the 2 lies exactly on tau = 2 and gets 0. [1, 2]: the 1 lies on tau = 1.
  CHECK_ALL_NEAR(sparsemax_double({2, 2, 2}), (std::vector<double>{1.0 / 3, 1.0 / 3, 1.0 / 3}), kClosedForm64);
  CHECK(sparsemax_double({1, 2, 3}) == std::vector<double>{0, 0, 1});
  CHECK(sparsemax_double({1, 2}) == std::vector<double>{0, 1});
  CHECK(sparsemax_double({2, 2}) == std::vector<double>{0.5, 0.5});

  const std::vector<float> thirds = sparsemax(Tensor::from_vector({3}, {2, 2, 2})).to_vector();
  CHECK_ALL_NEAR(thirds, (std::vector<double>{1.0 / 3, 1.0 / 3, 1.0 / 3}), kFloat32);
  CHECK(thirds[0] == thirds[1]);
  CHECK(thirds[1] == thirds[2]);
  CHECK(sparsemax(Tensor::from_vector({3}, {1, 2, 3})).to_vector() == std::vector<float>{0, 0, 1});
  CHECK(sparsemax(Tensor::from_vector({2}, {1, 2})).to_vector() == std::vector<float>{0, 1});
  CHECK(sparsemax(Tensor::from_vector({2}, {2, 2})).to_vector() == std::vector<float>{0.5f, 0.5f});
}

TEST_CASE("sparsemax of [0.1, 0.2, 0.3] has full support, VJP g - mean g") {
  // tau = -2/15 and p = z - tau.
  EntmaxRowInfo info;
  const std::vector<double> p = sparsemax_double({0.1, 0.2, 0.3}, &info);
  CHECK_ALL_NEAR(p, (std::vector<double>{0.7 / 3, 1.0 / 3, 1.3 / 3}), kClosedForm64);
  CHECK_NEAR(info.tau, -2.0 / 15, kClosedForm64);
  CHECK(info.support_size == 3);
  CHECK_ALL_NEAR(sparsemax_vjp_double({0.1, 0.2, 0.3}, {1, 2, 3}), (std::vector<double>{-1, 0, 1}), kClosedForm64);

  Tensor x = Tensor::from_vector({3}, {0.1f, 0.2f, 0.3f});
  CHECK_ALL_NEAR(sparsemax(x).to_vector(), (std::vector<double>{0.2333333, 0.3333333, 0.4333333}), kFloat32);
  CHECK_ALL_NEAR(sparsemax_vjp(x, {1, 2, 3}), (std::vector<double>{-1, 0, 1}), kFloat32);
}

TEST_CASE("sparsemax off a kink, [1, 0.5, 0.2]: Jacobian and central differences") {
  const std::vector<double> z = {1, 0.5, 0.2};
  CHECK_ALL_NEAR(sparsemax_double(z), (std::vector<double>{0.75, 0.25, 0}), kClosedForm64);
  CHECK_ALL_NEAR(sparsemax_vjp_double(z, {1, 2, 3}), (std::vector<double>{-0.5, 0.5, 0}), kClosedForm64);

  // Row i of J is the VJP with g = e_i (J is symmetric); compare with central
  // differences, step 1e-4.
  const std::vector<std::vector<double>> jacobian = {{0.5, -0.5, 0}, {-0.5, 0.5, 0}, {0, 0, 0}};
  const double h = 1e-4;
  for (int i = 0; i < 3; ++i) {
    std::vector<double> g(3, 0.0);
    g[i] = 1.0;
    INFO("row ", i, " of J");
    CHECK_ALL_NEAR(sparsemax_vjp_double(z, g), jacobian[i], kClosedForm64);
    for (int k = 0; k < 3; ++k) {
      std::vector<double> plus = z, minus = z;
      plus[k] += h;
      minus[k] -= h;
      const double numeric = (sparsemax_double(plus)[i] - sparsemax_double(minus)[i]) / (2 * h);
      INFO("d p_", i, " / d z_", k);
      CHECK_NEAR(numeric, jacobian[i][k], kIterative64);
    }
  }
  CHECK_ALL_NEAR(sparsemax(Tensor::from_vector({3}, {1, 0.5f, 0.2f})).to_vector(),
                 (std::vector<double>{0.75, 0.25, 0}), kFloat32);
}

TEST_CASE("sparsemax at a kink, [1, 0.5, 0.25], takes the smaller support") {
  // z_2 = 0.25 sits exactly on tau = 0.25, so p_2 = 0. The rule "p == 0 is off the
  // support" gives the one-sided VJP of the support {0, 1}: [-0.5, 0.5, 0], not the
  // [-1, 0, 1] of the support {0, 1, 2}.
  EntmaxRowInfo info;
  const std::vector<double> p = sparsemax_double({1, 0.5, 0.25}, &info);
  CHECK(p == std::vector<double>{0.75, 0.25, 0});
  CHECK(info.tau == 0.25);
  CHECK(info.support_size == 2);
  CHECK(sparsemax_vjp_double({1, 0.5, 0.25}, {1, 2, 3}) == std::vector<double>{-0.5, 0.5, 0});

  Tensor x = Tensor::from_vector({3}, {1, 0.5f, 0.25f});
  CHECK(sparsemax(x).to_vector() == std::vector<float>{0.75f, 0.25f, 0});
  CHECK(sparsemax_vjp(x, {1, 2, 3}) == std::vector<float>{-0.5f, 0.5f, 0});
}

TEST_CASE("sparsemax reports tau with p = [z - tau]_+ in the given units") {
  Rng rng(120);
  for (double offset : {0.0, -37.0, 250.0}) {
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<double> z(9);
      for (double& v : z) v = offset + 0.7 * rng.normal();
      EntmaxRowInfo info;
      const std::vector<double> p = sparsemax_double(z, &info);
      std::vector<double> from_tau;
      for (double v : z) from_tau.push_back(std::max(v - info.tau, 0.0));
      INFO("offset ", offset, ", trial ", trial);
      CHECK_ALL_NEAR(p, from_tau, (Tolerance{0.0, 1e-12}));
      CHECK(info.support_size == std::count_if(p.begin(), p.end(), [](double v) { return v > 0; }));
    }
  }
}

// --- Masked rows ------------------------------------------------------------------------------

TEST_CASE("sparsemax of an all -inf row is zeros with zero gradient") {
  Tensor z = Tensor::full({4}, -kInf);
  CHECK(sparsemax(z).to_vector() == std::vector<float>{0, 0, 0, 0});
  CHECK(sparsemax_vjp(z, {1, -2, 3, 0.5f}) == std::vector<float>{0, 0, 0, 0});
  EntmaxRowInfo info;
  CHECK(sparsemax_double({-kInf64, -kInf64}, &info) == std::vector<double>{0, 0});
  CHECK(info.support_size == 0);
  CHECK(info.tau == kInf64);
  CHECK(sparsemax_vjp_double({-kInf64, -kInf64}, {1, 2}) == std::vector<double>{0, 0});
}

TEST_CASE("sparsemax of a batch with one fully masked row") {
  Tensor z = Tensor::from_vector({2, 3}, {0, -kInf, -kInf, -kInf, -kInf, -kInf});
  CHECK(sparsemax(z).to_vector() == std::vector<float>{1, 0, 0, 0, 0, 0});
  // A support of one entry has VJP 0 for any g.
  CHECK(sparsemax_vjp(z, {1, 2, 3, 4, 5, 6}) == std::vector<float>{0, 0, 0, 0, 0, 0});
  CHECK(sparsemax(Tensor::from_vector({1, 3}, {0, -kInf, -kInf})).to_vector() == std::vector<float>{1, 0, 0});
}

TEST_CASE("sparsemax of [0.5, 0, -inf] is [0.75, 0.25, 0]") {
  Tensor z = Tensor::from_vector({3}, {0.5f, 0, -kInf});
  CHECK(sparsemax(z).to_vector() == std::vector<float>{0.75f, 0.25f, 0});
  CHECK(sparsemax_vjp(z, {1, 2, 3}) == std::vector<float>{-0.5f, 0.5f, 0});
}

TEST_CASE("sparsemax with one finite score gives [1, 0, ...]") {
  for (float value : {-1e30f, -3.0f, 0.0f, 7.5f, 1e30f}) {
    INFO("finite score ", value);
    Tensor z = Tensor::from_vector({5}, {-kInf, -kInf, value, -kInf, -kInf});
    CHECK(sparsemax(z).to_vector() == std::vector<float>{0, 0, 1, 0, 0});
    CHECK(sparsemax_vjp(z, {1, 2, 3, 4, 5}) == std::vector<float>{0, 0, 0, 0, 0});
  }
}

TEST_CASE("sparsemax gives -inf entries zero probability and zero gradient") {
  Rng rng(121);
  Tensor z = normal_tensor({4, 6}, rng, 0.3f);
  for (int64_t row = 0; row < 4; ++row) z.data()[row * 6 + row] = -kInf;
  const std::vector<float> p = sparsemax(z).to_vector();
  const std::vector<float> dz = sparsemax_vjp(z, normal_tensor({4, 6}, rng).to_vector());
  for (int64_t row = 0; row < 4; ++row) {
    INFO("row ", row);
    CHECK(p[row * 6 + row] == 0.0f);
    CHECK(dz[row * 6 + row] == 0.0f);
  }
}

// --- Hard rows -----------------------------------------------------------------------------------

TEST_CASE("sparsemax propagates NaN and +inf as NaN, forward and backward") {
  for (float bad : {std::nanf(""), kInf}) {
    INFO("bad score ", bad);
    for (float v : sparsemax(Tensor::from_vector({3}, {1, bad, 0})).to_vector()) CHECK(std::isnan(v));
  }
  // The NaN row does not leak into the next one.
  const std::vector<float> p = sparsemax(Tensor::from_vector({2, 2}, {std::nanf(""), 0, 1, 0})).to_vector();
  CHECK(std::isnan(p[0]));
  CHECK(std::isnan(p[1]));
  CHECK(p[2] == 1.0f);
  CHECK(p[3] == 0.0f);

  std::vector<double> dz(3, 0.0);
  const std::vector<double> nan_p(3, std::nan(""));
  sparsemax_row_backward(dz.data(), std::vector<double>{1, 2, 3}.data(), nan_p.data(), 3);
  for (double v : dz) CHECK(std::isnan(v));
}

TEST_CASE("sparsemax rows of length 1") {
  CHECK(sparsemax(Tensor::from_vector({3, 1}, {-2.5f, 1e30f, -kInf})).to_vector() == std::vector<float>{1, 1, 0});
  CHECK(std::isnan(sparsemax(Tensor::from_vector({1}, {std::nanf("")})).item()));
  CHECK(sparsemax_vjp(Tensor::from_vector({2, 1}, {0.5f, -kInf}), {3, 4}) == std::vector<float>{0, 0});
}

TEST_CASE("sparsemax of [1.36762051e8, 1.59594639e8] is [0, 1]") {
  CHECK(sparsemax(Tensor::from_vector({2}, {1.36762051e8f, 1.59594639e8f})).to_vector() ==
        std::vector<float>{0, 1});
}

TEST_CASE("sparsemax of -1000 followed by 127 times -1005 is e0") {
  std::vector<float> z(128, -1005.0f);
  z[0] = -1000.0f;
  std::vector<float> expected(128, 0.0f);
  expected[0] = 1.0f;
  CHECK(sparsemax(Tensor::from_vector({128}, z)).to_vector() == expected);
}

TEST_CASE("sparsemax of [1, 0.5, 0] + c for c in {0, -1000, 1e4}") {
  // Every shifted value is exact in float32.
  const Tolerance absolute_1e6{0.0, 1e-6};
  for (float c : {0.0f, -1000.0f, 1e4f}) {
    INFO("c = ", c);
    const std::vector<float> p = sparsemax(Tensor::from_vector({3}, {1 + c, 0.5f + c, c})).to_vector();
    CHECK_ALL_NEAR(p, (std::vector<double>{0.75, 0.25, 0}), absolute_1e6);
  }
}

TEST_CASE("sparsemax of 1e4-sized scores matches the bisection reference") {
  Rng rng(122);
  for (float magnitude : {1e4f, -1e4f}) {
    std::vector<float> z(16);
    for (float& v : z) v = magnitude + 0.5f * rng.normal();
    const std::vector<float> p = sparsemax(Tensor::from_vector({16}, z)).to_vector();
    INFO("magnitude ", magnitude);
    CHECK_ALL_NEAR(p, sparsemax_bisection(to_double_row(z.data(), 16)), kFloat32);
  }
}

TEST_CASE("sparsemax row of length 100000 matches the bisection reference") {
  Rng rng(123);
  for (float scale : {0.001f, 0.1f, 1.0f}) {
    // At scale 0.001 every entry is in the support; at 1.0 only a few are.
    Tensor z = param(normal_tensor({100000}, rng, scale));
    Tensor p = sparsemax(z);
    const std::vector<double> reference = sparsemax_bisection(to_double_row(z.data(), 100000));
    INFO("scale ", scale);
    CHECK_ALL_NEAR(p.to_vector(), reference, kFloat32);
    double total = 0.0;
    for (float v : p.to_vector()) total += v;
    CHECK_NEAR(total, 1.0, kFloat32);

    Tensor g = normal_tensor({100000}, rng);
    backward(p, g);
    const std::vector<double> expected =
        sparsemax_vjp_double(to_double_row(z.data(), 100000), to_doubles(g.to_vector()));
    CHECK_ALL_NEAR(z.grad().to_vector(), expected, (Tolerance{1e-4, 1e-6}));
  }
}

// --- Properties on random rows -----------------------------------------------------------------

TEST_CASE("sparsemax rows sum to 1, are non-negative, and zero below max - 1") {
  Rng rng(124);
  Tensor z = normal_tensor({200, 16}, rng, 0.5f);
  const std::vector<float> p = sparsemax(z).to_vector();
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
      if (z_max - zs[row * 16 + j] >= 1.0f) zero_below_gap = zero_below_gap && value == 0.0f;
    }
    CHECK_NEAR(total, 1.0, kFloat32);
    CHECK(non_negative);
    CHECK(zero_below_gap);
  }
}

TEST_CASE("sparsemax gives equal outputs to tied scores") {
  Rng rng(125);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<float> z(10);
    for (float& v : z) v = 0.3f * rng.normal();
    z[7] = z[2];
    z[9] = z[2];
    z[4] = z[0];
    const std::vector<float> p = sparsemax(Tensor::from_vector({10}, z)).to_vector();
    INFO("trial ", trial);
    CHECK(p[7] == p[2]);
    CHECK(p[9] == p[2]);
    CHECK(p[4] == p[0]);
  }
}

TEST_CASE("sparsemax ignores a constant added to the row") {
  // Dyadic scores and shifts: every sum and difference is exact in float32, so the
  // outputs must match bit for bit.
  Rng rng(126);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<float> z(12);
    for (float& v : z) v = static_cast<float>(rng.randint(-32, 32)) / 32.0f;
    const std::vector<float> base = sparsemax(Tensor::from_vector({12}, z)).to_vector();
    for (float c : {-512.0f, 0.25f, 4096.0f}) {
      std::vector<float> shifted;
      for (float v : z) shifted.push_back(v + c);
      INFO("trial ", trial, ", c = ", c);
      CHECK(sparsemax(Tensor::from_vector({12}, shifted)).to_vector() == base);
    }
  }
}

TEST_CASE("sparsemax VJP sums to zero per row, shape (50,9)") {
  Rng rng(127);
  Tensor z = normal_tensor({50, 9}, rng, 0.5f);
  const std::vector<float> dz = sparsemax_vjp(z, normal_tensor({50, 9}, rng).to_vector());
  for (int64_t row = 0; row < 50; ++row) {
    double total = 0.0;
    for (int64_t j = 0; j < 9; ++j) total += dz[row * 9 + j];
    INFO("row ", row);
    CHECK_NEAR(total, 0.0, kFloat32);
  }
}

TEST_CASE("sparsemax rows on the OpenMP path match the row kernel, (256,512)") {
  ThreadCountGuard two_threads(2);
  if (openmp_enabled()) CHECK(num_threads() == 2);
  CHECK(256 * 512 > kParallelMinWork);  // large enough for the kernels to go parallel
  Rng rng(128);
  Tensor x = param(normal_tensor({256, 512}, rng, 0.2f));
  Tensor g = normal_tensor({256, 512}, rng);
  Tensor p = sparsemax(x);
  backward(p, g);
  std::vector<float> row_p(512), row_dz(512), scratch;
  bool forward_equal = true, backward_equal = true;
  for (int64_t row = 0; row < 256; ++row) {
    std::fill(row_dz.begin(), row_dz.end(), 0.0f);
    sparsemax_row_forward(row_p.data(), x.data() + row * 512, 512, scratch);
    sparsemax_row_backward(row_dz.data(), g.data() + row * 512, row_p.data(), 512);
    forward_equal = forward_equal && std::equal(row_p.begin(), row_p.end(), p.data() + row * 512);
    backward_equal = backward_equal && std::equal(row_dz.begin(), row_dz.end(), x.grad().data() + row * 512);
  }
  CHECK(forward_equal);
  CHECK(backward_equal);

  // One thread gives the same bits.
  ThreadCountGuard one_thread(1);
  Tensor x1 = param(x.clone_values());
  Tensor p1 = sparsemax(x1);
  CHECK(p1.to_vector() == p.to_vector());
  backward(p1, g);
  CHECK(x1.grad().to_vector() == x.grad().to_vector());
}

// --- Row kernel in double against central differences and bisection --------------------------

TEST_CASE("sparsemax row kernel matches bisection in double, n = 3..40") {
  Rng rng(129);
  for (int trial = 0; trial < 60; ++trial) {
    const int64_t n = 3 + trial % 38;
    std::vector<double> z(static_cast<size_t>(n));
    for (double& v : z) v = 0.3 * (trial % 3 + 1) * rng.normal();
    if (trial % 4 == 0) z[0] = -kInf64;
    INFO("trial ", trial, ", n = ", n);
    CHECK_ALL_NEAR(sparsemax_double(z), sparsemax_bisection(z), (Tolerance{0.0, 1e-12}));
  }
}

TEST_CASE("sparsemax row kernel Jacobian in double vs central differences, n = 7") {
  // Samples within 1e-2 of a kink are redrawn; the step 1e-6 cannot cross a kink then.
  Rng rng(130);
  const double h = 1e-6;
  for (int trial = 0; trial < 30; ++trial) {
    const int64_t n = 7;
    std::vector<double> z = row_away_from_kinks(rng, n, 0.2 * (1 + trial % 3), 1e-2);
    if (trial % 3 == 2) z[static_cast<size_t>(trial % n)] = -kInf64;
    for (int64_t k = 0; k < n; ++k) {
      if (z[k] == -kInf64) continue;  // a -inf score stays -inf when moved by h
      std::vector<double> plus = z, minus = z;
      plus[k] += h;
      minus[k] -= h;
      const std::vector<double> p_plus = sparsemax_double(plus), p_minus = sparsemax_double(minus);
      for (int64_t i = 0; i < n; ++i) {
        std::vector<double> g(n, 0.0);
        g[i] = 1.0;
        const double analytic = sparsemax_vjp_double(z, g)[k];
        const double numeric = (p_plus[i] - p_minus[i]) / (2 * h);
        INFO("trial ", trial, ", d p_", i, " / d z_", k);
        CHECK_NEAR(analytic, numeric, kIterative64);
      }
    }
  }
}

// --- Finite-difference checks of the float op ------------------------------------------------

// The 4-point formula moves a score by up to 2 eps = 4e-3, which moves z_j - tau by at
// most 8e-3, so a margin of 1e-2 keeps every evaluation on one support.
TEST_CASE("sparsemax backward vs finite differences, shape (2,3,6)") {
  Rng rng(131);
  std::vector<Tensor> inputs = {param(tensor_away_from_kinks({2, 3, 6}, rng, 0.5, 1e-2))};
  auto f = [](const std::vector<Tensor>& x) { return sparsemax(x[0]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(2e-3, 3e-4, 5e-3));
}

TEST_CASE("sparsemax backward vs finite differences, (2,5) with -inf entries") {
  Rng rng(132);
  const std::vector<float> mask_values = {0, -kInf, 0, 0, 0, -kInf, 0, 0, -kInf, 0};
  // Redraw until each row, after masking, is at least 1e-2 from a kink.
  std::vector<float> scores;
  while (scores.size() < mask_values.size()) {
    const size_t start = scores.size();
    std::vector<double> seen;
    std::vector<float> row;
    for (size_t j = 0; j < 5; ++j) {
      row.push_back(static_cast<float>(0.4 * rng.normal()));
      seen.push_back(mask_values[start + j] == -kInf ? -kInf64 : row.back());
    }
    if (distance_to_kink(seen) >= 1e-2) scores.insert(scores.end(), row.begin(), row.end());
  }
  std::vector<Tensor> inputs = {param(Tensor::from_vector({2, 5}, scores)),
                                Tensor::from_vector({2, 5}, mask_values)};
  auto f = [](const std::vector<Tensor>& x) { return sparsemax(add(x[0], x[1])); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(2e-3, 3e-4, 5e-3));
}

TEST_CASE("sparsemax rejects an empty last dim") {
  CHECK_THROWS_WITH_AS(sparsemax(Tensor::zeros({3, 0})), doctest::Contains("non-empty last dimension"), Error);
}
