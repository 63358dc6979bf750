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

using Transform = Tensor (*)(const Tensor&);

const char* transform_name(Transform transform) { return transform == &softmax ? "softmax" : "entmax15"; }

// One attention head, as entlab composes it: transform(causal_mask(q k^T)) v.
Tensor causal_attention(const Tensor& q, const Tensor& k, const Tensor& v, Transform transform) {
  Tensor scores = matmul(q, transpose(k, -1, -2));
  return matmul(transform(causal_mask(scores)), v);
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double total = 0.0;
  for (size_t i = 0; i < a.size(); ++i) total += static_cast<double>(a[i]) * b[i];
  return total;
}

double norm(const float* x, int64_t n) {
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) total += static_cast<double>(x[i]) * x[i];
  return std::sqrt(total);
}

// x rotated as one row at `position`: rope on a (1,1,1,hs) tensor.
std::vector<float> rope_at(const std::vector<float>& x, int64_t position) {
  return rope(Tensor::from_vector({1, 1, 1, static_cast<int64_t>(x.size())}, x), position).to_vector();
}

}  // namespace

// --- causal_mask ---------------------------------------------------------------------------------

TEST_CASE("causal_mask keeps j <= i, (1,1,3,3)") {
  Tensor x = Tensor::from_vector({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  const std::vector<float> y = causal_mask(x).to_vector();
  CHECK(y == std::vector<float>{1, -kInf, -kInf, 4, 5, -kInf, 7, 8, 9});
}

TEST_CASE("causal_mask with cached keys, T = 2 of S = 4") {
  // Query rows sit at positions 2 and 3.
  Tensor x = Tensor::from_vector({1, 2, 4}, {1, 2, 3, 4, 5, 6, 7, 8});
  const std::vector<float> y = causal_mask(x).to_vector();
  CHECK(y == std::vector<float>{1, 2, 3, -kInf, 5, 6, 7, 8});
  CHECK_THROWS_WITH_AS(causal_mask(Tensor::zeros({4, 2})), doctest::Contains("fewer keys than queries"), Error);
}

TEST_CASE("causal_mask backward gives masked entries exactly 0, ones upstream") {
  Tensor x = param(Tensor::zeros({3, 3}, "X"));
  backward(causal_mask(x), Tensor::ones({3, 3}));
  CHECK(x.grad().to_vector() == std::vector<float>{1, 0, 0, 1, 1, 0, 1, 1, 1});
}

TEST_CASE("causal_mask then softmax of zeros, L = sum P * C") {
  Tensor x = param(Tensor::zeros({3, 3}, "X"));
  Tensor c = Tensor::from_vector({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}, "C");
  Tensor p = softmax(causal_mask(x));
  CHECK_ALL_NEAR(p.to_vector(), (std::vector<double>{1, 0, 0, 0.5, 0.5, 0, 1.0 / 3, 1.0 / 3, 1.0 / 3}), kFloat32);
  Tensor loss = sum(mul(p, c));
  CHECK_NEAR(loss.item(), 13.5, kFloat32);
  backward(loss);
  const std::vector<float> dx = x.grad().to_vector();
  CHECK_ALL_NEAR(dx, (std::vector<double>{0, 0, 0, -0.25, 0.25, 0, -1.0 / 3, 0, 1.0 / 3}), kFloat32);
  CHECK(dx[1] == 0.0f);
  CHECK(dx[2] == 0.0f);
  CHECK(dx[5] == 0.0f);
}

TEST_CASE("causal_mask then entmax15 of zeros, L = sum P * C") {
  Tensor x = param(Tensor::zeros({3, 3}, "X"));
  Tensor c = Tensor::from_vector({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}, "C");
  Tensor p = entmax15(causal_mask(x));
  CHECK_ALL_NEAR(p.to_vector(), (std::vector<double>{1, 0, 0, 0.5, 0.5, 0, 1.0 / 3, 1.0 / 3, 1.0 / 3}), kFloat32);
  backward(sum(mul(p, c)));
  // s = sqrt(P): row 1 has s = 1/sqrt 2 and <s, g> / sum s = 4.5, row 2 has 1/sqrt 3 and 8.
  const std::vector<float> dx = x.grad().to_vector();
  CHECK_ALL_NEAR(dx, (std::vector<double>{0, 0, 0, -0.3535534, 0.3535534, 0, -0.5773503, 0, 0.5773503}), kFloat32);
  CHECK(dx[1] == 0.0f);
  CHECK(dx[2] == 0.0f);
  CHECK(dx[5] == 0.0f);
}

// --- Attention composed from ops ---------------------------------------------------------------

TEST_CASE("causal attention of zero scores averages the allowed values, T = 3") {
  for (Transform transform : {Transform(&softmax), Transform(&entmax15)}) {
    INFO(transform_name(transform));
    Tensor q = Tensor::zeros({1, 1, 3, 2}, "q");
    Tensor k = Tensor::zeros({1, 1, 3, 2}, "k");
    Tensor v = Tensor::from_vector({1, 1, 3, 2}, {1, 0, 0, 1, 1, 1}, "v");
    // With the diagonal excluded row 0 would have no key; without a mask every row
    // would be [2/3, 2/3].
    Tensor out = causal_attention(q, k, v, transform);
    CHECK_ALL_NEAR(out.to_vector(), (std::vector<double>{1, 0, 0.5, 0.5, 2.0 / 3, 2.0 / 3}), kFloat32);
  }
}

TEST_CASE("causal attention: key and value 2 cannot leak into rows 0 and 1") {
  for (Transform transform : {Transform(&softmax), Transform(&entmax15)}) {
    INFO(transform_name(transform));
    Rng rng(101);
    const Tensor q0 = normal_tensor({1, 1, 3, 4}, rng), k0 = normal_tensor({1, 1, 3, 4}, rng);
    const Tensor v0 = normal_tensor({1, 1, 3, 4}, rng), g = normal_tensor({1, 1, 3, 4}, rng);

    // Rows 0 and 1 of the output and of dL/dq, for L = sum(out * g).
    auto run = [&](const Tensor& k, const Tensor& v, std::vector<float>& out_rows, std::vector<float>& dq_rows) {
      Tensor q = param(q0.clone_values());
      Tensor out = causal_attention(q, param(k.clone_values()), param(v.clone_values()), transform);
      backward(out, g);
      out_rows.assign(out.data(), out.data() + 8);
      dq_rows.assign(q.grad().data(), q.grad().data() + 8);
    };
    std::vector<float> out_base, dq_base;
    run(k0, v0, out_base, dq_base);

    Tensor k_moved = k0.clone_values();
    for (int64_t c = 0; c < 4; ++c) k_moved.set_at({0, 0, 2, c}, k_moved.at({0, 0, 2, c}) + 3.0f);
    Tensor v_moved = v0.clone_values();
    for (int64_t c = 0; c < 4; ++c) v_moved.set_at({0, 0, 2, c}, v_moved.at({0, 0, 2, c}) - 5.0f);

    std::vector<float> out_k, dq_k, out_v, dq_v;
    run(k_moved, v0, out_k, dq_k);
    run(k0, v_moved, out_v, dq_v);
    CHECK(out_k == out_base);
    CHECK(dq_k == dq_base);
    CHECK(out_v == out_base);
    CHECK(dq_v == dq_base);

    // Moving key 1 does reach row 1, so the comparison above can tell a difference.
    Tensor k1_moved = k0.clone_values();
    k1_moved.set_at({0, 0, 1, 0}, k1_moved.at({0, 0, 1, 0}) + 3.0f);
    std::vector<float> out_k1, dq_k1;
    run(k1_moved, v0, out_k1, dq_k1);
    CHECK(out_k1 != out_base);
  }
}

TEST_CASE("attention with one fully masked row sends it no gradient, T = 2") {
  for (Transform transform : {Transform(&softmax), Transform(&entmax15)}) {
    INFO(transform_name(transform));
    // q k^T = [[0.3, 0.6], [1, 2]]; the additive mask leaves [[0.3, -inf], [-inf, -inf]].
    const Tensor mask = Tensor::from_vector({1, 1, 2, 2}, {0, -kInf, -kInf, -kInf}, "mask");
    for (int64_t upstream_row : {0, 1}) {
      INFO("upstream gradient on row ", upstream_row);
      Tensor q = param(Tensor::from_vector({1, 1, 2, 1}, {0.3f, 1.0f}, "q"));
      Tensor k = param(Tensor::from_vector({1, 1, 2, 1}, {1.0f, 2.0f}, "k"));
      Tensor v = param(Tensor::from_vector({1, 1, 2, 2}, {1, 2, 3, 4}, "v"));
      Tensor probs = transform(add(matmul(q, transpose(k, -1, -2)), mask));
      CHECK(probs.to_vector() == std::vector<float>{1, 0, 0, 0});
      Tensor out = matmul(probs, v);
      CHECK(out.at({0, 0, 1, 0}) == 0.0f);
      CHECK(out.at({0, 0, 1, 1}) == 0.0f);

      Tensor g = Tensor::zeros({1, 1, 2, 2});
      g.set_at({0, 0, upstream_row, 0}, 1.0f);
      g.set_at({0, 0, upstream_row, 1}, -2.0f);
      backward(out, g);
      for (const Tensor& input : {q, k, v})
        for (float value : input.grad().to_vector()) {
          INFO("gradient of ", input.name());
          CHECK(std::isfinite(value));
          if (upstream_row == 1) CHECK(value == 0.0f);
        }
    }
  }
}

// --- ALiBi ------------------------------------------------------------------------------------

TEST_CASE("alibi_bias adds slope * (j - i) per head, (1,2,3,3)") {
  Tensor scores = Tensor::zeros({1, 2, 3, 3});
  const std::vector<float> y = alibi_bias(scores, {0.5f, 0.25f}).to_vector();
  CHECK_ALL_NEAR(y,
                 (std::vector<double>{0, 0.5, 1, -0.5, 0, 0.5, -1, -0.5, 0,  //
                                      0, 0.25, 0.5, -0.25, 0, 0.25, -0.5, -0.25, 0}),
                 kFloat32);
}

TEST_CASE("alibi_bias picks the slope by head in every batch item, (2,2,2,2)") {
  const std::vector<float> y = alibi_bias(Tensor::zeros({2, 2, 2, 2}), {1.0f, 0.5f}).to_vector();
  const std::vector<double> one_item = {0, 1, -1, 0, 0, 0.5, -0.5, 0};
  CHECK_ALL_NEAR(std::vector<float>(y.begin(), y.begin() + 8), one_item, kFloat32);
  CHECK_ALL_NEAR(std::vector<float>(y.begin() + 8, y.end()), one_item, kFloat32);
}

TEST_CASE("alibi_bias with cached keys, T = 2 of S = 4") {
  const std::vector<float> y = alibi_bias(Tensor::zeros({1, 1, 2, 4}), {1.0f}).to_vector();
  CHECK_ALL_NEAR(y, (std::vector<double>{-2, -1, 0, 1, -3, -2, -1, 0}), kFloat32);
  CHECK_THROWS_AS(alibi_bias(Tensor::zeros({1, 2, 2, 2}), {1.0f}), Error);
}

TEST_CASE("alibi softmax and entmax15 rows at m = 0.5, T = 3") {
  Tensor scores = alibi_bias(Tensor::zeros({1, 1, 3, 3}), {0.5f});
  Tensor soft = softmax(causal_mask(scores));
  // softmax([-1, -0.5, 0]); a flipped sign would reverse the row.
  CHECK_NEAR(soft.at({0, 0, 2, 0}), 0.1863237, kFloat32);
  CHECK_NEAR(soft.at({0, 0, 2, 1}), 0.3071959, kFloat32);
  CHECK_NEAR(soft.at({0, 0, 2, 2}), 0.5064804, kFloat32);
  Tensor sparse = entmax15(causal_mask(scores));
  CHECK_NEAR(sparse.at({0, 0, 2, 0}), 0.0841358, kFloat32);
  CHECK_NEAR(sparse.at({0, 0, 2, 1}), 0.2916667, kFloat32);
  CHECK_NEAR(sparse.at({0, 0, 2, 2}), 0.6241975, kFloat32);
}

TEST_CASE("alibi entmax15 window at m = 0.5, query positions 7 to 11") {
  // c = (3 + sqrt 11) / 8 and p_d = (c - d/4)^2 for distances d <= 3, exactly 0 beyond.
  const double c = (3 + std::sqrt(11.0)) / 8;
  std::vector<double> expected;
  for (int d = 0; d < 8; ++d) expected.push_back(d <= 3 ? (c - d / 4.0) * (c - d / 4.0) : 0.0);
  CHECK_NEAR(expected[0], 0.6234336, kFloat32);
  CHECK_NEAR(expected[1], 0.2911445, kFloat32);
  CHECK_NEAR(expected[2], 0.0838555, kFloat32);
  CHECK_NEAR(expected[3], 0.0015664, kFloat32);

  Tensor probs = entmax15(causal_mask(alibi_bias(Tensor::zeros({1, 1, 12, 12}), {0.5f})));
  for (int64_t i = 7; i < 12; ++i) {
    std::vector<float> by_distance;
    for (int64_t d = 0; d < 8; ++d) by_distance.push_back(probs.at({0, 0, i, i - d}));
    INFO("query position ", i);
    CHECK_ALL_NEAR(by_distance, expected, kFloat32);
    for (int64_t d = 4; d <= i; ++d) CHECK(probs.at({0, 0, i, i - d}) == 0.0f);
  }

  // Decoding one query at position 11 against 12 cached keys gives the same row.
  Tensor decoded = entmax15(causal_mask(alibi_bias(Tensor::zeros({1, 1, 1, 12}), {0.5f})));
  for (int64_t j = 0; j < 12; ++j) CHECK(decoded.at({0, 0, 0, j}) == probs.at({0, 0, 11, j}));
}

// --- RoPE ---------------------------------------------------------------------------------------

TEST_CASE("rope rotate-half of [1, 2, 3, 4] at position 1") {
  // Pairs (0, 2) and (1, 3) with theta = [1, 0.01]; an interleaved rotation would give
  // [-1.1426397, 1.9220756, 2.9598507, 4.0297995].
  Tensor x = Tensor::from_vector({1, 1, 2, 4}, {1, 2, 3, 4, 1, 2, 3, 4});
  Tensor y = rope(x);
  CHECK_ALL_NEAR(std::vector<float>(y.data(), y.data() + 4), (std::vector<double>{1, 2, 3, 4}), kFloat32);
  CHECK_ALL_NEAR(std::vector<float>(y.data() + 4, y.data() + 8),
                 (std::vector<double>{-1.9841106, 1.9599007, 2.4623779, 4.0197997}), kFloat32);
  CHECK_NEAR(norm(y.data() + 4, 4), std::sqrt(30.0), kFloat32);
  CHECK_THROWS_AS(rope(Tensor::zeros({1, 1, 2, 3})), Error);
}

TEST_CASE("rope preserves the norm at positions 0 to 63, hs = 16") {
  Rng rng(102);
  Tensor x = normal_tensor({1, 2, 64, 16}, rng);
  Tensor y = rope(x);
  for (int64_t row = 0; row < 128; ++row) {
    INFO("row ", row);
    CHECK_NEAR(norm(y.data() + row * 16, 16), norm(x.data() + row * 16, 16), kFloat32);
  }
}

TEST_CASE("rope scores depend only on the offset between positions") {
  Rng rng(103);
  const std::vector<float> q = normal_tensor({8}, rng).to_vector();
  const std::vector<float> k = normal_tensor({8}, rng).to_vector();
  for (int64_t offset : {0, 1, 3, 17}) {
    const double base = dot(rope_at(q, offset), rope_at(k, 0));
    for (int64_t shift : {1, 5, 100, 1000}) {
      INFO("offset ", offset, ", shift ", shift);
      CHECK_NEAR(dot(rope_at(q, offset + shift), rope_at(k, shift)), base, (Tolerance{1e-5, 1e-5}));
    }
  }
}

TEST_CASE("rope angles stay accurate at position 100003, hs = 64") {
  // theta_1 = 10000^(-1/32); q = k = the first coordinate of pair 1 (index 1, paired with 33).
  std::vector<float> unit(64, 0.0f);
  unit[1] = 1.0f;
  const double expected = std::cos(2 * std::pow(10000.0, -1.0 / 32));
  CHECK_NEAR(expected, 0.0709483, kFloat32);
  const Tolerance absolute_1e5{0.0, 1e-5};
  CHECK_NEAR(dot(rope_at(unit, 3), rope_at(unit, 1)), expected, absolute_1e5);
  // A float32 angle product would give 0.0707372 here.
  CHECK_NEAR(dot(rope_at(unit, 100003), rope_at(unit, 100001)), expected, absolute_1e5);
}

TEST_CASE("rope at position 1e6 keeps the norm and stays finite") {
  Rng rng(104);
  const std::vector<float> x = normal_tensor({64}, rng).to_vector();
  const std::vector<float> y = rope_at(x, 1000000);
  for (float v : y) CHECK(std::isfinite(v));
  CHECK_NEAR(norm(y.data(), 64), norm(x.data(), 64), (Tolerance{1e-6, 1e-6}));
}

TEST_CASE("rope with a position offset matches the rows of a longer sequence") {
  Rng rng(105);
  Tensor full = normal_tensor({1, 2, 7, 8}, rng);
  Tensor tail = slice(full, 2, 3, 7).clone_values();
  const Tensor rotated_full = rope(full);
  const Tensor rotated_tail = rope(tail, 3);
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t t = 0; t < 4; ++t)
      for (int64_t c = 0; c < 8; ++c) CHECK(rotated_tail.at({0, h, t, c}) == rotated_full.at({0, h, t + 3, c}));
}

// --- Finite-difference checks -------------------------------------------------------------------
// causal_mask outputs -inf, so each check follows it with exp or a transform that maps
// -inf to 0. The loss that gradcheck forms then stays finite.

TEST_CASE("causal_mask backward vs finite differences, exp, (2,2,3,3)") {
  Rng rng(111);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 2, 3, 3}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return exp(causal_mask(x[0])); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 2e-4, 1e-3));
}

