#include <doctest/doctest.h>

#include <CLI/CLI.hpp>
#include <string>

#include "core/error.h"
#include "temp_folder.h"
#include "tools/commands.h"

using namespace entlab;

namespace {

// Parses `command_line` with the real subcommands, as main() does, and returns the
// message of the error it raised ("" if none).
std::string run_command(const std::string& command_line) {
  CLI::App app{"entlab"};
  app.require_subcommand(1);
  tools::add_train_command(app);
  tools::add_eval_command(app);
  tools::add_heatmap_command(app);
  tools::add_study_command(app);
  tools::add_probe_command(app);
  tools::add_bench_command(app);
  try {
    app.parse(command_line, false);
  } catch (const CLI::ParseError& error) {
    return error.what();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

}  // namespace

TEST_CASE("cli rejects unknown names and lists valid ones") {
  CHECK(run_command("train --task sort").find("valid: copy, flipflop") != std::string::npos);
  CHECK(run_command("train --attention sparsemux").find("valid: softmax, entmax15") != std::string::npos);
  CHECK(run_command("train --pos absolute").find("valid: rope, nope, alibi, nape") != std::string::npos);
}

TEST_CASE("cli rejects non-positive sizes") {
  CHECK(run_command("train --steps 0").find("--steps: 0 is out of range") != std::string::npos);
  CHECK(run_command("train --batch -1").find("--batch: -1 is out of range") != std::string::npos);
  CHECK(run_command("train --heads 0").find("--heads: 0 is out of range") != std::string::npos);
  CHECK(run_command("train --d-model 0").find("--d-model: 0 is out of range") != std::string::npos);
  CHECK(run_command("study --samples 0").find("--samples: 0 is out of range") != std::string::npos);
}

TEST_CASE("cli rejects values that are not numbers") {
  CHECK(run_command("train --steps abc").find("'abc' is not an integer") != std::string::npos);
  CHECK(run_command("train --lr fast").find("'fast' is not a number") != std::string::npos);
}

TEST_CASE("cli reports a missing run folder") {
  CHECK(run_command("eval --run /nonexistent/entlab-run").find("does not exist") != std::string::npos);
  CHECK(run_command("heatmap --run /nonexistent/entlab-run --length 32 --out x.png").find("does not exist") !=
        std::string::npos);
}

TEST_CASE("cli rejects lengths that are not numbers") {
  entlab_test::TempFolder folder;
  // The list is checked before the run folder is read.
  CHECK(run_command("eval --run " + folder.path() + " --lengths 64,abc").find("'abc' is not an integer") !=
        std::string::npos);
  CHECK(run_command("study --multiples 1,x").find("'x' is not an integer") != std::string::npos);
  CHECK(run_command("study --multiples 1,,2").find("empty entry") != std::string::npos);
}

TEST_CASE("cli rejects impossible model combinations") {
  CHECK(run_command("train --pos nape --heads 3").find("n_heads = 3") != std::string::npos);
  CHECK(run_command("train --pos rope --head-size 5").find("head_size = 5") != std::string::npos);
  CHECK(run_command("train --length 8 --spread 8").find("task.length_spread") != std::string::npos);
}
