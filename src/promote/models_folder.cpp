#include "promote/models_folder.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "support/files.h"
#include "train/run_folder.h"

namespace mimir::promote {

namespace fs = std::filesystem;

namespace {

constexpr const char* kGenerations = "generations";

bool is_generation_id(const std::string& name) {
    return !name.empty() &&
           std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::string ModelsFolder::current_link() const {
    return dir_ + "/current";
}
std::string ModelsFolder::previous_link() const {
    return dir_ + "/previous";
}
std::string ModelsFolder::generation_dir(const std::string& id) const {
    return dir_ + "/" + kGenerations + "/" + id;
}
std::string ModelsFolder::candidate_dir(const std::string& id) const {
    return dir_ + "/candidates/" + id;
}
std::string ModelsFolder::promotions_log() const {
    return dir_ + "/promotions.jsonl";
}
std::string ModelsFolder::lock_file() const {
    return dir_ + "/promote.lock";
}

ModelPaths ModelsFolder::served_paths(const std::string& base) const {
    const RunFolder current{current_link()};
    return ModelPaths{.fine_tuned = current.fine_tuned(), .adapter = current.adapter(), .base = base};
}

Status ModelsFolder::create() const {
    for (const std::string& dir : {dir_, dir_ + "/" + kGenerations, dir_ + "/candidates"}) {
        if (Status made = prepare_output_dir(dir); !made) return made;
    }
    return ok_status();
}

Result<std::optional<std::string>> ModelsFolder::generation_of_link(const std::string& link) const {
    std::error_code error;
    if (!fs::is_symlink(link, error)) {
        if (fs::exists(link, error))
            return Error{"invalid_models_dir", link + " is not a symlink to a generation"};
        return std::optional<std::string>();
    }
    const fs::path target = fs::read_symlink(link, error);
    const std::string id = target.filename().string();
    if (error || target.parent_path() != kGenerations || !is_generation_id(id) ||
        !fs::is_directory(generation_dir(id), error)) {
        return Error{"invalid_models_dir",
                     link + " points at " + target.string() + ", not at a folder " + kGenerations + "/NNNN"};
    }
    return std::optional<std::string>(id);
}

Result<std::optional<std::string>> ModelsFolder::current() const {
    return generation_of_link(current_link());
}

Result<std::optional<std::string>> ModelsFolder::previous() const {
    return generation_of_link(previous_link());
}

std::string ModelsFolder::next_generation_id() const {
    int highest = 0;
    std::error_code error;
    for (const fs::directory_entry& entry : fs::directory_iterator(dir_ + "/" + kGenerations, error)) {
        const std::string name = entry.path().filename().string();
        if (is_generation_id(name) && name.size() < 9) highest = std::max(highest, std::stoi(name));
    }
    std::string id = std::to_string(highest + 1);
    return std::string(id.size() < 4 ? 4 - id.size() : 0, '0') + id;
}

Status ModelsFolder::install_candidate(const std::string& candidate_id,
                                       const std::string& generation_id) const {
    return rename_durably(candidate_dir(candidate_id), generation_dir(generation_id));
}

Status ModelsFolder::switch_to(const std::string& generation_id) const {
    Result<std::optional<std::string>> now = current();
    if (now.ok() && now->has_value()) {
        if (Status kept =
                replace_symlink_atomically(previous_link(), std::string(kGenerations) + "/" + **now);
            !kept)
            return kept;
    }
    return replace_symlink_atomically(current_link(), std::string(kGenerations) + "/" + generation_id);
}

Result<std::string> ModelsFolder::roll_back() const {
    Result<std::optional<std::string>> now = current();
    if (!now) return now.error();
    Result<std::optional<std::string>> before = previous();
    if (!before) return before.error();
    if (!before->has_value() || (now->has_value() && **before == **now)) {
        return Error{"nothing_to_roll_back",
                     "nothing to roll back to in " + dir_ + ": " +
                         (now->has_value() ? "generation " + **now + " is current and "
                                           : std::string("no generation is current and ")) +
                         "no other generation was current before it"};
    }
    const std::string target = **before;
    if (Status put = replace_symlink_atomically(current_link(), std::string(kGenerations) + "/" + target);
        !put)
        return put.error();
    if (now->has_value()) {
        if (Status kept =
                replace_symlink_atomically(previous_link(), std::string(kGenerations) + "/" + **now);
            !kept)
            return kept.error();
    }
    return target;
}

}  // namespace mimir::promote
