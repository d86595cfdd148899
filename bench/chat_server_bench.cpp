// Measures any OpenAI-compatible chat server (`mimir serve`, `llama-server`) from outside, over HTTP with
// streaming, so bench/run_engine_bench.sh can compare the two on the same model:
//  - the aggregate rate of N concurrent fixed-length streams (greedy, ignore_eos, max_tokens), and of one;
//  - time to first token of a new conversation with a ~500-token system prompt, after another conversation
//    with the same system prompt has warmed the server: once with the server idle, once while that other
//    conversation is still streaming; and with a system prompt the server has never seen (cold);
//  - with --first-student, only the time to first token of the first conversation after the server started
//    with its deployment's tutor prompt (--write-system-prompt writes that prompt for the server's flags).
// Prints one `key=value` line per figure.
#include <httplib.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Options {
    std::string host = "127.0.0.1";
    int port = 0;
    int streams = 4;
    int max_tokens = 128;
    int system_words = 330;  // about 500 tokens with the Phi-3 tokenizer and chat template
    int repetitions = 3;
    // Send conversations to /v1/completions as Phi-3 chat-template text instead of /v1/chat/completions
    // (llama-server: its chat endpoint parses every reply and fails the stream with a 500 when a
    // random-weight model's output does not parse; the text endpoint passes it through).
    bool phi3_text_completions = false;
    // Never sample the byte-fallback tokens <0x00>..<0xFF> (ids 3..258 in the Phi-3 vocabulary), so that a
    // random-weight model's reply cannot end inside a broken UTF-8 sequence: llama-server's final parse of
    // such a reply fails the whole stream with a 500. The work per token stays the same.
    bool ban_byte_tokens = false;
    // --first-student: the server was just started with the tutor prompt of --write-system-prompt. With
    // --system-from-server the client leaves it to the server to put it first (`mimir serve
    // --system-prompt-file`); otherwise the client sends it (llama-server has no such setting).
    bool first_student = false;
    bool system_from_server = false;
    std::string write_system_prompt;
};

struct Message {
    std::string role, content;
};

// What one streamed completion took.
struct StreamResult {
    double ttft_ms = 0;  // request sent -> first chunk carrying text
    double total_ms = 0;
    int completion_tokens = 0;  // from the final chunk's usage
    int prompt_tokens = 0;
    std::string finish_reason;
};

double ms_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

[[noreturn]] void die(const std::string& why) {
    std::cerr << "chat_server_bench: " << why << "\n";
    std::exit(1);
}

// Splits the server-sent events of a response body as they arrive and hands each JSON payload on.
class SseParser {
  public:
    template <typename OnEvent>
    void feed(const char* data, size_t size, OnEvent&& on_event) {
        pending_.append(data, size);
        for (size_t end; (end = pending_.find("\n\n")) != std::string::npos;) {
            const std::string event = pending_.substr(0, end);
            pending_.erase(0, end + 2);
            if (event.rfind("data: ", 0) != 0) continue;
            const std::string payload = event.substr(6);
            if (payload == "[DONE]") continue;
            json parsed = json::parse(payload, nullptr, false);
            if (!parsed.is_discarded()) on_event(parsed);
        }
    }

  private:
    std::string pending_;
};

// The Phi-3 chat template (what llama.cpp's built-in "phi3" template and the model's own render).
std::string phi3_chat_text(const std::vector<Message>& messages) {
    std::string text;
    for (const Message& m : messages) text += "<|" + m.role + "|>\n" + m.content + "<|end|>\n";
    return text + "<|assistant|>\n";
}

