#include "nn/checkpoint.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "core/error.h"
#include "core/safetensors.h"

namespace entlab::nn {

const char* const kMetadataChecksumKey = "entlab.metadata_checksum";
const char* const kIndexChecksumKey = "entlab.index_checksum";

namespace {

constexpr const char* kFormat = "entlab-checkpoint-1";

// FNV-1a over "key\0value\0" for every entry but the metadata checksum itself, in key order.
std::string hash_metadata(const Metadata& metadata) {
  std::string text;
  for (const auto& [key, value] : metadata) {
    if (key == kMetadataChecksumKey) continue;
    text += key;
    text += '\0';
    text += value;
    text += '\0';
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016" PRIx64, fnv1a_64(text.data(), text.size()));
  return hex;
}

// FNV-1a over "name\0d0,d1,...\0" for every tensor in data order. Two tensors whose
// data_offsets were swapped come back in the other order, so the hash changes.
std::string hash_index(const std::vector<std::pair<std::string, Tensor>>& tensors) {
  std::string text;
  for (const auto& [name, tensor] : tensors) {
    text += name;
    text += '\0';
    for (int64_t extent : tensor.shape()) text += std::to_string(extent) + ",";
    text += '\0';
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016" PRIx64, fnv1a_64(text.data(), text.size()));
  return hex;
}

void verify_index_checksum(const SafetensorsFile& file, const std::string& path) {
  auto found = file.metadata.find(kIndexChecksumKey);
  if (found == file.metadata.end()) return;
  const std::string actual = hash_index(file.tensors);
  ENTLAB_CHECK(found->second == actual, path, ": tensor index checksum mismatch: '", kIndexChecksumKey, "' is ",
               found->second, ", but the names, shapes and order of the tensors hash to ", actual,
               "; the file header is corrupt");
}

void verify_metadata_checksum(const Metadata& metadata, const std::string& path) {
  auto found = metadata.find(kMetadataChecksumKey);
  if (found == metadata.end()) return;
  const std::string actual = hash_metadata(metadata);
  ENTLAB_CHECK(found->second == actual, path, ": metadata checksum mismatch: '", kMetadataChecksumKey, "' is ",
               found->second, ", but the metadata hashes to ", actual, "; the file header is corrupt");
}

void copy_into(const Tensor& destination, const Tensor& source, const std::string& path, const std::string& name) {
  ENTLAB_CHECK(source.shape() == destination.shape(), path, ": tensor '", name, "' has shape ",
               shape_str(source.shape()), " but the model expects ", shape_str(destination.shape()));
  std::vector<float> values = source.to_vector();
  std::copy(values.begin(), values.end(), destination.data());
  destination.bump_version();
}

}  // namespace

int64_t metadata_integer(const Metadata& metadata, const std::string& key, const std::string& path) {
  auto it = metadata.find(key);
  ENTLAB_CHECK(it != metadata.end(), path, ": metadata '", key, "' is missing");
  const std::string& text = it->second;
  size_t parsed = 0;
  int64_t value = 0;
  try {
    value = std::stoll(text, &parsed);
  } catch (const std::exception&) {
    parsed = 0;
  }
  ENTLAB_CHECK(!text.empty() && parsed == text.size() && value >= 0, path, ": metadata '", key, "' is '", text,
               "', expected a non-negative integer");
  return value;
}

void save_checkpoint(const std::string& path, const Module& model, const AdamW* optimizer, Metadata metadata) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  auto parameters = model.named_parameters();
  for (const auto& [name, parameter] : parameters) tensors.emplace_back("model." + name, parameter);
  if (optimizer) {
    for (size_t i = 0; i < parameters.size(); ++i) {
      tensors.emplace_back("optim.exp_avg." + parameters[i].first, optimizer->exp_avg()[i]);
      tensors.emplace_back("optim.exp_avg_sq." + parameters[i].first, optimizer->exp_avg_sq()[i]);
    }
    metadata["optimizer_step"] = std::to_string(optimizer->step_count());
  }
  metadata["format"] = kFormat;
  metadata[kIndexChecksumKey] = hash_index(tensors);
  metadata.erase(kMetadataChecksumKey);
  metadata[kMetadataChecksumKey] = hash_metadata(metadata);
  write_safetensors(path, tensors, metadata);
}

SafetensorsFile read_checkpoint(const std::string& path) {
  SafetensorsFile file = read_safetensors(path);
  verify_metadata_checksum(file.metadata, path);
  verify_index_checksum(file, path);
  ENTLAB_CHECK(file.metadata.count("format") && file.metadata.at("format") == kFormat, path,
               ": not an entlab checkpoint (metadata 'format' is missing or not '", kFormat, "')");
  return file;
}

Metadata load_checkpoint(const std::string& path, const Module& model, AdamW* optimizer) {
  SafetensorsFile file = read_checkpoint(path);
  copy_checkpoint(file, path, model, optimizer);
  return file.metadata;
}

void copy_checkpoint(const SafetensorsFile& file, const std::string& path, const Module& model, AdamW* optimizer) {
  std::map<std::string, Tensor> by_name(file.tensors.begin(), file.tensors.end());
  auto find = [&](const std::string& name) -> const Tensor& {
    auto it = by_name.find(name);
    ENTLAB_CHECK(it != by_name.end(), path, ": tensor '", name, "' is missing from the checkpoint");
    return it->second;
  };

  auto parameters = model.named_parameters();
  for (const auto& [name, parameter] : parameters) copy_into(parameter, find("model." + name), path, "model." + name);
  for (const auto& [name, tensor] : file.tensors) {
    const bool known = std::any_of(parameters.begin(), parameters.end(),
                                   [&](const auto& entry) { return "model." + entry.first == name; });
    ENTLAB_CHECK(known || name.rfind("model.", 0) != 0, path, ": tensor '", name,
                 "' has no parameter in this model; the checkpoint was written by a different architecture");
  }
  if (optimizer) {
    for (size_t i = 0; i < parameters.size(); ++i) {
      const std::string& name = parameters[i].first;
      copy_into(optimizer->exp_avg()[i], find("optim.exp_avg." + name), path, "optim.exp_avg." + name);
      copy_into(optimizer->exp_avg_sq()[i], find("optim.exp_avg_sq." + name), path, "optim.exp_avg_sq." + name);
    }
    optimizer->set_step_count(metadata_integer(file.metadata, "optimizer_step", path));
  }
}

}  // namespace entlab::nn
