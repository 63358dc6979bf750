#include "autograd/gradcheck.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "autograd/tape.h"
#include "core/error.h"
#include "core/rng.h"

namespace entlab {

namespace {

// L = sum(r * y) in double, for the current input values, without recording.
double weighted_sum(const TensorFunction& function, const std::vector<Tensor>& inputs,
                    const std::vector<float>& weights) {
  NoGradGuard no_grad;
  std::vector<float> output = function(inputs).to_vector();
  ENTLAB_ASSERT(output.size() == weights.size());
  double total = 0.0;
  for (size_t i = 0; i < output.size(); ++i) total += static_cast<double>(weights[i]) * output[i];
  return total;
}

double numeric_derivative(const TensorFunction& function, const std::vector<Tensor>& inputs,
                          const std::vector<float>& weights, float* element,
                          const GradcheckOptions& options) {
  const float original = *element;
  auto loss_at = [&](double offset) {
    *element = static_cast<float>(original + offset);
    double value = weighted_sum(function, inputs, weights);
    *element = original;
    return value;
  };
  // Use the float step actually taken, which differs from eps by rounding.
  const double step = static_cast<double>(static_cast<float>(original + options.eps)) - original;
  double central = loss_at(step) - loss_at(-step);
  if (!options.four_point) return central / (2.0 * step);
  double wide = loss_at(2.0 * step) - loss_at(-2.0 * step);
  return (8.0 * central - wide) / (12.0 * step);
}

}  // namespace

GradcheckResult gradcheck(const TensorFunction& function, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options) {
  for (const Tensor& input : inputs)
    ENTLAB_CHECK(input.is_contiguous(), "gradcheck: input ", input.label(), " must be contiguous");

  // 1. Analytic gradients: one backward pass seeded with the random weights r.
  for (const Tensor& input : inputs)
    if (input.requires_grad()) input.zero_grad();
  Tensor output = function(inputs);
  Rng rng(options.seed);
  std::vector<float> weights(static_cast<size_t>(output.numel()));
  for (float& w : weights) w = rng.uniform(-1.0f, 1.0f);
  backward(output, Tensor::from_vector(output.shape(), weights));

  // 2. Numeric gradients, element by element, compared as we go.
  GradcheckResult result;
  std::ostringstream report;
  int mismatches = 0;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& input = inputs[k];
    if (!input.requires_grad()) continue;
    Tensor analytic = input.grad();
    int64_t count = input.numel();
    int64_t stride = 1;
    if (options.max_elements_per_input > 0 && count > options.max_elements_per_input)
      stride = (count + options.max_elements_per_input - 1) / options.max_elements_per_input;

    for (int64_t e = 0; e < count; e += stride) {
      double numeric = numeric_derivative(function, inputs, weights, input.data() + e, options);
      double exact = analytic.defined() ? analytic.data()[e] : 0.0;
      double abs_error = std::fabs(numeric - exact);
      double rel_error = abs_error / std::max(std::fabs(numeric), std::fabs(exact));
      if (!std::isfinite(rel_error)) rel_error = abs_error > 0 ? 1.0 : 0.0;
      result.max_abs_error = std::max(result.max_abs_error, abs_error);
      result.max_rel_error = std::max(result.max_rel_error, rel_error);
      ++result.elements_checked;

      bool ok = abs_error <= options.abs_tolerance + options.rel_tolerance * std::fabs(numeric);
      if (!ok) {
        result.ok = false;
        if (mismatches++ < 10)
          report << "  input " << k << " " << input.label() << " element " << e << ": analytic "
                 << exact << " numeric " << numeric << " NOT OK\n";
      }
    }
  }
  report << "gradcheck: " << result.elements_checked << " elements, max abs error "
         << result.max_abs_error << ", " << mismatches << " mismatches";
  result.report = report.str();
  return result;
}

}  // namespace entlab
