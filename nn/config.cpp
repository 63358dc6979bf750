#include "nn/config.h"

#include <cmath>

namespace entlab::nn {

void ModelConfig::validate() const {
  auto require_size = [](const char* key, int64_t value, int64_t max) {
    ENTLAB_CHECK(value > 0 && value <= max, "invalid model.", key, " = ", value, ": must be an integer from 1 to ",
                 max);
  };
  require_size("vocab_size", vocab_size, kMaxVocab);
  require_size("d_model", d_model, kMaxModelWidth);
  require_size("n_layers", n_layers, kMaxLayers);
  require_size("n_heads", n_heads, kMaxHeads);
  require_size("head_size", head_size, kMaxModelWidth);
  require_size("mlp_hidden", mlp_hidden, kMaxModelWidth);
  ENTLAB_CHECK(init_std > 0 && init_std <= 1, "invalid model.init_std = ", init_std, ": must be in (0, 1]");
  ENTLAB_CHECK(norm_eps > 0, "invalid model.norm_eps = ", norm_eps, ": must be positive");

  ENTLAB_CHECK(transform != Transform::Entmax || (alpha > 1 && alpha <= 10), "invalid attention.alpha = ", alpha,
               ": alpha-entmax needs 1 < alpha <= 10 (use transform softmax for alpha = 1)");
  ENTLAB_CHECK(!learn_alpha || transform == Transform::Entmax, "invalid attention.learn_alpha = true with "
               "attention.transform = ", to_string(transform), ": a learned alpha needs transform entmax");
  ENTLAB_CHECK(!learn_alpha || alpha > 1.02, "invalid attention.alpha = ", alpha,
               " with learn_alpha: a learned alpha starts above 1.02 (it never goes below 1.01)");
  ENTLAB_CHECK(position != PositionEncoding::Rope || head_size % 2 == 0, "invalid model.head_size = ", head_size,
               " with attention.position = rope: RoPE rotates pairs of dimensions, so the head size must be even");
  ENTLAB_CHECK(rope_base > 1, "invalid attention.rope_base = ", rope_base, ": must be greater than 1");
  ENTLAB_CHECK(nape_alibi_fraction > 0 && nape_alibi_fraction < 1, "invalid attention.nape_alibi_fraction = ",
               nape_alibi_fraction, ": must be in (0, 1), NAPE needs heads of both kinds");
  // 0.28 * 25 is 7.000000000000001 in double, so "whole" allows a rounding error.
  const double alibi_heads = nape_alibi_fraction * static_cast<double>(n_heads);
  const bool whole = std::fabs(alibi_heads - std::round(alibi_heads)) < 1e-9;
  ENTLAB_CHECK(position != PositionEncoding::Nape || (whole && std::round(alibi_heads) >= 1 &&
                                                      std::round(alibi_heads) <= static_cast<double>(n_heads - 1)),
               "invalid model.n_heads = ", n_heads, " with attention.position = nape: attention.nape_alibi_fraction = ",
               nape_alibi_fraction, " of ", n_heads, " heads is ", alibi_heads,
               " ALiBi heads; the fraction times the head count must be a whole number from 1 to n_heads - 1 "
               "(with the default 0.5, use an even head count)");
  ENTLAB_CHECK(scale_beta_init > 0, "invalid attention.scale_beta_init = ", scale_beta_init, ": must be positive");
  ENTLAB_CHECK(scale_gamma_range > 0, "invalid attention.scale_gamma_range = ", scale_gamma_range,
               ": must be positive");
  ENTLAB_CHECK(std::isfinite(scale_delta) && std::isfinite(ssmax_init), "invalid attention.scale_delta or "
               "attention.ssmax_init: must be finite");
}

double parameter_count(const ModelConfig& config) {
  const double width = static_cast<double>(config.d_model);
  const double heads = static_cast<double>(config.n_heads);
  const double attention_width = heads * static_cast<double>(config.head_size);
  const double mlp_matrices = config.activation == Activation::Geglu ? 3.0 : 2.0;
  const double projections = 4.0 * width * attention_width;  // q, k, v, out
  const double mlp = mlp_matrices * width * static_cast<double>(config.mlp_hidden);
  const double norms = 2.0 * 2.0 * width;                      // two norms, weight and bias at most
  const double head_extras = 2.0 * width * heads + 3.0 * heads;  // at most: ASEntmax projections, alpha
  const double per_layer = projections + mlp + norms + head_extras;
  return 2.0 * static_cast<double>(config.vocab_size) * width + static_cast<double>(config.n_layers) * per_layer +
         2.0 * width;
}

int64_t nape_alibi_heads(const ModelConfig& config) {
  if (config.position != PositionEncoding::Nape) return 0;
  return std::llround(config.nape_alibi_fraction * static_cast<double>(config.n_heads));
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
  if (config.position == PositionEncoding::Alibi) return alibi_slopes(config.n_heads);
  std::vector<float> slopes(static_cast<size_t>(config.n_heads), 0.0f);
  for (int64_t h = 1; h <= nape_alibi_heads(config); ++h)
    slopes[h - 1] = config.nape_slopes == NapeSlopes::Exp ? static_cast<float>(std::ldexp(1.0, -(h - 1)))
                                                          : 1.0f / static_cast<float>(h);
  return slopes;
}

std::vector<bool> scaled_heads(const ModelConfig& config) {
  std::vector<bool> scaled(static_cast<size_t>(config.n_heads), config.scaling != Scaling::None);
  for (int64_t h = 0; h < nape_alibi_heads(config); ++h) scaled[h] = false;  // NAPE's ALiBi heads keep scale 1
  return scaled;
}

nlohmann::json model_section(const ModelConfig& config) {
  return {
      {"vocab_size", config.vocab_size},     {"d_model", config.d_model},
      {"n_layers", config.n_layers},         {"n_heads", config.n_heads},
      {"head_size", config.head_size},       {"mlp_hidden", config.mlp_hidden},
      {"norm", to_string(config.norm)},      {"norm_eps", json_number(config.norm_eps)},
      {"activation", to_string(config.activation)}, {"init_std", json_number(config.init_std)},
  };
}

nlohmann::json attention_section(const ModelConfig& config) {
  return {
      {"transform", to_string(config.transform)},
      {"alpha", config.alpha},
      {"learn_alpha", config.learn_alpha},
      {"position", to_string(config.position)},
      {"rope_base", config.rope_base},
      {"nape_slopes", to_string(config.nape_slopes)},
      {"nape_alibi_fraction", config.nape_alibi_fraction},
      {"scaling", to_string(config.scaling)},
      {"scale_delta", json_number(config.scale_delta)},
      {"scale_beta_init", json_number(config.scale_beta_init)},
      {"scale_gamma_range", json_number(config.scale_gamma_range)},
      {"ssmax_init", json_number(config.ssmax_init)},
  };
}

namespace {

void read_model_section(const nlohmann::json& json, ModelConfig& config) {
  JsonReader reader(json, "model");
  reader.read("vocab_size", config.vocab_size);
  reader.read("d_model", config.d_model);
  reader.read("n_layers", config.n_layers);
  reader.read("n_heads", config.n_heads);
  reader.read("head_size", config.head_size);
  reader.read("mlp_hidden", config.mlp_hidden);
  read_option(reader, "model", "norm", config.norm);
  reader.read("norm_eps", config.norm_eps);
  read_option(reader, "model", "activation", config.activation);
  reader.read("init_std", config.init_std);
  const nlohmann::json attention_keys = attention_section(ModelConfig{});
  for (const auto& [key, value] : attention_keys.items())
    ENTLAB_CHECK(!json.contains(key), "invalid key model.", key, ": attention settings go in the \"attention\" ",
                 "section (attention.", key, ")");
  reader.finish();
}

void read_attention_section(const nlohmann::json& json, ModelConfig& config) {
  JsonReader reader(json, "attention");
  read_option(reader, "attention", "transform", config.transform);
  reader.read("alpha", config.alpha);
  reader.read("learn_alpha", config.learn_alpha);
  read_option(reader, "attention", "position", config.position);
  reader.read("rope_base", config.rope_base);
  read_option(reader, "attention", "nape_slopes", config.nape_slopes);
  reader.read("nape_alibi_fraction", config.nape_alibi_fraction);
  read_option(reader, "attention", "scaling", config.scaling);
  reader.read("scale_delta", config.scale_delta);
  reader.read("scale_beta_init", config.scale_beta_init);
  reader.read("scale_gamma_range", config.scale_gamma_range);
  reader.read("ssmax_init", config.ssmax_init);
  reader.finish();
}

}  // namespace

ModelConfig model_config_from_json(const nlohmann::json& model, const nlohmann::json& attention) {
  ModelConfig config;
  read_model_section(model, config);
  read_attention_section(attention, config);
  return config;
}

}  // namespace entlab::nn
