#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/error.h"
#include "ops/op_test_support.h"
#include "ops/ops.h"

using namespace entlab;
using namespace entlab::testing;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// delta + beta (log n)^gamma in double, with n = position + 2, written out independently
// of length_scale_terms.
double expected_scale(int64_t position, double beta, double gamma, double delta) {
  return delta + beta * std::pow(std::log(static_cast<double>(position + 2)), gamma);
}

// Scores (1, 1, 4, 4) at query positions 0 to 3: column 0 contains 1, the other kept entries 0 and
// the entries after the diagonal -inf. With an upstream gradient of 1 everywhere, every
// row then has dL/dscale = 1 * 1 exactly, and a masked entry that leaked into the sum
// would make it -inf.
Tensor first_key_scores() {
  return Tensor::from_vector({1, 1, 4, 4}, {1, -kInf, -kInf, -kInf,  //
                                            1, 0, -kInf, -kInf,       //
                                            1, 0, 0, -kInf,           //
                                            1, 0, 0, 0},
                             "scores");
}

// exp(length_scale(causal_mask(scores))) for gradcheck: exp maps the masked -inf to 0, so
// the loss that gradcheck forms stays finite.
Tensor masked_scaled_exp(const std::vector<Tensor>& x, float delta) {
  return exp(length_scale(causal_mask(x[0]), x[1], x[2], delta));
}

}  // namespace

// --- Forward values ---------------------------------------------------------------------------

TEST_CASE("length_scale values, per-head beta and gamma, (2,2,3,3)") {
  Rng rng(201);
  Tensor scores = uniform_tensor({2, 2, 3, 3}, rng, -2.0f, 2.0f);
  Tensor beta = Tensor::from_vector({2, 1}, {0.5f, 0.25f}, "beta");
  Tensor gamma = Tensor::from_vector({2, 1}, {1.5f, -0.5f}, "gamma");
  Tensor out = length_scale(scores, beta, gamma, 1.0f);
  REQUIRE(out.shape() == scores.shape());
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t i = 0; i < 3; ++i)
        for (int64_t j = 0; j < 3; ++j) {
          CAPTURE(b);
          CAPTURE(h);
          CAPTURE(i);
          CAPTURE(j);
          const double scale = expected_scale(i, beta.at({h, 0}), gamma.at({h, 0}), 1.0);
          CHECK_NEAR(out.at({b, h, i, j}), scale * scores.at({b, h, i, j}), kFloat32);
        }
}

TEST_CASE("length_scale SSMax form, s_h log n") {
  // SSMax: beta = s per head, gamma the constant 1, delta = 0.
  Tensor s = Tensor::from_vector({2, 1}, {1.0f, 0.5f}, "s");
  Tensor out = length_scale(Tensor::ones({1, 2, 3, 3}), s, Tensor::scalar(1.0f), 0.0f);
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t i = 0; i < 3; ++i) {
      CAPTURE(h);
      CAPTURE(i);
      CHECK_NEAR(out.at({0, h, i, 0}), s.at({h, 0}) * std::log(i + 2.0), kFloat32);
    }
}

TEST_CASE("length_scale with cached keys, T = 2 of S = 5") {
  // Query rows sit at positions 3 and 4, so n = 5 and 6.
  Tensor out = length_scale(Tensor::ones({1, 1, 2, 5}), Tensor::scalar(0.5f), Tensor::scalar(2.0f), 1.0f);
  for (int64_t j = 0; j < 5; ++j) {
    CAPTURE(j);
    CHECK_NEAR(out.at({0, 0, 0, j}), 1 + 0.5 * std::pow(std::log(5.0), 2), kFloat32);
    CHECK_NEAR(out.at({0, 0, 1, j}), 1 + 0.5 * std::pow(std::log(6.0), 2), kFloat32);
  }
}

