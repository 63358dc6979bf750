#include "ops/entmax.h"

#include "autograd/tape.h"
#include "core/parallel.h"
#include "core/error.h"

namespace entlab {

namespace {

// Forward: p = entmax15(z) per row.  Backward: dz += s g - s <s, g> / sum s, s = sqrt(p).
void entmax15_backward(Node& node) {
  const Tensor& probs = saved_tensor(node, 0);
  const float* dout = output_grad(node);
  float* dx = input_grad(node, 0);
  const int64_t n = probs.size(-1);
  const int64_t rows = probs.numel() / n;
  const float* p = probs.data();
#pragma omp parallel for schedule(static) if (rows * n > kParallelMinWork)
  for (int64_t row = 0; row < rows; ++row)
    entmax15_row_backward(dx + row * n, dout + row * n, p + row * n, n);
}

}  // namespace

Tensor entmax15(const Tensor& x) {
  ENTLAB_CHECK(x.dim() >= 1 && x.size(-1) > 0, "entmax15: input ", x.label(), " of shape ",
               shape_str(x.shape()), " needs a non-empty last dimension");
  Tensor input = x.is_contiguous() ? x : x.clone_values();
  const int64_t n = x.size(-1);
  const int64_t rows = x.numel() / n;
  Tensor out = Tensor::empty(x.shape());
  const float* z = input.data();
  float* p = out.data();

#pragma omp parallel if (rows * n > kParallelMinWork)
  {
    std::vector<float> sorted;  // per-thread scratch
    sorted.reserve(static_cast<size_t>(n));
#pragma omp for schedule(static)
    for (int64_t row = 0; row < rows; ++row) entmax15_row_forward(p + row * n, z + row * n, n, sorted);
  }

  debug_check_forward("entmax15", out);
  if (any_requires_grad({x})) {
    Node& node = record_op(OpKind::Entmax15, entmax15_backward, {x}, out);
    save_for_backward(node, out);
  }
  return out;
}

}  // namespace entlab
