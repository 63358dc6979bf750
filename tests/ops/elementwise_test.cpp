#include <doctest/doctest.h>

#include <cmath>

#include "core/error.h"
#include "ops/op_test_support.h"
#include "ops/ops.h"

using namespace entlab;
using namespace entlab::testing;

namespace {

// Uniform magnitudes in [0.5, 1.5] with random signs: safe denominators for div.
Tensor away_from_zero(const Shape& shape, Rng& rng) {
  Tensor out = uniform_tensor(shape, rng, 0.5f, 1.5f);
  for (int64_t i = 0; i < out.numel(); ++i)
    if (rng.bernoulli(0.5f)) out.data()[i] = -out.data()[i];
  return out;
}

double logistic(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace

// --- Forward values ---------------------------------------------------------------------------

TEST_CASE("add broadcasts (2,3) + (3,)") {
  Tensor x = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = Tensor::from_vector({3}, {10, 20, 30});
  Tensor y = add(x, b);
  CHECK(y.shape() == Shape{2, 3});
  CHECK_ALL_NEAR(y.to_vector(), (std::vector<double>{11, 22, 33, 14, 25, 36}), kFloat32);
}

TEST_CASE("binary ops broadcast (2,1,3) and (4,1) to (2,4,3)") {
  Rng rng(1);
  Tensor a = uniform_tensor({2, 1, 3}, rng);
  Tensor b = away_from_zero({4, 1}, rng);
  const std::vector<float> av = a.to_vector(), bv = b.to_vector();
  Tensor sum_ab = add(a, b), difference = sub(a, b), product = mul(a, b), quotient = div(a, b);
  CHECK(product.shape() == Shape{2, 4, 3});
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 4; ++j)
      for (int64_t k = 0; k < 3; ++k) {
        INFO("index (", i, ", ", j, ", ", k, ")");
        const double x = av[i * 3 + k], y = bv[j];
        CHECK_NEAR(sum_ab.at({i, j, k}), x + y, kFloat32);
        CHECK_NEAR(difference.at({i, j, k}), x - y, kFloat32);
        CHECK_NEAR(product.at({i, j, k}), x * y, kFloat32);
        CHECK_NEAR(quotient.at({i, j, k}), x / y, kFloat32);
      }
}

TEST_CASE("binary ops read transposed operands by their strides") {
  Tensor x = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor y = Tensor::from_vector({3, 2}, {1, 2, 3, 4, 5, 6});
  Tensor z = add(transpose(x, 0, 1), y);  // x^T = [[1,4],[2,5],[3,6]]
  CHECK_ALL_NEAR(z.to_vector(), (std::vector<double>{2, 6, 5, 9, 8, 12}), kFloat32);
}

TEST_CASE("broadcast_shapes rejects incompatible shapes") {
  CHECK(broadcast_shapes({2, 1, 3}, {4, 1}, "mul") == Shape{2, 4, 3});
  CHECK(broadcast_shapes({}, {2, 3}, "add") == Shape{2, 3});
  CHECK_THROWS_WITH_AS(add(Tensor::zeros({2, 3}), Tensor::zeros({4})), doctest::Contains("cannot be broadcast"),
                       Error);
}

TEST_CASE("unary ops: scale, add_scalar, exp, sigmoid values") {
  Tensor x = Tensor::from_vector({4}, {-2, 0, 0.5, 3});
  CHECK_ALL_NEAR(scale(x, -1.5f).to_vector(), (std::vector<double>{3, 0, -0.75, -4.5}), kFloat32);
  CHECK_ALL_NEAR(add_scalar(x, 0.25f).to_vector(), (std::vector<double>{-1.75, 0.25, 0.75, 3.25}), kFloat32);
  CHECK_ALL_NEAR(exp(x).to_vector(), (std::vector<double>{std::exp(-2.0), 1.0, std::exp(0.5), std::exp(3.0)}),
                 kFloat32);
  CHECK_ALL_NEAR(sigmoid(x).to_vector(),
                 (std::vector<double>{logistic(-2), 0.5, logistic(0.5), logistic(3)}), kFloat32);
}

TEST_CASE("sigmoid saturates without NaN at +-1000") {
  Tensor y = sigmoid(Tensor::from_vector({4}, {-1000, -90, 90, 1000}));
  CHECK(y.at({0}) == 0.0f);
  CHECK(y.at({1}) >= 0.0f);
  CHECK(y.at({1}) < 1e-38f);
  CHECK(y.at({2}) == 1.0f);
  CHECK(y.at({3}) == 1.0f);
}

// --- Broadcasting in backward: gradients reduce over the broadcast axes ----------------------

TEST_CASE("mul backward with a (1,3) row operand") {
  Tensor x = param(Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6}, "x"));
  Tensor w = param(Tensor::from_vector({1, 3}, {2, 3, 4}, "w"));
  backward(sum(mul(x, w)));
  CHECK(x.grad().shape() == Shape{2, 3});
  CHECK_ALL_NEAR(x.grad().to_vector(), (std::vector<double>{2, 3, 4, 2, 3, 4}), kFloat32);
  CHECK(w.grad().shape() == Shape{1, 3});
  CHECK_ALL_NEAR(w.grad().to_vector(), (std::vector<double>{5, 7, 9}), kFloat32);
}

