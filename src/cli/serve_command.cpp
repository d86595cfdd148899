// mimir serve: flags -> ServeOptions, then start the server, load the models, and serve until SIGINT or
// SIGTERM.
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <thread>

#include "cli/commands.h"
#include "cli/demo_serving.h"
#include "cli/model_flags.h"
#include "cli/prompt_flags.h"
#include "serve/server.h"

namespace mimir::cli {

namespace {

struct ServeFlags {
    serve::ServeOptions options;
    ModelPaths paths;
    SystemPromptFlags system_prompt;
    std::string history_budget = "auto";
    TutorPromptFlags tutor_prompt;
    bool demo = false;
    std::string demo_data = "data/mimir_fine_tuning.csv";
    std::string demo_cache;
    int demo_threads = 0;
};

// Where feedback goes when --data is not given: $MIMIR_DATA, else the persistent /data of a Hugging Face
// Space (where scripts/demo.sh finds its models) when it exists, else mimir-data/ in the working folder.
std::string default_data_location() {
    if (const char* data = std::getenv("MIMIR_DATA"); data && *data) return data;
    std::error_code error;
    if (std::filesystem::is_directory("/data", error)) return "/data/feedback.db";
    return "mimir-data/feedback.db";
}

// The phrase lists mimir eval reads by default (data/checks, from the repository root); a server started
// elsewhere without --phrases (a test's folder) uses the copy in the source tree this binary was built from.
std::string default_phrases_dir() {
    return default_data_path("data/checks");
}

// With --demo, the tiers nobody named point at the demo build's files.
ModelPaths paths_for(const ServeFlags& flags, const std::string& demo_cache) {
    ModelPaths paths = ModelPaths::from_environment().overridden_by(flags.paths);
    if (!flags.demo || !(paths.fine_tuned.empty() && paths.adapter.empty() && paths.base.empty()))
        return paths;
    const DemoServePaths demo = demo_serve_paths(demo_cache);
    return ModelPaths{.fine_tuned = demo.fine_tuned, .adapter = demo.adapter, .base = demo.base};
}

int run_serve(ServeFlags flags) {
    Result<std::string> prompt = chosen_system_prompt(flags.system_prompt);
    if (!prompt) {
        spdlog::error("event=serve_failed reason=\"{}\"", prompt.error().message);
        return 2;
    }
    flags.options.history_budget = chosen_history_budget(flags.history_budget, flags.options.engine);
    const std::string demo_cache = flags.demo_cache.empty() ? default_demo_cache_dir() : flags.demo_cache;
    const ModelPaths paths = paths_for(flags, demo_cache);
    // Snippets and classifier are checked before anything starts: a bad file refuses to serve (or, with
    // --prompt-fallback, the fixed prompt serves). The engine's shared KV is the always-present part.
    Result<std::shared_ptr<const TutorPrompter>> prompter = tutor_prompter_for(
        flags.tutor_prompt, *prompt, system_prompt_given(flags.system_prompt), tokenizer_path_for(paths));
    if (!prompter) {
        spdlog::error("event=serve_failed code={} reason=\"{}\"", prompter.error().code,
                      prompter.error().message);
        return 2;
    }
    flags.options.tutor_prompter = *prompter;
    flags.options.system_prompt = (*prompter)->shared_prefix();
    if (flags.options.data_location.empty()) flags.options.data_location = default_data_location();
    // Signals go to one waiting thread rather than interrupting whichever thread runs (they stay blocked
    // in every thread the server starts after this).
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    serve::Server server(paths, flags.options);
    if (Status started = server.start(); !started) {
        spdlog::error("event=serve_failed code={} reason=\"{}\"", started.error().code,
                      started.error().message);
        return 1;
    }
    std::thread([&server, signals] {
        int received = 0;
        sigwait(&signals, &received);
        spdlog::info("event=shutdown signal={}", received);
        server.stop();
    }).detach();
    std::unique_ptr<DemoWhileServing> demo;
    if (flags.demo) {
        // Serves at once ("Loading" with the build's progress), then each model as it is ready.
        server.set_activity("Preparing the demo models from " + flags.demo_data);
        demo = std::make_unique<DemoWhileServing>(server, DemoOptions{.data_path = flags.demo_data,
                                                                      .cache_dir = demo_cache,
                                                                      .system_prompt = *prompt,  // as trained
                                                                      .n_threads = flags.demo_threads});
    } else {
        server.reload_models();
    }
    spdlog::info("event=ready url=http://{}:{}/", flags.options.host, server.port());
    server.wait();
    return 0;
}

}  // namespace

void register_serve_command(CLI::App& app, int& exit_code) {
    auto flags = std::make_shared<ServeFlags>();
    serve::ServeOptions& o = flags->options;
    CLI::App* cmd = app.add_subcommand("serve", "Serve the chat page and the OpenAI-compatible API");
    cmd->add_option("--host", o.host, "Address to listen on (0.0.0.0 for all interfaces)")
        ->capture_default_str();
    cmd->add_option("--port", o.port, "Port to listen on")
        ->capture_default_str()
        ->check(CLI::Range(0, 65535));
    add_model_path_flags(*cmd, flags->paths);
    add_engine_flags(*cmd, o.engine, true);
    cmd->add_option("--max-queue", o.engine.max_queue, "Requests that may wait for a slot; more get 429")
        ->capture_default_str()
        ->check(CLI::Range(0, 4096));
    cmd->add_option("--api-key", o.api_key,
                    "Key required by POST /api/models/reload and the review endpoints")
        ->envname("MIMIR_API_KEY");
    cmd->add_option("--max-body-bytes", o.max_body_bytes, "Largest request body accepted (larger get 413)")
        ->capture_default_str()
        ->check(CLI::Range(size_t{1024}, size_t{1} << 30));
    cmd->add_option("--rate-limit", o.rate_limit_per_minute, "Chat requests per minute per client (0 = off)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--rate-burst", o.rate_limit_burst, "Chat requests a client may send at once")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    cmd->add_flag("--trust-proxy", o.trust_forwarded_for,
                  "Behind a reverse proxy (e.g. a Hugging Face Space): rate-limit by X-Forwarded-For");
    cmd->add_option(
        "--data", o.data_location,
        "Feedback store: a SQLite file, or a postgresql:// URL shared by several servers (default: "
        "$MIMIR_DATA, else /data/feedback.db when /data exists, else mimir-data/feedback.db); "
        "the server does not start when it cannot open it");
    CLI::Option* phrases =
        cmd->add_option("--phrases", o.phrases_dir,
                        "Phrase lists of the checks run on submitted rewrites (as mimir eval --phrases; "
                        "when data/checks is not in the working folder, the source tree's)")
            ->capture_default_str();
    cmd->add_option("--feedback-rate-limit", o.feedback_rate_limit_per_minute,
                    "Feedback submissions and checks per minute per client (0 = off)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--feedback-rate-burst", o.feedback_rate_limit_burst,
                    "Feedback requests a client may send at once")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    add_system_prompt_flags(*cmd, flags->system_prompt);
    add_history_budget_flag(*cmd, flags->history_budget);
    add_response_guard_flags(*cmd, o.response_guard);
    add_tutor_prompt_flags(*cmd, flags->tutor_prompt);
    cmd->add_flag("--mmap", o.map_model_files,
                  "Map model files instead of reading them (faster load; overwriting a served file in place "
                  "then crashes the server: replace files with mv)");
    cmd->add_flag(
        "--demo", flags->demo,
        "Serve the demo models, building them from the data set (mimir demo) while serving: the "
        "status goes from base to adapter to fine-tuned as each is ready; a second start is instant");
    cmd->add_option("--demo-data", flags->demo_data, "Data set the demo models are built from")
        ->capture_default_str();
    cmd->add_option("--demo-cache", flags->demo_cache, "Demo model cache (default ~/.cache/mimir/demo)");
    cmd->add_option("--demo-threads", flags->demo_threads,
                    "CPU threads for building the demo (0 = all cores; the server shares them)")
        ->capture_default_str();
    cmd->callback([flags, phrases, &exit_code] {
        if (phrases->count() == 0) flags->options.phrases_dir = default_phrases_dir();
        exit_code = run_serve(*flags);
    });
}

}  // namespace mimir::cli
