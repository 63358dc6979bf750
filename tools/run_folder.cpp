#include "tools/run_folder.h"

#include <ctime>
#include <filesystem>

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

std::string free_result_suffix(const std::string& folder, const std::vector<std::string>& stems) {
  for (int number = 1;; ++number) {
    const std::string suffix = number == 1 ? "" : "-" + std::to_string(number);
    bool free = true;
    for (const std::string& stem : stems)
      free = free && !std::filesystem::exists(std::filesystem::path(folder) / (stem + suffix + ".csv"));
    if (free) return suffix;
  }
}

}  // namespace entlab::tools
