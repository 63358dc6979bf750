#include "ops/reduce.h"

#include <algorithm>

#include "autograd/tape.h"
#include "core/error.h"

namespace entlab {

namespace {

struct ReducePlan {
  Shape out_shape;        // with or without the reduced dims, as requested
  Shape out_strides;      // per input dim: stride into the output, 0 if reduced
  int64_t reduced_count;  // how many input elements land in each output element
};

ReducePlan plan_reduction(const Shape& in_shape, const std::vector<int64_t>& dims, bool keepdim,
                          const char* op) {
  const int64_t rank = static_cast<int64_t>(in_shape.size());
  std::vector<bool> reduced(rank, false);
  for (int64_t d : dims) {
    int64_t axis = normalize_dim(d, rank, op);
    ENTLAB_CHECK(!reduced[axis], op, ": dimension ", d, " listed twice");
    reduced[axis] = true;
  }

  ReducePlan plan;
  plan.reduced_count = 1;
  Shape kept_shape;  // output shape with keepdim, used for strides
  for (int64_t d = 0; d < rank; ++d) {
    kept_shape.push_back(reduced[d] ? 1 : in_shape[d]);
    if (reduced[d]) plan.reduced_count *= in_shape[d];
    if (!reduced[d] || keepdim) plan.out_shape.push_back(kept_shape.back());
  }
  plan.out_strides = contiguous_strides(kept_shape);
  for (int64_t d = 0; d < rank; ++d)
    if (reduced[d]) plan.out_strides[d] = 0;
  return plan;
}

// Calls visit(in_flat, out_offset) for every input element in row-major order.
template <typename Visit>
void for_each_reduced(const Shape& in_shape, const Shape& out_strides, Visit visit) {
  const int64_t total = shape_numel(in_shape);
  Shape index(in_shape.size(), 0);
  int64_t out_offset = 0;
  for (int64_t flat = 0; flat < total; ++flat) {
    visit(flat, out_offset);
    for (size_t d = in_shape.size(); d-- > 0;) {
      out_offset += out_strides[d];
      if (++index[d] < in_shape[d]) break;
      out_offset -= out_strides[d] * in_shape[d];
      index[d] = 0;
    }
  }
}

// Forward: out[o] = factor * sum of x over the cells mapping to o.
// Backward: dx[i] += factor * g[o(i)].
void reduce_backward(Node& node) {
  const float* dout = output_grad(node);
  float* dx = input_grad(node, 0);
  const float factor = static_cast<float>(node.real_args[0]);
  const Shape& in_shape = node.inputs[0].shape();
  Shape out_strides(node.int_args.begin(), node.int_args.end());
  for_each_reduced(in_shape, out_strides, [&](int64_t i, int64_t o) { dx[i] += factor * dout[o]; });
}

Tensor reduce(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, bool average) {
  const char* op = average ? "mean" : "sum";
  ReducePlan plan = plan_reduction(x.shape(), dims, keepdim, op);
  ENTLAB_CHECK(!average || plan.reduced_count > 0, "mean: tensor ", x.label(), " of shape ",
               shape_str(x.shape()), " has no elements along the reduced dims");

  Tensor values = x.is_contiguous() ? x : x.clone_values();
  std::vector<double> totals(static_cast<size_t>(shape_numel(plan.out_shape)), 0.0);
  const float* in = values.data();
  for_each_reduced(x.shape(), plan.out_strides, [&](int64_t i, int64_t o) { totals[o] += in[i]; });

  const double factor = average ? 1.0 / static_cast<double>(plan.reduced_count) : 1.0;
  Tensor out = Tensor::empty(plan.out_shape);
  for (size_t o = 0; o < totals.size(); ++o) out.data()[o] = static_cast<float>(totals[o] * factor);

  debug_check_forward(op, out);
  if (any_requires_grad({x})) {
    Node& node = record_op(average ? OpKind::Mean : OpKind::Sum, reduce_backward, {x}, out);
    node.int_args.assign(plan.out_strides.begin(), plan.out_strides.end());
    node.real_args = {factor};
  }
  return out;
}

std::vector<int64_t> all_dims(const Tensor& x) {
  std::vector<int64_t> dims(static_cast<size_t>(x.dim()));
  for (size_t d = 0; d < dims.size(); ++d) dims[d] = static_cast<int64_t>(d);
  return dims;
}

}  // namespace

Tensor sum(const Tensor& x) { return reduce(x, all_dims(x), false, false); }
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return reduce(x, dims, keepdim, false);
}
Tensor mean(const Tensor& x) { return reduce(x, all_dims(x), false, true); }
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return reduce(x, dims, keepdim, true);
}

}  // namespace entlab
