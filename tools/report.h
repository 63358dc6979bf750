// Tables and CSV files for evaluation results, shared by eval and study.
#pragma once

#include <string>
#include <vector>

#include "nn/config.h"
#include "tasks/evaluate.h"

namespace entlab::tools {

using TableRow = std::vector<std::string>;

// Columns padded to their widest cell, separated by " | ", with a rule under the header.
std::string format_table(const TableRow& header, const std::vector<TableRow>& rows);
// Same table as GitHub Markdown.
std::string format_markdown_table(const TableRow& header, const std::vector<TableRow>& rows);
std::string format_fixed(double value, int digits);

// Heads that share a position signal: "alibi" heads (slope > 0) and the rest, named
// after the model's encoding ("nope" under NAPE, "rope", ...).
struct HeadGroup {
  std::string name;
  std::vector<int64_t> heads;  // head indices within a layer
};
std::vector<HeadGroup> head_groups(const nn::ModelConfig& config);
// Mean dispersion over every layer's heads of one group.
tasks::HeadDispersion group_dispersion(const tasks::LengthResult& result, const HeadGroup& group, int64_t n_heads);

// Accuracy and dispersion per length, one table row each.
TableRow eval_table_header(const std::vector<HeadGroup>& groups);
TableRow eval_table_row(const tasks::LengthResult& result, const std::vector<HeadGroup>& groups, int64_t n_heads);

// eval.csv: length, samples, correct, accuracy, and mean max weight / support / entropy
// over all heads. dispersion.csv: the same statistics per layer and head.
std::string eval_csv(const std::vector<tasks::LengthResult>& results);
// key_columns ("variant,seed") and key_values ("softmax+nape,1") lead every row when given.
std::string dispersion_csv(const std::vector<tasks::LengthResult>& results, const nn::ModelConfig& config,
                           const std::string& key_columns = "", const std::string& key_values = "");

}  // namespace entlab::tools
