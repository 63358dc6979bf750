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
  NormLayer norm(Norm::LayerNorm, 6, 1e-5f);
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
  NormLayer norm(Norm::LayerNorm, 4, 0.5f);
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
  NormLayer norm(Norm::LayerNorm, 3, 1e-5f);
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
  CHECK_THROWS_WITH_AS(NormLayer(Norm::LayerNorm, 0, 1e-5f), doctest::Contains("NormLayer: channels must be positive"),
                       Error);
  CHECK_THROWS_WITH_AS(NormLayer(Norm::RmsNorm, 4, -1.0f), doctest::Contains("NormLayer: eps = -1"), Error);
}

TEST_CASE("RMSNorm layer has a weight and no bias") {
  NormLayer norm(Norm::RmsNorm, 2, 0.0f);
  CHECK(norm.named_parameters().size() == 1);
  CHECK(!norm.bias.defined());
  // [3, 4]: rms = sqrt(12.5)
  const std::vector<float> y = norm.forward(Tensor::from_vector({1, 2}, {3, 4})).to_vector();
  CHECK(y[0] == doctest::Approx(3 / std::sqrt(12.5)));
  CHECK(y[1] == doctest::Approx(4 / std::sqrt(12.5)));
  clear_tape();
}

TEST_CASE("MLP activations: relu, gelu and the gated geglu") {
  Rng rng(3);
  MLP relu_mlp(2, 3, Activation::Relu, rng, 0.5f);
  CHECK(relu_mlp.named_parameters().size() == 2);
  MLP geglu(2, 3, Activation::Geglu, rng, 0.5f);
  REQUIRE(geglu.named_parameters().size() == 3);
  CHECK(geglu.named_parameters()[2].first == "gate.weight");
  // fc1 = gate = identity rows, fc2 sums the hidden units: y = sum_i gelu(x_i) * x_i.
  for (Tensor weight : {geglu.fc1.weight, geglu.gate->weight}) {
    std::fill_n(weight.data(), 6, 0.0f);
    weight.data()[0] = 1.0f;  // hidden 0 reads x_0
    weight.data()[3] = 1.0f;  // hidden 1 reads x_1
  }
  std::fill_n(geglu.fc2.weight.data(), 6, 1.0f);
  const std::vector<float> y = geglu.forward(Tensor::from_vector({1, 2}, {1.0f, -2.0f})).to_vector();
  const double gelu_1 = 0.8413447460685429, gelu_minus_2 = -0.04550026389635842;
  CHECK(y[0] == doctest::Approx(gelu_1 * 1.0 + gelu_minus_2 * -2.0).epsilon(1e-6));
  CHECK(y[1] == doctest::Approx(y[0]));
  clear_tape();
}
