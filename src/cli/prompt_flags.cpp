#include "cli/prompt_flags.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "model/tiny_model.h"

namespace mimir::cli {
namespace {

// The held-out share and seed a classifier trained at start is measured with (as `mimir prompts train`'s
// defaults), so the logged accuracy is the one that command prints.
constexpr double kStartTestShare = 0.2;
constexpr uint64_t kStartSeed = 42;

Result<SnippetClassifier> classifier_for(const TutorPromptFlags& flags, const SnippetLibrary& library) {
    if (!flags.classifier_file.empty()) return SnippetClassifier::load(flags.classifier_file, library.labels);
    const std::string labels_file =
        flags.labels_file.empty() ? default_data_path("data/prompt_labels.csv") : flags.labels_file;
    Result<std::vector<LabelledPrompt>> rows = read_labelled_prompts(labels_file);
    if (!rows) return rows.error();
    TrainedClassifier trained = train_with_held_out(*rows, kStartTestShare, kStartSeed);
    spdlog::info(
        "event=snippet_classifier_trained labels={} rows={} accuracy={:.3f} held_out={} baseline={:.3f}",
        labels_file, trained.train_rows, trained.held_out.accuracy(), trained.held_out.total,
        trained.held_out.majority_baseline);
    return std::move(trained.classifier);
}

Result<TutorPrompter> snippet_prompter(const TutorPromptFlags& flags, const TokenCounter& count_tokens) {
    const std::string dir = flags.prompts_dir.empty() ? default_data_path("data/prompts") : flags.prompts_dir;
    Result<SnippetLibrary> library = load_snippet_library(dir, count_tokens, flags.prompt_budget);
    if (!library) return library.error();
    Result<SnippetClassifier> classifier = classifier_for(flags, *library);
    if (!classifier) return classifier.error();
    return TutorPrompter::from_snippets(std::move(*library), std::move(*classifier), count_tokens,
                                        PrompterSettings{.prompt_budget = flags.prompt_budget});
}

}  // namespace

void add_tutor_prompt_flags(CLI::App& command, TutorPromptFlags& flags) {
    command
        .add_option("--tutor-prompt", flags.mode,
                    "fixed: one system prompt for every conversation; snippets: data/prompts' snippets "
                    "chosen per conversation by a classifier (default: fixed, the prompt models are trained "
                    "with; mimir eval --variants measures both)")
        ->check(CLI::IsMember({"fixed", "snippets"}));
    command.add_option(
        "--prompts", flags.prompts_dir,
        "Folder of the prompt snippets and their manifest.json (default data/prompts; when it is "
        "not in the working folder, the source tree's)");
    command.add_option("--snippet-classifier", flags.classifier_file,
                       "Classifier file written by mimir prompts train (default: train one at start from "
                       "--prompt-labels)");
    command.add_option("--prompt-labels", flags.labels_file,
                       "Labelled prompts the classifier is trained from at start (default "
                       "data/prompt_labels.csv)");
    command.add_option("--prompt-budget", flags.prompt_budget, "Tokens the tutor system prompt may take")
        ->capture_default_str()
        ->check(CLI::Range(16, 8192));
    command.add_flag(
        "--prompt-fallback", flags.fallback,
        "When the snippets or the classifier cannot be loaded, serve the fixed prompt (a warning "
        "and the mimir_prompt_fallback metric) instead of refusing to start");
}

std::string default_data_path(const std::string& relative) {
    std::error_code error;
    if (std::filesystem::exists(relative, error)) return relative;
    const std::string built_from = std::string(MIMIR_SOURCE_DIR) + "/" + relative;
    return std::filesystem::exists(built_from, error) ? built_from : relative;
}

std::string tokenizer_path_for(const ModelPaths& paths) {
    std::error_code error;
    for (const std::string& path : {paths.base, paths.fine_tuned})
        if (!path.empty() && std::filesystem::is_regular_file(path, error)) return path;
    return default_phi3_vocab_path();
}

bool system_prompt_given(const SystemPromptFlags& flags) {
    return !flags.text.empty() || !flags.file.empty();
}

Result<std::shared_ptr<const TutorPrompter>> tutor_prompter_for(const TutorPromptFlags& flags,
                                                                const std::string& fixed_prompt,
                                                                bool system_prompt_given,
                                                                const std::string& tokenizer_path) {
    using Shared = std::shared_ptr<const TutorPrompter>;
    if (flags.mode == "snippets" && system_prompt_given)
        return Error{"invalid_flags",
                     "--tutor-prompt snippets builds the system prompt itself: give it without "
                     "--system-prompt / --system-prompt-file, or use --tutor-prompt fixed"};
    // Snippets only when asked for: a model serves best with the prompt it was trained with (the fixed one
    // for the demo models and `mimir train`'s default), which mimir eval's fixed vs snippets variants show.
    const bool snippets = flags.mode == "snippets";
    Result<TokenCounter> count_tokens = vocabulary_token_counter(tokenizer_path);
    if (!snippets) {
        return Shared(std::make_shared<const TutorPrompter>(
            TutorPrompter::fixed(fixed_prompt, count_tokens ? *count_tokens : TokenCounter())));
    }
    Result<TutorPrompter> prompter =
        count_tokens ? snippet_prompter(flags, *count_tokens) : Result<TutorPrompter>(count_tokens.error());
    if (prompter) {
        spdlog::info("event=tutor_prompt mode=snippets shared_prefix_tokens={} budget={}",
                     (*count_tokens)(prompter->shared_prefix()), flags.prompt_budget);
        return Shared(std::make_shared<const TutorPrompter>(std::move(*prompter)));
    }
    if (!flags.fallback) return prompter.error();
    spdlog::warn("event=prompt_fallback code={} reason=\"{}\"", prompter.error().code,
                 prompter.error().message);
    return Shared(std::make_shared<const TutorPrompter>(TutorPrompter::fallback(
        fixed_prompt, prompter.error(), count_tokens ? *count_tokens : TokenCounter())));
}

}  // namespace mimir::cli
