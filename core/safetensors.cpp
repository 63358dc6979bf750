#include "core/safetensors.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/json_reader.h"

// Tensor bytes are copied to and from float storage unchanged, which matches the format's
// little-endian data only on a little-endian host.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors.cpp assumes a little-endian host");

namespace entlab {

const char* const kSafetensorsChecksumKey = "entlab.checksum";

namespace {

const char* const kMetadataKey = "__metadata__";
const size_t kLengthFieldSize = 8;
// The writer pads the header so the data section starts at a multiple of this many bytes.
const size_t kHeaderAlignment = 8;

[[noreturn]] void fail(const std::string& path, const std::string& problem) {
  throw Error(str_cat("invalid safetensors file '", path, "': ", problem));
}

[[noreturn]] void fail_tensor(const std::string& path, const std::string& name, const std::string& problem) {
  fail(path, str_cat("tensor '", name, "': ", problem));
}

std::string hex_u64(uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof(text), "%016" PRIx64, value);
  return text;
}

// --- Writing ------------------------------------------------------------------------------

void check_write_arguments(const std::string& path,
                           const std::vector<std::pair<std::string, Tensor>>& tensors,
                           const std::map<std::string, std::string>& metadata) {
  std::set<std::string> names;
  for (const auto& [name, tensor] : tensors) {
    ENTLAB_CHECK(!name.empty(), "cannot write safetensors file '", path, "': a tensor name is empty");
    ENTLAB_CHECK(name != kMetadataKey, "cannot write safetensors file '", path,
                 "': a tensor cannot be named '", kMetadataKey, "'");
    ENTLAB_CHECK(names.insert(name).second, "cannot write safetensors file '", path, "': the tensor name '",
                 name, "' appears twice");
    ENTLAB_CHECK(tensor.defined(), "cannot write safetensors file '", path, "': tensor '", name,
                 "' is undefined");
  }
  ENTLAB_CHECK(metadata.count(kSafetensorsChecksumKey) == 0, "cannot write safetensors file '", path,
               "': the metadata key '", kSafetensorsChecksumKey,
               "' is reserved for the checksum the writer adds");
}

// Appends the float32 values of `t` in logical row-major order.
void append_values(std::string& out, const Tensor& t) {
  size_t size = static_cast<size_t>(t.numel()) * sizeof(float);
  if (size == 0) return;
  size_t offset = out.size();
  out.resize(offset + size);
  if (t.is_contiguous()) {
    std::memcpy(&out[offset], t.data(), size);
  } else {
    std::vector<float> values = t.to_vector();
    std::memcpy(&out[offset], values.data(), size);
  }
}

// The JSON header, padded with spaces to a multiple of kHeaderAlignment bytes.
std::string serialize_header(const std::string& path,
                             const std::vector<std::pair<std::string, Tensor>>& tensors,
                             const std::map<std::string, std::string>& metadata) {
  // ordered_json keeps "__metadata__" first and the tensors in file order, which makes the
  // header easy to read with `head -c`.
  nlohmann::ordered_json header;
  header[kMetadataKey] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    uint64_t size = static_cast<uint64_t>(tensor.numel()) * sizeof(float);
    header[name] = {{"dtype", "F32"}, {"shape", tensor.shape()}, {"data_offsets", {offset, offset + size}}};
    offset += size;
  }

  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::type_error& error) {
    throw Error(str_cat("cannot write safetensors file '", path,
                        "': a tensor name or metadata string is not valid UTF-8 (", error.what(), ")"));
  }
  text.append((kHeaderAlignment - text.size() % kHeaderAlignment) % kHeaderAlignment, ' ');
  return text;
}

// --- Reading --------------------------------------------------------------------------------

// ordered_json keeps the header's key order, so tensors that share an offset (empty ones)
// come back in the order they were written.
using HeaderJson = nlohmann::ordered_json;

