// The TopK sort path of the exact kernels (sparsemax, 1.5-entmax) against the full sort.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "ops/op_test_support.h"
#include "ops/ops.h"

using namespace entlab;
using namespace entlab::testing;

namespace {

template <typename T>
struct SortedRun {
  std::vector<T> p;
  EntmaxRowInfo info;
};

// One exact kernel on one row with the given sort.
template <typename T>
SortedRun<T> run_kernel(bool use_sparsemax, const std::vector<T>& z, EntmaxSort sort) {
  SortedRun<T> run;
  run.p.assign(z.size(), T(-1));
  std::vector<T> scratch;
  const int64_t n = static_cast<int64_t>(z.size());
  run.info = use_sparsemax ? sparsemax_row_forward(run.p.data(), z.data(), n, scratch, sort)
                           : entmax15_row_forward(run.p.data(), z.data(), n, scratch, sort);
  return run;
}

// Same bits, NaN included.
template <typename T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// Checks that both sorts give the same p, tau and support size on z, and returns the
// support size.
template <typename T>
int64_t check_sorts_agree(bool use_sparsemax, const std::vector<T>& z) {
  const SortedRun<T> top_k = run_kernel(use_sparsemax, z, EntmaxSort::TopK);
  const SortedRun<T> full = run_kernel(use_sparsemax, z, EntmaxSort::Full);
  CHECK(same_bits(top_k.p, full.p));
  CHECK(std::memcmp(&top_k.info.tau, &full.info.tau, sizeof(double)) == 0);
  CHECK(top_k.info.support_size == full.info.support_size);
  return top_k.info.support_size;
}

// A random row of kind `kind`: 0 normal, 1 with ties, 2 quantised to 1/8 (many ties),
// 3 with -inf entries.
template <typename T>
std::vector<T> random_row(Rng& rng, int64_t n, double scale, int kind) {
  std::vector<T> z(static_cast<size_t>(n));
  for (T& v : z) v = static_cast<T>(scale * rng.normal());
  if (kind == 1)
    for (int64_t j = 1; j < n; j += 3) z[j] = z[j - 1];
  if (kind == 2)
    for (T& v : z) v = static_cast<T>(std::round(v * 8) / 8);
  if (kind == 3)
    for (int64_t j = 0; j < n; j += 4) z[j] = -std::numeric_limits<T>::infinity();
  return z;
}

}  // namespace

TEST_CASE("exact kernels: TopK sort equals full sort bit for bit, float and double") {
  Rng rng(170);
  int64_t largest_support = 0;
  for (bool use_sparsemax : {true, false}) {
    for (int64_t n : {1, 2, 5, 15, 16, 17, 31, 32, 33, 64, 100, 1000}) {
      // Small scales give supports of every size up to n; large scales small ones.
      for (double scale : {0.001, 0.02, 0.1, 0.5, 2.0}) {
        for (int kind = 0; kind < 4; ++kind) {
          INFO((use_sparsemax ? "sparsemax" : "entmax15"), ", n = ", n, ", scale ", scale, ", kind ", kind);
          largest_support = std::max(largest_support,
                                     check_sorts_agree(use_sparsemax, random_row<float>(rng, n, scale, kind)));
          check_sorts_agree(use_sparsemax, random_row<double>(rng, n, scale, kind));
        }
      }
    }
  }
  // The rows reach supports that need several doublings of k.
  CHECK(largest_support > 4 * 16);
}

TEST_CASE("exact kernels: TopK sort at supports of exactly 16, 17 and 32") {
  // Equal scores give a support of every entry; a far lower entry stays outside.
  for (bool use_sparsemax : {true, false}) {
    for (int64_t support : {15, 16, 17, 32, 33}) {
      std::vector<double> z(static_cast<size_t>(support), 0.5);
      z.push_back(-10.0);
      INFO((use_sparsemax ? "sparsemax" : "entmax15"), ", support ", support);
      CHECK(check_sorts_agree(use_sparsemax, z) == support);
      const SortedRun<double> run = run_kernel(use_sparsemax, z, EntmaxSort::TopK);
      CHECK_NEAR(run.p[0], 1.0 / static_cast<double>(support), kClosedForm64);
      CHECK(run.p.back() == 0.0);
    }
  }
}

TEST_CASE("exact kernels: TopK sort of NaN and all -inf rows") {
  const float nan = std::nanf(""), inf = std::numeric_limits<float>::infinity();
  for (bool use_sparsemax : {true, false}) {
    INFO((use_sparsemax ? "sparsemax" : "entmax15"));
    check_sorts_agree<float>(use_sparsemax, {1, nan, 0, 2});
    check_sorts_agree<float>(use_sparsemax, {-inf, -inf, -inf});
    check_sorts_agree<float>(use_sparsemax, {3, inf, 0});
    const SortedRun<float> run = run_kernel<float>(use_sparsemax, {1, nan, 0, 2}, EntmaxSort::TopK);
    for (float v : run.p) CHECK(std::isnan(v));
  }
}
