// Model configuration: sizes, attention transform and position encoding.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace entlab::nn {

// The map from attention scores to attention weights.
enum class Transform { Softmax, Entmax15 };
// How heads see token positions.
//   rope:  rotary embeddings on q and k, every head.
//   nope:  no position signal at all (causality alone).
//   alibi: a linear distance penalty on every head, slopes 2^(-8h/H) (Press et al., 2022).
//   nape:  the first H/2 heads use ALiBi with slopes 1/h (or 1/2^(h-1)); the other H/2
//          heads use no position signal and can retrieve by content at any distance.
enum class PositionEncoding { Rope, Nope, Alibi, Nape };

const std::vector<std::string>& transform_names();
const std::vector<std::string>& position_names();
// Parse a name, or throw an error that lists the valid names.
Transform parse_transform(const std::string& name);
PositionEncoding parse_position(const std::string& name);
std::string to_string(Transform transform);
std::string to_string(PositionEncoding position);

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
  double rope_base = 10000.0;
  float init_std = 0.02f;
  float norm_eps = 1e-5f;

  // Throws an error naming the first invalid field and what is allowed.
  void validate() const;
};

// The ALiBi slope of every head (0 for heads without a distance bias).
std::vector<float> head_slopes(const ModelConfig& config);
// Slopes 2^(-8h/n) for n heads, with the standard interleaving when n is not a power of 2.
std::vector<float> alibi_slopes(int64_t n_heads);

nlohmann::json to_json(const ModelConfig& config);
// Reads a model config; unknown keys and wrong types raise errors naming the key.
ModelConfig model_config_from_json(const nlohmann::json& json);

}  // namespace entlab::nn
