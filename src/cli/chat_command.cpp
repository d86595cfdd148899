// mimir chat: a terminal chat with the model that the fallback chain loads, streaming each reply.
#include <spdlog/spdlog.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "agent/history_budget.h"
#include "agent/tutor_prompt.h"
#include "agent/tutor_prompter.h"
#include "cli/commands.h"
#include "cli/model_flags.h"
#include "cli/prompt_flags.h"
#include "model/engine.h"
#include "model/model_session.h"
#include "model/token_counter.h"

namespace mimir::cli {

namespace {

struct ChatOptions {
    ModelPaths paths;
    EngineOptions engine{.n_parallel = 1};
    SamplingParams sampling;
    SystemPromptFlags system_prompt;
    std::string history_budget = "auto";
    GuardSettings guard;
    TutorPromptFlags tutor_prompt;
    bool verbose = false;
};

void print_load_failure(const ModelInfo& info) {
    std::cerr << "mimir chat: " << info.error << "\n";
    for (const TierAttempt& attempt : info.attempts) {
        if (!attempt.ok && attempt.error.code != "not_configured") {
            std::cerr << "  " << tier_name(attempt.tier) << ": " << attempt.error.code << ": "
                      << attempt.error.message << "\n";
        }
    }
    std::cerr << "Give a model with --base (or --fine-tuned / --adapter), or MIMIR_BASE; "
                 "`mimir model tiny --out F` writes a small test model.\n";
}

// One reply: streams text to stdout as the response guard lets it through and returns the finished result,
// whose text is what was shown (the history keeps that).
Result<GenerationResult> reply(Engine& engine, const std::vector<ChatMessage>& messages,
                               const ChatOptions& options) {
    GenerationRequest request;
    request.messages = messages;
    request.sampling = options.sampling;
    Result<std::unique_ptr<GenerationHandle>> handle = engine.submit(std::move(request));
    if (!handle) return handle.error();
    ResponseGuard guard(options.guard);
    std::string shown;
    for (;;) {
        GenerationEvent event = (*handle)->next(std::chrono::seconds(1));
        if (event.kind == GenerationEvent::Kind::Text) {
            const std::string text = guard.push(event.text);
            std::cout << text << std::flush;
            shown += text;
            if (guard.stopped()) (*handle)->cancel();
        }
        if (event.kind == GenerationEvent::Kind::Finished) {
            const std::string rest = guard.finish();
            std::cout << rest << std::flush;
            if (options.guard.enabled) event.result.text = shown + rest;
            if (guard.stopped()) event.result.finish_reason = "length";
            return std::move(event.result);
        }
        if (event.kind == GenerationEvent::Kind::Failed) return std::move(event.error);
    }
}

int run_chat(const ChatOptions& options) {
    if (!options.verbose) spdlog::set_level(spdlog::level::warn);
    Result<std::string> system_prompt = chosen_system_prompt(options.system_prompt);
    if (!system_prompt) {
        std::cerr << "mimir chat: " << system_prompt.error().message << "\n";
        return 2;
    }
    const ModelPaths paths = ModelPaths::from_environment().overridden_by(options.paths);
    Result<std::shared_ptr<const TutorPrompter>> prompter =
        tutor_prompter_for(options.tutor_prompt, *system_prompt, system_prompt_given(options.system_prompt),
                           tokenizer_path_for(paths));
    if (!prompter) {
        std::cerr << "mimir chat: " << prompter.error().message << "\n";
        return 2;
    }
    // The tutor prompt (its always-present part) is computed while the student types the first question.
    ModelSession session(paths, SessionOptions{.engine = options.engine,
                                               .system_prompt = (*prompter)->shared_prefix(),
                                               .prefill_in_background = true});
    const OpenedModel opened = session.open();
    const ModelInfo& info = opened.info;
    if (!opened.engine) {
        print_load_failure(info);
        return 1;
    }
    Engine& engine = *opened.engine;
    const int history_budget = chosen_history_budget(options.history_budget, options.engine);
    const TokenCounter count_tokens =
        token_counter_of(std::shared_ptr<const LoadedModel>(opened.engine, &engine.model()));
    std::cerr << "model: " << info.model_type() << " (" << info.architecture << ", "
              << format_count(info.n_params) << " parameters), context " << engine.context_size()
              << " tokens. /reset starts over, /quit or end of input exits.\n";

    std::vector<ChatMessage> history;
    std::string line;
    while (std::cout << "\nyou> " << std::flush, std::getline(std::cin, line)) {
        if (line == "/quit" || line == "/exit") break;
        if (line == "/reset") {
            history.clear();
            std::cout << "(conversation cleared)\n";
            continue;
        }
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        std::vector<ChatMessage> messages = history;
        messages.push_back({"user", line});
        int dropped_turns = 0;
        if (history_budget > 0) {
            FittedHistory fitted = fit_history(std::move(messages), history_budget, count_tokens);
            messages = std::move(fitted.messages);
            dropped_turns = fitted.dropped_turns;
        }
        const PromptChoice choice = (*prompter)->choose(messages);
        if (options.verbose) std::cerr << "(" << describe_choice(choice) << ")\n";
        std::cout << "mimir> " << std::flush;
        Result<GenerationResult> result = reply(engine, with_prompt_choice(messages, choice), options);
        std::cout << "\n";
        if (!result) {
            std::cerr << "error: " << result.error().code << ": " << result.error().message << "\n";
            continue;  // the turn is not kept; the student can rephrase
        }
        history = std::move(messages);
        if (!result->text.empty()) history.push_back({"assistant", result->text});
        if (dropped_turns > 0) {
            std::cerr << "(the oldest " << dropped_turns << " turns no longer fit the history budget of "
                      << history_budget << " tokens)\n";
        }
        if (result->dropped_messages > 0) {
            std::cerr << "(the oldest " << result->dropped_messages
                      << " messages no longer fit the context)\n";
        }
        if (options.verbose) {
            std::cerr << "(" << result->completion_tokens << " tokens, " << result->cached_prompt_tokens
                      << "/" << result->prompt_tokens << " prompt tokens cached, first token "
                      << static_cast<int>(result->time_to_first_token_ms) << " ms, finish "
                      << result->finish_reason << ")\n";
        }
    }
    std::cout << "\n";
    return 0;
}

}  // namespace

void register_chat_command(CLI::App& app, int& exit_code) {
    auto options = std::make_shared<ChatOptions>();
    CLI::App* chat = app.add_subcommand(
        "chat",
        "Chat with the model in the terminal: replies stream as they are generated; /reset starts over, "
        "/quit or end of input exits");
    add_model_path_flags(*chat, options->paths);
    add_engine_flags(*chat, options->engine, false);
    add_sampling_flags(*chat, options->sampling);
    add_system_prompt_flags(*chat, options->system_prompt);
    add_history_budget_flag(*chat, options->history_budget);
    add_response_guard_flags(*chat, options->guard);
    add_tutor_prompt_flags(*chat, options->tutor_prompt);
    chat->add_flag("--verbose", options->verbose, "Log events and per-reply token counts to stderr");
    chat->callback([options, &exit_code] { exit_code = run_chat(*options); });
}

}  // namespace mimir::cli
