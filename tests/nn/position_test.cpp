// Each position encoding on a hand-computed case: attention weights of one layer with
// T = 3 tokens, where the expected rows follow from the bias or rotation alone.
#include <doctest/doctest.h>

#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "nn/config.h"
#include "nn/transformer.h"

using namespace entlab;
using namespace entlab::nn;

namespace {

ModelConfig position_config(PositionEncoding position, int64_t heads) {
  ModelConfig config;
  config.vocab_size = 4;
  config.d_model = 2;
  config.n_layers = 1;
  config.n_heads = heads;
  config.head_size = 2;
  config.mlp_hidden = 4;
  config.position = position;
  return config;
}

void set_weights(const Linear& layer, float value_on_diagonal) {
  const int64_t rows = layer.weight.size(0), cols = layer.weight.size(1);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) layer.weight.data()[r * cols + c] = r % cols == c ? value_on_diagonal : 0.0f;
}

// The weights (NH, T, T) of one attention layer for the input x_t = [1, 0] at T = 3 tokens.
// content == false zeroes q and k, so every score is the position bias alone; otherwise
// q = k = x (identity projections) and each content score is 1 / sqrt(2) before RoPE.
Tensor attention_weights(const ModelConfig& config, bool content) {
  Rng rng(1);
  Attention attention(config, rng);
  set_weights(attention.q_proj, content ? 1.0f : 0.0f);
  set_weights(attention.k_proj, content ? 1.0f : 0.0f);
  attention.keep_probs = true;
  attention.forward(Tensor::from_vector({1, 3, 2}, {1, 0, 1, 0, 1, 0}));
  return attention.last_probs;
}

// Row `query` of head `head`, the first query + 1 entries (the visible keys).
void check_row(const Tensor& probs, int64_t head, int64_t query, const std::vector<double>& expected) {
  const int64_t time = probs.size(2);
  const float* row = probs.data() + (head * time + query) * time;
  for (size_t key = 0; key < expected.size(); ++key) {
    CAPTURE(head);
    CAPTURE(key);
    CHECK(row[key] == doctest::Approx(expected[key]).epsilon(1e-6));
  }
  for (int64_t key = query + 1; key < time; ++key) CHECK(row[key] == 0.0f);
}

}  // namespace

TEST_CASE("NoPE weighs the visible keys by content alone") {
  Tensor probs = attention_weights(position_config(PositionEncoding::Nope, 1), false);
  check_row(probs, 0, 0, {1.0});
  check_row(probs, 0, 1, {0.5, 0.5});
  check_row(probs, 0, 2, {1.0 / 3, 1.0 / 3, 1.0 / 3});
}

TEST_CASE("ALiBi with one head uses the slope 2^-8") {
  // softmax([-2, -1, 0] / 256)
  Tensor probs = attention_weights(position_config(PositionEncoding::Alibi, 1), false);
  check_row(probs, 0, 2, {0.3320321010, 0.3333316379, 0.3346362611});
}

TEST_CASE("NAPE splits the heads into ALiBi slopes 1/h and NoPE") {
  ModelConfig config = position_config(PositionEncoding::Nape, 4);
  config.nape_alibi_fraction = 0.75;  // three ALiBi heads, one NoPE head
  Tensor probs = attention_weights(config, false);
  check_row(probs, 0, 2, {0.0900305732, 0.2447284711, 0.6652409558});  // softmax([-2, -1, 0])
  check_row(probs, 1, 2, {0.1863237232, 0.3071958857, 0.5064803911});  // slope 1/2 (numerics.md C11)
  check_row(probs, 2, 2, {0.2302372163, 0.3213219199, 0.4484408638});  // slope 1/3
  check_row(probs, 3, 2, {1.0 / 3, 1.0 / 3, 1.0 / 3});
  CHECK(scaled_heads(config) == std::vector<bool>{false, false, false, false});
  config.scaling = Scaling::Ssmax;
  CHECK(scaled_heads(config) == std::vector<bool>{false, false, false, true});
}

TEST_CASE("NAPE's exp slope set halves the slope per head") {
  ModelConfig config = position_config(PositionEncoding::Nape, 4);
  config.nape_alibi_fraction = 0.75;
  config.nape_slopes = NapeSlopes::Exp;
  CHECK(head_slopes(config) == std::vector<float>{1.0f, 0.5f, 0.25f, 0.0f});
  Tensor probs = attention_weights(config, false);
  check_row(probs, 2, 2, {0.2542752126, 0.3264958358, 0.4192289516});  // softmax([-1/2, -1/4, 0])
}

TEST_CASE("NAPE slope 1/2 under entmax15 and sparsemax (numerics.md C11, case 2)") {
  ModelConfig config = position_config(PositionEncoding::Nape, 4);
  config.transform = Transform::Entmax15;
  check_row(attention_weights(config, false), 1, 2, {0.0841358, 0.2916667, 0.6241975});
  config.transform = Transform::Sparsemax;
  check_row(attention_weights(config, false), 1, 2, {0.0, 0.25, 0.75});
}

TEST_CASE("RoPE makes the score depend on the distance only") {
  // hs = 2, base 10000: one pair rotated by angle = position. With q = k = [1, 0] before
  // rotation, score(i, j) = cos(i - j) / sqrt(2).
  Tensor probs = attention_weights(position_config(PositionEncoding::Rope, 1), true);
  check_row(probs, 0, 1, {0.4194442151, 0.5805557849});
  check_row(probs, 0, 2, {0.1757898312, 0.3457101873, 0.4784999814});
}

TEST_CASE("NAPE head split errors name the keys") {
  ModelConfig config = position_config(PositionEncoding::Nape, 3);
  CHECK_THROWS_WITH_AS(config.validate(), doctest::Contains("invalid model.n_heads = 3 with attention.position = nape"),
                       Error);
  config.nape_alibi_fraction = 1.0 / 3;
  CHECK_NOTHROW(config.validate());
  CHECK(nape_alibi_heads(config) == 1);
  config.nape_alibi_fraction = 1.0;
  CHECK_THROWS_WITH_AS(config.validate(), doctest::Contains("attention.nape_alibi_fraction = 1: must be in (0, 1)"),
                       Error);
  config.position = PositionEncoding::Rope;
  config.nape_alibi_fraction = 0.5;
  config.head_size = 3;
  CHECK_THROWS_WITH_AS(config.validate(), doctest::Contains("invalid model.head_size = 3 with attention.position = rope"),
                       Error);
}
