#include "core/tensor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <sstream>

#include "core/error.h"

namespace entlab {

std::string shape_str(const Shape& shape) {
  std::ostringstream out;
  out << "(";
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  if (shape.size() == 1) out << ",";
  out << ")";
  return out.str();
}

int64_t shape_numel(const Shape& shape) {
  int64_t count = 1;
  for (int64_t extent : shape) count *= extent;
  return count;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= shape[i];
  }
  return strides;
}

int64_t normalize_dim(int64_t dim, int64_t rank, const char* op) {
  int64_t normalized = dim < 0 ? dim + rank : dim;
  ENTLAB_CHECK(normalized >= 0 && normalized < rank, op, ": dimension ", dim,
               " is out of range for a tensor of rank ", rank);
  return normalized;
}

// --- Storage ---------------------------------------------------------------------

namespace {

// Freed buffers, kept by byte size for the next allocation of the same size. Training
// steps allocate the same shapes every step, so after warm-up most allocations are a
// lookup here instead of malloc plus fresh pages from the kernel.
class BufferPool {
 public:
  void* acquire(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(bytes);
      if (it != free_.end() && !it->second.empty()) {
        void* buffer = it->second.back();
        it->second.pop_back();
        cached_bytes_ -= bytes;
        return buffer;
      }
    }
    return std::aligned_alloc(64, bytes);
  }

  void release(void* buffer, size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (cached_bytes_ + bytes > kMaxCachedBytes) {
      std::free(buffer);
      return;
    }
    free_[bytes].push_back(buffer);
    cached_bytes_ += bytes;
  }

  ~BufferPool() {
    for (auto& [bytes, buffers] : free_)
      for (void* buffer : buffers) std::free(buffer);
  }

 private:
  // Beyond this, freed buffers go back to the system (e.g. after evaluating long sequences).
  static constexpr size_t kMaxCachedBytes = size_t{256} << 20;
  std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t cached_bytes_ = 0;
};

BufferPool& buffer_pool() {
  static BufferPool* pool = new BufferPool();  // never destroyed: tensors may outlive statics
  return *pool;
}

size_t storage_bytes(int64_t count) {
  size_t bytes = static_cast<size_t>(std::max<int64_t>(count, 1)) * sizeof(float);
  return (bytes + 63) / 64 * 64;  // aligned_alloc needs a multiple of the alignment
}

}  // namespace

Storage::Storage(int64_t count) : size(count) {
  ENTLAB_CHECK(count >= 0, "cannot allocate a tensor with ", count, " elements");
  data = static_cast<float*>(buffer_pool().acquire(storage_bytes(count)));
  ENTLAB_CHECK(data != nullptr, "out of memory allocating ", count, " floats");
}

Storage::~Storage() { buffer_pool().release(data, storage_bytes(size)); }

// --- Factories ---------------------------------------------------------------------

Tensor Tensor::empty(const Shape& shape, std::string name) {
  for (int64_t extent : shape)
    ENTLAB_CHECK(extent >= 0, "invalid tensor shape ", shape_str(shape), ": negative extent");
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->storage = std::make_shared<Storage>(shape_numel(shape));
  impl->name = std::move(name);
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape, std::string name) {
  Tensor result = empty(shape, std::move(name));
  std::memset(result.data(), 0, static_cast<size_t>(result.numel()) * sizeof(float));
  return result;
}

Tensor Tensor::full(const Shape& shape, float value, std::string name) {
  Tensor result = empty(shape, std::move(name));
  std::fill_n(result.data(), result.numel(), value);
  return result;
}

Tensor Tensor::from_vector(const Shape& shape, const std::vector<float>& values, std::string name) {
  ENTLAB_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "from_vector: shape ",
               shape_str(shape), " needs ", shape_numel(shape), " values, got ", values.size());
  Tensor result = empty(shape, std::move(name));
  std::copy(values.begin(), values.end(), result.data());
  return result;
}

// --- Accessors --------------------------------------------------------------------

const Shape& Tensor::shape() const {
  ENTLAB_ASSERT(impl_);
  return impl_->shape;
}

const Shape& Tensor::strides() const {
  ENTLAB_ASSERT(impl_);
  return impl_->strides;
}

int64_t Tensor::size(int64_t d) const { return shape()[normalize_dim(d, dim(), "size")]; }

bool Tensor::is_contiguous() const { return strides() == contiguous_strides(shape()); }

float* Tensor::data() const {
  ENTLAB_ASSERT(impl_);
  return impl_->storage->data + impl_->offset;
}

float Tensor::item() const {
  ENTLAB_CHECK(numel() == 1, "item: tensor ", label(), " of shape ", shape_str(shape()),
               " has ", numel(), " elements, expected 1");
  return data()[0];
}

static int64_t element_offset(const Tensor& t, std::initializer_list<int64_t> index) {
  ENTLAB_CHECK(static_cast<int64_t>(index.size()) == t.dim(), "index of rank ", index.size(),
               " used on tensor ", t.label(), " of shape ", shape_str(t.shape()));
  int64_t offset = 0;
  int64_t d = 0;
  for (int64_t i : index) {
    ENTLAB_CHECK(i >= 0 && i < t.shape()[d], "index ", i, " out of range for dimension ", d,
                 " of tensor ", t.label(), " with shape ", shape_str(t.shape()));
    offset += i * t.strides()[d];
    ++d;
  }
  return offset;
}

