#include "autograd/tape.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ostream>

#include "core/error.h"

namespace entlab {

// Kept in the order of OpKind; the static_assert catches a missing entry.
static const char* const kOpNames[] = {
    "matmul",      "add",         "sub",          "mul",      "div",
    "scale",       "add_scalar",  "exp",          "sigmoid",  "sum",
    "mean",        "reshape",     "transpose",    "slice",    "concat",
    "contiguous",  "embedding",   "rmsnorm",      "gelu",     "softmax",
    "log_softmax", "logsumexp",   "entmax15",     "causal_mask", "rope",
    "alibi",       "cross_entropy", "scale_",     "set_element_", "sparsemax",
    "entmax_bisect", "softplus",  "tanh",         "length_scale", "layernorm",
    "relu",
};
static_assert(sizeof(kOpNames) / sizeof(kOpNames[0]) == static_cast<size_t>(OpKind::Count),
              "kOpNames must list one name per OpKind");

const char* op_name(OpKind op) {
  int index = static_cast<int>(op);
  ENTLAB_ASSERT(index >= 0 && index < static_cast<int>(OpKind::Count));
  return kOpNames[index];
}

namespace {

struct TapeState {
  std::vector<Node> nodes;
  bool grad_enabled = true;
};

TapeState& state() {
  static TapeState tape_state;
  return tape_state;
}

// The index of the first NaN or inf in `values`, or -1.
int64_t first_non_finite(const float* values, int64_t count) {
  for (int64_t i = 0; i < count; ++i)
    if (!std::isfinite(values[i])) return i;
  return -1;
}

}  // namespace

int debug_level() {
  static const int level = [] {
    const char* text = std::getenv("ENTLAB_DEBUG");
    return text ? std::atoi(text) : 0;
  }();
  return level;
}

bool grad_enabled() { return state().grad_enabled; }

NoGradGuard::NoGradGuard() : previous_(state().grad_enabled) { state().grad_enabled = false; }
NoGradGuard::~NoGradGuard() { state().grad_enabled = previous_; }

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!state().grad_enabled) return false;
  for (const Tensor& input : inputs)
    if (input.defined() && input.requires_grad()) return true;
  return false;
}

Node& record_op(OpKind op, BackwardFn backward_fn, std::vector<Tensor> inputs, const Tensor& output) {
  ENTLAB_ASSERT(backward_fn != nullptr);
  output.impl()->requires_grad = true;
  output.impl()->is_leaf = false;

  std::vector<Node>& nodes = state().nodes;
  nodes.emplace_back();
  Node& node = nodes.back();
  node.op = op;
  node.inputs = std::move(inputs);
  node.output = output;
  node.backward = backward_fn;
  if (debug_level() >= 1)
    std::fprintf(stderr, "[entlab] tape #%zu %s -> %s %s\n", nodes.size() - 1, op_name(op),
                 output.label().c_str(), shape_str(output.shape()).c_str());
  return node;
}

void save_for_backward(Node& node, const Tensor& tensor) {
  node.saved.push_back(tensor);
  node.saved_versions.push_back(tensor.version());
}

const Tensor& saved_tensor(const Node& node, size_t index) {
  ENTLAB_ASSERT(index < node.saved.size());
  const Tensor& tensor = node.saved[index];
  ENTLAB_CHECK(tensor.version() == node.saved_versions[index], node.name(),
               " backward: tensor ", tensor.label(), " of shape ", shape_str(tensor.shape()),
               " was saved for backward and then modified in place (version ",
               node.saved_versions[index], " -> ", tensor.version(),
               "); its gradient would be wrong.\nhint: write the modified value to a new tensor "
               "instead of changing it in place");
  return tensor;
}

void debug_check_forward(const char* op, const Tensor& output) {
  if (debug_level() < 2 || !output.is_contiguous()) return;
  int64_t bad = first_non_finite(output.data(), output.numel());
  if (bad >= 0) {
    std::fprintf(stderr, "[entlab] %s produced %g at flat index %lld of output %s %s\n", op,
                 output.data()[bad], static_cast<long long>(bad), output.label().c_str(),
                 shape_str(output.shape()).c_str());
    std::abort();
  }
}

const float* output_grad(const Node& node) {
  ENTLAB_ASSERT(node.output.impl()->grad);
  return node.output.grad().data();
}

float* input_grad(const Node& node, size_t index) {
  ENTLAB_ASSERT(index < node.inputs.size());
  const Tensor& input = node.inputs[index];
  if (!input.defined() || !input.requires_grad()) return nullptr;
  return input.ensure_grad().data();
}

