#include <doctest/doctest.h>

// libstb (linked through entlab_tools) already contains the stb_image implementation, so
// this file includes only the declarations.
#include <stb_image.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/error.h"
#include "temp_folder.h"
#include "tools/plot.h"

using namespace entlab;
using entlab_test::TempFolder;

namespace {

// A PNG file decoded to 8-bit RGB.
struct DecodedImage {
  int width = 0;
  int height = 0;
  std::vector<unsigned char> rgb;

  Rgb pixel(int x, int y) const {
    size_t offset = (static_cast<size_t>(y) * width + x) * 3;
    return {rgb[offset], rgb[offset + 1], rgb[offset + 2]};
  }
};

DecodedImage decode_png_file(const std::string& path) {
  std::string bytes = read_file(path);
  DecodedImage image;
  int channels = 0;
  unsigned char* pixels =
      stbi_load_from_memory(reinterpret_cast<const unsigned char*>(bytes.data()),
                            static_cast<int>(bytes.size()), &image.width, &image.height, &channels, 3);
  REQUIRE_MESSAGE(pixels != nullptr, "stb_image could not decode ", path);
  image.rgb.assign(pixels, pixels + static_cast<size_t>(image.width) * image.height * 3);
  stbi_image_free(pixels);
  return image;
}

// The colour at the centre of heatmap cell (row, col).
Rgb cell_pixel(const DecodedImage& image, const HeatmapLayout& layout, int row, int col) {
  int x = layout.map_left + col * layout.cell_size + layout.cell_size / 2;
  int y = layout.map_top + row * layout.cell_size + layout.cell_size / 2;
  return image.pixel(x, y);
}

int brightness(Rgb colour) { return colour.r + colour.g + colour.b; }

// Counts the pixels of exactly `colour`.
int count_pixels(const DecodedImage& image, Rgb colour) {
  int count = 0;
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) count += image.pixel(x, y) == colour ? 1 : 0;
  }
  return count;
}

}  // namespace

TEST_CASE("heatmap PNG decodes at the layout size") {
  TempFolder folder;
  std::string path = folder.file("att.png");
  std::vector<float> values(8 * 8, 0.125f);
  HeatmapOptions options;
  options.title = "layer 0 head 0";
  options.causal = true;
  write_heatmap_png(path, values.data(), 8, 8, options);

  DecodedImage image = decode_png_file(path);
  HeatmapLayout layout = heatmap_layout(8, 8, options);
  CHECK(image.width == layout.width);
  CHECK(image.height == layout.height);
  CHECK(layout.cell_size * 8 >= 256);
  CHECK(layout.map_left + 8 * layout.cell_size <= image.width);
  CHECK(layout.map_top + 8 * layout.cell_size <= image.height);
}

TEST_CASE("heatmap special cells and colour ends") {
  // Causal 4 x 4 map: entries above the diagonal are masked.
  TempFolder folder;
  std::string path = folder.file("att.png");
  std::vector<float> values(16, 0.0f);
  values[1 * 4 + 0] = 0.0f;   // exact zero
  values[1 * 4 + 1] = 1e-6f;  // tiny positive
  values[2 * 4 + 0] = 0.45f;  // middle of the scale
  values[3 * 4 + 3] = 0.9f;   // maximum
  values[0 * 4 + 3] = 5.0f;   // masked, so it must not set the scale
  values[3 * 4 + 0] = std::numeric_limits<float>::quiet_NaN();
  HeatmapOptions options;
  options.causal = true;
  write_heatmap_png(path, values.data(), 4, 4, options);

  DecodedImage image = decode_png_file(path);
  HeatmapLayout layout = heatmap_layout(4, 4, options);
  Rgb zero = cell_pixel(image, layout, 1, 0);
  Rgb tiny = cell_pixel(image, layout, 1, 1);
  Rgb middle = cell_pixel(image, layout, 2, 0);
  Rgb maximum = cell_pixel(image, layout, 3, 3);
  Rgb masked = cell_pixel(image, layout, 0, 3);
  Rgb not_finite = cell_pixel(image, layout, 3, 0);

  CHECK(zero == kHeatmapZeroColour);
  CHECK(tiny != zero);
  CHECK(tiny == sequential_colour(0.0));
  CHECK(brightness(tiny) < 200);
  CHECK(middle == sequential_colour(0.5));
  CHECK(maximum == sequential_colour(1.0));
  CHECK(maximum.r > 200);
  CHECK(maximum.g > 200);
  CHECK(maximum.b < 100);
  CHECK(masked == kHeatmapMaskedColour);
  CHECK(cell_pixel(image, layout, 2, 3) == kHeatmapMaskedColour);
  CHECK(not_finite == kHeatmapNonFiniteColour);
}

