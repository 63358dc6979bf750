#include "ops/scaling.h"

#include <cmath>
#include <limits>
#include <vector>

#include "autograd/tape.h"
#include "core/error.h"
#include "core/parallel.h"

namespace entlab {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Sizes of the scores (B, NH, T, S). Query row (b, h, i) has index row = (b * NH + h) * T + i.
struct ScoreRows {
  int64_t batch, heads, queries, keys;
  int64_t rows() const { return batch * heads * queries; }
  int64_t query_offset() const { return keys - queries; }
};

// Element strides of a tensor broadcast to (B, NH, T): 0 along each broadcast dimension.
struct RowStrides {
  int64_t batch = 0, head = 0, query = 0;

  int64_t offset_of_row(int64_t row, const ScoreRows& sizes) const {
    const int64_t b = row / (sizes.heads * sizes.queries);
    const int64_t h = (row / sizes.queries) % sizes.heads;
    const int64_t i = row % sizes.queries;
    return b * batch + h * head + i * query;
  }
};

// Aligns `shape` (rank <= 3) with (B, NH, T) from the right, as broadcasting does.
RowStrides broadcast_row_strides(const Shape& shape, const Shape& strides) {
  int64_t padded[3] = {0, 0, 0};
  const size_t lead = 3 - shape.size();
  for (size_t d = 0; d < shape.size(); ++d) padded[lead + d] = shape[d] == 1 ? 0 : strides[d];
  return RowStrides{padded[0], padded[1], padded[2]};
}

void check_row_operand(const Tensor& operand, const char* role, const ScoreRows& sizes) {
  const Shape rows_shape = {sizes.batch, sizes.heads, sizes.queries};
  ENTLAB_CHECK(operand.defined(), "length_scale: ", role,
               " is undefined; pass a tensor of shape (NH, 1), (B, NH, T) or ()");
  const Shape& shape = operand.shape();
  bool fits = shape.size() <= 3;
  for (size_t d = 0; fits && d < shape.size(); ++d) {
    const int64_t target = rows_shape[3 - shape.size() + d];
    fits = shape[d] == target || shape[d] == 1;
  }
  ENTLAB_CHECK(fits, "length_scale: ", role, " ", operand.label(), " of shape ", shape_str(shape),
               " does not broadcast to the score rows (B, NH, T) = ", shape_str(rows_shape),
               "; hint: use (NH, 1) for one value per head, (B, NH, T) for one per token, () for one");
}

ScoreRows check_inputs(const Tensor& scores, const Tensor& beta, const Tensor& gamma, float delta) {
  ENTLAB_CHECK(scores.dim() == 4, "length_scale: scores ", scores.label(), " must be (B, NH, T, S), got ",
               shape_str(scores.shape()));
  ScoreRows sizes{scores.size(0), scores.size(1), scores.size(2), scores.size(3)};
  ENTLAB_CHECK(sizes.keys >= sizes.queries, "length_scale: scores ", shape_str(scores.shape()),
               " have fewer keys than queries; queries must be the last T of S positions");
  ENTLAB_CHECK(std::isfinite(delta), "length_scale: delta = ", delta, " must be finite");
  check_row_operand(beta, "beta", sizes);
  check_row_operand(gamma, "gamma", sizes);
  return sizes;
}

// Forward: out_j = scale x_j on finite x_j, -inf where x_j = -inf.
// Backward, per row, over the finite entries only (masked ones get no gradient):
//   dx_j      += scale g_j
//   dscale     = sum_j g_j x_j
//   dbeta     += dscale * dscale/dbeta  = dscale (log n)^gamma
//   dgamma    += dscale * dscale/dgamma = dscale beta (log n)^gamma log(log n)
// Saved: 0 the dense scores, 1 scale, 2 dscale/dbeta, 3 dscale/dgamma, each (B, NH, T).
void length_scale_backward(Node& node) {
  const Tensor& scores = saved_tensor(node, 0);
  const float* x = scores.data();
  const float* scale = saved_tensor(node, 1).data();
  const float* dscale_dbeta = saved_tensor(node, 2).data();
  const float* dscale_dgamma = saved_tensor(node, 3).data();
  const float* dout = output_grad(node);
  float* dx = input_grad(node, 0);
  float* dbeta = input_grad(node, 1);
  float* dgamma = input_grad(node, 2);
  const ScoreRows sizes{scores.size(0), scores.size(1), scores.size(2), scores.size(3)};
  const int64_t rows = sizes.rows();
  const int64_t keys = sizes.keys;

  // 2. Differentiates out_j = scale x_j for each row: dx_j += scale g_j, and the row's
  // dscale = sum_j g_j x_j into a buffer. Rows are independent, so threads split them.
  const bool needs_dscale = dbeta || dgamma;
  std::vector<double> row_dscale(needs_dscale ? static_cast<size_t>(rows) : 0);
#pragma omp parallel for schedule(static) if (rows * keys > kParallelMinWork)
  for (int64_t row = 0; row < rows; ++row) {
    const float* x_row = x + row * keys;
    const float* g_row = dout + row * keys;
    const float row_scale = scale[row];
    double dscale = 0.0;
    for (int64_t j = 0; j < keys; ++j) {
      if (x_row[j] == kNegInf) continue;
      if (dx) dx[row * keys + j] += row_scale * g_row[j];
      dscale += static_cast<double>(g_row[j]) * x_row[j];
    }
    if (needs_dscale) row_dscale[static_cast<size_t>(row)] = dscale;
  }
  if (!needs_dscale) return;

  // 1. Differentiates scale = delta + beta (log n)^gamma. Serial on purpose: a broadcast
  // beta or gamma cell collects the sum over many rows, and adding rows in a fixed order
  // gives the same float result for any thread count.
  // The sums are kept in double and added to the float gradients once per cell.
  const Tensor& beta = node.inputs[1];
  const Tensor& gamma = node.inputs[2];
  const RowStrides beta_cells = broadcast_row_strides(beta.shape(), contiguous_strides(beta.shape()));
  const RowStrides gamma_cells = broadcast_row_strides(gamma.shape(), contiguous_strides(gamma.shape()));
  std::vector<double> beta_sums(dbeta ? static_cast<size_t>(beta.numel()) : 0, 0.0);
  std::vector<double> gamma_sums(dgamma ? static_cast<size_t>(gamma.numel()) : 0, 0.0);
  for (int64_t row = 0; row < rows; ++row) {
    const double dscale = row_dscale[static_cast<size_t>(row)];
    const size_t beta_cell = static_cast<size_t>(beta_cells.offset_of_row(row, sizes));
    const size_t gamma_cell = static_cast<size_t>(gamma_cells.offset_of_row(row, sizes));
    if (dbeta) beta_sums[beta_cell] += dscale * dscale_dbeta[row];
    if (dgamma) gamma_sums[gamma_cell] += dscale * dscale_dgamma[row];
  }
  for (size_t cell = 0; cell < beta_sums.size(); ++cell) dbeta[cell] += static_cast<float>(beta_sums[cell]);
  for (size_t cell = 0; cell < gamma_sums.size(); ++cell) dgamma[cell] += static_cast<float>(gamma_sums[cell]);
}

}  // namespace

