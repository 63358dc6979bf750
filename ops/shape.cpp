#include "ops/shape.h"

#include "autograd/tape.h"
#include "core/error.h"

namespace entlab {

namespace {

// Walks every index of `shape` in row-major order, one innermost row at a time:
// visit_row(flat, offset, count, stride) covers the `count` elements of the last
// dimension starting at logical index `flat` and at strided offset `offset`.
template <typename VisitRow>
void for_each_row(const Shape& shape, const Shape& strides, VisitRow visit_row) {
  if (shape.empty()) {
    visit_row(0, 0, 1, 1);
    return;
  }
  const size_t last = shape.size() - 1;
  const int64_t count = shape[last];
  const int64_t rows = count ? shape_numel(shape) / count : 0;
  Shape index(last, 0);
  int64_t offset = 0;
  for (int64_t row = 0; row < rows; ++row) {
    visit_row(row * count, offset, count, strides[last]);
    for (size_t d = last; d-- > 0;) {
      offset += strides[d];
      if (++index[d] < shape[d]) break;
      offset -= strides[d] * shape[d];
      index[d] = 0;
    }
  }
}

// For every index of `shape`: dst[dst_offset(index)] += src[flat] (src is dense).
void scatter_add(float* dst, const Shape& dst_strides, const float* src, const Shape& shape) {
  for_each_row(shape, dst_strides, [&](int64_t flat, int64_t offset, int64_t count, int64_t stride) {
    float* out = dst + offset;
    const float* in = src + flat;
    for (int64_t i = 0; i < count; ++i) out[i * stride] += in[i];
  });
}

// For every index of `shape`: dst[flat] = src[src_offset(index)] (dst is dense).
void gather_copy(float* dst, const float* src, const Shape& src_strides, const Shape& shape) {
  for_each_row(shape, src_strides, [&](int64_t flat, int64_t offset, int64_t count, int64_t stride) {
    const float* in = src + offset;
    float* out = dst + flat;
    for (int64_t i = 0; i < count; ++i) out[i] = in[i * stride];
  });
}

// reshape and contiguous keep the logical element order: dx += g, flat.
void flat_backward(Node& node) {
  const float* dout = output_grad(node);
  float* dx = input_grad(node, 0);
  const int64_t count = node.output.numel();
  for (int64_t i = 0; i < count; ++i) dx[i] += dout[i];
}

// Forward: out = x with dims (d0, d1) swapped. Backward: dx += g with them swapped back.
void transpose_backward(Node& node) {
  const float* dout = output_grad(node);
  float* dx = input_grad(node, 0);
  Shape dx_strides = contiguous_strides(node.inputs[0].shape());
  std::swap(dx_strides[node.int_args[0]], dx_strides[node.int_args[1]]);
  scatter_add(dx, dx_strides, dout, node.output.shape());
}

// Forward: out = x[..., start:end, ...] along dim. Backward: dx[..., start:end, ...] += g.
void slice_backward(Node& node) {
  const float* dout = output_grad(node);
  float* dx = input_grad(node, 0);
  const int64_t dim = node.int_args[0];
  const int64_t start = node.int_args[1];
  Shape dx_strides = contiguous_strides(node.inputs[0].shape());
  scatter_add(dx + start * dx_strides[dim], dx_strides, dout, node.output.shape());
}

// Forward: out = [x_0, x_1, ...] along dim. Backward: dx_k += the k-th block of g.
void concat_backward(Node& node) {
  const float* dout = output_grad(node);
  const int64_t dim = node.int_args[0];
  Shape out_strides = contiguous_strides(node.output.shape());
  int64_t start = 0;
  for (size_t k = 0; k < node.inputs.size(); ++k) {
    const Shape& part_shape = node.inputs[k].shape();
    float* dx = input_grad(node, k);
    if (dx) {
      // Read the block of g through the output's strides into this part's dense grad.
      Tensor block = Tensor::empty(part_shape);
      gather_copy(block.data(), dout + start * out_strides[dim], out_strides, part_shape);
      for (int64_t i = 0; i < block.numel(); ++i) dx[i] += block.data()[i];
    }
    start += part_shape[dim];
  }
}

Shape resolve_shape(const Tensor& x, Shape shape) {
  int64_t known = 1;
  int64_t infer_at = -1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == -1) {
      ENTLAB_CHECK(infer_at < 0, "reshape: more than one -1 in ", shape_str(shape));
      infer_at = static_cast<int64_t>(d);
    } else {
      ENTLAB_CHECK(shape[d] >= 0, "reshape: invalid target shape ", shape_str(shape));
      known *= shape[d];
    }
  }
  if (infer_at >= 0) {
    ENTLAB_CHECK(known > 0 && x.numel() % known == 0, "reshape: cannot view ", x.label(), " of shape ",
                 shape_str(x.shape()), " as ", shape_str(shape));
    shape[infer_at] = x.numel() / known;
  }
  return shape;
}

}  // namespace

