// Widgets, parameter panel generation and the run lifecycle of the main window.
#include "gui/main_window.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QCloseEvent>
#include <QComboBox>
#include <QCoreApplication>
#include <QDialog>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMenuBar>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
#include <QSettings>
#include <QSpinBox>
#include <QSplitter>
#include <QTabWidget>
#include <QTableWidget>
#include <QTextEdit>
#include <QTimer>
#include <QVBoxLayout>
#include <QtCharts/QChartView>
#include <yaml-cpp/yaml.h>

#include "sim/time.h"
#include "workbench/labs.h"
#include "workbench/results.h"

namespace mqlab::gui {
namespace {

namespace fs = std::filesystem;

QString q(const std::string& s) { return QString::fromStdString(s); }

// Keys whose values are prose or structure, not parameters.
bool skipped(const std::string& key) {
  return key == "name" || key == "title" || key == "description" || key == "lesson" || key == "expect" ||
         key == "pipeline" || key == "work" || key == "faults" || key == "bindings" || key == "profile" ||
         key == "exchanges";
}

/// What a field must stay, judged by its original value: a duration, a rate, an integer, or free.
QString check_value(const std::string& original, const std::string& value) {
  if (sim::parse_duration(original) && original.find_first_not_of("0123456789") != std::string::npos) {
    auto d = sim::parse_duration(value);
    return d ? QString() : q(d.error());
  }
  if (original.find('/') != std::string::npos && sim::parse_rate(original)) {
    auto r = sim::parse_rate(value);
    if (!r) return q(r.error());
    return *r > 0 ? QString() : QString("must be positive");
  }
  if (!original.empty() && original.find_first_not_of("0123456789") == std::string::npos) {
    return !value.empty() && value.find_first_not_of("0123456789") == std::string::npos ? QString()
                                                                                          : QString("must be a whole number");
  }
  return {};
}

}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
  buildUi();
  loadLabs();
  QSettings settings("mqlab", "mqlab-gui");
  restoreGeometry(settings.value("geometry").toByteArray());
  restoreState(settings.value("state").toByteArray());
}

MainWindow::~MainWindow() {
  cancel_ = true;
  if (worker_.joinable()) worker_.join();
  QSettings settings("mqlab", "mqlab-gui");
  settings.setValue("geometry", saveGeometry());
  settings.setValue("state", saveState());
}

