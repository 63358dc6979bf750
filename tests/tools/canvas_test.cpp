#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "tools/canvas.h"

using namespace entlab;

namespace {

const Rgb kWhite{255, 255, 255};
const Rgb kBlack{0, 0, 0};

// The bounding box of the pixels that differ from white.
struct InkBox {
  int left = 1 << 30, top = 1 << 30, right = -1, bottom = -1;
  bool empty() const { return right < 0; }
};

InkBox ink_box(const Canvas& canvas) {
  InkBox box;
  for (int y = 0; y < canvas.height(); ++y) {
    for (int x = 0; x < canvas.width(); ++x) {
      if (canvas.pixel(x, y) == kWhite) continue;
      box.left = std::min(box.left, x);
      box.right = std::max(box.right, x);
      box.top = std::min(box.top, y);
      box.bottom = std::max(box.bottom, y);
    }
  }
  return box;
}

}  // namespace

TEST_CASE("clip_line keeps the inside part") {
  double x0 = -10, y0 = 5, x1 = 20, y1 = 5;
  REQUIRE(clip_line(x0, y0, x1, y1, 0, 0, 10, 10));
  CHECK(x0 == doctest::Approx(0));
  CHECK(x1 == doctest::Approx(10));
  CHECK(y0 == doctest::Approx(5));

  double left_x0 = -5, left_y0 = -5, left_x1 = -1, left_y1 = 20;
  CHECK_FALSE(clip_line(left_x0, left_y0, left_x1, left_y1, 0, 0, 10, 10));

  double nan_x = std::nan(""), nan_y = 1, end_x = 5, end_y = 5;
  CHECK_FALSE(clip_line(nan_x, nan_y, end_x, end_y, 0, 0, 10, 10));
}

TEST_CASE("draw_line clips far end points") {
  Canvas canvas(20, 20, kWhite);
  canvas.draw_line(-1e12, 10, 1e12, 10, kBlack, 1);
  CHECK(canvas.pixel(0, 10) == kBlack);
  CHECK(canvas.pixel(19, 10) == kBlack);
  CHECK(canvas.pixel(10, 9) == kWhite);
}

TEST_CASE("fill_rect clips to the canvas") {
  Canvas canvas(4, 4, kWhite);
  canvas.fill_rect(-2, -2, 4, 4, kBlack);
  CHECK(canvas.pixel(0, 0) == kBlack);
  CHECK(canvas.pixel(1, 1) == kBlack);
  CHECK(canvas.pixel(2, 2) == kWhite);
}

TEST_CASE("draw_text stays inside its measured box") {
  Canvas canvas(200, 40, kWhite);
  std::string text = "max 0.5 jy";
  canvas.draw_text(10, 5, text, kBlack, 2);
  InkBox box = ink_box(canvas);
  REQUIRE_FALSE(box.empty());
  CHECK(box.left >= 10);
  CHECK(box.top >= 5);
  CHECK(box.right < 10 + Canvas::text_width(text, 2));
  CHECK(box.bottom < 5 + Canvas::text_height(2));
}

TEST_CASE("draw_text_up runs upwards") {
  Canvas canvas(40, 200, kWhite);
  std::string text = "accuracy";
  canvas.draw_text_up(5, 150, text, kBlack);
  InkBox box = ink_box(canvas);
  REQUIRE_FALSE(box.empty());
  CHECK(box.left >= 5);
  CHECK(box.right < 5 + Canvas::text_height());
  CHECK(box.bottom < 150);
  CHECK(box.top >= 150 - Canvas::text_width(text));
  CHECK(box.bottom - box.top > box.right - box.left);
}

TEST_CASE("draw_text replaces bytes outside ASCII") {
  Canvas canvas(100, 20, kWhite);
  std::string text = "\xce\xb1=1\t\n";
  CHECK(Canvas::text_width(text) == Canvas::text_width(std::string(2, '?') + "=1" + std::string(2, '?')));
  canvas.draw_text(0, 0, text, kBlack);
  CHECK_FALSE(ink_box(canvas).empty());
}

TEST_CASE("encode_png starts with the PNG signature") {
  Canvas canvas(3, 2, kWhite);
  std::string png = canvas.encode_png();
  REQUIRE(png.size() > 8);
  CHECK(png.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
}
