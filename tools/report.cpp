#include "tools/report.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace entlab::tools {

std::string format_fixed(double value, int digits) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", digits, value);
  return text;
}

namespace {

std::vector<size_t> column_widths(const TableRow& header, const std::vector<TableRow>& rows) {
  std::vector<size_t> widths(header.size(), 0);
  for (size_t c = 0; c < header.size(); ++c) widths[c] = header[c].size();
  for (const TableRow& row : rows)
    for (size_t c = 0; c < row.size() && c < widths.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  return widths;
}

void append_row(std::ostringstream& out, const TableRow& row, const std::vector<size_t>& widths,
                const char* left, const char* separator, const char* right) {
  out << left;
  for (size_t c = 0; c < widths.size(); ++c) {
    const std::string cell = c < row.size() ? row[c] : "";
    out << (c ? separator : "") << std::string(widths[c] - cell.size(), ' ') << cell;
  }
  out << right << "\n";
}

}  // namespace

std::string format_table(const TableRow& header, const std::vector<TableRow>& rows) {
  std::vector<size_t> widths = column_widths(header, rows);
  std::ostringstream out;
  append_row(out, header, widths, "", " | ", "");
  size_t total = 0;
  for (size_t width : widths) total += width;
  out << std::string(total + 3 * (widths.size() - 1), '-') << "\n";
  for (const TableRow& row : rows) append_row(out, row, widths, "", " | ", "");
  return out.str();
}

std::string format_markdown_table(const TableRow& header, const std::vector<TableRow>& rows) {
  std::vector<size_t> widths = column_widths(header, rows);
  std::ostringstream out;
  append_row(out, header, widths, "| ", " | ", " |");
  out << "|";
  for (size_t width : widths) out << " " << std::string(width - 1, '-') << ": |";
  out << "\n";
  for (const TableRow& row : rows) append_row(out, row, widths, "| ", " | ", " |");
  return out.str();
}

std::vector<HeadGroup> head_groups(const nn::ModelConfig& config) {
  std::vector<float> slopes = nn::head_slopes(config);
  HeadGroup alibi{"alibi", {}};
  HeadGroup rest{config.position == nn::PositionEncoding::Nape ? "nope" : nn::to_string(config.position), {}};
  for (int64_t h = 0; h < config.n_heads; ++h) (slopes[h] > 0 ? alibi : rest).heads.push_back(h);
  std::vector<HeadGroup> groups;
  if (!alibi.heads.empty()) groups.push_back(alibi);
  if (!rest.heads.empty()) groups.push_back(rest);
  return groups;
}

tasks::HeadDispersion group_dispersion(const tasks::LengthResult& result, const HeadGroup& group, int64_t n_heads) {
  std::vector<tasks::HeadDispersion> members;
  for (size_t index = 0; index < result.heads.size(); ++index)
    if (std::count(group.heads.begin(), group.heads.end(), static_cast<int64_t>(index) % n_heads))
      members.push_back(result.heads[index]);
  return tasks::mean_dispersion(members);
}

TableRow eval_table_header(const std::vector<HeadGroup>& groups) {
  TableRow header = {"length", "samples", "exact match %"};
  for (const HeadGroup& group : groups) {
    header.push_back("max weight (" + group.name + ")");
    header.push_back("support (" + group.name + ")");
  }
  return header;
}

TableRow eval_table_row(const tasks::LengthResult& result, const std::vector<HeadGroup>& groups, int64_t n_heads) {
  TableRow row = {std::to_string(result.length), std::to_string(result.samples),
                  format_fixed(100.0 * result.accuracy(), 1)};
  for (const HeadGroup& group : groups) {
    tasks::HeadDispersion stats = group_dispersion(result, group, n_heads);
    row.push_back(format_fixed(stats.max_weight, 3));
    row.push_back(format_fixed(stats.support_size, 1) + " / " + format_fixed(stats.keys, 0));
  }
  return row;
}

std::string eval_csv(const std::vector<tasks::LengthResult>& results) {
  std::ostringstream out;
  out << "length,samples,correct,accuracy,mean_max_weight,mean_support_size,mean_entropy,mean_keys\n";
  for (const tasks::LengthResult& result : results) {
    tasks::HeadDispersion mean = tasks::mean_dispersion(result.heads);
    out << result.length << "," << result.samples << "," << result.correct << "," << result.accuracy() << ","
        << mean.max_weight << "," << mean.support_size << "," << mean.entropy << "," << mean.keys << "\n";
  }
  return out.str();
}

std::string dispersion_csv(const std::vector<tasks::LengthResult>& results, const nn::ModelConfig& config,
                           const std::string& key_columns, const std::string& key_values) {
  const std::string lead_header = key_columns.empty() ? "" : key_columns + ",";
  const std::string lead = key_values.empty() ? "" : key_values + ",";
  std::vector<float> slopes = nn::head_slopes(config);
  std::ostringstream out;
  out << lead_header << "length,layer,head,alibi_slope,max_weight,support_size,entropy,keys\n";
  for (const tasks::LengthResult& result : results)
    for (size_t index = 0; index < result.heads.size(); ++index) {
      const tasks::HeadDispersion& head = result.heads[index];
      const int64_t layer = static_cast<int64_t>(index) / config.n_heads;
      const int64_t h = static_cast<int64_t>(index) % config.n_heads;
      out << lead << result.length << "," << layer << "," << h << "," << slopes[h] << "," << head.max_weight << ","
          << head.support_size << "," << head.entropy << "," << head.keys << "\n";
    }
  return out.str();
}

}  // namespace entlab::tools
