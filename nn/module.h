// Module: a named collection of parameters and child modules (as torch::nn::Module).
//
// Parameters get dotted path names at registration ("blocks.0.attn.q_proj.weight"),
// so NaN reports, graph dumps, checkpoints and gradient checks describe themselves.
// Forward methods are plain, non-virtual member functions of each concrete module.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"

namespace entlab::nn {

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Every parameter of this module and its children, with full dotted names, in
  // registration order (stable, so checkpoints and optimizer state line up).
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<Tensor> parameters() const;
  int64_t parameter_count() const;
  // Zeroes the gradient buffers of every parameter (backward only accumulates).
  void zero_grad() const;

 protected:
  // Registers a parameter: names it "<prefix>.<name>" and marks it requires_grad.
  Tensor register_parameter(const std::string& name, Tensor parameter);
  // Registers a child; its parameters are listed under "<name>.".
  void register_module(const std::string& name, Module& child);

 private:
  void collect(const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out) const;
  void rename_parameters(const std::string& prefix);

  std::vector<std::pair<std::string, Tensor>> parameters_;
  std::vector<std::pair<std::string, Module*>> children_;
};

// Fills `t` with samples of N(0, std^2).
void init_normal(Tensor& t, Rng& rng, float std);

}  // namespace entlab::nn
