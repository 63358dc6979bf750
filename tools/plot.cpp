#include "tools/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <tuple>
#include <utility>
#include <vector>

#include "core/error.h"

namespace entlab {
namespace {

const Rgb kBackground{255, 255, 255};
const Rgb kTextColour{0, 0, 0};
const Rgb kFrameColour{80, 80, 80};
const int kMargin = 8;
const int kTitleScale = 2;

// Anchor colours approximating matplotlib's viridis at t = 0, 1/8, ..., 1. Linear
// interpolation between 9 anchors stays close to the full map and keeps it ordered: the
// brightness 0.2126 R + 0.7152 G + 0.0722 B rises monotonically, as a test checks.
const Rgb kViridisAnchors[] = {
    {68, 1, 84},    {71, 45, 123}, {59, 82, 139},  {44, 114, 142}, {33, 144, 140},
    {39, 173, 129}, {93, 200, 99}, {170, 220, 50}, {253, 231, 37},
};

// A value for a label, with `digits` significant digits.
std::string format_value(double value, int digits = 3) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.*g", digits, value);
  return text;
}

// Rethrows an error of a render step with the output path in front.
template <typename Render>
auto render_for_file(const std::string& path, const char* plot_kind, Render render) {
  try {
    return render();
  } catch (const Error& error) {
    throw Error(str_cat("cannot write ", plot_kind, " '", path, "': ", error.what()));
  }
}

// --- Heatmap geometry -----------------------------------------------------------------------

const int kMinMapPixels = 256;
const int kMaxMapPixels = 2048;
const int64_t kMaxHeatmapSide = 8192;
const int kColourBarGap = 12;
const int kColourBarWidth = 16;
const int kColourBarMinHeight = 128;
const int kLabelGap = 4;
const int kSwatchSize = 9;
const int kLegendItemGap = 14;

struct LegendItem {
  Rgb colour;
  const char* label;
};

std::vector<LegendItem> heatmap_legend(const HeatmapOptions& options) {
  std::vector<LegendItem> items = {{kHeatmapZeroColour, "exactly 0"}};
  if (options.causal) items.push_back({kHeatmapMaskedColour, "masked"});
  items.push_back({kHeatmapNonFiniteColour, "nan/inf"});
  return items;
}

int legend_width(const std::vector<LegendItem>& items) {
  int width = 0;
  for (const LegendItem& item : items) {
    width += kSwatchSize + kLabelGap + Canvas::text_width(item.label) + kLegendItemGap;
  }
  return width - kLegendItemGap;
}

// Everything render_heatmap places, beyond the public layout.
struct HeatmapPlan {
  HeatmapLayout layout;
  int map_width = 0;
  int map_height = 0;
  int title_top = 0;
  int bar_left = 0;
  int bar_height = 0;
  int legend_top = 0;
};

int choose_cell_size(int64_t rows, int64_t cols) {
  int64_t longer = std::max(rows, cols);
  int64_t size = (kMinMapPixels + longer - 1) / longer;
  size = std::min<int64_t>(size, kMaxMapPixels / longer);
  return static_cast<int>(std::max<int64_t>(size, 1));
}

HeatmapPlan plan_heatmap(int64_t rows, int64_t cols, const HeatmapOptions& options) {
  ENTLAB_CHECK(rows >= 1 && cols >= 1 && rows <= kMaxHeatmapSide && cols <= kMaxHeatmapSide,
               "a heatmap needs 1 to ", kMaxHeatmapSide, " rows and columns, got ", rows, " x ", cols,
               " (slice larger maps first)");
  HeatmapPlan plan;
  HeatmapLayout& layout = plan.layout;
  layout.cell_size = choose_cell_size(rows, cols);
  plan.map_width = static_cast<int>(cols) * layout.cell_size;
  plan.map_height = static_cast<int>(rows) * layout.cell_size;

  // Title, then the map inside a one-pixel frame, then the legend row below.
  plan.title_top = kMargin;
  int title_block = options.title.empty() ? 0 : Canvas::text_height(kTitleScale) + kMargin;
  layout.map_left = kMargin + 1;
  layout.map_top = kMargin + title_block + 1;
  int right = layout.map_left + plan.map_width + 1;
  int bottom = layout.map_top + plan.map_height + 1;

  // The colour bar sits right of the map; its labels reserve room for the widest "%.3g".
  if (options.colour_bar) {
    plan.bar_left = right + kColourBarGap;
    plan.bar_height = std::max(plan.map_height, kColourBarMinHeight);
    int label_width = Canvas::text_width("-8.88e-88");
    right = plan.bar_left + kColourBarWidth + kLabelGap + label_width;
    bottom = std::max(bottom, layout.map_top + plan.bar_height + 1);
  }

  plan.legend_top = bottom + kMargin;
  int legend_right = layout.map_left + legend_width(heatmap_legend(options));
  int title_right = kMargin + Canvas::text_width(options.title, kTitleScale);
  layout.width = std::max({right, legend_right, title_right}) + kMargin;
  layout.height = plan.legend_top + kSwatchSize + kMargin;
  return plan;
}

// --- Heatmap drawing ------------------------------------------------------------------------

bool is_masked(int64_t row, int64_t col, int64_t rows, int64_t cols, bool causal) {
  return causal && col > row + (cols - rows);
}

// The value drawn at the bright end: the option, or the largest finite unmasked value.
float scale_maximum(const float* values, int64_t rows, int64_t cols, const HeatmapOptions& options) {
  if (options.max_value > 0.0f) return options.max_value;
  float largest = 0.0f;
  for (int64_t row = 0; row < rows; ++row) {
    for (int64_t col = 0; col < cols; ++col) {
      float value = values[row * cols + col];
      if (!is_masked(row, col, rows, cols, options.causal) && std::isfinite(value)) {
        largest = std::max(largest, value);
      }
    }
  }
  // An all-zero map still needs a positive scale; its cells are all white anyway.
  return largest > 0.0f ? largest : 1.0f;
}

Rgb cell_colour(float value, float scale_max, bool masked) {
  if (masked) return kHeatmapMaskedColour;
  if (!std::isfinite(value)) return kHeatmapNonFiniteColour;
  if (value == 0.0f) return kHeatmapZeroColour;
  return sequential_colour(static_cast<double>(value) / scale_max);
}

void draw_cells(Canvas& canvas, const HeatmapPlan& plan, const float* values, int64_t rows, int64_t cols,
                const HeatmapOptions& options) {
  const HeatmapLayout& layout = plan.layout;
  float scale_max = scale_maximum(values, rows, cols, options);
  for (int64_t row = 0; row < rows; ++row) {
    for (int64_t col = 0; col < cols; ++col) {
      bool masked = is_masked(row, col, rows, cols, options.causal);
      Rgb colour = cell_colour(values[row * cols + col], scale_max, masked);
      canvas.fill_rect(layout.map_left + static_cast<int>(col) * layout.cell_size,
                       layout.map_top + static_cast<int>(row) * layout.cell_size, layout.cell_size,
                       layout.cell_size, colour);
    }
  }
  canvas.draw_frame(layout.map_left - 1, layout.map_top - 1, plan.map_width + 2, plan.map_height + 2,
                    kFrameColour);
}

void draw_colour_bar(Canvas& canvas, const HeatmapPlan& plan, float scale_max) {
  int top = plan.layout.map_top;
  for (int y = 0; y < plan.bar_height; ++y) {
    double t = plan.bar_height == 1 ? 1.0 : 1.0 - static_cast<double>(y) / (plan.bar_height - 1);
    canvas.fill_rect(plan.bar_left, top + y, kColourBarWidth, 1, sequential_colour(t));
  }
  canvas.draw_frame(plan.bar_left - 1, top - 1, kColourBarWidth + 2, plan.bar_height + 2, kFrameColour);

  int label_left = plan.bar_left + kColourBarWidth + kLabelGap;
  canvas.draw_text(label_left, top, format_value(scale_max), kTextColour);
  canvas.draw_text(label_left, top + plan.bar_height - Canvas::text_height(), "0", kTextColour);
}

void draw_heatmap_legend(Canvas& canvas, const HeatmapPlan& plan, const HeatmapOptions& options) {
  int x = plan.layout.map_left;
  for (const LegendItem& item : heatmap_legend(options)) {
    canvas.fill_rect(x, plan.legend_top, kSwatchSize, kSwatchSize, item.colour);
    canvas.draw_frame(x, plan.legend_top, kSwatchSize, kSwatchSize, kFrameColour);
    x += kSwatchSize + kLabelGap;
    canvas.draw_text(x, plan.legend_top + 1, item.label, kTextColour);
    x += Canvas::text_width(item.label) + kLegendItemGap;
  }
}

// --- Line plot axes ---------------------------------------------------------------------------

const int kMinPlotWidth = 200;
const int kMinPlotHeight = 150;
const int kMaxPlotSide = 4096;
const int kTickLength = 4;
const int kTickLabelGap = 4;
const int kLineThickness = 2;
const int kMarkerRadius = 3;
const int kLegendLineLength = 24;
const int kLegendRowHeight = 16;
const int kMinPlotArea = 50;
// Aim for about this many ticks per axis.
const int kTargetTicks = 6;
const Rgb kGridColour{225, 225, 225};

// The Okabe-Ito colour-blind-safe palette, ordered so the first colours differ most and the
// pale yellow comes last.
const Rgb kSeriesColours[] = {
    {0, 114, 178}, {213, 94, 0},   {0, 158, 115}, {204, 121, 167},
    {230, 159, 0}, {86, 180, 233}, {0, 0, 0},     {240, 228, 66},
};

enum class Marker { kCircle, kSquare, kTriangle, kDiamond };
const int kMarkerCount = 4;

struct Tick {
  double position;  // in axis units: log2(x) on a log2 axis
  std::string label;
};

// One axis: maps data values to pixels through axis units (log2 of the value on a log2
// axis), with `low` drawn at pixel_low and `high` at pixel_high.
struct Axis {
  bool log2 = false;
  double low = 0.0;
  double high = 1.0;
  double pixel_low = 0.0;
  double pixel_high = 1.0;

