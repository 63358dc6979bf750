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
