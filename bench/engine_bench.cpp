// Measures Mimir's generation engine the way bench/run_engine_bench.sh compares it with llama.cpp's own
// tools: single-stream decode (vs llama-bench tg128), prompt processing (vs pp512), aggregate rate of 4
// concurrent streams, time to first token of a new conversation with a ~500-token system prompt cached or
// not, the same with a tutor prompt built from snippets against the fixed prompt (`--only snippets`), and
// peak RSS (`--rss-only`, vs llama-completion). Prints one `key=value` line per figure.
// Only one engine at a time runs in this process, and nothing else decodes: each thread that runs llama.cpp
// owns an OpenMP team, and with more team threads than cores libgomp stops spinning between graph ops and
// sleeps instead, which halves small-batch decode speed (the references run as separate processes).
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/tutor_prompt.h"
#include "model/chat_prompt.h"
#include "model/engine.h"
#include "model/llama_handles.h"
#include "model/model_manager.h"
#include "support/files.h"

namespace mimir {
namespace {

struct BenchOptions {
    std::string model_path;
    int n_threads = 0;
    int n_ctx = 4096;
    int repetitions = 3;
    bool rss_only = false;
    std::vector<std::string> only;  // figures to measure; empty = all
    // The snippets figure: the always-present prefix and the snippets chosen from (files), and how many new
    // conversations each prompt serves.
    std::vector<std::string> prompt_prefix_files;
    std::vector<std::string> snippet_files;
    int students = 24;
    bool wants(const std::string& figure) const {
        return only.empty() || std::find(only.begin(), only.end(), figure) != only.end();
    }
};

// Load from other processes only ever slows a run down, so the best of several runs is the least noisy.
double best_rate(const std::vector<double>& rates) {
    return rates.empty() ? 0 : *std::max_element(rates.begin(), rates.end());
}
double best_time(const std::vector<double>& times) {
    return times.empty() ? 0 : *std::min_element(times.begin(), times.end());
}

std::unique_ptr<Engine> make_engine(const std::shared_ptr<const LoadedModel>& model,
                                    const BenchOptions& options, int n_parallel,
                                    int n_recent_system_prompts = EngineOptions{}.n_recent_system_prompts) {
    EngineOptions engine_options;
    engine_options.n_recent_system_prompts = n_recent_system_prompts;
    engine_options.n_ctx = options.n_ctx;
    engine_options.n_parallel = n_parallel;
    engine_options.n_threads = options.n_threads;
    Result<std::unique_ptr<Engine>> engine = Engine::create(model, engine_options);
    if (!engine) {
        std::cerr << "engine_bench: " << engine.error().message << "\n";
        std::exit(1);
    }
    return std::move(*engine);
}

// Greedy, no penalty, never stopping early: the same work as llama-bench, plus sampling.
GenerationRequest fixed_length(std::vector<ChatMessage> messages, int max_tokens) {
    GenerationRequest request;
    request.messages = std::move(messages);
    request.sampling.temperature = 0;
    request.sampling.top_k = 0;
    request.sampling.repeat_penalty = 1.0f;
    request.sampling.max_tokens = max_tokens;
    request.sampling.ignore_end_of_turn = true;
    return request;
}

GenerationResult run(Engine& engine, GenerationRequest request) {
    Result<GenerationResult> result = engine.generate(std::move(request));
    if (!result) {
        std::cerr << "engine_bench: generation failed: " << result.error().message << "\n";
        std::exit(1);
    }
    return *result;
}

// A user message whose chat prompt is `n_tokens` long (within a token or two), different for each `tag`.
std::string text_of_tokens(const LoadedModel& model, int n_tokens, const std::string& role, int tag) {
    static const char* words[] = {"fraction", "denominator", "equation", "triangle", "molecule", "verb",
                                  "history",  "energy",      "variable", "proof",    "planet",   "syllable"};
    std::string text = "Note " + std::to_string(tag) + ":";
    for (int i = 0;; ++i) {
        std::vector<ChatMessage> messages{{role, text}};
        Result<ChatPrompt> prompt = build_chat_prompt(model.model.get(), messages, 1 << 20, 1 << 20);
        if (prompt && static_cast<int>(prompt->tokens.size()) >= n_tokens) return text;
        text += " ";
        text += words[(i * 7 + tag) % 12];
    }
}

void print(const char* key, double value) {
    std::printf("%s=%.2f\n", key, value);
}

void bench_decode(const std::shared_ptr<const LoadedModel>& model, const BenchOptions& options) {
    auto engine = make_engine(model, options, 1);
    // Warm-up: the first tokens page the memory-mapped weights in, which is not decoding speed.
    run(*engine, fixed_length({{"user", "Warm-up"}}, 4));
    std::vector<double> rates;
    for (int r = 0; r < options.repetitions; ++r) {
        GenerationResult result =
            run(*engine, fixed_length({{"user", "Decode run " + std::to_string(r)}}, 129));
        rates.push_back((result.completion_tokens - 1) /
                        ((result.total_ms - result.time_to_first_token_ms) / 1000));
    }
    print("decode_tokens_per_s", best_rate(rates));
}

void bench_prompt(const std::shared_ptr<const LoadedModel>& model, const BenchOptions& options) {
    auto engine = make_engine(model, options, 1);
    // Warm-up, as llama-bench runs one: the first 512-token batch sizes llama.cpp's compute buffers.
    run(*engine, fixed_length({{"user", text_of_tokens(*model, 512, "user", 99)}}, 1));
    std::vector<double> rates;
    for (int r = 0; r < options.repetitions; ++r) {
        GenerationResult result =
            run(*engine, fixed_length({{"user", text_of_tokens(*model, 512, "user", r)}}, 1));
        const int computed = result.prompt_tokens - result.cached_prompt_tokens;
        rates.push_back(computed / (result.time_to_first_token_ms / 1000));
    }
    print("prompt_tokens_per_s", best_rate(rates));
}

// Wall-clock rate of `n_streams` clients generating 128 tokens each at the same time.
double streams_rate(const std::shared_ptr<const LoadedModel>& model, const BenchOptions& options,
                    int n_streams) {
    auto engine = make_engine(model, options, n_streams);
    std::vector<double> rates;
    for (int r = 0; r < options.repetitions; ++r) {
        std::vector<int> tokens(static_cast<size_t>(n_streams));
        const auto start = std::chrono::steady_clock::now();
        std::vector<std::thread> clients;
        for (int i = 0; i < n_streams; ++i) {
            clients.emplace_back([&, i] {
                const std::string question = "Stream " + std::to_string(i) + " run " + std::to_string(r);
                tokens[static_cast<size_t>(i)] =
                    run(*engine, fixed_length({{"user", question}}, 128)).completion_tokens;
            });
        }
        for (std::thread& client : clients) client.join();
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        int total = 0;
        for (int n : tokens) total += n;
        rates.push_back(total / seconds);
    }
    return best_rate(rates);
}

void bench_time_to_first_token(const std::shared_ptr<const LoadedModel>& model, const BenchOptions& options) {
    std::vector<double> uncached, cached;
    int system_tokens = 0;
    for (int r = 0; r < options.repetitions; ++r) {
        auto engine = make_engine(model, options, 4);
        const std::string system = text_of_tokens(*model, 500, "system", 100 + r);
        GenerationResult first =
            run(*engine, fixed_length({{"system", system}, {"user", "How do I add fractions?"}}, 1));
        GenerationResult second =
            run(*engine, fixed_length({{"system", system}, {"user", "Why is the sky blue?"}}, 1));
        uncached.push_back(first.time_to_first_token_ms);
        cached.push_back(second.time_to_first_token_ms);
        system_tokens = second.cached_prompt_tokens;
    }
    print("system_prompt_tokens_cached", system_tokens);
    print("ttft_new_conversation_uncached_ms", best_time(uncached));
    print("ttft_new_conversation_cached_ms", best_time(cached));
}

std::string read_prompt_file(const std::string& path) {
    Result<std::string> text = read_text_file(path);
    if (!text) {
        std::cerr << "engine_bench: " << text.error().message << "\n";
        std::exit(1);
    }
    // The prompter joins the prefix and the snippets with blank lines; a file's last newline is not text.
    std::string prompt = std::move(*text);
    while (!prompt.empty() && (prompt.back() == '\n' || prompt.back() == '\r' || prompt.back() == ' '))
        prompt.pop_back();
    return prompt;
}

double median(std::vector<double> values) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    const size_t mid = values.size() / 2;
    return values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

// The snippet combinations students rotate among: each snippet alone, and every second one followed by
// the next, so about half the conversations carry two snippets.
std::vector<std::string> snippet_prompts(const std::string& prefix,
                                         const std::vector<std::string>& snippets) {
    std::vector<std::string> prompts;
    for (size_t i = 0; i < snippets.size(); ++i) {
        std::string prompt = prefix + "\n\n" + snippets[i];
        if (i % 2 == 1) prompt += "\n\n" + snippets[(i + 1) % snippets.size()];
        prompts.push_back(std::move(prompt));
    }
    return prompts;
}

struct NewConversations {
    std::vector<double> all_ms;  // time to first token of every new conversation
    std::vector<double>
        known_ms;  // of those whose system prompt an earlier conversation (or the prefill) had
    double prompt_tokens = 0, cached_tokens = 0;  // means
};

// `students` new conversations one after another on an idle 4-slot engine whose pinned prompt is `pinned`,
// student s with system prompt systems[s % n] and a question of its own.
NewConversations new_conversations(const std::shared_ptr<const LoadedModel>& model,
                                   const BenchOptions& options, const std::string& pinned,
                                   const std::vector<std::string>& systems, int n_recent_system_prompts) {
    static const char* questions[] = {"How do I add fractions with different denominators?",
                                      "Can you check the thesis of my essay?",
                                      "What will the test on cell biology cover?",
                                      "Why does my loop never stop?",
                                      "I am stressed about my exams next week.",
                                      "Who won the football game yesterday?",
                                      "Can you just write my history homework for me?",
                                      "What is the difference between speed and velocity?"};
    auto engine = make_engine(model, options, 4, n_recent_system_prompts);
    if (Result<int> prefilled = engine->prefill_system_prompt(pinned); !prefilled) {
        std::cerr << "engine_bench: prefill failed: " << prefilled.error().message << "\n";
        std::exit(1);
    }
    run(*engine, fixed_length({{"system", pinned}, {"user", "Warm-up"}}, 1));
    NewConversations out;
    std::set<std::string> known = {pinned};
    for (int s = 0; s < options.students; ++s) {
        const std::string& system = systems[static_cast<size_t>(s) % systems.size()];
        const std::string question = std::string(questions[s % 8]) + " (student " + std::to_string(s) + ")";
        GenerationResult result = run(*engine, fixed_length({{"system", system}, {"user", question}}, 1));
        out.all_ms.push_back(result.time_to_first_token_ms);
        if (!known.insert(system).second) out.known_ms.push_back(result.time_to_first_token_ms);
        out.prompt_tokens += result.prompt_tokens / static_cast<double>(options.students);
        out.cached_tokens += result.cached_prompt_tokens / static_cast<double>(options.students);
    }
    return out;
}

// Time to first token of a new conversation with today's fixed tutor prompt against prompts built from the
// always-present prefix and 1 or 2 snippets chosen per student, with the recent snippet combinations kept
// (the engine's default) and with only the pinned prefix shared. Best of the repetitions' medians.
void bench_snippet_prompts(const std::shared_ptr<const LoadedModel>& model, const BenchOptions& options) {
    std::string prefix;
    for (const std::string& file : options.prompt_prefix_files)
        prefix += (prefix.empty() ? "" : "\n\n") + read_prompt_file(file);
    std::vector<std::string> snippets;
    for (const std::string& file : options.snippet_files) snippets.push_back(read_prompt_file(file));
    const std::vector<std::string> prompts = snippet_prompts(prefix, snippets);
    const std::string& fixed = default_tutor_system_prompt();
    // A fixed prompt as long as a two-snippet one: what the length alone costs (more KV cells to attend).
    const std::string& long_fixed = prompts[1 % prompts.size()];
    std::vector<double> fixed_ms, long_fixed_ms, snippets_ms, snippets_all_ms, pinned_only_ms;
    NewConversations last_fixed, last_long_fixed, last_snippets;
    for (int r = 0; r < options.repetitions; ++r) {
        last_fixed =
            new_conversations(model, options, fixed, {fixed}, EngineOptions{}.n_recent_system_prompts);
        last_long_fixed = new_conversations(model, options, long_fixed, {long_fixed},
                                            EngineOptions{}.n_recent_system_prompts);
        long_fixed_ms.push_back(median(last_long_fixed.all_ms));
        last_snippets =
            new_conversations(model, options, prefix, prompts, EngineOptions{}.n_recent_system_prompts);
        const NewConversations pinned_only = new_conversations(model, options, prefix, prompts, 0);
        fixed_ms.push_back(median(last_fixed.all_ms));
        snippets_ms.push_back(median(last_snippets.known_ms));
        snippets_all_ms.push_back(median(last_snippets.all_ms));
        pinned_only_ms.push_back(median(pinned_only.all_ms));
    }
    print("snippet_combinations", static_cast<double>(prompts.size()));
    print("fixed_prompt_tokens_mean", last_fixed.prompt_tokens);
    print("fixed_cached_tokens_mean", last_fixed.cached_tokens);
    print("long_fixed_prompt_tokens_mean", last_long_fixed.prompt_tokens);
    print("snippets_prompt_tokens_mean", last_snippets.prompt_tokens);
    print("snippets_cached_tokens_mean", last_snippets.cached_tokens);
    print("ttft_fixed_ms", best_time(fixed_ms));
    print("ttft_long_fixed_ms", best_time(long_fixed_ms));
    print("ttft_snippets_seen_ms", best_time(snippets_ms));
    print("ttft_snippets_all_ms", best_time(snippets_all_ms));
    print("ttft_snippets_pinned_only_ms", best_time(pinned_only_ms));
    print("ttft_snippets_vs_fixed", best_time(snippets_ms) / best_time(fixed_ms));
}

void bench_peak_rss(const std::shared_ptr<const LoadedModel>& model, const BenchOptions& options) {
    auto engine = make_engine(model, options, 4);
    run(*engine, fixed_length({{"user", "I believe the meaning of life is"}}, 16));
    print("peak_rss_mb", static_cast<double>(peak_resident_memory_bytes()) / (1024.0 * 1024.0));
}

}  // namespace
}  // namespace mimir

