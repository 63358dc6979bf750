#include <doctest/doctest.h>

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

// Runs op on x (requiring grad) and returns dL/dx for L = sum(op(x) * g).
template <typename Op>
std::vector<float> vjp(Op op, const Tensor& values, const std::vector<float>& g) {
  Tensor x = param(values.clone_values());
  Tensor y = op(x);
  backward(y, Tensor::from_vector(y.shape(), g));
  return x.grad().to_vector();
}

// Central-difference Jacobian of a row map f: R^n -> R^m in double, J[i][k] = d f_i / d z_k.
// An entry of z that is -inf stays -inf under the perturbation, so its column is 0.
template <typename RowMap>
std::vector<std::vector<double>> numeric_jacobian(RowMap f, std::vector<double> z, int64_t outputs, double h) {
  std::vector<std::vector<double>> jacobian(static_cast<size_t>(outputs), std::vector<double>(z.size(), 0.0));
  std::vector<double> plus(static_cast<size_t>(outputs)), minus(static_cast<size_t>(outputs));
  for (size_t k = 0; k < z.size(); ++k) {
    if (std::isinf(z[k])) continue;
    const double original = z[k];
    z[k] = original + h;
    f(plus.data(), z.data());
    z[k] = original - h;
    f(minus.data(), z.data());
    z[k] = original;
    for (int64_t i = 0; i < outputs; ++i) jacobian[i][k] = (plus[i] - minus[i]) / (2.0 * h);
  }
  return jacobian;
}

std::vector<double> random_row(Rng& rng, int64_t n, double scale) {
  std::vector<double> z(static_cast<size_t>(n));
  for (double& v : z) v = scale * rng.normal();
  return z;
}

}  // namespace

// --- Forward and VJP values --------------------------------------------------------------------

TEST_CASE("softmax of [0.1, 0.9] and its VJP") {
  Tensor z = Tensor::from_vector({2}, {0.1f, 0.9f});
  Tensor p = softmax(z);
  CHECK_NEAR(p.at({0}), 0.3100255, kFloat32);
  CHECK_NEAR(p.at({1}), 0.6899745, kFloat32);
  // y (g - sum y g) with g = [1, 0].
  const std::vector<float> dz = vjp(softmax, z, {1, 0});
  CHECK_NEAR(dz[0], 0.2139097, kFloat32);
  CHECK_NEAR(dz[1], -0.2139097, kFloat32);
}

TEST_CASE("log_softmax of [0.1, 0.9] and its VJP") {
  Tensor z = Tensor::from_vector({2}, {0.1f, 0.9f});
  Tensor y = log_softmax(z);
  CHECK_NEAR(y.at({0}), -1.1711007, kFloat32);
  CHECK_NEAR(y.at({1}), -0.3711007, kFloat32);
  // g - softmax * sum(g) with g = [1, 1]; treating y like softmax would give [1.31, 1.69].
  const std::vector<float> dz = vjp(log_softmax, z, {1, 1});
  CHECK_NEAR(dz[0], 0.3799490, kFloat32);
  CHECK_NEAR(dz[1], -0.3799490, kFloat32);
}

TEST_CASE("softmax of [1000, 1001, 1002] does not overflow") {
  Tensor p = softmax(Tensor::from_vector({3}, {1000, 1001, 1002}));
  CHECK_NEAR(p.at({0}), 0.0900306, kFloat32);
  CHECK_NEAR(p.at({1}), 0.2447285, kFloat32);
  CHECK_NEAR(p.at({2}), 0.6652410, kFloat32);
  Tensor q = softmax(Tensor::from_vector({3}, {-1000, -1001, -1002}));
  CHECK_NEAR(q.at({0}), 0.6652410, kFloat32);
  CHECK_NEAR(q.at({1}), 0.2447285, kFloat32);
  CHECK_NEAR(q.at({2}), 0.0900306, kFloat32);
}

