// Station dynamics: FIFO service by the first free server, statistics for measured jobs only.
#include "models/station.h"

namespace mqlab::models {

station::station(sim::simulator& sim, station_config config, sim::rng service_rng)
    : sim_(sim), config_(std::move(config)), rng_(service_rng) {}

bool station::arrive(job j) {
  j.arrived = sim_.now();
  if (j.measured) ++offered_;
  if (config_.capacity != 0 && in_system() >= config_.capacity) {
    if (j.measured) ++blocked_;
    return false;
  }
  if (busy_ < config_.servers && !paused_) {
    start_service(j);
  } else {
    queue_.push_back(j);
  }
  return true;
}

void station::start_service(job j) {
  account_busy();
  ++busy_;
  j.started = sim_.now();
  if (j.measured) {
    const sim::duration wait = sim_.now() - j.arrived;
    waits_.record(wait);
    wait_seconds_.add(wait.seconds());
  }
  const auto service = sim::duration::from_seconds(config_.service.sample(rng_));
  sim_.after(service, [this, j] { depart(j); });
}

void station::depart(const job& j) {
  account_busy();
  --busy_;
  if (j.measured) {
    ++completed_;
    response_seconds_.add((sim_.now() - j.arrived).seconds());
  }
  start_waiting();
  if (on_departure_) on_departure_(j);
}

void station::start_waiting() {
  while (!paused_ && !queue_.empty() && busy_ < config_.servers) {
    const job next = queue_.front();
    queue_.pop_front();
    start_service(next);
  }
}

void station::resume() {
  paused_ = false;
  start_waiting();
}

void station::account_busy() {
  if (measuring_) busy_area_ += busy_ * (sim_.now() - busy_since_).seconds();
  busy_since_ = sim_.now();
}

void station::start_measuring() {
  waits_.reset();
  wait_seconds_.reset();
  response_seconds_.reset();
  offered_ = blocked_ = completed_ = 0;
  busy_area_ = 0;
  measuring_ = true;
  busy_since_ = window_start_ = sim_.now();
  window_end_ = sim::sim_time::max();
}

void station::stop_measuring() {
  account_busy();
  measuring_ = false;
  window_end_ = sim_.now();
}

double station::utilization() const {
  const sim::sim_time end = measuring_ ? sim_.now() : window_end_;
  const double span = (end - window_start_).seconds();
  double area = busy_area_;
  if (measuring_) area += busy_ * (sim_.now() - busy_since_).seconds();
  return span > 0 ? area / (config_.servers * span) : 0.0;
}

}  // namespace mqlab::models
