// mimir chat: a terminal chat with the model that the fallback chain loads, streaming each reply.
#include <spdlog/spdlog.h>

#include <future>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "agent/tutor_prompt.h"
#include "cli/commands.h"
#include "model/engine.h"
#include "model/model_manager.h"

namespace mimir::cli {

namespace {

struct ChatOptions {
    ModelPaths paths;
    EngineOptions engine;
    SamplingParams sampling;
    std::string system_prompt = default_tutor_system_prompt();
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

// One reply: streams text to stdout as it arrives and returns the finished result.
Result<GenerationResult> reply(Engine& engine, const std::vector<ChatMessage>& messages,
                               const ChatOptions& options) {
    GenerationRequest request;
    request.messages = messages;
    request.sampling = options.sampling;
    Result<std::unique_ptr<GenerationHandle>> handle = engine.submit(std::move(request));
    if (!handle) return handle.error();
    for (;;) {
        GenerationEvent event = (*handle)->next(std::chrono::seconds(1));
        if (event.kind == GenerationEvent::Kind::Text) std::cout << event.text << std::flush;
        if (event.kind == GenerationEvent::Kind::Finished) return std::move(event.result);
        if (event.kind == GenerationEvent::Kind::Failed) return std::move(event.error);
    }
}

int run_chat(const ChatOptions& options) {
    if (!options.verbose) spdlog::set_level(spdlog::level::warn);
    ModelManager manager(ModelPaths::from_environment().overridden_by(options.paths));
    const ModelInfo info = manager.load_with_fallback();
    std::shared_ptr<const LoadedModel> model = manager.current();
    if (!model) {
        print_load_failure(info);
        return 1;
    }
    Result<std::unique_ptr<Engine>> engine = Engine::create(model, options.engine);
    if (!engine) {
        std::cerr << "mimir chat: " << engine.error().code << ": " << engine.error().message << "\n";
        return 1;
    }
    // The tutor prompt is computed while the student types the first question. The future waits for it
    // when it goes out of scope, before the engine does.
    std::future<Result<int>> prefill;
    if (!options.system_prompt.empty()) {
        Engine& running = **engine;
        prefill = std::async(std::launch::async, [&running, prompt = options.system_prompt] {
            return running.prefill_system_prompt(prompt);
        });
    }
    std::cerr << "model: " << info.model_type << " (" << info.architecture << ", "
              << format_count(info.n_params) << " parameters), context " << (*engine)->context_size()
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
        std::cout << "mimir> " << std::flush;
        Result<GenerationResult> result =
            reply(**engine, with_tutor_system_prompt(messages, options.system_prompt), options);
        std::cout << "\n";
        if (!result) {
            std::cerr << "error: " << result.error().code << ": " << result.error().message << "\n";
            continue;  // the turn is not kept; the student can rephrase
        }
        history = std::move(messages);
        if (!result->text.empty()) history.push_back({"assistant", result->text});
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
    options->engine.n_parallel = 1;
    CLI::App* chat = app.add_subcommand(
        "chat",
        "Chat with the model in the terminal: replies stream as they are generated; /reset starts over, "
        "/quit or end of input exits");
    chat->add_option("--fine-tuned", options->paths.fine_tuned,
                     "Fine-tuned GGUF, tier 1 (env MIMIR_FINE_TUNED)");
    chat->add_option("--adapter", options->paths.adapter,
                     "LoRA adapter GGUF for the base, tier 2 (env MIMIR_ADAPTER)");
    chat->add_option("--base", options->paths.base, "Base model GGUF, tier 3 (env MIMIR_BASE)");
    chat->add_option("--ctx", options->engine.n_ctx, "Context size in tokens")->capture_default_str();
    chat->add_option("--threads", options->engine.n_threads, "CPU threads (0 = all cores)")
        ->capture_default_str();
    chat->add_option("--temperature", options->sampling.temperature, "Sampling temperature (0 = greedy)")
        ->capture_default_str();
    chat->add_option("--top-p", options->sampling.top_p, "Nucleus sampling threshold")->capture_default_str();
    chat->add_option("--top-k", options->sampling.top_k, "Sample among the k likeliest tokens (0 = off)")
        ->capture_default_str();
    chat->add_option("--repeat-penalty", options->sampling.repeat_penalty,
                     "Penalty for repeated tokens (1 = off)")
        ->capture_default_str();
    chat->add_option("--seed", options->sampling.seed, "Random seed (4294967295 = random)")
        ->capture_default_str();
    chat->add_option("--max-tokens", options->sampling.max_tokens, "Longest reply in tokens")
        ->capture_default_str();
    chat->add_option("--system-prompt", options->system_prompt,
                     "System prompt (default: the tutor prompt; \"\" = none)");
    chat->add_flag("--verbose", options->verbose, "Log events and per-reply token counts to stderr");
    chat->callback([options, &exit_code] { exit_code = run_chat(*options); });
}

}  // namespace mimir::cli
