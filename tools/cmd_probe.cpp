// entlab probe: apply one attention transform to each row of a 2-D .npy array, print the
// per-row statistics, and optionally write the weights and the vector-Jacobian product.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "autograd/tape.h"
#include "core/error.h"
#include "core/json_reader.h"
#include "core/npy.h"
#include "ops/ops.h"
#include "tasks/evaluate.h"
#include "tools/cli_options.h"
#include "tools/commands.h"
#include "tools/report.h"

namespace entlab::tools {

namespace {

namespace fs = std::filesystem;

const std::vector<std::string>& probe_transforms() {
  static const std::vector<std::string> names = {"softmax", "sparsemax", "entmax15", "entmax"};
  return names;
}

struct ProbeFlags {
  std::string transform, scores_path, grad_path, out_dir;
  double alpha = 0.0;
  int64_t max_rows = 20;
};

// The transform applied to every row of `scores`; alpha is a () tensor for "entmax".
Tensor apply_transform(const std::string& transform, const Tensor& scores, const Tensor& alpha) {
  if (transform == "softmax") return softmax(scores);
  if (transform == "sparsemax") return sparsemax(scores);
  if (transform == "entmax15") return entmax15(scores);
  return entmax_bisect(scores, alpha);
}

// tau of one row in the convention p = [(alpha - 1) z - tau]_+^(1 / (alpha - 1)); NaN for softmax.
double row_tau(const std::string& transform, const float* z, int64_t n, double alpha) {
  std::vector<float> probs(static_cast<size_t>(n)), scratch;
  if (transform == "sparsemax") return sparsemax_row_forward(probs.data(), z, n, scratch).tau;
  if (transform == "entmax15") return entmax15_row_forward(probs.data(), z, n, scratch).tau;
  if (transform == "entmax") return entmax_bisect_row_forward(probs.data(), z, n, static_cast<float>(alpha)).tau;
  return std::numeric_limits<double>::quiet_NaN();
}

Tensor read_matrix(const std::string& path, const std::string& option) {
  Tensor matrix = read_npy(path);
  ENTLAB_CHECK(matrix.dim() == 2, "invalid ", option, " ", path, ": expected a 2-D array (rows of scores), got shape ",
               shape_str(matrix.shape()));
  ENTLAB_CHECK(matrix.size(1) > 0, "invalid ", option, " ", path, ": the rows are empty, shape ",
               shape_str(matrix.shape()));
  return matrix;
}

void check_flags(const ProbeFlags& flags) {
  bool known = false;
  for (const std::string& name : probe_transforms()) known = known || name == flags.transform;
  ENTLAB_CHECK(known, "unknown --transform '", flags.transform, "'; valid: ", join(probe_transforms(), ", "));
  if (flags.transform == "entmax") {
    ENTLAB_CHECK(flags.alpha != 0.0, "--transform entmax needs --alpha, a value above 1 (1.5 is entmax15)");
    ENTLAB_CHECK(flags.alpha > 1, "invalid --alpha ", flags.alpha,
                 ": alpha-entmax needs alpha > 1 (alpha = 1 is softmax; use --transform softmax)");
  } else {
    ENTLAB_CHECK(flags.alpha == 0.0, "--alpha applies only to --transform entmax, not ", flags.transform);
  }
}

// The files --out receives: probs.npy, and with --grad grad_scores.npy (and grad_alpha.npy).
std::vector<std::string> output_files(const ProbeFlags& flags) {
  std::vector<std::string> names = {"probs.npy"};
  if (!flags.grad_path.empty()) names.push_back("grad_scores.npy");
  if (!flags.grad_path.empty() && flags.transform == "entmax") names.push_back("grad_alpha.npy");
  return names;
}

// Checks before any work that --out can take every output without replacing a file.
void check_out_dir(const ProbeFlags& flags) {
  if (flags.out_dir.empty()) return;
  ENTLAB_CHECK(fs::is_directory(flags.out_dir) || !fs::exists(flags.out_dir), "invalid --out ", flags.out_dir,
               ": it exists and is not a folder");
  for (const std::string& name : output_files(flags))
    ENTLAB_CHECK(!fs::exists(fs::path(flags.out_dir) / name), "--out ", flags.out_dir, " already contains ", name,
                 "; choose another folder (entlab does not write over earlier results)");
}

void write_result(const std::string& out_dir, const std::string& name, const Tensor& tensor) {
  const std::string path = (fs::path(out_dir) / name).string();
  write_npy(path, tensor);
  std::cout << "wrote " << path << " " << shape_str(tensor.shape()) << "\n";
}

void print_rows(const ProbeFlags& flags, const Tensor& scores, const Tensor& probs) {
  const int64_t rows = scores.size(0), n = scores.size(1);
  std::vector<TableRow> table;
  for (int64_t row = 0; row < rows && row < flags.max_rows; ++row) {
    tasks::HeadDispersion stats = tasks::row_dispersion(probs.data() + row * n, n);
    const double tau = row_tau(flags.transform, scores.data() + row * n, n, flags.alpha);
    table.push_back({std::to_string(row), format_fixed(stats.support_size, 0) + " / " + std::to_string(n),
                     format_fixed(stats.max_weight, 6), format_fixed(stats.entropy, 6),
                     // No threshold exists for softmax or for a row without finite scores.
                     std::isfinite(tau) && stats.support_size > 0 ? format_fixed(tau, 6) : "-"});
  }
  std::cout << format_table({"row", "support", "max prob", "entropy", "tau"}, table);
  if (rows > flags.max_rows) std::cout << "(" << rows - flags.max_rows << " more rows; --rows sets how many are shown)\n";
}

void run_probe(const ProbeFlags& flags) {
  check_flags(flags);
  check_out_dir(flags);
  Tensor scores = read_matrix(flags.scores_path, "--scores");
  Tensor upstream;
  if (!flags.grad_path.empty()) {
    upstream = read_matrix(flags.grad_path, "--grad");
    ENTLAB_CHECK(upstream.shape() == scores.shape(), "shape mismatch: --grad ", flags.grad_path, " has shape ",
                 shape_str(upstream.shape()), " but --scores ", flags.scores_path, " has shape ",
                 shape_str(scores.shape()));
  }

  // 1. Forward (and backward with the upstream gradient G, when given).
  scores.set_requires_grad(upstream.defined());
  Tensor alpha = Tensor::scalar(static_cast<float>(flags.alpha), "alpha");
  alpha.set_requires_grad(upstream.defined() && flags.transform == "entmax");
  Tensor probs = apply_transform(flags.transform, scores, alpha);
  if (upstream.defined()) backward(probs, upstream);

  // 2. Per-row statistics, then the files.
  std::cout << flags.transform << (flags.transform == "entmax" ? " (alpha " + format_fixed(flags.alpha, 4) + ")" : "")
            << " on " << flags.scores_path << " " << shape_str(scores.shape()) << "\n";
  print_rows(flags, scores, probs);
  if (flags.out_dir.empty()) return;
  fs::create_directories(flags.out_dir);
  write_result(flags.out_dir, "probs.npy", probs.clone_values());
  if (!upstream.defined()) return;
  write_result(flags.out_dir, "grad_scores.npy", scores.grad());
  if (flags.transform == "entmax") write_result(flags.out_dir, "grad_alpha.npy", alpha.grad());
}

}  // namespace

void add_probe_command(CLI::App& app) {
  auto flags = std::make_shared<ProbeFlags>();
  CLI::App* cmd = app.add_subcommand("probe", "Apply one attention transform to the rows of a .npy file");
  cmd->add_option("--transform", flags->transform, "Transform: " + join(probe_transforms(), ", "))->required();
  cmd->add_option("--alpha", flags->alpha, "alpha for --transform entmax (must be > 1)")->check(number_above(-1e9, 1e9));
  cmd->add_option("--scores", flags->scores_path, "2-D .npy array (float32 or float64, -inf allowed), one row per query")
      ->required();
  cmd->add_option("--grad", flags->grad_path, "Upstream gradient G, same shape, for the vector-Jacobian product");
  cmd->add_option("--out", flags->out_dir,
                  "Folder for probs.npy (and grad_scores.npy, grad_alpha.npy with --grad); created if missing");
  cmd->add_option("--rows", flags->max_rows, "Rows to print (default 20)")->check(integer_in(0, 1000000000));
  cmd->callback([flags] { run_probe(*flags); });
}

}  // namespace entlab::tools
