// entlab: train small transformers on synthetic tasks and look at their attention.
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>

#include "core/error.h"
#include "tools/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"entlab: sparse attention and length generalisation on the CPU"};
  app.require_subcommand(1);
  entlab::tools::add_train_command(app);
  entlab::tools::add_eval_command(app);
  entlab::tools::add_heatmap_command(app);
  entlab::tools::add_study_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  } catch (const entlab::Error& error) {
    std::fprintf(stderr, "entlab: error: %s\n", error.what());
    return 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "entlab: unexpected error: %s\n", error.what());
    return 1;
  }
  return 0;
}
