// PNG plots: attention heatmaps and per-length line plots (exact-match accuracy or largest
// attention weight against sequence length). Drawn on a Canvas, encoded with
// stb_image_write, written with write_file_atomically.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tools/canvas.h"

namespace entlab {

// --- Heatmaps ------------------------------------------------------------------------------

// Special cells are drawn outside the colour map, so a reader can tell them apart.
const Rgb kHeatmapZeroColour{255, 255, 255};     // a value of exactly 0
const Rgb kHeatmapMaskedColour{200, 200, 200};   // a masked (future) position
const Rgb kHeatmapNonFiniteColour{228, 26, 28};  // nan or +-inf

// The sequential colour map, an approximation of viridis interpolated between 9 anchor
// colours: t = 0 is dark purple, t = 1 bright yellow. t is clamped to [0, 1], and nan maps to 0.
Rgb sequential_colour(double t);

struct HeatmapOptions {
  // Drawn above the map; empty for none.
  std::string title;
  // The value drawn at the bright end. 0 or less (the default) means the largest finite
  // value among the cells that are not masked. Larger values are drawn at the bright end.
  float max_value = 0.0f;
  // Draw entries with col > row + (cols - rows) as masked: the future positions under a
  // causal mask whose last query row attends to every key.
  bool causal = false;
  // Draw a colour bar labelled 0 and max on the right of the map.
  bool colour_bar = true;
};

// Pixel geometry of a heatmap image. Cell (row, col) covers the cell_size x cell_size
// square whose top-left pixel is (map_left + col * cell_size, map_top + row * cell_size).
struct HeatmapLayout {
  int cell_size = 1;
  int map_left = 0;
  int map_top = 0;
  int width = 0;
  int height = 0;
};

// The layout write_heatmap_png uses. cell_size makes the longer side of the map at least
// 256 pixels but at most 2048, and is at least 1, so a map with more than 2048 rows or
// columns gets one pixel per cell. Throws entlab::Error unless 1 <= rows, cols <= 8192.
HeatmapLayout heatmap_layout(int64_t rows, int64_t cols, const HeatmapOptions& options);

// Draws the rows x cols row-major matrix `values` (an attention map: rows are queries,
// columns keys) with values from 0 to the scale maximum on the sequential colour map.
// Exact zeros are white. Negative values are drawn like the smallest positive ones.
Canvas render_heatmap(const float* values, int64_t rows, int64_t cols, const HeatmapOptions& options);

// render_heatmap, written as a PNG file. Errors name `path`.
void write_heatmap_png(const std::string& path, const float* values, int64_t rows, int64_t cols,
                       const HeatmapOptions& options);

// --- Line plots -----------------------------------------------------------------------------

struct PlotPoint {
  double x = 0.0;
  double y = 0.0;
};

// A named polyline. Lines join the points in the order given; a point with a non-finite x
// or y is skipped and breaks the line.
struct LineSeries {
  std::string name;
  std::vector<PlotPoint> points;
};

struct LinePlot {
  std::string title;
  std::string x_label;
  std::string y_label;
  // Space the x axis by log2(x) with ticks at powers of two, as for sequence lengths.
  // Every finite x must then be > 0.
  bool log2_x = false;
  // The y axis range. If either bound is nan, the range is fitted to the data instead.
  // Points outside the range get no marker, and their lines are cut at the plot frame.
  double y_min = 0.0;
  double y_max = 1.0;
  std::vector<LineSeries> series;
  // Image size in pixels, at least 200 x 150 and at most 4096 x 4096.
  int width = 720;
  int height = 480;
};

// Draws axes with ticks and tick labels, grid lines, each series as a coloured line with
// point markers (8 colours from the Okabe-Ito colour-blind-safe palette, 4 marker shapes),
// a legend on the right, and the title and axis labels.
Canvas render_line_plot(const LinePlot& plot);

// render_line_plot, written as a PNG file. Errors name `path`.
void write_line_plot_png(const std::string& path, const LinePlot& plot);

}  // namespace entlab
