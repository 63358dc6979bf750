#include <doctest/doctest.h>

#include <memory>
#include <set>
#include <sstream>
#include <string>

#include "autograd/tape.h"
#include "core/error.h"
#include "ops/op_test_support.h"
#include "ops/ops.h"

using namespace entlab;
using namespace entlab::testing;

TEST_CASE("backward accumulates a tensor used twice, mul(x, x)") {
  clear_tape();
  Tensor x = param(Tensor::from_vector({3}, {1, 2, -3}, "x"));
  backward(sum(mul(x, x)));
  CHECK_ALL_NEAR(x.grad().to_vector(), (std::vector<double>{2, 4, -6}), kFloat32);
}

TEST_CASE("backward accumulates over separate uses, x * w + x") {
  Tensor x = param(Tensor::from_vector({3}, {1, 2, 3}, "x"));
  Tensor w = param(Tensor::from_vector({3}, {4, -5, 6}, "w"));
  backward(sum(add(mul(x, w), x)));
  CHECK_ALL_NEAR(x.grad().to_vector(), (std::vector<double>{5, -4, 7}), kFloat32);
  CHECK_ALL_NEAR(w.grad().to_vector(), (std::vector<double>{1, 2, 3}), kFloat32);
}

TEST_CASE("gradients accumulate across backward calls until zero_grad") {
  Tensor x = param(Tensor::from_vector({2}, {1, 2}, "x"));
  backward(sum(scale(x, 3.0f)));
  backward(sum(scale(x, 3.0f)));
  CHECK_ALL_NEAR(x.grad().to_vector(), (std::vector<double>{6, 6}), kFloat32);
  x.zero_grad();
  CHECK(x.grad().to_vector() == std::vector<float>{0, 0});
}

TEST_CASE("backward with a seed computes a vector-Jacobian product") {
  Tensor x = param(Tensor::from_vector({2}, {1, 2}, "x"));
  Tensor y = scale(x, 3.0f);
  backward(y, Tensor::from_vector({2}, {1, -2}));
  CHECK_ALL_NEAR(x.grad().to_vector(), (std::vector<double>{3, -6}), kFloat32);
}

TEST_CASE("backward skips branches that do not reach the root") {
  Tensor x = param(Tensor::from_vector({2}, {1, 2}, "x"));
  Tensor unused = exp(x);
  backward(sum(scale(x, 2.0f)));
  CHECK_ALL_NEAR(x.grad().to_vector(), (std::vector<double>{2, 2}), kFloat32);
  CHECK_FALSE(unused.grad().defined());
}

TEST_CASE("NoGradGuard records nothing and restores grad mode") {
  clear_tape();
  Tensor x = param(Tensor::from_vector({2}, {1, 2}, "x"));
  CHECK(grad_enabled());
  {
    NoGradGuard no_grad;
    CHECK_FALSE(grad_enabled());
    Tensor y = softmax(mul(x, x));
    CHECK_FALSE(y.requires_grad());
    {
      NoGradGuard nested;
      CHECK_FALSE(grad_enabled());
    }
    CHECK_FALSE(grad_enabled());
    CHECK(tape_size() == 0);
  }
  CHECK(grad_enabled());
  Tensor z = mul(x, x);
  CHECK(z.requires_grad());
  CHECK(tape_size() == 1);
  clear_tape();
}

TEST_CASE("ops on tensors without requires_grad record nothing") {
  clear_tape();
  Tensor a = Tensor::ones({2, 2});
  Tensor b = matmul(softmax(a), a);
  CHECK_FALSE(b.requires_grad());
  CHECK(tape_size() == 0);
}

TEST_CASE("backward empties the tape and frees intermediate tensors") {
  clear_tape();
  Tensor x = param(Tensor::from_vector({3}, {1, 2, 3}, "x"));
  std::weak_ptr<TensorImpl> intermediate;
  Tensor loss;
  {
    Tensor h = exp(x);
    intermediate = h.impl_ptr();
    loss = sum(h);
  }
  CHECK(tape_size() == 2);
  CHECK_FALSE(intermediate.expired());
  backward(loss);
  CHECK(tape_size() == 0);
  CHECK(intermediate.expired());
}

TEST_CASE("retain_graph keeps the tape for a second backward") {
  clear_tape();
  Tensor x = param(Tensor::from_vector({2}, {1, 2}, "x"));
  Tensor loss = sum(mul(x, x));
  backward(loss, Tensor(), /*retain_graph=*/true);
  CHECK(tape_size() == 2);
  CHECK_ALL_NEAR(x.grad().to_vector(), (std::vector<double>{2, 4}), kFloat32);
  backward(loss);
  CHECK(tape_size() == 0);
  CHECK_ALL_NEAR(x.grad().to_vector(), (std::vector<double>{4, 8}), kFloat32);
}

