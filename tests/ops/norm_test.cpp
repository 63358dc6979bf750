#include <doctest/doctest.h>

#include <cmath>

#include "core/error.h"
#include "ops/op_test_support.h"
#include "ops/ops.h"

using namespace entlab;
using namespace entlab::testing;

TEST_CASE("rmsnorm forward matches x / rms(x) * w") {
  Rng rng(62);
  const float eps = 1e-5f;
  Tensor x = uniform_tensor({3, 5}, rng, -2.0f, 2.0f);
  Tensor w = uniform_tensor({5}, rng, 0.5f, 1.5f);
  Tensor y = rmsnorm(x, w, eps);
  const std::vector<float> xs = x.to_vector(), ws = w.to_vector();
  std::vector<double> expected;
  for (int row = 0; row < 3; ++row) {
    double squares = 0.0;
    for (int c = 0; c < 5; ++c) squares += static_cast<double>(xs[row * 5 + c]) * xs[row * 5 + c];
    const double inv_rms = 1.0 / std::sqrt(squares / 5 + eps);
    for (int c = 0; c < 5; ++c) expected.push_back(xs[row * 5 + c] * inv_rms * ws[c]);
  }
  CHECK_ALL_NEAR(y.to_vector(), expected, kFloat32);
}

TEST_CASE("rmsnorm of a zero row stays finite") {
  Tensor y = rmsnorm(Tensor::zeros({1, 4}), Tensor::ones({4}));
  for (float v : y.to_vector()) CHECK(v == 0.0f);
}

TEST_CASE("rmsnorm rejects a weight of the wrong size") {
  CHECK_THROWS_AS(rmsnorm(Tensor::zeros({2, 4}), Tensor::ones({3})), Error);
}

TEST_CASE("rmsnorm backward vs finite differences, x (2,3,8) and weight (8,)") {
  Rng rng(63);
  std::vector<Tensor> inputs = {param(normal_tensor({2, 3, 8}, rng)), param(uniform_tensor({8}, rng, 0.5f, 1.5f))};
  auto f = [](const std::vector<Tensor>& x) { return rmsnorm(x[0], x[1]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 2e-4, 2e-3));
}