TEST_CASE("length_scale per-token beta picks its own row, (2,2,2,2)") {
  // beta[b,h,i] = 0.1 (1 + b + 2h + 4i) differs in every row. gamma = 1 and delta = 0.
  std::vector<float> beta_values;
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t i = 0; i < 2; ++i) beta_values.push_back(0.1f * static_cast<float>(1 + b + 2 * h + 4 * i));
  Tensor beta = Tensor::from_vector({2, 2, 2}, beta_values, "beta");
  Tensor out = length_scale(Tensor::ones({2, 2, 2, 2}), beta, Tensor::scalar(1.0f), 0.0f);
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t i = 0; i < 2; ++i) {
        CAPTURE(b);
        CAPTURE(h);
        CAPTURE(i);
        CHECK_NEAR(out.at({b, h, i, 1}), beta.at({b, h, i}) * std::log(i + 2.0), kFloat32);
      }
}

TEST_CASE("length_scale reads strided scores and beta") {
  Rng rng(202);
  Tensor scores = uniform_tensor({1, 2, 3, 3}, rng);
  Tensor beta = uniform_tensor({1, 3, 2}, rng, 0.1f, 1.0f, "beta (B, T, NH)");
  Tensor gamma = Tensor::scalar(0.5f);
  // The transposed views are not contiguous, so the op must read them by their strides.
  Tensor from_views = length_scale(scores.view_transposed(2, 3), beta.view_transposed(1, 2), gamma, 1.0f);
  Tensor from_copies = length_scale(scores.view_transposed(2, 3).clone_values(),
                                    beta.view_transposed(1, 2).clone_values(), gamma, 1.0f);
  CHECK(from_views.to_vector() == from_copies.to_vector());
}

// --- Masked entries and scale 0 ---------------------------------------------------------------

TEST_CASE("length_scale keeps -inf at positive, zero and negative scales") {
  const Tensor masked = Tensor::from_vector({1, 1, 2, 2}, {0.5f, -kInf, 0.5f, -2.0f}, "masked");
  // beta = 0 gives scale = delta exactly.
  for (float delta : {2.0f, 0.0f, -1.0f}) {
    CAPTURE(delta);
    Tensor out = length_scale(masked, Tensor::scalar(0.0f), Tensor::scalar(1.0f), delta);
    const std::vector<float> y = out.to_vector();
    CHECK(y[0] == 0.5f * delta);
    CHECK(y[1] == -kInf);
    CHECK(y[2] == 0.5f * delta);
    CHECK(y[3] == -2.0f * delta);
  }
}

TEST_CASE("length_scale backward gives masked entries 0, ones upstream") {
  Tensor scores = param(Tensor::from_vector({1, 1, 2, 3}, {0.5f, -kInf, -kInf, 1.0f, 2.0f, -kInf}, "scores"));
  Tensor beta = param(Tensor::from_vector({1, 1}, {0.5f}, "beta"));
  Tensor gamma = param(Tensor::from_vector({1, 1}, {1.0f}, "gamma"));
  backward(length_scale(scores, beta, gamma, 1.0f), Tensor::ones({1, 1, 2, 3}));

  // T = 2 of S = 3: rows at positions 1 and 2, n = 3 and 4.
  const double scale0 = 1 + 0.5 * std::log(3.0);
  const double scale1 = 1 + 0.5 * std::log(4.0);
  const std::vector<float> dscores = scores.grad().to_vector();
  CHECK_ALL_NEAR(dscores, (std::vector<double>{scale0, 0, 0, scale1, scale1, 0}), kFloat32);
  CHECK(dscores[1] == 0.0f);
  CHECK(dscores[2] == 0.0f);
  CHECK(dscores[5] == 0.0f);

  // dscale = sum of the finite scores: 0.5 in row 0, 3 in row 1.
  CHECK_NEAR(beta.grad().item(), 0.5 * std::log(3.0) + 3 * std::log(4.0), kFloat32);
  const double dgamma_row0 = 0.5 * 0.5 * std::log(3.0) * std::log(std::log(3.0));
  const double dgamma_row1 = 3 * 0.5 * std::log(4.0) * std::log(std::log(4.0));
  CHECK_NEAR(gamma.grad().item(), dgamma_row0 + dgamma_row1, kFloat32);
}