// One streamed chat completion: greedy, exactly `max_tokens` tokens (end of turn ignored).
// `on_first_text` runs once, when the first text arrives.
StreamResult stream_chat(const Options& options, const std::vector<Message>& messages, int max_tokens,
                         const std::function<void()>& on_first_text = {}) {
    json body = {
        {"model", "bench"},         {"stream", true},   {"stream_options", {{"include_usage", true}}},
        {"max_tokens", max_tokens}, {"temperature", 0}, {"ignore_eos", true}};
    if (options.ban_byte_tokens) {
        json bias = json::array();
        for (int token = 3; token <= 258; ++token) bias.push_back({token, false});
        body["logit_bias"] = bias;
    }
    if (options.phi3_text_completions) {
        body["prompt"] = phi3_chat_text(messages);
    } else {
        body["messages"] = json::array();
        for (const Message& m : messages)
            body["messages"].push_back({{"role", m.role}, {"content", m.content}});
    }

    httplib::Client client(options.host, options.port);
    client.set_read_timeout(std::chrono::minutes(30));
    httplib::Request request;
    request.method = "POST";
    request.path = options.phi3_text_completions ? "/v1/completions" : "/v1/chat/completions";
    request.set_header("Content-Type", "application/json");
    request.body = body.dump();
    StreamResult result;
    SseParser parser;
    std::string error_body;
    const auto start = Clock::now();
    request.content_receiver = [&](const char* data, size_t size, uint64_t, uint64_t) {
        parser.feed(data, size, [&](const json& event) {
            if (event.contains("error")) error_body = event.dump();
            const json choices = event.value("choices", json::array());
            for (const json& choice : choices) {
                const json delta = choice.value("delta", json::object());
                const json text = delta.contains("content") ? delta["content"] : choice.value("text", json());
                const bool has_text = text.is_string() && !text.get<std::string>().empty();
                if (has_text && result.ttft_ms == 0) {
                    result.ttft_ms = ms_between(start, Clock::now());
                    if (on_first_text) on_first_text();
                }
                if (choice.contains("finish_reason") && choice["finish_reason"].is_string()) {
                    result.finish_reason = choice["finish_reason"].get<std::string>();
                }
            }
            if (event.contains("usage") && event["usage"].is_object()) {
                result.completion_tokens = event["usage"].value("completion_tokens", 0);
                result.prompt_tokens = event["usage"].value("prompt_tokens", 0);
            }
        });
        // A non-streamed error body (4xx/5xx) arrives as plain JSON.
        if (error_body.empty() && size > 0 && data[0] == '{') error_body.assign(data, size);
        return true;
    };
    httplib::Response response;
    httplib::Error error = httplib::Error::Success;
    if (!client.send(request, response, error)) die("request failed: " + httplib::to_string(error));
    result.total_ms = ms_between(start, Clock::now());
    if (response.status != 200 || !error_body.empty()) {
        die("server answered " + std::to_string(response.status) + ": " + error_body);
    }
    if (result.completion_tokens == 0) die("the stream ended without usage (completion_tokens)");
    return result;
}

std::string words(int n_words, int tag) {
    static const char* vocabulary[] = {"fraction", "denominator", "equation", "triangle",
                                       "molecule", "verb",        "history",  "energy",
                                       "variable", "proof",       "planet",   "syllable"};
    std::string text = "You are tutor number " + std::to_string(tag) + ". Keep in mind:";
    for (int i = 0; i < n_words; ++i) {
        text += ' ';
        text += vocabulary[(i * 7 + tag) % 12];
    }
    return text;
}

// Sent with every conversation of the rate tests: without a system message of its own, `mimir serve` would
// put its (longer) tutor prompt first, and the two servers would not compute the same prompt.
const Message kShortSystem{"system", "You are a tutor."};

// Wall-clock rate of `n` clients each streaming max_tokens tokens at the same time; best of the runs.
double streams_rate(const Options& options, int n) {
    double best = 0;
    for (int r = 0; r < options.repetitions; ++r) {
        std::vector<StreamResult> results(static_cast<size_t>(n));
        std::vector<std::thread> clients;
        const auto start = Clock::now();
        for (int i = 0; i < n; ++i) {
            clients.emplace_back([&, i] {
                const std::string question = "Stream " + std::to_string(i) + " of run " + std::to_string(r) +
                                             " with " + std::to_string(n) + ": tell me about fractions.";
                results[static_cast<size_t>(i)] =
                    stream_chat(options, {kShortSystem, {"user", question}}, options.max_tokens);
            });
        }
        for (std::thread& client : clients) client.join();
        const double seconds = ms_between(start, Clock::now()) / 1000;
        int tokens = 0;
        for (const StreamResult& result : results) tokens += result.completion_tokens;
        best = std::max(best, tokens / seconds);
    }
    return best;
}

void print(const char* key, double value) {
    std::printf("%s=%.2f\n", key, value);
}

