// safetensors checkpoints: named float32 tensors plus string metadata in one file.
//
// Layout (the public safetensors format):
//   8 bytes   N, the header length, unsigned 64-bit little-endian
//   N bytes   a UTF-8 JSON object, padded at the end with spaces:
//               {"__metadata__": {"key": "value", ...},
//                "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]},
//                ...}
//   the rest  the data section: raw little-endian values. Each tensor occupies the bytes
//             [begin, end) counted from the start of the data section, and the tensors
//             cover the data section without gaps or overlaps.
// "__metadata__" is optional and maps strings to strings only.
//
// The writer pads the header to a multiple of 8 bytes, so the data section starts 8-byte
// aligned, and lays the tensors out contiguously in the order given. It also adds the metadata
// key "entlab.checksum": the FNV-1a 64-bit hash of the data section as 16 lowercase hex digits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace entlab {

// The metadata key under which write_safetensors stores the data checksum.
extern const char* const kSafetensorsChecksumKey;

// Writes `tensors` (dtype F32, in the given order) and `metadata` through
// write_file_atomically. Throws entlab::Error if a tensor is undefined, a name is empty,
// repeated or "__metadata__", a name or metadata string is not valid UTF-8, or `metadata`
// already uses the key "entlab.checksum". Non-contiguous tensors are written in logical order.
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata);

struct SafetensorsFile {
  // Sorted by data offset, and in header order among tensors at the same offset (empty ones).
  // For a file from write_safetensors, that is the order it was given. Each Tensor is named
  // after its key in the header.
  std::vector<std::pair<std::string, Tensor>> tensors;
  // The "__metadata__" strings, without "entlab.checksum" once it has been verified.
  std::map<std::string, std::string> metadata;
};

// Reads and validates a whole safetensors file. The checks:
//   - the header length against the file size, and the JSON syntax with no repeated keys;
//   - dtype F32 only, and the shape's byte size against each tensor's byte range;
//   - byte ranges inside the data section, covering it without gaps or overlaps;
//   - the checksum, if the metadata has one.
// Throws entlab::Error naming the file and the tensor or key at fault.
SafetensorsFile read_safetensors(const std::string& path);

// The FNV-1a 64-bit hash of `size` bytes (offset basis 0xcbf29ce484222325, prime
// 0x100000001b3). It is fast and detects accidental corruption, but not tampering.
uint64_t fnv1a_64(const char* data, size_t size);

}  // namespace entlab