TEST_CASE("heatmap max_value sets the scale") {
  TempFolder folder;
  std::string path = folder.file("att.png");
  std::vector<float> values = {0.5f, 1.0f, 2.0f, 4.0f};
  HeatmapOptions options;
  options.max_value = 2.0f;
  write_heatmap_png(path, values.data(), 2, 2, options);

  DecodedImage image = decode_png_file(path);
  HeatmapLayout layout = heatmap_layout(2, 2, options);
  CHECK(cell_pixel(image, layout, 0, 0) == sequential_colour(0.25));
  CHECK(cell_pixel(image, layout, 0, 1) == sequential_colour(0.5));
  CHECK(cell_pixel(image, layout, 1, 0) == sequential_colour(1.0));
  CHECK(cell_pixel(image, layout, 1, 1) == sequential_colour(1.0));
}

TEST_CASE("heatmap causal mask for fewer rows than columns") {
  // With 2 query rows over 4 keys the last row attends to every key, so only (0, 3) is masked.
  TempFolder folder;
  std::string path = folder.file("att.png");
  std::vector<float> values(8, 0.25f);
  HeatmapOptions options;
  options.causal = true;
  write_heatmap_png(path, values.data(), 2, 4, options);

  DecodedImage image = decode_png_file(path);
  HeatmapLayout layout = heatmap_layout(2, 4, options);
  CHECK(cell_pixel(image, layout, 0, 3) == kHeatmapMaskedColour);
  CHECK(cell_pixel(image, layout, 0, 2) == sequential_colour(1.0));
  CHECK(cell_pixel(image, layout, 1, 3) == sequential_colour(1.0));
}

TEST_CASE("heatmap cell size") {
  HeatmapOptions options;
  CHECK(heatmap_layout(1, 1, options).cell_size == 256);
  CHECK(heatmap_layout(8, 8, options).cell_size == 32);
  CHECK(heatmap_layout(100, 100, options).cell_size == 3);
  CHECK(heatmap_layout(300, 300, options).cell_size == 1);
  CHECK(heatmap_layout(3000, 10, options).cell_size == 1);
  CHECK(heatmap_layout(2, 1000, options).cell_size == 1);
  CHECK(heatmap_layout(2, 700, options).cell_size == 1);
  CHECK(heatmap_layout(2, 20, options).cell_size == 13);
}

TEST_CASE("heatmap rejects invalid input") {
  TempFolder folder;
  std::string path = folder.file("att.png");
  std::vector<float> values(4, 0.0f);
  HeatmapOptions options;

  CHECK_THROWS_WITH_AS(write_heatmap_png(path, values.data(), 0, 4, options), doctest::Contains(path.c_str()),
                       Error);
  CHECK_THROWS_WITH_AS(write_heatmap_png(path, values.data(), 0, 4, options),
                       doctest::Contains("1 to 8192 rows and columns"), Error);
  CHECK_THROWS_WITH_AS(heatmap_layout(1, 9000, options), doctest::Contains("1 x 9000"), Error);
  CHECK_THROWS_WITH_AS(write_heatmap_png(path, nullptr, 2, 2, options), doctest::Contains("null pointer"),
                       Error);
  CHECK(folder.entries().empty());
}

TEST_CASE("sequential colour map grows brighter") {
  CHECK(sequential_colour(0.0) == Rgb{68, 1, 84});
  CHECK(sequential_colour(1.0) == Rgb{253, 231, 37});
  CHECK(sequential_colour(-3.0) == sequential_colour(0.0));
  CHECK(sequential_colour(7.0) == sequential_colour(1.0));
  CHECK(sequential_colour(std::nan("")) == sequential_colour(0.0));

  // Relative luminance (ITU-R BT.709 weights) must rise along the map.
  double previous = -1.0;
  for (int i = 0; i <= 64; ++i) {
    Rgb colour = sequential_colour(i / 64.0);
    double luminance = 0.2126 * colour.r + 0.7152 * colour.g + 0.0722 * colour.b;
    CAPTURE(i);
    CHECK(luminance > previous);
    previous = luminance;
  }
}

