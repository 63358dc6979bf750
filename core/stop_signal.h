// SIGINT and SIGTERM as a stop request that a long loop checks between steps, so it
// can stop at a safe point and save its state instead of dying mid-write.
#pragma once

#include <atomic>
#include <csignal>

namespace entlab {

// While an object exists, SIGINT and SIGTERM only record their number, which the loop
// reads through stop_signal_flag(). Each handler is installed with SA_RESETHAND, so a second signal
// of the same kind has its default effect and ends the process at once. A signal that
// the process ignores when the object is made stays ignored. At most one object may
// exist at a time.
class StopSignalHandler {
 public:
  // Clears any earlier request and installs the handlers.
  StopSignalHandler();
  // Restores the handlers that were installed before.
  ~StopSignalHandler();
  StopSignalHandler(const StopSignalHandler&) = delete;
  StopSignalHandler& operator=(const StopSignalHandler&) = delete;

 private:
  struct sigaction previous_interrupt_ {};
  struct sigaction previous_terminate_ {};
};

// The number of the first stop signal received while a StopSignalHandler existed
// (SIGINT or SIGTERM), or 0. The flag lives as long as the process.
const std::atomic<int>* stop_signal_flag();

}  // namespace entlab
