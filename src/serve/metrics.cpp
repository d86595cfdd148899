#include "serve/metrics.h"

#include <fmt/format.h>

#include <sstream>

namespace mimir::serve {

namespace {

// Label values escape backslash, quote and newline (exposition format 0.0.4).
std::string escape_label(const std::string& value) {
    std::string out;
    for (char c : value) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

void header(std::ostringstream& out, const char* name, const char* type, const char* help) {
    out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
}

template <typename T>
void single(std::ostringstream& out, const char* name, const char* type, const char* help, T value) {
    header(out, name, type, help);
    out << name << ' ' << value << '\n';
}

template <typename Map>
void by_label(std::ostringstream& out, const char* name, const char* type, const char* help,
              const char* label, const Map& values) {
    header(out, name, type, help);
    for (const auto& [key, value] : values)
        out << name << '{' << label << "=\"" << escape_label(key) << "\"} " << value << '\n';
}

}  // namespace

void ServerMetrics::render_guard(std::ostringstream& out) const {
    single(out, "mimir_response_guard_replies_total", "counter",
           "Replies that went through the response guard.", guarded_replies_);
    single(out, "mimir_response_guard_replies_changed_total", "counter",
           "Guarded replies that at least one rule changed.", guard_changed_replies_);
    for (GuardRule rule : kGuardRules) {
        const std::string name = fmt::format("mimir_response_guard_{}_total", guard_rule_name(rule));
        const std::string help =
            fmt::format("Changes the response guard's {} rule made.", guard_rule_name(rule));
        single(out, name.c_str(), "counter", help.c_str(), guard_fired_.of(rule));
    }
}

void Histogram::observe(double value) {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < kBounds.size(); ++i)
        if (value <= kBounds[i]) ++counts_[i];
    ++count_;
    sum_ += value;
}

std::string Histogram::render(const std::string& name, const std::string& help) const {
    std::lock_guard lock(mutex_);
    std::string out = fmt::format("# HELP {0} {1}\n# TYPE {0} histogram\n", name, help);
    for (size_t i = 0; i < kBounds.size(); ++i)
        out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, kBounds[i], counts_[i]);
    out += fmt::format("{0}_bucket{{le=\"+Inf\"}} {1}\n{0}_sum {2}\n{0}_count {1}\n", name, count_, sum_);
    return out;
}

void ServerMetrics::count_request(const std::string& route, int status) {
    std::lock_guard lock(mutex_);
    ++requests_[{route, status}];
}

void ServerMetrics::count_error(const std::string& type, const std::string& code) {
    std::lock_guard lock(mutex_);
    ++errors_[{type, code}];
}

uint64_t ServerMetrics::errors_of_type(const std::string& type) const {
    std::lock_guard lock(mutex_);
    uint64_t total = 0;
    for (const auto& [key, value] : errors_)
        if (key.first == type) total += value;
    return total;
}

void ServerMetrics::count_status_change() {
    ++status_changes_;
}
void ServerMetrics::count_disconnect() {
    ++disconnects_;
}

void ServerMetrics::count_feedback_submission(const std::string& rating) {
    std::lock_guard lock(mutex_);
    ++feedback_submissions_[rating];
}
void ServerMetrics::count_feedback_store_error() {
    ++feedback_store_errors_;
}

void ServerMetrics::record_generation(const GenerationResult& result) {
    generated_tokens_ += static_cast<uint64_t>(result.completion_tokens);
    prompt_tokens_ += static_cast<uint64_t>(result.prompt_tokens);
    ++completions_;
    if (result.completion_tokens > 0) time_to_first_token_.observe(result.time_to_first_token_ms / 1000.0);
    request_duration_.observe(result.total_ms / 1000.0);
    const double decode_seconds = (result.total_ms - result.time_to_first_token_ms) / 1000.0;
    std::lock_guard lock(mutex_);
    if (decode_seconds > 0 && result.completion_tokens > 1) {
        generation_seconds_ += decode_seconds;
        last_tokens_per_second_ = (result.completion_tokens - 1) / decode_seconds;
    }
}

void ServerMetrics::record_guarded_reply(const GuardTally& tally) {
    std::lock_guard lock(mutex_);
    guard_fired_ += tally;
    ++guarded_replies_;
    if (tally.changed()) ++guard_changed_replies_;
}

