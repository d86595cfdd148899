// The tutor-prompt flags of `mimir serve` and `mimir chat` (--tutor-prompt, --prompts, --snippet-classifier,
// --prompt-labels, --prompt-budget, --prompt-fallback), and the TutorPrompter they build before a model
// serves: bad snippet or classifier files stop the command with an error naming the file, or, with
// --prompt-fallback, leave the fixed prompt serving with a warning.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "agent/tutor_prompter.h"
#include "cli/model_flags.h"
#include "model/model_manager.h"
#include "support/result.h"

namespace mimir::cli {

struct TutorPromptFlags {
    std::string mode;             // "fixed" or "snippets"; "" = fixed
    std::string prompts_dir;      // "" = data/prompts (see default_data_path)
    std::string classifier_file;  // "" = train one at start from labels_file
    std::string labels_file;      // "" = data/prompt_labels.csv
    int prompt_budget = PrompterSettings{}.prompt_budget;
    bool fallback = false;
};
void add_tutor_prompt_flags(CLI::App& command, TutorPromptFlags& flags);

// `relative` (e.g. "data/prompts") in the working folder when it exists there, else in the source tree this
// binary was built from (a server started elsewhere, a test's folder), else `relative` as given.
std::string default_data_path(const std::string& relative);

// The file whose tokenizer counts the prompt's tokens before a model serves: the base, else the
// fine-tuned model when it exists, else the Phi-3 vocabulary the demo models are built with.
std::string tokenizer_path_for(const ModelPaths& paths);

// The prompter the flags choose. `fixed_prompt` is what --system-prompt(-file) chose (the default tutor
// prompt without them); `system_prompt_given` says whether one of those flags was given, which makes the
// fixed prompt the default. Errors (each naming the file): the snippet library's, the classifier's, the
// labels file's, the tokenizer's; "invalid_flags" for --tutor-prompt snippets with a --system-prompt. With
// --prompt-fallback a file error gives TutorPrompter::fallback(fixed_prompt) instead.
Result<std::shared_ptr<const TutorPrompter>> tutor_prompter_for(const TutorPromptFlags& flags,
                                                                const std::string& fixed_prompt,
                                                                bool system_prompt_given,
                                                                const std::string& tokenizer_path);

// Whether --system-prompt or --system-prompt-file was given.
bool system_prompt_given(const SystemPromptFlags& flags);

}  // namespace mimir::cli
