// The main window driven as a teacher would: load a lab, change a parameter, run, read the
// expectations; and the --screenshot mode of the mqlab-gui binary.
#include "gui/main_window.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>
#include <sys/wait.h>

#include <QApplication>
#include <QCoreApplication>
#include <QImage>
#include <QListWidget>
#include <QTableWidget>
#include <QtCharts/QAbstractSeries>
#include <QtCharts/QChart>

#include "gui/charts.h"
#include "image_check.h"

namespace mqlab::gui {
namespace {

class window_test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ensure_application(); }
};

TEST_F(window_test, load_lab_change_parameter_run_and_see_expectations) {
  MainWindow w;
  ASSERT_TRUE(w.openPath(MQLAB_SCENARIOS_DIR "/01-async-registration.yaml")) << w.validationMessage().toStdString();
  ASSERT_TRUE(w.setParameter("replications", "1"));
  ASSERT_TRUE(w.setParameter("duration", "20s"));
  ASSERT_TRUE(w.runBlocking()) << w.validationMessage().toStdString();
  QTableWidget* table = w.expectationsTable();
  ASSERT_EQ(table->rowCount(), 5);
  for (int i = 0; i < table->rowCount(); ++i) EXPECT_EQ(table->item(i, 0)->text().toStdString(), "PASS") << i;
  ASSERT_EQ(w.runs().size(), 1u);
  EXPECT_EQ(w.runs()[0]["variants"].size(), 3u);
}

TEST_F(window_test, the_lab_opened_is_the_one_highlighted_in_the_lab_list) {
  MainWindow w;
  // Named through a detour, as `mqlab-gui ../scenarios/07-prefetch.yaml` from build/ would.
  ASSERT_TRUE(w.openPath(MQLAB_SCENARIOS_DIR "/../scenarios/07-prefetch.yaml"));
  QListWidget* labs = w.labList();
  ASSERT_GE(labs->count(), 7);
  ASSERT_NE(labs->currentItem(), nullptr);
  EXPECT_TRUE(labs->currentItem()->data(Qt::UserRole).toString().endsWith("07-prefetch.yaml"));
  ASSERT_EQ(labs->selectedItems().size(), 1);
  EXPECT_EQ(labs->selectedItems()[0], labs->currentItem());
  // A scenario of one's own leaves no bundled lab highlighted.
  const std::string own = ::testing::TempDir() + "/own-lab.yaml";
  ASSERT_TRUE(std::filesystem::copy_file(MQLAB_SCENARIOS_DIR "/01-async-registration.yaml", own,
                                         std::filesystem::copy_options::overwrite_existing));
  ASSERT_TRUE(w.openPath(QString::fromStdString(own)));
  EXPECT_EQ(labs->currentItem(), nullptr);
  EXPECT_TRUE(labs->selectedItems().isEmpty());
}

TEST_F(window_test, a_bad_parameter_is_reported_and_nothing_runs) {
  MainWindow w;
  ASSERT_TRUE(w.openPath(MQLAB_SCENARIOS_DIR "/01-async-registration.yaml"));
  ASSERT_TRUE(w.setParameter("duration", "soon"));
  EXPECT_FALSE(w.runBlocking());
  EXPECT_TRUE(w.validationMessage().contains("duration")) << w.validationMessage().toStdString();
  EXPECT_TRUE(w.runs().empty());
}

TEST_F(window_test, on_the_real_network_a_lab_runs_over_loopback_and_its_expectations_hold) {
  MainWindow w;
  ASSERT_TRUE(w.openPath(MQLAB_SCENARIOS_DIR "/01-async-registration.yaml"));
  ASSERT_TRUE(w.setParameter("replications", "1"));
  ASSERT_TRUE(w.setParameter("duration", "3s"));
  ASSERT_TRUE(w.setParameter("warmup", "1s"));
  w.setRealNetwork(true);
  ASSERT_TRUE(w.runBlocking()) << w.validationMessage().toStdString();
  ASSERT_EQ(w.runs().size(), 1u);
  EXPECT_EQ(w.runs()[0]["mode"], "net");
  QTableWidget* table = w.expectationsTable();
  ASSERT_EQ(table->rowCount(), 5);
  for (int i = 0; i < table->rowCount(); ++i) EXPECT_EQ(table->item(i, 0)->text().toStdString(), "PASS") << i;
}

TEST_F(window_test, the_real_network_refuses_what_net_mode_cannot_run_yet) {
  MainWindow w;
  // Lab 21's leader election and lock: mqlab serves no ZooKeeper protocol.
  ASSERT_TRUE(w.openPath(MQLAB_SCENARIOS_DIR "/21-zookeeper.yaml"));
  w.setRealNetwork(true);
  EXPECT_FALSE(w.runBlocking());
  EXPECT_TRUE(w.validationMessage().contains("zookeeper groups")) << w.validationMessage().toStdString();
  EXPECT_TRUE(w.runs().empty());
}

