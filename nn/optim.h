// AdamW, the learning-rate schedule and gradient clipping.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "nn/config.h"

namespace entlab::nn {

// Defaults as torch.optim.AdamW, except betas (0.9, 0.99), the setting used for the
// synthetic tasks here.
struct AdamWOptions {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.99f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
};

// AdamW with decoupled weight decay, PyTorch style (Loshchilov and Hutter, 2019;
// torch.optim.AdamW). For each parameter, at step t = 1, 2, ...:
//   theta -= lr * weight_decay * theta          (decay scaled by the current lr)
//   m = beta1 m + (1 - beta1) g,   v = beta2 v + (1 - beta2) g^2
//   theta -= lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
// One step counter for the whole optimizer, so every tensor sees the same t; the
// bias corrections are applied to copies, never written back into m and v.
class AdamW {
 public:
  AdamW(std::vector<Tensor> parameters, const AdamWOptions& options);
  // Applies one update from the parameters' current gradients (missing grad = 0).
  void step();
  void set_lr(float lr) { options_.lr = lr; }
  float lr() const { return options_.lr; }
  int64_t step_count() const { return step_count_; }
  void set_step_count(int64_t count) { step_count_ = count; }
  const std::vector<Tensor>& exp_avg() const { return exp_avg_; }
  const std::vector<Tensor>& exp_avg_sq() const { return exp_avg_sq_; }

 private:
  std::vector<Tensor> parameters_;
  std::vector<Tensor> exp_avg_;     // m, one per parameter
  std::vector<Tensor> exp_avg_sq_;  // v, one per parameter
  AdamWOptions options_;
  int64_t step_count_ = 0;
};

// The learning rate after warm-up, as progress p goes from 0 to 1 over the remaining steps:
//   cosine:   min + (peak - min) (1 + cos(pi p)) / 2     (min = min_ratio * peak)
//   linear:   peak - (peak - min) p
//   constant: peak
enum class LrSchedule { Cosine, Linear, Constant };
ENTLAB_OPTION_NAMES(LrSchedule, "learning-rate schedule", "cosine", "linear", "constant")

// Learning rate at `step` (1-based): linear warm-up over warmup_steps from
// peak/warmup_steps to peak, then the decay of `schedule`, reaching its end at total_steps.
float scheduled_lr(LrSchedule schedule, int64_t step, int64_t total_steps, int64_t warmup_steps, float peak_lr,
                   float min_ratio);

// Scales all gradients so their global L2 norm is at most max_norm (when max_norm > 0).
// Returns the norm before clipping.
double clip_grad_norm(const std::vector<Tensor>& parameters, double max_norm);

}  // namespace entlab::nn