void MainWindow::buildUi() {
  setWindowTitle("mqlab");
  auto* file = menuBar()->addMenu("&File");
  file->addAction("&Open scenario or results…", QKeySequence::Open, this, &MainWindow::openDialog);
  file->addAction("&Export chart as PNG…", QKeySequence(Qt::CTRL | Qt::Key_E), this, &MainWindow::exportChart);
  file->addAction("Export run as &CSV…", QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_E), this, &MainWindow::exportCsv);
  file->addAction("&Quit", QKeySequence::Quit, this, &QWidget::close);
  auto* run = menuBar()->addMenu("&Run");
  run->addAction("&Run", QKeySequence(Qt::CTRL | Qt::Key_R), this, &MainWindow::startRun);
  run->addAction("&Cancel", QKeySequence(Qt::Key_Escape), this, &MainWindow::cancelRun);
  run->addAction("&Plan…", QKeySequence(Qt::CTRL | Qt::Key_P), this, &MainWindow::planDialog);

  labs_ = new QListWidget;
  connect(labs_, &QListWidget::itemActivated, this, [this](QListWidgetItem* item) { openPath(item->data(Qt::UserRole).toString()); });
  connect(labs_, &QListWidget::itemClicked, this, [this](QListWidgetItem* item) { openPath(item->data(Qt::UserRole).toString()); });

  description_ = new QTextEdit;
  description_->setReadOnly(true);
  description_->setMaximumHeight(110);
  parameterPanel_ = new QWidget;
  parameters_ = new QFormLayout(parameterPanel_);
  auto* scroll = new QScrollArea;
  scroll->setWidget(parameterPanel_);
  scroll->setWidgetResizable(true);
  errors_ = new QLabel;
  errors_->setStyleSheet("color: #b00020");
  errors_->setWordWrap(true);
  runButton_ = new QPushButton("Run");
  cancelButton_ = new QPushButton("Cancel");
  cancelButton_->setEnabled(false);
  overlay_ = new QCheckBox("Overlay on previous runs");
  realNetwork_ = new QCheckBox("Real network");
  realNetwork_->setToolTip("Run on loopback TCP in real time: the broker served as mqlab broker serves it, real "
                           "AMQP and Kafka clients (mqlab run --mode net); the charts grow as it goes");
  progress_ = new QProgressBar;
  progress_->setRange(0, 1000);
  connect(runButton_, &QPushButton::clicked, this, &MainWindow::startRun);
  connect(cancelButton_, &QPushButton::clicked, this, &MainWindow::cancelRun);
  auto* buttons = new QHBoxLayout;
  buttons->addWidget(runButton_);
  buttons->addWidget(cancelButton_);
  buttons->addWidget(overlay_);
  buttons->addWidget(realNetwork_);
  buttons->addWidget(progress_, 1);

  auto* left = new QWidget;
  auto* leftLayout = new QVBoxLayout(left);
  leftLayout->addWidget(new QLabel("Labs"));
  leftLayout->addWidget(labs_, 2);
  leftLayout->addWidget(new QLabel("Parameters"));
  leftLayout->addWidget(scroll, 3);
  leftLayout->addWidget(errors_);
  leftLayout->addLayout(buttons);

  charts_ = new QTabWidget;
  expectations_ = new QTableWidget(0, 3);
  expectations_->setHorizontalHeaderLabels({"", "expectation", "actual"});
  expectations_->horizontalHeader()->setSectionResizeMode(1, QHeaderView::Stretch);
  expectations_->verticalHeader()->setVisible(false);
  expectations_->setMaximumHeight(180);
  auto* right = new QWidget;
  auto* rightLayout = new QVBoxLayout(right);
  rightLayout->addWidget(description_);
  rightLayout->addWidget(charts_, 1);
  rightLayout->addWidget(expectations_);

  auto* split = new QSplitter;
  split->addWidget(left);
  split->addWidget(right);
  split->setStretchFactor(1, 3);
  setCentralWidget(split);

  auto* timer = new QTimer(this);
  connect(timer, &QTimer::timeout, this, [this] { progress_->setValue(static_cast<int>(progressValue_.load() * 1000)); });
  timer->start(100);
}

void MainWindow::loadLabs() {
  // A missing lab folder just leaves the list empty; File → Open still works.
  const auto files = workbench::list_scenarios(workbench::bundled_scenarios_dir());
  for (const auto& f : files.value_or(std::vector<fs::path>{})) {
    auto sc = workbench::load_scenario(f.string());
    auto* item = new QListWidgetItem(sc ? q(sc->title.empty() ? sc->name : sc->title) : q(f.filename().string()));
    item->setData(Qt::UserRole, q(f.string()));
    if (sc) item->setToolTip(q(sc->lesson));
    labs_->addItem(item);
  }
}

void MainWindow::selectLab(const fs::path& file) {
  // The list holds the bundled folder's paths; the file may be named relatively or through a link.
  std::error_code ec;
  for (int i = 0; i < labs_->count(); ++i) {
    if (fs::equivalent(labs_->item(i)->data(Qt::UserRole).toString().toStdString(), file, ec)) {
      labs_->setCurrentRow(i);
      return;
    }
  }
  labs_->clearSelection();
  labs_->setCurrentRow(-1);  // a file of one's own: no bundled lab stays highlighted
}

void MainWindow::openDialog() {
  QSettings settings("mqlab", "mqlab-gui");
  const QString path = QFileDialog::getOpenFileName(this, "Open scenario or run.json", settings.value("lastDir").toString(),
                                                    "Scenarios and results (*.yaml *.yml run.json)");
  if (path.isEmpty()) return;
  settings.setValue("lastDir", QFileInfo(path).absolutePath());
  openPath(path);
}

