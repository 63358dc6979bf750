#include <doctest/doctest.h>

#include "core/error.h"
#include "ops/op_test_support.h"
#include "ops/ops.h"

using namespace entlab;
using namespace entlab::testing;

TEST_CASE("embedding copies one table row per id") {
  Tensor table = Tensor::from_vector({3, 2}, {0, 1, 10, 11, 20, 21}, "table");
  Tensor out = embedding(table, {2, 0, 2, 1}, 2, 2);
  CHECK(out.shape() == Shape{2, 2, 2});
  CHECK_ALL_NEAR(out.to_vector(), (std::vector<double>{20, 21, 0, 1, 20, 21, 10, 11}), kFloat32);
}

TEST_CASE("embedding backward accumulates repeated ids") {
  Tensor table = param(Tensor::zeros({4, 2}, "table"));
  Tensor out = embedding(table, {1, 3, 1, 1}, 1, 4);
  Tensor g = Tensor::from_vector({1, 4, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  backward(out, g);
  // Row 1 is used at positions 0, 2, 3; row 3 at position 1; rows 0 and 2 never.
  CHECK_ALL_NEAR(table.grad().to_vector(), (std::vector<double>{0, 0, 13, 16, 0, 0, 3, 4}), kFloat32);
}

TEST_CASE("embedding rejects ids outside the vocabulary") {
  Tensor table = Tensor::zeros({3, 2}, "table");
  CHECK_THROWS_WITH_AS(embedding(table, {0, 3}, 1, 2), doctest::Contains("outside the vocabulary"), Error);
  CHECK_THROWS_AS(embedding(table, {0, -1}, 1, 2), Error);
  CHECK_THROWS_AS(embedding(table, {0, 1, 2}, 1, 2), Error);
}

TEST_CASE("embedding backward vs finite differences, repeated ids, table (5,3)") {
  Rng rng(61);
  std::vector<Tensor> inputs = {param(uniform_tensor({5, 3}, rng))};
  const std::vector<int32_t> ids = {4, 0, 4, 2, 2, 4};
  auto f = [&ids](const std::vector<Tensor>& x) { return embedding(x[0], ids, 2, 3); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}
