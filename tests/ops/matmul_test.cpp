#include <doctest/doctest.h>

#include "core/error.h"
#include "ops/op_test_support.h"
#include "ops/ops.h"

using namespace entlab;
using namespace entlab::testing;

namespace {

// Reference product in double: a (..., M, K) @ b (K, N) or (..., K, N), by plain loops.
std::vector<double> naive_matmul(const Tensor& a, const Tensor& b) {
  const std::vector<float> av = a.to_vector();
  const std::vector<float> bv = b.to_vector();
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  const int64_t batch = a.numel() / (m * k);
  const bool shared_b = b.dim() == 2;
  std::vector<double> out(static_cast<size_t>(batch * m * n), 0.0);
  for (int64_t i = 0; i < batch; ++i) {
    const float* a_i = av.data() + i * m * k;
    const float* b_i = bv.data() + (shared_b ? 0 : i * k * n);
    for (int64_t r = 0; r < m; ++r)
      for (int64_t c = 0; c < n; ++c) {
        double total = 0.0;
        for (int64_t j = 0; j < k; ++j) total += static_cast<double>(a_i[r * k + j]) * b_i[j * n + c];
        out[static_cast<size_t>((i * m + r) * n + c)] = total;
      }
  }
  return out;
}

// Float32 products of length-K dot products: allow K roundings of the larger terms.
constexpr Tolerance kProduct{1e-5, 1e-5};

}  // namespace

TEST_CASE("matmul forward vs naive loops, (3,4) @ (4,5)") {
  Rng rng(1);
  Tensor a = uniform_tensor({3, 4}, rng);
  Tensor b = uniform_tensor({4, 5}, rng);
  Tensor c = matmul(a, b);
  CHECK(c.shape() == Shape{3, 5});
  CHECK_ALL_NEAR(c.to_vector(), naive_matmul(a, b), kProduct);
}

TEST_CASE("matmul forward vs naive loops, (2,3,4) @ shared (4,5)") {
  Rng rng(2);
  Tensor a = uniform_tensor({2, 3, 4}, rng);
  Tensor b = uniform_tensor({4, 5}, rng);
  Tensor c = matmul(a, b);
  CHECK(c.shape() == Shape{2, 3, 5});
  CHECK_ALL_NEAR(c.to_vector(), naive_matmul(a, b), kProduct);
}

TEST_CASE("matmul forward vs naive loops, batched (2,2,3,4) @ (2,2,4,5)") {
  Rng rng(3);
  Tensor a = uniform_tensor({2, 2, 3, 4}, rng);
  Tensor b = uniform_tensor({2, 2, 4, 5}, rng);
  Tensor c = matmul(a, b);
  CHECK(c.shape() == Shape{2, 2, 3, 5});
  CHECK_ALL_NEAR(c.to_vector(), naive_matmul(a, b), kProduct);
}

TEST_CASE("matmul forward with transposed views, (2,2,3,4) @ (2,2,5,4)^T") {
  Rng rng(4);
  Tensor q = uniform_tensor({2, 2, 3, 4}, rng);
  Tensor k = uniform_tensor({2, 2, 5, 4}, rng);
  Tensor k_t = transpose(k, -1, -2);
  CHECK_FALSE(k_t.is_contiguous());
  Tensor scores = matmul(q, k_t);
  CHECK(scores.shape() == Shape{2, 2, 3, 5});
  CHECK_ALL_NEAR(scores.to_vector(), naive_matmul(q, k_t.clone_values()), kProduct);

  // A transposed left operand with a shared right operand: (4,3)^T @ (4,5).
  Tensor a_storage = uniform_tensor({4, 3}, rng);
  Tensor b = uniform_tensor({4, 5}, rng);
  Tensor c = matmul(transpose(a_storage, 0, 1), b);
  CHECK_ALL_NEAR(c.to_vector(), naive_matmul(a_storage.view_transposed(0, 1).clone_values(), b), kProduct);
}

TEST_CASE("matmul forward on a sliced (non-dense) operand") {
  Rng rng(5);
  Tensor x = uniform_tensor({2, 4, 6}, rng);
  Tensor a = slice(x, -1, 1, 5);  // (2,4,4), rows not dense
  Tensor b = uniform_tensor({4, 3}, rng);
  Tensor c = matmul(a, b);
  CHECK_ALL_NEAR(c.to_vector(), naive_matmul(a.clone_values(), b), kProduct);
}

TEST_CASE("matmul rejects mismatched shapes") {
  Tensor a = Tensor::zeros({2, 3}, "a");
  CHECK_THROWS_WITH_AS(matmul(a, Tensor::zeros({4, 2}, "b")), doctest::Contains("inner dimensions differ"),
                       Error);
  CHECK_THROWS_AS(matmul(Tensor::zeros({2, 2, 3}), Tensor::zeros({3, 2, 4})), Error);
  CHECK_THROWS_AS(matmul(Tensor::zeros({3}), Tensor::zeros({3, 2})), Error);
}

