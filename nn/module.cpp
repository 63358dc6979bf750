#include "nn/module.h"

#include "core/error.h"

namespace entlab::nn {

Tensor Module::register_parameter(const std::string& name, Tensor parameter) {
  parameter.set_name(name);
  parameter.set_requires_grad(true);
  parameters_.emplace_back(name, parameter);
  return parameter;
}

void Module::register_module(const std::string& name, Module& child) {
  children_.emplace_back(name, &child);
  child.rename_parameters(name);
}

// Prefixes the stored names of this subtree's parameters, so each tensor's own name
// is its full dotted path by the time the root module is built.
void Module::rename_parameters(const std::string& prefix) {
  for (auto& [name, parameter] : parameters_) parameter.set_name(prefix + "." + parameter.name());
  for (auto& [child_name, child] : children_) child->rename_parameters(prefix);
}

void Module::collect(const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out) const {
  for (const auto& [name, parameter] : parameters_) out.emplace_back(prefix + name, parameter);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect("", out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, parameter] : named_parameters()) out.push_back(parameter);
  return out;
}

int64_t Module::parameter_count() const {
  int64_t count = 0;
  for (const Tensor& parameter : parameters()) count += parameter.numel();
  return count;
}

void Module::zero_grad() const {
  for (const Tensor& parameter : parameters()) parameter.zero_grad();
}

void init_normal(Tensor& t, Rng& rng, float std) {
  ENTLAB_ASSERT(t.is_contiguous());
  float* data = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) data[i] = std * rng.normal();
}

}  // namespace entlab::nn