bool MainWindow::openPath(const QString& path) {
  const fs::path p = path.toStdString();
  if (fs::is_directory(p) || p.extension() == ".json") {
    std::ifstream in(fs::is_directory(p) ? p / "run.json" : p);
    try {
      auto run = nlohmann::json::parse(in);
      if (!overlay_->isChecked()) runs_.clear();
      runs_.push_back(std::move(run));
    } catch (const nlohmann::json::exception& e) {
      errors_->setText(QString("%1: not a run.json (%2)").arg(path, e.what()));
      return false;
    }
    description_->setPlainText(q(runs_.back()["scenario"].value("description", "")));
    refreshCharts();
    return true;
  }
  std::ifstream in(p);
  if (!in) {
    errors_->setText(path + ": cannot open");
    return false;
  }
  std::stringstream text;
  text << in.rdbuf();
  scenarioPath_ = path;
  plan_.reset();
  selectLab(p);
  buildParameters(text.str());
  auto sc = workbench::parse_scenario(text.str());
  setWindowTitle("mqlab — " + (sc ? q(sc->title) : path));
  description_->setPlainText(sc ? q(sc->description + (sc->lesson.empty() ? "" : "\n\nLesson: " + sc->lesson)) : QString());
  errors_->setText(sc ? QString() : q(sc.error().format(p.filename().string())));
  return sc.has_value();
}

void MainWindow::buildParameters(const std::string& yaml_text) {
  while (parameters_->rowCount() > 0) parameters_->removeRow(0);
  fields_.clear();
  variantToggles_.clear();
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception&) {
    return;  // the validation message says what is wrong
  }
  if (!root.IsMap()) return;
  // Scalar leaves up to three levels down become editable fields named by their --set path.
  std::function<void(const YAML::Node&, const std::string&, int)> walk = [&](const YAML::Node& n, const std::string& path,
                                                                               int depth) {
    if (n.IsScalar()) {
      auto* edit = new QLineEdit(q(n.Scalar()));
      edit->setProperty("original", q(n.Scalar()));
      auto* problem = new QLabel;
      problem->setStyleSheet("color: #b00020");
      const std::string original = n.Scalar();
      connect(edit, &QLineEdit::textChanged, problem,
              [problem, original](const QString& t) { problem->setText(check_value(original, t.toStdString())); });
      auto* row = new QWidget;
      auto* layout = new QHBoxLayout(row);
      layout->setContentsMargins(0, 0, 0, 0);
      layout->addWidget(edit);
      layout->addWidget(problem);
      parameters_->addRow(q(path), row);
      fields_.emplace_back(path, edit);
      return;
    }
    if (!n.IsMap() || depth > 3) return;
    for (const auto& kv : n) {
      const std::string key = kv.first.Scalar();
      if (skipped(key)) continue;
      walk(kv.second, path.empty() ? key : path + "." + key, depth + 1);
    }
  };
  for (const auto& kv : root) {
    const std::string key = kv.first.Scalar();
    if (key == "variants" && kv.second.IsMap()) {
      for (const auto& v : kv.second) {
        auto* box = new QCheckBox(q("run variant " + v.first.Scalar()));
        box->setChecked(true);
        parameters_->addRow(box);
        variantToggles_.emplace_back(v.first.Scalar(), box);
        walk(v.second, "variants." + v.first.Scalar(), 2);
      }
    } else if (!skipped(key)) {
      walk(kv.second, key, 1);
    }
  }
}

QString MainWindow::validationMessage() const { return errors_->text(); }

bool MainWindow::setParameter(const QString& path, const QString& value) {
  for (auto& [p, edit] : fields_) {
    if (q(p) == path) {
      edit->setText(value);
      return true;
    }
  }
  return false;
}

std::optional<workbench::scenario> MainWindow::validatedScenario(workbench::run_mode for_mode) {
  if (scenarioPath_.isEmpty()) {
    errors_->setText("Open a scenario first (File → Open or a lab on the left).");
    return std::nullopt;
  }
  auto sc = workbench::load_scenario(scenarioPath_.toStdString(), changedFields());
  if (!sc) {
    errors_->setText(q(sc.error().format(fs::path(scenarioPath_.toStdString()).filename().string())));
    return std::nullopt;
  }
  errors_->clear();
  std::vector<std::string> off;
  for (const auto& [name, box] : variantToggles_) {
    if (!box->isChecked()) off.push_back(name);
  }
  std::erase_if(sc->variants, [&](const auto& v) { return std::find(off.begin(), off.end(), v.name) != off.end(); });
  std::erase_if(sc->expect, [&](const auto& e) {
    return std::find(off.begin(), off.end(), e.metric.substr(0, e.metric.find('.'))) != off.end();
  });
  if (sc->variants.empty()) {
    errors_->setText("Every variant is switched off.");
    return std::nullopt;
  }
  if (for_mode == workbench::run_mode::net) {
    if (auto ok = workbench::net_mode_support(*sc); !ok) {
      errors_->setText(q("Real network: " + ok.error()));
      return std::nullopt;
    }
  }
  return std::move(*sc);
}