// Aborts at the first non-finite input gradient, naming the op (ENTLAB_DEBUG >= 2).
static void debug_check_backward(const Node& node) {
  for (const Tensor& input : node.inputs) {
    if (!input.defined() || !input.impl()->grad) continue;
    Tensor grad = input.grad();
    int64_t bad = first_non_finite(grad.data(), grad.numel());
    if (bad >= 0) {
      std::fprintf(stderr, "[entlab] %s backward produced %g in the gradient of %s %s at flat index %lld\n",
                   node.name(), grad.data()[bad], input.label().c_str(),
                   shape_str(input.shape()).c_str(), static_cast<long long>(bad));
      std::abort();
    }
  }
}

// True when the node's output is also one of its inputs (an in-place op).
static bool is_inplace(const Node& node) {
  for (const Tensor& input : node.inputs)
    if (input.impl() == node.output.impl()) return true;
  return false;
}

void backward(const Tensor& root, const Tensor& seed, bool retain_graph) {
  ENTLAB_CHECK(root.defined(), "backward: the root tensor is undefined");
  ENTLAB_CHECK(root.requires_grad(), "backward: tensor ", root.label(),
               " does not require grad (was it computed under NoGradGuard, or from "
               "tensors that do not require grad?)");
  if (!seed.defined())
    ENTLAB_CHECK(root.numel() == 1, "backward: root ", root.label(), " has shape ",
                 shape_str(root.shape()), "; pass a seed gradient of that shape or reduce it to a scalar");
  else
    ENTLAB_CHECK(seed.shape() == root.shape(), "backward: seed of shape ", shape_str(seed.shape()),
                 " does not match root ", root.label(), " of shape ", shape_str(root.shape()));

  // 1. Seed: d root / d root = 1 (or the caller's vector for a vector-Jacobian product).
  //    A root without a gradient yet takes a copy of the seed (one pass over memory);
  //    otherwise the seed is added to what is there.
  if (!root.impl()->grad) {
    Tensor copy = seed.defined() ? seed.clone_values() : Tensor::ones(root.shape());
    copy.set_name(root.name().empty() ? "" : "grad of " + root.name());
    root.set_grad(copy);
  } else {
    Tensor dense_seed = !seed.defined() ? Tensor::ones(root.shape()) : seed.is_contiguous() ? seed : seed.clone_values();
    float* root_grad = root.grad().data();
    for (int64_t i = 0; i < root.numel(); ++i) root_grad[i] += dense_seed.data()[i];
  }

  // 2. Walk the tape from the newest node to the oldest. If a backward function throws
  //    (a tensor saved for backward was modified in place), the graph is dropped all the
  //    same, so the next backward never walks stale nodes.
  struct ClearOnError {
    bool armed = true;
    ~ClearOnError() {
      if (armed) clear_tape();
    }
  } clear_on_error;
  std::vector<Node>& nodes = state().nodes;
  for (size_t i = nodes.size(); i-- > 0;) {
    Node& node = nodes[i];
    TensorImpl* output = node.output.impl();
    if (!output->grad) continue;  // nothing downstream of this op reached the root

    node.backward(node);
    if (debug_level() >= 2) debug_check_backward(node);

    // The output's gradient is complete and consumed; free it unless someone wants it.
    if (!output->is_leaf && !output->retain_grad && !is_inplace(node)) output->grad.reset();
  }

  // 3. Drop the graph (and the intermediate tensors it keeps alive).
  clear_on_error.armed = false;
  if (!retain_graph) clear_tape();
}

void clear_tape() { state().nodes.clear(); }

size_t tape_size() { return state().nodes.size(); }

void print_tape(std::ostream& out) {
  const std::vector<Node>& nodes = state().nodes;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& node = nodes[i];
    out << "#" << i << " " << node.name() << " -> " << node.output.label() << " "
        << shape_str(node.output.shape()) << " <- ";
    for (size_t k = 0; k < node.inputs.size(); ++k) {
      const Tensor& input = node.inputs[k];
      out << (k ? ", " : "") << input.label() << " " << shape_str(input.shape())
          << (input.requires_grad() ? (input.impl()->is_leaf ? " [leaf]" : "") : " [const]");
    }
    out << "\n";
  }
}

void write_tape_dot(std::ostream& out) {
  const std::vector<Node>& nodes = state().nodes;
  out << "digraph tape {\n  rankdir=LR;\n  node [fontname=monospace];\n";
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& node = nodes[i];
    out << "  op" << i << " [shape=box, label=\"#" << i << " " << node.name() << "\\n"
        << shape_str(node.output.shape()) << "\"];\n";
    for (const Tensor& input : node.inputs)
      out << "  t" << input.impl() << " [shape=ellipse, label=\"" << input.label() << "\\n"
          << shape_str(input.shape()) << "\"];\n  t" << input.impl() << " -> op" << i << ";\n";
    out << "  op" << i << " -> t" << node.output.impl() << ";\n  t" << node.output.impl()
        << " [shape=ellipse, label=\"" << node.output.label() << "\\n"
        << shape_str(node.output.shape()) << "\"];\n";
  }
  out << "}\n";
}

}  // namespace entlab
