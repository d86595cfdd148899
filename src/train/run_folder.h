// The files of one training run, named in one place: `mimir train --out DIR` writes them, `mimir merge
// --run DIR` reads the adapter and writes the merged model there, scripts/demo.sh serves them (its names
// must match these), and a promotion step copies them to where `mimir serve` looks.
#pragma once

#include <string>
#include <vector>

#include "support/result.h"

namespace mimir {

struct RunFolder {
    std::string dir;

    std::string adapter() const;        // adapter.gguf: the LoRA adapter, llama.cpp's format
    std::string fine_tuned() const;     // fine-tuned.gguf: the base with the adapter merged in
    std::string checkpoint() const;     // checkpoint.gguf: resumable state (--checkpoint-every, --resume)
    std::string train_log() const;      // train_log.csv: one row per optimizer step
    std::string eval_log() const;       // eval_log.csv: one row per evaluation
    std::string loss_plot() const;      // loss.svg: both losses against the step
    std::string system_prompt() const;  // system_prompt.txt: what the rows were rendered with (empty: none)
    // Every file above, for checks and copies.
    std::vector<std::string> files() const;

    // Creates the folder if needed and checks it is writable and that none of the files is a folder.
    // Error code "bad_output_dir".
    Status prepare() const;
};

}  // namespace mimir
