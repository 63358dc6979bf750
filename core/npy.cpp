#include "core/npy.h"

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <set>

#include "core/atomic_file.h"
#include "core/error.h"

// The data bytes are copied to and from float storage unchanged, which is only correct
// when this machine stores floats little-endian, as '<f4' and '<f8' require.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "npy.cpp assumes a little-endian host");

namespace entlab {
namespace {

const char kMagic[] = "\x93NUMPY";
const size_t kMagicSize = 6;
// NumPy pads the header so the data starts at a multiple of this many bytes.
const size_t kDataAlignment = 64;
// Error messages quote at most this many characters of a header.
const size_t kMaxQuotedHeader = 200;

[[noreturn]] void fail(const std::string& path, const std::string& problem) {
  throw Error(str_cat("invalid NPY file '", path, "': ", problem));
}

// The header for an error message, shortened so a corrupt multi-megabyte header stays readable.
std::string quote_header(const std::string& text) {
  std::string quoted = text.substr(0, text.find_last_not_of(" \n") + 1);
  if (quoted.size() <= kMaxQuotedHeader) return quoted;
  return quoted.substr(0, kMaxQuotedHeader) + "...";
}

// --- Writing ------------------------------------------------------------------------

// The shape as a Python tuple literal: "()", "(5,)", "(2, 3)".
std::string python_tuple(const Shape& shape) {
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  if (shape.size() == 1) text += ",";
  return text + ")";
}

// The header length (dict, space padding, final '\n') that makes the preamble plus header a
// multiple of kDataAlignment bytes.
size_t padded_header_size(size_t preamble_size, size_t dict_size) {
  size_t unpadded = preamble_size + dict_size + 1;
  return dict_size + 1 + (kDataAlignment - unpadded % kDataAlignment) % kDataAlignment;
}

// The preamble (magic, version, header length) and the padded header dict.
std::string npy_preamble_and_header(const Shape& shape) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " + python_tuple(shape) + ", }";

  // Version 1.0 stores the header length in 2 bytes, version 2.0 in 4 bytes.
  size_t header_size = padded_header_size(kMagicSize + 2 + 2, dict.size());
  bool version_2 = header_size > 0xFFFF;
  if (version_2) header_size = padded_header_size(kMagicSize + 2 + 4, dict.size());

  std::string out(kMagic, kMagicSize);
  out += static_cast<char>(version_2 ? 2 : 1);
  out += static_cast<char>(0);
  int length_bytes = version_2 ? 4 : 2;
  for (int i = 0; i < length_bytes; ++i) out += static_cast<char>((header_size >> (8 * i)) & 0xFF);
  out += dict;
  out.append(header_size - dict.size() - 1, ' ');
  out += '\n';
  return out;
}

// --- Reading: the header dict -----------------------------------------------------------

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
};

// A parser for the small subset of Python literals that NPY headers use: a dict with string
// keys whose values are strings, True/False, or tuples of non-negative integers.
class HeaderParser {
 public:
  HeaderParser(const std::string& path, const std::string& text) : path_(path), text_(text) {}

  NpyHeader parse() {
    NpyHeader header;
    std::set<std::string> seen;
    skip_spaces();
    expect('{');
    while (true) {
      skip_spaces();
      if (consume('}')) break;
      std::string key = parse_string();
      if (!seen.insert(key).second) fail_here("key '" + key + "' appears twice");
      skip_spaces();
      expect(':');
      skip_spaces();
      parse_value(key, header);
      skip_spaces();
      if (consume(',')) continue;
      expect('}');
      break;
    }
    skip_spaces();
    if (pos_ != text_.size()) fail_here("unexpected text after the closing '}'");
    for (const char* key : {"descr", "fortran_order", "shape"}) {
      if (!seen.count(key)) fail(path_, str_cat("header has no '", key, "' key: ", quote_header(text_)));
    }
    return header;
  }

