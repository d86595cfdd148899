#include "train/progress.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>

namespace mimir {

ProgressDisplay::ProgressDisplay(int total_steps, int total_epochs, bool quiet)
    : total_steps_(total_steps),
      total_epochs_(total_epochs),
      terminal_(::isatty(::fileno(stderr)) != 0),
      quiet_(quiet),
      started_(std::chrono::steady_clock::now()) {}

void ProgressDisplay::step(int step, int epoch, float loss, float tokens_per_s) {
    if (first_step_ < 0) {
        first_step_ = step - 1;
        started_ = std::chrono::steady_clock::now();
    }
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    const int done = step - first_step_;
    const double eta = done > 0 ? elapsed / done * (total_steps_ - step) : 0.0;
    if (!terminal_) {
        if (!quiet_) {
            spdlog::info(
                "event=train_step step={}/{} epoch={}/{} loss={:.4f} tokens_per_s={:.0f} eta_s={:.0f}", step,
                total_steps_, epoch, total_epochs_, loss, tokens_per_s, eta);
        }
        return;
    }
    constexpr int kWidth = 30;
    const int filled = total_steps_ > 0 ? kWidth * step / total_steps_ : kWidth;
    std::fprintf(stderr, "\r[%s%s] epoch %d/%d step %d/%d loss %.4f %.0f tok/s ETA %d:%02d ",
                 std::string(filled, '#').c_str(), std::string(kWidth - filled, '.').c_str(), epoch,
                 total_epochs_, step, total_steps_, loss, tokens_per_s, static_cast<int>(eta) / 60,
                 static_cast<int>(eta) % 60);
    std::fflush(stderr);
    bar_drawn_ = true;
}

void ProgressDisplay::note(const std::string& line) {
    if (bar_drawn_) std::fputc('\n', stderr);
    bar_drawn_ = false;
    spdlog::info("{}", line);
}

void ProgressDisplay::finish() {
    if (bar_drawn_) std::fputc('\n', stderr);
    bar_drawn_ = false;
}

}  // namespace mimir
