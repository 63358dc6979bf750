#include <doctest/doctest.h>

#include "core/error.h"
#include "tools/config_source.h"

using namespace entlab;
using namespace entlab::tools;

TEST_CASE("--set task.name applies before options") {
  // Given in the other order, the new name would reset the option set for it.
  ConfigSource source;
  source.assignments = {"task.options.alphabet=3", "task.name=copy", "model.d_model=32"};
  tasks::RunConfig config = load_config_source(source);
  config.finalize();
  CHECK(config.task.name == "copy");
  CHECK(config.task.options.at("alphabet") == 3);
  CHECK(config.model.d_model == 32);
}

TEST_CASE("config source defaults to small") {
  ConfigSource source;
  CHECK(tasks::to_json(load_config_source(source)) == tasks::to_json(tasks::RunConfig{}));
  source.preset = "tiny";
  CHECK(load_config_source(source).model.d_model == 32);
  source.preset = "";
  CHECK_THROWS_WITH_AS(load_config_source(source), doctest::Contains("unknown preset ''"), Error);
}
