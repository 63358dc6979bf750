#include "ops/entmax.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "autograd/tape.h"
#include "core/parallel.h"
#include "core/error.h"

namespace entlab {

namespace {

Tensor dense(const Tensor& x) { return x.is_contiguous() ? x : x.clone_values(); }

void check_rows(const Tensor& x, const char* op) {
  ENTLAB_CHECK(x.dim() >= 1 && x.size(-1) > 0, op, ": input ", x.label(), " of shape ", shape_str(x.shape()),
               " needs a non-empty last dimension");
}

// Rejects alpha <= 1 (where alpha-entmax is undefined) and non-finite alpha.
// `alpha_name` names the value in the message.
void check_alpha(double alpha, const std::string& alpha_name) {
  ENTLAB_CHECK(alpha != 1.0, "entmax_bisect: ", alpha_name, " is exactly 1, which is softmax. ",
               "Call softmax(x) for alpha = 1, or pass alpha > 1");
  ENTLAB_CHECK(std::isfinite(alpha) && alpha > 1.0, "entmax_bisect: ", alpha_name, " is ", alpha,
               ", but alpha-entmax needs a finite alpha > 1 (alpha = 2 is sparsemax, 1.5 is entmax15)");
}

// Rows of x and the row length.
struct RowLayout {
  int64_t rows;
  int64_t n;
};

RowLayout row_layout(const Tensor& x) { return {x.numel() / x.size(-1), x.size(-1)}; }

// --- Sparsemax and 1.5-entmax ----------------------------------------------------------------

// Runs an exact row kernel over every row, with per-thread scratch for the sort.
template <typename RowForward>
void sorted_rows_forward(float* p, const float* z, RowLayout layout, RowForward row_forward) {
  const int64_t n = layout.n;
#pragma omp parallel if (layout.rows * n > kParallelMinWork)
  {
    std::vector<float> scratch;  // per-thread
    scratch.reserve(static_cast<size_t>(n));
#pragma omp for schedule(static)
    for (int64_t row = 0; row < layout.rows; ++row) row_forward(p + row * n, z + row * n, n, scratch);
  }
}

// Forward: p = entmax15(z) per row.  Backward: dz += s g - s <s, g> / sum s, s = sqrt(p).
void entmax15_backward(Node& node) {
  const Tensor& probs = saved_tensor(node, 0);
  const float* dout = output_grad(node);
  float* dx = input_grad(node, 0);
  const RowLayout layout = row_layout(probs);
  const int64_t n = layout.n;
  const float* p = probs.data();
#pragma omp parallel for schedule(static) if (layout.rows * n > kParallelMinWork)
  for (int64_t row = 0; row < layout.rows; ++row)
    entmax15_row_backward(dx + row * n, dout + row * n, p + row * n, n);
}

// Forward: p = sparsemax(z) per row.  Backward: dz += s g - s <s, g> / sum s with s the
// support indicator, i.e. g minus its mean over the support, on the support.
void sparsemax_backward(Node& node) {
  const Tensor& probs = saved_tensor(node, 0);
  const float* dout = output_grad(node);
  float* dx = input_grad(node, 0);
  const RowLayout layout = row_layout(probs);
  const int64_t n = layout.n;
  const float* p = probs.data();
#pragma omp parallel for schedule(static) if (layout.rows * n > kParallelMinWork)
  for (int64_t row = 0; row < layout.rows; ++row)
    sparsemax_row_backward(dx + row * n, dout + row * n, p + row * n, n);
}

// --- alpha-entmax ------------------------------------------------------------------------------

// Forward: p = alpha-entmax(z) per row, one alpha (real_args[0]).
// Backward: dz += s g - s <s, g> / sum s, s = p^(2 - alpha).
void entmax_bisect_backward(Node& node) {
  const Tensor& probs = saved_tensor(node, 0);
  const double alpha = node.real_args[0];
  const float* dout = output_grad(node);
  float* dx = input_grad(node, 0);
  const RowLayout layout = row_layout(probs);
  const int64_t n = layout.n;
  const float* p = probs.data();
#pragma omp parallel if (layout.rows * n > kParallelMinWork)
  {
    std::vector<double> weights;  // per-thread
#pragma omp for schedule(static)
    for (int64_t row = 0; row < layout.rows; ++row)
      entmax_bisect_row_backward(dx + row * n, dout + row * n, p + row * n, n, alpha, weights);
  }
}

// Checks that alpha broadcasts to x.shape[:-1], aligned from the right. Extra leading
// dims of alpha must be 1.
void check_alpha_broadcast(const Tensor& x, const Tensor& alpha) {
  const Shape leading(x.shape().begin(), x.shape().end() - 1);
  const Shape& alpha_shape = alpha.shape();
  bool broadcasts = true;
  for (size_t i = 0; i < alpha_shape.size(); ++i) {
    const int64_t alpha_dim = alpha_shape[alpha_shape.size() - 1 - i];
    const int64_t x_dim = i < leading.size() ? leading[leading.size() - 1 - i] : 1;
    broadcasts = broadcasts && (alpha_dim == 1 || alpha_dim == x_dim);
  }
  ENTLAB_CHECK(broadcasts, "entmax_bisect: alpha ", alpha.label(), " of shape ", shape_str(alpha_shape),
               " does not broadcast to the rows of x ", x.label(), " of shape ", shape_str(x.shape()),
               ", whose leading dims are ", shape_str(leading),
               "; aligned from the right, each dim of alpha must be 1 or equal that dim of x\n",
               "hint: per-head alpha on (B, NH, T, S) scores has shape (NH, 1)");
}

// For each row of x (x.shape[:-1] flattened in row-major order), the flat index of the
// alpha value it uses.
std::vector<int64_t> alpha_index_per_row(const Shape& x_shape, const Shape& alpha_shape) {
  const size_t lead_rank = x_shape.size() - 1;
  const Shape alpha_strides = contiguous_strides(alpha_shape);

  // alpha's stride along each leading dim of x, 0 where alpha repeats.
  std::vector<int64_t> strides(lead_rank, 0);
  for (size_t i = 0; i < std::min(lead_rank, alpha_shape.size()); ++i) {
    const size_t alpha_dim = alpha_shape.size() - 1 - i;
    if (alpha_shape[alpha_dim] != 1) strides[lead_rank - 1 - i] = alpha_strides[alpha_dim];
  }

  const int64_t rows = shape_numel(Shape(x_shape.begin(), x_shape.end() - 1));
  std::vector<int64_t> index(static_cast<size_t>(rows));
  for (int64_t row = 0; row < rows; ++row) {
    int64_t remaining = row, offset = 0;
    for (size_t d = lead_rank; d-- > 0;) {
      offset += (remaining % x_shape[d]) * strides[d];
      remaining /= x_shape[d];
    }
    index[static_cast<size_t>(row)] = offset;
  }
  return index;
}

// Forward: p = alpha-entmax(z) per row, alpha from the tensor alpha (input 1, saved as 1).
// Backward:
//   dz     += s g - s <s, g> / sum s, s = p^(2 - alpha)
//   dalpha += sum over the rows that use it of entmax_alpha_grad_row(g, p, alpha)
void entmax_bisect_alpha_tensor_backward(Node& node) {
  const Tensor& probs = saved_tensor(node, 0);
  const Tensor& alpha = saved_tensor(node, 1);
  const float* dout = output_grad(node);
  float* dx = input_grad(node, 0);
  float* dalpha = input_grad(node, 1);
  const RowLayout layout = row_layout(probs);
  const int64_t n = layout.n;
  const float* p = probs.data();
  const float* alpha_values = alpha.data();
  const std::vector<int64_t> alpha_index = alpha_index_per_row(probs.shape(), alpha.shape());

  // 2. p = alpha-entmax(z): each row owns its slice of dz.
  if (dx) {
#pragma omp parallel if (layout.rows * n > kParallelMinWork)
    {
      std::vector<double> weights;  // per-thread
#pragma omp for schedule(static)
      for (int64_t row = 0; row < layout.rows; ++row)
        entmax_bisect_row_backward(dx + row * n, dout + row * n, p + row * n, n,
                                   static_cast<double>(alpha_values[alpha_index[row]]), weights);
    }
  }

  // 1. alpha = alpha[index(row)]: rows sharing an alpha would race on one element, so
  //    the per-row gradients are computed in parallel and summed serially in row order,
  //    which also gives the same bits for any thread count.
  if (dalpha) {
    std::vector<double> row_grads(static_cast<size_t>(layout.rows));
#pragma omp parallel for schedule(static) if (layout.rows * n > kParallelMinWork)
    for (int64_t row = 0; row < layout.rows; ++row)
      row_grads[row] = entmax_alpha_grad_row(dout + row * n, p + row * n, n,
                                             static_cast<double>(alpha_values[alpha_index[row]]));
    std::vector<double> sums(static_cast<size_t>(alpha.numel()), 0.0);
    for (int64_t row = 0; row < layout.rows; ++row) sums[alpha_index[row]] += row_grads[row];
    for (size_t k = 0; k < sums.size(); ++k) dalpha[k] += static_cast<float>(sums[k]);
  }
}

}  // namespace

Tensor entmax15(const Tensor& x) {
  check_rows(x, "entmax15");
  Tensor input = dense(x);
  Tensor out = Tensor::empty(x.shape());
  sorted_rows_forward(out.data(), input.data(), row_layout(x),
                      [](float* p, const float* z, int64_t n, std::vector<float>& scratch) {
                        entmax15_row_forward(p, z, n, scratch);
                      });

  debug_check_forward("entmax15", out);
  if (any_requires_grad({x})) {
    Node& node = record_op(OpKind::Entmax15, entmax15_backward, {x}, out);
    save_for_backward(node, out);
  }
  return out;
}

Tensor sparsemax(const Tensor& x) {
  check_rows(x, "sparsemax");
  Tensor input = dense(x);
  Tensor out = Tensor::empty(x.shape());
  sorted_rows_forward(out.data(), input.data(), row_layout(x),
                      [](float* p, const float* z, int64_t n, std::vector<float>& scratch) {
                        sparsemax_row_forward(p, z, n, scratch);
                      });

  debug_check_forward("sparsemax", out);
  if (any_requires_grad({x})) {
    Node& node = record_op(OpKind::Sparsemax, sparsemax_backward, {x}, out);
    save_for_backward(node, out);
  }
  return out;
}

Tensor entmax_bisect(const Tensor& x, double alpha) {
  check_rows(x, "entmax_bisect");
  check_alpha(alpha, "alpha");
  Tensor input = dense(x);
  const RowLayout layout = row_layout(x);
  const int64_t n = layout.n;
  Tensor out = Tensor::empty(x.shape());
  const float* z = input.data();
  float* p = out.data();
#pragma omp parallel if (layout.rows * n > kParallelMinWork)
  {
    EntmaxBisectScratch scratch;  // per-thread
#pragma omp for schedule(static)
    for (int64_t row = 0; row < layout.rows; ++row)
      entmax_bisect_row_forward(p + row * n, z + row * n, n, alpha, scratch);
  }

  debug_check_forward("entmax_bisect", out);
  if (any_requires_grad({x})) {
    Node& node = record_op(OpKind::EntmaxBisect, entmax_bisect_backward, {x}, out);
    save_for_backward(node, out);
    node.real_args = {alpha};
  }
  return out;
}

Tensor entmax_bisect(const Tensor& x, const Tensor& alpha) {
  check_rows(x, "entmax_bisect");
  check_alpha_broadcast(x, alpha);
  Tensor alpha_values = dense(alpha);
  for (int64_t k = 0; k < alpha_values.numel(); ++k)
    check_alpha(alpha_values.data()[k], str_cat("alpha ", alpha.label(), " at flat index ", k));

  Tensor input = dense(x);
  const RowLayout layout = row_layout(x);
  const int64_t n = layout.n;
  Tensor out = Tensor::empty(x.shape());
  const float* z = input.data();
  float* p = out.data();
  const float* a = alpha_values.data();
  const std::vector<int64_t> alpha_index = alpha_index_per_row(x.shape(), alpha.shape());
#pragma omp parallel if (layout.rows * n > kParallelMinWork)
  {
    EntmaxBisectScratch scratch;  // per-thread
#pragma omp for schedule(static)
    for (int64_t row = 0; row < layout.rows; ++row)
      entmax_bisect_row_forward(p + row * n, z + row * n, n, static_cast<double>(a[alpha_index[row]]), scratch);
  }

  debug_check_forward("entmax_bisect", out);
  if (any_requires_grad({x, alpha})) {
    Node& node = record_op(OpKind::EntmaxBisect, entmax_bisect_alpha_tensor_backward, {x, alpha}, out);
    save_for_backward(node, out);
    save_for_backward(node, alpha_values);
  }
  return out;
}

}  // namespace entlab
