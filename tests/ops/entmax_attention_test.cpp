// sparsemax and entmax_bisect inside attention composed from ops: causal mask, ALiBi
// bias, matmul.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "ops/op_test_support.h"
#include "ops/ops.h"

using namespace entlab;
using namespace entlab::testing;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

struct NamedTransform {
  std::string name;
  std::function<Tensor(const Tensor&)> apply;
};

// The transforms under test. Equal scores give a uniform output over the allowed keys
// for every one of them.
std::vector<NamedTransform> transforms() {
  return {
      {"sparsemax", [](const Tensor& x) { return sparsemax(x); }},
      {"entmax_bisect(1.25)", [](const Tensor& x) { return entmax_bisect(x, 1.25); }},
      {"entmax_bisect(1.5)", [](const Tensor& x) { return entmax_bisect(x, 1.5); }},
      {"entmax_bisect(2)", [](const Tensor& x) { return entmax_bisect(x, 2.0); }},
      {"entmax_bisect(3)", [](const Tensor& x) { return entmax_bisect(x, 3.0); }},
      {"entmax_bisect per head (NH,1)",
       [](const Tensor& x) { return entmax_bisect(x, Tensor::from_vector({1, 1}, {1.7f})); }},
  };
}

// One attention head, as entlab composes it: transform(causal_mask(q k^T)) v.
Tensor causal_attention(const Tensor& q, const Tensor& k, const Tensor& v, const NamedTransform& transform) {
  Tensor scores = matmul(q, transpose(k, -1, -2));
  return matmul(transform.apply(causal_mask(scores)), v);
}

}  // namespace

TEST_CASE("causal_mask then sparsemax of zeros, L = sum P * C") {
  Tensor x = param(Tensor::zeros({3, 3}, "X"));
  Tensor c = Tensor::from_vector({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}, "C");
  Tensor p = sparsemax(causal_mask(x));
  CHECK_ALL_NEAR(p.to_vector(), (std::vector<double>{1, 0, 0, 0.5, 0.5, 0, 1.0 / 3, 1.0 / 3, 1.0 / 3}), kFloat32);
  Tensor loss = sum(mul(p, c));
  CHECK_NEAR(loss.item(), 13.5, kFloat32);
  backward(loss);
  // s is the support indicator: row 1 gives g - 4.5 on its support, row 2 g - 8.
  const std::vector<float> dx = x.grad().to_vector();
  CHECK_ALL_NEAR(dx, (std::vector<double>{0, 0, 0, -0.5, 0.5, 0, -1, 0, 1}), kFloat32);
  CHECK(dx[1] == 0.0f);
  CHECK(dx[2] == 0.0f);
  CHECK(dx[5] == 0.0f);
}

TEST_CASE("causal_mask then entmax_bisect of zeros, L = sum P * C") {
  // P is uniform over the allowed keys for any alpha, so s = p^(2 - alpha) is constant
  // on the support: row 1 has dz = s [-0.5, 0.5, 0] with s = (1/2)^(2-alpha), row 2
  // dz = s [-1, 0, 1] with s = (1/3)^(2-alpha). At alpha = 1.5 that is
  // [-0.3535534, 0.3535534, 0] and [-0.5773503, 0, 0.5773503].
  for (double alpha : {1.25, 1.5, 2.0, 3.0}) {
    INFO("alpha ", alpha);
    Tensor x = param(Tensor::zeros({3, 3}, "X"));
    Tensor c = Tensor::from_vector({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}, "C");
    Tensor p = entmax_bisect(causal_mask(x), alpha);
    CHECK_ALL_NEAR(p.to_vector(), (std::vector<double>{1, 0, 0, 0.5, 0.5, 0, 1.0 / 3, 1.0 / 3, 1.0 / 3}), kFloat32);
    backward(sum(mul(p, c)));
    const double s1 = std::pow(0.5, 2 - alpha), s2 = std::pow(1.0 / 3, 2 - alpha);
    const std::vector<float> dx = x.grad().to_vector();
    CHECK_ALL_NEAR(dx, (std::vector<double>{0, 0, 0, -0.5 * s1, 0.5 * s1, 0, -s2, 0, s2}), kFloat32);
    CHECK(dx[1] == 0.0f);
    CHECK(dx[2] == 0.0f);
    CHECK(dx[5] == 0.0f);
  }
}

