#include <doctest/doctest.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/tensor.h"

using namespace entlab;

TEST_CASE("tensor factories and shape") {
  Tensor t = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6}, "t");
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.strides() == Shape{3, 1});
  CHECK(t.numel() == 6);
  CHECK(t.size(-1) == 3);
  CHECK(t.at({1, 2}) == 6.0f);
  CHECK(t.is_contiguous());
  CHECK(shape_str(t.shape()) == "(2, 3)");
  CHECK(shape_str({5}) == "(5,)");
}

TEST_CASE("transposed view shares storage") {
  Tensor t = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor v = t.view_transposed(0, 1);
  CHECK(v.shape() == Shape{3, 2});
  CHECK_FALSE(v.is_contiguous());
  CHECK(v.shares_storage(t));
  CHECK(v.to_vector() == std::vector<float>{1, 4, 2, 5, 3, 6});
}

TEST_CASE("reshape view needs matching element count") {
  Tensor t = Tensor::zeros({2, 3}, "weights");
  CHECK(t.view_as_shape({3, 2}).shape() == Shape{3, 2});
  CHECK_THROWS_WITH_AS(t.view_as_shape({4, 2}),
                       doctest::Contains("cannot view tensor 'weights' of shape (2, 3)"), Error);
}

TEST_CASE("set_at bumps the version") {
  Tensor t = Tensor::zeros({3});
  uint64_t before = t.version();
  t.set_at({1}, 2.0f);
  CHECK(t.version() == before + 1);
  CHECK(t.at({1}) == 2.0f);
}

TEST_CASE("set_at rejects tensors that require grad") {
  Tensor t = Tensor::zeros({3}, "w");
  t.set_requires_grad(true);
  CHECK_THROWS_AS(t.set_at({0}, 1.0f), Error);
}

TEST_CASE("ensure_grad names and zeroes the gradient") {
  Tensor t = Tensor::ones({2}, "w");
  Tensor g = t.ensure_grad();
  CHECK(g.name() == "grad of w");
  CHECK(g.to_vector() == std::vector<float>{0, 0});
}

TEST_CASE("rng is reproducible and in range") {
  Rng a(42), b(42);
  for (int i = 0; i < 100; ++i) CHECK(a.next_u64() == b.next_u64());
  Rng r(7);
  double total = 0;
  for (int i = 0; i < 10000; ++i) {
    float u = r.uniform();
    CHECK(u >= 0.0f);
    CHECK(u < 1.0f);
    total += u;
    int64_t k = r.randint(3, 5);
    CHECK(k >= 3);
    CHECK(k <= 5);
  }
  CHECK(total / 10000 == doctest::Approx(0.5).epsilon(0.02));
}

TEST_CASE("rng state round trip continues the stream") {
  Rng r(9);
  r.next_u64();
  Rng::State saved = r.state();
  uint64_t expected = r.next_u64();
  Rng other(0);
  other.set_state(saved);
  CHECK(other.next_u64() == expected);
}
