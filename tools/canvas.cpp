#include "tools/canvas.h"

#include <stb_easy_font.h>
#include <stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/atomic_file.h"
#include "core/error.h"

namespace entlab {
namespace {

// stb_easy_font emits 4 vertices per quad, each {float x, y, z; uint8 rgba[4]}.
const int kVertexBytes = 16;
const int kQuadBytes = 4 * kVertexBytes;
// Vertex buffer bytes per character. stb_easy_font documents about 270 bytes on average, and
// its densest glyph ('X', 11 quads) needs 704 bytes, so 2 KiB never truncates.
const int kFontBufferBytesPerChar = 2048;
// Glyph ink covers font rows 0 to 8: capitals use rows 0-6, and descenders reach row 8.
const int kFontHeight = 9;

// stb_easy_font indexes its glyph table with (byte - 32), so any byte outside printable
// ASCII would read outside the table.
std::string printable_ascii(const std::string& text) {
  std::string result = text;
  for (char& c : result) {
    if (c < 32 || c > 126) c = '?';
  }
  return result;
}

}  // namespace

std::ostream& operator<<(std::ostream& out, const Rgb& colour) {
  return out << "rgb(" << int{colour.r} << ", " << int{colour.g} << ", " << int{colour.b} << ")";
}

Canvas::Canvas(int width, int height, Rgb background) : width_(width), height_(height) {
  ENTLAB_CHECK(width > 0 && height > 0, "cannot create a ", width, " x ", height, " pixel image");
  rgb_.resize(static_cast<size_t>(width) * static_cast<size_t>(height) * 3);
  for (size_t i = 0; i < rgb_.size(); i += 3) {
    rgb_[i] = background.r;
    rgb_[i + 1] = background.g;
    rgb_[i + 2] = background.b;
  }
}

Rgb Canvas::pixel(int x, int y) const {
  ENTLAB_CHECK(x >= 0 && x < width_ && y >= 0 && y < height_, "pixel (", x, ", ", y, ") is outside the ",
               width_, " x ", height_, " image");
  size_t offset = (static_cast<size_t>(y) * static_cast<size_t>(width_) + static_cast<size_t>(x)) * 3;
  return {rgb_[offset], rgb_[offset + 1], rgb_[offset + 2]};
}

void Canvas::set_pixel(int x, int y, Rgb colour) {
  if (x < 0 || x >= width_ || y < 0 || y >= height_) return;
  size_t offset = (static_cast<size_t>(y) * static_cast<size_t>(width_) + static_cast<size_t>(x)) * 3;
  rgb_[offset] = colour.r;
  rgb_[offset + 1] = colour.g;
  rgb_[offset + 2] = colour.b;
}

void Canvas::fill_rect(int x, int y, int width, int height, Rgb colour) {
  int x_begin = std::max(x, 0);
  int y_begin = std::max(y, 0);
  int x_end = static_cast<int>(std::min<int64_t>(int64_t{x} + width, width_));
  int y_end = static_cast<int>(std::min<int64_t>(int64_t{y} + height, height_));
  for (int row = y_begin; row < y_end; ++row) {
    for (int column = x_begin; column < x_end; ++column) set_pixel(column, row, colour);
  }
}

void Canvas::draw_frame(int x, int y, int width, int height, Rgb colour) {
  fill_rect(x, y, width, 1, colour);
  fill_rect(x, y + height - 1, width, 1, colour);
  fill_rect(x, y, 1, height, colour);
  fill_rect(x + width - 1, y, 1, height, colour);
}

void Canvas::draw_line(double x0, double y0, double x1, double y1, Rgb colour, int thickness) {
  // Clip first so a line to a far-away point costs no more than one across the canvas.
  double margin = thickness;
  if (!clip_line(x0, y0, x1, y1, -margin, -margin, width_ + margin, height_ + margin)) return;

  // Step one pixel at a time along the longer axis and stamp a thickness x thickness square.
  double steps = std::ceil(std::max(std::fabs(x1 - x0), std::fabs(y1 - y0)));
  int count = static_cast<int>(steps);
  int half = thickness / 2;
  for (int i = 0; i <= count; ++i) {
    double t = count == 0 ? 0.0 : static_cast<double>(i) / count;
    int x = static_cast<int>(std::lround(x0 + (x1 - x0) * t));
    int y = static_cast<int>(std::lround(y0 + (y1 - y0) * t));
    fill_rect(x - half, y - half, thickness, thickness, colour);
  }
}

std::vector<Canvas::GlyphRect> Canvas::text_rects(const std::string& text) {
  std::string printable = printable_ascii(text);
  std::vector<char> characters(printable.begin(), printable.end());
  characters.push_back('\0');
  std::vector<char> vertices(printable.size() * kFontBufferBytesPerChar + kQuadBytes);
  int quads = stb_easy_font_print(0.0f, 0.0f, characters.data(), nullptr, vertices.data(),
                                  static_cast<int>(vertices.size()));

  // Every quad is an axis-aligned rectangle with integer corners, so its extent is the rectangle.
  std::vector<GlyphRect> rects;
  rects.reserve(static_cast<size_t>(quads));
  for (int quad = 0; quad < quads; ++quad) {
    float x_min = 1e9f, y_min = 1e9f, x_max = -1e9f, y_max = -1e9f;
    for (int vertex = 0; vertex < 4; ++vertex) {
      float position[2];
      std::memcpy(position, vertices.data() + quad * kQuadBytes + vertex * kVertexBytes, sizeof(position));
      x_min = std::min(x_min, position[0]);
      x_max = std::max(x_max, position[0]);
      y_min = std::min(y_min, position[1]);
      y_max = std::max(y_max, position[1]);
    }
    rects.push_back(
        {static_cast<int>(x_min), static_cast<int>(y_min), static_cast<int>(x_max), static_cast<int>(y_max)});
  }
  return rects;
}

void Canvas::draw_text(int x, int y, const std::string& text, Rgb colour, int scale) {
  for (const GlyphRect& rect : text_rects(text)) {
    fill_rect(x + scale * rect.x0, y + scale * rect.y0, scale * (rect.x1 - rect.x0),
              scale * (rect.y1 - rect.y0), colour);
  }
}

void Canvas::draw_text_up(int x, int y, const std::string& text, Rgb colour, int scale) {
  // Turning counter-clockwise maps a font point (fx, fy) to (x + fy, y - fx): the top of the
  // glyphs faces left and the text runs upwards.
  for (const GlyphRect& rect : text_rects(text)) {
    fill_rect(x + scale * rect.y0, y - scale * rect.x1, scale * (rect.y1 - rect.y0),
              scale * (rect.x1 - rect.x0), colour);
  }
}

int Canvas::text_width(const std::string& text, int scale) {
  if (text.empty()) return 0;
  std::string printable = printable_ascii(text);
  std::vector<char> characters(printable.begin(), printable.end());
  characters.push_back('\0');
  return scale * stb_easy_font_width(characters.data());
}

int Canvas::text_height(int scale) { return scale * kFontHeight; }

std::string Canvas::encode_png() const {
  std::string png;
  auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
  };
  int ok = stbi_write_png_to_func(append, &png, width_, height_, 3, rgb_.data(), width_ * 3);
  ENTLAB_CHECK(ok != 0, "stb_image_write failed to encode a ", width_, " x ", height_, " PNG image");
  return png;
}

