// The evaluation's progress for a person on stderr: a redrawn bar with the replies done and an ETA on a
// terminal, a key=value log line every tenth of the run when stderr is a pipe or file.
#pragma once

#include <chrono>

namespace mimir::eval {

class EvalProgress {
  public:
    EvalProgress();
    void update(int done, int total);  // fits RunOptions::on_progress
    void finish();                     // ends the bar's line

  private:
    bool terminal_;
    bool drawn_ = false;
    int last_logged_tenth_ = -1;
    std::chrono::steady_clock::time_point started_;
};

}  // namespace mimir::eval
