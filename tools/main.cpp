// entlab: train small transformers on synthetic tasks and look at their attention.
#include <cstdio>
#include <exception>
#include <filesystem>
#include <new>
#include <string>

#include <CLI/CLI.hpp>

#include "core/error.h"
#include "tools/commands.h"

namespace {

// CLI11 reports a misspelt subcommand as "A subcommand is required"; name it instead.
bool check_subcommand(const CLI::App& app, int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') return true;
  std::string names;
  for (const CLI::App* subcommand : app.get_subcommands({})) {
    if (subcommand->get_name() == argv[1]) return true;
    names += (names.empty() ? "" : ", ") + subcommand->get_name();
  }
  std::fprintf(stderr, "entlab: error: unknown subcommand '%s'; valid: %s (see --help)\n", argv[1], names.c_str());
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"entlab: sparse attention and length generalisation on the CPU"};
  app.require_subcommand(1);
  entlab::tools::add_train_command(app);
  entlab::tools::add_config_command(app);
  entlab::tools::add_eval_command(app);
  entlab::tools::add_heatmap_command(app);
  entlab::tools::add_study_command(app);
  entlab::tools::add_probe_command(app);
  entlab::tools::add_bench_command(app);
  if (!check_subcommand(app, argc, argv)) return 1;

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  } catch (const entlab::tools::ExitStatus& exit) {
    return exit.status;
  } catch (const entlab::Error& error) {
    std::fprintf(stderr, "entlab: error: %s\n", error.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "entlab: error: out of memory; use a smaller --batch, model or sequence length\n");
    return 1;
  } catch (const std::filesystem::filesystem_error& error) {
    std::fprintf(stderr, "entlab: error: %s\n", error.what());
    return 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "entlab: unexpected error (please report it): %s\n", error.what());
    return 1;
  }
  return 0;
}
