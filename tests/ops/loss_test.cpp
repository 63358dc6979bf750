#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "core/error.h"
#include "ops/op_test_support.h"
#include "ops/ops.h"

using namespace entlab;
using namespace entlab::testing;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

struct LossAndGrad {
  std::vector<float> loss;
  std::vector<float> grad;
};

// Cross-entropy of `logits` and the gradient of sum(loss) (or of the scalar loss).
LossAndGrad cross_entropy_with_grad(const Tensor& values, const std::vector<int32_t>& targets, int32_t ignore_index,
                                    Reduction reduction) {
  Tensor logits = param(values.clone_values());
  Tensor loss = cross_entropy(logits, targets, ignore_index, reduction);
  backward(loss, Tensor::ones(loss.shape()));
  return {loss.to_vector(), logits.grad().to_vector()};
}

}  // namespace

TEST_CASE("cross_entropy with a masked non-target class, z = [0, 0, -inf]") {
  LossAndGrad result = cross_entropy_with_grad(Tensor::from_vector({1, 3}, {0, 0, -kInf}), {0},
                                               kDefaultIgnoreIndex, Reduction::Mean);
  CHECK_NEAR(result.loss[0], 0.6931472, kFloat32);
  CHECK_NEAR(result.grad[0], -0.5, kFloat32);
  CHECK_NEAR(result.grad[1], 0.5, kFloat32);
  CHECK(result.grad[2] == 0.0f);
}

TEST_CASE("cross_entropy with the target on a masked class is +inf, finite gradient") {
  LossAndGrad result = cross_entropy_with_grad(Tensor::from_vector({1, 2}, {0, -kInf}), {1}, kDefaultIgnoreIndex,
                                               Reduction::Mean);
  CHECK(result.loss[0] == kInf);
  // softmax - onehot = [1, 0] - [0, 1].
  CHECK_NEAR(result.grad[0], 1.0, kFloat32);
  CHECK_NEAR(result.grad[1], -1.0, kFloat32);
}

TEST_CASE("cross_entropy of a fully masked row is +inf with zero gradient") {
  // Its target logit is -inf, as in the case above; -inf - logsumexp = -inf - (-inf)
  // must not turn into NaN.
  LossAndGrad result = cross_entropy_with_grad(Tensor::from_vector({2, 2}, {-kInf, -kInf, 0, 1}), {0, 1},
                                               kDefaultIgnoreIndex, Reduction::None);
  CHECK(result.loss[0] == kInf);
  CHECK_NEAR(result.loss[1], std::log(1 + std::exp(-1.0)), kFloat32);
  CHECK(result.grad[0] == 0.0f);
  CHECK(result.grad[1] == 0.0f);
  for (float value : result.grad) CHECK(std::isfinite(value));
}

TEST_CASE("cross_entropy of [1000, 0] is exact, y = 1 and y = 0") {
  LossAndGrad wrong = cross_entropy_with_grad(Tensor::from_vector({1, 2}, {1000, 0}), {1}, kDefaultIgnoreIndex,
                                              Reduction::Mean);
  CHECK_NEAR(wrong.loss[0], 1000.0, kFloat32);
  CHECK_NEAR(wrong.grad[0], 1.0, kFloat32);
  CHECK_NEAR(wrong.grad[1], -1.0, kFloat32);

  LossAndGrad right = cross_entropy_with_grad(Tensor::from_vector({1, 2}, {1000, 0}), {0}, kDefaultIgnoreIndex,
                                              Reduction::Mean);
  CHECK(right.loss[0] == 0.0f);
  CHECK(right.grad[0] == 0.0f);
  CHECK(right.grad[1] == 0.0f);
}

TEST_CASE("cross_entropy goes through log-softmax, z = [0, -200], y = 1") {
  // softmax(z)[1] = e^-200 underflows float32, so log(softmax) would give +inf.
  Tensor loss = cross_entropy(Tensor::from_vector({1, 2}, {0, -200}), {1});
  CHECK_NEAR(loss.item(), 200.0, kFloat32);
}

