#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "core/tensor.h"
#include "temp_folder.h"

using namespace entlab;
using entlab_test::TempFolder;

namespace {

void write_raw(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A safetensors file built by hand: 8-byte little-endian header length, header, data.
std::string safetensors_file(const std::string& header, const std::string& data) {
  std::string bytes;
  uint64_t size = header.size();
  for (int i = 0; i < 8; ++i) bytes += static_cast<char>((size >> (8 * i)) & 0xFF);
  return bytes + header + data;
}

std::string float_bytes(const std::vector<float>& values) {
  std::string bytes(values.size() * sizeof(float), '\0');
  std::memcpy(&bytes[0], values.data(), bytes.size());
  return bytes;
}

// Writes `bytes` to a file and returns the message read_safetensors raises for it.
std::string read_error(const TempFolder& folder, const std::string& bytes) {
  std::string path = folder.file("bad.safetensors");
  write_raw(path, bytes);
  try {
    read_safetensors(path);
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A valid file from write_safetensors with tensors "w" (2, 2) and "b" (3,).
std::string written_file(const TempFolder& folder) {
  std::string path = folder.file("good.safetensors");
  write_safetensors(
      path, {{"w", Tensor::from_vector({2, 2}, {1, 2, 3, 4})}, {"b", Tensor::from_vector({3}, {5, 6, 7})}},
      {{"step", "10"}});
  return read_file(path);
}

}  // namespace

TEST_CASE("safetensors reads a hand-built file") {
  // Built byte by byte from the format description: the header lists the tensors out of
  // data order and ends with space padding, as other writers may do.
  std::string header =
      "{\"__metadata__\":{\"format\":\"pt\"},"
      "\"bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]},"
      "\"scale\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}   ";
  std::string bytes;
  bytes += static_cast<char>(header.size());
  bytes.append(7, '\0');
  bytes += header;
  const unsigned char data[] = {
      0x00, 0x00, 0x80, 0x3F,  // scale = 1.0f
      0x00, 0x00, 0x00, 0x40,  // bias[0] = 2.0f
      0x00, 0x00, 0x00, 0xBF,  // bias[1] = -0.5f
  };
  bytes.append(reinterpret_cast<const char*>(data), sizeof(data));
  REQUIRE(header.size() < 256);

  TempFolder folder;
  std::string path = folder.file("hand.safetensors");
  write_raw(path, bytes);
  SafetensorsFile file = read_safetensors(path);

  REQUIRE(file.tensors.size() == 2);
  CHECK(file.tensors[0].first == "scale");
  CHECK(file.tensors[0].second.name() == "scale");
  CHECK(file.tensors[0].second.shape() == Shape{});
  CHECK(file.tensors[0].second.item() == 1.0f);
  CHECK(file.tensors[1].first == "bias");
  CHECK(file.tensors[1].second.shape() == Shape{2});
  CHECK(file.tensors[1].second.to_vector() == std::vector<float>{2.0f, -0.5f});
  CHECK(file.metadata == std::map<std::string, std::string>{{"format", "pt"}});
}

TEST_CASE("safetensors writer layout") {
  TempFolder folder;
  std::string bytes = written_file(folder);

  uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i)
    header_size |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  CHECK(header_size % 8 == 0);
  REQUIRE(8 + header_size <= bytes.size());
  std::string header_text = bytes.substr(8, header_size);
  std::string data = bytes.substr(8 + header_size);
  CHECK(data == float_bytes({1, 2, 3, 4, 5, 6, 7}));

  nlohmann::ordered_json header = nlohmann::ordered_json::parse(header_text);
  std::vector<std::string> keys;
  for (const auto& item : header.items()) keys.push_back(item.key());
  CHECK(keys == std::vector<std::string>{"__metadata__", "w", "b"});
  CHECK(header["w"]["dtype"] == "F32");
  CHECK(header["w"]["shape"] == nlohmann::json::array({2, 2}));
  CHECK(header["w"]["data_offsets"] == nlohmann::json::array({0, 16}));
  CHECK(header["b"]["data_offsets"] == nlohmann::json::array({16, 28}));
  CHECK(header["__metadata__"]["step"] == "10");

  char expected_checksum[17];
  std::snprintf(expected_checksum, sizeof(expected_checksum), "%016llx",
                static_cast<unsigned long long>(fnv1a_64(data.data(), data.size())));
  CHECK(header["__metadata__"]["entlab.checksum"] == expected_checksum);
}

TEST_CASE("safetensors round trip") {
  TempFolder folder;
  std::string path = folder.file("checkpoint.safetensors");
  float inf = std::numeric_limits<float>::infinity();
  Tensor matrix = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
  std::vector<std::pair<std::string, Tensor>> tensors = {
      {"z.last_name_first", Tensor::from_vector({3}, {-inf, inf, 0.25f})},
      {"scalar", Tensor::scalar(42.0f)},
      {"empty", Tensor::zeros({0, 4})},
      {"transposed", matrix.view_transposed(0, 1)},
      {"a.nan", Tensor::from_vector({1}, {std::numeric_limits<float>::quiet_NaN()})},
  };
  std::map<std::string, std::string> metadata = {{"config", "{\"d_model\": 64}"}, {"step", "1200"}};
  write_safetensors(path, tensors, metadata);

  SafetensorsFile file = read_safetensors(path);
  CHECK(file.metadata == metadata);
  REQUIRE(file.tensors.size() == tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    CAPTURE(tensors[i].first);
    CHECK(file.tensors[i].first == tensors[i].first);
    CHECK(file.tensors[i].second.name() == tensors[i].first);
    CHECK(file.tensors[i].second.shape() == tensors[i].second.shape());
  }
  CHECK(file.tensors[0].second.to_vector() == std::vector<float>{-inf, inf, 0.25f});
  CHECK(file.tensors[1].second.item() == 42.0f);
  CHECK(file.tensors[3].second.to_vector() == std::vector<float>{1, 4, 2, 5, 3, 6});
  CHECK(std::isnan(file.tensors[4].second.item()));
}

TEST_CASE("safetensors keeps the order of empty tensors") {
  TempFolder folder;
  std::string path = folder.file("empty_tensors.safetensors");
  write_safetensors(path,
                    {{"zeta", Tensor::zeros({0})},
                     {"beta", Tensor::zeros({2, 0})},
                     {"alpha", Tensor::zeros({0})},
                     {"gamma", Tensor::ones({1})}},
                    {});

  SafetensorsFile file = read_safetensors(path);
  REQUIRE(file.tensors.size() == 4);
  CHECK(file.tensors[0].first == "zeta");
  CHECK(file.tensors[1].first == "beta");
  CHECK(file.tensors[2].first == "alpha");
  CHECK(file.tensors[3].first == "gamma");
  CHECK(file.tensors[1].second.shape() == Shape{2, 0});
}

TEST_CASE("safetensors round trip without tensors") {
  TempFolder folder;
  std::string path = folder.file("empty.safetensors");
  write_safetensors(path, {}, {{"note", "nothing yet"}});
  SafetensorsFile file = read_safetensors(path);
  CHECK(file.tensors.empty());
  CHECK(file.metadata.at("note") == "nothing yet");
}

TEST_CASE("fnv1a_64 known values") {
  CHECK(fnv1a_64("", 0) == 0xcbf29ce484222325ULL);
  CHECK(fnv1a_64("a", 1) == 0xaf63dc4c8601ec8cULL);
  CHECK(fnv1a_64("foobar", 6) == 0x85944171f73967e8ULL);
}

TEST_CASE("safetensors rejects corrupt files") {
  TempFolder folder;
  std::string good = written_file(folder);

  SUBCASE("flipped data byte") {
    std::string bytes = good;
    bytes[bytes.size() - 5] ^= 0x01;
    std::string message = read_error(folder, bytes);
    CHECK(contains(message, "checksum mismatch"));
    CHECK(contains(message, folder.file("bad.safetensors")));
  }
  SUBCASE("truncated file") {
    std::string message = read_error(folder, good.substr(0, good.size() - 4));
    CHECK(contains(message, "tensor 'b'"));
    CHECK(contains(message, "data_offsets [16,28]"));
  }
  SUBCASE("header length larger than the file") {
    std::string bytes = good;
    bytes[6] = 1;
    CHECK(contains(read_error(folder, bytes), "only"));
    CHECK(contains(read_error(folder, bytes), "bytes follow it"));
  }
  SUBCASE("file shorter than the length field") {
    CHECK(contains(read_error(folder, "\x10\x00\x00"), "fewer than the 8-byte header length"));
  }
  SUBCASE("bad JSON") {
    CHECK(contains(read_error(folder, safetensors_file("{\"w\": {\"dtype\": ", "")), "not valid JSON"));
  }
  SUBCASE("header that is not an object") {
    CHECK(contains(read_error(folder, safetensors_file("[1, 2]", "")), "does not start with '{'"));
  }
  SUBCASE("empty header") {
    CHECK(contains(read_error(folder, safetensors_file("", "")), "does not start with '{'"));
  }
}

TEST_CASE("safetensors rejects invalid headers") {
  TempFolder folder;
  std::string eight_bytes = float_bytes({1, 2});

  SUBCASE("dtype other than F32") {
    std::string header = R"({"h": {"dtype": "F16", "shape": [4], "data_offsets": [0, 8]}})";
    std::string message = read_error(folder, safetensors_file(header, eight_bytes));
    CHECK(contains(message, "tensor 'h'"));
    CHECK(contains(message, "dtype is \"F16\""));
  }
  SUBCASE("shape that does not match the byte range") {
    std::string header = R"({"x": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})";
    std::string message = read_error(folder, safetensors_file(header, eight_bytes));
    CHECK(contains(message, "tensor 'x'"));
    CHECK(contains(message, "needs 12 bytes"));
  }
  SUBCASE("overlapping tensors") {
    std::string header = R"({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                             "y": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})";
    std::string message = read_error(folder, safetensors_file(header, eight_bytes));
    CHECK(contains(message, "tensor 'y'"));
    CHECK(contains(message, "overlap tensor 'x'"));
  }
  SUBCASE("gap between tensors") {
    std::string header = R"({"y": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})";
    std::string message = read_error(folder, safetensors_file(header, eight_bytes));
    CHECK(contains(message, "data bytes [0, 4) before tensor 'y' belong to no tensor"));
  }
  SUBCASE("bytes after the last tensor") {
    std::string header = R"({"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})";
    CHECK(contains(read_error(folder, safetensors_file(header, eight_bytes)), "[4, 8) at the end"));
  }
  SUBCASE("offsets past the data section") {
    std::string header = R"({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})";
    CHECK(contains(read_error(folder, safetensors_file(header, eight_bytes)),
                   "inside the 8-byte data section"));
  }
  SUBCASE("begin after end") {
    std::string header = R"({"x": {"dtype": "F32", "shape": [0], "data_offsets": [8, 0]}})";
    CHECK(contains(read_error(folder, safetensors_file(header, eight_bytes)), "not a range"));
  }
  SUBCASE("negative extent") {
    std::string header = R"({"x": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})";
    CHECK(contains(read_error(folder, safetensors_file(header, eight_bytes)), "non-negative integers"));
  }
  SUBCASE("shape that overflows") {
    std::string header =
        R"({"x": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}})";
    CHECK(contains(read_error(folder, safetensors_file(header, eight_bytes)), "too large"));
  }
  SUBCASE("repeated tensor name") {
    std::string header = R"({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                             "x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})";
    CHECK(contains(read_error(folder, safetensors_file(header, eight_bytes)), "repeats the key 'x' in one object"));
  }
  SUBCASE("missing key") {
    std::string header = R"({"x": {"dtype": "F32", "shape": [2]}})";
    CHECK(contains(read_error(folder, safetensors_file(header, eight_bytes)), "'data_offsets' is missing"));
  }
  SUBCASE("unknown key") {
    std::string header = R"({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8], "extra": 1}})";
    CHECK(contains(read_error(folder, safetensors_file(header, eight_bytes)), "unexpected key 'extra'"));
  }
  SUBCASE("metadata value that is not a string") {
    std::string header = R"({"__metadata__": {"step": 3},
                             "x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})";
    CHECK(contains(read_error(folder, safetensors_file(header, eight_bytes)), "metadata key 'step'"));
  }
}

TEST_CASE("safetensors writer rejects bad arguments") {
  TempFolder folder;
  std::string path = folder.file("out.safetensors");
  Tensor t = Tensor::zeros({2});

  CHECK_THROWS_WITH_AS(write_safetensors(path, {{"w", t}}, {{"entlab.checksum", "0"}}),
                       doctest::Contains("reserved"), Error);
  CHECK_THROWS_WITH_AS(write_safetensors(path, {{"w", t}, {"w", t}}, {}),
                       doctest::Contains("'w' appears twice"), Error);
  CHECK_THROWS_WITH_AS(write_safetensors(path, {{"", t}}, {}), doctest::Contains("name is empty"), Error);
  CHECK_THROWS_WITH_AS(write_safetensors(path, {{"__metadata__", t}}, {}),
                       doctest::Contains("cannot be named"), Error);
  CHECK_THROWS_WITH_AS(write_safetensors(path, {{"w", Tensor()}}, {}), doctest::Contains("undefined"), Error);
  CHECK_THROWS_WITH_AS(write_safetensors(path, {{"bad\xff", t}}, {}), doctest::Contains("UTF-8"), Error);
  CHECK(folder.entries().empty());
}
