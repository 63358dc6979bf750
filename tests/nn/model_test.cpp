#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "autograd/gradcheck.h"
#include "autograd/tape.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "nn/checkpoint.h"
#include "nn/config.h"
#include "nn/transformer.h"
#include "ops/loss.h"
#include "temp_folder.h"

using namespace entlab;
using namespace entlab::nn;

namespace {

ModelConfig small_config(Transform transform, PositionEncoding position) {
  ModelConfig config;
  config.vocab_size = 7;
  config.d_model = 8;
  config.n_layers = 2;
  config.n_heads = 2;
  config.head_size = 4;
  config.mlp_hidden = 16;
  config.transform = transform;
  config.position = position;
  config.init_std = 0.3f;  // large enough that attention is far from uniform
  return config;
}

std::vector<int32_t> token_ids(int64_t count, int32_t vocab) {
  std::vector<int32_t> ids;
  for (int64_t i = 0; i < count; ++i) ids.push_back(static_cast<int32_t>((i * 5 + 3) % vocab));
  return ids;
}

}  // namespace

TEST_CASE("transformer parameter names and count") {
  ModelConfig config;
  config.vocab_size = 9;
  Transformer model(config, 1);
  auto named = model.named_parameters();
  CHECK(named.front().first == "embed.weight");
  CHECK(named.back().first == "lm_head.weight");
  CHECK(named[1].first == "blocks.0.norm1.weight");
  CHECK(named[2].first == "blocks.0.attn.q_proj.weight");
  CHECK(named[2].second.name() == "blocks.0.attn.q_proj.weight");
  // embed 9*64 + 2 * (64 + 3*64*64 + 64*64 + 64 + 2*64*256) + 64 + 64*9
  CHECK(model.parameter_count() == 99776);
}

TEST_CASE("transformer forward shape and determinism") {
  ModelConfig config = small_config(Transform::Softmax, PositionEncoding::Nape);
  Transformer first(config, 5), second(config, 5);
  NoGradGuard no_grad;
  std::vector<int32_t> ids = token_ids(2 * 6, 7);
  Tensor a = first.forward(ids, 2, 6);
  Tensor b = second.forward(ids, 2, 6);
  CHECK(a.shape() == Shape{2, 6, 7});
  CHECK(a.to_vector() == b.to_vector());
}

TEST_CASE("transformer is causal for every transform and encoding") {
  for (Transform transform : {Transform::Softmax, Transform::Entmax15})
    for (PositionEncoding position :
         {PositionEncoding::Rope, PositionEncoding::Nope, PositionEncoding::Alibi, PositionEncoding::Nape}) {
      CAPTURE(to_string(transform));
      CAPTURE(to_string(position));
      Transformer model(small_config(transform, position), 3);
      NoGradGuard no_grad;
      std::vector<int32_t> ids = token_ids(8, 7);
      std::vector<float> before = model.forward(ids, 1, 8).to_vector();
      ids[5] = (ids[5] + 1) % 7;  // change a later token
      std::vector<float> after = model.forward(ids, 1, 8).to_vector();
      // Positions 0..4 see only tokens 0..4: their logits must not change at all.
      for (int64_t i = 0; i < 5 * 7; ++i) CHECK(before[i] == after[i]);
      bool later_changed = false;
      for (int64_t i = 5 * 7; i < 8 * 7; ++i) later_changed = later_changed || before[i] != after[i];
      CHECK(later_changed);
    }
}

TEST_CASE("transformer loss gradient vs finite differences") {
  for (Transform transform : {Transform::Softmax, Transform::Entmax15})
    for (PositionEncoding position :
         {PositionEncoding::Rope, PositionEncoding::Nope, PositionEncoding::Alibi, PositionEncoding::Nape}) {
      CAPTURE(to_string(transform));
      CAPTURE(to_string(position));
      ModelConfig config = small_config(transform, position);
      // LayerNorm and the gated MLP on the NoPE and ALiBi models, RMSNorm and GELU on the others.
      const bool layernorm_geglu = position == PositionEncoding::Nope || position == PositionEncoding::Alibi;
      config.norm = layernorm_geglu ? Norm::LayerNorm : Norm::RmsNorm;
      config.activation = layernorm_geglu ? Activation::Geglu : Activation::Gelu;
      Transformer model(config, 11);
      std::vector<int32_t> ids = token_ids(2 * 5, 7);
      std::vector<int32_t> labels = {1, 2, -100, 4, 5, 6, -100, 0, 1, 2};
      auto loss_fn = [&](const std::vector<Tensor>&) {
        return cross_entropy(model.forward(ids, 2, 5), labels, -100);
      };
      GradcheckOptions options;
      options.eps = 1e-2;
      options.abs_tolerance = 2e-3;
      options.rel_tolerance = 2e-2;
      options.max_elements_per_input = 12;
      GradcheckResult result = gradcheck(loss_fn, model.parameters(), options);
      INFO(result.report);
      CHECK(result.ok);
    }
}

