#include <doctest/doctest.h>

#include <string>

#include "autograd/gradcheck.h"
#include "autograd/tape.h"
#include "core/error.h"
#include "ops/op_test_support.h"
#include "ops/ops.h"

using namespace entlab;
using namespace entlab::testing;

namespace {

// Forward: y = 2 x.  Backward deliberately wrong: dx += 3 g (the true rule is 2 g).
void wrong_doubling_backward(Node& node) {
  const float* dout = output_grad(node);
  float* dx = input_grad(node, 0);
  for (int64_t i = 0; i < node.output.numel(); ++i) dx[i] += 3.0f * dout[i];
}

// Forward: y = 2 x.  Backward: dx += 2 g.
void doubling_backward(Node& node) {
  const float* dout = output_grad(node);
  float* dx = input_grad(node, 0);
  for (int64_t i = 0; i < node.output.numel(); ++i) dx[i] += 2.0f * dout[i];
}

// y = 2 x, recorded with the given backward function.
Tensor doubled(const Tensor& x, BackwardFn backward_fn) {
  Tensor out = Tensor::empty(x.shape());
  for (int64_t i = 0; i < x.numel(); ++i) out.data()[i] = 2.0f * x.data()[i];
  if (any_requires_grad({x})) record_op(OpKind::Scale, backward_fn, {x}, out);
  return out;
}

}  // namespace

TEST_CASE("gradcheck reports a wrong backward") {
  Rng rng(1);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 3}, rng, -1.0f, 1.0f, "x"))};
  GradcheckResult result =
      gradcheck([](const std::vector<Tensor>& x) { return doubled(x[0], wrong_doubling_backward); }, inputs);
  INFO(result.report);
  CHECK_FALSE(result.ok);
  CHECK(result.elements_checked == 6);
  CHECK(result.report.find("input 0 'x' element 0") != std::string::npos);
  CHECK(result.report.find("NOT OK") != std::string::npos);
  CHECK(result.report.find("6 mismatches") != std::string::npos);
  // The analytic gradient is 1.5 times the numeric one.
  CHECK_NEAR(result.max_rel_error, 1.0 / 3.0, (Tolerance{1e-3, 0.0}));
}

TEST_CASE("gradcheck accepts a correct backward") {
  Rng rng(2);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 3}, rng))};
  CHECK_GRADCHECK([](const std::vector<Tensor>& x) { return doubled(x[0], doubling_backward); }, inputs,
                  GradcheckOptions{});
}

TEST_CASE("gradcheck 4-point formula beats the central difference, exp, eps 0.1") {
  // Truncation error: eps^2 f''' / 6 = 2e-3 e^x for the central difference, eps^4 f^(5) / 30
  // = 3e-6 e^x for the 4-point formula.
  Rng rng(3);
  std::vector<Tensor> inputs = {param(uniform_tensor({8}, rng, 0.0f, 1.0f))};
  auto f = [](const std::vector<Tensor>& x) { return exp(x[0]); };
  GradcheckOptions options = gradcheck_options(0.1, 1e-4, 0.0);
  const GradcheckResult four_point = gradcheck(f, inputs, options);
  options.four_point = false;
  const GradcheckResult central = gradcheck(f, inputs, options);
  INFO(four_point.report);
  INFO(central.report);
  CHECK(four_point.ok);
  CHECK_FALSE(central.ok);
  CHECK(central.max_abs_error > 100 * four_point.max_abs_error);
}

TEST_CASE("gradcheck samples at most max_elements_per_input") {
  Rng rng(4);
  std::vector<Tensor> inputs = {param(uniform_tensor({10, 10}, rng)), param(uniform_tensor({10}, rng))};
  GradcheckOptions options;
  options.max_elements_per_input = 10;
  const GradcheckResult result = gradcheck([](const std::vector<Tensor>& x) { return add(x[0], x[1]); }, inputs, options);
  INFO(result.report);
  CHECK(result.ok);
  CHECK(result.elements_checked == 20);
}

TEST_CASE("gradcheck holds inputs without requires_grad constant") {
  Rng rng(5);
  std::vector<Tensor> inputs = {param(uniform_tensor({3, 4}, rng)), uniform_tensor({4, 2}, rng)};
  const GradcheckResult result =
      gradcheck([](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); }, inputs, GradcheckOptions{});
  INFO(result.report);
  CHECK(result.ok);
  CHECK(result.elements_checked == 12);
  CHECK_FALSE(inputs[1].grad().defined());
}

TEST_CASE("gradcheck rejects a non-contiguous input") {
  Tensor x = param(Tensor::zeros({2, 3}));
  auto f = [](const std::vector<Tensor>& inputs) { return scale(inputs[0], 2.0f); };
  CHECK_THROWS_WITH_AS(gradcheck(f, {x.view_transposed(0, 1)}), doctest::Contains("contiguous"), Error);
}

TEST_CASE("gradcheck restores the inputs it perturbs") {
  Rng rng(6);
  Tensor x = param(uniform_tensor({5}, rng));
  const std::vector<float> before = x.to_vector();
  gradcheck([](const std::vector<Tensor>& inputs) { return sigmoid(inputs[0]); }, {x});
  CHECK(x.to_vector() == before);
}