// Non-square shapes expose a transposed or swapped factor in either gradient.
TEST_CASE("matmul backward on non-square (2,3) @ (3,4)") {
  Tensor a = param(Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6}, "A"));
  Tensor b = param(Tensor::from_vector({3, 4}, {1, 0, 2, 1, 0, 1, 1, 2, 3, 1, 0, 1}, "B"));
  Tensor g = Tensor::from_vector({2, 4}, {1, 0, 0, 0, 0, 0, 0, 1}, "G");
  Tensor loss = sum(mul(matmul(a, b), g));
  CHECK_NEAR(loss.item(), 30.0, kFloat32);

  backward(loss);
  CHECK(a.grad().shape() == Shape{2, 3});
  CHECK(b.grad().shape() == Shape{3, 4});
  CHECK_ALL_NEAR(a.grad().to_vector(), (std::vector<double>{1, 0, 3, 1, 2, 1}), kFloat32);
  CHECK_ALL_NEAR(b.grad().to_vector(), (std::vector<double>{1, 0, 0, 4, 2, 0, 0, 5, 3, 0, 0, 6}), kFloat32);
}

TEST_CASE("matmul backward of shared weight sums over the batch, (2,2,3) @ (3,4)") {
  Rng rng(6);
  Tensor a = param(uniform_tensor({2, 2, 3}, rng, -1.0f, 1.0f, "A"));
  Tensor b = param(uniform_tensor({3, 4}, rng, -1.0f, 1.0f, "B"));
  Tensor g = uniform_tensor({2, 2, 4}, rng, -1.0f, 1.0f, "G");
  backward(sum(mul(matmul(a, b), g)));
  const std::vector<float> batched_db = b.grad().to_vector();
  const std::vector<float> batched_da = a.grad().to_vector();

  // The same product item by item: dB must be the sum of the per-item dB.
  std::vector<double> summed_db(12, 0.0);
  for (int64_t item = 0; item < 2; ++item) {
    const std::vector<float> a_values = a.to_vector();
    const std::vector<float> g_values = g.to_vector();
    Tensor a_item = param(Tensor::from_vector(
        {2, 3}, std::vector<float>(a_values.begin() + item * 6, a_values.begin() + item * 6 + 6)));
    Tensor g_item = Tensor::from_vector(
        {2, 4}, std::vector<float>(g_values.begin() + item * 8, g_values.begin() + item * 8 + 8));
    b.zero_grad();
    backward(sum(mul(matmul(a_item, b), g_item)));
    for (size_t i = 0; i < summed_db.size(); ++i) summed_db[i] += b.grad().to_vector()[i];
    INFO("batch item ", item);
    CHECK_ALL_NEAR(a_item.grad().to_vector(),
                   to_doubles(std::vector<float>(batched_da.begin() + item * 6, batched_da.begin() + item * 6 + 6)),
                   kFloat32);
  }
  CHECK_ALL_NEAR(batched_db, summed_db, kFloat32);
}

// --- Finite-difference checks -------------------------------------------------------------
// matmul is bilinear, so the 4-point formula has no truncation error. The tolerances
// cover float32 rounding of the outputs, divided by the step.

TEST_CASE("matmul backward vs finite differences, (3,4) @ (4,5)") {
  Rng rng(11);
  std::vector<Tensor> inputs = {param(uniform_tensor({3, 4}, rng)), param(uniform_tensor({4, 5}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 2e-4, 1e-3));
}

TEST_CASE("matmul backward vs finite differences, (2,3,4) @ shared (4,5)") {
  Rng rng(12);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 3, 4}, rng)), param(uniform_tensor({4, 5}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 2e-4, 1e-3));
}

TEST_CASE("matmul backward vs finite differences, batched (2,2,3,4) @ (2,2,4,5)") {
  Rng rng(13);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 2, 3, 4}, rng)),
                                param(uniform_tensor({2, 2, 4, 5}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 2e-4, 1e-3));
}

TEST_CASE("matmul backward vs finite differences, (3,4) @ transpose of (5,4)") {
  Rng rng(14);
  std::vector<Tensor> inputs = {param(uniform_tensor({3, 4}, rng)), param(uniform_tensor({5, 4}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return matmul(x[0], transpose(x[1], 0, 1)); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 2e-4, 1e-3));
}

TEST_CASE("matmul backward vs finite differences, transpose of (2,4,3) @ shared (4,5)") {
  Rng rng(15);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 4, 3}, rng)), param(uniform_tensor({4, 5}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return matmul(transpose(x[0], -1, -2), x[1]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 2e-4, 1e-3));
}

TEST_CASE("matmul backward vs finite differences, q (2,2,3,4) @ k^T (2,2,5,4)") {
  Rng rng(16);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 2, 3, 4}, rng)),
                                param(uniform_tensor({2, 2, 5, 4}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return matmul(x[0], transpose(x[1], -1, -2)); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 2e-4, 1e-3));
}

TEST_CASE("matmul backward vs finite differences, sliced (2,3,6)[..., 1:5] @ (4,2)") {
  Rng rng(18);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 3, 6}, rng)), param(uniform_tensor({4, 2}, rng))};
  auto f = [](const std::vector<Tensor>& x) { return matmul(slice(x[0], -1, 1, 5), x[1]); };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 2e-4, 1e-3));
}

TEST_CASE("matmul backward vs finite differences, both operands transposed, batched") {
  Rng rng(17);
  std::vector<Tensor> inputs = {param(uniform_tensor({2, 4, 3}, rng)), param(uniform_tensor({2, 5, 4}, rng))};
  auto f = [](const std::vector<Tensor>& x) {
    return matmul(transpose(x[0], -1, -2), transpose(x[1], -1, -2));
  };
  CHECK_GRADCHECK(f, inputs, gradcheck_options(1e-2, 2e-4, 1e-3));
}
