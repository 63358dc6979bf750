// An RGB raster with the few drawing primitives the plots in tools/plot.h need: filled
// rectangles, thick lines, text in the stb_easy_font bitmap font, and PNG output.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace entlab {

struct Rgb {
  uint8_t r = 0;
  uint8_t g = 0;
  uint8_t b = 0;

  bool operator==(const Rgb& other) const { return r == other.r && g == other.g && b == other.b; }
  bool operator!=(const Rgb& other) const { return !(*this == other); }
};

// Prints "rgb(68, 1, 84)", for messages and test failures.
std::ostream& operator<<(std::ostream& out, const Rgb& colour);

// Pixel coordinates: x grows to the right, y grows downwards, (0, 0) is the top-left pixel.
// Every drawing call clips to the canvas, so callers may draw partly outside it.
class Canvas {
 public:
  Canvas(int width, int height, Rgb background);

  int width() const { return width_; }
  int height() const { return height_; }
  Rgb pixel(int x, int y) const;

  void set_pixel(int x, int y, Rgb colour);
  void fill_rect(int x, int y, int width, int height, Rgb colour);
  // A one-pixel outline just inside the rectangle.
  void draw_frame(int x, int y, int width, int height, Rgb colour);
  // A line of `thickness` pixels between two points given in (fractional) pixels.
  void draw_line(double x0, double y0, double x1, double y1, Rgb colour, int thickness);

  // Text with its top-left corner at (x, y), each font pixel drawn as scale x scale pixels.
  // Bytes outside printable ASCII are drawn as '?', because the font has no other glyphs.
  void draw_text(int x, int y, const std::string& text, Rgb colour, int scale = 1);
  // Text turned 90 degrees counter-clockwise (reading bottom to top, as a y-axis label),
  // with its first character at the bottom. (x, y) is the bottom-left corner.
  void draw_text_up(int x, int y, const std::string& text, Rgb colour, int scale = 1);
  // Size of the text's box in pixels. The height includes descenders.
  static int text_width(const std::string& text, int scale = 1);
  static int text_height(int scale = 1);

  // The image as PNG bytes (8-bit RGB).
  std::string encode_png() const;

 private:
  // One filled rectangle of a rendered glyph, in font pixels relative to the text origin.
  struct GlyphRect {
    int x0, y0, x1, y1;
  };
  static std::vector<GlyphRect> text_rects(const std::string& text);

  int width_;
  int height_;
  std::vector<uint8_t> rgb_;  // row-major, 3 bytes per pixel
};

// Clips the segment (x0, y0)-(x1, y1) to the rectangle [left, right] x [top, bottom] by
// moving its end points inside. Returns false, leaving the points unchanged, if no part of
// the segment is inside or a coordinate is not finite.
bool clip_line(double& x0, double& y0, double& x1, double& y1, double left, double top, double right,
               double bottom);

// Encodes `canvas` as PNG and writes it with write_file_atomically.
void write_png(const std::string& path, const Canvas& canvas);

}  // namespace entlab
