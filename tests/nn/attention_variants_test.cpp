#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "autograd/gradcheck.h"
#include "autograd/tape.h"
#include "core/error.h"
#include "nn/config.h"
#include "nn/transformer.h"
#include "ops/activation.h"
#include "ops/elementwise.h"
#include "ops/loss.h"

using namespace entlab;
using namespace entlab::nn;

namespace {

ModelConfig variant_config(Transform transform, PositionEncoding position, Scaling scaling) {
  ModelConfig config;
  config.vocab_size = 7;
  config.d_model = 8;
  config.n_layers = 1;
  config.n_heads = 2;
  config.head_size = 4;
  config.mlp_hidden = 16;
  config.transform = transform;
  config.position = position;
  config.scaling = scaling;
  config.init_std = 0.3f;
  return config;
}

std::vector<int32_t> token_ids(int64_t count) {
  std::vector<int32_t> ids;
  for (int64_t i = 0; i < count; ++i) ids.push_back(static_cast<int32_t>((i * 5 + 3) % 7));
  return ids;
}

Tensor find_parameter(const Module& module, const std::string& name) {
  for (const auto& [parameter_name, parameter] : module.named_parameters())
    if (parameter_name == name) return parameter;
  FAIL("parameter " << name << " not found");
  return Tensor();
}

}  // namespace

TEST_CASE("every transform, encoding and scaling trains through backward") {
  for (Transform transform : {Transform::Softmax, Transform::Entmax15, Transform::Sparsemax, Transform::Entmax})
    for (PositionEncoding position :
         {PositionEncoding::Rope, PositionEncoding::Nope, PositionEncoding::Alibi, PositionEncoding::Nape})
      for (Scaling scaling : {Scaling::None, Scaling::Ssmax, Scaling::AsentmaxHead, Scaling::AsentmaxToken}) {
        CAPTURE(to_string(transform));
        CAPTURE(to_string(position));
        CAPTURE(to_string(scaling));
        ModelConfig config = variant_config(transform, position, scaling);
        config.learn_alpha = transform == Transform::Entmax;
        config.norm = position == PositionEncoding::Alibi ? Norm::LayerNorm : Norm::RmsNorm;
        config.activation = position == PositionEncoding::Rope ? Activation::Geglu : Activation::Gelu;
        Transformer model(config, 2);
        std::vector<int32_t> labels = {1, 2, -100, 4, 5, 6};
        Tensor loss = cross_entropy(model.forward(token_ids(6), 1, 6), labels, -100);
        CHECK(std::isfinite(loss.item()));
        backward(loss);
        for (const auto& [name, parameter] : model.named_parameters()) {
          CAPTURE(name);
          REQUIRE(parameter.grad().defined());
          for (float g : parameter.grad().to_vector()) CHECK(std::isfinite(g));
        }
      }
}

TEST_CASE("scaled attention gradient vs finite differences") {
  for (Scaling scaling : {Scaling::Ssmax, Scaling::AsentmaxHead, Scaling::AsentmaxToken}) {
    CAPTURE(to_string(scaling));
    ModelConfig config = variant_config(Transform::Softmax, PositionEncoding::Nope, scaling);
    config.scale_beta_init = 0.5f;  // away from the flat start, so every parameter matters
    Transformer model(config, 4);
    if (scaling == Scaling::AsentmaxToken) {  // zero projections have zero gradient paths; perturb them
      Rng rng(3);
      for (auto& [name, parameter] : model.named_parameters())
        if (name.find("_proj.weight") != std::string::npos && name.find("beta") != std::string::npos)
          for (int64_t i = 0; i < parameter.numel(); ++i) parameter.data()[i] = 0.1f * rng.normal();
    }
    std::vector<int32_t> ids = token_ids(5);
    std::vector<int32_t> labels = {1, 2, 3, 4, 5};
    auto loss_fn = [&](const std::vector<Tensor>&) { return cross_entropy(model.forward(ids, 1, 5), labels, -100); };
    GradcheckOptions options;
    options.eps = 1e-2;
    options.abs_tolerance = 2e-3;
    options.rel_tolerance = 2e-2;
    options.max_elements_per_input = 8;
    GradcheckResult result = gradcheck(loss_fn, model.parameters(), options);
    INFO(result.report);
    CHECK(result.ok);
  }
}

TEST_CASE("learned alpha gradient vs finite differences") {
  ModelConfig config = variant_config(Transform::Entmax, PositionEncoding::Nope, Scaling::None);
  config.learn_alpha = true;
  Transformer model(config, 6);
  Tensor alpha_raw = find_parameter(model, "blocks.0.attn.alpha_raw");
  std::vector<int32_t> ids = token_ids(6);
  std::vector<int32_t> labels = {1, 2, 3, 4, 5, 6};
  auto loss_fn = [&](const std::vector<Tensor>&) { return cross_entropy(model.forward(ids, 1, 6), labels, -100); };
  GradcheckOptions options;
  options.eps = 1e-2;
  options.abs_tolerance = 2e-3;
  options.rel_tolerance = 2e-2;
  GradcheckResult result = gradcheck(loss_fn, {alpha_raw}, options);
  INFO(result.report);
  CHECK(result.ok);
}

