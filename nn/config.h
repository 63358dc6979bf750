// Model configuration: sizes, attention transform and position encoding.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace entlab::nn {

// The map from attention scores to attention weights.
//   softmax:   exp(z) / sum exp(z), every weight positive.
//   entmax15:  exact sort-based 1.5-entmax, weights more than 2 below the max are exactly 0.
//   sparsemax: exact 2-entmax.
//   entmax:    alpha-entmax for any alpha > 1 (ModelConfig::alpha), optionally learned per head.
enum class Transform { Softmax, Entmax15, Sparsemax, Entmax };
// How heads see token positions.
//   rope:  rotary embeddings on q and k, every head.
//   nope:  no position signal at all (causality alone).
//   alibi: a linear distance penalty on every head, slopes 2^(-8h/H) (Press et al., 2022).
//   nape:  the first H/2 heads use ALiBi with slopes 1/h (or 1/2^(h-1)); the other H/2
//          heads use no position signal and can retrieve by content at any distance.
enum class PositionEncoding { Rope, Nope, Alibi, Nape };
// Length-dependent scaling of a query's content scores, with n = query position + 2:
//   none:           scale 1.
//   ssmax:          s_h log n, s_h learned per head (scalable softmax).
//   asentmax-head:  delta + beta_h (log n)^gamma_h, beta_h = softplus(b_h) and
//                   gamma_h = r tanh(g_h) learned per head.
//   asentmax-token: delta + beta (log n)^gamma per head and token, beta = softplus(W_b x + c)
//                   and gamma = r tanh(W_g x) from the layer's input x.
// Under NAPE only the heads without a position signal are scaled; otherwise every head.
enum class Scaling { None, Ssmax, AsentmaxHead, AsentmaxToken };

const std::vector<std::string>& transform_names();
const std::vector<std::string>& position_names();
// Parse a name, or throw an error that lists the valid names.
const std::vector<std::string>& scaling_names();
Transform parse_transform(const std::string& name);
PositionEncoding parse_position(const std::string& name);
Scaling parse_scaling(const std::string& name);
std::string to_string(Transform transform);
std::string to_string(PositionEncoding position);
std::string to_string(Scaling scaling);

struct ModelConfig {
  int64_t vocab_size = 0;
  int64_t d_model = 64;
  int64_t n_layers = 2;
  int64_t n_heads = 4;
  int64_t head_size = 16;
  int64_t mlp_hidden = 256;
  Transform transform = Transform::Softmax;
  PositionEncoding position = PositionEncoding::Nape;
  std::string nape_slopes = "linear";  // "linear": 1/h, "exp": 1/2^(h-1), h = 1..H/2
  double alpha = 1.5;                  // for transform "entmax"; the initial value when learned
  bool learn_alpha = false;            // one alpha per head, alpha = 1.01 + softplus(a)
  Scaling scaling = Scaling::None;
  float scale_delta = 1.0f;            // ASEntmax delta
  float scale_beta_init = 0.05f;       // initial beta, so the scale starts near delta + 0.05
  float scale_gamma_range = 2.0f;      // r in gamma = r tanh(.)
  float ssmax_init = 0.3f;             // initial s_h, about 1 / log 32
  double rope_base = 10000.0;
  float init_std = 0.02f;
  float norm_eps = 1e-5f;

  // Throws an error naming the first invalid field and what is allowed.
  void validate() const;
};

// The ALiBi slope of every head (0 for heads without a distance bias).
std::vector<float> head_slopes(const ModelConfig& config);
// Whether each head gets the length scaling (the position-free heads under NAPE, every
// head otherwise; none when scaling is "none").
std::vector<bool> scaled_heads(const ModelConfig& config);
// Slopes 2^(-8h/n) for n heads, with the standard interleaving when n is not a power of 2.
std::vector<float> alibi_slopes(int64_t n_heads);

nlohmann::json to_json(const ModelConfig& config);
// Reads a model config; unknown keys and wrong types raise errors naming the key.
ModelConfig model_config_from_json(const nlohmann::json& json);

}  // namespace entlab::nn