TEST_CASE("head slopes for nape and alibi") {
  ModelConfig config;
  config.vocab_size = 5;
  config.n_heads = 8;
  config.position = PositionEncoding::Nape;
  std::vector<float> linear = head_slopes(config);
  std::vector<float> expected_linear = {1.0f, 0.5f, 1.0f / 3, 0.25f, 0, 0, 0, 0};
  for (size_t h = 0; h < 8; ++h) CHECK(linear[h] == doctest::Approx(expected_linear[h]));

  config.nape_slopes = NapeSlopes::Exp;
  std::vector<float> exponential = head_slopes(config);
  std::vector<float> expected_exp = {1.0f, 0.5f, 0.25f, 0.125f, 0, 0, 0, 0};
  for (size_t h = 0; h < 8; ++h) CHECK(exponential[h] == doctest::Approx(expected_exp[h]));
}

TEST_CASE("alibi slopes follow the standard geometric sets") {
  std::vector<float> eight = alibi_slopes(8);
  for (int h = 0; h < 8; ++h) CHECK(eight[h] == doctest::Approx(std::pow(0.5, h + 1)));
  std::vector<float> twelve = alibi_slopes(12);
  std::vector<double> twelve_expected = {0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125, 0.00390625,
                                         0.7071068, 0.3535534, 0.1767767, 0.0883883};
  for (int h = 0; h < 12; ++h) CHECK(twelve[h] == doctest::Approx(twelve_expected[h]).epsilon(1e-6));
  std::vector<float> six = alibi_slopes(6);
  std::vector<double> six_expected = {0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125};
  for (int h = 0; h < 6; ++h) CHECK(six[h] == doctest::Approx(six_expected[h]).epsilon(1e-6));
}

TEST_CASE("model config rejects impossible settings") {
  ModelConfig config;
  config.vocab_size = 5;
  config.n_heads = 3;
  config.position = PositionEncoding::Nape;
  CHECK_THROWS_WITH_AS(config.validate(), doctest::Contains("n_heads = 3"), Error);
  config.position = PositionEncoding::Rope;
  config.head_size = 5;
  CHECK_THROWS_WITH_AS(config.validate(), doctest::Contains("head_size = 5"), Error);
  config.head_size = 4;
  config.d_model = 0;
  CHECK_THROWS_WITH_AS(config.validate(), doctest::Contains("d_model = 0"), Error);
}

TEST_CASE("transform and position names list valid choices") {
  CHECK(parse_option<Transform>("entmax15") == Transform::Entmax15);
  CHECK_THROWS_WITH_AS(parse_option<Transform>("sparsemux"), doctest::Contains("valid: softmax, entmax15"), Error);
  CHECK_THROWS_WITH_AS(parse_option<PositionEncoding>("absolute"), doctest::Contains("valid: rope, nope, alibi, nape"), Error);
}

TEST_CASE("model config json round trip and unknown keys") {
  ModelConfig config = small_config(Transform::Entmax15, PositionEncoding::Alibi);
  const nlohmann::json attention = attention_section(config);
  ModelConfig copy = model_config_from_json(model_section(config), attention);
  CHECK(copy.transform == Transform::Entmax15);
  CHECK(copy.position == PositionEncoding::Alibi);
  CHECK(copy.d_model == 8);
  nlohmann::json json = model_section(config);
  json["n_head"] = 4;
  CHECK_THROWS_WITH_AS(model_config_from_json(json, attention), doctest::Contains("unknown key model.n_head"), Error);
  json.erase("n_head");
  json["d_model"] = "wide";
  CHECK_THROWS_WITH_AS(model_config_from_json(json, attention), doctest::Contains("model.d_model"), Error);
  json["d_model"] = 2.5;
  CHECK_THROWS_WITH_AS(model_config_from_json(json, attention), doctest::Contains("expected an integer"), Error);
  nlohmann::json bad_attention = attention;
  bad_attention["nape_slopes"] = "quadratic";
  CHECK_THROWS_WITH_AS(model_config_from_json(model_section(config), bad_attention),
                       doctest::Contains("invalid attention.nape_slopes: unknown NAPE slope set 'quadratic'; valid: "
                                         "linear, exp"),
                       Error);
}

