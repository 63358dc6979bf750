#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/npy.h"
#include "core/tensor.h"
#include "temp_folder.h"

using namespace entlab;
using entlab_test::TempFolder;

namespace {

const float kInf = std::numeric_limits<float>::infinity();
const float kNan = std::numeric_limits<float>::quiet_NaN();

// Builds an NPY file by hand: magic, version, little-endian header length, header, data.
std::string npy_file(int major, const std::string& header, const std::string& data) {
  std::string bytes = "\x93NUMPY";
  bytes += static_cast<char>(major);
  bytes += static_cast<char>(0);
  int length_bytes = major == 1 ? 2 : 4;
  for (int i = 0; i < length_bytes; ++i) bytes += static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  return bytes + header + data;
}

// Raw little-endian bytes of the values (the test host is little-endian, as npy.cpp asserts).
template <typename T>
std::string raw_bytes(const std::vector<T>& values) {
  std::string bytes(values.size() * sizeof(T), '\0');
  std::memcpy(&bytes[0], values.data(), bytes.size());
  return bytes;
}

void write_raw(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Writes `bytes` to a file and returns the message read_npy raises for it.
std::string read_error(const TempFolder& folder, const std::string& bytes) {
  std::string path = folder.file("bad.npy");
  write_raw(path, bytes);
  try {
    read_npy(path);
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

// Compares two float lists bit-for-bit apart from nan payloads.
void check_same_values(const std::vector<float>& actual, const std::vector<float>& expected) {
  REQUIRE(actual.size() == expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    CAPTURE(i);
    if (std::isnan(expected[i])) {
      CHECK(std::isnan(actual[i]));
    } else {
      CHECK(actual[i] == expected[i]);
    }
  }
}

}  // namespace

TEST_CASE("npy round trip of a matrix") {
  TempFolder folder;
  std::string path = folder.file("attention_layer0.npy");
  std::vector<float> values = {0.0f, -1.5f, kInf, -kInf, kNan, 3.25e-30f};
  write_npy(path, Tensor::from_vector({2, 3}, values, "att"));

  Tensor back = read_npy(path);
  CHECK(back.shape() == Shape{2, 3});
  CHECK(back.name() == "attention_layer0");
  check_same_values(back.to_vector(), values);
}

TEST_CASE("npy round trip of every rank") {
  TempFolder folder;
  std::vector<Shape> shapes = {{}, {5}, {0, 3}, {2, 1, 3, 2}};
  for (const Shape& shape : shapes) {
    CAPTURE(shape_str(shape));
    std::vector<float> values(static_cast<size_t>(shape_numel(shape)));
    for (size_t i = 0; i < values.size(); ++i) values[i] = 0.5f * static_cast<float>(i) - 1.0f;
    std::string path = folder.file("t.npy");
    write_npy(path, Tensor::from_vector(shape, values));

    Tensor back = read_npy(path);
    CHECK(back.shape() == shape);
    CHECK(back.to_vector() == values);
  }
}

TEST_CASE("npy writes a transposed view in logical order") {
  TempFolder folder;
  std::string path = folder.file("t.npy");
  Tensor t = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
  write_npy(path, t.view_transposed(0, 1));

  Tensor back = read_npy(path);
  CHECK(back.shape() == Shape{3, 2});
  CHECK(back.to_vector() == std::vector<float>{1, 4, 2, 5, 3, 6});
}

TEST_CASE("npy header matches the NumPy layout") {
  TempFolder folder;
  std::string path = folder.file("t.npy");
  write_npy(path, Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6}));
  std::string bytes = read_file(path);

  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  REQUIRE(bytes.size() > 10);
  CHECK(bytes.compare(0, 6, "\x93NUMPY") == 0);
  CHECK(bytes[6] == 1);
  CHECK(bytes[7] == 0);
  size_t header_size = static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9]) << 8;
  CHECK((10 + header_size) % 64 == 0);
  CHECK(bytes.compare(10, dict.size(), dict) == 0);
  CHECK(bytes[10 + header_size - 1] == '\n');
  for (size_t i = 10 + dict.size(); i < 10 + header_size - 1; ++i) CHECK(bytes[i] == ' ');
  CHECK(bytes.size() == 10 + header_size + 6 * 4);
  CHECK(bytes.substr(10 + header_size) == raw_bytes(std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST_CASE("npy header shapes for 0-d and 1-d") {
  TempFolder folder;
  std::string path = folder.file("t.npy");
  write_npy(path, Tensor::scalar(7.0f));
  CHECK(read_file(path).find("'shape': (), }") != std::string::npos);
  write_npy(path, Tensor::zeros({4}));
  CHECK(read_file(path).find("'shape': (4,), }") != std::string::npos);
}

TEST_CASE("npy reads float64 as float32") {
  TempFolder folder;
  std::string path = folder.file("f64.npy");
  double inf = std::numeric_limits<double>::infinity();
  std::vector<double> values = {1.5, -inf, inf, std::nan(""), 1e300, -1e300, 1e-300, 0.1};
  std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 4), }          \n";
  write_raw(path, npy_file(1, header, raw_bytes(values)));

  Tensor back = read_npy(path);
  CHECK(back.shape() == Shape{2, 4});
  check_same_values(back.to_vector(), {1.5f, -kInf, kInf, kNan, kInf, -kInf, 0.0f, 0.1f});
}