TEST_CASE("learned alpha starts at the configured alpha") {
  ModelConfig config = variant_config(Transform::Entmax, PositionEncoding::Nope, Scaling::None);
  config.learn_alpha = true;
  config.alpha = 1.3;
  Transformer model(config, 1);
  Tensor alpha = add_scalar(softplus(find_parameter(model, "blocks.0.attn.alpha_raw")), kMinLearnedAlpha);
  for (float value : alpha.to_vector()) CHECK(value == doctest::Approx(1.3).epsilon(1e-5));
}

TEST_CASE("learned alpha never reaches one") {
  ModelConfig config = variant_config(Transform::Entmax, PositionEncoding::Nope, Scaling::None);
  config.learn_alpha = true;
  Transformer model(config, 1);
  Tensor alpha_raw = find_parameter(model, "blocks.0.attn.alpha_raw");
  std::fill_n(alpha_raw.data(), alpha_raw.numel(), -40.0f);  // softplus underflows to 0 in float
  NoGradGuard no_grad;
  Tensor logits = model.forward(token_ids(6), 1, 6);
  for (float value : logits.to_vector()) CHECK(std::isfinite(value));
}

TEST_CASE("asentmax scale starts near one") {
  ModelConfig config = variant_config(Transform::Entmax15, PositionEncoding::Nape, Scaling::AsentmaxToken);
  Transformer model(config, 1);
  Tensor beta_bias = find_parameter(model, "blocks.0.attn.beta_proj.bias");
  for (float value : softplus(beta_bias).to_vector()) CHECK(value == doctest::Approx(0.05).epsilon(1e-4));
  for (float value : find_parameter(model, "blocks.0.attn.beta_proj.weight").to_vector()) CHECK(value == 0.0f);
  for (float value : find_parameter(model, "blocks.0.attn.gamma_proj.weight").to_vector()) CHECK(value == 0.0f);

  ModelConfig head_config = variant_config(Transform::Entmax15, PositionEncoding::Nape, Scaling::AsentmaxHead);
  Transformer head_model(head_config, 1);
  for (float value : softplus(find_parameter(head_model, "blocks.0.attn.beta_raw")).to_vector())
    CHECK(value == doctest::Approx(0.05).epsilon(1e-4));
  for (float value : find_parameter(head_model, "blocks.0.attn.gamma_raw").to_vector()) CHECK(value == 0.0f);
}

TEST_CASE("nape scales only the heads without position signal") {
  ModelConfig config = variant_config(Transform::Softmax, PositionEncoding::Nape, Scaling::AsentmaxHead);
  CHECK(scaled_heads(config) == std::vector<bool>{false, true});
  config.position = PositionEncoding::Rope;
  CHECK(scaled_heads(config) == std::vector<bool>{true, true});
  config.scaling = Scaling::None;
  CHECK(scaled_heads(config) == std::vector<bool>{false, false});

  // The ALiBi head's beta gets no gradient: its scale is fixed at delta.
  ModelConfig nape = variant_config(Transform::Softmax, PositionEncoding::Nape, Scaling::AsentmaxHead);
  Transformer model(nape, 2);
  Tensor loss = cross_entropy(model.forward(token_ids(6), 1, 6), {1, 2, 3, 4, 5, 6}, -100);
  backward(loss);
  std::vector<float> beta_grad = find_parameter(model, "blocks.0.attn.beta_raw").grad().to_vector();
  CHECK(beta_grad[0] == 0.0f);
  CHECK(beta_grad[1] != 0.0f);
}

TEST_CASE("model config checks alpha and scaling settings") {
  ModelConfig config = variant_config(Transform::Entmax, PositionEncoding::Nape, Scaling::None);
  config.alpha = 1.0;
  CHECK_THROWS_WITH_AS(config.validate(), doctest::Contains("attention.alpha = 1"), Error);
  config.alpha = 1.5;
  config.transform = Transform::Softmax;
  config.learn_alpha = true;
  CHECK_THROWS_WITH_AS(config.validate(), doctest::Contains("learn_alpha"), Error);
  CHECK_THROWS_WITH_AS(parse_option<Scaling>("log"), doctest::Contains("valid: none, ssmax, asentmax-head, asentmax-token"),
                       Error);
  const ModelConfig original = variant_config(Transform::Sparsemax, PositionEncoding::Rope, Scaling::AsentmaxToken);
  ModelConfig round_trip = model_config_from_json(model_section(original), attention_section(original));
  CHECK(round_trip.transform == Transform::Sparsemax);
  CHECK(round_trip.scaling == Scaling::AsentmaxToken);
}
