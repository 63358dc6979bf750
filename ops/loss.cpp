#include "ops/loss.h"

#include <cmath>
#include <limits>

#include "autograd/tape.h"
#include "core/parallel.h"
#include "core/error.h"
#include "ops/softmax.h"

namespace entlab {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Forward: loss_r = lse_r - z_r[y_r], reduced.  Backward: dz_r += (exp(z_r - lse_r) - e_{y_r}) g_r.
// The softmax is exp(z - lse), so a -inf logit gets exactly 0 and no 0 * inf appears.
void cross_entropy_backward(Node& node) {
  const Tensor& logits = saved_tensor(node, 0);
  const Tensor& lse = saved_tensor(node, 1);
  const float* dout = output_grad(node);
  float* dz = input_grad(node, 0);
  const int64_t classes = logits.size(-1);
  const int64_t rows = logits.numel() / classes;
  const int32_t ignore_index = static_cast<int32_t>(node.int_args[0]);
  const auto reduction = static_cast<Reduction>(node.int_args[1]);
  const double kept_rows = node.real_args[0];
  const int64_t* targets = node.int_args.data() + 2;

#pragma omp parallel for schedule(static) if (rows * classes > kParallelMinWork)
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t target = targets[row];
    if (target == ignore_index || lse.data()[row] == kNegInf) continue;
    float g = reduction == Reduction::None ? dout[row] : dout[0];
    if (reduction == Reduction::Mean) g = static_cast<float>(g / kept_rows);
    const float* z = logits.data() + row * classes;
    float* dz_row = dz + row * classes;
    for (int64_t c = 0; c < classes; ++c) dz_row[c] += std::exp(z[c] - lse.data()[row]) * g;
    dz_row[target] -= g;
  }
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const std::vector<int32_t>& targets, int32_t ignore_index,
                     Reduction reduction) {
  ENTLAB_CHECK(logits.dim() >= 1 && logits.size(-1) > 0, "cross_entropy: logits ", logits.label(),
               " of shape ", shape_str(logits.shape()), " need a non-empty class dimension");
  const int64_t classes = logits.size(-1);
  const int64_t rows = logits.numel() / classes;
  ENTLAB_CHECK(static_cast<int64_t>(targets.size()) == rows, "cross_entropy: logits ",
               shape_str(logits.shape()), " have ", rows, " rows but ", targets.size(), " targets were given");
  for (size_t r = 0; r < targets.size(); ++r)
    ENTLAB_CHECK(targets[r] == ignore_index || (targets[r] >= 0 && targets[r] < classes),
                 "cross_entropy: target ", targets[r], " at row ", r, " is outside [0, ", classes,
                 ") and is not the ignore_index ", ignore_index);

  Tensor input = logits.is_contiguous() ? logits : logits.clone_values();
  Tensor lse = Tensor::empty({rows}, "cross_entropy logsumexp");
  std::vector<double> row_loss(static_cast<size_t>(rows), 0.0);
  int64_t kept_rows = 0;
  for (int64_t row = 0; row < rows; ++row) {
    const float* z = input.data() + row * classes;
    lse.data()[row] = logsumexp_row(z, classes);
    if (targets[row] == ignore_index) continue;
    ++kept_rows;
    // A fully masked row (lse = -inf) has a -inf target logit like any masked target,
    // so its loss is +inf. Computing -inf - (-inf) would give NaN.
    row_loss[row] = lse.data()[row] == kNegInf
                        ? std::numeric_limits<double>::infinity()
                        : static_cast<double>(lse.data()[row]) - z[targets[row]];
  }

  Tensor out;
  if (reduction == Reduction::None) {
    out = Tensor::empty(Shape(logits.shape().begin(), logits.shape().end() - 1));
    for (int64_t row = 0; row < rows; ++row) out.data()[row] = static_cast<float>(row_loss[row]);
  } else {
    double total = 0.0;
    for (double value : row_loss) total += value;
    if (reduction == Reduction::Mean) total = kept_rows > 0 ? total / kept_rows : 0.0;
    out = Tensor::scalar(static_cast<float>(total));
  }

  if (any_requires_grad({logits})) {
    Node& node = record_op(OpKind::CrossEntropy, cross_entropy_backward, {logits}, out);
    save_for_backward(node, input);
    save_for_backward(node, lse);
    node.int_args.reserve(targets.size() + 2);
    node.int_args = {ignore_index, static_cast<int64_t>(reduction)};
    node.int_args.insert(node.int_args.end(), targets.begin(), targets.end());
    node.real_args = {static_cast<double>(std::max<int64_t>(kept_rows, 1))};
  }
  return out;
}

}  // namespace entlab