int main(int argc, char** argv) {
    using namespace mimir;
    BenchOptions options;
    CLI::App app{"Benchmarks Mimir's generation engine (see bench/run_engine_bench.sh)"};
    app.add_option("--model", options.model_path, "GGUF model")->required();
    app.add_option("--threads", options.n_threads, "CPU threads (0 = all cores)")->capture_default_str();
    app.add_option("--ctx", options.n_ctx, "Context size")->capture_default_str();
    app.add_option("--repetitions", options.repetitions, "Runs per figure (the best is printed)")
        ->capture_default_str();
    app.add_flag("--rss-only", options.rss_only, "Only load, generate 16 tokens and print peak RSS");
    app.add_option("--only", options.only, "Measure only these figures (e.g. to profile one)")
        ->check(CLI::IsMember({"decode", "prompt", "streams", "ttft", "snippets"}));
    app.add_option("--prompt-prefix", options.prompt_prefix_files,
                   "snippets: the always-present part of the tutor prompt (identity, tone), text files "
                   "joined with blank lines in the order given")
        ->check(CLI::ExistingFile);
    app.add_option("--snippet", options.snippet_files,
                   "snippets: a snippet file; give several (1 or 2 are chosen per conversation)")
        ->check(CLI::ExistingFile);
    app.add_option("--students", options.students, "snippets: new conversations per prompt kind")
        ->capture_default_str()
        ->check(CLI::Range(2, 10000));
    CLI11_PARSE(app, argc, argv);
    spdlog::set_level(spdlog::level::warn);

    ModelPaths paths;
    paths.base = options.model_path;
    ModelManager manager(paths);
    const ModelInfo info = manager.load_with_fallback();
    std::shared_ptr<const LoadedModel> model = manager.current();
    if (!model) {
        std::cerr << "engine_bench: cannot load " << options.model_path << ": " << info.error << "\n";
        return 1;
    }
    if (options.rss_only) {
        bench_peak_rss(model, options);
        return 0;
    }
    if (options.wants("decode")) bench_decode(model, options);
    if (options.wants("prompt")) bench_prompt(model, options);
    if (options.wants("streams")) {
        const double one = streams_rate(model, options, 1);
        const double four = streams_rate(model, options, 4);
        print("one_stream_tokens_per_s", one);
        print("four_streams_tokens_per_s", four);
    }
    if (options.wants("ttft")) bench_time_to_first_token(model, options);
    if (options.wants("snippets")) {
        if (options.prompt_prefix_files.empty() || options.snippet_files.empty()) {
            if (!options.only.empty()) {
                std::cerr << "engine_bench: --only snippets needs --prompt-prefix and --snippet\n";
                return 2;
            }
        } else {
            bench_snippet_prompts(model, options);
        }
    }
    return 0;
}
