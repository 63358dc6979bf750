// Helpers shared by the ops and autograd suites. The value checks print the checked
// expression and both values with 10 significant digits, enough to show a 1e-7
// difference. Also random inputs, a gradcheck wrapper and a thread-count guard.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "autograd/tape.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "core/tensor.h"

namespace entlab::testing {

// A check passes when |actual - expected| <= abs + rel * |expected|.
struct Tolerance {
  double rel;
  double abs;
};

// float32 results.
constexpr Tolerance kFloat32{1e-5, 1e-6};
// float64 results with a closed form.
constexpr Tolerance kClosedForm64{0.0, 1e-9};
// float64 results of an iterative method (bisection, finite differences).
constexpr Tolerance kIterative64{0.0, 1e-6};

struct Actual {
  double value;
};

struct Near {
  double expected;
  Tolerance tolerance;
};

inline bool operator==(const Actual& actual, const Near& near) {
  // An infinite expectation must be met exactly; NaN never passes.
  if (std::isinf(near.expected)) return actual.value == near.expected;
  return std::fabs(actual.value - near.expected) <=
         near.tolerance.abs + near.tolerance.rel * std::fabs(near.expected);
}

inline std::ostream& operator<<(std::ostream& out, const Actual& actual) {
  std::ostringstream text;
  text << std::setprecision(10) << actual.value;
  return out << text.str();
}

inline std::ostream& operator<<(std::ostream& out, const Near& near) {
  std::ostringstream text;
  text << std::setprecision(10) << near.expected << " (tolerance " << near.tolerance.abs << " + "
       << near.tolerance.rel << " * |expected|)";
  return out << text.str();
}

inline std::vector<double> to_doubles(const std::vector<float>& values) {
  return std::vector<double>(values.begin(), values.end());
}
inline std::vector<double> to_doubles(const std::vector<double>& values) { return values; }

// Fills a tensor of `shape` with uniform values in [low, high).
inline Tensor uniform_tensor(const Shape& shape, Rng& rng, float low = -1.0f, float high = 1.0f,
                             std::string name = "") {
  Tensor out = Tensor::empty(shape, std::move(name));
  for (int64_t i = 0; i < out.numel(); ++i) out.data()[i] = rng.uniform(low, high);
  return out;
}

// Fills a tensor of `shape` with standard normal values times `scale`.
inline Tensor normal_tensor(const Shape& shape, Rng& rng, float scale = 1.0f, std::string name = "") {
  Tensor out = Tensor::empty(shape, std::move(name));
  for (int64_t i = 0; i < out.numel(); ++i) out.data()[i] = scale * rng.normal();
  return out;
}

// A leaf that requires grad, as gradcheck expects its inputs.
inline Tensor param(Tensor tensor) {
  tensor.set_requires_grad(true);
  return tensor;
}

// Number of elements gradcheck must visit when it checks every element.
inline int64_t elements_requiring_grad(const std::vector<Tensor>& inputs) {
  int64_t count = 0;
  for (const Tensor& input : inputs)
    if (input.requires_grad()) count += input.numel();
  return count;
}

// Gradcheck options with the given step and tolerances (4-point formula).
inline GradcheckOptions gradcheck_options(double eps, double abs_tolerance, double rel_tolerance) {
  GradcheckOptions options;
  options.eps = eps;
  options.abs_tolerance = abs_tolerance;
  options.rel_tolerance = rel_tolerance;
  options.four_point = true;
  return options;
}

// Sets the OpenMP thread count for its lifetime, then restores the previous one, so a
// run with OMP_NUM_THREADS=1 stays single-threaded outside the tests that need more.
class ThreadCountGuard {
 public:
  explicit ThreadCountGuard(int threads) : previous_(num_threads()) { set_num_threads(threads); }
  ~ThreadCountGuard() { set_num_threads(previous_); }
  ThreadCountGuard(const ThreadCountGuard&) = delete;
  ThreadCountGuard& operator=(const ThreadCountGuard&) = delete;

 private:
  int previous_;
};

}  // namespace entlab::testing

// Checks one value against an expectation within a Tolerance.
#define CHECK_NEAR(actual, expected, tolerance)                                 \
  CHECK(::entlab::testing::Actual{static_cast<double>(actual)} ==             \
        ::entlab::testing::Near{static_cast<double>(expected), tolerance})

// Checks every element of a vector with its own CHECK, naming the element.
#define CHECK_ALL_NEAR(actual_values, expected_values, tolerance)                             \
  do {                                                                                        \
    const std::vector<double> actual_list_ = ::entlab::testing::to_doubles(actual_values);    \
    const std::vector<double> expected_list_ = (expected_values);                             \
    REQUIRE(actual_list_.size() == expected_list_.size());                                    \
    for (size_t element_ = 0; element_ < actual_list_.size(); ++element_) {                   \
      INFO(#actual_values "[", element_, "]");                                                \
      CHECK(::entlab::testing::Actual{actual_list_[element_]} ==                              \
            ::entlab::testing::Near{expected_list_[element_], tolerance});                    \
    }                                                                                         \
  } while (0)

// Runs gradcheck, prints its report on failure, and checks that it visited every
// element of every input that requires grad.
#define CHECK_GRADCHECK(function, inputs, options)                                            \
  do {                                                                                        \
    const std::vector<::entlab::Tensor> gradcheck_inputs_ = (inputs);                         \
    const ::entlab::GradcheckResult gradcheck_result_ =                                       \
        ::entlab::gradcheck((function), gradcheck_inputs_, (options));                        \
    INFO(gradcheck_result_.report);                                                           \
    CHECK(gradcheck_result_.ok);                                                              \
    CHECK(gradcheck_result_.elements_checked ==                                               \
          ::entlab::testing::elements_requiring_grad(gradcheck_inputs_));                     \
    CHECK(::entlab::tape_size() == 0);                                                        \
  } while (0)
