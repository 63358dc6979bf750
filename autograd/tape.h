// The tape: reverse-mode automatic differentiation as a list of nodes.
//
// Every differentiable op appends one Node (op kind, inputs, output, saved tensors,
// a named backward function) when any input requires grad. backward() walks the
// list from the end to the start in one plain loop, so a breakpoint on, say,
// softmax_backward stops exactly at the softmax step of the backward pass.
//
// Gradient convention: backward functions ALWAYS accumulate (+=) into input
// gradients and never zero them. Zeroing parameter gradients is explicit
// (Module::zero_grad, or Tensor::zero_grad). Gradients of intermediate tensors are
// freed once their node's backward has run, unless retain_grad is set.
//
// Set ENTLAB_DEBUG=1 to log every recorded op, =2 to also check every forward
// output and every gradient for NaN/inf and stop at the first one, naming the op.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace entlab {

enum class OpKind : int {
  Matmul,
  Add,
  Sub,
  Mul,
  Div,
  Scale,
  AddScalar,
  Exp,
  Sigmoid,
  Sum,
  Mean,
  Reshape,
  Transpose,
  Slice,
  Concat,
  Contiguous,
  Embedding,
  RmsNorm,
  Gelu,
  Softmax,
  LogSoftmax,
  LogSumExp,
  Entmax15,
  CausalMask,
  Rope,
  Alibi,
  CrossEntropy,
  ScaleInplace,
  SetElementInplace,
  Sparsemax,
  EntmaxBisect,
  Softplus,
  Tanh,
  LengthScale,
  LayerNorm,
  Relu,
  Count  // keep last
};

// The op's name as shown in errors, logs and graph dumps ("matmul", "entmax15", ...).
const char* op_name(OpKind op);

struct Node;
using BackwardFn = void (*)(Node& node);

// One recorded op. Plain data, so gdb prints it whole.
struct Node {
  OpKind op = OpKind::Count;
  std::vector<Tensor> inputs;
  Tensor output;
  std::vector<Tensor> saved;             // tensors backward needs besides inputs/output
  std::vector<uint64_t> saved_versions;  // storage versions when saved; checked in backward
  std::vector<int64_t> int_args;         // op attributes: dims, sizes, indices
  std::vector<double> real_args;         // op attributes: scales, epsilons
  BackwardFn backward = nullptr;

  const char* name() const { return op_name(op); }
};

// --- Recording (used by ops) ---------------------------------------------------------

bool grad_enabled();

// Disables recording for its lifetime (evaluation, optimizer steps).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// True when grad mode is on and at least one input requires grad.
bool any_requires_grad(const std::vector<Tensor>& inputs);

// Appends a node producing `output` from `inputs`; marks output as requiring grad.
// Returns the node so the op can save tensors and attributes. Call only when
// any_requires_grad(inputs) is true.
Node& record_op(OpKind op, BackwardFn backward, std::vector<Tensor> inputs, const Tensor& output);
// Saves a tensor for backward and remembers its storage version.
void save_for_backward(Node& node, const Tensor& tensor);
// Returns saved tensor `index`, or throws if it was modified in place since it was saved.
const Tensor& saved_tensor(const Node& node, size_t index);
// Checks a forward result for NaN/inf when ENTLAB_DEBUG >= 2 (no-op otherwise).
void debug_check_forward(const char* op, const Tensor& output);

// --- Helpers for backward functions ---------------------------------------------------

// The gradient flowing into the node's output (always allocated when backward runs).
const float* output_grad(const Node& node);
// Where to accumulate input `index`'s gradient, or nullptr if that input needs none.
float* input_grad(const Node& node, size_t index);

// --- Running backward ----------------------------------------------------------------

// Seeds root's gradient (with ones if seed is undefined, else with seed) and runs the
// tape backwards. Clears the tape afterwards unless retain_graph is true.
void backward(const Tensor& root, const Tensor& seed = Tensor(), bool retain_graph = false);

// Drops every recorded node (and with them the intermediate tensors they hold).
void clear_tape();
size_t tape_size();
// Prints one line per node: index, op, output name and shape, input names.
void print_tape(std::ostream& out);
// Writes the tape as a Graphviz digraph.
void write_tape_dot(std::ostream& out);

// Debug level from ENTLAB_DEBUG (0 when unset).
int debug_level();

}  // namespace entlab