TEST_CASE("logsumexp shifts with the input, c = +-1e4") {
  const std::vector<float> z = {0.5f, -1.0f, 2.0f, 0.0f};
  const double base = std::log(std::exp(0.5) + std::exp(-1.0) + std::exp(2.0) + 1.0);
  CHECK_NEAR(logsumexp(Tensor::from_vector({4}, z)).item(), base, kFloat32);
  for (float c : {1e4f, -1e4f}) {
    std::vector<float> shifted;
    for (float v : z) shifted.push_back(v + c);
    INFO("c = ", c);
    CHECK_NEAR(logsumexp(Tensor::from_vector({4}, shifted)).item(), base + c, kFloat32);
  }
}

TEST_CASE("logsumexp over the last dim of (2,3)") {
  Tensor l = logsumexp(Tensor::from_vector({2, 3}, {0, 0, 0, 1, 2, 3}));
  CHECK(l.shape() == Shape{2});
  CHECK_NEAR(l.at({0}), std::log(3.0), kFloat32);
  CHECK_NEAR(l.at({1}), std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)), kFloat32);
}

// --- Masked (-inf) entries --------------------------------------------------------------------

TEST_CASE("softmax of an all -inf row is zeros with zero gradient") {
  Tensor z = Tensor::full({4}, -kInf);
  const std::vector<float> p = softmax(z).to_vector();
  for (float v : p) CHECK(v == 0.0f);
  const std::vector<float> dz = vjp(softmax, z, {1, -2, 3, 0.5f});
  for (float v : dz) CHECK(v == 0.0f);
}

TEST_CASE("softmax of a batch with one fully masked row") {
  Tensor z = Tensor::from_vector({2, 3}, {0, -kInf, -kInf, -kInf, -kInf, -kInf});
  Tensor p = softmax(z);
  CHECK(p.at({0, 0}) == 1.0f);
  CHECK(p.at({0, 1}) == 0.0f);
  CHECK(p.at({0, 2}) == 0.0f);
  for (int64_t j = 0; j < 3; ++j) CHECK(p.at({1, j}) == 0.0f);
  // Row 0 has a support of one entry, so its VJP is 0 for any g.
  const std::vector<float> dz = vjp(softmax, z, {1, 2, 3, 4, 5, 6});
  for (float v : dz) CHECK(v == 0.0f);
  // Row 0 is the same without row 1.
  Tensor alone = softmax(Tensor::from_vector({1, 3}, {0, -kInf, -kInf}));
  CHECK(alone.to_vector() == std::vector<float>{1, 0, 0});
}

TEST_CASE("softmax gives masked entries zero probability and zero gradient") {
  Tensor z = Tensor::from_vector({4}, {1, -kInf, 2, -kInf});
  Tensor p = softmax(z);
  CHECK(p.at({1}) == 0.0f);
  CHECK(p.at({3}) == 0.0f);
  CHECK_NEAR(p.at({0}), 1.0 / (1.0 + std::exp(1.0)), kFloat32);
  const std::vector<float> dz = vjp(softmax, z, {0.5f, 7, -1, 3});
  CHECK(dz[1] == 0.0f);
  CHECK(dz[3] == 0.0f);
  CHECK_NEAR(dz[0] + dz[2], 0.0, kFloat32);
}

TEST_CASE("log_softmax gives masked entries -inf and zero gradient") {
  Tensor z = Tensor::from_vector({3}, {-kInf, 1, 2});
  Tensor y = log_softmax(z);
  CHECK(y.at({0}) == -kInf);
  CHECK_NEAR(y.at({1}), 1.0 - std::log(std::exp(1.0) + std::exp(2.0)), kFloat32);
  // Perturbing a -inf score changes no output, so its gradient is 0.
  const std::vector<float> dz = vjp(log_softmax, z, {1, 1, 1});
  CHECK(dz[0] == 0.0f);
  const double p1 = std::exp(1.0) / (std::exp(1.0) + std::exp(2.0));
  // dz_k = g_k - p_k sum(g); the sum includes the g of the masked output.
  CHECK_NEAR(dz[1], 1.0 - 3.0 * p1, kFloat32);
  CHECK_NEAR(dz[2], 1.0 - 3.0 * (1.0 - p1), kFloat32);
}

