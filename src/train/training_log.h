// What a training run records: one row per optimizer step, one per evaluation, written as
// train_log.csv, eval_log.csv and loss.svg (a small line plot of both losses against the step).
#pragma once

#include <string>
#include <vector>

#include "support/result.h"
#include "train/run_folder.h"

namespace mimir {

struct StepRecord {
    int step = 0;     // 1-based optimizer step
    float epoch = 0;  // fractional: 1.5 = half way through the second epoch
    float learning_rate = 0;
    float loss = 0;       // mean reply loss of the sequences in this step
    float grad_norm = 0;  // before clipping
    float tokens_per_s = 0;
    bool skipped = false;  // not applied: loss or gradient not finite
};

struct EvalRecord {
    int step = 0;
    int epoch = 0;  // 1-based epoch just finished
    float loss = 0;
};

struct TrainingLog {
    std::vector<StepRecord> steps;
    std::vector<EvalRecord> evals;

    std::string train_csv() const;  // step,epoch,lr,loss,grad_norm,tokens_per_s,skipped
    std::string eval_csv() const;   // step,epoch,eval_loss
    std::string loss_svg() const;
    // Writes the three files into `run` (train_log, eval_log, loss_plot), each atomically.
    Status write_to(const RunFolder& run) const;
};

}  // namespace mimir
