#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "ops/op_test_support.h"
#include "ops/ops.h"

using namespace entlab;
using namespace entlab::testing;

TEST_CASE("gelu values, exact erf form") {
  Tensor y = gelu(Tensor::from_vector({5}, {-3, -1, 0, 1, 3}));
  // x Phi(x) with Phi(1) = 0.8413447460685429 and Phi(3) = 0.9986501019683699.
  CHECK_ALL_NEAR(y.to_vector(),
                 (std::vector<double>{-3 * (1 - 0.9986501019683699), -(1 - 0.8413447460685429), 0,
                                      0.8413447460685429, 3 * 0.9986501019683699}),
                 kFloat32);
}

TEST_CASE("gelu backward vs finite differences, shape (2,3,4)") {
  Rng rng(65);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 3, 4}, rng, -3.0f, 3.0f))};
  auto f = [](const std::vector<Tensor>& x) { return gelu(x[0]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}

// --- softplus -----------------------------------------------------------------------------------

TEST_CASE("softplus values, moderate inputs") {
  Tensor y = softplus(Tensor::from_vector({3}, {-1, 0, 1}));
  // log(1 + e^x): log(1 + 1/e), log 2, log(1 + e).
  CHECK_ALL_NEAR(y.to_vector(), (std::vector<double>{0.31326168751822286, 0.6931471805599453, 1.3132616875182228}),
                 kFloat32);
}

TEST_CASE("softplus of +-100 and 1e4 stays finite") {
  // A naive log(1 + exp(x)) overflows to inf for x = 100 and 1e4 in float32.
  Tensor x = param(Tensor::from_vector({3}, {-100, 100, 1e4f}, "x"));
  Tensor y = softplus(x);
  const std::vector<float> values = y.to_vector();
  for (float value : values) CHECK(std::isfinite(value));
  CHECK(values[0] >= 0.0f);
  CHECK_NEAR(values[0], 3.720075976020836e-44, kFloat32);
  CHECK(values[1] == 100.0f);
  CHECK(values[2] == 1e4f);

  // The derivative is sigmoid(x): e^-100 (about 3.7e-44), then 1 and 1.
  backward(y, Tensor::ones({3}));
  const std::vector<float> dx = x.grad().to_vector();
  for (float value : dx) CHECK(std::isfinite(value));
  CHECK(dx[0] >= 0.0f);
  CHECK_NEAR(dx[0], 3.720075976020836e-44, kFloat32);
  CHECK(dx[1] == 1.0f);
  CHECK(dx[2] == 1.0f);
}

TEST_CASE("softplus backward is sigmoid, ones upstream") {
  Tensor x = param(Tensor::from_vector({3}, {-2, 0, 3}, "x"));
  backward(softplus(x), Tensor::ones({3}));
  // 1 / (1 + e^-x) at -2, 0, 3.
  CHECK_ALL_NEAR(x.grad().to_vector(), (std::vector<double>{0.11920292202211755, 0.5, 0.9525741268224334}),
                 kFloat32);
}

TEST_CASE("softplus backward vs finite differences, shape (2,3,4)") {
  Rng rng(66);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 3, 4}, rng, -4.0f, 4.0f))};
  auto f = [](const std::vector<Tensor>& x) { return softplus(x[0]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}

TEST_CASE("inverse_softplus round trip at 0.05") {
  const float x = inverse_softplus(0.05f);
  // log(e^0.05 - 1).
  CHECK_NEAR(x, -2.970628109057377, kFloat32);
  CHECK_NEAR(softplus(Tensor::scalar(x)).item(), 0.05, kFloat32);
}

TEST_CASE("inverse_softplus at 1, 50 and 1e30") {
  CHECK_NEAR(inverse_softplus(1.0f), 0.541324854612918, kFloat32);
  CHECK_NEAR(inverse_softplus(50.0f), 50.0, kFloat32);
  // exp(1e30) overflows even in double; the large-y branch returns y itself.
  CHECK(inverse_softplus(1e30f) == 1e30f);
}

TEST_CASE("inverse_softplus rejects y <= 0 and non-finite y") {
  CHECK_THROWS_WITH_AS(inverse_softplus(0.0f), doctest::Contains("inverse_softplus: y = 0"), Error);
  CHECK_THROWS_AS(inverse_softplus(-1.0f), Error);
  CHECK_THROWS_AS(inverse_softplus(std::numeric_limits<float>::infinity()), Error);
  CHECK_THROWS_AS(inverse_softplus(std::numeric_limits<float>::quiet_NaN()), Error);
}

// --- tanh ---------------------------------------------------------------------------------------

TEST_CASE("tanh values and saturation") {
  Tensor x = param(Tensor::from_vector({4}, {-20, -0.5f, 0.5f, 20}, "x"));
  Tensor y = tanh(x);
  CHECK_ALL_NEAR(y.to_vector(), (std::vector<double>{-1, -0.46211715726000974, 0.46211715726000974, 1}), kFloat32);

  // 1 - tanh^2: 0 once tanh rounds to +-1, 0.7864477 at +-0.5.
  backward(y, Tensor::ones({4}));
  CHECK_ALL_NEAR(x.grad().to_vector(), (std::vector<double>{0, 0.7864477329659274, 0.7864477329659274, 0}),
                 kFloat32);
}

TEST_CASE("tanh backward vs finite differences, shape (2,3,4)") {
  Rng rng(67);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 3, 4}, rng, -3.0f, 3.0f))};
  auto f = [](const std::vector<Tensor>& x) { return tanh(x[0]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}

// --- relu ---------------------------------------------------------------------------------------

TEST_CASE("relu values and gradient around 0") {
  Tensor x = param(Tensor::from_vector({6}, {-3, -0.5f, -0.0f, 0, 0.5f, 3}, "x"));
  Tensor y = relu(x);
  const std::vector<float> values = y.to_vector();
  CHECK_ALL_NEAR(values, (std::vector<double>{0, 0, 0, 0, 0.5, 3}), kFloat32);
  CHECK_FALSE(std::signbit(values[2]));  // -0 maps to +0

  // The gradient passes only where x > 0, so it is 0 at x = 0.
  backward(y, Tensor::from_vector({6}, {1, 2, 3, 4, 5, 6}));
  CHECK_ALL_NEAR(x.grad().to_vector(), (std::vector<double>{0, 0, 0, 0, 5, 6}), kFloat32);
}

TEST_CASE("relu passes NaN through") {
  const std::vector<float> values = relu(Tensor::from_vector({2}, {std::nanf(""), -1})).to_vector();
  CHECK(std::isnan(values[0]));
  CHECK(values[1] == 0.0f);
}

TEST_CASE("relu backward vs finite differences away from 0") {
  // |x| >= 0.1, so the 4-point stencil (reach 2 * 1e-2) never crosses the kink at 0.
  Rng rng(68);
  Tensor x = uniform_tensor({2, 3, 4}, rng, 0.1f, 2.0f);
  for (int64_t i = 0; i < x.numel(); ++i)
    if (rng.bernoulli(0.5f)) x.data()[i] = -x.data()[i];
  const std::vector<float> xs = x.to_vector();
  const int64_t positives = std::count_if(xs.begin(), xs.end(), [](float v) { return v > 0.0f; });
  CHECK(positives > 0);  // both branches are exercised
  CHECK(positives < x.numel());
  std::vector<Tensor> inputs = {param(x)};
  auto f = [](const std::vector<Tensor>& in) { return relu(in[0]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}
