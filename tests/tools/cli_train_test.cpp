// `entlab train --stop-at` and `--resume` through the real command line, in process.
#include <doctest/doctest.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "temp_folder.h"
#include "tools/commands.h"

using namespace entlab;

namespace {

struct CommandResult {
  int status = 0;      // the exit status main() would return
  std::string output;  // what the command wrote to std::cout
  std::string error;   // the error message main() would print
};

// Runs `command_line` with the train subcommand as main() does, capturing std::cout.
CommandResult run_train(const std::string& command_line) {
  CLI::App app{"entlab"};
  app.require_subcommand(1);
  tools::add_train_command(app);
  std::ostringstream captured;
  std::streambuf* saved = std::cout.rdbuf(captured.rdbuf());
  CommandResult result;
  try {
    app.parse(command_line, false);
  } catch (const tools::ExitStatus& exit) {
    result.status = exit.status;
  } catch (const CLI::ParseError& error) {
    result.status = 1;
    result.error = error.what();
  } catch (const Error& error) {
    result.status = 1;
    result.error = error.what();
  }
  std::cout.rdbuf(saved);
  result.output = captured.str();
  return result;
}

const char* const kTinyRun =
    "train --d-model 16 --layers 1 --heads 2 --head-size 8 --mlp 32 --batch 4 --length 12 --spread 2 "
    "--steps 6 --log-every 100";

}  // namespace

TEST_CASE("cli train stops and resumes") {
  entlab_test::TempFolder folder;
  const std::string run = folder.file("run");
  CommandResult stopped = run_train(std::string(kTinyRun) + " --out " + run + " --stop-at 3");
  CHECK(stopped.status == 0);
  CHECK(stopped.error == "");
  CHECK(stopped.output.find("stopped at step 3 of 6; continue with: entlab train --resume " + run) !=
        std::string::npos);
  CHECK_FALSE(std::filesystem::exists(run + "/model.safetensors"));

  CommandResult resumed = run_train("train --resume " + run);
  CHECK(resumed.status == 0);
  CHECK(resumed.error == "");
  CHECK(resumed.output.find("resuming from " + run + "/checkpoints/step-00000003.safetensors") != std::string::npos);
  CHECK(resumed.output.find("trained steps 4 to 6") != std::string::npos);
  CHECK(std::filesystem::exists(run + "/model.safetensors"));

  CommandResult again = run_train("train --resume " + run);
  CHECK(again.status == 1);
  CHECK(again.error.find("holds a finished run") != std::string::npos);
}

TEST_CASE("cli rejects config flags with resume") {
  entlab_test::TempFolder folder;
  const std::string run = folder.file("run");
  REQUIRE(run_train(std::string(kTinyRun) + " --out " + run + " --stop-at 2").status == 0);
  for (const char* flag : {"--steps 10", "--lr 0.01", "--out elsewhere", "--checkpoint-every 1"}) {
    CommandResult result = run_train("train --resume " + run + " " + flag);
    INFO(flag);
    CHECK(result.status == 1);
    CHECK(result.error.find(" cannot be combined with --resume") != std::string::npos);
  }
  CommandResult allowed = run_train("train --resume " + run + " --stop-at 4 --log-every 1");
  CHECK(allowed.status == 0);
  CHECK(allowed.output.find("step      4/6") != std::string::npos);  // printed only with --log-every 1
  CHECK(allowed.output.find("stopped at step 4 of 6") != std::string::npos);
}

TEST_CASE("cli rejects invalid checkpoint options") {
  CHECK(run_train("train --keep-checkpoints 0").error.find("--keep-checkpoints: 0 is out of range") !=
        std::string::npos);
  CHECK(run_train("train --checkpoint-every -1").error.find("--checkpoint-every: -1 is out of range") !=
        std::string::npos);
  CHECK(run_train("train --stop-at 0").error.find("--stop-at: 0 is out of range") != std::string::npos);
  CHECK(run_train("train --resume /nonexistent/entlab-run").error.find("does not exist") != std::string::npos);
}

TEST_CASE("cli --task keeps options set for it") {
  // --task copy resets flip-flop's options; an option given for copy must survive that.
  entlab_test::TempFolder folder;
  const std::string run = folder.file("run");
  CommandResult result =
      run_train(std::string(kTinyRun) + " --task copy --set task.options.alphabet=8 --out " + run);
  INFO(result.error);
  REQUIRE(result.status == 0);
  const nlohmann::json config = nlohmann::json::parse(read_file(run + "/config.json"));
  CHECK(config["task"]["name"] == "copy");
  CHECK(config["task"]["options"]["alphabet"] == 8);
}
