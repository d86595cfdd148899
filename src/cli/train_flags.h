// The training flags `mimir train` and `mimir promote` share (everything but the output folder, resume
// and checkpoints): declared once, so both commands train the same way from the same command line.
#pragma once

#include <CLI/CLI.hpp>
#include <map>
#include <string>
#include <vector>

#include "train/trainer.h"

namespace mimir::cli {

// --batch, --grad-accumulation, --epochs, --lr, --warmup-ratio, --schedule, --weight-decay,
// --max-grad-norm, --rank, --alpha, --targets, --full, --eval-fraction, --seed, --ctx, --threads,
// --recompute, --kernels (or MIMIR_KERNELS), --patience, --strict, --merged-type.
void add_training_flags(CLI::App& command, TrainOptions& options);

// A flag naming one state of an enum: accepts exactly the names in `names` (listed in --help) and stores
// the state, so the rest of the program never compares strings.
template <typename Enum>
CLI::Option* add_enum_option(CLI::App* command, const std::string& flag, Enum& target,
                             const std::map<std::string, Enum>& names, const std::string& help) {
    std::vector<std::string> keys;
    for (const auto& entry : names) keys.push_back(entry.first);
    return command
        ->add_option_function<std::string>(
            flag, [&target, &names](const std::string& name) { target = names.at(name); }, help)
        ->check(CLI::IsMember(keys));
}

}  // namespace mimir::cli
