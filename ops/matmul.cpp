#include "ops/matmul.h"

#include <cblas.h>

#include "autograd/tape.h"
#include "core/parallel.h"
#include "core/error.h"

namespace entlab {

namespace {

// How one operand's trailing (rows, cols) matrices sit in memory for sgemm.
struct MatrixLayout {
  const float* data = nullptr;
  int64_t rows = 0, cols = 0;       // logical shape of each matrix
  int64_t batch = 1;                // number of matrices
  int64_t batch_stride = 0;         // floats between consecutive matrices
  CBLAS_TRANSPOSE trans = CblasNoTrans;
  int64_t ld = 0;                   // leading dimension as sgemm wants it
  Tensor keep_alive;                // owns a contiguous copy when one was needed
};

// Describes x as a stack of matrices, copying only if it is neither contiguous nor a
// transposed view of a contiguous stack.
MatrixLayout describe_matrices(const Tensor& x) {
  MatrixLayout layout;
  const int64_t rank = x.dim();
  layout.rows = x.size(rank - 2);
  layout.cols = x.size(rank - 1);
  layout.batch = x.numel() / std::max<int64_t>(layout.rows * layout.cols, 1);
  layout.batch_stride = layout.rows * layout.cols;

  const Shape& strides = x.strides();
  bool batch_dense = true;  // leading dims laid out as a dense stack of matrices
  int64_t expected = layout.rows * layout.cols;
  for (int64_t d = rank - 3; d >= 0; --d) {
    if (x.size(d) != 1 && strides[d] != expected) batch_dense = false;
    expected *= x.size(d);
  }
  bool row_major = strides[rank - 1] == 1 && (strides[rank - 2] == layout.cols || layout.rows == 1);
  bool col_major = strides[rank - 2] == 1 && (strides[rank - 1] == layout.rows || layout.cols == 1);

  if (batch_dense && row_major) {
    layout.data = x.data();
    layout.trans = CblasNoTrans;
    layout.ld = std::max<int64_t>(layout.cols, 1);
  } else if (batch_dense && col_major) {
    layout.data = x.data();
    layout.trans = CblasTrans;
    layout.ld = std::max<int64_t>(layout.rows, 1);
  } else {
    layout.keep_alive = x.clone_values();
    layout.data = layout.keep_alive.data();
    layout.trans = CblasNoTrans;
    layout.ld = std::max<int64_t>(layout.cols, 1);
  }
  return layout;
}

CBLAS_TRANSPOSE flip(CBLAS_TRANSPOSE trans) { return trans == CblasNoTrans ? CblasTrans : CblasNoTrans; }

// C[i] (M, N) = alpha * op(A[i]) @ op(B[i]) + beta * C[i] for i in [0, batch).
// A stride of 0 reuses one matrix for every i. Parallel over i when batch > 1; each
// sgemm then runs single-threaded (OpenBLAS detects the enclosing parallel region).
void sgemm_batched(int64_t batch, CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, int64_t m,
                   int64_t n, int64_t k, const float* a, int64_t lda, int64_t stride_a,
                   const float* b, int64_t ldb, int64_t stride_b, float beta, float* c,
                   int64_t stride_c) {
  if (m == 0 || n == 0) return;
#pragma omp parallel for schedule(static) if (batch > 1 && batch * m * n * k > kParallelMinWork)
  for (int64_t i = 0; i < batch; ++i)
    cblas_sgemm(CblasRowMajor, trans_a, trans_b, static_cast<int>(m), static_cast<int>(n),
                static_cast<int>(k), 1.0f, a + i * stride_a, static_cast<int>(lda),
                b + i * stride_b, static_cast<int>(ldb), beta, c + i * stride_c,
                static_cast<int>(n));
}

void check_matmul_shapes(const Tensor& a, const Tensor& b) {
  ENTLAB_CHECK(a.dim() >= 2 && b.dim() >= 2, "matmul: operands must have rank >= 2, got ",
               a.label(), " ", shape_str(a.shape()), " and ", b.label(), " ", shape_str(b.shape()));
  ENTLAB_CHECK(a.size(-1) == b.size(-2), "matmul: inner dimensions differ: ", a.label(), " ",
               shape_str(a.shape()), " @ ", b.label(), " ", shape_str(b.shape()));
  if (b.dim() > 2) {
    Shape batch_a(a.shape().begin(), a.shape().end() - 2);
    Shape batch_b(b.shape().begin(), b.shape().end() - 2);
    ENTLAB_CHECK(batch_a == batch_b, "matmul: batch dimensions differ: ", a.label(), " ",
                 shape_str(a.shape()), " @ ", b.label(), " ", shape_str(b.shape()),
                 " (b must be 2-D or have the same leading dims as a)");
  }
}

void matmul_backward(Node& node);

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_matmul_shapes(a, b);
  const bool shared_b = b.dim() == 2;
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);

