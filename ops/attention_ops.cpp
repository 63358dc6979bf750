#include "ops/attention_ops.h"

#include <cmath>
#include <limits>

#include "autograd/tape.h"
#include "core/parallel.h"
#include "core/error.h"

namespace entlab {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Number of query rows and key columns of the trailing (T, S) matrices.
struct ScoreLayout {
  int64_t queries, keys, matrices, query_offset;
};

ScoreLayout score_layout(const Tensor& scores, const char* op) {
  ENTLAB_CHECK(scores.dim() >= 2 && scores.is_contiguous(), op, ": scores ", scores.label(),
               " must be a contiguous (..., T, S) tensor, got ", shape_str(scores.shape()));
  ScoreLayout layout;
  layout.queries = scores.size(-2);
  layout.keys = scores.size(-1);
  ENTLAB_CHECK(layout.keys >= layout.queries, op, ": scores ", shape_str(scores.shape()),
               " have fewer keys than queries; queries must be the last T of S positions");
  layout.matrices = scores.numel() / std::max<int64_t>(layout.queries * layout.keys, 1);
  layout.query_offset = layout.keys - layout.queries;
  return layout;
}

// Forward: y = x where j <= i + offset, -inf elsewhere.
// Backward: dx += g on kept entries; masked entries were overwritten by a constant,
// so their gradient is exactly 0 (passing g or -inf through would corrupt training).
void causal_mask_backward(Node& node) {
  const float* dout = output_grad(node);
  float* dx = input_grad(node, 0);
  ScoreLayout layout = score_layout(node.output, "causal_mask");
  const int64_t rows = layout.matrices * layout.queries;
#pragma omp parallel for schedule(static) if (rows * layout.keys > kParallelMinWork)
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t last_key = row % layout.queries + layout.query_offset;
    const float* g_row = dout + row * layout.keys;
    float* dx_row = dx + row * layout.keys;
    for (int64_t j = 0; j <= last_key; ++j) dx_row[j] += g_row[j];
  }
}

// Forward: y = x + slope_h (j - i).  Backward: dx += g.
void alibi_backward(Node& node) {
  const float* dout = output_grad(node);
  float* dx = input_grad(node, 0);
  const int64_t count = node.output.numel();
#pragma omp parallel for schedule(static) if (count > kParallelMinWork)
  for (int64_t i = 0; i < count; ++i) dx[i] += dout[i];
}

// cos and sin of (position * theta_i) for rows t = 0..T-1 and pairs i = 0..hs/2-1.
struct RopeTable {
  std::vector<float> cos_values, sin_values;
};

RopeTable make_rope_table(int64_t time, int64_t half, int64_t position_offset, double base) {
  RopeTable table;
  table.cos_values.resize(static_cast<size_t>(time * half));
  table.sin_values.resize(static_cast<size_t>(time * half));
  for (int64_t t = 0; t < time; ++t) {
    const double position = static_cast<double>(t + position_offset);
    for (int64_t i = 0; i < half; ++i) {
      const double theta = std::pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(2 * half));
      const double angle = position * theta;
      table.cos_values[t * half + i] = static_cast<float>(std::cos(angle));
      table.sin_values[t * half + i] = static_cast<float>(std::sin(angle));
    }
  }
  return table;
}

// Rotates each (x_i, x_{i+half}) pair of every row by +angle (direction = 1) or
// -angle (direction = -1), accumulating into out when accumulate is set.
void rotate_rows(float* out, const float* in, const RopeTable& table, int64_t rows, int64_t time,
                 int64_t half, float direction, bool accumulate) {
  const int64_t head_size = 2 * half;
#pragma omp parallel for schedule(static) if (rows * head_size > kParallelMinWork)
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t t = row % time;
    const float* x = in + row * head_size;
    float* y = out + row * head_size;
    for (int64_t i = 0; i < half; ++i) {
      const float c = table.cos_values[t * half + i];
      const float s = direction * table.sin_values[t * half + i];
      const float first = x[i] * c - x[i + half] * s;
      const float second = x[i] * s + x[i + half] * c;
      y[i] = accumulate ? y[i] + first : first;
      y[i + half] = accumulate ? y[i + half] + second : second;
    }
  }
}

// Forward: y = R(angle) x per pair.  Backward: dx += R(-angle) g (R is orthogonal).
void rope_backward(Node& node) {
  const float* dout = output_grad(node);
  float* dx = input_grad(node, 0);
  const Tensor& x = node.inputs[0];
  const int64_t time = x.size(-2);
  const int64_t half = x.size(-1) / 2;
  RopeTable table = make_rope_table(time, half, node.int_args[0], node.real_args[0]);
  rotate_rows(dx, dout, table, x.numel() / x.size(-1), time, half, -1.0f, true);
}

}  // namespace

Tensor causal_mask(const Tensor& scores) {
  ScoreLayout layout = score_layout(scores, "causal_mask");
  Tensor out = Tensor::empty(scores.shape());
  const float* x = scores.data();
  float* y = out.data();
  const int64_t rows = layout.matrices * layout.queries;
#pragma omp parallel for schedule(static) if (rows * layout.keys > kParallelMinWork)
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t last_key = row % layout.queries + layout.query_offset;
    for (int64_t j = 0; j < layout.keys; ++j)
      y[row * layout.keys + j] = j <= last_key ? x[row * layout.keys + j] : kNegInf;
  }

  if (any_requires_grad({scores})) record_op(OpKind::CausalMask, causal_mask_backward, {scores}, out);
  return out;
}

Tensor alibi_bias(const Tensor& scores, const std::vector<float>& slopes) {
  ScoreLayout layout = score_layout(scores, "alibi_bias");
  ENTLAB_CHECK(scores.dim() == 4 && scores.size(1) == static_cast<int64_t>(slopes.size()),
               "alibi_bias: scores ", scores.label(), " ", shape_str(scores.shape()),
               " must be (B, NH, T, S) with NH = ", slopes.size(), " (one slope per head)");
  const int64_t heads = scores.size(1);
  Tensor out = Tensor::empty(scores.shape());
  const float* x = scores.data();
  float* y = out.data();
  const int64_t rows = layout.matrices * layout.queries;
#pragma omp parallel for schedule(static) if (rows * layout.keys > kParallelMinWork)
  for (int64_t row = 0; row < rows; ++row) {
    const float slope = slopes[(row / layout.queries) % heads];
    const int64_t query_position = row % layout.queries + layout.query_offset;
    for (int64_t j = 0; j < layout.keys; ++j)
      y[row * layout.keys + j] = x[row * layout.keys + j] + slope * static_cast<float>(j - query_position);
  }

  if (any_requires_grad({scores})) record_op(OpKind::Alibi, alibi_backward, {scores}, out);
  return out;
}

Tensor rope(const Tensor& x, int64_t position_offset, double base) {
  ENTLAB_CHECK(x.dim() >= 2 && x.size(-1) % 2 == 0, "rope: input ", x.label(), " of shape ",
               shape_str(x.shape()), " needs an even head size in the last dimension");
  Tensor input = x.is_contiguous() ? x : x.clone_values();
  const int64_t time = x.size(-2);
  const int64_t half = x.size(-1) / 2;
  RopeTable table = make_rope_table(time, half, position_offset, base);
  Tensor out = Tensor::empty(x.shape());
  rotate_rows(out.data(), input.data(), table, x.numel() / x.size(-1), time, half, 1.0f, false);

  if (any_requires_grad({x})) {
    Node& node = record_op(OpKind::Rope, rope_backward, {x}, out);
    node.int_args = {position_offset};
    node.real_args = {base};
  }
  return out;
}

}  // namespace entlab