struct TensorEntry {
  std::string name;
  Shape shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

// Parses the header JSON. The format forbids repeated keys.
HeaderJson parse_header_json(const std::string& path, const std::string& text) {
  try {
    return parse_json_without_repeated_keys<HeaderJson>(text);
  } catch (const nlohmann::json::parse_error& error) {
    fail(path, str_cat("the header is not valid JSON: ", error.what()));
  } catch (const Error& error) {
    fail(path, str_cat("the header is not valid: ", error.what()));
  }
}

std::map<std::string, std::string> parse_metadata(const std::string& path, const HeaderJson& value) {
  if (!value.is_object()) fail(path, str_cat("'", kMetadataKey, "' is not a JSON object"));
  std::map<std::string, std::string> metadata;
  for (const auto& item : value.items()) {
    if (!item.value().is_string()) {
      fail(path, str_cat("metadata key '", item.key(), "' has a non-string value ", item.value().dump()));
    }
    metadata[item.key()] = item.value().get<std::string>();
  }
  return metadata;
}

Shape parse_shape(const std::string& path, const std::string& name, const HeaderJson& value) {
  if (!value.is_array()) fail_tensor(path, name, str_cat("shape is not an array: ", value.dump()));
  // nlohmann::json stores a non-negative integer as number_unsigned, so negative integers
  // and fractions fail that test.
  Shape shape;
  for (const auto& extent : value) {
    if (!extent.is_number_unsigned() ||
        extent.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      fail_tensor(path, name, str_cat("shape must list non-negative integers, got ", value.dump()));
    }
    shape.push_back(extent.get<int64_t>());
  }
  return shape;
}

// Bytes that `shape` needs as F32, or fails if that overflows 64 bits.
uint64_t f32_bytes_needed(const std::string& path, const std::string& name, const Shape& shape) {
  uint64_t total = sizeof(float);
  for (int64_t extent : shape) {
    uint64_t size = static_cast<uint64_t>(extent);
    if (size != 0 && total > std::numeric_limits<uint64_t>::max() / size) {
      fail_tensor(path, name, str_cat("shape ", shape_str(shape), " is too large to be real"));
    }
    total *= size;
  }
  return total;
}

void check_entry_keys(const std::string& path, const std::string& name, const HeaderJson& value) {
  if (!value.is_object()) fail_tensor(path, name, "the entry is not a JSON object");
  for (const auto& item : value.items()) {
    const std::string& key = item.key();
    if (key != "dtype" && key != "shape" && key != "data_offsets") {
      fail_tensor(path, name, str_cat("unexpected key '", key, "' (allowed: dtype, shape, data_offsets)"));
    }
  }
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    if (!value.contains(key)) fail_tensor(path, name, str_cat("the key '", key, "' is missing"));
  }
}

TensorEntry parse_entry(const std::string& path, const std::string& name, const HeaderJson& value,
                        uint64_t data_size) {
  check_entry_keys(path, name, value);

  const HeaderJson& dtype = value["dtype"];
  if (!dtype.is_string() || dtype.get<std::string>() != "F32") {
    fail_tensor(path, name, str_cat("dtype is ", dtype.dump(), ", but entlab reads only \"F32\""));
  }

  TensorEntry entry;
  entry.name = name;
  entry.shape = parse_shape(path, name, value["shape"]);

  const HeaderJson& offsets = value["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned()) {
    fail_tensor(
        path, name,
        str_cat("data_offsets must be [begin, end] with non-negative integers, got ", offsets.dump()));
  }
  entry.begin = offsets[0].get<uint64_t>();
  entry.end = offsets[1].get<uint64_t>();
  if (entry.begin > entry.end || entry.end > data_size) {
    fail_tensor(path, name,
                str_cat("data_offsets ", offsets.dump(), " are not a range inside the ", data_size,
                        "-byte data section"));
  }

  uint64_t needed = f32_bytes_needed(path, name, entry.shape);
  if (needed != entry.end - entry.begin) {
    fail_tensor(path, name,
                str_cat("shape ", shape_str(entry.shape), " of F32 needs ", needed,
                        " bytes, but data_offsets ", offsets.dump(), " span ", entry.end - entry.begin));
  }
  return entry;
}