  double units(double value) const { return log2 ? std::log2(value) : value; }
  double pixel_of_units(double position) const {
    return pixel_low + (position - low) / (high - low) * (pixel_high - pixel_low);
  }
  double pixel(double value) const { return pixel_of_units(units(value)); }
};

// The pixel box of the plot area; right and bottom are the last pixels inside.
struct PlotFrame {
  int left = 0;
  int top = 0;
  int right = 0;
  int bottom = 0;
};

void check_line_plot(const LinePlot& plot) {
  ENTLAB_CHECK(plot.width >= kMinPlotWidth && plot.height >= kMinPlotHeight && plot.width <= kMaxPlotSide &&
                   plot.height <= kMaxPlotSide,
               "line plot size ", plot.width, " x ", plot.height, " is outside ", kMinPlotWidth, " x ",
               kMinPlotHeight, " to ", kMaxPlotSide, " x ", kMaxPlotSide, " pixels");
  bool fit_y = std::isnan(plot.y_min) || std::isnan(plot.y_max);
  ENTLAB_CHECK(fit_y || (std::isfinite(plot.y_min) && std::isfinite(plot.y_max) && plot.y_min < plot.y_max),
               "line plot y range [", plot.y_min, ", ", plot.y_max,
               "] is invalid; use finite y_min < y_max, or nan to fit the data");
  if (!plot.log2_x) return;
  for (const LineSeries& series : plot.series) {
    for (const PlotPoint& point : series.points) {
      ENTLAB_CHECK(!(point.x <= 0.0), "series '", series.name, "' has x = ", point.x,
                   ", but a log2 x axis needs x > 0");
    }
  }
}

// The range of the finite points in axis units, widened when empty or a single value, and
// padded by 5% so markers at the ends stay inside the frame.
std::pair<double, double> fitted_range(const LinePlot& plot, bool x_axis, const Axis& axis) {
  double low = INFINITY;
  double high = -INFINITY;
  for (const LineSeries& series : plot.series) {
    for (const PlotPoint& point : series.points) {
      if (!std::isfinite(point.x) || !std::isfinite(point.y)) continue;
      double position = axis.units(x_axis ? point.x : point.y);
      low = std::min(low, position);
      high = std::max(high, position);
    }
  }
  if (low > high) return {0.0, axis.log2 ? 4.0 : 1.0};
  if (low == high) {
    double half_width = std::max(0.5, 0.05 * std::fabs(low));
    low -= half_width;
    high += half_width;
  }
  double pad = 0.05 * (high - low);
  return {low - pad, high + pad};
}

// Ticks at multiples of 1, 2 or 5 times a power of ten, about kTargetTicks of them. A range
// too wide for a double (such as -1e308 to 1e308) gets no ticks.
std::vector<Tick> linear_ticks(double low, double high) {
  double raw_step = (high - low) / kTargetTicks;
  if (!std::isfinite(raw_step) || raw_step <= 0.0) return {};
  double magnitude = std::pow(10.0, std::floor(std::log10(raw_step)));
  double normalized = raw_step / magnitude;
  double multiplier = 10.0;
  if (normalized < 7.0) multiplier = 5.0;
  if (normalized < 3.0) multiplier = 2.0;
  if (normalized < 1.5) multiplier = 1.0;
  double step = multiplier * magnitude;

  // Ticks are whole multiples of step, so 0 is exactly 0 and labels do not drift. The count
  // is fixed before the loop because adding 1 to a multiple above 2^53 would not advance it.
  double first = std::ceil(low / step - 1e-9);
  double last = std::floor(high / step + 1e-9);
  int count = static_cast<int>(std::min(last - first + 1.0, 4.0 * kTargetTicks));
  std::vector<Tick> ticks;
  for (int i = 0; i < count; ++i) {
    double position = (first + i) * step;
    if (std::fabs(position) < 1e-12 * step) position = 0.0;
    // Six digits print round tick values such as 1000 or 0.3 in full.
    ticks.push_back({position, format_value(position, 6)});
  }
  return ticks;
}

// Ticks at powers of two, thinned to at most about 2 * kTargetTicks labels.
std::vector<Tick> power_of_two_ticks(double low, double high) {
  int first = static_cast<int>(std::ceil(low));
  int last = static_cast<int>(std::floor(high));
  int stride = std::max(1, (last - first) / (2 * kTargetTicks) + 1);
  std::vector<Tick> ticks;
  for (int exponent = first; exponent <= last; exponent += stride) {
    double value = std::ldexp(1.0, exponent);
    char text[32];
    std::snprintf(text, sizeof(text), exponent >= 0 ? "%.0f" : "%g", value);
    ticks.push_back({static_cast<double>(exponent), text});
  }
  return ticks;
}

// Places the plot area so the title, tick labels, axis labels and legend fit around it.
PlotFrame plan_frame(const LinePlot& plot, const std::vector<Tick>& y_ticks) {
  int text_height = Canvas::text_height();
  int y_label_width = 0;
  for (const Tick& tick : y_ticks) y_label_width = std::max(y_label_width, Canvas::text_width(tick.label));
  int legend_width = 0;
  for (const LineSeries& series : plot.series) {
    legend_width =
        std::max(legend_width, kLegendLineLength + kTickLabelGap + Canvas::text_width(series.name));
  }

  PlotFrame frame;
  int title_block = plot.title.empty() ? 0 : Canvas::text_height(kTitleScale) + kMargin;
  int y_axis_label_block = plot.y_label.empty() ? 0 : text_height + kMargin;
  int x_axis_label_block = plot.x_label.empty() ? 0 : text_height + kMargin;
  frame.left = kMargin + y_axis_label_block + y_label_width + kTickLabelGap + kTickLength;
  frame.top = kMargin + title_block + text_height / 2;
  frame.right = plot.width - 1 - kMargin - (legend_width > 0 ? legend_width + 2 * kMargin : text_height);
  frame.bottom = plot.height - 1 - kMargin - x_axis_label_block - text_height - kTickLabelGap - kTickLength;
  ENTLAB_CHECK(frame.right - frame.left >= kMinPlotArea && frame.bottom - frame.top >= kMinPlotArea, "a ",
               plot.width, " x ", plot.height,
               " pixel line plot leaves no room for the plot area; make it larger or shorten the labels");
  return frame;
}

// --- Line plot drawing ------------------------------------------------------------------------

void draw_axes(Canvas& canvas, const PlotFrame& frame, const Axis& x_axis, const std::vector<Tick>& x_ticks,
               const Axis& y_axis, const std::vector<Tick>& y_ticks) {
  int text_height = Canvas::text_height();
  int frame_width = frame.right - frame.left + 1;
  int frame_height = frame.bottom - frame.top + 1;

  // Grid lines first, so the frame and the data draw over them.
  for (const Tick& tick : x_ticks) {
    int x = static_cast<int>(std::lround(x_axis.pixel_of_units(tick.position)));
    canvas.fill_rect(x, frame.top, 1, frame_height, kGridColour);
    canvas.fill_rect(x, frame.bottom + 1, 1, kTickLength, kFrameColour);
    int label_width = Canvas::text_width(tick.label);
    canvas.draw_text(x - label_width / 2, frame.bottom + kTickLength + kTickLabelGap, tick.label,
                     kTextColour);
  }
  for (const Tick& tick : y_ticks) {
    int y = static_cast<int>(std::lround(y_axis.pixel_of_units(tick.position)));
    canvas.fill_rect(frame.left, y, frame_width, 1, kGridColour);
    canvas.fill_rect(frame.left - kTickLength, y, kTickLength, 1, kFrameColour);
    int label_width = Canvas::text_width(tick.label);
    canvas.draw_text(frame.left - kTickLength - kTickLabelGap - label_width, y - text_height / 2, tick.label,
                     kTextColour);
  }
  canvas.draw_frame(frame.left, frame.top, frame_width, frame_height, kFrameColour);
}

void draw_labels(Canvas& canvas, const LinePlot& plot, const PlotFrame& frame) {
  int text_height = Canvas::text_height();
  if (!plot.title.empty()) {
    int width = Canvas::text_width(plot.title, kTitleScale);
    canvas.draw_text((plot.width - width) / 2, kMargin, plot.title, kTextColour, kTitleScale);
  }
  if (!plot.x_label.empty()) {
    int width = Canvas::text_width(plot.x_label);
    int center = (frame.left + frame.right) / 2;
    canvas.draw_text(center - width / 2, plot.height - kMargin - text_height, plot.x_label, kTextColour);
  }
  if (!plot.y_label.empty()) {
    int width = Canvas::text_width(plot.y_label);
    int center = (frame.top + frame.bottom) / 2;
    canvas.draw_text_up(kMargin, center + width / 2, plot.y_label, kTextColour);
  }
}

void draw_marker(Canvas& canvas, int center_x, int center_y, Marker marker, Rgb colour) {
  const int r = kMarkerRadius;
  for (int dy = -r; dy <= r; ++dy) {
    for (int dx = -r; dx <= r; ++dx) {
      bool inside = true;
      if (marker == Marker::kCircle) inside = dx * dx + dy * dy <= r * r + r;
      if (marker == Marker::kDiamond) inside = std::abs(dx) + std::abs(dy) <= r;
      if (marker == Marker::kTriangle) inside = 2 * std::abs(dx) <= dy + r;  // apex at the top
      if (inside) canvas.set_pixel(center_x + dx, center_y + dy, colour);
    }
  }
}

Rgb series_colour(size_t index) { return kSeriesColours[index % std::size(kSeriesColours)]; }

// Series 0-7 differ in colour. From series 8 on, the marker shape shifts with each round of
// colours, so the first 32 series all have distinct colour and marker pairs.
Marker series_marker(size_t index) {
  size_t colours = std::size(kSeriesColours);
  return static_cast<Marker>((index + index / colours) % kMarkerCount);
}

void draw_series(Canvas& canvas, const PlotFrame& frame, const Axis& x_axis, const Axis& y_axis,
                 const LineSeries& series, size_t index) {
  Rgb colour = series_colour(index);
  const PlotPoint* previous = nullptr;
  for (const PlotPoint& point : series.points) {
    if (!std::isfinite(point.x) || !std::isfinite(point.y)) {
      previous = nullptr;
      continue;
    }
    if (previous != nullptr) {
      double x0 = x_axis.pixel(previous->x), y0 = y_axis.pixel(previous->y);
      double x1 = x_axis.pixel(point.x), y1 = y_axis.pixel(point.y);
      if (clip_line(x0, y0, x1, y1, frame.left, frame.top, frame.right, frame.bottom)) {
        canvas.draw_line(x0, y0, x1, y1, colour, kLineThickness);
      }
    }
    previous = &point;
  }

  // Markers after the lines, so they stay visible. Points outside the y range get none.
  for (const PlotPoint& point : series.points) {
    if (!std::isfinite(point.x) || !std::isfinite(point.y)) continue;
    if (point.y < y_axis.low || point.y > y_axis.high) continue;
    double x = x_axis.pixel(point.x);
    double y = y_axis.pixel(point.y);
    if (!std::isfinite(x) || !std::isfinite(y)) continue;
    draw_marker(canvas, static_cast<int>(std::lround(x)), static_cast<int>(std::lround(y)),
                series_marker(index), colour);
  }
}

void draw_legend(Canvas& canvas, const LinePlot& plot, const PlotFrame& frame) {
  int left = frame.right + 2 * kMargin;
  for (size_t i = 0; i < plot.series.size(); ++i) {
    int row_top = frame.top + static_cast<int>(i) * kLegendRowHeight;
    int middle = row_top + Canvas::text_height() / 2;
    Rgb colour = series_colour(i);
    canvas.draw_line(left, middle, left + kLegendLineLength, middle, colour, kLineThickness);
    draw_marker(canvas, left + kLegendLineLength / 2, middle, series_marker(i), colour);
    canvas.draw_text(left + kLegendLineLength + kTickLabelGap, row_top, plot.series[i].name, kTextColour);
  }
}
}  // namespace

