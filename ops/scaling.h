// Length scaling of attention scores: every query row is multiplied by a factor that
// grows with the row's position, so that attention can stay focused as sequences get
// longer than those seen in training.
//
// scores (B, NH, T, S) hold T query rows against S keys. As in attention_ops.h, query row
// i sits at position i + (S - T), so the last T of S positions can be decoded with cached
// keys. Each row has n = position + 2, which makes log n >= log 2 > 0 at the first
// position, and
//
//   out[b,h,i,j] = scale[b,h,i] * scores[b,h,i,j]
//   scale        = delta + beta (log n)^gamma
//
// beta and gamma are tensors whose shapes broadcast to (B, NH, T). The three methods:
//
//   SSMax (scalable softmax), scale = s_h log n, one s per head:
//     length_scale(scores, s, Tensor::scalar(1), 0), s of shape (NH, 1). gamma is the
//     constant 1 (it does not require grad) and delta = 0.
//   ASEntmax, learned per head, scale = 1 + beta_h (log n)^gamma_h:
//     length_scale(scores, beta, gamma, 1), beta and gamma of shape (NH, 1).
//   ASEntmax, adaptive per token,
//     scale = 1 + beta (log n)^gamma with beta = softplus(W_b x) and gamma = r tanh(W_g x)
//     computed from the block input x of each query token (r bounds |gamma|, e.g. r = 2):
//     length_scale(scores, beta, gamma, 1), beta and gamma of shape (B, NH, T).
//
// Masked entries: a score of -inf stays -inf whatever the scale, including 0 and negative
// scales, so the op never forms -inf * 0 = NaN or flips a mask to +inf. Masked entries
// get zero gradient and add nothing to the gradients of beta and gamma. A +inf or NaN
// score is not treated specially.
//
// Backward, per row with upstream gradient g, where j runs over the finite entries only:
//   dscores_j += scale g_j
//   dscale     = sum_j g_j scores_j
//   dbeta     += dscale (log n)^gamma
//   dgamma    += dscale beta (log n)^gamma log(log n)
// The beta and gamma gradients are summed over the dimensions along which they were
// broadcast. log(log n) < 0 at n = 2, so for beta > 0 the first position's dgamma has the
// opposite sign of its dscale.
#pragma once

#include <cmath>
#include <cstdint>

#include "core/error.h"
#include "core/tensor.h"

namespace entlab {

// scores (B, NH, T, S), beta and gamma broadcastable to (B, NH, T) -> (B, NH, T, S).
// Gradients flow to every input that requires grad. Saves the scores and, per row, the
// scale and its derivatives with respect to beta and gamma.
// Throws entlab::Error when scores are not 4-d, have fewer keys than queries, when beta
// or gamma does not broadcast to (B, NH, T), or when delta is not finite.
Tensor length_scale(const Tensor& scores, const Tensor& beta, const Tensor& gamma, float delta);

// --- Row terms ----------------------------------------------------------------------------

// The scale of one query row and its partial derivatives.
template <typename T>
struct LengthScaleTerms {
  T scale;          // delta + beta (log n)^gamma
  T dscale_dbeta;   // (log n)^gamma
  T dscale_dgamma;  // beta (log n)^gamma log(log n)
};

// The scale of a query row at `position` (n = position + 2), with its derivatives.
// Templated so that tests can check the derivatives by finite differences in double.
// position >= 0 makes n >= 2 and log n > 0, so (log n)^gamma is defined for any real
// gamma. A negative position aborts.
template <typename T>
LengthScaleTerms<T> length_scale_terms(int64_t position, T beta, T gamma, T delta) {
  const T log_n = std::log(static_cast<T>(position + 2));
  ENTLAB_ASSERT(log_n > 0);
  const T power = std::pow(log_n, gamma);
  LengthScaleTerms<T> terms;
  terms.scale = delta + beta * power;
  terms.dscale_dbeta = power;
  terms.dscale_dgamma = beta * power * std::log(log_n);
  return terms;
}

}  // namespace entlab
