#include "nn/optim.h"

#include <cmath>

#include "core/error.h"
#include "core/parallel.h"

namespace entlab::nn {

AdamW::AdamW(std::vector<Tensor> parameters, const AdamWOptions& options)
    : parameters_(std::move(parameters)), options_(options) {
  ENTLAB_CHECK(options.lr >= 0, "invalid AdamW learning rate ", options.lr, ": must be >= 0");
  ENTLAB_CHECK(options.beta1 >= 0 && options.beta1 < 1, "invalid AdamW beta1 ", options.beta1,
               ": must be in [0, 1)");
  ENTLAB_CHECK(options.beta2 >= 0 && options.beta2 < 1, "invalid AdamW beta2 ", options.beta2,
               ": must be in [0, 1)");
  ENTLAB_CHECK(options.eps > 0, "invalid AdamW eps ", options.eps, ": must be > 0");
  ENTLAB_CHECK(options.weight_decay >= 0, "invalid AdamW weight decay ", options.weight_decay,
               ": must be >= 0");
  for (const Tensor& parameter : parameters_) {
    ENTLAB_CHECK(parameter.is_contiguous(), "AdamW: parameter ", parameter.label(), " must be contiguous");
    exp_avg_.push_back(Tensor::zeros(parameter.shape(), "adamw m of " + parameter.name()));
    exp_avg_sq_.push_back(Tensor::zeros(parameter.shape(), "adamw v of " + parameter.name()));
  }
}

void AdamW::step() {
  ++step_count_;
  const float lr = options_.lr, beta1 = options_.beta1, beta2 = options_.beta2;
  const float correction1 = 1.0f - static_cast<float>(std::pow(beta1, step_count_));
  const float correction2 = 1.0f - static_cast<float>(std::pow(beta2, step_count_));
  const float decay = 1.0f - lr * options_.weight_decay;

  for (size_t p = 0; p < parameters_.size(); ++p) {
    Tensor grad = parameters_[p].grad();
    float* theta = parameters_[p].data();
    float* m = exp_avg_[p].data();
    float* v = exp_avg_sq_[p].data();
    const float* g = grad.defined() ? grad.data() : nullptr;
    const int64_t count = parameters_[p].numel();
#pragma omp parallel for schedule(static) if (count > kParallelMinWork)
    for (int64_t i = 0; i < count; ++i) {
      const float gi = g ? g[i] : 0.0f;
      theta[i] *= decay;
      m[i] = beta1 * m[i] + (1.0f - beta1) * gi;
      v[i] = beta2 * v[i] + (1.0f - beta2) * gi * gi;
      const float m_hat = m[i] / correction1;
      const float v_hat = v[i] / correction2;
      theta[i] -= lr * m_hat / (std::sqrt(v_hat) + options_.eps);
    }
    parameters_[p].bump_version();
  }
}

float scheduled_lr(LrSchedule schedule, int64_t step, int64_t total_steps, int64_t warmup_steps, float peak_lr,
                   float min_ratio) {
  if (warmup_steps > 0 && step <= warmup_steps)
    return peak_lr * static_cast<float>(step) / static_cast<float>(warmup_steps);
  const int64_t decay_steps = std::max<int64_t>(total_steps - warmup_steps, 1);
  const double progress = std::min(1.0, static_cast<double>(step - warmup_steps) / decay_steps);
  double remaining = 1.0;  // share of (peak - min) still left
  switch (schedule) {
    case LrSchedule::Cosine: remaining = 0.5 * (1.0 + std::cos(M_PI * progress)); break;
    case LrSchedule::Linear: remaining = 1.0 - progress; break;
    case LrSchedule::Constant: return peak_lr;
  }
  return peak_lr * static_cast<float>(min_ratio + (1.0 - min_ratio) * remaining);
}

double clip_grad_norm(const std::vector<Tensor>& parameters, double max_norm) {
  double sum_squares = 0.0;
  for (const Tensor& parameter : parameters) {
    Tensor grad = parameter.grad();
    if (!grad.defined()) continue;
    for (int64_t i = 0; i < grad.numel(); ++i) sum_squares += static_cast<double>(grad.data()[i]) * grad.data()[i];
  }
  const double norm = std::sqrt(sum_squares);
  if (max_norm > 0 && norm > max_norm) {
    const float factor = static_cast<float>(max_norm / (norm + 1e-6));
    for (const Tensor& parameter : parameters) {
      Tensor grad = parameter.grad();
      if (!grad.defined()) continue;
      for (int64_t i = 0; i < grad.numel(); ++i) grad.data()[i] *= factor;
    }
  }
  return norm;
}

}  // namespace entlab::nn
