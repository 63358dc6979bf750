#include "ops/norm.h"

#include <cmath>

#include "autograd/tape.h"
#include "core/parallel.h"
#include "core/error.h"

namespace entlab {

namespace {

// Forward, per row:  r = (mean(x^2) + eps)^(-1/2),  n = x r,  y = n w.
// Backward, per row with upstream g:
//   dw  += g n                          (summed over rows)
//   dn   = g w
//   dx  += r (dn - n mean(dn n))        since dr/dx_j = -r^3 x_j / C
// dx is parallel over rows; dw is a separate loop parallel over channels, so no two
// threads write the same cell.
void rmsnorm_backward(Node& node) {
  const Tensor& x = saved_tensor(node, 0);
  const Tensor& weight = saved_tensor(node, 1);
  const Tensor& rstd = saved_tensor(node, 2);
  const float* dout = output_grad(node);
  float* dx = input_grad(node, 0);
  float* dw = input_grad(node, 1);
  const int64_t channels = x.size(-1);
  const int64_t rows = x.numel() / channels;
  const float* xs = x.data();
  const float* w = weight.data();
  const float* r = rstd.data();

  if (dx) {
#pragma omp parallel for schedule(static) if (rows * channels > kParallelMinWork)
    for (int64_t row = 0; row < rows; ++row) {
      const float* x_row = xs + row * channels;
      const float* g_row = dout + row * channels;
      double dot = 0.0;  // sum_j dn_j n_j
      for (int64_t c = 0; c < channels; ++c) dot += g_row[c] * w[c] * x_row[c] * r[row];
      const float mean_dot = static_cast<float>(dot / channels);
      float* dx_row = dx + row * channels;
      for (int64_t c = 0; c < channels; ++c)
        dx_row[c] += r[row] * (g_row[c] * w[c] - x_row[c] * r[row] * mean_dot);
    }
  }

  if (dw) {
#pragma omp parallel for schedule(static) if (rows * channels > kParallelMinWork)
    for (int64_t c = 0; c < channels; ++c) {
      double total = 0.0;
      for (int64_t row = 0; row < rows; ++row) total += dout[row * channels + c] * xs[row * channels + c] * r[row];
      dw[c] += static_cast<float>(total);
    }
  }
}

// Forward, per row:  m = mean(x),  r = (mean((x - m)^2) + eps)^(-1/2),
//   n = (x - m) r,  y = n w + b.
// Backward, per row with upstream g:
//   dw  += g n,  db += g      (summed over rows)
//   dn   = g w
//   dx  += r (dn - mean(dn) - n mean(dn n))
// The mean(dn) term comes from dm/dx_j = 1/C, the last term from dr/dx_j = -r^3 (x_j - m) / C.
// The dx loop is parallel over rows. dw and db share a separate loop, parallel over
// channels, so no two threads write the same cell.
void layernorm_backward(Node& node) {
  const Tensor& x = saved_tensor(node, 0);
  const Tensor& weight = saved_tensor(node, 1);
  const Tensor& mean = saved_tensor(node, 2);
  const Tensor& rstd = saved_tensor(node, 3);
  const float* dout = output_grad(node);
  float* dx = input_grad(node, 0);
  float* dw = input_grad(node, 1);
  float* db = input_grad(node, 2);
  const int64_t channels = x.size(-1);
  const int64_t rows = x.numel() / channels;
  const float* xs = x.data();
  const float* w = weight.data();
  const float* m = mean.data();
  const float* r = rstd.data();

  if (dx) {
#pragma omp parallel for schedule(static) if (rows * channels > kParallelMinWork)
    for (int64_t row = 0; row < rows; ++row) {
      const float* x_row = xs + row * channels;
      const float* g_row = dout + row * channels;
      double sum_dn = 0.0;  // sum_j dn_j
      double dot = 0.0;     // sum_j dn_j n_j
      for (int64_t c = 0; c < channels; ++c) {
        const float dn = g_row[c] * w[c];
        sum_dn += dn;
        dot += dn * ((x_row[c] - m[row]) * r[row]);
      }
      const float mean_dn = static_cast<float>(sum_dn / channels);
      const float mean_dot = static_cast<float>(dot / channels);
      float* dx_row = dx + row * channels;
      for (int64_t c = 0; c < channels; ++c) {
        const float n = (x_row[c] - m[row]) * r[row];
        dx_row[c] += r[row] * (g_row[c] * w[c] - mean_dn - n * mean_dot);
      }
    }
  }

  if (dw || db) {
#pragma omp parallel for schedule(static) if (rows * channels > kParallelMinWork)
    for (int64_t c = 0; c < channels; ++c) {
      double total_gn = 0.0;
      double total_g = 0.0;
      for (int64_t row = 0; row < rows; ++row) {
        const float g = dout[row * channels + c];
        total_g += g;
        total_gn += g * ((xs[row * channels + c] - m[row]) * r[row]);
      }
      if (dw) dw[c] += static_cast<float>(total_gn);
      if (db) db[c] += static_cast<float>(total_g);
    }
  }
}

}  // namespace

Tensor rmsnorm(const Tensor& x, const Tensor& weight, float eps) {
  ENTLAB_CHECK(x.dim() >= 1 && weight.dim() == 1 && weight.size(0) == x.size(-1), "rmsnorm: input ",
               x.label(), " ", shape_str(x.shape()), " does not match weight ", weight.label(), " ",
               shape_str(weight.shape()), " (expected weight of shape (C,) with C = last dim of x)");
  Tensor input = x.is_contiguous() ? x : x.clone_values();
  const int64_t channels = x.size(-1);
  const int64_t rows = x.numel() / channels;
  Tensor out = Tensor::empty(x.shape());
  Tensor rstd = Tensor::empty({rows}, "rmsnorm 1/rms");
  const float* xs = input.data();
  const float* w = weight.data();
  float* y = out.data();
  float* r = rstd.data();

#pragma omp parallel for schedule(static) if (rows * channels > kParallelMinWork)
  for (int64_t row = 0; row < rows; ++row) {
    const float* x_row = xs + row * channels;
    double sum_squares = 0.0;
    for (int64_t c = 0; c < channels; ++c) sum_squares += static_cast<double>(x_row[c]) * x_row[c];
    r[row] = static_cast<float>(1.0 / std::sqrt(sum_squares / channels + eps));
    float* y_row = y + row * channels;
    for (int64_t c = 0; c < channels; ++c) y_row[c] = x_row[c] * r[row] * w[c];
  }

  debug_check_forward("rmsnorm", out);
  if (any_requires_grad({x, weight})) {
    Node& node = record_op(OpKind::RmsNorm, rmsnorm_backward, {x, weight}, out);
    save_for_backward(node, input);
    save_for_backward(node, weight);
    save_for_backward(node, rstd);
  }
  return out;
}

Tensor layernorm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
  ENTLAB_CHECK(x.dim() >= 1 && weight.dim() == 1 && weight.size(0) == x.size(-1) && bias.dim() == 1 &&
                   bias.size(0) == x.size(-1),
               "layernorm: input ", x.label(), " ", shape_str(x.shape()), " does not match weight ",
               weight.label(), " ", shape_str(weight.shape()), " and bias ", bias.label(), " ",
               shape_str(bias.shape()), " (expected weight and bias of shape (C,) with C = last dim of x)");
  ENTLAB_CHECK(x.size(-1) > 0, "layernorm: input ", x.label(), " ", shape_str(x.shape()),
               " has an empty last dimension, but layernorm needs at least one channel");
  ENTLAB_CHECK(eps >= 0.0f, "layernorm: eps = ", eps, " is invalid; pass eps >= 0 (typically 1e-5)");
  Tensor input = x.is_contiguous() ? x : x.clone_values();
  Tensor scale = weight.is_contiguous() ? weight : weight.clone_values();
  Tensor shift = bias.is_contiguous() ? bias : bias.clone_values();
  const int64_t channels = x.size(-1);
  const int64_t rows = x.numel() / channels;
  Tensor out = Tensor::empty(x.shape());
  Tensor mean = Tensor::empty({rows}, "layernorm mean");
  Tensor rstd = Tensor::empty({rows}, "layernorm 1/std");
  const float* xs = input.data();
  const float* w = scale.data();
  const float* b = shift.data();
  float* y = out.data();
  float* m = mean.data();
  float* r = rstd.data();