TEST_CASE("log_softmax of an all -inf row is -inf with zero gradient") {
  Tensor z = Tensor::full({3}, -kInf);
  for (float v : log_softmax(z).to_vector()) CHECK(v == -kInf);
  for (float v : vjp(log_softmax, z, {1, 2, 3})) CHECK(v == 0.0f);
}

TEST_CASE("logsumexp of masked rows: [-inf, -inf] and [-inf, 1]") {
  Tensor all_masked = Tensor::from_vector({2}, {-kInf, -kInf});
  CHECK(logsumexp(all_masked).item() == -kInf);
  const std::vector<float> d_all = vjp(logsumexp, all_masked, {1});
  CHECK(d_all[0] == 0.0f);
  CHECK(d_all[1] == 0.0f);

  Tensor one_left = Tensor::from_vector({2}, {-kInf, 1});
  CHECK_NEAR(logsumexp(one_left).item(), 1.0, kFloat32);
  const std::vector<float> d_one = vjp(logsumexp, one_left, {1});
  CHECK(d_one[0] == 0.0f);
  CHECK_NEAR(d_one[1], 1.0, kFloat32);
}

// --- Properties -----------------------------------------------------------------------------------

TEST_CASE("softmax and log_softmax VJPs sum to zero per row, shape (3,7)") {
  Rng rng(71);
  Tensor z = normal_tensor({3, 7}, rng, 3.0f);
  std::vector<float> g = normal_tensor({3, 7}, rng).to_vector();
  for (auto* op : {&softmax, &log_softmax}) {
    const std::vector<float> dz = vjp(*op, z, g);
    for (int row = 0; row < 3; ++row) {
      double total = 0.0;
      for (int j = 0; j < 7; ++j) total += dz[row * 7 + j];
      INFO("row ", row);
      CHECK_NEAR(total, 0.0, kFloat32);
    }
  }
}

TEST_CASE("softmax of a transposed input reads rows by strides") {
  Tensor x = Tensor::from_vector({3, 2}, {0, 5, 1, 5, 2, 5});
  Tensor p = softmax(transpose(x, 0, 1));  // rows [0, 1, 2] and [5, 5, 5]
  const double total = 1.0 + std::exp(1.0) + std::exp(2.0);
  CHECK_ALL_NEAR(p.to_vector(),
                 (std::vector<double>{1 / total, std::exp(1.0) / total, std::exp(2.0) / total, 1.0 / 3, 1.0 / 3,
                                      1.0 / 3}),
                 kFloat32);
}

TEST_CASE("softmax rows on the OpenMP path match the row kernel, (256,512)") {
  ThreadCountGuard two_threads(2);
  if (openmp_enabled()) CHECK(num_threads() == 2);
  CHECK(256 * 512 > kParallelMinWork);  // large enough for the kernels to go parallel
  Rng rng(72);
  Tensor x = param(normal_tensor({256, 512}, rng, 4.0f));
  Tensor g = normal_tensor({256, 512}, rng);
  Tensor p = softmax(x);
  backward(p, g);
  std::vector<float> row_p(512), row_dz(512);
  bool forward_equal = true, backward_equal = true;
  for (int64_t row = 0; row < 256; ++row) {
    std::fill(row_dz.begin(), row_dz.end(), 0.0f);
    softmax_row_forward(row_p.data(), x.data() + row * 512, 512);
    softmax_row_backward(row_dz.data(), g.data() + row * 512, row_p.data(), 512);
    forward_equal = forward_equal && std::equal(row_p.begin(), row_p.end(), p.data() + row * 512);
    backward_equal = backward_equal && std::equal(row_dz.begin(), row_dz.end(), x.grad().data() + row * 512);
  }
  CHECK(forward_equal);
  CHECK(backward_equal);
}

