#include <doctest/doctest.h>

#include "core/error.h"
#include "ops/op_test_support.h"
#include "ops/ops.h"

using namespace entlab;
using namespace entlab::testing;

namespace {

std::vector<double> iota(int count) {
  std::vector<double> values;
  for (int i = 0; i < count; ++i) values.push_back(i);
  return values;
}

Tensor iota_tensor(const Shape& shape) {
  std::vector<float> values;
  for (int64_t i = 0; i < shape_numel(shape); ++i) values.push_back(static_cast<float>(i));
  return Tensor::from_vector(shape, values, "x");
}

}  // namespace

TEST_CASE("reshape is a view and infers one -1") {
  Tensor x = iota_tensor({2, 3, 4});
  Tensor y = reshape(x, {4, -1});
  CHECK(y.shape() == Shape{4, 6});
  CHECK(y.shares_storage(x));
  CHECK_ALL_NEAR(y.to_vector(), iota(24), kFloat32);
  CHECK_THROWS_AS(reshape(x, {5, -1}), Error);
  CHECK_THROWS_AS(reshape(x, {-1, -1}), Error);
  CHECK_THROWS_AS(reshape(x, {5, 5}), Error);
}

TEST_CASE("reshape of a transposed tensor copies in logical order") {
  Tensor x = iota_tensor({2, 3});
  Tensor y = reshape(transpose(x, 0, 1), {6});
  CHECK_ALL_NEAR(y.to_vector(), (std::vector<double>{0, 3, 1, 4, 2, 5}), kFloat32);
}

TEST_CASE("transpose swaps dims without copying") {
  Tensor x = iota_tensor({2, 3, 4});
  Tensor y = transpose(x, 0, -1);
  CHECK(y.shape() == Shape{4, 3, 2});
  CHECK(y.shares_storage(x));
  CHECK(y.at({3, 1, 0}) == x.at({0, 1, 3}));
  CHECK(y.at({1, 2, 1}) == x.at({1, 2, 1}));
  Tensor dense = contiguous(y);
  CHECK(dense.is_contiguous());
  CHECK_FALSE(dense.shares_storage(x));
  CHECK(dense.to_vector() == y.to_vector());
  CHECK(contiguous(x).impl() == x.impl());
}

TEST_CASE("slice selects a range along one dim") {
  Tensor x = iota_tensor({3, 4});
  Tensor columns = slice(x, -1, 1, 3);
  CHECK(columns.shape() == Shape{3, 2});
  CHECK(columns.shares_storage(x));
  CHECK_ALL_NEAR(columns.to_vector(), (std::vector<double>{1, 2, 5, 6, 9, 10}), kFloat32);
  Tensor rows = slice(x, 0, 2, 3);
  CHECK_ALL_NEAR(rows.to_vector(), (std::vector<double>{8, 9, 10, 11}), kFloat32);
  CHECK(slice(x, 0, 1, 1).numel() == 0);
  CHECK_THROWS_AS(slice(x, 0, 2, 4), Error);
  CHECK_THROWS_AS(slice(x, 1, 3, 2), Error);
}

TEST_CASE("concat joins along a middle dim") {
  Tensor a = iota_tensor({2, 1, 2});
  Tensor b = add_scalar(iota_tensor({2, 2, 2}), 10.0f);
  Tensor c = concat({a, b}, 1);
  CHECK(c.shape() == Shape{2, 3, 2});
  CHECK_ALL_NEAR(c.to_vector(), (std::vector<double>{0, 1, 10, 11, 12, 13, 2, 3, 14, 15, 16, 17}), kFloat32);
  CHECK_THROWS_WITH_AS(concat({a, Tensor::zeros({3, 1, 2})}, 1), doctest::Contains("does not match"), Error);
  CHECK_THROWS_AS(concat({}, 0), Error);
}

TEST_CASE("reshape backward vs finite differences, (2,3,4) to (4,6)") {
  Rng rng(51);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 3, 4}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return reshape(x[0], {4, 6}); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}

TEST_CASE("reshape backward vs finite differences, transposed (3,4) to (12,)") {
  Rng rng(52);
  std::vector<Tensor> inputs = {param(uniform_tensor({3, 4}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return reshape(transpose(x[0], 0, 1), {12}); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}

TEST_CASE("transpose backward vs finite differences, dims (0,2) of (2,3,4)") {
  Rng rng(53);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 3, 4}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return transpose(x[0], 0, 2); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}

TEST_CASE("contiguous backward vs finite differences, transposed (2,3,4)") {
  Rng rng(54);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 3, 4}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return contiguous(transpose(x[0], 1, 2)); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}

TEST_CASE("slice backward vs finite differences, dim 1 [1,3) of (2,4,3)") {
  Rng rng(55);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 4, 3}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return slice(x[0], 1, 1, 3); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}

TEST_CASE("slice backward vs finite differences, dim -1 of a transposed (3,5)") {
  Rng rng(56);
  std::vector<Tensor> inputs = {param(uniform_tensor({3, 5}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return slice(transpose(x[0], 0, 1), -1, 1, 3); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}

TEST_CASE("slice backward vs finite differences, two overlapping slices") {
  Rng rng(57);
  std::vector<Tensor> inputs = {param(uniform_tensor({6, 2}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return mul(slice(x[0], 0, 0, 4), slice(x[0], 0, 2, 6)); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}

TEST_CASE("concat backward vs finite differences, three parts along dim 1") {
  Rng rng(58);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 1, 3}, rng)), param(uniform_tensor({2, 2, 3}, rng)),
                                param(uniform_tensor({2, 3, 3}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return concat({x[0], x[1], x[2]}, 1); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}

TEST_CASE("concat backward vs finite differences, dim -1 with a constant part") {
  Rng rng(59);
  std::vector<Tensor> inputs = {param(uniform_tensor({3, 2}, rng)), uniform_tensor({3, 4}, rng),
                                param(uniform_tensor({3, 1}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return concat({x[0], x[1], x[2]}, -1); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}

TEST_CASE("concat backward vs finite differences, a transposed part") {
  Rng rng(60);
  std::vector<Tensor> inputs = {param(uniform_tensor({3, 2}, rng)), param(uniform_tensor({4, 3}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return concat({transpose(x[0], 0, 1), x[1]}, 0); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}
