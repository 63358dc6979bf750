#include <doctest/doctest.h>

#include <csignal>

#include "core/error.h"
#include "core/stop_signal.h"

using namespace entlab;

namespace {

// The handler function currently installed for `signal_number`.
void (*current_handler(int signal_number))(int) {
  struct sigaction action {};
  sigaction(signal_number, nullptr, &action);
  return action.sa_handler;
}

}  // namespace

TEST_CASE("stop signal handler records the first signal") {
  auto before = current_handler(SIGINT);
  {
    StopSignalHandler handler;
    CHECK(*stop_signal_flag() == 0);
    CHECK((current_handler(SIGINT) != before));
    std::raise(SIGINT);
    CHECK(*stop_signal_flag() == SIGINT);
    // SA_RESETHAND: a second SIGINT would now end the process.
    CHECK((current_handler(SIGINT) == SIG_DFL));
  }
  CHECK((current_handler(SIGINT) == before));
}

TEST_CASE("stop signal handler restores SIGTERM") {
  auto before = current_handler(SIGTERM);
  {
    StopSignalHandler handler;
    std::raise(SIGTERM);
    CHECK(*stop_signal_flag() == SIGTERM);
  }
  CHECK((current_handler(SIGTERM) == before));
}

TEST_CASE("stop signal handler keeps an ignored signal ignored") {
  auto before = std::signal(SIGINT, SIG_IGN);
  {
    StopSignalHandler handler;
    CHECK((current_handler(SIGINT) == SIG_IGN));
    std::raise(SIGINT);
    CHECK(*stop_signal_flag() == 0);
  }
  std::signal(SIGINT, before);
}

TEST_CASE("stop signal handler allows one at a time") {
  StopSignalHandler handler;
  CHECK_THROWS_WITH_AS(StopSignalHandler(), doctest::Contains("already installed"), Error);
}
