#include "core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace entlab {
namespace {

// Closes a POSIX file descriptor when it goes out of scope, so early throws do not leak it.
struct FileDescriptor {
  explicit FileDescriptor(int value) : fd(value) {}
  ~FileDescriptor() {
    if (fd >= 0) ::close(fd);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;

  // Closes now and returns 0, or the errno of a failed close.
  int close_now() {
    int result = ::close(fd);
    fd = -1;
    return result == 0 ? 0 : errno;
  }

  int fd;
};

// The folder that contains `path`: its parent, or "." for a bare file name.
std::string parent_folder(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Creates a new empty file "<path>.tmp.<pid>.<counter>" next to `path`. The pid and counter
// keep concurrent writers apart. O_EXCL turns a leftover of a crashed run into a name to skip
// rather than a file to overwrite. Returns the descriptor, or -1 with errno set.
int create_temporary(const std::string& path, std::string& temp_path) {
  static std::atomic<unsigned> counter{0};
  const int max_attempts = 100;
  for (int attempt = 0; attempt < max_attempts; ++attempt) {
    temp_path = str_cat(path, ".tmp.", ::getpid(), ".", counter.fetch_add(1));
    int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  errno = EEXIST;
  return -1;
}

// Writes all of `bytes`, continuing after short writes and EINTR. Returns 0 or the errno.
int write_all(int fd, const std::string& bytes) {
  size_t written = 0;
  while (written < bytes.size()) {
    ssize_t count = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (count < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    written += static_cast<size_t>(count);
  }
  return 0;
}

// Makes the rename durable: a file's new name is only on disk once its folder is synced.
void sync_folder(const std::string& path) {
  std::string folder = parent_folder(path);
  int error = 0;
  int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    error = errno;
  } else {
    if (::fsync(fd) != 0) error = errno;
    ::close(fd);
  }

  // Some file systems do not support fsync on a folder and report EINVAL. The rename is then
  // as durable as that file system allows.
  if (error == 0 || error == EINVAL) return;
  throw Error(str_cat("wrote '", path, "', but fsync of its folder '", folder, "' failed: ",
                      std::strerror(error), "; the new content is in place but may not survive a crash"));
}

}  // namespace

void write_file_atomically(const std::string& path, const std::string& bytes) {
  ENTLAB_CHECK(!path.empty(), "cannot write a file: the path is empty");

  std::string temp_path;
  FileDescriptor temp(create_temporary(path, temp_path));
  if (temp.fd < 0) {
    int code = errno;
    throw Error(str_cat("cannot write '", path, "': creating the temporary file '", temp_path,
                        "' failed: ", std::strerror(code)));
  }

  // Write, fsync, close, rename. The first failing step stops the sequence and removes the
  // temporary, so the file under `path` keeps its old content.
  const char* step = "write";
  int error = write_all(temp.fd, bytes);
  if (error == 0 && ::fsync(temp.fd) != 0) {
    error = errno;
    step = "fsync";
  }
  int close_error = temp.close_now();
  if (error == 0 && close_error != 0) {
    error = close_error;
    step = "close";
  }
  if (error == 0 && ::rename(temp_path.c_str(), path.c_str()) != 0) {
    error = errno;
    step = "rename";
  }
  if (error != 0) {
    ::unlink(temp_path.c_str());
    throw Error(str_cat("cannot write '", path, "': ", step, " of the temporary file '", temp_path,
                        "' failed: ", std::strerror(error), "; the previous file, if any, is unchanged"));
  }

  sync_folder(path);
}

std::string read_file(const std::string& path) {
  // O_NONBLOCK keeps open() from waiting for a writer when the path is a FIFO; such
  // paths, devices and folders are then rejected by the regular-file check.
  FileDescriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (file.fd < 0) {
    int code = errno;
    throw Error(str_cat("cannot open '", path, "' for reading: ", std::strerror(code)));
  }
  struct stat info {};
  if (::fstat(file.fd, &info) != 0 || !S_ISREG(info.st_mode))
    throw Error(str_cat("cannot read '", path, "': not a regular file"));

  // The size from fstat only reserves memory. The loop reads until end of file, so a file
  // that changes size meanwhile is still read whole.
  std::string bytes;
  bytes.reserve(static_cast<size_t>(info.st_size));

  char chunk[1 << 16];
  while (true) {
    ssize_t count = ::read(file.fd, chunk, sizeof(chunk));
    if (count == 0) break;
    if (count < 0) {
      if (errno == EINTR) continue;
      int code = errno;
      throw Error(str_cat("cannot read '", path, "': ", std::strerror(code)));
    }
    bytes.append(chunk, static_cast<size_t>(count));
  }
  return bytes;
}

}  // namespace entlab
