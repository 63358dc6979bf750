#include "core/folder_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace entlab {

namespace fs = std::filesystem;

FolderLock::FolderLock(const std::string& folder) : path_((fs::path(folder) / ".lock").string()) {
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(str_cat("cannot create lock file '", path_, "': ", std::strerror(errno)));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    fd_ = -1;
    throw Error(str_cat("folder ", folder, " is in use by another entlab process (a training run or study writes ",
                        "there); wait until it ends, or use another folder"));
  }
}

FolderLock::FolderLock(const std::string& folder, const std::string& option_name)
    : FolderLock((create_empty_folder(folder, option_name), folder)) {
  for (const auto& entry : fs::directory_iterator(folder))
    ENTLAB_CHECK(entry.path() == fs::path(path_), "invalid ", option_name, " ", folder,
                 ": another entlab process wrote into the folder first; choose a new folder");
}

FolderLock::~FolderLock() {
  if (fd_ < 0) return;
  ::unlink(path_.c_str());
  ::close(fd_);  // closing releases the flock
}

void create_empty_folder(const std::string& folder, const std::string& option_name) {
  ENTLAB_CHECK(!folder.empty(), "invalid ", option_name, ": the folder name is empty");
  std::error_code error;
  if (fs::exists(fs::symlink_status(folder))) {
    ENTLAB_CHECK(fs::is_directory(folder), "invalid ", option_name, " ", folder, ": it exists and is not a folder");
    ENTLAB_CHECK(fs::is_empty(folder), "invalid ", option_name, " ", folder,
                 ": the folder is not empty, and entlab never writes over earlier results; choose a new folder");
    return;
  }
  fs::create_directories(folder, error);
  ENTLAB_CHECK(!error, "cannot create folder ", folder, " (", option_name, "): ", error.message());
}

std::string create_unique_folder(const std::string& base) {
  std::error_code error;
  fs::create_directories(fs::path(base).parent_path(), error);
  for (int suffix = 1; suffix < 10000; ++suffix) {
    std::string candidate = suffix == 1 ? base : base + "-" + std::to_string(suffix);
    if (::mkdir(candidate.c_str(), 0755) == 0) return candidate;
    ENTLAB_CHECK(errno == EEXIST, "cannot create folder ", candidate, ": ", std::strerror(errno));
  }
  throw Error(str_cat("cannot create a new folder named ", base, "-N: too many exist"));
}

}  // namespace entlab