TEST_CASE("checkpoint round trip restores weights and optimizer") {
  entlab_test::TempFolder folder;
  ModelConfig config = small_config(Transform::Softmax, PositionEncoding::Nape);
  Transformer model(config, 1);
  AdamW optimizer(model.parameters(), {});
  for (const Tensor& p : model.parameters()) p.ensure_grad().data()[0] = 0.5f;
  optimizer.step();
  save_checkpoint(folder.file("model.safetensors"), model, &optimizer, {{"step", "1"}});

  Transformer other(config, 2);
  AdamW other_optimizer(other.parameters(), {});
  Metadata metadata = load_checkpoint(folder.file("model.safetensors"), other, &other_optimizer);
  CHECK(metadata.at("step") == "1");
  CHECK(other_optimizer.step_count() == 1);
  auto original = model.named_parameters();
  auto restored = other.named_parameters();
  for (size_t i = 0; i < original.size(); ++i) CHECK(original[i].second.to_vector() == restored[i].second.to_vector());
  CHECK(optimizer.exp_avg()[0].to_vector() == other_optimizer.exp_avg()[0].to_vector());
}

TEST_CASE("checkpoint detects edited metadata") {
  // The safetensors checksum covers tensor data only, so a changed step count in the
  // header must be caught by the metadata checksum.
  entlab_test::TempFolder folder;
  const std::string path = folder.file("model.safetensors");
  Transformer model(small_config(Transform::Softmax, PositionEncoding::Nape), 1);
  save_checkpoint(path, model, nullptr, {{"step", "4"}});
  CHECK(load_checkpoint(path, model, nullptr).count(kMetadataChecksumKey) == 1);

  std::string bytes = read_file(path);
  const size_t at = bytes.find("\"step\":\"4\"");
  REQUIRE(at != std::string::npos);
  bytes[at + 8] = '5';
  write_file_atomically(path, bytes);
  CHECK_THROWS_WITH_AS(load_checkpoint(path, model, nullptr), doctest::Contains("metadata checksum mismatch"), Error);
}

TEST_CASE("checkpoint detects swapped tensor offsets") {
  // Swapping the byte ranges of two tensors of one shape keeps the data and metadata
  // checksums valid. Only the index checksum detects the new order.
  entlab_test::TempFolder folder;
  const std::string path = folder.file("model.safetensors");
  Transformer model(small_config(Transform::Softmax, PositionEncoding::Nape), 1);
  save_checkpoint(path, model, nullptr, {});
  const std::string bytes = read_file(path);
  uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= uint64_t(static_cast<unsigned char>(bytes[i])) << (8 * i);
  nlohmann::ordered_json header = nlohmann::ordered_json::parse(bytes.substr(8, header_size));
  std::swap(header["model.blocks.0.attn.q_proj.weight"]["data_offsets"],
            header["model.blocks.0.attn.k_proj.weight"]["data_offsets"]);
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string edited(8, '\0');
  for (int i = 0; i < 8; ++i) edited[i] = static_cast<char>((uint64_t(text.size()) >> (8 * i)) & 0xFF);
  write_file_atomically(path, edited + text + bytes.substr(8 + header_size));
  CHECK_THROWS_WITH_AS(load_checkpoint(path, model, nullptr), doctest::Contains("tensor index checksum mismatch"),
                       Error);
}

TEST_CASE("checkpoint with another architecture is rejected") {
  entlab_test::TempFolder folder;
  Transformer model(small_config(Transform::Softmax, PositionEncoding::Nape), 1);
  save_checkpoint(folder.file("model.safetensors"), model, nullptr, {});
  ModelConfig wider = small_config(Transform::Softmax, PositionEncoding::Nape);
  wider.d_model = 16;
  Transformer other(wider, 1);
  CHECK_THROWS_WITH_AS(load_checkpoint(folder.file("model.safetensors"), other, nullptr),
                       doctest::Contains("model.embed.weight"), Error);
}

TEST_CASE("parameter_count bounds the real count") {
  for (Activation activation : {Activation::Gelu, Activation::Geglu}) {
    ModelConfig config = small_config(Transform::Softmax, PositionEncoding::Nape);
    config.activation = activation;
    config.norm = Norm::LayerNorm;
    const double real = static_cast<double>(Transformer(config, 1).parameter_count());
    CHECK(parameter_count(config) >= real);
    CHECK(parameter_count(config) <= 1.25 * real);
  }
}

TEST_CASE("model sizes have upper bounds") {
  ModelConfig config = small_config(Transform::Softmax, PositionEncoding::Nape);
  config.d_model = int64_t{1} << 62;
  CHECK_THROWS_WITH_AS(config.validate(), doctest::Contains("invalid model.d_model = 4611686018427387904: must be an "
                                                            "integer from 1 to 65536"),
                       Error);
  config.d_model = 8;
  config.mlp_hidden = int64_t{1} << 62;
  CHECK_THROWS_WITH_AS(config.validate(), doctest::Contains("invalid model.mlp_hidden"), Error);
}
