// The smallest run config the task and tool tests train: one layer, d_model 16, two
// heads, Flip-Flop at lengths 10-14. A test changes what it needs and calls finalize().
#pragma once

#include "tasks/run_config.h"

namespace entlab_test {

inline entlab::tasks::RunConfig tiny_run_config() {
  entlab::tasks::RunConfig config;
  config.model.d_model = 16;
  config.model.n_layers = 1;
  config.model.n_heads = 2;
  config.model.head_size = 8;
  config.model.mlp_hidden = 32;
  config.task.train_length = 12;
  config.task.length_spread = 2;
  return config;
}

}  // namespace entlab_test