void write_png(const std::string& path, const Canvas& canvas) {
  write_file_atomically(path, canvas.encode_png());
}

// Liang-Barsky line clipping.
bool clip_line(double& x0, double& y0, double& x1, double& y1, double left, double top, double right,
               double bottom) {
  if (!std::isfinite(x0) || !std::isfinite(y0) || !std::isfinite(x1) || !std::isfinite(y1)) return false;
  double dx = x1 - x0;
  double dy = y1 - y0;
  double t_enter = 0.0;
  double t_leave = 1.0;

  // Each edge constrains t through p * t <= q. p == 0 means the segment runs parallel to it.
  auto keep_inside = [&](double p, double q) {
    if (p == 0.0) return q >= 0.0;
    double t = q / p;
    if (p < 0.0) {
      if (t > t_leave) return false;
      t_enter = std::max(t_enter, t);
    } else {
      if (t < t_enter) return false;
      t_leave = std::min(t_leave, t);
    }
    return true;
  };
  if (!keep_inside(-dx, x0 - left) || !keep_inside(dx, right - x0) || !keep_inside(-dy, y0 - top) ||
      !keep_inside(dy, bottom - y0)) {
    return false;
  }

  double start_x = x0 + t_enter * dx;
  double start_y = y0 + t_enter * dy;
  x1 = x0 + t_leave * dx;
  y1 = y0 + t_leave * dy;
  x0 = start_x;
  y0 = start_y;
  return true;
}

}  // namespace entlab