Rgb sequential_colour(double t) {
  if (!(t > 0.0)) t = 0.0;  // also maps nan to 0
  if (t > 1.0) t = 1.0;
  const int segments = static_cast<int>(std::size(kViridisAnchors)) - 1;
  double position = t * segments;
  int index = std::min(static_cast<int>(position), segments - 1);
  double fraction = position - index;
  const Rgb& low = kViridisAnchors[index];
  const Rgb& high = kViridisAnchors[index + 1];
  auto mix = [fraction](uint8_t a, uint8_t b) {
    return static_cast<uint8_t>(std::lround(a + (static_cast<double>(b) - a) * fraction));
  };
  return {mix(low.r, high.r), mix(low.g, high.g), mix(low.b, high.b)};
}

HeatmapLayout heatmap_layout(int64_t rows, int64_t cols, const HeatmapOptions& options) {
  return plan_heatmap(rows, cols, options).layout;
}

Canvas render_heatmap(const float* values, int64_t rows, int64_t cols, const HeatmapOptions& options) {
  ENTLAB_CHECK(values != nullptr, "heatmap values are a null pointer");
  HeatmapPlan plan = plan_heatmap(rows, cols, options);
  Canvas canvas(plan.layout.width, plan.layout.height, kBackground);

  if (!options.title.empty())
    canvas.draw_text(kMargin, plan.title_top, options.title, kTextColour, kTitleScale);
  draw_cells(canvas, plan, values, rows, cols, options);
  if (options.colour_bar) draw_colour_bar(canvas, plan, scale_maximum(values, rows, cols, options));
  draw_heatmap_legend(canvas, plan, options);
  return canvas;
}