TEST_CASE("cross_entropy with an ignored row, IGN = -100 and -1") {
  for (int32_t ignore_index : {-100, -1}) {
    INFO("ignore_index ", ignore_index);
    Tensor logits = Tensor::from_vector({2, 2}, {1, 0, 0, 0});
    const std::vector<int32_t> targets = {0, ignore_index};
    // ln(1 + e^-1) over the one kept row.
    for (Reduction reduction : {Reduction::Mean, Reduction::Sum}) {
      INFO("reduction ", reduction == Reduction::Mean ? "mean" : "sum");
      LossAndGrad result = cross_entropy_with_grad(logits, targets, ignore_index, reduction);
      CHECK_NEAR(result.loss[0], 0.3132617, kFloat32);
      CHECK_ALL_NEAR(result.grad, (std::vector<double>{-0.2689414, 0.2689414, 0, 0}), kFloat32);
    }
    LossAndGrad per_row = cross_entropy_with_grad(logits, targets, ignore_index, Reduction::None);
    CHECK_ALL_NEAR(per_row.loss, (std::vector<double>{0.3132617, 0}), kFloat32);
  }
}

TEST_CASE("cross_entropy with every row ignored is 0 with zero gradient") {
  Tensor logits = Tensor::from_vector({2, 2}, {1, 0, 0, 3});
  for (Reduction reduction : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    LossAndGrad result = cross_entropy_with_grad(logits, {-100, -100}, kDefaultIgnoreIndex, reduction);
    for (float value : result.loss) CHECK(value == 0.0f);
    for (float value : result.grad) CHECK(value == 0.0f);
  }
}

TEST_CASE("cross_entropy rejects targets out of range") {
  Tensor logits = Tensor::zeros({2, 3});
  CHECK_THROWS_WITH_AS(cross_entropy(logits, {0, 3}), doctest::Contains("outside [0, 3)"), Error);
  CHECK_THROWS_AS(cross_entropy(logits, {0, -2}, -1), Error);
  CHECK_THROWS_AS(cross_entropy(logits, {0, -1}), Error);
  CHECK_THROWS_AS(cross_entropy(logits, {0}), Error);
}

TEST_CASE("cross_entropy mean divides by kept rows, (3,4) logits of (..., V) shape") {
  Rng rng(121);
  Tensor logits = normal_tensor({3, 4}, rng);
  const std::vector<float> z = logits.to_vector();
  const std::vector<int32_t> targets = {2, -100, 0};
  double expected = 0.0;
  for (int row : {0, 2}) {
    double total = 0.0;
    for (int c = 0; c < 4; ++c) total += std::exp(static_cast<double>(z[row * 4 + c]));
    expected += std::log(total) - z[row * 4 + targets[row]];
  }
  CHECK_NEAR(cross_entropy(logits, targets).item(), expected / 2, kFloat32);
  CHECK_NEAR(cross_entropy(logits, targets, -100, Reduction::Sum).item(), expected, kFloat32);
  Tensor per_row = cross_entropy(reshape(logits, {1, 3, 4}), targets, -100, Reduction::None);
  CHECK(per_row.shape() == Shape{1, 3});
}

TEST_CASE("cross_entropy backward vs finite differences, mean, (4,5) with an ignored row") {
  Rng rng(122);
  std::vector<Tensor> inputs = {param(normal_tensor({4, 5}, rng, 2.0f))};
  auto f = [](const std::vector<Tensor>& x) { return cross_entropy(x[0], {1, -100, 4, 0}); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 2e-3));
}

TEST_CASE("cross_entropy backward vs finite differences, sum, (2,3,4)") {
  Rng rng(123);
  std::vector<Tensor> inputs = {param(normal_tensor({2, 3, 4}, rng, 2.0f))};
  auto f = [](const std::vector<Tensor>& x) {
    return cross_entropy(x[0], {3, 0, 1, 2, 2, 0}, kDefaultIgnoreIndex, Reduction::Sum);
  };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 2e-4, 2e-3));
}

TEST_CASE("cross_entropy backward vs finite differences, none, (5,3) with IGN = -1") {
  Rng rng(124);
  std::vector<Tensor> inputs = {param(normal_tensor({5, 3}, rng, 2.0f))};
  auto f = [](const std::vector<Tensor>& x) { return cross_entropy(x[0], {2, -1, 0, -1, 1}, -1, Reduction::None); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 2e-3));
}

TEST_CASE("cross_entropy backward vs finite differences, mean over all rows, (3,6)") {
  Rng rng(125);
  std::vector<Tensor> inputs = {param(normal_tensor({3, 6}, rng, 2.0f))};
  auto f = [](const std::vector<Tensor>& x) { return cross_entropy(x[0], {5, 0, 3}); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 2e-3));
}
