// Checkpoints: model weights and AdamW state in one safetensors file.
//
// Tensor names: "model.<parameter>", "optim.exp_avg.<parameter>",
// "optim.exp_avg_sq.<parameter>". String metadata carries the step counters and
// whatever the caller adds (the run config, RNG state). The file is written to a
// temporary name and renamed, so a crash never leaves a half-written checkpoint
// under the real name.
//
// The safetensors checksum covers the tensor data only. Two more FNV-1a hashes cover the
// header: "entlab.index_checksum" of the tensor names and shapes in data order, and
// "entlab.metadata_checksum" of the other metadata strings, so a damaged step count, RNG
// state or tensor index is caught too. Files without them (older ones) are read unchecked.
#pragma once

#include <map>
#include <string>

#include "core/safetensors.h"
#include "nn/module.h"
#include "nn/optim.h"

namespace entlab::nn {

using Metadata = std::map<std::string, std::string>;

// The metadata key of the hash over the other metadata strings.
extern const char* const kMetadataChecksumKey;

// Writes the model (and the optimizer's moments and step, when given).
void save_checkpoint(const std::string& path, const Module& model, const AdamW* optimizer, Metadata metadata);

// Loads weights into `model` (and state into `optimizer`, when given): read_checkpoint,
// then copy_checkpoint. Returns the file's metadata, which keeps kMetadataChecksumKey if
// the file had it.
Metadata load_checkpoint(const std::string& path, const Module& model, AdamW* optimizer);

// Reads a checkpoint file and verifies it: the data checksum, the index and metadata
// checksums when present (files written before they existed have none) and the format.
// Errors name the file.
SafetensorsFile read_checkpoint(const std::string& path);
// Copies a verified checkpoint's tensors into `model` (and `optimizer`, when given). Every
// parameter must be present with its shape; errors name the file and the tensor.
void copy_checkpoint(const SafetensorsFile& file, const std::string& path, const Module& model, AdamW* optimizer);

// Reads a non-negative integer stored as a metadata string; errors name the file and key.
int64_t metadata_integer(const Metadata& metadata, const std::string& key, const std::string& path);

}  // namespace entlab::nn