TEST_CASE("causal_mask backward vs finite differences, softmax, T = 2 of S = 5") {
  Rng rng(112);
  std::vector<Tensor> inputs = {param(normal_tensor({2, 1, 2, 5}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return softmax(causal_mask(x[0])); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 2e-3));
}

TEST_CASE("alibi_bias backward vs finite differences, (1,2,3,4)") {
  Rng rng(113);
  std::vector<Tensor> inputs = {param(uniform_tensor({1, 2, 3, 4}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return alibi_bias(x[0], {0.5f, 0.125f}); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}

TEST_CASE("rope backward vs finite differences, (2,2,3,4), position offset 5") {
  Rng rng(114);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 2, 3, 4}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return rope(x[0], 5); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 1e-4, 1e-3));
}

TEST_CASE("attention backward vs finite differences, rope + alibi + softmax, T = 4") {
  Rng rng(115);
  std::vector<Tensor> inputs = {param(uniform_tensor({1, 2, 4, 4}, rng)), param(uniform_tensor({1, 2, 4, 4}, rng)),
                                param(uniform_tensor({1, 2, 4, 4}, rng))};
  auto f = [](const std::vector<Tensor>& x) {
    Tensor scores = matmul(rope(x[0]), transpose(rope(x[1]), -1, -2));
    return matmul(softmax(causal_mask(alibi_bias(scores, {0.5f, 0.0f}))), x[2]);
  };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 3e-4, 3e-3));
}

TEST_CASE("attention backward vs finite differences, entmax15 with full supports, T = 4") {
  // |q|, |k| <= 0.3 with hs = 4 keep every score within 0.36 of 0, so each row spans
  // less than 0.72 and all its allowed keys stay on the support: no kink in reach.
  Rng rng(116);
  std::vector<Tensor> inputs = {param(uniform_tensor({1, 2, 4, 4}, rng, -0.3f, 0.3f)),
                                param(uniform_tensor({1, 2, 4, 4}, rng, -0.3f, 0.3f)),
                                param(uniform_tensor({1, 2, 4, 4}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return causal_attention(x[0], x[1], x[2], &entmax15); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(2e-3, 3e-4, 5e-3));
}