Tensor reshape(const Tensor& x, Shape shape) {
  Tensor source = contiguous(x);
  Tensor out = source.view_as_shape(resolve_shape(x, std::move(shape)));
  if (any_requires_grad({source})) record_op(OpKind::Reshape, flat_backward, {source}, out);
  return out;
}

Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
  const int64_t d0 = normalize_dim(dim0, x.dim(), "transpose");
  const int64_t d1 = normalize_dim(dim1, x.dim(), "transpose");
  Tensor out = x.view_transposed(d0, d1);
  if (any_requires_grad({x})) {
    Node& node = record_op(OpKind::Transpose, transpose_backward, {x}, out);
    node.int_args = {d0, d1};
  }
  return out;
}

Tensor contiguous(const Tensor& x) {
  if (x.is_contiguous()) return x;
  Tensor out = Tensor::empty(x.shape());
  gather_copy(out.data(), x.data(), x.strides(), x.shape());
  if (any_requires_grad({x})) record_op(OpKind::Contiguous, flat_backward, {x}, out);
  return out;
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end) {
  const int64_t d = normalize_dim(dim, x.dim(), "slice");
  ENTLAB_CHECK(0 <= start && start <= end && end <= x.size(d), "slice: range [", start, ", ", end,
               ") is invalid for dimension ", d, " of ", x.label(), " with shape ", shape_str(x.shape()));
  auto impl = std::make_shared<TensorImpl>(*x.impl());
  impl->shape[d] = end - start;
  impl->offset += start * x.strides()[d];
  impl->requires_grad = false;
  impl->is_leaf = true;
  impl->is_view = true;
  impl->retain_grad = false;
  impl->grad = nullptr;
  Tensor out(std::move(impl));
  if (any_requires_grad({x})) {
    Node& node = record_op(OpKind::Slice, slice_backward, {x}, out);
    node.int_args = {d, start};
  }
  return out;
}

Tensor concat(const std::vector<Tensor>& parts, int64_t dim) {
  ENTLAB_CHECK(!parts.empty(), "concat: no tensors given");
  const int64_t d = normalize_dim(dim, parts[0].dim(), "concat");
  Shape out_shape = parts[0].shape();
  out_shape[d] = 0;
  for (const Tensor& part : parts) {
    Shape expected = parts[0].shape();
    expected[d] = part.dim() == parts[0].dim() ? part.size(d) : -1;
    ENTLAB_CHECK(part.shape() == expected, "concat: tensor ", part.label(), " of shape ",
                 shape_str(part.shape()), " does not match ", shape_str(parts[0].shape()),
                 " outside dimension ", d);
    out_shape[d] += part.size(d);
  }

  Tensor out = Tensor::zeros(out_shape);
  Shape out_strides = contiguous_strides(out_shape);
  int64_t start = 0;
  for (const Tensor& part : parts) {
    Tensor dense = part.is_contiguous() ? part : part.clone_values();
    scatter_add(out.data() + start * out_strides[d], out_strides, dense.data(), part.shape());
    start += part.size(d);
  }

  if (any_requires_grad(parts)) {
    Node& node = record_op(OpKind::Concat, concat_backward, parts, out);
    node.int_args = {d};
  }
  return out;
}

}  // namespace entlab
