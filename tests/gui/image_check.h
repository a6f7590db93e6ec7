// Shared by the GUI tests: how varied an image is, to tell a drawn chart from a blank canvas.
#pragma once

#include <cstddef>
#include <set>

#include <QImage>

namespace mqlab::gui::testing {

/// Distinct colours among pixels sampled every `step` pixels in both directions.
inline std::size_t distinct_colours(const QImage& image, int step) {
  std::set<QRgb> colours;
  for (int y = 0; y < image.height(); y += step) {
    for (int x = 0; x < image.width(); x += step) colours.insert(image.pixel(x, y));
  }
  return colours.size();
}

}  // namespace mqlab::gui::testing