TEST_F(window_test, plan_finds_the_consumer_count_of_lab_15_and_draws_its_probes) {
  MainWindow w;
  ASSERT_TRUE(w.openPath(MQLAB_SCENARIOS_DIR "/15-capacity-planning.yaml"));
  ASSERT_TRUE(w.setParameter("duration", "150s"));  // as a user shortening the lab; still 60 000 orders a run
  // The dialog starts from the lab's own plan:.
  workbench::plan_request request = w.suggestedPlan();
  EXPECT_EQ(request.path, "variants.c10.consumers.count");
  EXPECT_EQ(request.from, 6);
  EXPECT_EQ(request.to, 20);
  ASSERT_EQ(request.objectives.size(), 1u);
  EXPECT_EQ(request.objectives[0].text, "c10.e2e.p99<=110ms");
  auto without_objectives = request;
  without_objectives.objectives.clear();
  EXPECT_FALSE(w.planBlocking(without_objectives));
  EXPECT_NE(w.validationMessage().toStdString().find("give at least one objective"), std::string::npos);
  ASSERT_TRUE(w.planBlocking(request)) << w.validationMessage().toStdString();
  ASSERT_TRUE(w.plan());
  EXPECT_EQ(w.plan()->second.answer, 10) << "Erlang C's count for the lab";
  EXPECT_EQ(w.plan()->first.sets, (workbench::overrides{{"duration", "150s"}})) << "the fields as edited";
  EXPECT_EQ(w.currentChart().toStdString(), "plan");
  auto chart = make_plan_chart(w.plan()->first, w.plan()->second);
  ASSERT_TRUE(chart);
  std::set<std::string> names;
  for (auto* series : chart->series()) names.insert(series->name().toStdString());
  for (const char* expected : {"meets", "misses", "answer: 10", "objective c10.e2e.p99&lt;=110ms", "prediction (M/M/c)"}) {
    EXPECT_TRUE(names.contains(expected)) << expected;
  }
  const QImage image = w.grab().toImage();
  EXPECT_GT(testing::distinct_colours(image, 7), 20u) << "a drawn chart, not a blank window";
}

TEST_F(window_test, a_plan_runs_on_a_worker_thread_and_its_chart_grows_probe_by_probe) {
  MainWindow w;
  ASSERT_TRUE(w.openPath(MQLAB_SCENARIOS_DIR "/15-capacity-planning.yaml"));
  ASSERT_TRUE(w.setParameter("duration", "150s"));
  workbench::plan_request request{.path = "variants.c10.consumers.count", .from = 6, .to = 14};
  request.objectives.push_back(*workbench::parse_slo("c10.e2e.p99<=110ms"));
  w.startPlan(request);
  std::set<std::size_t> probes_seen;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!(w.plan() && w.plan()->second.answer) && std::chrono::steady_clock::now() < deadline) {
    QCoreApplication::processEvents(QEventLoop::AllEvents, 50);
    if (w.plan()) probes_seen.insert(w.plan()->second.probes.size());
  }
  ASSERT_TRUE(w.plan() && w.plan()->second.answer) << w.validationMessage().toStdString();
  EXPECT_EQ(*w.plan()->second.answer, 10);
  EXPECT_GE(probes_seen.size(), 3u) << "the chart was redrawn after each probe, not only at the end";
}

TEST_F(window_test, a_plan_simulates_even_with_real_network_ticked) {
  // Lab 21's ZooKeeper groups cannot run on the real network; a plan never does.
  MainWindow w;
  ASSERT_TRUE(w.openPath(MQLAB_SCENARIOS_DIR "/21-zookeeper.yaml"));
  w.setRealNetwork(true);
  workbench::plan_request request{.path = "zookeeper.groups.0.count", .from = 1, .to = 3};
  request.objectives.push_back(*workbench::parse_slo("careful.zk.schedulers.overlaps<=0"));
  ASSERT_TRUE(w.planBlocking(request)) << w.validationMessage().toStdString();
  EXPECT_EQ(w.plan()->second.answer, 1);
  EXPECT_FALSE(w.runBlocking()) << "a run does go over the network, and is refused";
  EXPECT_NE(w.validationMessage().toStdString().find("zookeeper groups run on the simulated coordination store only"),
            std::string::npos)
      << w.validationMessage().toStdString();
}

TEST_F(window_test, unknown_parameter_is_refused) {
  MainWindow w;
  ASSERT_TRUE(w.openPath(MQLAB_SCENARIOS_DIR "/01-async-registration.yaml"));
  EXPECT_FALSE(w.setParameter("no.such.field", "1"));
}

TEST(gui_screenshot, renders_the_window_with_charts_at_the_requested_size) {
  const std::string out = ::testing::TempDir() + "/gui-screenshot.png";
  std::remove(out.c_str());
  const std::string cmd = std::string("QT_QPA_PLATFORM=offscreen " MQLAB_GUI_BINARY " --screenshot ") + out +
                          " --size 1280x800 " MQLAB_SCENARIOS_DIR "/07-prefetch.yaml 2>/dev/null";
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << cmd;
  QImage image(QString::fromStdString(out));
  ASSERT_FALSE(image.isNull());
  EXPECT_EQ(image.width(), 1280);
  EXPECT_EQ(image.height(), 800);
  EXPECT_GT(testing::distinct_colours(image, 4), 20u);
}

TEST(gui_screenshot, bad_input_exits_2) {
  const std::string cmd = std::string(MQLAB_GUI_BINARY " --screenshot /tmp/x.png --size 5x5 x.yaml 2>/dev/null");
  const int status = std::system(cmd.c_str());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2);
}

}  // namespace
}  // namespace mqlab::gui
