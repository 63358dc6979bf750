#include <doctest/doctest.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>

#include "core/error.h"
#include "core/npy.h"
#include "temp_folder.h"
#include "tools/commands.h"

using namespace entlab;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// Runs `entlab probe <arguments>` in process; returns the error message, "" on success.
std::string run_probe(const std::string& arguments) {
  CLI::App app{"entlab"};
  tools::add_probe_command(app);
  try {
    app.parse("probe " + arguments, false);
  } catch (const CLI::ParseError& error) {
    return error.what();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

}  // namespace

TEST_CASE("probe writes weights and the vector-Jacobian product") {
  entlab_test::TempFolder folder;
  write_npy(folder.file("S.npy"), Tensor::from_vector({2, 4}, {1, 0, -kInf, -kInf, -kInf, -kInf, -kInf, -kInf}));
  write_npy(folder.file("G.npy"), Tensor::from_vector({2, 4}, {1, 2, 3, 4, 1, 2, 3, 4}));
  REQUIRE(run_probe("--transform entmax15 --scores " + folder.file("S.npy") + " --grad " + folder.file("G.npy") +
                    " --out " + folder.file("out")) == "");

  // entmax15([1, 0, -inf, -inf]) = [(4 + sqrt 7)/8, (4 - sqrt 7)/8, 0, 0]; its VJP with g = [1, 2, 3, 4]
  // is [-0.375/sqrt 1.75, +0.375/sqrt 1.75, 0, 0]. The all -inf row gives zeros.
  std::vector<float> probs = read_npy(folder.file("out/probs.npy")).to_vector();
  CHECK(probs[0] == doctest::Approx(0.8307189).epsilon(1e-6));
  CHECK(probs[1] == doctest::Approx(0.1692811).epsilon(1e-6));
  CHECK(probs[2] == 0.0f);
  for (int i = 4; i < 8; ++i) CHECK(probs[i] == 0.0f);
  std::vector<float> grad = read_npy(folder.file("out/grad_scores.npy")).to_vector();
  CHECK(grad[0] == doctest::Approx(-0.2834734).epsilon(1e-5));
  CHECK(grad[1] == doctest::Approx(0.2834734).epsilon(1e-5));
  for (int i = 2; i < 8; ++i) CHECK(grad[i] == 0.0f);
}

TEST_CASE("probe entmax writes the alpha gradient") {
  entlab_test::TempFolder folder;
  write_npy(folder.file("S.npy"), Tensor::from_vector({2, 3}, {1, 0.5f, 0, 0.2f, 0.1f, -1}));
  write_npy(folder.file("G.npy"), Tensor::from_vector({2, 3}, {1, 2, 3, 0.5f, 0, 1}));
  REQUIRE(run_probe("--transform entmax --alpha 1.7 --scores " + folder.file("S.npy") + " --grad " +
                    folder.file("G.npy") + " --out " + folder.file("out")) == "");
  Tensor grad_alpha = read_npy(folder.file("out/grad_alpha.npy"));
  CHECK(grad_alpha.numel() == 1);
  CHECK(std::isfinite(grad_alpha.item()));
}

TEST_CASE("probe rejects bad input with the file named") {
  entlab_test::TempFolder folder;
  write_npy(folder.file("S.npy"), Tensor::from_vector({2, 2}, {1, 2, 3, 4}));
  write_npy(folder.file("flat.npy"), Tensor::from_vector({3}, {1, 2, 3}));
  write_npy(folder.file("G.npy"), Tensor::from_vector({1, 2}, {1, 2}));
  const std::string scores = " --scores " + folder.file("S.npy");
  CHECK(run_probe("--transform entmax --alpha 1" + scores).find("alpha > 1") != std::string::npos);
  CHECK(run_probe("--transform entmax --alpha 0.9" + scores).find("alpha > 1") != std::string::npos);
  CHECK(run_probe("--transform entmax" + scores).find("needs --alpha") != std::string::npos);
  CHECK(run_probe("--transform sparsemux" + scores).find("valid: softmax, sparsemax") != std::string::npos);
  CHECK(run_probe("--transform softmax --scores " + folder.file("flat.npy")).find("flat.npy: expected a 2-D array") !=
        std::string::npos);
  CHECK(run_probe("--transform softmax --scores " + folder.file("missing.npy")).find("missing.npy") !=
        std::string::npos);
  std::string mismatch = run_probe("--transform softmax" + scores + " --grad " + folder.file("G.npy"));
  CHECK(mismatch.find("G.npy has shape (1, 2)") != std::string::npos);
  CHECK(mismatch.find("S.npy has shape (2, 2)") != std::string::npos);
}

TEST_CASE("probe never replaces earlier results") {
  entlab_test::TempFolder folder;
  write_npy(folder.file("S.npy"), Tensor::from_vector({1, 2}, {1, 2}));
  const std::string command = "--transform softmax --scores " + folder.file("S.npy") + " --out " + folder.file("out");
  REQUIRE(run_probe(command) == "");
  CHECK(run_probe(command).find("already contains probs.npy") != std::string::npos);
}