TEST_CASE("rmsnorm backward vs finite differences, small rows (4,2)") {
  Rng rng(64);
  std::vector<Tensor> inputs = {param(uniform_tensor({4, 2}, rng, 0.3f, 1.0f)), param(uniform_tensor({2}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return rmsnorm(x[0], x[1]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-3, 2e-4, 2e-3));
}

// --- layernorm ------------------------------------------------------------------------------------

namespace {

// (x - mean) / sqrt(var + eps) * w + b per row of `channels` values, in double.
std::vector<double> layernorm_reference(const std::vector<float>& x, const std::vector<float>& w,
                                        const std::vector<float>& b, int64_t channels, double eps) {
  std::vector<double> out;
  const int64_t rows = static_cast<int64_t>(x.size()) / channels;
  for (int64_t row = 0; row < rows; ++row) {
    const float* x_row = x.data() + row * channels;
    double sum = 0.0;
    for (int64_t c = 0; c < channels; ++c) sum += x_row[c];
    const double mean = sum / channels;
    double squares = 0.0;
    for (int64_t c = 0; c < channels; ++c) squares += (x_row[c] - mean) * (x_row[c] - mean);
    const double inv_std = 1.0 / std::sqrt(squares / channels + eps);
    for (int64_t c = 0; c < channels; ++c) out.push_back((x_row[c] - mean) * inv_std * w[c] + b[c]);
  }
  return out;
}

}  // namespace

TEST_CASE("layernorm forward matches the double reference") {
  Rng rng(70);
  const float eps = 1e-5f;
  Tensor x = uniform_tensor({3, 5}, rng, -2.0f, 2.0f);
  Tensor w = uniform_tensor({5}, rng, 0.5f, 1.5f);
  Tensor b = uniform_tensor({5}, rng, -1.0f, 1.0f);
  Tensor y = layernorm(x, w, b, eps);
  CHECK(y.shape() == Shape{3, 5});
  CHECK_ALL_NEAR(y.to_vector(), layernorm_reference(x.to_vector(), w.to_vector(), b.to_vector(), 5, eps),
                 kFloat32);
}

TEST_CASE("layernorm of [1,2,3,4] with eps 0") {
  // mean 2.5, biased variance 1.25, so y = (x - 2.5) / sqrt(1.25).
  Tensor y = layernorm(Tensor::from_vector({4}, {1, 2, 3, 4}), Tensor::ones({4}), Tensor::zeros({4}), 0.0f);
  CHECK_ALL_NEAR(y.to_vector(), (std::vector<double>{-1.3416407864998738, -0.4472135954999579, 0.4472135954999579,
                                                     1.3416407864998738}),
                 kFloat32);
}

TEST_CASE("layernorm rows have mean 0 and variance 1") {
  Rng rng(71);
  const int64_t channels = 16;
  Tensor x = normal_tensor({4, channels}, rng, 3.0f);
  for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] += 5.0f;  // a row mean far from 0
  const std::vector<float> y = layernorm(x, Tensor::ones({channels}), Tensor::zeros({channels})).to_vector();
  for (int64_t row = 0; row < 4; ++row) {
    double sum = 0.0;
    for (int64_t c = 0; c < channels; ++c) sum += y[row * channels + c];
    const double mean = sum / channels;
    double squares = 0.0;
    for (int64_t c = 0; c < channels; ++c) squares += (y[row * channels + c] - mean) * (y[row * channels + c] - mean);
    INFO("row ", row);
    CHECK_NEAR(mean, 0.0, kFloat32);
    // var / (var + eps) with var about 9, so 1 - 1e-6 or closer.
    CHECK_NEAR(squares / channels, 1.0, (Tolerance{0.0, 1e-5}));
  }
}

TEST_CASE("layernorm of a constant row is bias") {
  const float eps = 1e-5f;
  Tensor x = param(Tensor::from_vector({2, 4}, {7, 7, 7, 7, 1, -2, 0.5f, 3}, "x"));
  Tensor w = param(Tensor::from_vector({4}, {0.5f, -1.5f, 2, 1}, "w"));
  Tensor b = param(Tensor::from_vector({4}, {0.1f, -0.2f, 0.3f, 0.4f}, "b"));
  Tensor y = layernorm(x, w, b, eps);
  const std::vector<float> values = y.to_vector();
  for (float value : values) CHECK(std::isfinite(value));
  CHECK_ALL_NEAR(std::vector<float>(values.begin(), values.begin() + 4), (std::vector<double>{0.1, -0.2, 0.3, 0.4}),
                 kFloat32);

  // In the constant row x - mean = 0, so dx = (g w - mean(g w)) / sqrt(eps).
  const std::vector<float> upstream = {1, 2, -1, 0.5f, 0.3f, -0.7f, 1.1f, 0.2f};
  backward(y, Tensor::from_vector({2, 4}, upstream));
  const std::vector<float> ws = w.to_vector();
  double mean_gw = 0.0;
  for (int c = 0; c < 4; ++c) mean_gw += upstream[c] * ws[c] / 4.0;
  std::vector<double> expected_dx;
  for (int c = 0; c < 4; ++c) expected_dx.push_back((upstream[c] * ws[c] - mean_gw) / std::sqrt(1e-5));
  const std::vector<float> dx = x.grad().to_vector();
  CHECK_ALL_NEAR(std::vector<float>(dx.begin(), dx.begin() + 4), expected_dx, kFloat32);
  for (float value : dx) CHECK(std::isfinite(value));
  for (float value : w.grad().to_vector()) CHECK(std::isfinite(value));
  // db is the upstream gradient summed over rows.
  CHECK_ALL_NEAR(b.grad().to_vector(), (std::vector<double>{1.3, 1.3, 0.1, 0.7}), kFloat32);
}

TEST_CASE("layernorm of a constant row, eps 0, is NaN") {
  // var = 0 makes 1/sqrt(var + eps) infinite, and 0 * inf is NaN.
  const std::vector<float> y =
      layernorm(Tensor::full({1, 3}, 2.0f), Tensor::ones({3}), Tensor::zeros({3}), 0.0f).to_vector();
  for (float value : y) CHECK(std::isnan(value));
}

TEST_CASE("layernorm of a transposed input") {
  // A transposed x is not contiguous, so layernorm reads it through a contiguous copy.
  Rng rng(76);
  Tensor base = param(normal_tensor({5, 3}, rng, 1.0f, "base"));
  Tensor copy = param(base.view_transposed(0, 1).clone_values().set_name("copy"));
  Tensor w = uniform_tensor({5}, rng, 0.5f, 1.5f);
  Tensor b = uniform_tensor({5}, rng);
  Tensor g = normal_tensor({3, 5}, rng);

  Tensor x = transpose(base, 0, 1);
  REQUIRE_FALSE(x.is_contiguous());
  Tensor y = layernorm(x, w, b);
  backward(y, g);
  Tensor y_copy = layernorm(copy, w, b);
  backward(y_copy, g);

  CHECK(y.to_vector() == y_copy.to_vector());
  // base.grad is (5,3), the transpose of copy.grad.
  const std::vector<float> base_grad = base.grad().to_vector(), copy_grad = copy.grad().to_vector();
  for (int row = 0; row < 3; ++row)
    for (int c = 0; c < 5; ++c) {
      INFO("row ", row, ", channel ", c);
      CHECK(base_grad[c * 3 + row] == copy_grad[row * 5 + c]);
    }
}

TEST_CASE("layernorm invariant to a row shift") {
  Rng rng(72);
  const std::vector<float> shifts = {10.0f, -3.5f, 0.25f};
  Tensor x = param(uniform_tensor({3, 8}, rng, -1.0f, 1.0f, "x"));
  Tensor shifted = param(x.clone_values().set_name("shifted x"));
  for (int64_t row = 0; row < 3; ++row)
    for (int64_t c = 0; c < 8; ++c) shifted.data()[row * 8 + c] += shifts[row];
  Tensor w = uniform_tensor({8}, rng, 0.5f, 1.5f);
  Tensor b = uniform_tensor({8}, rng, -1.0f, 1.0f);
  Tensor g = normal_tensor({3, 8}, rng);

  // backward clears the whole tape, so each output runs its backward before the next forward.
  Tensor y = layernorm(x, w, b);
  backward(y, g);
  Tensor y_shifted = layernorm(shifted, w, b);
  backward(y_shifted, g);

  // x + 10 is rounded to a multiple of 2^-20 (about 1e-6), which moves y by about that
  // much over the row's standard deviation of about 0.6.
  CHECK_ALL_NEAR(y_shifted.to_vector(), to_doubles(y.to_vector()), (Tolerance{0.0, 2e-5}));
  CHECK_ALL_NEAR(shifted.grad().to_vector(), to_doubles(x.grad().to_vector()), (Tolerance{0.0, 1e-4}));
}

TEST_CASE("layernorm rejects invalid weight, bias, eps") {
  Tensor x = Tensor::zeros({2, 4});
  CHECK_THROWS_WITH_AS(layernorm(x, Tensor::ones({3}), Tensor::zeros({4})), doctest::Contains("layernorm: input"),
                       Error);
  CHECK_THROWS_AS(layernorm(x, Tensor::ones({4}), Tensor::zeros({3})), Error);
  CHECK_THROWS_AS(layernorm(x, Tensor::ones({1, 4}), Tensor::zeros({4})), Error);
  CHECK_THROWS_AS(layernorm(x, Tensor::ones({4}), Tensor::zeros({1, 4})), Error);
  CHECK_THROWS_AS(layernorm(Tensor::zeros({2, 0}), Tensor::ones({0}), Tensor::zeros({0})), Error);
  CHECK_THROWS_WITH_AS(layernorm(x, Tensor::ones({4}), Tensor::zeros({4}), -1e-5f),
                       doctest::Contains("layernorm: eps = "), Error);
  CHECK_THROWS_AS(layernorm(x, Tensor::ones({4}), Tensor::zeros({4}), std::nanf("")), Error);
}

TEST_CASE("layernorm backward vs finite differences, (2,3,5)") {
  Rng rng(73);
  std::vector<Tensor> inputs = {param(normal_tensor({2, 3, 5}, rng)), param(uniform_tensor({5}, rng, 0.5f, 1.5f)),
                                param(uniform_tensor({5}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return layernorm(x[0], x[1], x[2]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 2e-4, 2e-3));
}

TEST_CASE("layernorm backward, x held constant") {
  // Only weight and bias require grad, so backward skips the dx loop.
  Rng rng(74);
  std::vector<Tensor> inputs = {normal_tensor({4, 6}, rng), param(uniform_tensor({6}, rng, -1.5f, 1.5f)),
                                param(uniform_tensor({6}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return layernorm(x[0], x[1], x[2]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 2e-4, 2e-3));
}

TEST_CASE("layernorm OpenMP path matches one thread") {
  ThreadCountGuard two_threads(2);
  if (openmp_enabled()) CHECK(num_threads() == 2);
  CHECK(256 * 512 > kParallelMinWork);  // large enough for the kernels to go parallel
  Rng rng(75);
  Tensor x = param(normal_tensor({256, 512}, rng, 2.0f, "x"));
  Tensor w = param(uniform_tensor({512}, rng, 0.5f, 1.5f, "w"));
  Tensor b = param(uniform_tensor({512}, rng, -1.0f, 1.0f, "b"));
  Tensor g = normal_tensor({256, 512}, rng);
  Tensor y = layernorm(x, w, b);
  backward(y, g);
  CHECK_ALL_NEAR(y.to_vector(), layernorm_reference(x.to_vector(), w.to_vector(), b.to_vector(), 512, 1e-5),
                 kFloat32);

  // One thread gives the same bits.
  ThreadCountGuard one_thread(1);
  Tensor x1 = param(x.clone_values());
  Tensor w1 = param(w.clone_values());
  Tensor b1 = param(b.clone_values());
  Tensor y1 = layernorm(x1, w1, b1);
  backward(y1, g);
  CHECK(y1.to_vector() == y.to_vector());
  CHECK(x1.grad().to_vector() == x.grad().to_vector());
  CHECK(w1.grad().to_vector() == w.grad().to_vector());
  CHECK(b1.grad().to_vector() == b.grad().to_vector());
}