// --- Finite-difference checks of the float ops --------------------------------------------------

TEST_CASE("softmax backward vs finite differences, shape (2,3,5)") {
  Rng rng(73);
  std::vector<Tensor> inputs = {param(normal_tensor({2, 3, 5}, rng, 2.0f))};
  auto f = [](const std::vector<Tensor>& x) { return softmax(x[0]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 2e-3));
}

TEST_CASE("softmax backward vs finite differences, (2,4) with -inf entries") {
  Rng rng(74);
  std::vector<Tensor> inputs = {param(normal_tensor({2, 4}, rng, 2.0f)),
                                Tensor::from_vector({2, 4}, {0, -kInf, 0, 0, -kInf, 0, -kInf, 0})};
  auto f = [](const std::vector<Tensor>& x) { return softmax(add(x[0], x[1])); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 2e-3));
}

TEST_CASE("log_softmax backward vs finite differences, shape (2,3,5)") {
  Rng rng(75);
  std::vector<Tensor> inputs = {param(normal_tensor({2, 3, 5}, rng, 2.0f))};
  auto f = [](const std::vector<Tensor>& x) { return log_softmax(x[0]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 2e-4, 2e-3));
}

TEST_CASE("logsumexp backward vs finite differences, shape (2,3,5)") {
  Rng rng(76);
  std::vector<Tensor> inputs = {param(normal_tensor({2, 3, 5}, rng, 2.0f))};
  auto f = [](const std::vector<Tensor>& x) { return logsumexp(x[0]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 2e-3));
}

// --- Row kernels in double against central differences ------------------------------------------

TEST_CASE("softmax row kernel Jacobian in double, n = 6, with and without -inf") {
  Rng rng(77);
  for (int trial = 0; trial < 20; ++trial) {
    const int64_t n = 6;
    std::vector<double> z = random_row(rng, n, 3.0);
    if (trial % 2 == 1) z[static_cast<size_t>(trial % n)] = -kInf64;
    auto forward = [n](double* p, const double* scores) { softmax_row_forward(p, scores, n); };
    const auto jacobian = numeric_jacobian(forward, z, n, 1e-6);
    std::vector<double> p(n);
    softmax_row_forward(p.data(), z.data(), n);
    // Column i of the VJP with g = e_i is row i of the Jacobian (the Jacobian is symmetric).
    for (int64_t i = 0; i < n; ++i) {
      std::vector<double> g(n, 0.0), dz(n, 0.0);
      g[i] = 1.0;
      softmax_row_backward(dz.data(), g.data(), p.data(), n);
      for (int64_t k = 0; k < n; ++k) {
        INFO("trial ", trial, ", d p_", i, " / d z_", k);
        CHECK_NEAR(dz[k], jacobian[i][k], kIterative64);
      }
    }
  }
}

TEST_CASE("logsumexp row kernel gradient in double is softmax, n = 5") {
  Rng rng(78);
  for (int trial = 0; trial < 10; ++trial) {
    const int64_t n = 5;
    std::vector<double> z = random_row(rng, n, 3.0);
    auto forward = [n](double* l, const double* scores) { l[0] = logsumexp_row(scores, n); };
    const auto jacobian = numeric_jacobian(forward, z, 1, 1e-6);
    std::vector<double> p(n);
    softmax_row_forward(p.data(), z.data(), n);
    for (int64_t k = 0; k < n; ++k) {
      INFO("trial ", trial, ", k ", k);
      CHECK_NEAR(p[k], jacobian[0][k], kIterative64);
    }
  }
}

TEST_CASE("softmax rejects an empty last dim") {
  CHECK_THROWS_AS(softmax(Tensor::zeros({2, 0})), Error);
  CHECK_THROWS_AS(logsumexp(Tensor::zeros({0})), Error);
}
