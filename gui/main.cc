// mqlab-gui: the desktop front end. `--screenshot OUT.png [--size WxH] (SCENARIO | RESULTS_DIR)`
// renders the window with that run's charts to a PNG and exits (works offscreen).
#include <cstdio>
#include <string>

#include <QApplication>
#include <QPixmap>

#include "gui/charts.h"
#include "gui/main_window.h"

namespace {

int usage(const char* why) {
  std::fprintf(stderr, "mqlab-gui: %s\nusage: mqlab-gui [--screenshot OUT.png [--size WxH]] [SCENARIO.yaml | RESULTS_DIR]\n", why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string screenshot, size = "1600x1000", target;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--screenshot" && i + 1 < argc) screenshot = argv[++i];
    else if (a == "--size" && i + 1 < argc) size = argv[++i];
    else if (a.starts_with("-")) return usage(("unknown option " + a).c_str());
    else target = a;
  }
  int width = 0, height = 0;
  if (std::sscanf(size.c_str(), "%dx%d", &width, &height) != 2 || width < 200 || height < 200) {
    return usage("--size must be WIDTHxHEIGHT, at least 200x200");
  }
  mqlab::gui::prepare_headless_environment();
  QApplication app(argc, argv);
  mqlab::gui::MainWindow window;
  window.resize(width, height);
  if (!target.empty() && !window.openPath(QString::fromStdString(target))) {
    std::fprintf(stderr, "mqlab-gui: %s\n", window.validationMessage().toStdString().c_str());
    if (!screenshot.empty()) return 2;
  }
  if (screenshot.empty()) {
    window.show();
    return app.exec();
  }
  if (!target.empty() && (target.ends_with(".yaml") || target.ends_with(".yml")) && !window.runBlocking()) {
    std::fprintf(stderr, "mqlab-gui: %s\n", window.validationMessage().toStdString().c_str());
    return 2;
  }
  window.show();
  app.processEvents();
  if (!window.grab().save(QString::fromStdString(screenshot), "PNG")) {
    std::fprintf(stderr, "mqlab-gui: cannot write %s\n", screenshot.c_str());
    return 2;
  }
  return 0;
}
