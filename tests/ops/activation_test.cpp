#include <doctest/doctest.h>

#include <cmath>

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