workbench::overrides MainWindow::changedFields() const {
  workbench::overrides sets;
  for (const auto& [path, edit] : fields_) {
    // Only changed fields become overrides, so errors in the others keep their line and column.
    if (edit->text() != edit->property("original").toString()) sets.emplace_back(path, edit->text().toStdString());
  }
  return sets;
}

workbench::run_mode MainWindow::mode() const {
  return realNetwork_->isChecked() ? workbench::run_mode::net : workbench::run_mode::sim;
}

void MainWindow::setRealNetwork(bool on) { realNetwork_->setChecked(on); }

void MainWindow::setRunning(bool running) {
  runButton_->setEnabled(!running);
  cancelButton_->setEnabled(running);
  if (!running) progressValue_ = 1.0;
}

void MainWindow::startRun() {
  if (worker_.joinable() && !runButton_->isEnabled()) return;
  auto sc = validatedScenario(mode());
  if (!sc) return;
  if (worker_.joinable()) worker_.join();
  cancel_ = false;
  progressValue_ = 0;
  setRunning(true);
  if (!overlay_->isChecked()) runs_.clear();
  runs_.push_back(nlohmann::json());  // the run in progress, filled variant by variant
  runMode_ = mode();
  worker_ = std::jthread([this, sc = std::move(*sc), mode = runMode_] {
    // Variants run one after another so the charts can show each as soon as it is done.
    workbench::run_result total;
    const std::size_t n = sc.variants.size();
    for (std::size_t i = 0; i < n && !cancel_; ++i) {
      workbench::scenario one = sc;
      one.variants = {sc.variants[i]};
      one.expect.clear();
      // Charts grow while the variant runs: partial results at most ~4 times a second.
      auto last_draw = std::chrono::steady_clock::now();
      auto live = [this, &sc, &total, &last_draw](std::size_t, const workbench::variant_result& partial) {
        const auto now = std::chrono::steady_clock::now();
        if (now - last_draw < std::chrono::milliseconds(250)) return;
        last_draw = now;
        workbench::run_result shown = total;
        shown.variants.push_back(partial);
        QMetaObject::invokeMethod(this, [this, sc, shown] { showResult(sc, shown); }, Qt::QueuedConnection);
      };
      auto part = workbench::run_scenario(
          one, [this, i, n](double f) { progressValue_ = (static_cast<double>(i) + f) / static_cast<double>(n); }, &cancel_,
          live, mode);
      total.variants.push_back(std::move(part.variants.front()));
      const bool last = i + 1 == n;
      if (last) {
        for (const auto& e : sc.expect) total.expectations.push_back(workbench::check(e, total.variants));
      }
      QMetaObject::invokeMethod(this, [this, sc, total, last] {
        showResult(sc, total);
        if (last) setRunning(false);
      }, Qt::QueuedConnection);
    }
    if (cancel_) QMetaObject::invokeMethod(this, [this] { setRunning(false); }, Qt::QueuedConnection);
  });
}

bool MainWindow::runBlocking() {
  auto sc = validatedScenario(mode());
  if (!sc) return false;
  if (!overlay_->isChecked()) runs_.clear();
  runs_.push_back(nlohmann::json());
  runMode_ = mode();
  showResult(*sc, workbench::run_scenario(*sc, {}, nullptr, {}, runMode_));
  setRunning(false);
  return true;
}

void MainWindow::cancelRun() { cancel_ = true; }