void write_heatmap_png(const std::string& path, const float* values, int64_t rows, int64_t cols,
                       const HeatmapOptions& options) {
  Canvas canvas =
      render_for_file(path, "heatmap", [&] { return render_heatmap(values, rows, cols, options); });
  write_png(path, canvas);
}

Canvas render_line_plot(const LinePlot& plot) {
  check_line_plot(plot);

  // 1. Axis ranges in axis units, and their ticks.
  Axis x_axis;
  x_axis.log2 = plot.log2_x;
  std::tie(x_axis.low, x_axis.high) = fitted_range(plot, true, x_axis);
  Axis y_axis;
  if (std::isnan(plot.y_min) || std::isnan(plot.y_max)) {
    std::tie(y_axis.low, y_axis.high) = fitted_range(plot, false, y_axis);
  } else {
    y_axis.low = plot.y_min;
    y_axis.high = plot.y_max;
  }
  std::vector<Tick> x_ticks =
      plot.log2_x ? power_of_two_ticks(x_axis.low, x_axis.high) : linear_ticks(x_axis.low, x_axis.high);
  std::vector<Tick> y_ticks = linear_ticks(y_axis.low, y_axis.high);

  // 2. Layout: the plot area, then the pixel ends of both axes (y grows downwards).
  PlotFrame frame = plan_frame(plot, y_ticks);
  x_axis.pixel_low = frame.left;
  x_axis.pixel_high = frame.right;
  y_axis.pixel_low = frame.bottom;
  y_axis.pixel_high = frame.top;

  // 3. Draw back to front: axes and grid, labels, data, legend.
  Canvas canvas(plot.width, plot.height, kBackground);
  draw_axes(canvas, frame, x_axis, x_ticks, y_axis, y_ticks);
  draw_labels(canvas, plot, frame);
  for (size_t i = 0; i < plot.series.size(); ++i)
    draw_series(canvas, frame, x_axis, y_axis, plot.series[i], i);
  draw_legend(canvas, plot, frame);
  return canvas;
}

void write_line_plot_png(const std::string& path, const LinePlot& plot) {
  Canvas canvas = render_for_file(path, "line plot", [&] { return render_line_plot(plot); });
  write_png(path, canvas);
}

}  // namespace entlab
