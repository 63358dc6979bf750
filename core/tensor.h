// Tensor: a float32 n-d array with shape, strides, a shared storage and a name.
//
// Layout is row-major (PyTorch order, last dimension contiguous). A Tensor is a
// cheap handle to a TensorImpl; copies share the same data. reshape and transpose
// views share the storage; kernels that need dense rows call contiguous() first.
//
// Autograd fields live here too (requires_grad, grad) so that a tensor carries its
// own gradient buffer; the tape that fills them is in autograd/.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace entlab {

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& shape);
int64_t shape_numel(const Shape& shape);
Shape contiguous_strides(const Shape& shape);

// A 64-byte aligned float buffer. `version` counts in-place writes, so the tape
// can detect that a tensor saved for backward was changed afterwards.
struct Storage {
  explicit Storage(int64_t size);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  float* data = nullptr;
  int64_t size = 0;
  uint64_t version = 0;
};

struct TensorImpl {
  Shape shape;
  Shape strides;
  int64_t offset = 0;  // in floats, into storage
  std::shared_ptr<Storage> storage;
  std::string name;
  bool requires_grad = false;
  bool is_leaf = true;       // false once an op on the tape produced this tensor
  bool is_view = false;      // shares another tensor's storage (reshape, transpose, slice)
  bool retain_grad = false;  // keep the gradient of a non-leaf after backward
  std::shared_ptr<TensorImpl> grad;  // contiguous, same shape; allocated on first use
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // Factories. `empty` leaves the values uninitialised.
  static Tensor empty(const Shape& shape, std::string name = "");
  static Tensor zeros(const Shape& shape, std::string name = "");
  static Tensor full(const Shape& shape, float value, std::string name = "");
  static Tensor ones(const Shape& shape, std::string name = "") { return full(shape, 1.0f, std::move(name)); }
  static Tensor from_vector(const Shape& shape, const std::vector<float>& values, std::string name = "");
  static Tensor scalar(float value, std::string name = "") { return from_vector({}, {value}, std::move(name)); }

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

  const Shape& shape() const;
  const Shape& strides() const;
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  // Size of dimension `d`; negative d counts from the end as in PyTorch.
  int64_t size(int64_t d) const;
  int64_t numel() const { return shape_numel(shape()); }
  bool is_contiguous() const;

  // Pointer to the first element (storage data + offset). Writing through it does
  // not bump the version; in-place ops call bump_version() themselves.
  float* data() const;
  float item() const;
  // Reads one element by full index; slow, meant for tests and debugging.
  float at(std::initializer_list<int64_t> index) const;
  // Writes one element in place and bumps the version.
  void set_at(std::initializer_list<int64_t> index, float value);
  // Copies the values out in logical (row-major) order, whatever the strides.
  std::vector<float> to_vector() const;

  const std::string& name() const;
  Tensor& set_name(std::string name);
  // The name for messages: the tensor's name, or "(unnamed)".
  std::string label() const;

  bool requires_grad() const { return impl_ && impl_->requires_grad; }
  Tensor& set_requires_grad(bool value);
  // The accumulated gradient, or an undefined tensor if none arrived yet.
  Tensor grad() const;
  // The gradient buffer, allocated and zeroed on first use ("grad of <name>").
  Tensor ensure_grad() const;
  void set_grad(const Tensor& grad) const;
  void zero_grad() const;

  uint64_t version() const;
  void bump_version() const;
  bool shares_storage(const Tensor& other) const;

  // Non-recording views; the autograd-aware versions are in ops/shape.h.
  Tensor view_as_shape(const Shape& new_shape) const;
  Tensor view_transposed(int64_t dim0, int64_t dim1) const;
  // A contiguous copy of the values (no autograd); a fresh buffer even if already contiguous.
  Tensor clone_values() const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// Maps a possibly negative dimension index to [0, rank), or throws naming `op`.
int64_t normalize_dim(int64_t dim, int64_t rank, const char* op);

}  // namespace entlab