  // Two passes in double: the mean, then the squared deviations from it, which avoids
  // the cancellation of mean(x^2) - mean(x)^2 when |mean| is large against the spread.
#pragma omp parallel for schedule(static) if (rows * channels > kParallelMinWork)
  for (int64_t row = 0; row < rows; ++row) {
    const float* x_row = xs + row * channels;
    double sum = 0.0;
    for (int64_t c = 0; c < channels; ++c) sum += x_row[c];
    const double row_mean = sum / channels;
    double sum_squares = 0.0;
    for (int64_t c = 0; c < channels; ++c) {
      const double centered = x_row[c] - row_mean;
      sum_squares += centered * centered;
    }
    const double inv_std = 1.0 / std::sqrt(sum_squares / channels + eps);
    m[row] = static_cast<float>(row_mean);
    r[row] = static_cast<float>(inv_std);
    float* y_row = y + row * channels;
    for (int64_t c = 0; c < channels; ++c)
      y_row[c] = static_cast<float>((x_row[c] - row_mean) * inv_std * w[c] + b[c]);
  }

  debug_check_forward("layernorm", out);
  if (any_requires_grad({x, weight, bias})) {
    Node& node = record_op(OpKind::LayerNorm, layernorm_backward, {x, weight, bias}, out);
    save_for_backward(node, input);
    save_for_backward(node, scale);
    save_for_backward(node, mean);
    save_for_backward(node, rstd);
  }
  return out;
}

}  // namespace entlab