void MainWindow::showResult(const workbench::scenario& sc, const workbench::run_result& r) {
  runs_.back() = workbench::to_json(sc, r, runMode_ == workbench::run_mode::net ? "net" : "sim");
  lastScenario_ = sc;
  lastResult_ = r;
  refreshCharts();
  expectations_->setRowCount(static_cast<int>(r.expectations.size()));
  for (int i = 0; i < static_cast<int>(r.expectations.size()); ++i) {
    const auto& e = r.expectations[static_cast<std::size_t>(i)];
    auto* verdict = new QTableWidgetItem(e.passed ? "PASS" : "FAIL");
    verdict->setForeground(e.passed ? QColor("#1b7f3b") : QColor("#b00020"));
    expectations_->setItem(i, 0, verdict);
    expectations_->setItem(i, 1, new QTableWidgetItem(q(e.expected.text)));
    expectations_->setItem(i, 2, new QTableWidgetItem(e.found ? QString::number(e.actual, 'g', 5) : "no such metric"));
  }
  expectations_->resizeColumnToContents(0);
  expectations_->resizeColumnToContents(2);
}

void MainWindow::refreshCharts() {
  const int current = charts_->currentIndex();
  while (charts_->count() > 0) {
    QWidget* w = charts_->widget(0);
    charts_->removeTab(0);
    delete w;
  }
  std::vector<nlohmann::json> ready;
  for (const auto& r : runs_) {
    if (!r.is_null()) ready.push_back(r);
  }
  for (chart_kind kind : all_charts) {
    auto chart = make_chart(ready, kind);
    if (!chart) continue;
    auto* view = new QChartView(chart.release());  // the view's scene owns the chart
    view->setRenderHint(QPainter::Antialiasing);
    charts_->addTab(view, chart_name(kind));
  }
  if (plan_) {
    if (auto chart = make_plan_chart(plan_->first, plan_->second)) {
      auto* view = new QChartView(chart.release());
      view->setRenderHint(QPainter::Antialiasing);
      charts_->addTab(view, "plan");
    }
  }
  if (current >= 0 && current < charts_->count()) charts_->setCurrentIndex(current);
}

QString MainWindow::currentChart() const { return charts_->tabText(charts_->currentIndex()); }

std::optional<workbench::plan_request> MainWindow::planRequest(workbench::plan_request request) {
  if (!validatedScenario(workbench::run_mode::sim)) return std::nullopt;  // says what is wrong
  if (request.objectives.empty()) {
    errors_->setText("Plan: give at least one objective, e.g. main.e2e.p99<=110ms");
    return std::nullopt;
  }
  request.file = scenarioPath_.toStdString();
  request.sets = changedFields();
  return request;
}

void MainWindow::showPlan(const workbench::plan_request& request, const workbench::plan_result& result) {
  plan_ = {request, result};
  refreshCharts();
  charts_->setCurrentIndex(charts_->count() - 1);
  std::string text;
  for (const auto& p : result.probes) text += "probe " + workbench::describe(request, p) + "\n";
  description_->setPlainText(q(text + workbench::summary(request, result)));
}

void MainWindow::startPlan(workbench::plan_request request) {
  if (worker_.joinable() && !runButton_->isEnabled()) return;
  auto full = planRequest(std::move(request));
  if (!full) return;
  if (worker_.joinable()) worker_.join();
  cancel_ = false;
  progressValue_ = 0;
  setRunning(true);
  full->cancel = &cancel_;
  worker_ = std::jthread([this, r = std::move(*full)] {
    // A bisection takes about log2(values) + 1 probes; the bar is a guess, the chart exact.
    const double expected = std::log2(static_cast<double>(workbench::grid(r).size())) + 2;
    workbench::plan_result so_far;
    auto result = workbench::plan(r, [&](const workbench::probe& p) {
      so_far.probes.push_back(p);
      progressValue_ = std::min(0.95, static_cast<double>(so_far.probes.size()) / expected);
      QMetaObject::invokeMethod(this, [this, r, so_far] { showPlan(r, so_far); }, Qt::QueuedConnection);
    });
    QMetaObject::invokeMethod(this, [this, r, result] {
      if (result) showPlan(r, *result);
      else errors_->setText(q("Plan: " + result.error()));
      setRunning(false);
    }, Qt::QueuedConnection);
  });
}

bool MainWindow::planBlocking(workbench::plan_request request) {
  auto full = planRequest(std::move(request));
  if (!full) return false;
  auto result = workbench::plan(*full);
  if (!result) {
    errors_->setText(q("Plan: " + result.error()));
    return false;
  }
  showPlan(*full, *result);
  return true;
}

