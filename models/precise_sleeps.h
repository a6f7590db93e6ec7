// Precise sleeps for whatever runs in real time: Linux lets a sleep overshoot by the thread's
// timer slack, 50 us unless set, which net mode would measure as the scenario's latency and
// calibration as the machine's wake-up latency.
#pragma once

#include <sys/prctl.h>

namespace mqlab::models {

/// While it lives, the calling thread's timer slack is 1 ns; the slack it had comes back after.
class precise_sleeps {
 public:
  precise_sleeps() : saved_(prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0)) { prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); }
  ~precise_sleeps() {
    if (saved_ > 0) prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(saved_), 0, 0, 0);
  }
  precise_sleeps(const precise_sleeps&) = delete;
  precise_sleeps& operator=(const precise_sleeps&) = delete;

 private:
  int saved_;
};

}  // namespace mqlab::models
