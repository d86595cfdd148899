#include "cli/model_flags.h"

#include "agent/history_budget.h"
#include "agent/tutor_prompt.h"
#include "model/sampling_limits.h"
#include "promote/models_folder.h"
#include "support/files.h"

namespace mimir::cli {

void add_model_path_flags(CLI::App& command, ModelPaths& paths) {
    CLI::Option* fine_tuned = command.add_option("--fine-tuned", paths.fine_tuned,
                                                 "Fine-tuned GGUF, tier 1 [env MIMIR_FINE_TUNED]");
    CLI::Option* adapter = command.add_option("--adapter", paths.adapter,
                                              "LoRA adapter GGUF for the base, tier 2 [env MIMIR_ADAPTER]");
    command.add_option("--base", paths.base, "Base model GGUF, tier 3 [env MIMIR_BASE]");
    command
        .add_option_function<std::string>(
            "--models",
            [&paths](const std::string& dir) {
                const ModelPaths served = promote::ModelsFolder(dir).served_paths("");
                paths.fine_tuned = served.fine_tuned;
                paths.adapter = served.adapter;
            },
            "Folder managed by mimir promote: tiers 1 and 2 are DIR/current's files (with --base); a reload "
            "follows the current link")
        ->excludes(fine_tuned)
        ->excludes(adapter);
}

void add_engine_flags(CLI::App& command, EngineOptions& engine, bool with_parallel) {
    command.add_option("--ctx", engine.n_ctx, "Context size in tokens, shared by all parallel conversations")
        ->capture_default_str()
        ->check(CLI::Range(256, 1 << 20));
    command.add_option("--threads", engine.n_threads, "CPU threads for decoding (0 = all cores)")
        ->capture_default_str()
        ->check(CLI::Range(0, 1024));
    if (with_parallel) {
        command.add_option("--parallel", engine.n_parallel, "Conversations decoded together")
            ->capture_default_str()
            ->check(CLI::Range(1, 64));
    }
}

void add_history_budget_flag(CLI::App& command, std::string& budget) {
    command
        .add_option(
            "--history-budget", budget,
            "Tokens of conversation history kept per request, oldest whole turns dropped first; the "
            "system prompt and the last question always stay. auto = half of one conversation's "
            "share of the context (ctx / parallel / 2), leaving the other half for the reply; 0 = off")
        ->capture_default_str()
        ->check(CLI::IsMember({"auto"}) | CLI::Range(0, 1 << 20));
}

int chosen_history_budget(const std::string& budget, const EngineOptions& engine) {
    if (budget == "auto") return default_history_budget(engine.n_ctx, engine.n_parallel);
    return std::stoi(budget);  // checked by the flag
}

void add_sampling_flags(CLI::App& command, SamplingParams& sampling) {
    using Limits = SamplingLimits;
    command.add_option("--temperature", sampling.temperature, "Sampling temperature (0 = greedy)")
        ->capture_default_str()
        ->check(CLI::Range(Limits::kMinTemperature, Limits::kMaxTemperature));
    command.add_option("--top-p", sampling.top_p, "Nucleus sampling threshold, above 0")
        ->capture_default_str()
        ->check(CLI::Range(Limits::kMinTopPExclusive, Limits::kMaxTopP));
    command.add_option("--top-k", sampling.top_k, "Sample among the k likeliest tokens (0 = off)")
        ->capture_default_str()
        ->check(CLI::Range(Limits::kMinTopK, Limits::kMaxTopK));
    command.add_option("--repeat-penalty", sampling.repeat_penalty, "Penalty for repeated tokens (1 = off)")
        ->capture_default_str()
        ->check(CLI::Range(Limits::kMinRepeatPenalty, Limits::kMaxRepeatPenalty));
    command.add_option("--seed", sampling.seed, "Random seed (4294967295 = random)")->capture_default_str();
    command.add_option("--max-tokens", sampling.max_tokens, "Longest reply in tokens")
        ->capture_default_str()
        ->check(CLI::Range(Limits::kMinMaxTokens, 1 << 20));
}

void add_system_prompt_flags(CLI::App& command, SystemPromptFlags& flags) {
    CLI::Option* file = command
                            .add_option("--system-prompt-file", flags.file,
                                        "Read the tutor system prompt from this file instead of the default")
                            ->check(CLI::ExistingFile);
    command
        .add_option("--system-prompt", flags.text,
                    "The tutor system prompt as text, or \"none\" for no system prompt (default: Mimir's "
                    "tutor prompt)")
        ->excludes(file);
}

void add_response_guard_flags(CLI::App& command, GuardSettings& guard) {
    command
        .add_option_function<std::string>(
            "--response-guard", [&guard](const std::string& value) { guard.enabled = value == "on"; },
            "Repair each reply before the student sees it: remove emoticons and emoji, tame dash and "
            "exclamation runs, cut an over-long reply after its last complete sentence (default on)")
        ->check(CLI::IsMember({"on", "off"}))
        ->default_str("on");
    command
        .add_option("--guard-max-words", guard.max_words,
                    "The response guard cuts a reply longer than this many words (0 = no limit)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
}

Result<std::string> chosen_system_prompt(const SystemPromptFlags& flags) {
    if (!flags.file.empty()) {
        Result<std::string> text = read_text_file(flags.file);
        if (!text) return Error{text.error().code, "system prompt: " + text.error().message};
        return text;
    }
    if (flags.text == "none") return std::string();
    if (!flags.text.empty()) return flags.text;
    return default_tutor_system_prompt();
}

}  // namespace mimir::cli
