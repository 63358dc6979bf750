#include "core/stop_signal.h"

#include <atomic>

#include "core/error.h"

namespace entlab {

namespace {

// An OpenMP worker thread may run the handler while the main thread reads the flag, so
// it is a lock-free atomic: async-signal-safe and free of data races.
std::atomic<int> received_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "the stop flag must be lock-free to be signal-safe");
std::atomic<bool> handler_installed{false};

extern "C" void record_stop_signal(int signal_number) {
  int none = 0;
  received_signal.compare_exchange_strong(none, signal_number);
}

// Installs the handler for `signal_number` and returns the previous action. A signal
// that was ignored stays ignored, as shells expect: they start background jobs with
// SIGINT ignored so that Ctrl-C reaches only the foreground job.
struct sigaction install(int signal_number) {
  struct sigaction previous {};
  ENTLAB_CHECK(sigaction(signal_number, nullptr, &previous) == 0, "cannot read the handler of signal ",
               signal_number);
  if (previous.sa_handler == SIG_IGN) return previous;
  struct sigaction action {};
  action.sa_handler = record_stop_signal;
  sigemptyset(&action.sa_mask);
  // SA_RESTART resumes interrupted reads and writes. SA_RESETHAND lets a second
  // signal stop the process without waiting for the loop.
  action.sa_flags = SA_RESTART | SA_RESETHAND;
  ENTLAB_CHECK(sigaction(signal_number, &action, &previous) == 0, "cannot install the handler for signal ",
               signal_number);
  return previous;
}

}  // namespace

StopSignalHandler::StopSignalHandler() {
  ENTLAB_CHECK(!handler_installed.exchange(true), "a StopSignalHandler is already installed");
  received_signal = 0;
  previous_interrupt_ = install(SIGINT);
  previous_terminate_ = install(SIGTERM);
}

StopSignalHandler::~StopSignalHandler() {
  sigaction(SIGINT, &previous_interrupt_, nullptr);
  sigaction(SIGTERM, &previous_terminate_, nullptr);
  handler_installed = false;
}

const std::atomic<int>* stop_signal_flag() { return &received_signal; }

}  // namespace entlab