Tensor length_scale(const Tensor& scores, const Tensor& beta, const Tensor& gamma, float delta) {
  const ScoreRows sizes = check_inputs(scores, beta, gamma, delta);
  const int64_t rows = sizes.rows();
  const int64_t keys = sizes.keys;
  const Shape rows_shape = {sizes.batch, sizes.heads, sizes.queries};
  Tensor input = scores.is_contiguous() ? scores : scores.clone_values();
  const bool needs_grad = any_requires_grad({scores, beta, gamma});

  // 1. scale = delta + beta (log n)^gamma per query row, in double, with the two partial
  // derivatives that backward needs. beta and gamma may be strided views.
  Tensor scale = Tensor::empty(rows_shape, "length_scale scale");
  Tensor dscale_dbeta = needs_grad ? Tensor::empty(rows_shape, "length_scale dscale/dbeta") : Tensor();
  Tensor dscale_dgamma = needs_grad ? Tensor::empty(rows_shape, "length_scale dscale/dgamma") : Tensor();
  const RowStrides beta_values = broadcast_row_strides(beta.shape(), beta.strides());
  const RowStrides gamma_values = broadcast_row_strides(gamma.shape(), gamma.strides());
  const float* beta_data = beta.data();
  const float* gamma_data = gamma.data();
#pragma omp parallel for schedule(static) if (rows > kParallelMinWork)
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t position = row % sizes.queries + sizes.query_offset();
    const LengthScaleTerms<double> terms = length_scale_terms<double>(
        position, beta_data[beta_values.offset_of_row(row, sizes)],
        gamma_data[gamma_values.offset_of_row(row, sizes)], delta);
    scale.data()[row] = static_cast<float>(terms.scale);
    if (needs_grad) {
      dscale_dbeta.data()[row] = static_cast<float>(terms.dscale_dbeta);
      dscale_dgamma.data()[row] = static_cast<float>(terms.dscale_dgamma);
    }
  }

  // 2. out = scale x, keeping -inf as -inf: scale * -inf would be NaN at scale 0 and
  // +inf at a negative scale.
  Tensor out = Tensor::empty(scores.shape());
  const float* x = input.data();
  const float* row_scale = scale.data();
  float* y = out.data();
#pragma omp parallel for schedule(static) if (rows * keys > kParallelMinWork)
  for (int64_t row = 0; row < rows; ++row) {
    for (int64_t j = 0; j < keys; ++j) {
      const float value = x[row * keys + j];
      y[row * keys + j] = value == kNegInf ? kNegInf : row_scale[row] * value;
    }
  }

  // No debug_check_forward: masked -inf entries are valid output here, as in causal_mask.
  if (needs_grad) {
    Node& node = record_op(OpKind::LengthScale, length_scale_backward, {scores, beta, gamma}, out);
    save_for_backward(node, input);
    save_for_backward(node, scale);
    save_for_backward(node, dscale_dbeta);
    save_for_backward(node, dscale_dgamma);
  }
  return out;
}

}  // namespace entlab
