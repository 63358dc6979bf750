#include "nn/transformer.h"

#include <cmath>
#include <string>

#include "core/error.h"
#include "ops/ops.h"

namespace entlab::nn {

// --- Attention -------------------------------------------------------------------------

Attention::Attention(const ModelConfig& config, Rng& rng)
    : q_proj(config.d_model, config.n_heads * config.head_size, false, rng, config.init_std),
      k_proj(config.d_model, config.n_heads * config.head_size, false, rng, config.init_std),
      v_proj(config.d_model, config.n_heads * config.head_size, false, rng, config.init_std),
      out_proj(config.n_heads * config.head_size, config.d_model, false, rng, config.init_std),
      n_heads(config.n_heads),
      head_size(config.head_size),
      transform(config.transform),
      position(config.position),
      rope_base(config.rope_base),
      slopes(head_slopes(config)) {
  register_module("q_proj", q_proj);
  register_module("k_proj", k_proj);
  register_module("v_proj", v_proj);
  register_module("out_proj", out_proj);
}

// (B, T, NH*hs) -> (B, NH, T, hs), contiguous.
Tensor Attention::split_heads(const Tensor& x, int64_t batch, int64_t time) const {
  return contiguous(transpose(reshape(x, {batch, time, n_heads, head_size}), 1, 2));
}

Tensor Attention::forward(const Tensor& x) {
  const int64_t batch = x.size(0), time = x.size(1);

  // 1. Project and split into heads: q, k, v (B, NH, T, hs).
  Tensor q = split_heads(q_proj.forward(x), batch, time);
  Tensor k = split_heads(k_proj.forward(x), batch, time);
  Tensor v = split_heads(v_proj.forward(x), batch, time);
  if (position == PositionEncoding::Rope) {
    q = rope(q, 0, rope_base);
    k = rope(k, 0, rope_base);
  }

  // 2. Scores (B, NH, T, T), distance bias, causal mask.
  Tensor scores = scale(matmul(q, transpose(k, -2, -1)), 1.0f / std::sqrt(static_cast<float>(head_size)));
  if (position == PositionEncoding::Alibi || position == PositionEncoding::Nape)
    scores = alibi_bias(scores, slopes);
  scores = causal_mask(scores);

  // 3. Attention weights, then the weighted sum of values.
  Tensor probs = transform == Transform::Entmax15 ? entmax15(scores) : softmax(scores);
  if (keep_probs) last_probs = probs;
  Tensor heads = matmul(probs, v);

  // 4. Merge heads (B, NH, T, hs) -> (B, T, NH*hs) and project back to C.
  Tensor merged = reshape(contiguous(transpose(heads, 1, 2)), {batch, time, n_heads * head_size});
  return out_proj.forward(merged);
}

// --- Block -----------------------------------------------------------------------------

Block::Block(const ModelConfig& config, Rng& rng)
    : norm1(config.d_model, config.norm_eps),
      attn(config, rng),
      norm2(config.d_model, config.norm_eps),
      mlp(config.d_model, config.mlp_hidden, rng, config.init_std) {
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
      final_norm(config.d_model, config.norm_eps),
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

void Transformer::set_keep_attention(bool keep) {
  for (auto& block : blocks) {
    block->attn.keep_probs = keep;
    if (!keep) block->attn.last_probs = Tensor();
  }
}

}  // namespace entlab::nn
