// Exclusive ownership of an output folder while a process writes into it.
#pragma once

#include <string>

namespace entlab {

// Holds an flock on "<folder>/.lock" for its lifetime, so two entlab processes never
// write into the same run folder at once. The lock file is removed on release.
class FolderLock {
 public:
  // Throws entlab::Error naming the folder if another process holds the lock.
  explicit FolderLock(const std::string& folder);
  // Creates the folder for a new run as create_empty_folder does, locks it, and checks
  // again that it holds nothing but the lock file: two processes started on the same
  // empty folder cannot both write there. `option_name` names the folder in errors.
  FolderLock(const std::string& folder, const std::string& option_name);
  ~FolderLock();
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  std::string path_;
  int fd_ = -1;
};

// Creates `folder` (and its parents) for a new run, or accepts it if it exists and is
// empty. Throws if it contains anything, so no earlier result is ever overwritten.
void create_empty_folder(const std::string& folder, const std::string& option_name);

// Creates and returns "<base>", or "<base>-2", "<base>-3", ... whichever does not exist
// yet. mkdir is atomic, so two processes started together never get the same folder.
std::string create_unique_folder(const std::string& base);

}  // namespace entlab