TEST_CASE("length_scale at scale 0 produces no NaN") {
  Tensor scores = param(Tensor::from_vector({1, 1, 2, 2}, {3.0f, -kInf, -1.0f, 2.0f}, "scores"));
  Tensor beta = param(Tensor::from_vector({1, 1}, {0.0f}, "beta"));
  Tensor gamma = param(Tensor::from_vector({1, 1}, {1.0f}, "gamma"));
  Tensor out = length_scale(scores, beta, gamma, 0.0f);
  const std::vector<float> y = out.to_vector();
  CHECK(y[0] == 0.0f);
  CHECK(y[1] == -kInf);
  CHECK(y[2] == 0.0f);
  CHECK(y[3] == 0.0f);

  backward(out, Tensor::ones({1, 1, 2, 2}));
  const std::vector<float> dscores = scores.grad().to_vector();
  CHECK(dscores == std::vector<float>{0, 0, 0, 0});
  // dscale = 3 in row 0 (n = 2) and 1 in row 1 (n = 3). beta = 0 makes dgamma 0.
  CHECK_NEAR(beta.grad().item(), 3 * std::log(2.0) + std::log(3.0), kFloat32);
  CHECK(gamma.grad().item() == 0.0f);
}

// --- Gradients at delta = 1, beta = 0.5, gamma = 1 with n = 2..5 and dL/dscale = 1 per row ----

TEST_CASE("length_scale at beta 0.5, scales for n = 2 to 5") {
  Tensor out = length_scale(first_key_scores(), Tensor::scalar(0.5f), Tensor::scalar(1.0f), 1.0f);
  // 1 + 0.5 ln n.
  const std::vector<double> expected = {1.3465735902799727, 1.549306144334055, 1.6931471805599454,
                                        1.8047189562170503};
  for (int64_t i = 0; i < 4; ++i) {
    CAPTURE(i);
    CHECK_NEAR(out.at({0, 0, i, 0}), expected[static_cast<size_t>(i)], kFloat32);
  }
}

TEST_CASE("length_scale at beta 0.5, gradients of one value ()") {
  Tensor beta = param(Tensor::scalar(0.5f, "beta"));
  Tensor gamma = param(Tensor::scalar(1.0f, "gamma"));
  backward(length_scale(first_key_scores(), beta, gamma, 1.0f), Tensor::ones({1, 1, 4, 4}));
  // dL/dbeta = sum ln n = ln 120, and dL/dgamma = sum 0.5 ln n ln ln n.
  CHECK_NEAR(beta.grad().item(), 4.7874917, kFloat32);
  CHECK_NEAR(beta.grad().item(), std::log(120.0), kFloat32);
  CHECK_NEAR(gamma.grad().item(), 0.5339966, kFloat32);
}

TEST_CASE("length_scale at beta 0.5, per-head gradients (1, 1)") {
  Tensor beta = param(Tensor::from_vector({1, 1}, {0.5f}, "beta"));
  Tensor gamma = param(Tensor::from_vector({1, 1}, {1.0f}, "gamma"));
  backward(length_scale(first_key_scores(), beta, gamma, 1.0f), Tensor::ones({1, 1, 4, 4}));
  CHECK_NEAR(beta.grad().item(), 4.7874917, kFloat32);
  CHECK_NEAR(gamma.grad().item(), 0.5339966, kFloat32);
}

TEST_CASE("length_scale at beta 0.5, per-position gradients (1, 1, 4)") {
  Tensor beta = param(Tensor::full({1, 1, 4}, 0.5f, "beta"));
  Tensor gamma = param(Tensor::full({1, 1, 4}, 1.0f, "gamma"));
  backward(length_scale(first_key_scores(), beta, gamma, 1.0f), Tensor::ones({1, 1, 4, 4}));
  // dbeta_i = ln n, and dgamma_i = 0.5 ln n ln ln n is negative at n = 2 because ln ln 2 < 0.
  CHECK_ALL_NEAR(beta.grad().to_vector(),
                 (std::vector<double>{0.6931471805599453, 1.0986122886681098, 1.3862943611198906,
                                      1.6094379124341003}),
                 kFloat32);
  CHECK_ALL_NEAR(gamma.grad().to_vector(), (std::vector<double>{-0.1270237, 0.0516610, 0.2264056, 0.3829537}),
                 kFloat32);
}

// --- Decode consistency -----------------------------------------------------------------------