std::string ServerMetrics::render(const MetricsSnapshotInputs& in) const {
    std::ostringstream out;
    {
        std::lock_guard lock(mutex_);
        header(out, "mimir_http_requests_total", "counter", "HTTP requests by route and status code.");
        for (const auto& [key, value] : requests_)
            out << "mimir_http_requests_total{route=\"" << escape_label(key.first) << "\",status=\""
                << key.second << "\"} " << value << '\n';
        header(out, "mimir_errors_total", "counter", "Error responses by error type and code.");
        for (const auto& [key, value] : errors_)
            out << "mimir_errors_total{type=\"" << escape_label(key.first) << "\",code=\""
                << escape_label(key.second) << "\"} " << value << '\n';
        single(out, "mimir_generation_seconds_total", "counter",
               "Seconds spent decoding after the first token.", generation_seconds_);
        single(out, "mimir_tokens_per_second", "gauge", "Decode speed of the last finished completion.",
               last_tokens_per_second_);
        by_label(out, "mimir_feedback_submissions_total", "counter", "Feedback rows committed, by rating.",
                 "rating", feedback_submissions_);
        render_guard(out);
    }
    single(out, "mimir_tokens_generated_total", "counter", "Completion tokens generated.",
           generated_tokens_.load());
    single(out, "mimir_prompt_tokens_total", "counter", "Prompt tokens received.", prompt_tokens_.load());
    single(out, "mimir_completions_total", "counter", "Chat completions finished.", completions_.load());
    single(out, "mimir_feedback_store_errors_total", "counter",
           "Feedback store calls that failed (answered 503 store_unavailable).",
           feedback_store_errors_.load());
    single(out, "mimir_client_disconnects_total", "counter",
           "Streams cancelled because the client went away.", disconnects_.load());
    out << time_to_first_token_.render("mimir_time_to_first_token_seconds",
                                       "Time from request to first token.");
    out << request_duration_.render("mimir_completion_duration_seconds", "Time from request to last token.");
    single(out, "mimir_queue_length", "gauge", "Requests waiting for a decode slot.", in.engine.queued);
    single(out, "mimir_active_generations", "gauge", "Requests being decoded.", in.engine.active);
    single(out, "mimir_in_flight_requests", "gauge", "Chat requests admitted and not yet finished.",
           in.in_flight);
    by_label(out, "mimir_model_load_seconds", "gauge", "Duration of the last load attempt per strategy.",
             "strategy", [&] {
                 std::map<std::string, double> seconds;
                 for (const auto& [tier, ms] : in.loads.last_load_ms_by_tier) seconds[tier] = ms / 1000.0;
                 return seconds;
             }());
    by_label(out, "mimir_model_load_attempts_total", "counter", "Load attempts per strategy.", "strategy",
             in.loads.attempts_by_tier);
    by_label(out, "mimir_model_load_failures_total", "counter", "Failed load attempts per strategy.",
             "strategy", in.loads.failures_by_tier);
    by_label(out, "mimir_model_load_wins_total", "counter", "Loads that ended on each strategy.", "strategy",
             in.loads.wins_by_tier);
    single(out, "mimir_fallback_activations_total", "counter",
           "Loads that fell back to the base model alone.", in.loads.fallback_activations);
    single(out, "mimir_model_load_errors_total", "counter", "Loads where no strategy succeeded.",
           in.loads.total_errors);
    single(out, "mimir_status_changes_total", "counter", "Changes of the model-status button.",
           status_changes_.load());
    header(out, "mimir_model_state", "gauge", "1 for the current model-status button state.");
    for (ButtonState state : {ButtonState::Success, ButtonState::Warning, ButtonState::Error})
        out << "mimir_model_state{state=\"" << button_state_name(state) << "\"} "
            << (in.state == state ? 1 : 0) << '\n';
    single(out, "mimir_prompt_fallback", "gauge",
           "1 when the fixed tutor prompt serves because the prompt snippets failed to load.",
           in.prompt_fallback ? 1 : 0);
    single(out, "mimir_resident_memory_bytes", "gauge", "Resident set size of the server process.",
           in.resident_memory_bytes);
    return out.str();
}

}  // namespace mimir::serve
