#include "eval/progress.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>

namespace mimir::eval {

EvalProgress::EvalProgress()
    : terminal_(isatty(STDERR_FILENO) != 0), started_(std::chrono::steady_clock::now()) {}

void EvalProgress::update(int done, int total) {
    if (total <= 0) return;
    const double elapsed_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    const int eta_s = done > 0 ? static_cast<int>(elapsed_s / done * (total - done)) : 0;
    if (!terminal_) {
        const int tenth = done * 10 / total;
        if (tenth == last_logged_tenth_) return;
        last_logged_tenth_ = tenth;
        spdlog::info("event=eval_progress replies={} total={} eta_s={}", done, total, eta_s);
        return;
    }
    const int width = 30;
    const int filled = done * width / total;
    std::fprintf(stderr, "\r[%s%s] %d/%d replies, ETA %dm%02ds ", std::string(filled, '#').c_str(),
                 std::string(width - filled, ' ').c_str(), done, total, eta_s / 60, eta_s % 60);
    std::fflush(stderr);
    drawn_ = true;
}

void EvalProgress::finish() {
    if (drawn_) std::fputc('\n', stderr);
    drawn_ = false;
}

}  // namespace mimir::eval
