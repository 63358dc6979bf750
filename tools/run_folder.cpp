#include "tools/run_folder.h"

#include <ctime>

#include "core/folder_lock.h"

namespace entlab::tools {

std::string default_run_folder(const std::string& prefix) {
  std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &local);
  return create_unique_folder("runs/" + prefix + "-" + stamp);
}

}  // namespace entlab::tools
