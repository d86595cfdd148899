// The folder `mimir promote` manages and `mimir serve --models DIR` serves:
//   DIR/generations/0001/  one promoted model each: fine-tuned.gguf, adapter.gguf, system_prompt.txt, the
//                          training logs, manifest.json (SHA-256 of every file) and eval-report/
//   DIR/current -> generations/000N   what is served; DIR/previous -> the generation it replaced
//   DIR/candidates/<id>/   candidates being trained, or refused by the gate (kept with their report)
//   DIR/promotions.jsonl   one JSON record per promotion, refusal and rollback (promote/promotion_log.h)
// A generation folder only appears by renaming a complete candidate folder, and `current` only changes by
// renaming a new symlink over it, so whatever is killed when, `current` names a complete generation.
#pragma once

#include <optional>
#include <string>

#include "model/model_manager.h"
#include "support/result.h"

namespace mimir::promote {

class ModelsFolder {
  public:
    explicit ModelsFolder(std::string dir) : dir_(std::move(dir)) {}

    const std::string& dir() const { return dir_; }
    std::string current_link() const;                         // DIR/current
    std::string previous_link() const;                        // DIR/previous
    std::string generation_dir(const std::string& id) const;  // DIR/generations/<id>
    std::string candidate_dir(const std::string& id) const;   // DIR/candidates/<id>
    std::string promotions_log() const;                       // DIR/promotions.jsonl
    std::string lock_file() const;  // DIR/promote.lock: one promotion or rollback at a time

    // What a server serves from DIR: the fine-tuned and adapter files through DIR/current, and `base`
    // (generations do not hold the base: it is large and shared, and its hash is in each manifest).
    ModelPaths served_paths(const std::string& base) const;

    // Creates DIR, DIR/generations and DIR/candidates. Error "bad_output_dir".
    Status create() const;

    // The generation `current` / `previous` points at ("0003"), nullopt when the link does not exist.
    // Error "invalid_models_dir" when the link points anywhere but at an existing generation folder.
    Result<std::optional<std::string>> current() const;
    Result<std::optional<std::string>> previous() const;

    // The id after the highest generation folder present ("0001" in an empty DIR).
    std::string next_generation_id() const;

    // Moves a complete candidate folder into DIR/generations/<id> (one rename; the folder is synced).
    // Error "write_failed".
    Status install_candidate(const std::string& candidate_id, const std::string& generation_id) const;

    // previous := the generation now current (when there is one), then current := `generation_id`: each
    // an atomic rename of a symlink. Killed between the two, current is unchanged. Error "write_failed".
    Status switch_to(const std::string& generation_id) const;

    // Puts `previous` back: current := previous, then previous := the generation that was current, so a
    // second rollback undoes the first. Killed between the two, the rollback has happened and both links
    // name the same generation. Errors: "nothing_to_roll_back", "invalid_models_dir", "write_failed".
    // Returns the generation now current.
    Result<std::string> roll_back() const;

  private:
    Result<std::optional<std::string>> generation_of_link(const std::string& link) const;
    std::string dir_;
};

}  // namespace mimir::promote