float Tensor::at(std::initializer_list<int64_t> index) const { return data()[element_offset(*this, index)]; }

void Tensor::set_at(std::initializer_list<int64_t> index, float value) {
  ENTLAB_CHECK(!requires_grad(), "set_at: tensor ", label(),
               " requires grad, so an untracked write would corrupt its gradient; "
               "use set_element_ from ops/elementwise.h");
  data()[element_offset(*this, index)] = value;
  bump_version();
}

std::vector<float> Tensor::to_vector() const {
  std::vector<float> values(static_cast<size_t>(numel()));
  if (is_contiguous()) {
    std::copy_n(data(), numel(), values.begin());
    return values;
  }
  // Walk the logical index with an odometer over the strides.
  Shape index(shape().size(), 0);
  const float* base = data();
  for (size_t flat = 0; flat < values.size(); ++flat) {
    int64_t offset = 0;
    for (size_t d = 0; d < index.size(); ++d) offset += index[d] * strides()[d];
    values[flat] = base[offset];
    for (size_t d = index.size(); d-- > 0;) {
      if (++index[d] < shape()[d]) break;
      index[d] = 0;
    }
  }
  return values;
}

const std::string& Tensor::name() const {
  ENTLAB_ASSERT(impl_);
  return impl_->name;
}

Tensor& Tensor::set_name(std::string name) {
  ENTLAB_ASSERT(impl_);
  impl_->name = std::move(name);
  return *this;
}

std::string Tensor::label() const {
  if (!impl_) return "(undefined)";
  return impl_->name.empty() ? std::string("(unnamed)") : "'" + impl_->name + "'";
}

// --- Gradients --------------------------------------------------------------------

Tensor& Tensor::set_requires_grad(bool value) {
  ENTLAB_ASSERT(impl_);
  impl_->requires_grad = value;
  return *this;
}

Tensor Tensor::grad() const {
  ENTLAB_ASSERT(impl_);
  return Tensor(impl_->grad);
}

Tensor Tensor::ensure_grad() const {
  ENTLAB_ASSERT(impl_);
  if (!impl_->grad) {
    std::string grad_name = impl_->name.empty() ? "" : "grad of " + impl_->name;
    impl_->grad = Tensor::zeros(shape(), std::move(grad_name)).impl_ptr();
  }
  return Tensor(impl_->grad);
}

void Tensor::set_grad(const Tensor& grad) const {
  ENTLAB_ASSERT(impl_);
  if (grad.defined())
    ENTLAB_CHECK(grad.shape() == shape() && grad.is_contiguous(), "set_grad: gradient of shape ",
                 shape_str(grad.shape()), " does not fit tensor ", label(), " of shape ",
                 shape_str(shape()));
  impl_->grad = grad.impl_ptr();
}

void Tensor::zero_grad() const {
  ENTLAB_ASSERT(impl_);
  if (impl_->grad) std::memset(impl_->grad->storage->data + impl_->grad->offset, 0,
                               static_cast<size_t>(numel()) * sizeof(float));
}

uint64_t Tensor::version() const {
  ENTLAB_ASSERT(impl_);
  return impl_->storage->version;
}

void Tensor::bump_version() const {
  ENTLAB_ASSERT(impl_);
  ++impl_->storage->version;
}

bool Tensor::shares_storage(const Tensor& other) const {
  return impl_ && other.impl_ && impl_->storage == other.impl_->storage;
}

// --- Views ------------------------------------------------------------------------

Tensor Tensor::view_as_shape(const Shape& new_shape) const {
  ENTLAB_CHECK(shape_numel(new_shape) == numel(), "reshape: cannot view tensor ", label(),
               " of shape ", shape_str(shape()), " (", numel(), " elements) as ",
               shape_str(new_shape), " (", shape_numel(new_shape), " elements)");
  ENTLAB_CHECK(is_contiguous(), "reshape: tensor ", label(), " of shape ", shape_str(shape()),
               " is not contiguous; call contiguous() first");
  auto impl = std::make_shared<TensorImpl>(*impl_);
  impl->shape = new_shape;
  impl->strides = contiguous_strides(new_shape);
  if (!impl->name.empty()) impl->name = "view of " + impl->name;
  impl->requires_grad = false;
  impl->is_leaf = true;
  impl->is_view = true;
  impl->grad = nullptr;
  return Tensor(std::move(impl));
}

Tensor Tensor::view_transposed(int64_t dim0, int64_t dim1) const {
  int64_t a = normalize_dim(dim0, dim(), "transpose");
  int64_t b = normalize_dim(dim1, dim(), "transpose");
  auto impl = std::make_shared<TensorImpl>(*impl_);
  std::swap(impl->shape[a], impl->shape[b]);
  std::swap(impl->strides[a], impl->strides[b]);
  if (!impl->name.empty()) impl->name += ".T";
  impl->requires_grad = false;
  impl->is_leaf = true;
  impl->is_view = true;
  impl->grad = nullptr;
  return Tensor(std::move(impl));
}

Tensor Tensor::clone_values() const {
  Tensor copy = Tensor::empty(shape(), name());
  if (is_contiguous()) {
    std::copy_n(data(), numel(), copy.data());
    return copy;
  }
  std::vector<float> values = to_vector();
  std::copy(values.begin(), values.end(), copy.data());
  return copy;
}

}  // namespace entlab
