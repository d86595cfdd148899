#include "train/training_log.h"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <cmath>

#include "support/files.h"

namespace mimir {

std::string TrainingLog::train_csv() const {
    std::string out = "step,epoch,lr,loss,grad_norm,tokens_per_s,skipped\n";
    for (const StepRecord& r : steps) {
        out += fmt::format("{},{:.4f},{:.6g},{:.6f},{:.6f},{:.1f},{}\n", r.step, r.epoch, r.learning_rate,
                           r.loss, r.grad_norm, r.tokens_per_s, r.skipped ? 1 : 0);
    }
    return out;
}

std::string TrainingLog::eval_csv() const {
    std::string out = "step,epoch,eval_loss\n";
    for (const EvalRecord& r : evals) out += fmt::format("{},{},{:.6f}\n", r.step, r.epoch, r.loss);
    return out;
}

std::string TrainingLog::loss_svg() const {
    constexpr double kWidth = 640, kHeight = 360, kLeft = 60, kRight = 20, kTop = 30, kBottom = 40;
    double max_step = 1, max_loss = 0;
    for (const StepRecord& r : steps) {
        if (std::isfinite(r.loss)) max_loss = std::max(max_loss, static_cast<double>(r.loss));
        max_step = std::max(max_step, static_cast<double>(r.step));
    }
    for (const EvalRecord& r : evals) max_loss = std::max(max_loss, static_cast<double>(r.loss));
    if (max_loss <= 0) max_loss = 1;
    auto x = [&](double step) { return kLeft + (kWidth - kLeft - kRight) * step / max_step; };
    auto y = [&](double loss) { return kHeight - kBottom - (kHeight - kTop - kBottom) * loss / max_loss; };
    std::string train_points, eval_points;
    for (const StepRecord& r : steps) {
        if (std::isfinite(r.loss)) train_points += fmt::format("{:.1f},{:.1f} ", x(r.step), y(r.loss));
    }
    for (const EvalRecord& r : evals) eval_points += fmt::format("{:.1f},{:.1f} ", x(r.step), y(r.loss));
    std::string svg = fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" font-family=\"sans-serif\" "
        "font-size=\"12\">\n<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n"
        "<text x=\"{2}\" y=\"18\">Reply loss (train: blue, eval: orange)</text>\n"
        "<line x1=\"{2}\" y1=\"{3}\" x2=\"{4}\" y2=\"{3}\" stroke=\"black\"/>\n"
        "<line x1=\"{2}\" y1=\"{5}\" x2=\"{2}\" y2=\"{3}\" stroke=\"black\"/>\n"
        "<text x=\"{2}\" y=\"{6}\">0</text><text x=\"{4}\" y=\"{6}\" text-anchor=\"end\">step {7}</text>\n"
        "<text x=\"{8}\" y=\"{5}\" text-anchor=\"end\">{9:.2f}</text><text x=\"{8}\" y=\"{3}\" "
        "text-anchor=\"end\">0</text>\n",
        kWidth, kHeight, kLeft, kHeight - kBottom, kWidth - kRight, kTop, kHeight - kBottom + 16,
        static_cast<int>(max_step), kLeft - 6, max_loss);
    svg +=
        "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"" + train_points + "\"/>\n";
    svg += "<polyline fill=\"none\" stroke=\"#ff7f0e\" stroke-width=\"2\" points=\"" + eval_points + "\"/>\n";
    for (const EvalRecord& r : evals) {
        svg += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"#ff7f0e\"/>\n", x(r.step),
                           y(r.loss));
    }
    return svg + "</svg>\n";
}

Status TrainingLog::write_to(const RunFolder& run) const {
    Status st = write_text_atomically(run.train_log(), train_csv());
    if (st) st = write_text_atomically(run.eval_log(), eval_csv());
    if (st) st = write_text_atomically(run.loss_plot(), loss_svg());
    return st;
}

}  // namespace mimir