  Shape out_shape(a.shape().begin(), a.shape().end() - 1);
  out_shape.push_back(n);
  Tensor out = Tensor::empty(out_shape);

  MatrixLayout la = describe_matrices(a);
  MatrixLayout lb = describe_matrices(b);
  if (shared_b && la.trans == CblasNoTrans) {
    // Fold a's leading dims into M: one large sgemm instead of many small ones.
    sgemm_batched(1, CblasNoTrans, lb.trans, la.batch * m, n, k, la.data, la.ld, 0, lb.data,
                  lb.ld, 0, 0.0f, out.data(), 0);
  } else {
    sgemm_batched(la.batch, la.trans, lb.trans, m, n, k, la.data, la.ld, la.batch_stride,
                  lb.data, lb.ld, shared_b ? 0 : lb.batch_stride, 0.0f, out.data(), m * n);
  }

  debug_check_forward("matmul", out);
  if (any_requires_grad({a, b})) {
    Node& node = record_op(OpKind::Matmul, matmul_backward, {a, b}, out);
    save_for_backward(node, a);
    save_for_backward(node, b);
  }
  return out;
}

namespace {

// Forward: C = A @ B. Backward: dA += dC @ B^T, dB += A^T @ dC.
void matmul_backward(Node& node) {
  const Tensor& a = saved_tensor(node, 0);
  const Tensor& b = saved_tensor(node, 1);
  const float* dout = output_grad(node);
  float* da = input_grad(node, 0);
  float* db = input_grad(node, 1);
  const bool shared_b = b.dim() == 2;
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  MatrixLayout la = describe_matrices(a);
  MatrixLayout lb = describe_matrices(b);

  // dA (M, K) += dC (M, N) @ B^T (N, K), per batch item.
  if (da) {
    if (shared_b)
      sgemm_batched(1, CblasNoTrans, flip(lb.trans), la.batch * m, k, n, dout, n, 0, lb.data,
                    lb.ld, 0, 1.0f, da, 0);
    else
      sgemm_batched(la.batch, CblasNoTrans, flip(lb.trans), m, k, n, dout, n, m * n, lb.data,
                    lb.ld, lb.batch_stride, 1.0f, da, m * k);
  }

  // dB (K, N) += A^T (K, M) @ dC (M, N); for a shared B the sum over the batch is one
  // sgemm over the folded rows of A (which needs A as a dense row-major stack).
  if (db) {
    if (shared_b) {
      if (la.trans != CblasNoTrans) {
        la.keep_alive = a.clone_values();
        la.data = la.keep_alive.data();
        la.ld = k;
      }
      sgemm_batched(1, CblasTrans, CblasNoTrans, k, n, la.batch * m, la.data, la.ld, 0, dout, n,
                    0, 1.0f, db, 0);
    } else {
      sgemm_batched(la.batch, flip(la.trans), CblasNoTrans, k, n, m, la.data, la.ld,
                    la.batch_stride, dout, n, m * n, 1.0f, db, k * n);
    }
  }
}

}  // namespace

void set_blas_threads(int n) { openblas_set_num_threads(n); }

std::string blas_parallel_mode() {
  switch (openblas_get_parallel()) {
    case 0: return "serial";
    case 1: return "pthread";
    case 2: return "openmp";
    default: return "unknown";
  }
}

}  // namespace entlab