TEST_CASE("length_scale decode row matches the full pass, S = 6") {
  // Decoding the last query with S cached keys, (1,NH,1,S), must use the same scale as
  // row S-1 of the full (1,NH,S,S) pass, per head and per token.
  constexpr int64_t kKeys = 6;
  Rng rng(203);
  Tensor scores = uniform_tensor({1, 2, kKeys, kKeys}, rng, -1.0f, 1.0f);
  Tensor last_row = slice(scores, 2, kKeys - 1, kKeys).clone_values();
  REQUIRE(last_row.shape() == Shape{1, 2, 1, kKeys});

  SUBCASE("per head") {
    Tensor beta = Tensor::from_vector({2, 1}, {0.3f, 0.9f});
    Tensor gamma = Tensor::from_vector({2, 1}, {0.7f, -1.2f});
    Tensor full = length_scale(scores, beta, gamma, 1.0f);
    Tensor decoded = length_scale(last_row, beta, gamma, 1.0f);
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t j = 0; j < kKeys; ++j) {
        CAPTURE(h);
        CAPTURE(j);
        CHECK(decoded.at({0, h, 0, j}) == full.at({0, h, kKeys - 1, j}));
      }
  }

  SUBCASE("per token") {
    Tensor beta = uniform_tensor({1, 2, kKeys}, rng, 0.1f, 1.0f);
    Tensor gamma = uniform_tensor({1, 2, kKeys}, rng, -2.0f, 2.0f);
    Tensor full = length_scale(scores, beta, gamma, 1.0f);
    Tensor decoded = length_scale(last_row, slice(beta, 2, kKeys - 1, kKeys).clone_values(),
                                  slice(gamma, 2, kKeys - 1, kKeys).clone_values(), 1.0f);
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t j = 0; j < kKeys; ++j) {
        CAPTURE(h);
        CAPTURE(j);
        CHECK(decoded.at({0, h, 0, j}) == full.at({0, h, kKeys - 1, j}));
      }
  }
}

// --- Derivatives of the scale formula in double -----------------------------------------------

TEST_CASE("length_scale_terms derivatives vs finite differences in double") {
  struct Case {
    int64_t position;
    double beta, gamma;
  };
  // Position 0 (n = 2) has log log n < 0. A negative gamma damps the scores instead of sharpening them.
  const Case cases[] = {{0, 0.5, 1.0},   {0, 0.7, -1.5},  {1, 0.05, 0.0},
                        {7, 1.3, 2.0},   {62, 0.2, -2.0}, {4095, 0.9, 0.4}};
  const double h = 1e-6;
  const Tolerance tolerance{1e-8, 1e-9};
  for (const Case& c : cases) {
    CAPTURE(c.position);
    CAPTURE(c.beta);
    CAPTURE(c.gamma);
    const LengthScaleTerms<double> terms = length_scale_terms<double>(c.position, c.beta, c.gamma, 1.0);
    CHECK_NEAR(terms.scale, expected_scale(c.position, c.beta, c.gamma, 1.0), kClosedForm64);

    auto scale_at = [&](double beta, double gamma) {
      return length_scale_terms<double>(c.position, beta, gamma, 1.0).scale;
    };
    const double numeric_dbeta = (scale_at(c.beta + h, c.gamma) - scale_at(c.beta - h, c.gamma)) / (2 * h);
    const double numeric_dgamma = (scale_at(c.beta, c.gamma + h) - scale_at(c.beta, c.gamma - h)) / (2 * h);
    CHECK_NEAR(terms.dscale_dbeta, numeric_dbeta, tolerance);
    CHECK_NEAR(terms.dscale_dgamma, numeric_dgamma, tolerance);
  }
}

// --- Finite-difference checks of the op -------------------------------------------------------

TEST_CASE("length_scale backward vs finite differences, per head (NH,1), T = 3 of S = 5") {
  Rng rng(211);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 2, 3, 5}, rng, -1.0f, 1.0f, "scores")),
                                param(uniform_tensor({2, 1}, rng, 0.1f, 1.0f, "beta")),
                                param(uniform_tensor({2, 1}, rng, -1.0f, 1.0f, "gamma"))};
  auto f = [](const std::vector<Tensor>& x) { return masked_scaled_exp(x, 1.0f); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 2e-4, 1e-3));
}

