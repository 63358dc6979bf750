#include "ops/softmax.h"

#include <vector>

#include "autograd/tape.h"
#include "core/parallel.h"
#include "core/error.h"

namespace entlab {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

Tensor dense(const Tensor& x) { return x.is_contiguous() ? x : x.clone_values(); }

void check_rows(const Tensor& x, const char* op) {
  ENTLAB_CHECK(x.dim() >= 1 && x.size(-1) > 0, op, ": input ", x.label(), " of shape ",
               shape_str(x.shape()), " needs a non-empty last dimension");
}

// Forward: p = softmax(z) per row.  Backward: dz += p (g - <p, g>).
void softmax_backward(Node& node) {
  const Tensor& probs = saved_tensor(node, 0);
  const float* dout = output_grad(node);
  float* dx = input_grad(node, 0);
  const int64_t n = probs.size(-1);
  const int64_t rows = probs.numel() / n;
  const float* p = probs.data();
#pragma omp parallel for schedule(static) if (rows * n > kParallelMinWork)
  for (int64_t row = 0; row < rows; ++row)
    softmax_row_backward(dx + row * n, dout + row * n, p + row * n, n);
}

// Forward: y = z - logsumexp(z).  Backward: dz += g - softmax(z) sum(g), with
// softmax(z) = exp(y). A masked entry (z = -inf, so y = -inf) gets no gradient,
// because no finite change moves it off -inf. A fully masked row gets none at all.
void log_softmax_backward(Node& node) {
  const Tensor& log_probs = saved_tensor(node, 0);
  const float* dout = output_grad(node);
  float* dx = input_grad(node, 0);
  const int64_t n = log_probs.size(-1);
  const int64_t rows = log_probs.numel() / n;
  const float* y = log_probs.data();
#pragma omp parallel for schedule(static) if (rows * n > kParallelMinWork)
  for (int64_t row = 0; row < rows; ++row) {
    const float* y_row = y + row * n;
    const float* g_row = dout + row * n;
    bool all_masked = true;
    for (int64_t j = 0; j < n && all_masked; ++j) all_masked = y_row[j] == kNegInf;
    if (all_masked) continue;

    double g_total = 0.0;
    for (int64_t j = 0; j < n; ++j) g_total += g_row[j];
    float* dx_row = dx + row * n;
    for (int64_t j = 0; j < n; ++j) {
      if (y_row[j] == kNegInf) continue;  // masked: its g still counts in g_total above
      dx_row[j] += g_row[j] - std::exp(y_row[j]) * static_cast<float>(g_total);
    }
  }
}

// Forward: l = log sum exp(z).  Backward: dz += g exp(z - l) (zero for a fully masked row).
void logsumexp_backward(Node& node) {
  const Tensor& x = saved_tensor(node, 0);
  const Tensor& lse = saved_tensor(node, 1);
  const float* dout = output_grad(node);
  float* dx = input_grad(node, 0);
  const int64_t n = x.size(-1);
  const int64_t rows = x.numel() / n;
  for (int64_t row = 0; row < rows; ++row) {
    const float l = lse.data()[row];
    if (l == kNegInf) continue;
    for (int64_t j = 0; j < n; ++j) dx[row * n + j] += dout[row] * std::exp(x.data()[row * n + j] - l);
  }
}

}  // namespace

Tensor softmax(const Tensor& x) {
  check_rows(x, "softmax");
  Tensor input = dense(x);
  const int64_t n = x.size(-1);
  const int64_t rows = x.numel() / n;
  Tensor out = Tensor::empty(x.shape());
  const float* z = input.data();
  float* p = out.data();
#pragma omp parallel for schedule(static) if (rows * n > kParallelMinWork)
  for (int64_t row = 0; row < rows; ++row) softmax_row_forward(p + row * n, z + row * n, n);

  debug_check_forward("softmax", out);
  if (any_requires_grad({x})) {
    Node& node = record_op(OpKind::Softmax, softmax_backward, {x}, out);
    save_for_backward(node, out);
  }
  return out;
}

Tensor log_softmax(const Tensor& x) {
  check_rows(x, "log_softmax");
  Tensor input = dense(x);
  const int64_t n = x.size(-1);
  const int64_t rows = x.numel() / n;
  Tensor out = Tensor::empty(x.shape());
  const float* z = input.data();
  float* y = out.data();
#pragma omp parallel for schedule(static) if (rows * n > kParallelMinWork)
  for (int64_t row = 0; row < rows; ++row) {
    const float lse = logsumexp_row(z + row * n, n);
    for (int64_t j = 0; j < n; ++j) y[row * n + j] = lse == kNegInf ? kNegInf : z[row * n + j] - lse;
  }

  if (any_requires_grad({x})) {
    Node& node = record_op(OpKind::LogSoftmax, log_softmax_backward, {x}, out);
    save_for_backward(node, out);
  }
  return out;
}

Tensor logsumexp(const Tensor& x) {
  check_rows(x, "logsumexp");
  Tensor input = dense(x);
  const int64_t n = x.size(-1);
  const int64_t rows = x.numel() / n;
  Shape out_shape(x.shape().begin(), x.shape().end() - 1);
  Tensor out = Tensor::empty(out_shape);
  for (int64_t row = 0; row < rows; ++row) out.data()[row] = logsumexp_row(input.data() + row * n, n);

  if (any_requires_grad({x})) {
    Node& node = record_op(OpKind::LogSumExp, logsumexp_backward, {x}, out);
    save_for_backward(node, input);
    save_for_backward(node, out);
  }
  return out;
}

}  // namespace entlab