 private:
  void parse_value(const std::string& key, NpyHeader& header) {
    if (key == "descr") {
      header.descr = parse_string();
    } else if (key == "fortran_order") {
      header.fortran_order = parse_bool();
    } else if (key == "shape") {
      header.shape = parse_shape();
    } else {
      fail_here("unexpected key '" + key + "' (an NPY header has 'descr', 'fortran_order', 'shape')");
    }
  }

  // A string in single or double quotes. NPY headers contain no escape sequences.
  std::string parse_string() {
    char quote = peek();
    if (quote != '\'' && quote != '"') fail_here("expected a quoted string");
    size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string::npos) fail_here("string has no closing quote");
    std::string value = text_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return value;
  }

  bool parse_bool() {
    if (text_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (text_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    fail_here("expected True or False");
  }

  // "()", "(5,)", "(2, 3)". A trailing comma is optional, as in Python.
  Shape parse_shape() {
    Shape shape;
    expect('(');
    while (true) {
      skip_spaces();
      if (consume(')')) break;
      shape.push_back(parse_extent());
      skip_spaces();
      if (consume(',')) continue;
      expect(')');
      break;
    }
    return shape;
  }

  // A non-negative decimal integer that fits in int64. Python 2 era files may end it with 'L'.
  int64_t parse_extent() {
    if (!std::isdigit(static_cast<unsigned char>(peek()))) fail_here("expected a non-negative integer");
    int64_t value = 0;
    while (std::isdigit(static_cast<unsigned char>(peek()))) {
      int digit = text_[pos_] - '0';
      if (value > (std::numeric_limits<int64_t>::max() - digit) / 10) fail_here("shape extent is too large");
      value = value * 10 + digit;
      ++pos_;
    }
    consume('L');
    return value;
  }

  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  bool consume(char c) {
    if (peek() != c) return false;
    ++pos_;
    return true;
  }

  void expect(char c) {
    if (!consume(c)) fail_here(str_cat("expected '", c, "'"));
  }

  void skip_spaces() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\t')) ++pos_;
  }

  [[noreturn]] void fail_here(const std::string& problem) const {
    fail(path_, str_cat("header dict is invalid at character ", pos_, ": ", problem,
                        "; header: ", quote_header(text_)));
  }

  const std::string& path_;
  const std::string& text_;
  size_t pos_ = 0;
};

// --- Reading: preamble and data --------------------------------------------------------------

uint64_t read_little_endian(const std::string& bytes, size_t offset, int count) {
  uint64_t value = 0;
  for (int i = 0; i < count; ++i) {
    value |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[offset + i])) << (8 * i);
  }
  return value;
}

// Checks magic string and version and returns the header text. `data_offset` receives the
// offset where the data starts.
std::string split_header(const std::string& path, const std::string& bytes, size_t& data_offset) {
  if (bytes.size() < kMagicSize || bytes.compare(0, kMagicSize, kMagic, kMagicSize) != 0) {
    fail(path, "the file does not start with the NPY magic string \\x93NUMPY");
  }
  if (bytes.size() < kMagicSize + 2) fail(path, "the file ends inside the version bytes");
  int major = static_cast<unsigned char>(bytes[kMagicSize]);
  int minor = static_cast<unsigned char>(bytes[kMagicSize + 1]);
  if ((major != 1 && major != 2) || minor != 0) {
    fail(path, str_cat("format version ", major, ".", minor, " is not supported (entlab reads 1.0 and 2.0)"));
  }

  int length_bytes = major == 1 ? 2 : 4;
  size_t length_offset = kMagicSize + 2;
  if (bytes.size() < length_offset + length_bytes) fail(path, "the file ends inside the header length");
  uint64_t header_size = read_little_endian(bytes, length_offset, length_bytes);
  size_t header_offset = length_offset + length_bytes;
  if (header_size > bytes.size() - header_offset) {
    fail(path, str_cat("the header is truncated: its length field says ", header_size, " bytes, but only ",
                       bytes.size() - header_offset, " bytes follow"));
  }
  data_offset = header_offset + header_size;
  return bytes.substr(header_offset, header_size);
}

