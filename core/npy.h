// NumPy .npy files, for tensors that people inspect (attention maps, probe results).
//
// Layout of an .npy file (numpy.lib.format, versions 1.0 and 2.0):
//   6 bytes    magic string "\x93NUMPY"
//   2 bytes    major and minor version, e.g. 1 0
//   2 bytes    header length HEADER_LEN, little-endian (version 1.0);
//              4 bytes in version 2.0
//   HEADER_LEN an ASCII Python dict literal ended by '\n' and padded with spaces, e.g.
//              {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
//   rest       the values, in C (row-major) order when fortran_order is False
//
// NumPy pads the header so the data starts at a multiple of 64 bytes; the writer here does
// the same. The reader accepts any padding.
#pragma once

#include <string>

#include "core/tensor.h"

namespace entlab {

// Writes `t` with dtype '<f4' in C order through write_file_atomically. The format version
// is 1.0, or 2.0 if the header does not fit in 65535 bytes. Any rank works, including 0-d.
// A non-contiguous tensor (a transposed view) is written in logical row-major order.
void write_npy(const std::string& path, const Tensor& t);

// Reads a C-order array of dtype '<f4' or '<f8' from a version 1.0 or 2.0 file. Float64
// values are rounded to float32: values beyond float range become +-inf, and inf and nan
// stay as they are. The tensor is named after the file name without folder and ".npy".
// Throws entlab::Error naming the file and the problem for a malformed or unsupported file:
// bad magic string, truncated header, unknown dtype, Fortran order, too little or too much
// data for the shape. Sizes from the header are checked against the file size before any
// allocation.
Tensor read_npy(const std::string& path);

}  // namespace entlab