// TTFT of a new conversation whose system prompt another conversation already used. Each repetition uses
// a system prompt the server has not seen before, so caches from earlier repetitions do not help.
void time_to_first_token(const Options& options) {
    std::vector<double> cold, idle, busy;
    int prompt_tokens = 0;
    for (int r = 0; r < options.repetitions; ++r) {
        const std::string system = words(options.system_words, 1000 + r);
        auto chat = [&](const std::string& question, int max_tokens,
                        const std::function<void()>& on_first = {}) {
            return stream_chat(options, {{"system", system}, {"user", question}}, max_tokens, on_first);
        };
        // The first conversation with this system prompt: nothing to reuse.
        StreamResult first = chat("How do I add fractions?", 4);
        cold.push_back(first.ttft_ms);
        prompt_tokens = first.prompt_tokens;
        // A new conversation while the server is idle.
        idle.push_back(chat("Why is the sky blue?", 4).ttft_ms);
        // A new conversation while another one with the same system prompt streams a long reply.
        std::promise<void> streaming;
        std::thread other([&] {
            chat("Explain photosynthesis in detail.", options.max_tokens, [&] { streaming.set_value(); });
        });
        streaming.get_future().wait();
        busy.push_back(chat("What is a prime number?", 4).ttft_ms);
        other.join();
    }
    print("ttft_prompt_tokens", prompt_tokens);
    print("ttft_cold_ms", *std::min_element(cold.begin(), cold.end()));
    print("ttft_new_conversation_idle_ms", *std::min_element(idle.begin(), idle.end()));
    print("ttft_new_conversation_busy_ms", *std::min_element(busy.begin(), busy.end()));
}

// The deployment's tutor prompt of the --first-student test: the same text for both servers.
std::string deployment_system_prompt(const Options& options) {
    return words(options.system_words, 7);
}

void first_student(const Options& options) {
    std::vector<Message> conversation{{"user", "How do I add fractions?"}};
    if (!options.system_from_server)
        conversation.insert(conversation.begin(), {"system", deployment_system_prompt(options)});
    const StreamResult first = stream_chat(options, conversation, 4);
    print("first_student_prompt_tokens", first.prompt_tokens);
    print("ttft_first_student_ms", first.ttft_ms);
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    CLI::App app{"Benchmarks an OpenAI-compatible chat server over HTTP (see bench/run_engine_bench.sh)"};
    app.add_option("--host", options.host, "Server address")->capture_default_str();
    app.add_option("--port", options.port, "Server port (required unless --write-system-prompt)");
    app.add_option("--streams", options.streams, "Concurrent streams for the aggregate rate")
        ->capture_default_str();
    app.add_option("--max-tokens", options.max_tokens, "Tokens each stream generates")->capture_default_str();
    app.add_option("--system-words", options.system_words, "Words in the system prompt of the TTFT test")
        ->capture_default_str();
    app.add_option("--repetitions", options.repetitions, "Runs per figure (the best is printed)")
        ->capture_default_str();
    app.add_flag("--phi3-text-completions", options.phi3_text_completions,
                 "Send each conversation to /v1/completions as Phi-3 chat-template text");
    app.add_flag("--ban-byte-tokens", options.ban_byte_tokens,
                 "Send a logit_bias that never samples the Phi-3 byte tokens (ids 3..258)");
    app.add_flag("--first-student", options.first_student,
                 "Only time the first conversation after the server started with the tutor prompt");
    app.add_flag("--system-from-server", options.system_from_server,
                 "With --first-student: send no system message (the server adds its own tutor prompt)");
    app.add_option("--write-system-prompt", options.write_system_prompt,
                   "Write the tutor prompt of --first-student to this file and exit");
    CLI11_PARSE(app, argc, argv);

    if (!options.write_system_prompt.empty()) {
        FILE* file = std::fopen(options.write_system_prompt.c_str(), "w");
        if (!file) {
            std::fprintf(stderr, "cannot write %s\n", options.write_system_prompt.c_str());
            return 1;
        }
        const std::string text = deployment_system_prompt(options);
        std::fwrite(text.data(), 1, text.size(), file);
        std::fclose(file);
        return 0;
    }
    if (options.port <= 0) {
        std::fprintf(stderr, "--port is required\n");
        return 2;
    }

    stream_chat(options, {kShortSystem, {"user", "Warm-up"}},
                4);  // the first tokens page the mapped weights in
    if (options.first_student) {
        first_student(options);
        return 0;
    }
    print("one_stream_tokens_per_s", streams_rate(options, 1));
    print("streams_tokens_per_s", streams_rate(options, options.streams));
    time_to_first_token(options);
    return 0;
}
