#include "nn/transformer.h"

#include <cmath>
#include <string>

#include "core/error.h"
#include "autograd/tape.h"
#include "ops/ops.h"

namespace entlab::nn {

// --- Attention -------------------------------------------------------------------------

Attention::Attention(const ModelConfig& model_config, Rng& rng)
    : q_proj(model_config.d_model, model_config.n_heads * model_config.head_size, false, rng, model_config.init_std),
      k_proj(model_config.d_model, model_config.n_heads * model_config.head_size, false, rng, model_config.init_std),
      v_proj(model_config.d_model, model_config.n_heads * model_config.head_size, false, rng, model_config.init_std),
      out_proj(model_config.n_heads * model_config.head_size, model_config.d_model, false, rng,
               model_config.init_std),
      config(model_config),
      slopes(head_slopes(model_config)) {
  register_module("q_proj", q_proj);
  register_module("k_proj", k_proj);
  register_module("v_proj", v_proj);
  register_module("out_proj", out_proj);

  const int64_t heads = config.n_heads;
  if (config.learn_alpha)
    alpha_raw = register_parameter(
        "alpha_raw", Tensor::full({heads, 1}, inverse_softplus(static_cast<float>(config.alpha) - kMinLearnedAlpha)));
  std::vector<bool> scaled = scaled_heads(config);
  std::vector<float> mask(scaled.begin(), scaled.end());
  head_mask = Tensor::from_vector({heads, 1}, mask, "scaled head mask");
  add_scaling_parameters(rng);
}

// All start so that the scale is close to 1 (or s_h log n for SSMax): a large initial
// scale can stall training.
void Attention::add_scaling_parameters(Rng& rng) {
  const int64_t heads = config.n_heads;
  const float beta_bias = inverse_softplus(config.scale_beta_init);
  switch (config.scaling) {
    case Scaling::None:
      break;
    case Scaling::Ssmax:
      ssmax_s = register_parameter("ssmax_s", Tensor::full({heads, 1}, config.ssmax_init));
      break;
    case Scaling::AsentmaxHead:
      beta_raw = register_parameter("beta_raw", Tensor::full({heads, 1}, beta_bias));
      gamma_raw = register_parameter("gamma_raw", Tensor::zeros({heads, 1}));
      break;
    case Scaling::AsentmaxToken:
      beta_proj = std::make_unique<Linear>(config.d_model, heads, true, rng, config.init_std);
      gamma_proj = std::make_unique<Linear>(config.d_model, heads, false, rng, config.init_std);
      std::fill_n(beta_proj->weight.data(), beta_proj->weight.numel(), 0.0f);  // zero projections: scale
      std::fill_n(gamma_proj->weight.data(), gamma_proj->weight.numel(), 0.0f);  // starts at delta + beta
      std::fill_n(beta_proj->bias.data(), heads, beta_bias);
      register_module("beta_proj", *beta_proj);
      register_module("gamma_proj", *gamma_proj);
      break;
  }
}

// (B, T, NH*hs) -> (B, NH, T, hs), contiguous.
Tensor Attention::split_heads(const Tensor& x, int64_t batch, int64_t time) const {
  return contiguous(transpose(reshape(x, {batch, time, config.n_heads, config.head_size}), 1, 2));
}

Tensor Attention::scale_scores(const Tensor& scores, const Tensor& x) {
  const float r = config.scale_gamma_range;
  switch (config.scaling) {
    case Scaling::None:
      return scores;
    case Scaling::Ssmax: {
      // Scaled heads: 0 + s_h (log n)^1. Others: 0 + 1 (log n)^0 = 1.
      Tensor beta = add(mul(ssmax_s, head_mask), add_scalar(scale(head_mask, -1.0f), 1.0f));
      return length_scale(scores, beta, head_mask, 0.0f);
    }
    case Scaling::AsentmaxHead: {
      Tensor beta = mul(softplus(beta_raw), head_mask);  // beta 0 leaves a head at scale delta
      Tensor gamma = scale(tanh(gamma_raw), r);
      last_scale_means_ = {scaled_head_mean(reshape(beta, {1, config.n_heads, 1})),
                           scaled_head_mean(reshape(gamma, {1, config.n_heads, 1}))};
      return length_scale(scores, beta, gamma, config.scale_delta);
    }
    case Scaling::AsentmaxToken: {
      // (B, T, NH) -> (B, NH, T): one beta and gamma per head and query token.
      Tensor beta = contiguous(transpose(softplus(beta_proj->forward(x)), 1, 2));
      Tensor gamma = contiguous(transpose(scale(tanh(gamma_proj->forward(x)), r), 1, 2));
      beta = mul(beta, reshape(head_mask, {1, config.n_heads, 1}));
      last_scale_means_ = {scaled_head_mean(beta), scaled_head_mean(gamma)};
      return length_scale(scores, beta, gamma, config.scale_delta);
    }
  }
  return scores;
}

Tensor Attention::attention_weights(const Tensor& scores) const {
  switch (config.transform) {
    case Transform::Softmax: return softmax(scores);
    case Transform::Entmax15: return entmax15(scores);
    case Transform::Sparsemax: return sparsemax(scores);
    case Transform::Entmax:
      if (config.learn_alpha) return entmax_bisect(scores, add_scalar(softplus(alpha_raw), kMinLearnedAlpha));
      return entmax_bisect(scores, config.alpha);
  }
  return softmax(scores);
}

Tensor Attention::forward(const Tensor& x) {
  const int64_t batch = x.size(0), time = x.size(1);
  const int64_t heads = config.n_heads, head_size = config.head_size;

  // 1. Project and split into heads: q, k, v (B, NH, T, hs).
  Tensor q = split_heads(q_proj.forward(x), batch, time);
  Tensor k = split_heads(k_proj.forward(x), batch, time);
  Tensor v = split_heads(v_proj.forward(x), batch, time);
  if (config.position == PositionEncoding::Rope) {
    q = rope(q, 0, config.rope_base);
    k = rope(k, 0, config.rope_base);
  }

  // 2. Scores (B, NH, T, T): content, length scaling, distance bias, causal mask.
  Tensor scores = scale(matmul(q, transpose(k, -2, -1)), 1.0f / std::sqrt(static_cast<float>(head_size)));
  scores = scale_scores(scores, x);
  if (config.position == PositionEncoding::Alibi || config.position == PositionEncoding::Nape)
    scores = alibi_bias(scores, slopes);
  scores = causal_mask(scores);

  // 3. Attention weights, then the weighted sum of values.
  Tensor probs = attention_weights(scores);
  if (keep_probs) last_probs = probs;
  Tensor head_outputs = matmul(probs, v);

  // 4. Merge heads (B, NH, T, hs) -> (B, T, NH*hs) and project back to C.
  Tensor merged = reshape(contiguous(transpose(head_outputs, 1, 2)), {batch, time, heads * head_size});
  return out_proj.forward(merged);
}

double Attention::scaled_head_mean(const Tensor& values) const {
  const int64_t heads = config.n_heads;
  const int64_t inner = values.numel() / heads / values.size(0);
  const float* data = values.data();  // contiguous (outer, NH, inner)
  double sum = 0.0;
  int64_t count = 0;
  for (int64_t outer = 0; outer < values.size(0); ++outer)
    for (int64_t h = 0; h < heads; ++h) {
      if (head_mask.data()[h] == 0.0f) continue;
      for (int64_t i = 0; i < inner; ++i) sum += data[(outer * heads + h) * inner + i];
      count += inner;
    }
  return count > 0 ? sum / static_cast<double>(count) : 0.0;
}


// --- Block -----------------------------------------------------------------------------

Block::Block(const ModelConfig& config, Rng& rng)
    : norm1(config.norm, config.d_model, config.norm_eps),
      attn(config, rng),
      norm2(config.norm, config.d_model, config.norm_eps),
      mlp(config.d_model, config.mlp_hidden, config.activation, rng, config.init_std) {
  register_module("norm1", norm1);
  register_module("attn", attn);
  register_module("norm2", norm2);
  register_module("mlp", mlp);
}

Tensor Block::forward(const Tensor& x) {
  Tensor h = add(x, attn.forward(norm1.forward(x)));
  return add(h, mlp.forward(norm2.forward(h)));
}

// --- Transformer -----------------------------------------------------------------------

static const ModelConfig& validated(const ModelConfig& config) {
  config.validate();
  return config;
}

Transformer::Transformer(const ModelConfig& model_config, uint64_t seed)
    : config(validated(model_config)),
      init_rng(seed),
      embed(config.vocab_size, config.d_model, init_rng, config.init_std),
      final_norm(config.norm, config.d_model, config.norm_eps),
      lm_head(config.d_model, config.vocab_size, false, init_rng, config.init_std) {
  register_module("embed", embed);
  for (int64_t layer = 0; layer < config.n_layers; ++layer) {
    blocks.push_back(std::make_unique<Block>(config, init_rng));
    register_module("blocks." + std::to_string(layer), *blocks.back());
  }
  register_module("final_norm", final_norm);
  register_module("lm_head", lm_head);
}

Tensor Transformer::forward(const std::vector<int32_t>& ids, int64_t batch, int64_t time) {
  Tensor x = embed.forward(ids, batch, time);
  for (auto& block : blocks) x = block->forward(x);
  return lm_head.forward(final_norm.forward(x));
}

nlohmann::json Transformer::scale_metrics() const {
  if (config.scaling != Scaling::AsentmaxHead && config.scaling != Scaling::AsentmaxToken)
    return nlohmann::json::object();
  nlohmann::json beta = nlohmann::json::array(), gamma = nlohmann::json::array();
  for (const auto& block : blocks) {
    Attention::ScaleMeans means = block->attn.scale_means();
    beta.push_back(means.beta);
    gamma.push_back(means.gamma);
  }
  return {{"beta", beta}, {"gamma", gamma}};
}

void Transformer::set_keep_attention(bool keep) {
  for (auto& block : blocks) {
    block->attn.keep_probs = keep;
    if (!keep) block->attn.last_probs = Tensor();
  }
}

}  // namespace entlab::nn
