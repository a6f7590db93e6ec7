// The mqlab-gui main window: a lab browser, a parameter panel generated from the scenario,
// Run / Cancel with a progress bar (the simulation runs on a worker thread), the run's charts
// in tabs (several runs can be overlaid), the expectations with PASS/FAIL, export of a chart to
// PNG or of the run to CSV, and Plan (mqlab plan: the smallest value of a field that meets the
// objectives, its probes drawn as they come).
#pragma once

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <QMainWindow>
#include <nlohmann/json.hpp>

#include "gui/charts.h"
#include "workbench/plan.h"
#include "workbench/runner.h"
#include "workbench/scenario.h"

class QCheckBox;
class QFormLayout;
class QLabel;
class QLineEdit;
class QListWidget;
class QProgressBar;
class QPushButton;
class QTabWidget;
class QTableWidget;
class QTextEdit;

namespace mqlab::gui {

class MainWindow : public QMainWindow {
  Q_OBJECT

 public:
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  /// Loads a scenario file (builds the parameter panel) or a results folder (shows its charts).
  bool openPath(const QString& path);
  /// Sets the value of a parameter field, as a user typing it would (for tests and scripting).
  bool setParameter(const QString& path, const QString& value);
  /// Runs the loaded scenario and waits for it (the screenshot mode and tests use this).
  bool runBlocking();
  /// Plans on the loaded scenario with the fields as edited (`request` without file and sets) on
  /// a worker thread, drawing each probe in the "plan" tab as it finishes.
  void startPlan(workbench::plan_request request);
  /// The same, waiting for the answer (tests use this). False when the plan cannot run.
  bool planBlocking(workbench::plan_request request);
  /// What the Plan dialog starts from: the scenario's own `plan:` (range and objectives), or a
  /// consumer count from 1 to 32 without objectives.
  workbench::plan_request suggestedPlan();
  /// The plan shown, with its request; empty before the first.
  const std::optional<std::pair<workbench::plan_request, workbench::plan_result>>& plan() const { return plan_; }
  /// The title of the chart tab shown.
  QString currentChart() const;
  /// Ticks "Real network": runs then go over loopback TCP (mqlab run --mode net), in real time.
  void setRealNetwork(bool on);
  /// The current run(s) as run.json documents, newest last.
  const std::vector<nlohmann::json>& runs() const { return runs_; }
  QTableWidget* expectationsTable() const { return expectations_; }
  /// The bundled labs; the one opened (by any path naming its file) is the current row.
  QListWidget* labList() const { return labs_; }
  QString validationMessage() const;

 public slots:
  void startRun();
  void cancelRun();
  void exportChart();
  void exportCsv();
  void openDialog();
  void planDialog();

 private:
  void buildUi();
  void loadLabs();
  void selectLab(const std::filesystem::path& file);
  void buildParameters(const std::string& yaml_text);
  /// The scenario with the fields as edited and the variants switched on, checked for `mode`
  /// (a plan always simulates); null with the reason shown beside the Run button.
  std::optional<workbench::scenario> validatedScenario(workbench::run_mode mode);
  workbench::overrides changedFields() const;
  std::optional<workbench::plan_request> planRequest(workbench::plan_request request);
  void showPlan(const workbench::plan_request& request, const workbench::plan_result& result);
  workbench::run_mode mode() const;
  void showResult(const workbench::scenario& sc, const workbench::run_result& r);
  void refreshCharts();
  void setRunning(bool running);

  QListWidget* labs_ = nullptr;
  QFormLayout* parameters_ = nullptr;
  QWidget* parameterPanel_ = nullptr;
  QLabel* errors_ = nullptr;
  QTextEdit* description_ = nullptr;
  QPushButton* runButton_ = nullptr;
  QPushButton* cancelButton_ = nullptr;
  QCheckBox* overlay_ = nullptr;
  QCheckBox* realNetwork_ = nullptr;
  workbench::run_mode runMode_ = workbench::run_mode::sim;  // of the run shown
  QProgressBar* progress_ = nullptr;
  QTabWidget* charts_ = nullptr;
  QTableWidget* expectations_ = nullptr;

  QString scenarioPath_;
  std::vector<std::pair<std::string, QLineEdit*>> fields_;  // override path -> editor
  std::vector<std::pair<std::string, QCheckBox*>> variantToggles_;
  std::vector<nlohmann::json> runs_;
  std::optional<workbench::scenario> lastScenario_;
  std::optional<workbench::run_result> lastResult_;
  std::optional<std::pair<workbench::plan_request, workbench::plan_result>> plan_;
  std::atomic<bool> cancel_{false};
  std::atomic<double> progressValue_{0};
  std::jthread worker_;
};

}  // namespace mqlab::gui