TEST_CASE("add backward with a rank-extended (3,) operand") {
  Tensor x = param(Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6}, "x"));
  Tensor b = param(Tensor::from_vector({3}, {0, 0, 0}, "b"));
  backward(sum(add(x, b)));
  CHECK(b.grad().shape() == Shape{3});
  CHECK_ALL_NEAR(b.grad().to_vector(), (std::vector<double>{2, 2, 2}), kFloat32);
}

TEST_CASE("mul backward with an attention-style (1,1,2,1) mask") {
  Tensor h = param(Tensor::from_vector({1, 1, 2, 2}, {1, 2, 3, 4}, "h"));
  Tensor m = param(Tensor::from_vector({1, 1, 2, 1}, {0.5f, 2.0f}, "m"));
  backward(sum(mul(h, m)));
  CHECK(m.grad().shape() == Shape{1, 1, 2, 1});
  CHECK_ALL_NEAR(m.grad().to_vector(), (std::vector<double>{3, 7}), kFloat32);
  CHECK_ALL_NEAR(h.grad().to_vector(), (std::vector<double>{0.5, 0.5, 2, 2}), kFloat32);
}

TEST_CASE("mean over dims (1,2) backward spreads 1/12") {
  Tensor t = param(Tensor::ones({2, 3, 4}, "t"));
  backward(sum(mean(t, {1, 2})));
  CHECK(t.grad().shape() == Shape{2, 3, 4});
  for (float g : t.grad().to_vector()) CHECK_NEAR(g, 1.0 / 12.0, kFloat32);
}

// --- Finite-difference checks -------------------------------------------------------------------

