#include <doctest/doctest.h>

#include "core/error.h"
#include "ops/op_test_support.h"
#include "ops/ops.h"

using namespace entlab;
using namespace entlab::testing;

namespace {

// x (2,3,4) with x[i][j][k] = 100 i + 10 j + k, so every sum is easy to state.
Tensor indexed_tensor() {
  std::vector<float> values;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) values.push_back(static_cast<float>(100 * i + 10 * j + k));
  return Tensor::from_vector({2, 3, 4}, values, "x");
}

}  // namespace

TEST_CASE("sum and mean over all elements") {
  Tensor x = indexed_tensor();
  Tensor total = sum(x);
  CHECK(total.shape() == Shape{});
  // sum_i 100 i * 12 + sum_j 10 j * 8 + sum_k k * 6 = 1200 + 240 + 36.
  CHECK_NEAR(total.item(), 1476.0, kFloat32);
  CHECK_NEAR(mean(x).item(), 1476.0 / 24.0, kFloat32);
}

TEST_CASE("sum over dims (0,2) with and without keepdim") {
  Tensor x = indexed_tensor();
  Tensor reduced = sum(x, {0, 2});
  CHECK(reduced.shape() == Shape{3});
  // For each j: sum over i, k of (100 i + 10 j + k) = 400 + 80 j + 12.
  CHECK_ALL_NEAR(reduced.to_vector(), (std::vector<double>{412, 492, 572}), kFloat32);
  Tensor kept = sum(x, {0, -1}, true);
  CHECK(kept.shape() == Shape{1, 3, 1});
  CHECK_ALL_NEAR(kept.to_vector(), (std::vector<double>{412, 492, 572}), kFloat32);
}

TEST_CASE("mean over the last dim keeps the others") {
  Tensor x = indexed_tensor();
  Tensor m = mean(x, {-1});
  CHECK(m.shape() == Shape{2, 3});
  CHECK_ALL_NEAR(m.to_vector(), (std::vector<double>{1.5, 11.5, 21.5, 101.5, 111.5, 121.5}), kFloat32);
}

TEST_CASE("sum of a transposed view reads by strides") {
  Tensor x = indexed_tensor();
  Tensor by_row = sum(transpose(x, 0, 2), {0});  // (4,3,2) summed over k -> (3,2)
  CHECK(by_row.shape() == Shape{3, 2});
  CHECK_ALL_NEAR(by_row.to_vector(), (std::vector<double>{6, 406, 46, 446, 86, 486}), kFloat32);
}

TEST_CASE("sum accumulates in double, 10^6 values of 0.1") {
  Tensor x = Tensor::full({1000000}, 0.1f);
  // A float accumulator drifts by about 1e-3 relative here.
  CHECK_NEAR(sum(x).item(), 1e6 * static_cast<double>(0.1f), kFloat32);
}

TEST_CASE("reductions reject repeated or out-of-range dims") {
  Tensor x = Tensor::zeros({2, 3});
  CHECK_THROWS_WITH_AS(sum(x, {0, -2}), doctest::Contains("listed twice"), Error);
  CHECK_THROWS_AS(mean(x, {2}), Error);
}

TEST_CASE("sum backward vs finite differences, all of (2,3,4)") {
  Rng rng(41);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 3, 4}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return sum(x[0]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}

TEST_CASE("sum backward vs finite differences, dims (0,2) of (2,3,4)") {
  Rng rng(42);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 3, 4}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return sum(x[0], {0, 2}); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}

TEST_CASE("sum backward vs finite differences, dim -1 keepdim of (2,3,4)") {
  Rng rng(43);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 3, 4}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return sum(x[0], {-1}, true); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}

TEST_CASE("mean backward vs finite differences, all of (2,3,4)") {
  Rng rng(44);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 3, 4}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return mean(x[0]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-5, 1e-3));
}

TEST_CASE("mean backward vs finite differences, dim 1 keepdim of (2,3,4)") {
  Rng rng(45);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 3, 4}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return mean(x[0], {1}, true); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}

TEST_CASE("mean backward vs finite differences, dims (0,2) of (2,3,4)") {
  Rng rng(46);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 3, 4}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return mean(x[0], {0, 2}); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}

TEST_CASE("sum backward vs finite differences, dim 0 of a transposed (3,4)") {
  Rng rng(47);
  std::vector<Tensor> inputs = {param(uniform_tensor({3, 4}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return sum(transpose(x[0], 0, 1), {0}); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}