// Checks that the tensors, sorted by offset, tile the data section exactly.
void check_layout(const std::string& path, const std::vector<TensorEntry>& sorted, uint64_t data_size) {
  uint64_t covered = 0;
  const TensorEntry* previous = nullptr;
  for (const TensorEntry& entry : sorted) {
    if (entry.begin < covered) {
      fail_tensor(path, entry.name,
                  str_cat("bytes [", entry.begin, ", ", entry.end, ") overlap tensor '", previous->name,
                          "' at [", previous->begin, ", ", previous->end, ")"));
    }
    if (entry.begin > covered) {
      fail(path, str_cat("data bytes [", covered, ", ", entry.begin, ") before tensor '", entry.name,
                         "' belong to no tensor"));
    }
    covered = entry.end;
    previous = &entry;
  }
  if (covered != data_size) {
    fail(path, str_cat("data bytes [", covered, ", ", data_size, ") at the end belong to no tensor"));
  }
}

void verify_checksum(const std::string& path, std::map<std::string, std::string>& metadata, const char* data,
                     size_t data_size) {
  auto found = metadata.find(kSafetensorsChecksumKey);
  if (found == metadata.end()) return;
  std::string actual = hex_u64(fnv1a_64(data, data_size));
  if (found->second != actual) {
    fail(path, str_cat("checksum mismatch: the metadata key '", kSafetensorsChecksumKey, "' says ",
                       found->second, ", but the data section hashes to ", actual, "; the file is corrupt"));
  }
  metadata.erase(found);
}

uint64_t read_u64_little_endian(const std::string& bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < kLengthFieldSize; ++i) {
    value |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  }
  return value;
}

}  // namespace

uint64_t fnv1a_64(const char* data, size_t size) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < size; ++i) {
    hash ^= static_cast<unsigned char>(data[i]);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  check_write_arguments(path, tensors, metadata);

  std::string data;
  for (const auto& named : tensors) append_values(data, named.second);
  std::map<std::string, std::string> full_metadata = metadata;
  full_metadata[kSafetensorsChecksumKey] = hex_u64(fnv1a_64(data.data(), data.size()));
  std::string header = serialize_header(path, tensors, full_metadata);

  std::string bytes;
  bytes.reserve(kLengthFieldSize + header.size() + data.size());
  for (size_t i = 0; i < kLengthFieldSize; ++i) {
    bytes += static_cast<char>((static_cast<uint64_t>(header.size()) >> (8 * i)) & 0xFF);
  }
  bytes += header;
  bytes += data;
  write_file_atomically(path, bytes);
}

SafetensorsFile read_safetensors(const std::string& path) {
  std::string bytes = read_file(path);

  // 1. Split the file into header and data section.
  if (bytes.size() < kLengthFieldSize) {
    fail(path, str_cat("the file has ", bytes.size(), " bytes, fewer than the 8-byte header length"));
  }
  uint64_t header_size = read_u64_little_endian(bytes);
  uint64_t after_length = bytes.size() - kLengthFieldSize;
  if (header_size > after_length) {
    fail(path, str_cat("the header length is ", header_size, " bytes, but only ", after_length,
                       " bytes follow it (truncated or not a safetensors file)"));
  }
  std::string header_text = bytes.substr(kLengthFieldSize, header_size);
  if (header_text.empty() || header_text[0] != '{') fail(path, "the header does not start with '{'");
  const char* data = bytes.data() + kLengthFieldSize + header_size;
  uint64_t data_size = after_length - header_size;

  // 2. Parse and check every header entry.
  HeaderJson header = parse_header_json(path, header_text);
  if (!header.is_object()) fail(path, "the header is not a JSON object");
  SafetensorsFile file;
  std::vector<TensorEntry> entries;
  for (const auto& item : header.items()) {
    if (item.key() == kMetadataKey) {
      file.metadata = parse_metadata(path, item.value());
    } else {
      entries.push_back(parse_entry(path, item.key(), item.value(), data_size));
    }
  }

  // 3. Check that the tensors tile the data section, then the checksum.
  std::stable_sort(entries.begin(), entries.end(), [](const TensorEntry& a, const TensorEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  check_layout(path, entries, data_size);
  verify_checksum(path, file.metadata, data, static_cast<size_t>(data_size));

  // 4. Copy the values out. Every size was checked against the file above.
  for (const TensorEntry& entry : entries) {
    Tensor tensor = Tensor::empty(entry.shape, entry.name);
    std::memcpy(tensor.data(), data + entry.begin, static_cast<size_t>(entry.end - entry.begin));
    file.tensors.emplace_back(entry.name, tensor);
  }
  return file;
}

}  // namespace entlab
