// The main window driven as a teacher would: load a lab, change a parameter, run, read the
// expectations; and the --screenshot mode of the mqlab-gui binary.
#include "gui/main_window.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <set>
#include <sys/wait.h>

#include <QApplication>
#include <QImage>
#include <QListWidget>
#include <QTableWidget>

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
  ASSERT_TRUE(w.openPath(MQLAB_SCENARIOS_DIR "/13-jms-durable.yaml"));
  w.setRealNetwork(true);
  EXPECT_FALSE(w.runBlocking());
  EXPECT_TRUE(w.validationMessage().contains("JMS")) << w.validationMessage().toStdString();
  EXPECT_TRUE(w.runs().empty());
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