TEST_CASE("length_scale backward vs finite differences, per token (B,NH,T), T = 4") {
  Rng rng(212);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 2, 4, 4}, rng, -1.0f, 1.0f, "scores")),
                                param(uniform_tensor({2, 2, 4}, rng, 0.1f, 1.0f, "beta")),
                                param(uniform_tensor({2, 2, 4}, rng, -2.0f, 2.0f, "gamma"))};
  auto f = [](const std::vector<Tensor>& x) { return masked_scaled_exp(x, 1.0f); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 2e-4, 1e-3));
}

TEST_CASE("length_scale backward vs finite differences, one value (), T = 2 of S = 4") {
  Rng rng(213);
  std::vector<Tensor> inputs = {param(uniform_tensor({1, 2, 2, 4}, rng, -1.0f, 1.0f, "scores")),
                                param(Tensor::scalar(0.6f, "beta")), param(Tensor::scalar(-0.8f, "gamma"))};
  auto f = [](const std::vector<Tensor>& x) { return masked_scaled_exp(x, 1.0f); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 2e-4, 1e-3));
}

TEST_CASE("length_scale backward vs finite differences, SSMax with softmax, T = 3 of S = 4") {
  // gamma is the constant 1, so only scores and s are checked.
  Rng rng(214);
  std::vector<Tensor> inputs = {param(uniform_tensor({1, 2, 3, 4}, rng, -1.0f, 1.0f, "scores")),
                                param(uniform_tensor({2, 1}, rng, 0.5f, 1.5f, "s")), Tensor::scalar(1.0f, "gamma")};
  auto f = [](const std::vector<Tensor>& x) { return softmax(length_scale(causal_mask(x[0]), x[1], x[2], 0.0f)); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 2e-3));
}

TEST_CASE("length_scale backward vs finite differences, adaptive softplus and tanh, T = 3") {
  // The adaptive form: beta = softplus(u) and gamma = 2 tanh(v) from per-token values u, v
  // laid out (B, T, NH) as a projection gives them, transposed to (B, NH, T).
  Rng rng(215);
  std::vector<Tensor> inputs = {param(uniform_tensor({1, 2, 3, 3}, rng, -1.0f, 1.0f, "scores")),
                                param(uniform_tensor({1, 3, 2}, rng, -3.0f, 1.0f, "u")),
                                param(uniform_tensor({1, 3, 2}, rng, -1.0f, 1.0f, "v"))};
  auto f = [](const std::vector<Tensor>& x) {
    Tensor beta = transpose(softplus(x[1]), 1, 2);
    Tensor gamma = transpose(scale(tanh(x[2]), 2.0f), 1, 2);
    return exp(length_scale(causal_mask(x[0]), beta, gamma, 1.0f));
  };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 2e-4, 1e-3));
}

// --- Broadcast sums, threads and input checks -------------------------------------------------

TEST_CASE("length_scale per-head gradient is the sum of per-token gradients") {
  Rng rng(221);
  const Tensor scores = causal_mask(uniform_tensor({2, 3, 4, 6}, rng, -1.0f, 1.0f));
  const Tensor upstream = uniform_tensor({2, 3, 4, 6}, rng, -1.0f, 1.0f);
  const std::vector<float> head_beta = {0.2f, 0.5f, 0.9f};
  const std::vector<float> head_gamma = {-1.0f, 0.3f, 1.7f};

  Tensor beta_head = param(Tensor::from_vector({3, 1}, head_beta, "beta per head"));
  Tensor gamma_head = param(Tensor::from_vector({3, 1}, head_gamma, "gamma per head"));
  backward(length_scale(scores, beta_head, gamma_head, 1.0f), upstream);

  std::vector<float> token_beta, token_gamma;
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t h = 0; h < 3; ++h)
      for (int64_t i = 0; i < 4; ++i) {
        token_beta.push_back(head_beta[static_cast<size_t>(h)]);
        token_gamma.push_back(head_gamma[static_cast<size_t>(h)]);
      }
  Tensor beta_token = param(Tensor::from_vector({2, 3, 4}, token_beta, "beta per token"));
  Tensor gamma_token = param(Tensor::from_vector({2, 3, 4}, token_gamma, "gamma per token"));
  backward(length_scale(scores, beta_token, gamma_token, 1.0f), upstream);

  for (int64_t h = 0; h < 3; ++h) {
    CAPTURE(h);
    double beta_sum = 0.0, gamma_sum = 0.0;
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t i = 0; i < 4; ++i) {
        beta_sum += beta_token.grad().at({b, h, i});
        gamma_sum += gamma_token.grad().at({b, h, i});
      }
    CHECK(beta_head.grad().at({h, 0}) != 0.0f);
    CHECK_NEAR(beta_head.grad().at({h, 0}), beta_sum, kFloat32);
    CHECK_NEAR(gamma_head.grad().at({h, 0}), gamma_sum, kFloat32);
  }
}

