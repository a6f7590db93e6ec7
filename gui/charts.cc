// Chart construction from run.json, and offscreen rendering through a QGraphicsScene.
#include "gui/charts.h"

#include <cmath>
#include <cstdlib>
#include <expected>
#include <fstream>
#include <iterator>

#include <QApplication>
#include <QGraphicsScene>
#include <QImage>
#include <QPainter>
#include <QPen>
#include <QtCharts/QBarCategoryAxis>
#include <QtCharts/QBarSeries>
#include <QtCharts/QBarSet>
#include <QtCharts/QChart>
#include <QtCharts/QLineSeries>
#include <QtCharts/QLegendMarker>
#include <QtCharts/QLogValueAxis>
#include <QtCharts/QScatterSeries>
#include <QtCharts/QValueAxis>

#include <fmt/format.h>

#include "workbench/runner.h"

namespace mqlab::gui {
namespace {

using nlohmann::json;

struct named_variant {
  std::string label;
  const json* variant;
};

std::vector<named_variant> variants_of(const std::vector<json>& runs) {
  std::vector<named_variant> out;
  for (const auto& run : runs) {
    if (!run.contains("variants")) continue;
    for (const auto& v : run["variants"]) {
      std::string label = v.value("name", "?");
      if (runs.size() > 1) label = run["scenario"].value("name", "run") + ": " + label;
      out.push_back({label, &v});
    }
  }
  return out;
}

QString q(const std::string& s) { return QString::fromStdString(s); }

// Qt's default theme has five series colours and repeats them; lab 10 alone draws eight
// lines. Ten colours that stay apart in print (Tableau 10), and a line style per kind of
// series within a variant, so every line of a chart of up to ten variants has a pen of its own.
constexpr QRgb palette[] = {0x4E79A7, 0xF28E2B, 0xE15759, 0x76B7B2, 0x59A14F,
                            0xEDC948, 0xB07AA1, 0xFF9DA7, 0x9C755F, 0x79706E};
constexpr Qt::PenStyle line_styles[] = {Qt::SolidLine, Qt::DashLine, Qt::DotLine, Qt::DashDotLine, Qt::DashDotDotLine};
constexpr int palette_size = std::size(palette);

QColor variant_colour(int variant) { return QColor::fromRgb(palette[variant % palette_size]); }

/// The pen of the `kind`-th line of the `variant`-th variant: the variant's colour, and a style
/// for the kind (past ten variants the colours come round again with the next style).
void style_line(QLineSeries& line, int variant, int kind) {
  QPen pen(variant_colour(variant));
  pen.setWidthF(2.0);
  pen.setStyle(line_styles[(kind + variant / palette_size) % std::size(line_styles)]);
  line.setPen(pen);
}

/// Adds one line per (variant, series name matching `accept`) over time; returns the count.
template <typename Accept>
int add_time_series(QChart& chart, const std::vector<named_variant>& variants, Accept accept, double scale,
                    double& y_max, double& x_max) {
  int added = 0;
  for (int index = 0; index < static_cast<int>(variants.size()); ++index) {
    const auto& [label, v] = variants[index];
    const double step = v->value("sample_interval", 1.0);
    if (!v->contains("series")) continue;
    int kind = 0;
    for (const auto& [name, values] : (*v)["series"].items()) {
      if (!accept(name)) continue;
      auto* line = new QLineSeries();
      style_line(*line, index, kind++);
      line->setName(q(variants.size() > 1 || name.find('.') != std::string::npos ? label + " " + name : label));
      for (std::size_t i = 0; i < values.size(); ++i) {
        const double y = values[i].template get<double>() * scale;
        line->append(static_cast<double>(i + 1) * step, y);
        y_max = std::max(y_max, y);
        x_max = std::max(x_max, static_cast<double>(i + 1) * step);
      }
      chart.addSeries(line);
      ++added;
    }
  }
  return added;
}

void attach_axes(QChart& chart, QAbstractAxis* x, QAbstractAxis* y) {
  chart.addAxis(x, Qt::AlignBottom);
  chart.addAxis(y, Qt::AlignLeft);
  for (auto* s : chart.series()) {
    s->attachAxis(x);
    s->attachAxis(y);
  }
}

std::unique_ptr<QChart> time_chart(const std::vector<named_variant>& variants, const char* title, const char* y_title,
                                   double scale, const std::function<bool(const std::string&)>& accept) {
  auto chart = std::make_unique<QChart>();
  chart->setTitle(title);
  double y_max = 0, x_max = 0;
  if (add_time_series(*chart, variants, accept, scale, y_max, x_max) == 0) return nullptr;
  auto* x = new QValueAxis();
  x->setTitleText("time (s)");
  x->setRange(0, std::max(x_max, 1.0));
  auto* y = new QValueAxis();
  y->setTitleText(y_title);
  y->setRange(0, y_max > 0 ? y_max * 1.05 : 1.0);
  y->applyNiceNumbers();
  x->applyNiceNumbers();
  attach_axes(*chart, x, y);
  return chart;
}

std::unique_ptr<QChart> cdf_chart(const std::vector<named_variant>& variants) {
  auto chart = std::make_unique<QChart>();
  chart->setTitle("Latency distribution (CDF): response and end-to-end");
  double x_min = INFINITY, x_max = 0;
  for (int index = 0; index < static_cast<int>(variants.size()); ++index) {
    const auto& [label, v] = variants[index];
    for (int kind = 0; kind < 2; ++kind) {
      const char* which = kind == 0 ? "response" : "e2e";
      const std::string key = std::string(which) + "_cdf";
      if (!v->contains(key) || (*v)[key].empty()) continue;
      auto* line = new QLineSeries();
      style_line(*line, index, kind);  // response solid, end-to-end dashed, in the variant's colour
      line->setName(q(label + " " + which));
      bool first = true;
      for (const auto& point : (*v)[key]) {
        const double ms = std::max(point[0].get<double>() * 1e3, 1e-3);  // log axis: no zeros
        if (first) line->append(ms, 0.0);  // start the step at 0 so one-valued runs still show
        first = false;
        line->append(ms, point[1].get<double>());
        x_min = std::min(x_min, ms);
        x_max = std::max(x_max, ms);
      }
      chart->addSeries(line);
    }
  }
  if (chart->series().isEmpty()) return nullptr;
  auto* x = new QLogValueAxis();
  x->setTitleText("response time (ms, log scale)");
  x->setBase(10);
  x->setLabelFormat("%g");
  x->setMinorTickCount(-1);  // automatic minor ticks between the decades
  x->setRange(x_min / 1.2, x_max * 1.2);
  auto* y = new QValueAxis();
  y->setTitleText("fraction of requests");
  y->setRange(0, 1);
  attach_axes(*chart, x, y);
  return chart;
}

std::unique_ptr<QChart> consumers_chart(const std::vector<named_variant>& variants) {
  // Categories: "group #i"; one bar set per variant.
  std::vector<std::string> categories;
  for (const auto& [label, v] : variants) {
    for (const auto& [name, m] : (*v)["metrics"].items()) {
      if (!name.starts_with("consumer.") || !name.ends_with(".delivered")) continue;
      const std::string middle = name.substr(9, name.size() - 9 - 10);
      if (middle.find('.') == std::string::npos) continue;  // the group total
      if (std::find(categories.begin(), categories.end(), middle) == categories.end()) categories.push_back(middle);
    }
  }
  if (categories.empty()) return nullptr;
  auto chart = std::make_unique<QChart>();
  chart->setTitle("Messages delivered per consumer");
  auto* bars = new QBarSeries();
  double y_max = 0;
  for (int index = 0; index < static_cast<int>(variants.size()); ++index) {
    const auto& [label, v] = variants[index];
    auto* set = new QBarSet(q(label));
    set->setColor(variant_colour(index));
    for (const auto& c : categories) {
      const auto key = "consumer." + c + ".delivered";
      const double n = (*v)["metrics"].contains(key) ? (*v)["metrics"][key]["mean"].get<double>() : 0.0;
      *set << n;
      y_max = std::max(y_max, n);
    }
    bars->append(set);
  }
  chart->addSeries(bars);
  auto* x = new QBarCategoryAxis();
  for (const auto& c : categories) x->append(q(c));
  auto* y = new QValueAxis();
  y->setTitleText("messages");
  y->setRange(0, y_max > 0 ? y_max * 1.05 : 1.0);
  y->applyNiceNumbers();
  attach_axes(*chart, x, y);
  return chart;
}

/// The series' own axis, from 0 to a little above its largest value.
QValueAxis* value_axis(const std::string& title, double max) {
  auto* axis = new QValueAxis();
  axis->setTitleText(q(title));
  axis->setRange(0, max > 0 ? max * 1.05 : 1.0);
  axis->applyNiceNumbers();
  return axis;
}

}  // namespace

std::unique_ptr<QChart> make_sweep_chart(const std::string& title, const std::string& x_title,
                                         const std::vector<sweep_series>& series) {
  if (series.empty()) return nullptr;
  auto chart = std::make_unique<QChart>();
  chart->setTitle(q(title));
  auto* x = new QValueAxis();
  x->setTitleText(q(x_title));
  double x_min = INFINITY, x_max = -INFINITY;
  chart->addAxis(x, Qt::AlignBottom);
  for (std::size_t i = 0; i < series.size(); ++i) {
    // Latencies are in seconds in the results; people read them in ms.
    const bool seconds = workbench::is_time_metric(series[i].name.substr(series[i].name.find('.') + 1));
    const double scale = seconds ? 1e3 : 1.0;
    auto* line = new QLineSeries();
    style_line(*line, static_cast<int>(i), 0);
    line->setName(q(series[i].name + (seconds ? " (ms)" : "")));
    double y_max = 0;
    for (const auto& [vx, vy] : series[i].points) {
      line->append(vx, vy * scale);
      y_max = std::max(y_max, vy * scale);
      x_min = std::min(x_min, vx);
      x_max = std::max(x_max, vx);
    }
    chart->addSeries(line);
    auto* y = value_axis(series[i].name + (seconds ? " (ms)" : ""), y_max);
    chart->addAxis(y, i == 0 ? Qt::AlignLeft : Qt::AlignRight);
    line->attachAxis(x);
    line->attachAxis(y);
  }
  x->setRange(x_min, x_max > x_min ? x_max : x_min + 1);
  return chart;
}

std::unique_ptr<QChart> make_plan_chart(const workbench::plan_request& r, const workbench::plan_result& result) {
  if (result.probes.empty() || r.objectives.empty()) return nullptr;
  const workbench::slo& objective = r.objectives.front();
  const bool seconds = workbench::is_time_metric(objective.metric.substr(objective.metric.find('.') + 1));
  const double scale = seconds ? 1e3 : 1.0;
  auto chart = std::make_unique<QChart>();
  // Titles and legends are rich text, where "<=" would open a tag.
  chart->setTitle(q(fmt::format("Plan: the {} {} in {}..{} that meets {}", r.maximize ? "largest" : "smallest", r.path, r.from,
                                r.to, objective.text)).toHtmlEscaped());
  double x_min = INFINITY, x_max = -INFINITY, y_max = objective.bound * scale;
  auto add = [&](QLineSeries* s, const QColor& colour, Qt::PenStyle style, const std::string& name) {
    QPen pen(colour);
    pen.setWidthF(2.0);
    pen.setStyle(style);
    s->setPen(pen);
    s->setName(q(name).toHtmlEscaped());
    chart->addSeries(s);
    if (name.empty()) chart->legend()->markers(s).front()->setVisible(false);
  };
  static constexpr std::pair<workbench::verdict, QRgb> verdicts[] = {
      {workbench::verdict::meets, 0x59A14F}, {workbench::verdict::misses, 0xE15759}, {workbench::verdict::cannot_tell, 0x79706E}};
  for (const auto& [v, colour] : verdicts) {
    auto* dots = new QScatterSeries();
    for (const auto& p : result.probes) {
      if (p.outcome != v || p.checks.empty()) continue;
      const double x = static_cast<double>(p.value), mean = p.checks[0].mean * scale, ci = p.checks[0].ci95 * scale;
      dots->append(x, mean);
      auto* interval = new QLineSeries();  // the probe's 95% interval, drawn as a bar
      interval->append(x, mean - ci);
      interval->append(x, mean + ci);
      add(interval, QColor::fromRgb(colour), Qt::SolidLine, "");
      x_min = std::min(x_min, x);
      x_max = std::max(x_max, x);
      y_max = std::max(y_max, mean + ci);
    }
    if (dots->count() == 0) {
      delete dots;
      continue;
    }
    dots->setName(q(std::string(workbench::to_string(v))));
    dots->setColor(QColor::fromRgb(colour));
    dots->setMarkerSize(11);
    chart->addSeries(dots);
  }
  if (const auto& t = result.theory; t && !t->values.empty()) {
    auto* predicted = new QLineSeries();
    for (const auto& [c, v] : t->values) {
      predicted->append(static_cast<double>(c), v * scale);
      y_max = std::max(y_max, v * scale);
    }
    add(predicted, QColor::fromRgb(0xF28E2B), Qt::DashLine, "prediction (" + t->model.substr(0, t->model.find(' ')) + ")");
  }
  const double pad = std::max(1.0, (x_max - x_min) * 0.05);
  auto* x = new QValueAxis();
  x->setTitleText(q(r.path));
  x->setRange(x_min - pad, x_max + pad);
  x->applyNiceNumbers();
  x->setLabelFormat("%.0f");
  auto* bound = new QLineSeries();  // across the whole axis
  bound->append(x->min(), objective.bound * scale);
  bound->append(x->max(), objective.bound * scale);
  add(bound, Qt::black, Qt::DashLine, "objective " + objective.text);
  if (result.answer) {
    auto* answer = new QLineSeries();
    answer->append(static_cast<double>(*result.answer), 0);
    answer->append(static_cast<double>(*result.answer), y_max * 1.1);
    add(answer, QColor::fromRgb(0x4E79A7), Qt::DotLine, fmt::format("answer: {}", *result.answer));
  }
  auto* y = value_axis(objective.metric + (seconds ? " (ms)" : ""), y_max);
  attach_axes(*chart, x, y);
  return chart;
}

std::optional<chart_kind> parse_chart_kind(std::string_view name) {
  for (chart_kind k : all_charts) {
    if (name == chart_name(k)) return k;
  }
  return std::nullopt;
}

const char* chart_name(chart_kind kind) {
  switch (kind) {
    case chart_kind::latency_cdf: return "latency-cdf";
    case chart_kind::latency_time: return "latency-time";
    case chart_kind::depth: return "depth";
    case chart_kind::throughput: return "throughput";
    case chart_kind::consumers: return "consumers";
  }
  return "?";
}

std::unique_ptr<QChart> make_chart(const std::vector<json>& runs, chart_kind kind) {
  const auto variants = variants_of(runs);
  std::unique_ptr<QChart> chart;
  switch (kind) {
    case chart_kind::latency_cdf: chart = cdf_chart(variants); break;
    case chart_kind::latency_time:
      chart = time_chart(variants, "Response time percentiles over time", "ms", 1e3,
                         [](const std::string& n) { return n == "response.p50" || n == "response.p99"; });
      break;
    case chart_kind::depth:
      chart = time_chart(variants, "Queue depth and consumer lag over time", "messages (ready + unacked, or lag)", 1.0,
                         [](const std::string& n) {
                           return (n.starts_with("queue.") && n.ends_with(".depth")) || n == "kafka.lag" || n == "jms.backlog";
                         });
      break;
    case chart_kind::throughput:
      chart = time_chart(variants, "Throughput over time", "per second", 1.0,
                         [](const std::string& n) { return n == "throughput"; });
      break;
    case chart_kind::consumers: chart = consumers_chart(variants); break;
  }
  if (chart) chart->legend()->setAlignment(Qt::AlignBottom);
  return chart;
}

void prepare_headless_environment() {
  const char* display = std::getenv("DISPLAY");
  if (std::getenv("QT_QPA_PLATFORM") == nullptr && (display == nullptr || *display == '\0')) {
    setenv("QT_QPA_PLATFORM", "offscreen", 1);
  }
  if (std::getenv("XDG_RUNTIME_DIR") == nullptr) {
    // Qt warns on every start without one; a private temporary directory is what it wants.
    static char runtime_dir[] = "/tmp/mqlab-runtime-XXXXXX";
    if (mkdtemp(runtime_dir) != nullptr) setenv("XDG_RUNTIME_DIR", runtime_dir, 1);
  }
}

void ensure_application() {
  if (QCoreApplication::instance() != nullptr) return;
  prepare_headless_environment();
  static int argc = 1;
  static char name[] = "mqlab";
  static char* argv[] = {name, nullptr};
  static QApplication app(argc, argv);
}

bool render_png(QChart& chart, const std::filesystem::path& path, int width, int height) {
  QGraphicsScene scene;
  scene.addItem(&chart);
  chart.setGeometry(0, 0, width, height);
  QImage image(width, height, QImage::Format_ARGB32);
  image.fill(Qt::white);
  {
    QPainter painter(&image);
    painter.setRenderHint(QPainter::Antialiasing);
    scene.render(&painter, QRectF(0, 0, width, height), QRectF(0, 0, width, height));
  }
  scene.removeItem(&chart);  // the caller keeps ownership
  return image.save(QString::fromStdString(path.string()), "PNG");
}

std::expected<std::vector<std::filesystem::path>, std::string> plot_run(const std::filesystem::path& run_dir,
                                                                        const std::vector<chart_kind>& kinds,
                                                                        const std::filesystem::path& out_dir) {
  const auto file = std::filesystem::is_directory(run_dir) ? run_dir / "run.json" : run_dir;
  std::ifstream in(file);
  if (!in) return std::unexpected(fmt::format("{}: cannot open", file.string()));
  json run;
  try {
    run = json::parse(in);
  } catch (const json::exception& e) {
    return std::unexpected(fmt::format("{}: not a run.json: {}", file.string(), e.what()));
  }
  ensure_application();
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return std::unexpected(fmt::format("{}: {}", out_dir.string(), ec.message()));
  std::vector<std::filesystem::path> written;
  for (chart_kind kind : kinds) {
    auto chart = make_chart({run}, kind);
    if (!chart) continue;  // nothing to show (no consumers, no queues)
    const auto path = out_dir / (std::string(chart_name(kind)) + ".png");
    if (!render_png(*chart, path, 1200, 700)) return std::unexpected(fmt::format("{}: cannot write", path.string()));
    written.push_back(path);
  }
  return written;
}

}  // namespace mqlab::gui