TEST_CASE("line plot PNG decodes with series colours") {
  TempFolder folder;
  std::string path = folder.file("accuracy.png");
  LinePlot plot;
  plot.title = "exact-match accuracy vs length";
  plot.x_label = "sequence length";
  plot.y_label = "accuracy";
  plot.log2_x = true;
  plot.series = {{"softmax", {{8, 1.0}, {16, 0.8}, {32, 0.4}, {64, 0.1}}},
                 {"entmax 1.5", {{8, 1.0}, {16, 0.95}, {32, 0.9}, {64, 0.85}}}};
  write_line_plot_png(path, plot);

  DecodedImage image = decode_png_file(path);
  CHECK(image.width == plot.width);
  CHECK(image.height == plot.height);
  // The first two palette colours: blue and vermillion. Lines, markers and legend use them.
  CHECK(count_pixels(image, Rgb{0, 114, 178}) > 100);
  CHECK(count_pixels(image, Rgb{213, 94, 0}) > 100);
  CHECK(count_pixels(image, Rgb{0, 0, 0}) > 100);  // text
}

TEST_CASE("line plot with unusual data") {
  TempFolder folder;
  std::string path = folder.file("plot.png");
  double nan = std::numeric_limits<double>::quiet_NaN();
  LinePlot plot;
  plot.width = 400;
  plot.height = 300;

  SUBCASE("no series") { write_line_plot_png(path, plot); }
  SUBCASE("points outside the y range and gaps") {
    plot.series = {{"wild", {{1, -5.0}, {2, nan}, {3, 1e12}, {4, 0.5}, {nan, 0.5}}}};
    write_line_plot_png(path, plot);
  }
  SUBCASE("y range fitted to one value") {
    plot.y_min = nan;
    plot.series = {{"flat", {{1, 3.0}}}};
    write_line_plot_png(path, plot);
  }
  SUBCASE("y range fitted to a value beyond 2^53") {
    plot.y_min = nan;
    plot.series = {{"large", {{1, 1e17}, {2, 1e17}}}};
    write_line_plot_png(path, plot);
  }
  SUBCASE("y range fitted to extreme values") {
    plot.y_max = nan;
    plot.series = {{"extreme", {{1, -1e308}, {2, 1e308}}}};
    write_line_plot_png(path, plot);
  }
  SUBCASE("many series and a wide log axis") {
    plot.log2_x = true;
    for (int i = 0; i < 12; ++i)
      plot.series.push_back({"s" + std::to_string(i), {{1, 0.1 * i}, {1 << 20, 0.05 * i}}});
    write_line_plot_png(path, plot);
  }
  DecodedImage image = decode_png_file(path);
  CHECK(image.width == 400);
  CHECK(image.height == 300);
}

TEST_CASE("line plot rejects invalid input") {
  TempFolder folder;
  std::string path = folder.file("plot.png");
  LinePlot plot;

  SUBCASE("x <= 0 on a log2 axis") {
    plot.log2_x = true;
    plot.series = {{"softmax", {{0, 1.0}}}};
    CHECK_THROWS_WITH_AS(write_line_plot_png(path, plot), doctest::Contains("series 'softmax' has x = 0"),
                         Error);
    CHECK_THROWS_WITH_AS(write_line_plot_png(path, plot), doctest::Contains(path.c_str()), Error);
  }
  SUBCASE("empty y range") {
    plot.y_min = 1.0;
    plot.y_max = 1.0;
    CHECK_THROWS_WITH_AS(write_line_plot_png(path, plot), doctest::Contains("y range"), Error);
  }
  SUBCASE("image too small") {
    plot.width = 100;
    CHECK_THROWS_WITH_AS(write_line_plot_png(path, plot), doctest::Contains("100 x 480"), Error);
  }
  SUBCASE("legend leaves no room") {
    plot.width = 200;
    plot.series = {{std::string(60, 'x'), {{1, 0.5}}}};
    CHECK_THROWS_WITH_AS(write_line_plot_png(path, plot), doctest::Contains("no room"), Error);
  }
  CHECK(folder.entries().empty());
}