TEST_CASE("intermediate gradients are freed unless retain_grad is set") {
  Tensor x = param(Tensor::from_vector({2}, {1, 2}, "x"));
  Tensor h = mul(x, x);
  Tensor kept = scale(x, 3.0f);
  kept.impl()->retain_grad = true;
  Tensor loss = add(sum(h), sum(mul(kept, x)));
  backward(loss);
  CHECK_FALSE(h.grad().defined());
  CHECK_FALSE(loss.grad().defined());
  REQUIRE(kept.grad().defined());
  CHECK_ALL_NEAR(kept.grad().to_vector(), (std::vector<double>{1, 2}), kFloat32);
  // d/dx (x^2 + 3x * x) = 8x; the leaf keeps its gradient.
  CHECK_ALL_NEAR(x.grad().to_vector(), (std::vector<double>{8, 16}), kFloat32);
}

TEST_CASE("gradients are named after their tensor") {
  Tensor x = param(Tensor::from_vector({2}, {1, 2}, "embedding.weight"));
  backward(sum(x));
  CHECK(x.grad().name() == "grad of embedding.weight");
}

TEST_CASE("backward rejects a bad root or seed") {
  clear_tape();
  Tensor x = param(Tensor::from_vector({2}, {1, 2}, "x"));
  Tensor y = scale(x, 2.0f).set_name("y");
  CHECK_THROWS_WITH_AS(backward(y), doctest::Contains("pass a seed gradient"), Error);
  CHECK_THROWS_WITH_AS(backward(y, Tensor::ones({3})), doctest::Contains("does not match root 'y'"), Error);
  CHECK_THROWS_WITH_AS(backward(Tensor::ones({1})), doctest::Contains("does not require grad"), Error);
  CHECK_THROWS_AS(backward(Tensor()), Error);
  clear_tape();
}

TEST_CASE("backward raises when a saved input was modified in place") {
  clear_tape();
  Tensor x = param(Tensor::from_vector({2}, {1, 2}, "x"));
  Tensor w = Tensor::from_vector({2}, {3, 4}, "w");
  Tensor loss = sum(mul(x, w));
  w.set_at({0}, 5.0f);
  CHECK_THROWS_WITH_AS(backward(loss), doctest::Contains("mul backward: tensor 'w'"), Error);
  // The failed pass drops the graph, so the next backward never walks stale nodes.
  CHECK(tape_size() == 0);
}

TEST_CASE("print_tape lists ops, names and shapes") {
  clear_tape();
  Tensor x = param(Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6}, "x"));
  Tensor w = param(Tensor::zeros({3, 2}, "w"));
  Tensor scores = matmul(x, w).set_name("scores");
  Tensor probs = entmax15(scores).set_name("probs");
  Tensor loss = cross_entropy(probs, {0, 1}).set_name("loss");
  std::ostringstream out;
  print_tape(out);
  const std::string text = out.str();
  INFO(text);
  CHECK(text.find("#0 matmul -> 'scores' (2, 2) <- 'x' (2, 3) [leaf], 'w' (3, 2) [leaf]") != std::string::npos);
  CHECK(text.find("#1 entmax15 -> 'probs' (2, 2) <- 'scores' (2, 2)") != std::string::npos);
  CHECK(text.find("#2 cross_entropy -> 'loss' () <- 'probs' (2, 2)") != std::string::npos);

  std::ostringstream dot;
  write_tape_dot(dot);
  CHECK(dot.str().find("digraph tape {") == 0);
  CHECK(dot.str().find("#1 entmax15") != std::string::npos);
  clear_tape();
}

TEST_CASE("op_name gives every op kind a distinct name") {
  std::set<std::string> names;
  for (int kind = 0; kind < static_cast<int>(OpKind::Count); ++kind) {
    const std::string name = op_name(static_cast<OpKind>(kind));
    INFO("op kind ", kind);
    CHECK_FALSE(name.empty());
    names.insert(name);
  }
  CHECK(names.size() == static_cast<size_t>(OpKind::Count));
  CHECK(std::string(op_name(OpKind::Entmax15)) == "entmax15");
  CHECK(std::string(op_name(OpKind::SetElementInplace)) == "set_element_");
}
