#include "nn/config.h"

#include <cmath>

#include "core/error.h"
#include "core/json_reader.h"

namespace entlab::nn {

const std::vector<std::string>& transform_names() {
  static const std::vector<std::string> names = {"softmax", "entmax15", "sparsemax", "entmax"};
  return names;
}

const std::vector<std::string>& scaling_names() {
  static const std::vector<std::string> names = {"none", "ssmax", "asentmax-head", "asentmax-token"};
  return names;
}

const std::vector<std::string>& position_names() {
  static const std::vector<std::string> names = {"rope", "nope", "alibi", "nape"};
  return names;
}

Transform parse_transform(const std::string& name) {
  const auto& names = transform_names();
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<Transform>(i);
  throw Error(str_cat("unknown attention transform '", name, "'; valid: ", join(names, ", ")));
}

Scaling parse_scaling(const std::string& name) {
  const auto& names = scaling_names();
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<Scaling>(i);
  throw Error(str_cat("unknown length scaling '", name, "'; valid: ", join(names, ", ")));
}

PositionEncoding parse_position(const std::string& name) {
  const auto& names = position_names();
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<PositionEncoding>(i);
  throw Error(str_cat("unknown position encoding '", name, "'; valid: ", join(names, ", ")));
}

std::string to_string(Transform transform) { return transform_names()[static_cast<size_t>(transform)]; }
std::string to_string(PositionEncoding position) { return position_names()[static_cast<size_t>(position)]; }
std::string to_string(Scaling scaling) { return scaling_names()[static_cast<size_t>(scaling)]; }

void ModelConfig::validate() const {
  auto require_positive = [](const char* key, int64_t value) {
    ENTLAB_CHECK(value > 0, "invalid model." , key, " = ", value, ": must be a positive integer");
  };
  require_positive("vocab_size", vocab_size);
  require_positive("d_model", d_model);
  require_positive("n_layers", n_layers);
  require_positive("n_heads", n_heads);
  require_positive("head_size", head_size);
  require_positive("mlp_hidden", mlp_hidden);
  ENTLAB_CHECK(position != PositionEncoding::Rope || head_size % 2 == 0, "invalid model.head_size = ",
               head_size, ": RoPE rotates pairs of dimensions, so the head size must be even");
  ENTLAB_CHECK(position != PositionEncoding::Nape || n_heads % 2 == 0, "invalid model.n_heads = ",
               n_heads, ": NAPE splits the heads in two equal halves (ALiBi and no position), so "
               "the head count must be even");
  ENTLAB_CHECK(nape_slopes == "linear" || nape_slopes == "exp", "invalid model.nape_slopes = '",
               nape_slopes, "'; valid: linear, exp");
  ENTLAB_CHECK(transform != Transform::Entmax || (alpha > 1 && alpha <= 10), "invalid model.alpha = ", alpha,
               ": alpha-entmax needs 1 < alpha <= 10 (use transform softmax for alpha = 1)");
  ENTLAB_CHECK(!learn_alpha || transform == Transform::Entmax, "invalid model.learn_alpha = true with transform ",
               to_string(transform), ": a learned alpha needs transform entmax");
  ENTLAB_CHECK(!learn_alpha || alpha > 1.02, "invalid model.alpha = ", alpha,
               " with learn_alpha: a learned alpha starts above 1.02 (it never goes below 1.01)");
  ENTLAB_CHECK(scale_beta_init > 0, "invalid model.scale_beta_init = ", scale_beta_init, ": must be positive");
  ENTLAB_CHECK(scale_gamma_range > 0, "invalid model.scale_gamma_range = ", scale_gamma_range, ": must be positive");
  ENTLAB_CHECK(std::isfinite(scale_delta) && std::isfinite(ssmax_init), "invalid model.scale_delta or ssmax_init: "
               "must be finite");
  ENTLAB_CHECK(init_std > 0 && init_std <= 1, "invalid model.init_std = ", init_std, ": must be in (0, 1]");
  ENTLAB_CHECK(norm_eps > 0, "invalid model.norm_eps = ", norm_eps, ": must be positive");
  ENTLAB_CHECK(rope_base > 1, "invalid model.rope_base = ", rope_base, ": must be greater than 1");
}

std::vector<float> alibi_slopes(int64_t n_heads) {
  auto power_of_two_slopes = [](int64_t n) {
    std::vector<float> slopes;
    for (int64_t h = 1; h <= n; ++h) slopes.push_back(static_cast<float>(std::pow(2.0, -8.0 * h / n)));
    return slopes;
  };
  int64_t base = 1;
  while (base * 2 <= n_heads) base *= 2;
  std::vector<float> slopes = power_of_two_slopes(base);
  // For a head count that is not a power of 2, take every other slope of the next
  // power of 2 (Press et al., 2022, reference implementation's rule).
  std::vector<float> extra = power_of_two_slopes(2 * base);
  for (int64_t i = 0; static_cast<int64_t>(slopes.size()) < n_heads; i += 2) slopes.push_back(extra[i]);
  return slopes;
}

std::vector<float> head_slopes(const ModelConfig& config) {
  std::vector<float> slopes(static_cast<size_t>(config.n_heads), 0.0f);
  if (config.position == PositionEncoding::Alibi) return alibi_slopes(config.n_heads);
  if (config.position != PositionEncoding::Nape) return slopes;
  for (int64_t h = 1; h <= config.n_heads / 2; ++h)
    slopes[h - 1] = config.nape_slopes == "exp" ? static_cast<float>(std::ldexp(1.0, -(h - 1)))
                                                : 1.0f / static_cast<float>(h);
  return slopes;
}

std::vector<bool> scaled_heads(const ModelConfig& config) {
  std::vector<bool> scaled(static_cast<size_t>(config.n_heads), config.scaling != Scaling::None);
  if (config.position == PositionEncoding::Nape)
    for (int64_t h = 0; h < config.n_heads / 2; ++h) scaled[h] = false;  // the ALiBi half keeps scale 1
  return scaled;
}

nlohmann::json to_json(const ModelConfig& config) {
  return {
      {"vocab_size", config.vocab_size},   {"d_model", config.d_model},
      {"n_layers", config.n_layers},       {"n_heads", config.n_heads},
      {"head_size", config.head_size},     {"mlp_hidden", config.mlp_hidden},
      {"transform", to_string(config.transform)}, {"position", to_string(config.position)},
      {"nape_slopes", config.nape_slopes}, {"rope_base", config.rope_base},
      {"init_std", json_number(config.init_std)}, {"norm_eps", json_number(config.norm_eps)},
      {"alpha", config.alpha},             {"learn_alpha", config.learn_alpha},
      {"scaling", to_string(config.scaling)},
      {"scale_delta", json_number(config.scale_delta)},
      {"scale_beta_init", json_number(config.scale_beta_init)},
      {"scale_gamma_range", json_number(config.scale_gamma_range)},
      {"ssmax_init", json_number(config.ssmax_init)},
  };
}

ModelConfig model_config_from_json(const nlohmann::json& json) {
  JsonReader reader(json, "model");
  ModelConfig config;
  reader.read("vocab_size", config.vocab_size);
  reader.read("d_model", config.d_model);
  reader.read("n_layers", config.n_layers);
  reader.read("n_heads", config.n_heads);
  reader.read("head_size", config.head_size);
  reader.read("mlp_hidden", config.mlp_hidden);
  std::string transform = to_string(config.transform);
  reader.read("transform", transform);
  std::string position = to_string(config.position);
  reader.read("position", position);
  try {
    config.transform = parse_transform(transform);
    config.position = parse_position(position);
  } catch (const Error& error) {
    throw Error(str_cat("invalid model.", transform == to_string(config.transform) ? "position" : "transform",
                        ": ", error.what()));
  }
  reader.read("nape_slopes", config.nape_slopes);
  reader.read("rope_base", config.rope_base);
  reader.read("init_std", config.init_std);
  reader.read("norm_eps", config.norm_eps);
  reader.read("alpha", config.alpha);
  reader.read("learn_alpha", config.learn_alpha);
  std::string scaling = to_string(config.scaling);
  reader.read("scaling", scaling);
  try {
    config.scaling = parse_scaling(scaling);
  } catch (const Error& error) {
    throw Error(str_cat("invalid model.scaling: ", error.what()));
  }
  reader.read("scale_delta", config.scale_delta);
  reader.read("scale_beta_init", config.scale_beta_init);
  reader.read("scale_gamma_range", config.scale_gamma_range);
  reader.read("ssmax_init", config.ssmax_init);
  reader.finish();
  return config;
}

}  // namespace entlab::nn
