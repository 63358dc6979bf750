// Whole-file reads and crash-safe whole-file writes, used by every file format in entlab
// (checkpoints, .npy dumps, PNG pictures).
#pragma once

#include <string>

namespace entlab {

// Replaces the file at `path` with `bytes` so that a crash leaves either the old content or
// the new content under that name, never a partial file. The steps: write a temporary file
// in the same folder, fsync it, rename it over `path`, fsync the folder.
// On failure before the rename, the temporary is removed, the old file is untouched, and
// entlab::Error names the path and strerror. If only the final folder fsync fails, the new
// content is already in place, and the error message states that.
void write_file_atomically(const std::string& path, const std::string& bytes);

// Returns the whole content of the file at `path`. Throws entlab::Error naming the path and
// strerror if the file is missing or cannot be read (a folder, for example).
std::string read_file(const std::string& path);

}  // namespace entlab
