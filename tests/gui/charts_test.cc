// Charts of a real run: series and axes follow the run's data (checked through the chart
// model), and the PNG has the requested size and is not blank.
#include "gui/charts.h"
#include "image_check.h"

#include <gtest/gtest.h>

#include <set>

#include <QImage>
#include <QtCharts/QAbstractAxis>
#include <QtCharts/QBarSeries>
#include <QtCharts/QBarSet>
#include <QtCharts/QChart>
#include <QtCharts/QLineSeries>
#include <QtCharts/QValueAxis>

#include "workbench/results.h"
#include "workbench/runner.h"

namespace mqlab::gui {
namespace {

const char* lab = R"(name: chart-lab
duration: 20s
warmup: 2s
seed: 3
arrivals: {process: poisson, rate: 100/s}
stations:
  db: {servers: 4, service: {dist: exp, mean: 10ms}}
variants:
  direct: {pipeline: [db]}
  queued:
    pipeline: [{publish: {routing_key: work}, cost: 1ms}]
    broker: {queues: {work: {}}}
    consumers: {name: workers, queue: work, count: 3, prefetch: 1, work: [db]}
)";

class charts_test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ensure_application();
    auto sc = workbench::parse_scenario(lab);
    ASSERT_TRUE(sc.has_value());
    run_ = new nlohmann::json(workbench::to_json(*sc, workbench::run_scenario(*sc)));
  }
  static void TearDownTestSuite() { delete run_; }
  static nlohmann::json* run_;
};
nlohmann::json* charts_test::run_ = nullptr;

QValueAxis* value_axis(QChart& chart, Qt::Orientation o) {
  for (auto* a : chart.axes(o)) {
    if (auto* v = qobject_cast<QValueAxis*>(a)) return v;
  }
  return nullptr;
}

TEST_F(charts_test, throughput_has_one_line_per_variant_spanning_the_run) {
  auto chart = make_chart({*run_}, chart_kind::throughput);
  ASSERT_NE(chart, nullptr);
  ASSERT_EQ(chart->series().size(), 2);  // direct, queued
  auto* line = qobject_cast<QLineSeries*>(chart->series()[0]);
  ASSERT_NE(line, nullptr);
  EXPECT_EQ(line->count(), 20);  // one point per second of a 20 s run
  auto* x = value_axis(*chart, Qt::Horizontal);
  ASSERT_NE(x, nullptr);
  EXPECT_GE(x->max(), 20.0);
  auto* y = value_axis(*chart, Qt::Vertical);
  double peak = 0;
  for (const auto& p : line->points()) peak = std::max(peak, p.y());
  EXPECT_GE(y->max(), peak);  // every point is inside the axis range
  EXPECT_GT(peak, 50.0);      // about 100 requests per second
}

TEST_F(charts_test, depth_shows_only_variants_with_queues) {
  auto chart = make_chart({*run_}, chart_kind::depth);
  ASSERT_NE(chart, nullptr);
  EXPECT_EQ(chart->series().size(), 1);  // only the queued variant has a queue
}

TEST_F(charts_test, consumers_chart_has_a_bar_per_consumer) {
  auto chart = make_chart({*run_}, chart_kind::consumers);
  ASSERT_NE(chart, nullptr);
  auto* bars = qobject_cast<QBarSeries*>(chart->series()[0]);
  ASSERT_NE(bars, nullptr);
  ASSERT_EQ(bars->count(), 2);             // a bar set per variant
  EXPECT_EQ(bars->barSets()[1]->count(), 3);  // three consumers
  double total = 0;
  for (int i = 0; i < 3; ++i) total += bars->barSets()[1]->at(i);
  EXPECT_DOUBLE_EQ(total, (*run_)["variants"][1]["metrics"]["consumer.workers.delivered"]["mean"].get<double>());
}

TEST_F(charts_test, cdf_overlay_of_two_runs_names_each_run) {
  auto chart = make_chart({*run_, *run_}, chart_kind::latency_cdf);
  ASSERT_NE(chart, nullptr);
  // Per run: direct response, queued response, queued e2e.
  ASSERT_EQ(chart->series().size(), 6);
  EXPECT_TRUE(chart->series()[0]->name().startsWith("chart-lab: direct"));
}

TEST_F(charts_test, every_line_of_a_crowded_chart_has_a_pen_of_its_own) {
  // Three runs overlaid: six variants, nine lines (Qt's theme alone repeats after five).
  auto chart = make_chart({*run_, *run_, *run_}, chart_kind::latency_cdf);
  ASSERT_NE(chart, nullptr);
  ASSERT_EQ(chart->series().size(), 9);
  std::set<std::pair<QRgb, int>> pens;
  std::set<QRgb> colours;
  for (auto* s : chart->series()) {
    const QPen pen = qobject_cast<QLineSeries*>(s)->pen();
    pens.insert({pen.color().rgb(), static_cast<int>(pen.style())});
    colours.insert(pen.color().rgb());
  }
  EXPECT_EQ(pens.size(), 9u);
  EXPECT_EQ(colours.size(), 6u);  // one colour per variant; its response and e2e differ in style
  auto bars = make_chart({*run_, *run_, *run_}, chart_kind::consumers);
  ASSERT_NE(bars, nullptr);
  std::set<QRgb> bar_colours;
  for (auto* set : qobject_cast<QBarSeries*>(bars->series()[0])->barSets()) bar_colours.insert(set->color().rgb());
  EXPECT_EQ(bar_colours.size(), 6u);
}

TEST_F(charts_test, png_has_the_requested_size_and_is_not_blank) {
  auto chart = make_chart({*run_}, chart_kind::latency_time);
  ASSERT_NE(chart, nullptr);
  const auto path = std::filesystem::path(::testing::TempDir()) / "latency-time.png";
  ASSERT_TRUE(render_png(*chart, path, 800, 500));
  QImage image(QString::fromStdString(path.string()));
  ASSERT_FALSE(image.isNull());
  EXPECT_EQ(image.width(), 800);
  EXPECT_EQ(image.height(), 500);
  EXPECT_GT(testing::distinct_colours(image, 3), 10u);  // lines, text and grid, not a blank canvas
}

TEST(chart_kinds, names_round_trip) {
  for (chart_kind k : all_charts) EXPECT_EQ(parse_chart_kind(chart_name(k)), k);
  EXPECT_FALSE(parse_chart_kind("pie").has_value());
}

}  // namespace
}  // namespace mqlab::gui