TEST_CASE("length_scale gradients identical with 1 and 4 threads, (2,4,64,300)") {
  // 2 * 4 * 64 * 300 = 153600 scores exceed kParallelMinWork, so 4 threads split the rows.
  static_assert(2 * 4 * 64 * 300 > kParallelMinWork, "the shape must take the parallel path");
  Rng rng(222);
  const Tensor scores0 = uniform_tensor({2, 4, 64, 300}, rng, -1.0f, 1.0f);
  const Tensor upstream = uniform_tensor({2, 4, 64, 300}, rng, -1.0f, 1.0f);
  const Tensor beta0 = uniform_tensor({4, 1}, rng, 0.1f, 1.0f);
  const Tensor gamma0 = uniform_tensor({2, 4, 64}, rng, -2.0f, 2.0f);

  struct Result {
    std::vector<float> out, dscores, dbeta, dgamma;
  };
  auto run = [&](int threads) {
    ThreadCountGuard guard(threads);
    Tensor scores = param(causal_mask(scores0));
    Tensor beta = param(beta0.clone_values());
    Tensor gamma = param(gamma0.clone_values());
    Tensor out = length_scale(scores, beta, gamma, 1.0f);
    backward(out, upstream);
    return Result{out.to_vector(), scores.grad().to_vector(), beta.grad().to_vector(), gamma.grad().to_vector()};
  };
  const Result single_thread = run(1);
  const Result four_threads = run(4);
  CHECK(single_thread.out == four_threads.out);
  CHECK(single_thread.dscores == four_threads.dscores);
  CHECK(single_thread.dbeta == four_threads.dbeta);
  CHECK(single_thread.dgamma == four_threads.dgamma);
  for (float value : single_thread.dbeta) CHECK(std::isfinite(value));
  for (float value : single_thread.dgamma) CHECK(std::isfinite(value));
}

TEST_CASE("length_scale rejects bad shapes and delta") {
  const Tensor scores = Tensor::zeros({2, 3, 4, 5});
  const Tensor unit = Tensor::scalar(1.0f);
  CHECK_THROWS_WITH_AS(length_scale(Tensor::zeros({3, 4, 5}), unit, unit, 1.0f),
                       doctest::Contains("must be (B, NH, T, S)"), Error);
  CHECK_THROWS_WITH_AS(length_scale(Tensor::zeros({1, 1, 5, 4}), unit, unit, 1.0f),
                       doctest::Contains("fewer keys than queries"), Error);
  CHECK_THROWS_WITH_AS(length_scale(scores, Tensor::zeros({4, 1}), unit, 1.0f),
                       doctest::Contains("length_scale: beta"), Error);
  CHECK_THROWS_WITH_AS(length_scale(scores, unit, Tensor::zeros({2, 3, 5}), 1.0f),
                       doctest::Contains("length_scale: gamma"), Error);
  CHECK_THROWS_AS(length_scale(scores, Tensor::zeros({1, 2, 3, 4}), unit, 1.0f), Error);
  CHECK_THROWS_AS(length_scale(scores, unit, unit, std::numeric_limits<float>::quiet_NaN()), Error);
  // Every allowed form passes: (NH, 1), (B, NH, T), (T,), (B, 1, 1) and ().
  for (const Shape& shape : {Shape{3, 1}, Shape{2, 3, 4}, Shape{4}, Shape{2, 1, 1}, Shape{}}) {
    CAPTURE(shape_str(shape));
    CHECK_NOTHROW(length_scale(scores, Tensor::ones(shape), Tensor::ones(shape), 1.0f));
  }
}