workbench::plan_request MainWindow::suggestedPlan() {
  workbench::plan_request suggested{.from = 1, .to = 32};
  const auto sc = validatedScenario(workbench::run_mode::sim);
  if (!sc || !sc->plan) return suggested;
  suggested.maximize = !sc->plan->max_rate.empty();
  if (suggested.maximize) suggested.path = "arrivals.rate";
  // The scenario's parser has checked both.
  (void)workbench::parse_range("plan", suggested.maximize ? sc->plan->max_rate : sc->plan->minimize, suggested.maximize, suggested);
  for (const auto& text : sc->plan->slos) suggested.objectives.push_back(*workbench::parse_slo(text));
  return suggested;
}

void MainWindow::planDialog() {
  if (scenarioPath_.isEmpty()) {
    errors_->setText("Open a scenario first (File → Open or a lab on the left).");
    return;
  }
  QDialog dialog(this);
  dialog.setWindowTitle("Plan");
  auto* form = new QFormLayout(&dialog);
  auto* field = new QComboBox;
  field->setEditable(true);
  // Whole numbers (counts) and rates are what a plan varies.
  for (const auto& [path, edit] : fields_) {
    const std::string v = edit->property("original").toString().toStdString();
    if (!v.empty() && (v.find_first_not_of("0123456789") == std::string::npos || sim::parse_rate(v))) field->addItem(q(path));
  }
  auto* direction = new QComboBox;
  direction->addItems({"smallest value that meets them", "largest value that meets them (a rate)"});
  auto* from = new QSpinBox;
  auto* to = new QSpinBox;
  auto* step = new QSpinBox;
  for (auto* box : {from, to, step}) box->setRange(0, 100'000'000);
  auto* objectives = new QPlainTextEdit;
  objectives->setPlaceholderText("one per line, e.g. main.e2e.p99<=110ms");
  const workbench::plan_request suggested = suggestedPlan();
  if (!suggested.path.empty()) field->setCurrentText(q(suggested.path));
  direction->setCurrentIndex(suggested.maximize ? 1 : 0);
  from->setValue(static_cast<int>(suggested.from));
  to->setValue(static_cast<int>(suggested.to));
  step->setValue(static_cast<int>(suggested.step));
  step->setMinimum(1);
  for (const auto& o : suggested.objectives) objectives->appendPlainText(q(o.text));
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
  connect(buttons, &QDialogButtonBox::accepted, &dialog, &QDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, &dialog, &QDialog::reject);
  form->addRow("Field", field);
  form->addRow("Find the", direction);
  form->addRow("From", from);
  form->addRow("To", to);
  form->addRow("Step", step);
  form->addRow("Objectives", objectives);
  form->addRow(buttons);
  if (dialog.exec() != QDialog::Accepted) return;
  workbench::plan_request request{.path = field->currentText().toStdString(), .from = from->value(), .to = to->value(),
                                  .step = step->value(), .maximize = direction->currentIndex() == 1};
  for (const auto& line : objectives->toPlainText().split('\n', Qt::SkipEmptyParts)) {
    auto objective = workbench::parse_slo(line.trimmed().toStdString());
    if (!objective) {
      errors_->setText(q("Plan: " + objective.error()));
      return;
    }
    request.objectives.push_back(std::move(*objective));
  }
  if (request.from > request.to) {
    errors_->setText(QString("Plan: the range %1..%2 is empty").arg(request.from).arg(request.to));
    return;
  }
  startPlan(std::move(request));
}

void MainWindow::exportChart() {
  auto* view = qobject_cast<QChartView*>(charts_->currentWidget());
  if (view == nullptr) return;
  const QString path = QFileDialog::getSaveFileName(this, "Export chart", charts_->tabText(charts_->currentIndex()) + ".png",
                                                    "PNG images (*.png)");
  if (!path.isEmpty() && !view->grab().save(path, "PNG")) QMessageBox::warning(this, "mqlab", "Could not write " + path);
}

void MainWindow::exportCsv() {
  if (!lastScenario_ || !lastResult_) return;
  const QString dir = QFileDialog::getExistingDirectory(this, "Export run (run.json, metrics.csv, series.csv)");
  if (dir.isEmpty()) return;
  if (auto w = workbench::write_results(dir.toStdString(), *lastScenario_, *lastResult_); !w) {
    QMessageBox::warning(this, "mqlab", q(w.error()));
  }
}

}  // namespace mqlab::gui
