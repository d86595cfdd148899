// Training progress for a person: a redrawn bar (epoch, step, loss, tokens/s, ETA) on a terminal,
// plain key=value lines through spdlog when stderr is a pipe or file.
#pragma once

#include <chrono>
#include <string>

namespace mimir {

class ProgressDisplay {
  public:
    explicit ProgressDisplay(int total_steps, int total_epochs, bool quiet = false);
    void step(int step, int epoch, float loss, float tokens_per_s);
    // A line that must not be overwritten by the bar (evaluations, spikes, skipped steps).
    void note(const std::string& line);
    void finish();

  private:
    int total_steps_;
    int total_epochs_;
    bool terminal_;
    bool quiet_;
    bool bar_drawn_ = false;
    int first_step_ = -1;
    std::chrono::steady_clock::time_point started_;
};

}  // namespace mimir