TEST_CASE("sparse causal attention of zero scores, T = 3") {
  for (const NamedTransform& transform : transforms()) {
    INFO(transform.name);
    Tensor q = Tensor::zeros({1, 1, 3, 2}, "q");
    Tensor k = Tensor::zeros({1, 1, 3, 2}, "k");
    Tensor v = Tensor::from_vector({1, 1, 3, 2}, {1, 0, 0, 1, 1, 1}, "v");
    // With the diagonal excluded row 0 would have no key; without a mask every row
    // would be [2/3, 2/3].
    Tensor out = causal_attention(q, k, v, transform);
    CHECK_ALL_NEAR(out.to_vector(), (std::vector<double>{1, 0, 0.5, 0.5, 2.0 / 3, 2.0 / 3}), kFloat32);
  }
}

TEST_CASE("sparse causal attention: no leak from key 2") {
  for (const NamedTransform& transform : transforms()) {
    INFO(transform.name);
    Rng rng(180);
    const Tensor q0 = normal_tensor({1, 1, 3, 4}, rng, 0.5f), k0 = normal_tensor({1, 1, 3, 4}, rng, 0.5f);
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
    for (int64_t c = 0; c < 4; ++c) k1_moved.set_at({0, 0, 1, c}, k1_moved.at({0, 0, 1, c}) + 3.0f);
    std::vector<float> out_k1, dq_k1;
    run(k1_moved, v0, out_k1, dq_k1);
    CHECK(out_k1 != out_base);
  }
}

TEST_CASE("sparse attention: masked row gets no gradient") {
  for (const NamedTransform& transform : transforms()) {
    INFO(transform.name);
    // q k^T = [[0.3, 0.6], [1, 2]]; the additive mask leaves [[0.3, -inf], [-inf, -inf]].
    const Tensor mask = Tensor::from_vector({1, 1, 2, 2}, {0, -kInf, -kInf, -kInf}, "mask");
    Tensor q = param(Tensor::from_vector({1, 1, 2, 1}, {0.3f, 1.0f}, "q"));
    Tensor k = param(Tensor::from_vector({1, 1, 2, 1}, {1.0f, 2.0f}, "k"));
    Tensor v = param(Tensor::from_vector({1, 1, 2, 1}, {5.0f, 7.0f}, "v"));
    Tensor probs = transform.apply(add(matmul(q, transpose(k, -1, -2)), mask));
    CHECK(probs.to_vector() == std::vector<float>{1, 0, 0, 0});
    Tensor out = matmul(probs, v);
    CHECK(out.to_vector() == std::vector<float>{5, 0});
    backward(out, Tensor::ones({1, 1, 2, 1}));
    // Row 0 has a single key: its transform gradient is 0, so q gets none; k_0 and v_0
    // get none through the scores and v_0 gets p = 1. Row 1 contributes nothing.
    CHECK(q.grad().to_vector() == std::vector<float>{0, 0});
    CHECK(k.grad().to_vector() == std::vector<float>{0, 0});
    CHECK(v.grad().to_vector() == std::vector<float>{1, 0});
  }
}

TEST_CASE("ALiBi slope 0.5, zero content scores: row 2 under the sparse transforms") {
  // Row 2 of causal_mask(alibi_bias(0)) is [-1, -0.5, 0].
  Tensor scores = causal_mask(alibi_bias(Tensor::zeros({1, 1, 3, 3}), {0.5f}));
  const std::vector<double> sparse_row = {0, 0.25, 0.75};
  const std::vector<double> entmax15_row = {0.0841358, 0.2916667, 0.6241975};
  auto row_2 = [](const Tensor& p) { return std::vector<float>(p.data() + 6, p.data() + 9); };
  CHECK_ALL_NEAR(row_2(sparsemax(scores)), sparse_row, kFloat32);
  CHECK_ALL_NEAR(row_2(entmax_bisect(scores, 2.0)), sparse_row, kFloat32);
  CHECK_ALL_NEAR(row_2(entmax_bisect(scores, 1.5)), entmax15_row, kFloat32);
  CHECK(row_2(sparsemax(scores))[0] == 0.0f);
}