TEST_CASE("npy reads version 2.0 and any key order") {
  TempFolder folder;
  std::string path = folder.file("v2.npy");
  std::string header = "{\"shape\": (3,), \"fortran_order\": False, \"descr\": \"<f4\"}\n";
  write_raw(path, npy_file(2, header, raw_bytes(std::vector<float>{1, 2, 3})));

  Tensor back = read_npy(path);
  CHECK(back.shape() == Shape{3});
  CHECK(back.to_vector() == std::vector<float>{1, 2, 3});
}

TEST_CASE("npy rejects malformed files") {
  TempFolder folder;
  std::string good_header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n";
  std::string two_floats = raw_bytes(std::vector<float>{1, 2});

  SUBCASE("error names the file") {
    CHECK(read_error(folder, "not numpy").find(folder.file("bad.npy")) != std::string::npos);
  }
  SUBCASE("bad magic") {
    CHECK(read_error(folder, "\x93NUMPZ\x01").find("magic string") != std::string::npos);
  }
  SUBCASE("empty file") { CHECK(read_error(folder, "").find("magic string") != std::string::npos); }
  SUBCASE("unsupported version") {
    CHECK(read_error(folder, npy_file(3, good_header, two_floats)).find("version 3.0") != std::string::npos);
  }
  SUBCASE("truncated header length") {
    CHECK(read_error(folder, std::string("\x93NUMPY\x01\x00\x10", 9)).find("header length") !=
          std::string::npos);
  }
  SUBCASE("truncated header") {
    std::string bytes = npy_file(1, good_header, "");
    bytes.resize(bytes.size() - 10);
    CHECK(read_error(folder, bytes).find("header is truncated") != std::string::npos);
  }
  SUBCASE("unknown dtype") {
    std::string header = "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }\n";
    CHECK(read_error(folder, npy_file(1, header, two_floats)).find("dtype '<i4'") != std::string::npos);
  }
  SUBCASE("big-endian dtype") {
    std::string header = "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n";
    CHECK(read_error(folder, npy_file(1, header, two_floats)).find("dtype '>f4'") != std::string::npos);
  }
  SUBCASE("fortran order") {
    std::string header = "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }\n";
    CHECK(read_error(folder, npy_file(1, header, two_floats)).find("fortran_order") != std::string::npos);
  }
  SUBCASE("data shorter than the shape") {
    std::string message = read_error(folder, npy_file(1, good_header, two_floats.substr(0, 6)));
    CHECK(message.find("needs 8 bytes") != std::string::npos);
    CHECK(message.find("truncated") != std::string::npos);
  }
  SUBCASE("data longer than the shape") {
    std::string message = read_error(folder, npy_file(1, good_header, two_floats + "xyzw"));
    CHECK(message.find("extra bytes") != std::string::npos);
  }
  SUBCASE("huge shape needs more than the file") {
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }\n";
    CHECK(read_error(folder, npy_file(1, header, two_floats)).find("needs 4000000000000 bytes") !=
          std::string::npos);
  }
  SUBCASE("shape overflows 64 bits") {
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4), }\n";
    CHECK(read_error(folder, npy_file(1, header, two_floats)).find("too large") != std::string::npos);
  }
  SUBCASE("extent beyond int64") {
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }\n";
    CHECK(read_error(folder, npy_file(1, header, two_floats)).find("too large") != std::string::npos);
  }
  SUBCASE("negative extent") {
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }\n";
    CHECK(read_error(folder, npy_file(1, header, two_floats)).find("non-negative integer") !=
          std::string::npos);
  }
  SUBCASE("missing key") {
    std::string header = "{'descr': '<f4', 'shape': (2,), }\n";
    CHECK(read_error(folder, npy_file(1, header, two_floats)).find("no 'fortran_order' key") !=
          std::string::npos);
  }
  SUBCASE("unknown key") {
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}\n";
    CHECK(read_error(folder, npy_file(1, header, two_floats)).find("unexpected key 'extra'") !=
          std::string::npos);
  }
  SUBCASE("repeated key") {
    std::string header = "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}\n";
    CHECK(read_error(folder, npy_file(1, header, two_floats)).find("appears twice") != std::string::npos);
  }
  SUBCASE("header that is not a dict") {
    CHECK(read_error(folder, npy_file(1, "[1, 2]\n", two_floats)).find("expected '{'") != std::string::npos);
  }
  SUBCASE("text after the dict") {
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x\n";
    CHECK(read_error(folder, npy_file(1, header, two_floats)).find("after the closing") != std::string::npos);
  }
}

TEST_CASE("npy read of a missing file") {
  TempFolder folder;
  CHECK_THROWS_WITH_AS(read_npy(folder.file("missing.npy")), doctest::Contains("missing.npy"), Error);
}

TEST_CASE("npy write of an undefined tensor") {
  TempFolder folder;
  CHECK_THROWS_WITH_AS(write_npy(folder.file("u.npy"), Tensor()), doctest::Contains("undefined"), Error);
}
