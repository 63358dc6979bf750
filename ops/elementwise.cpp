#include "ops/elementwise.h"

#include <array>
#include <cmath>

#include "autograd/tape.h"
#include "core/parallel.h"
#include "core/error.h"
#include "ops/pointwise.h"

namespace entlab {

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    ENTLAB_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ",
                 shape_str(b), " cannot be broadcast (dimension ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

namespace {

enum class BinaryKind { Add, Sub, Mul, Div };

// Strides (in elements) to read `operand` at each index of `out_shape`; 0 where the
// operand is broadcast. `operand_strides` are the operand's own strides.
Shape broadcast_strides(const Shape& operand_shape, const Shape& operand_strides, const Shape& out_shape) {
  Shape strides(out_shape.size(), 0);
  size_t lead = out_shape.size() - operand_shape.size();
  for (size_t i = 0; i < operand_shape.size(); ++i)
    strides[lead + i] = operand_shape[i] == 1 ? 0 : operand_strides[i];
  return strides;
}

// Calls visit(out_index, offsets[0], ..., offsets[N-1]) for every element of
// out_shape in row-major order, where offsets[k] walks operand k with strides[k]
// (0 along broadcast dims). Serial on purpose: backward visitors accumulate into
// cells that several output elements share.
template <size_t N, typename Visit>
void for_each_broadcast(const Shape& out_shape, const std::array<Shape, N>& strides, Visit visit) {
  const int64_t total = shape_numel(out_shape);
  const size_t rank = out_shape.size();
  Shape index(rank, 0);
  std::array<int64_t, N> offsets{};
  for (int64_t flat = 0; flat < total; ++flat) {
    visit(flat, offsets);
    for (size_t d = rank; d-- > 0;) {  // odometer increment, updating offsets incrementally
      for (size_t k = 0; k < N; ++k) offsets[k] += strides[k][d];
      if (++index[d] < out_shape[d]) break;
      for (size_t k = 0; k < N; ++k) offsets[k] -= strides[k][d] * out_shape[d];
      index[d] = 0;
    }
  }
}

inline float apply(BinaryKind kind, float x, float y) {
  switch (kind) {
    case BinaryKind::Add: return x + y;
    case BinaryKind::Sub: return x - y;
    case BinaryKind::Mul: return x * y;
    case BinaryKind::Div: return x / y;
  }
  return 0.0f;
}

template <BinaryKind kind>
void binary_same_shape(float* out, const float* a, const float* b, int64_t count) {
#pragma omp parallel for schedule(static) if (count > kParallelMinWork)
  for (int64_t i = 0; i < count; ++i) out[i] = apply(kind, a[i], b[i]);
}

OpKind op_kind_of(BinaryKind kind) {
  switch (kind) {
    case BinaryKind::Add: return OpKind::Add;
    case BinaryKind::Sub: return OpKind::Sub;
    case BinaryKind::Mul: return OpKind::Mul;
    case BinaryKind::Div: return OpKind::Div;
  }
  return OpKind::Count;
}

void binary_backward(Node& node);

template <BinaryKind kind>
Tensor binary(const Tensor& a, const Tensor& b) {
  const char* name = op_name(op_kind_of(kind));
  Shape out_shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = Tensor::empty(out_shape);

  if (a.shape() == b.shape() && a.is_contiguous() && b.is_contiguous()) {
    binary_same_shape<kind>(out.data(), a.data(), b.data(), out.numel());
  } else {
    std::array<Shape, 2> strides = {broadcast_strides(a.shape(), a.strides(), out_shape),
                                     broadcast_strides(b.shape(), b.strides(), out_shape)};
    const float* a_data = a.data();
    const float* b_data = b.data();
    float* out_data = out.data();
    for_each_broadcast(out_shape, strides, [&](int64_t i, const std::array<int64_t, 2>& at) {
      out_data[i] = apply(kind, a_data[at[0]], b_data[at[1]]);
    });
  }

  debug_check_forward(name, out);
  if (any_requires_grad({a, b})) {
    Node& node = record_op(op_kind_of(kind), binary_backward, {a, b}, out);
    save_for_backward(node, a);
    save_for_backward(node, b);
  }
  return out;
}

// The common case without broadcasting (residual connections): parallel and flat.
void binary_backward_same_shape(OpKind kind, float* da, float* db, const float* dout,
                                const float* a, const float* b, int64_t count) {
#pragma omp parallel for schedule(static) if (count > kParallelMinWork)
  for (int64_t i = 0; i < count; ++i) {
    const float g = dout[i];
    switch (kind) {
      case OpKind::Add:
        if (da) da[i] += g;
        if (db) db[i] += g;
        break;
      case OpKind::Sub:
        if (da) da[i] += g;
        if (db) db[i] -= g;
        break;
      case OpKind::Mul:
        if (da) da[i] += g * b[i];
        if (db) db[i] += g * a[i];
        break;
      default:
        if (da) da[i] += g / b[i];
        if (db) db[i] -= g * a[i] / (b[i] * b[i]);
        break;
    }
  }
}

// Forward: out = a (op) b with broadcasting. Backward, per output element with
// upstream g:  add: da += g, db += g;  sub: da += g, db -= g;
// mul: da += g b, db += g a;  div: da += g / b, db -= g a / b^2.
// Cells of a broadcast operand receive the sum over the elements that reused them.
void binary_backward(Node& node) {
  const Tensor& a = saved_tensor(node, 0);
  const Tensor& b = saved_tensor(node, 1);
  const float* dout = output_grad(node);
  float* da = input_grad(node, 0);
  float* db = input_grad(node, 1);
  const Shape& out_shape = node.output.shape();
  const float* a_data = a.data();
  const float* b_data = b.data();
  const OpKind kind = node.op;

  if (a.shape() == b.shape() && a.is_contiguous() && b.is_contiguous()) {
    binary_backward_same_shape(kind, da, db, dout, a_data, b_data, node.output.numel());
    return;
  }

  // Operand strides: gradient buffers are contiguous in the operand's own shape,
  // while the saved values may be strided views.
  std::array<Shape, 2> values = {broadcast_strides(a.shape(), a.strides(), out_shape),
                                 broadcast_strides(b.shape(), b.strides(), out_shape)};
  std::array<Shape, 3> for_a = {broadcast_strides(a.shape(), contiguous_strides(a.shape()), out_shape),
                                values[0], values[1]};
  std::array<Shape, 3> for_b = {broadcast_strides(b.shape(), contiguous_strides(b.shape()), out_shape),
                                values[0], values[1]};

  // Pass 1: gradient of a. at = (a's grad cell, a's value, b's value).
  if (da) {
    for_each_broadcast(out_shape, for_a, [&](int64_t i, const std::array<int64_t, 3>& at) {
      const float g = dout[i];
      if (kind == OpKind::Add || kind == OpKind::Sub) da[at[0]] += g;
      else if (kind == OpKind::Mul) da[at[0]] += g * b_data[at[2]];
      else da[at[0]] += g / b_data[at[2]];
    });
  }

  // Pass 2: gradient of b. at = (b's grad cell, a's value, b's value).
  if (db) {
    for_each_broadcast(out_shape, for_b, [&](int64_t i, const std::array<int64_t, 3>& at) {
      const float g = dout[i];
      const float b_value = b_data[at[2]];
      if (kind == OpKind::Add) db[at[0]] += g;
      else if (kind == OpKind::Sub) db[at[0]] -= g;
      else if (kind == OpKind::Mul) db[at[0]] += g * a_data[at[1]];
      else db[at[0]] -= g * a_data[at[1]] / (b_value * b_value);
    });
  }
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary<BinaryKind::Add>(a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary<BinaryKind::Sub>(a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary<BinaryKind::Mul>(a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary<BinaryKind::Div>(a, b); }

// --- Unary ops --------------------------------------------------------------------------

namespace {

// Forward: out = s x.  Backward: dx += s g.
void scale_backward(Node& node) {
  const float* dout = output_grad(node);
  float* dx = input_grad(node, 0);
  const float s = static_cast<float>(node.real_args[0]);
  const int64_t count = node.output.numel();
  for (int64_t i = 0; i < count; ++i) dx[i] += s * dout[i];
}

// Forward: out = x + s.  Backward: dx += g.
void add_scalar_backward(Node& node) {
  const float* dout = output_grad(node);
  float* dx = input_grad(node, 0);
  const int64_t count = node.output.numel();
  for (int64_t i = 0; i < count; ++i) dx[i] += dout[i];
}

// Forward: out = exp(x).  Backward: dx += g out.
void exp_backward(Node& node) {
  add_pointwise_grad(node, [](float y) { return y; });
}

// Forward: out = sigmoid(x).  Backward: dx += g out (1 - out).
void sigmoid_backward(Node& node) {
  add_pointwise_grad(node, [](float y) { return y * (1.0f - y); });
}

}  // namespace

Tensor scale(const Tensor& x, float s) {
  Tensor out = map_values(x, [s](float v) { return s * v; });
  debug_check_forward("scale", out);
  if (any_requires_grad({x})) {
    Node& node = record_op(OpKind::Scale, scale_backward, {x}, out);
    node.real_args = {s};
  }
  return out;
}

Tensor add_scalar(const Tensor& x, float s) {
  Tensor out = map_values(x, [s](float v) { return v + s; });
  debug_check_forward("add_scalar", out);
  if (any_requires_grad({x})) record_op(OpKind::AddScalar, add_scalar_backward, {x}, out);
  return out;
}

Tensor exp(const Tensor& x) {
  Tensor out = map_values(x, [](float v) { return std::exp(v); });
  debug_check_forward("exp", out);
  if (any_requires_grad({x})) {
    Node& node = record_op(OpKind::Exp, exp_backward, {x}, out);
    save_for_backward(node, out);
  }
  return out;
}

Tensor sigmoid(const Tensor& x) {
  // Written so that neither branch overflows: for v < 0 use e^v / (1 + e^v).
  Tensor out = map_values(x, [](float v) {
    if (v >= 0.0f) return 1.0f / (1.0f + std::exp(-v));
    const float e = std::exp(v);
    return e / (1.0f + e);
  });
  debug_check_forward("sigmoid", out);
  if (any_requires_grad({x})) {
    Node& node = record_op(OpKind::Sigmoid, sigmoid_backward, {x}, out);
    save_for_backward(node, out);
  }
  return out;
}

// --- In-place ops ------------------------------------------------------------------------

namespace {

// In-place ops record a node whose input and output are the same tensor; their
// backward rewrites that tensor's gradient in place. The grad arriving there is
// d L / d x_new; after the rewrite it is d L / d x_old, which is what the nodes
// recorded earlier (processed later in the reverse walk) expect.
void check_inplace_allowed(const Tensor& x, const char* op) {
  if (!grad_enabled() || !x.requires_grad()) return;
  ENTLAB_CHECK(!x.impl()->is_leaf, op, ": tensor ", x.label(),
               " is a leaf that requires grad (a parameter or input); an in-place write would "
               "lose its gradient. Use NoGradGuard for optimizer updates, or write to a copy");
  ENTLAB_CHECK(!x.impl()->is_view, op, ": tensor ", x.label(),
               " is a view of another tensor; in-place writes through views are not tracked "
               "by autograd. Write to a contiguous copy instead");
  ENTLAB_CHECK(x.is_contiguous(), op, ": tensor ", x.label(), " must be contiguous");
  // A live view (reshape, transpose, slice) has its own node and gradient buffer, so
  // gradient reaching x through the view would skip this op's backward.
  ENTLAB_CHECK(x.impl()->storage.use_count() == 1, op, ": tensor ", x.label(),
               " shares its storage with a view; gradients that flow through the view would miss "
               "the in-place change. Write the modified value to a new tensor instead");
}

// Forward: x_new = s x_old.  Backward: g_old = s g_new, in place.
void scale_inplace_backward(Node& node) {
  float* grad = node.output.grad().data();
  const float s = static_cast<float>(node.real_args[0]);
  const int64_t count = node.output.numel();
  for (int64_t i = 0; i < count; ++i) grad[i] *= s;
}

// Forward: x_new[k] = value.  Backward: g_old[k] = 0 (x_new[k] no longer depends on x_old[k]).
void set_element_backward(Node& node) {
  float* grad = node.output.grad().data();
  grad[node.int_args[0]] = 0.0f;
}

}  // namespace

void scale_(const Tensor& x, float s) {
  check_inplace_allowed(x, "scale_");
  ENTLAB_CHECK(x.is_contiguous(), "scale_: tensor ", x.label(), " of shape ", shape_str(x.shape()),
               " is not contiguous; in-place scaling needs dense storage");
  float* data = x.data();
  for (int64_t i = 0; i < x.numel(); ++i) data[i] *= s;
  x.bump_version();
  if (any_requires_grad({x})) {
    Node& node = record_op(OpKind::ScaleInplace, scale_inplace_backward, {x}, x);
    node.real_args = {s};
  }
}

void set_element_(const Tensor& x, std::initializer_list<int64_t> index, float value) {
  check_inplace_allowed(x, "set_element_");
  ENTLAB_CHECK(static_cast<int64_t>(index.size()) == x.dim(), "set_element_: index of rank ",
               index.size(), " for tensor ", x.label(), " of shape ", shape_str(x.shape()));
  int64_t flat = 0;
  int64_t d = 0;
  for (int64_t i : index) {
    ENTLAB_CHECK(i >= 0 && i < x.size(d), "set_element_: index ", i, " out of range for dimension ",
                 d, " of ", x.label(), " with shape ", shape_str(x.shape()));
    flat += i * x.strides()[d++];
  }
  x.data()[flat] = value;
  x.bump_version();
  if (any_requires_grad({x})) {
    Node& node = record_op(OpKind::SetElementInplace, set_element_backward, {x}, x);
    node.int_args = {flat};
  }
}

}  // namespace entlab
