#include "train/run_folder.h"

#include <filesystem>

#include "support/files.h"

namespace mimir {

std::string RunFolder::adapter() const {
    return dir + "/adapter.gguf";
}
std::string RunFolder::fine_tuned() const {
    return dir + "/fine-tuned.gguf";
}
std::string RunFolder::checkpoint() const {
    return dir + "/checkpoint.gguf";
}
std::string RunFolder::train_log() const {
    return dir + "/train_log.csv";
}
std::string RunFolder::eval_log() const {
    return dir + "/eval_log.csv";
}
std::string RunFolder::loss_plot() const {
    return dir + "/loss.svg";
}
std::string RunFolder::system_prompt() const {
    return dir + "/system_prompt.txt";
}

std::vector<std::string> RunFolder::files() const {
    return {adapter(), fine_tuned(), checkpoint(), train_log(), eval_log(), loss_plot(), system_prompt()};
}

Status RunFolder::prepare() const {
    Status ready = prepare_output_dir(dir);
    if (!ready) return ready;
    for (const std::string& file : files()) {
        std::error_code ec;
        if (std::filesystem::is_directory(file, ec)) {
            const std::string name = std::filesystem::path(file).filename().string();
            return Status::failure("bad_output_dir",
                                   file + " is a folder; cannot write the " + name + " file");
        }
    }
    return ok_status();
}

}  // namespace mimir
