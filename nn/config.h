// Model configuration: sizes, layer kinds, attention transform and position encoding.
//
// In a run config (JSON) these settings fill two sections: "model" (sizes, norm,
// activation, initialisation) and "attention" (transform, position encoding, length
// scaling). In C++ they are one flat struct, since every layer reads both.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_reader.h"

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
//   nape:  the first nape_alibi_fraction * H heads use ALiBi with the slopes of
//          nape_slopes. The other heads have no position signal, so they can retrieve
//          by content at any distance.
enum class PositionEncoding { Rope, Nope, Alibi, Nape };
// NAPE's ALiBi slopes for ALiBi head h = 1, 2, ...:  linear: 1/h;  exp: 1/2^(h-1).
enum class NapeSlopes { Linear, Exp };
// Length-dependent scaling of a query's content scores, with n = query position + 2:
//   none:           scale 1.
//   ssmax:          s_h log n, s_h learned per head (scalable softmax).
//   asentmax-head:  delta + beta_h (log n)^gamma_h, beta_h = softplus(b_h) and
//                   gamma_h = r tanh(g_h) learned per head.
//   asentmax-token: delta + beta (log n)^gamma per head and token, beta = softplus(W_b x + c)
//                   and gamma = r tanh(W_g x) from the layer's input x.
// Under NAPE only the heads without a position signal are scaled; otherwise every head.
enum class Scaling { None, Ssmax, AsentmaxHead, AsentmaxToken };
// The normalisation before attention, before the MLP and before the output head.
//   rmsnorm: x / rms(x) * w.   layernorm: (x - mean) / std * w + b.
enum class Norm { RmsNorm, LayerNorm };
// The MLP: gelu and relu: fc2(act(fc1 x)); geglu: fc2(gelu(fc1 x) * (gate x)), the gated
// GELU of the paper's models (one more C -> hidden matrix).
enum class Activation { Gelu, Relu, Geglu };

// The names of each setting, in enum order, and what the setting is called in messages.
// ENTLAB_OPTION_NAMES(Enum, description, names...) declares them, inside namespace entlab::nn.
template <typename Option>
struct OptionNames;  // "what": the setting's name in messages; list(): the names
#define ENTLAB_OPTION_NAMES(Option, description, ...)                 \
  template <>                                                         \
  struct OptionNames<Option> {                                        \
    static constexpr const char* what = description;                  \
    static const std::vector<std::string>& list() {                   \
      static const std::vector<std::string> names = {__VA_ARGS__};    \
      return names;                                                   \
    }                                                                 \
  };
ENTLAB_OPTION_NAMES(Transform, "attention transform", "softmax", "entmax15", "sparsemax", "entmax")
ENTLAB_OPTION_NAMES(PositionEncoding, "position encoding", "rope", "nope", "alibi", "nape")
ENTLAB_OPTION_NAMES(NapeSlopes, "NAPE slope set", "linear", "exp")
ENTLAB_OPTION_NAMES(Scaling, "length scaling", "none", "ssmax", "asentmax-head", "asentmax-token")
ENTLAB_OPTION_NAMES(Norm, "norm", "rmsnorm", "layernorm")
ENTLAB_OPTION_NAMES(Activation, "activation", "gelu", "relu", "geglu")

template <typename Option>
const std::vector<std::string>& option_names() {
  return OptionNames<Option>::list();
}

// Parses a name, or throws an error that lists the valid names.
template <typename Option>
Option parse_option(const std::string& name) {
  const auto& names = option_names<Option>();
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<Option>(i);
  throw Error(str_cat("unknown ", OptionNames<Option>::what, " '", name, "'; valid: ", join(names, ", ")));
}

template <typename Option>
std::string to_string(Option value) {
  return option_names<Option>()[static_cast<size_t>(value)];
}

// Reads the named setting `key` of a config section, if present; an unknown name is an
// error naming "section.key" and the valid names.
template <typename Option>
void read_option(JsonReader& reader, const std::string& section, const std::string& key, Option& value) {
  std::string name = to_string(value);
  reader.read(key, name);
  try {
    value = parse_option<Option>(name);
  } catch (const Error& error) {
    throw Error(str_cat("invalid ", section, ".", key, ": ", error.what()));
  }
}

// Upper bounds on the model sizes: far above what trains on a CPU, low enough that no
// size product overflows 64 bits.
constexpr int64_t kMaxModelWidth = 1 << 16;  // d_model, head_size, mlp_hidden
constexpr int64_t kMaxLayers = 1024;
constexpr int64_t kMaxHeads = 1024;
constexpr int64_t kMaxVocab = 1 << 24;

struct ModelConfig {
  // "model" section.
  int64_t vocab_size = 0;  // 0 in a config file: taken from the task
  int64_t d_model = 64;
  int64_t n_layers = 2;
  int64_t n_heads = 4;
  int64_t head_size = 16;
  int64_t mlp_hidden = 256;
  Norm norm = Norm::RmsNorm;
  float norm_eps = 1e-5f;
  Activation activation = Activation::Gelu;
  float init_std = 0.02f;

  // "attention" section.
  Transform transform = Transform::Softmax;
  double alpha = 1.5;                  // for transform "entmax"; the initial value when learned
  bool learn_alpha = false;            // one alpha per head, alpha = 1.01 + softplus(a)
  PositionEncoding position = PositionEncoding::Nape;
  double rope_base = 10000.0;
  NapeSlopes nape_slopes = NapeSlopes::Linear;
  double nape_alibi_fraction = 0.5;    // share of heads that use ALiBi under NAPE
  Scaling scaling = Scaling::None;
  float scale_delta = 1.0f;            // ASEntmax delta
  float scale_beta_init = 0.05f;       // initial beta, so the scale starts near delta + 0.05
  float scale_gamma_range = 2.0f;      // r in gamma = r tanh(.)
  float ssmax_init = 0.3f;             // initial s_h, about 1 / log 32

  // Throws an error naming the first invalid key ("model.n_heads", "attention.alpha")
  // and what is allowed.
  void validate() const;
};

// An upper bound on the number of weights of the model, close for the usual settings. It
// is computed in double so that no size product overflows. RunConfig::finalize uses it
// to reject a model whose training state could not fit in memory, before any allocation.
double parameter_count(const ModelConfig& config);
// The number of ALiBi heads under NAPE: nape_alibi_fraction * n_heads (0 for other encodings).
int64_t nape_alibi_heads(const ModelConfig& config);
// The ALiBi slope of every head (0 for heads without a distance bias).
std::vector<float> head_slopes(const ModelConfig& config);
// Whether each head gets the length scaling (the position-free heads under NAPE, every
// head otherwise; none when scaling is "none").
std::vector<bool> scaled_heads(const ModelConfig& config);
// Slopes 2^(-8h/n) for n heads, with the standard interleaving when n is not a power of 2.
std::vector<float> alibi_slopes(int64_t n_heads);

// The "model" and "attention" sections of a run config.
nlohmann::json model_section(const ModelConfig& config);
nlohmann::json attention_section(const ModelConfig& config);
// Reads both sections; unknown keys and wrong types raise errors naming the key.
ModelConfig model_config_from_json(const nlohmann::json& model, const nlohmann::json& attention);

}  // namespace entlab::nn