// Bytes of data that `shape` needs at `item_size` bytes per value, or fails if that does not
// fit in 64 bits (an absurd shape from a corrupt header).
uint64_t data_bytes_needed(const std::string& path, const Shape& shape, uint64_t item_size) {
  uint64_t total = item_size;
  for (int64_t extent : shape) {
    uint64_t size = static_cast<uint64_t>(extent);
    if (size != 0 && total > std::numeric_limits<uint64_t>::max() / size) {
      fail(path, str_cat("shape ", shape_str(shape), " is too large to be real"));
    }
    total *= size;
  }
  return total;
}

// float64 to float32 with round-to-nearest. Finite doubles at or beyond float max + half an
// ulp become +-inf explicitly, because a plain cast of an out-of-range value is undefined
// behaviour in C++.
float double_to_float(double value) {
  const double overflow_threshold = 0x1.ffffffp127;
  if (std::isfinite(value) && std::fabs(value) >= overflow_threshold) {
    float infinity = std::numeric_limits<float>::infinity();
    return value > 0 ? infinity : -infinity;
  }
  return static_cast<float>(value);
}

// The file name without folder and without a ".npy" suffix.
std::string file_stem(const std::string& path) {
  size_t slash = path.find_last_of('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  const std::string suffix = ".npy";
  if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
    name.resize(name.size() - suffix.size());
  }
  return name;
}

}  // namespace

void write_npy(const std::string& path, const Tensor& t) {
  ENTLAB_CHECK(t.defined(), "cannot write NPY file '", path, "': the tensor is undefined");

  std::string bytes = npy_preamble_and_header(t.shape());
  size_t data_offset = bytes.size();
  size_t data_size = static_cast<size_t>(t.numel()) * sizeof(float);
  bytes.resize(data_offset + data_size);
  if (data_size > 0) {
    // A non-contiguous view is first copied out in row-major order.
    std::vector<float> row_major;
    const float* values = t.data();
    if (!t.is_contiguous()) {
      row_major = t.to_vector();
      values = row_major.data();
    }
    std::memcpy(&bytes[data_offset], values, data_size);
  }
  write_file_atomically(path, bytes);
}

Tensor read_npy(const std::string& path) {
  std::string bytes = read_file(path);

  size_t data_offset = 0;
  std::string header_text = split_header(path, bytes, data_offset);
  NpyHeader header = HeaderParser(path, header_text).parse();

  uint64_t item_size = 0;
  if (header.descr == "<f4") item_size = 4;
  if (header.descr == "<f8") item_size = 8;
  if (item_size == 0) {
    fail(path, str_cat("dtype '", header.descr, "' is not supported (entlab reads '<f4' and '<f8')"));
  }
  if (header.fortran_order) {
    fail(path, "fortran_order is True; save the array in C order (numpy.ascontiguousarray)");
  }

  // Compare the size the shape needs with the bytes actually present before allocating.
  uint64_t needed = data_bytes_needed(path, header.shape, item_size);
  uint64_t present = bytes.size() - data_offset;
  if (needed != present) {
    fail(path, str_cat("shape ", shape_str(header.shape), " of dtype '", header.descr, "' needs ", needed,
                       " bytes of data, but the file holds ", present,
                       needed > present ? " (truncated file)" : " (extra bytes after the data)"));
  }

  Tensor result = Tensor::empty(header.shape, file_stem(path));
  const char* data = bytes.data() + data_offset;
  if (item_size == 4) {
    std::memcpy(result.data(), data, static_cast<size_t>(needed));
    return result;
  }
  float* out = result.data();
  for (int64_t i = 0; i < result.numel(); ++i) {
    double value;
    std::memcpy(&value, data + i * 8, sizeof(value));
    out[i] = double_to_float(value);
  }
  return result;
}

}  // namespace entlab
