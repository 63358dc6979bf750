#include <doctest/doctest.h>

#include <cmath>

#include "core/error.h"
#include "nn/optim.h"

using namespace entlab;
using namespace entlab::nn;

namespace {

// A one-element parameter with the given value and gradient.
Tensor scalar_parameter(float value, float grad) {
  Tensor theta = Tensor::from_vector({1}, {value}, "theta");
  theta.set_requires_grad(true);
  theta.ensure_grad().data()[0] = grad;
  return theta;
}

}  // namespace

TEST_CASE("adamw first step uses pytorch-style decoupled decay") {
  // theta0 = 1, g = 0.5, lr = 0.1, wd = 0.01, betas (0.9, 0.999), eps 1e-8.
  Tensor theta = scalar_parameter(1.0f, 0.5f);
  AdamW optimizer({theta}, {0.1f, 0.9f, 0.999f, 1e-8f, 0.01f});
  optimizer.step();
  CHECK(theta.data()[0] == doctest::Approx(0.899000002).epsilon(1e-7));
  // Paper-style decay (0.890000002) and Adam + L2 (0.900000002) must not be what we do.
  CHECK(std::fabs(theta.data()[0] - 0.890000002f) > 1e-3);
  CHECK(std::fabs(theta.data()[0] - 0.900000002f) > 5e-4);
}

TEST_CASE("adamw first update has magnitude lr") {
  // With bias correction at t = 1: lr |g| / (|g| + eps) = 0.099999998; a counter that
  // starts at 2 gives 0.0744137 and no correction gives 0.3162276.
  Tensor theta = scalar_parameter(1.0f, 0.5f);
  AdamW optimizer({theta}, {0.1f, 0.9f, 0.999f, 1e-8f, 0.0f});
  optimizer.step();
  CHECK(1.0f - theta.data()[0] == doctest::Approx(0.099999998).epsilon(1e-6));
}

TEST_CASE("adamw step counter is shared by all tensors") {
  // The second tensor must see t = 1 on the first step, not t = 2.
  Tensor first = scalar_parameter(1.0f, 0.5f);
  Tensor second = scalar_parameter(1.0f, 0.5f);
  AdamW optimizer({first, second}, {0.1f, 0.9f, 0.999f, 1e-8f, 0.0f});
  optimizer.step();
  CHECK(1.0f - second.data()[0] == doctest::Approx(0.099999998).epsilon(1e-6));
  CHECK(optimizer.step_count() == 1);
}

TEST_CASE("adamw constant gradient moves by lr every step") {
  // m_hat = g and v_hat = g^2 exactly, so each step moves lr |g| / (|g| + eps).
  Tensor theta = scalar_parameter(1.0f, 0.5f);
  AdamW optimizer({theta}, {0.1f, 0.9f, 0.999f, 1e-8f, 0.0f});
  float previous = theta.data()[0];
  for (int step = 1; step <= 20; ++step) {
    optimizer.step();
    CAPTURE(step);
    CHECK(previous - theta.data()[0] == doctest::Approx(0.1).epsilon(1e-4));
    previous = theta.data()[0];
  }
}

TEST_CASE("adamw zero gradient applies only decay") {
  Tensor theta = scalar_parameter(1.0f, 0.0f);
  AdamW optimizer({theta}, {0.1f, 0.9f, 0.999f, 1e-8f, 0.01f});
  optimizer.step();
  CHECK(theta.data()[0] == doctest::Approx(0.999).epsilon(1e-7));
}

TEST_CASE("adamw rejects invalid options") {
  Tensor theta = scalar_parameter(1.0f, 0.0f);
  CHECK_THROWS_AS(AdamW({theta}, {-1.0f, 0.9f, 0.999f, 1e-8f, 0.0f}), Error);
  CHECK_THROWS_AS(AdamW({theta}, {0.1f, 1.0f, 0.999f, 1e-8f, 0.0f}), Error);
  CHECK_THROWS_AS(AdamW({theta}, {0.1f, 0.9f, 0.999f, 0.0f, 0.0f}), Error);
  CHECK_THROWS_AS(AdamW({theta}, {0.1f, 0.9f, 0.999f, 1e-8f, -0.1f}), Error);
}

TEST_CASE("warmup then cosine schedule") {
  CHECK(scheduled_lr(LrSchedule::Cosine, 1, 100, 10, 1.0f, 0.1f) == doctest::Approx(0.1));
  CHECK(scheduled_lr(LrSchedule::Cosine, 10, 100, 10, 1.0f, 0.1f) == doctest::Approx(1.0));
  CHECK(scheduled_lr(LrSchedule::Cosine, 55, 100, 10, 1.0f, 0.1f) == doctest::Approx(0.55));
  CHECK(scheduled_lr(LrSchedule::Cosine, 100, 100, 10, 1.0f, 0.1f) == doctest::Approx(0.1));
  CHECK(scheduled_lr(LrSchedule::Cosine, 1, 100, 0, 1.0f, 0.0f) == doctest::Approx(0.5 * (1 + std::cos(M_PI * 0.01))));
}

TEST_CASE("linear and constant schedules after warm-up") {
  // Halfway through the 90 decay steps (step 55), linear is halfway from 1 to 0.1.
  CHECK(scheduled_lr(LrSchedule::Linear, 5, 100, 10, 1.0f, 0.1f) == doctest::Approx(0.5));
  CHECK(scheduled_lr(LrSchedule::Linear, 55, 100, 10, 1.0f, 0.1f) == doctest::Approx(0.55));
  CHECK(scheduled_lr(LrSchedule::Linear, 82, 100, 10, 1.0f, 0.1f) == doctest::Approx(0.28));
  CHECK(scheduled_lr(LrSchedule::Linear, 100, 100, 10, 1.0f, 0.1f) == doctest::Approx(0.1));
  CHECK(scheduled_lr(LrSchedule::Constant, 5, 100, 10, 2.0f, 0.1f) == doctest::Approx(1.0));
  CHECK(scheduled_lr(LrSchedule::Constant, 11, 100, 10, 2.0f, 0.1f) == doctest::Approx(2.0));
  CHECK(scheduled_lr(LrSchedule::Constant, 100, 100, 10, 2.0f, 0.1f) == doctest::Approx(2.0));
  CHECK(parse_option<LrSchedule>("linear") == LrSchedule::Linear);
  CHECK_THROWS_WITH_AS(parse_option<LrSchedule>("step"),
                       doctest::Contains("unknown learning-rate schedule 'step'; valid: cosine, linear, constant"),
                       Error);
}

TEST_CASE("clip_grad_norm scales to the max norm") {
  Tensor a = scalar_parameter(0.0f, 3.0f);
  Tensor b = scalar_parameter(0.0f, 4.0f);
  double norm = clip_grad_norm({a, b}, 1.0);
  CHECK(norm == doctest::Approx(5.0));
  CHECK(a.grad().data()[0] == doctest::Approx(0.6).epsilon(1e-5));
  CHECK(b.grad().data()[0] == doctest::Approx(0.8).epsilon(1e-5));
}

TEST_CASE("clip_grad_norm leaves small gradients alone") {
  Tensor a = scalar_parameter(0.0f, 0.3f);
  CHECK(clip_grad_norm({a}, 1.0) == doctest::Approx(0.3));
  CHECK(a.grad().data()[0] == doctest::Approx(0.3));
}