TEST_CASE("add backward vs finite differences, (2,3) + (3,)") {
  Rng rng(21);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 3}, rng)), param(uniform_tensor({3}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return add(x[0], x[1]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}

TEST_CASE("add backward vs finite differences, (1,1,2,1) + (2,3,2,4)") {
  Rng rng(22);
  std::vector<Tensor> inputs = {param(uniform_tensor({1, 1, 2, 1}, rng)), param(uniform_tensor({2, 3, 2, 4}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return add(x[0], x[1]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}

TEST_CASE("sub backward vs finite differences, (3,1) - (1,4)") {
  Rng rng(23);
  std::vector<Tensor> inputs = {param(uniform_tensor({3, 1}, rng)), param(uniform_tensor({1, 4}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return sub(x[0], x[1]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}

TEST_CASE("sub backward vs finite differences, same shape (2,3)") {
  Rng rng(24);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 3}, rng)), param(uniform_tensor({2, 3}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return sub(x[0], x[1]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}

TEST_CASE("mul backward vs finite differences, (2,1,3) * (4,1)") {
  Rng rng(25);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 1, 3}, rng)), param(uniform_tensor({4, 1}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return mul(x[0], x[1]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}

TEST_CASE("mul backward vs finite differences, same shape (2,3)") {
  Rng rng(26);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 3}, rng)), param(uniform_tensor({2, 3}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return mul(x[0], x[1]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}

TEST_CASE("mul backward vs finite differences, transposed (3,2)^T * (2,3)") {
  Rng rng(27);
  std::vector<Tensor> inputs = {param(uniform_tensor({3, 2}, rng)), param(uniform_tensor({2, 3}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return mul(transpose(x[0], 0, 1), x[1]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}

TEST_CASE("div backward vs finite differences, (2,3,2,4) / (1,1,2,1)") {
  Rng rng(28);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 3, 2, 4}, rng)), param(away_from_zero({1, 1, 2, 1}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return div(x[0], x[1]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 2e-4, 1e-3));
}

TEST_CASE("div backward vs finite differences, (4,1) / (2,1,3)") {
  Rng rng(29);
  std::vector<Tensor> inputs = {param(uniform_tensor({4, 1}, rng)), param(away_from_zero({2, 1, 3}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return div(x[0], x[1]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 2e-4, 1e-3));
}

TEST_CASE("div backward vs finite differences, same shape (2,3)") {
  Rng rng(30);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 3}, rng)), param(away_from_zero({2, 3}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return div(x[0], x[1]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 2e-4, 1e-3));
}

TEST_CASE("scale backward vs finite differences, s = -2.5, shape (2,3)") {
  Rng rng(31);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 3}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return scale(x[0], -2.5f); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}

TEST_CASE("add_scalar backward vs finite differences, s = 3, shape (2,3)") {
  Rng rng(32);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 3}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return add_scalar(x[0], 3.0f); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}

TEST_CASE("exp backward vs finite differences, shape (2,3)") {
  Rng rng(33);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 3}, rng, -2.0f, 2.0f))};
  auto f = [](const std::vector<Tensor>& x) { return exp(x[0]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 2e-4, 1e-3));
}

TEST_CASE("sigmoid backward vs finite differences, shape (2,3)") {
  Rng rng(34);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 3}, rng, -4.0f, 4.0f))};
  auto f = [](const std::vector<Tensor>& x) { return sigmoid(x[0]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}

// --- In-place ops and tensors saved for backward --------------------------------------------------

TEST_CASE("scale_ of a saved sigmoid output makes backward raise") {
  clear_tape();
  Tensor x = param(Tensor::from_vector({1}, {0.0f}, "x"));
  Tensor y = sigmoid(x);
  scale_(y, 2.0f);
  CHECK(y.at({0}) == 1.0f);
  Tensor loss = sum(y);
  // Reusing the mutated output would give 2 y (1 - y) = 0 at y = 1 instead of 0.5.
  CHECK_THROWS_WITH_AS(backward(loss), doctest::Contains("modified in place"), Error);
  clear_tape();
}

TEST_CASE("set_element_ after a sigmoid built from exp, add and div") {
  Tensor a = param(Tensor::from_vector({3}, {1, 2, 3}, "a"));
  Tensor denominator = add_scalar(exp(scale(a, -1.0f)), 1.0f);
  Tensor b = div(Tensor::ones({3}), denominator);
  set_element_(b, {1}, 2.0f);
  CHECK_ALL_NEAR(b.to_vector(), (std::vector<double>{logistic(1), 2, logistic(3)}), kFloat32);
  backward(sum(b));
  CHECK_NEAR(a.grad().at({0}), 0.1966119, kFloat32);
  CHECK(a.grad().at({1}) == 0.0f);
  CHECK_NEAR(a.grad().at({2}), 0.0451767, kFloat32);
}

TEST_CASE("scale_ through a transposed view of a saved output raises") {
  clear_tape();
  Tensor x = param(Tensor::from_vector({1, 1}, {0.0f}, "x"));
  Tensor y = sigmoid(x);
  Tensor y_t = transpose(y, 0, 1);
  CHECK_THROWS_WITH_AS(scale_(y_t, 2.0f), doctest::Contains("view"), Error);
  CHECK(y.at({0, 0}) == 0.5f);
  clear_tape();
}

TEST_CASE("scale_ through an untracked view bumps the shared version") {
  clear_tape();
  Tensor x = param(Tensor::from_vector({2, 2}, {0, 1, 2, 3}, "x"));
  Tensor y = sigmoid(x);
  {
    NoGradGuard no_grad;
    Tensor flat = reshape(y, {4});  // a view sharing y's storage, not recorded
    scale_(flat, 2.0f);
  }
  CHECK_THROWS_WITH_AS(backward(sum(y)), doctest::Contains("sigmoid backward"), Error);
  clear_tape();
}

TEST_CASE("scale_ gives the right gradient when nothing saved the value") {
  Tensor x = param(Tensor::from_vector({3}, {1, 2, 3}, "x"));
  Tensor w = Tensor::from_vector({3}, {1, -2, 0.5f}, "w");
  Tensor y = add_scalar(x, 1.0f);
  Tensor before = scale(y, 5.0f);  // uses y before the in-place write
  scale_(y, 3.0f);
  backward(add(sum(mul(y, w)), sum(before)));
  // d/dx of sum(3 (x + 1) w) + sum(5 (x + 1)) = 3 w + 5.
  CHECK_ALL_NEAR(x.grad().to_vector(), (std::vector<double>{8, -1, 6.5}), kFloat32);
}

TEST_CASE("scale_ on a tensor that has a recorded view raises") {
  clear_tape();
  Tensor x = param(Tensor::from_vector({2, 2}, {0, 1, 2, 3}, "x"));
  Tensor y = add_scalar(x, 0.0f);
  Tensor flat = reshape(y, {4});
  // The gradient that reaches y through `flat` would skip the scaling: d sum(flat) / dx
  // would come out as 1 instead of 2.
  CHECK_THROWS_WITH_AS(scale_(y, 2.0f), doctest::Contains("view"), Error);
  CHECK_THROWS_AS(set_element_(y, {0, 0}, 1.0f), Error);
  clear_tape();
}

TEST_CASE("in-place ops reject leaves that require grad") {
  Tensor w = param(Tensor::ones({2}, "w"));
  CHECK_THROWS_WITH_AS(scale_(w, 2.0f), doctest::Contains("leaf"), Error);
  CHECK_THROWS_AS(set_element_(w, {0}, 1.0f), Error);
  {
    NoGradGuard no_grad;  // optimizer updates write parameters in place
    scale_(w, 2.0f);
  }
  CHECK(w.at({0}) == 2.0f);
}

TEST_CASE("scale_ backward vs finite differences, s = -3, shape (2,3)") {
  Rng rng(35);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 3}, rng))};
  auto f = [](const std::vector<Tensor>& x) {
    Tensor y = sigmoid(x[0]);
    Tensor z = add_scalar(y, 0.5f);
    scale_(z, -3.0f);
    return mul(z, y);
  };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}

TEST_CASE("set_element_ backward vs finite differences, shape (2,3)") {
  Rng rng(36);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 3}, rng))};
  auto f = [](const std::vector<Tensor>& x) {
    Tensor y = exp(x[0]);
    Tensor z = scale(y, 2.0f);
    set_element_(z, {1, 1}, 4.0f);
    return mul(z, y);
  };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 2e-4, 1e-3));
}

TEST_CASE("set_element_ rejects an index out of range") {
  Tensor t = Tensor::zeros({2, 3});
  CHECK_THROWS_AS(set_element_(t, {2, 0}, 1.0f), Error);
  CHECK_THROWS_AS(set_element_(t, {0}, 1.0f), Error);
  set_element_(t, {1, 2}, 4.0f);
  CHECK(t.at({1, 2}) == 4.0f);
}
