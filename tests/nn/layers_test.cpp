#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "autograd/tape.h"
#include "core/error.h"
#include "nn/layers.h"
#include "ops/norm.h"

using namespace entlab;
using namespace entlab::nn;

TEST_CASE("LayerNorm parameter names and initial values") {
  LayerNorm norm(6);
  auto named = norm.named_parameters();
  REQUIRE(named.size() == 2);
  CHECK(named[0].first == "weight");
  CHECK(named[1].first == "bias");
  CHECK(named[0].second.shape() == Shape{6});
  CHECK(named[1].second.shape() == Shape{6});
  CHECK(named[0].second.requires_grad());
  CHECK(named[1].second.requires_grad());
  CHECK(norm.weight.to_vector() == std::vector<float>(6, 1.0f));
  CHECK(norm.bias.to_vector() == std::vector<float>(6, 0.0f));
  CHECK(norm.parameter_count() == 12);
  CHECK(norm.eps == 1e-5f);
}

TEST_CASE("LayerNorm forward uses its eps, weight and bias") {
  // eps 0.5 on [1,2,3,4]: (x - 2.5) / sqrt(1.25 + 0.5), then * w + b.
  LayerNorm norm(4, 0.5f);
  norm.weight.data()[1] = 2.0f;
  norm.bias.data()[3] = -1.0f;
  const std::vector<float> y = norm.forward(Tensor::from_vector({1, 4}, {1, 2, 3, 4})).to_vector();
  const double inv_std = 1.0 / std::sqrt(1.75);
  const std::vector<double> expected = {-1.5 * inv_std, -0.5 * inv_std * 2.0, 0.5 * inv_std, 1.5 * inv_std - 1.0};
  REQUIRE(y.size() == expected.size());
  for (size_t i = 0; i < y.size(); ++i) {
    INFO("element ", i);
    CHECK(y[i] == doctest::Approx(expected[i]).epsilon(1e-6));
  }
  clear_tape();  // the parameters require grad, so forward recorded a node
}

TEST_CASE("LayerNorm backward fills weight and bias gradients") {
  LayerNorm norm(3);
  Tensor x = Tensor::from_vector({2, 3}, {1, 2, 4, -1, 0, 2});
  Tensor g = Tensor::from_vector({2, 3}, {0.5f, -1, 2, 1, 1, -3});
  Tensor y = norm.forward(x);
  backward(y, g);
  // With w = 1 and b = 0, y is the normalized x, so dw = sum over rows of g y, db = sum of g.
  const std::vector<float> ys = y.to_vector(), gs = g.to_vector();
  const std::vector<float> dw = norm.weight.grad().to_vector(), db = norm.bias.grad().to_vector();
  for (int c = 0; c < 3; ++c) {
    INFO("channel ", c);
    CHECK(dw[c] == doctest::Approx(gs[c] * ys[c] + gs[3 + c] * ys[3 + c]).epsilon(1e-6));
    CHECK(db[c] == doctest::Approx(gs[c] + gs[3 + c]).epsilon(1e-6));
  }
}

TEST_CASE("LayerNorm rejects zero channels and negative eps") {
  CHECK_THROWS_WITH_AS(LayerNorm(0), doctest::Contains("LayerNorm: channels must be positive"), Error);
  CHECK_THROWS_WITH_AS(LayerNorm(4, -1.0f), doctest::Contains("LayerNorm: eps = -1"), Error);
}
