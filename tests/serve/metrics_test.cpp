#include "serve/metrics.h"

#include <gtest/gtest.h>

namespace mimir::serve {
namespace {

TEST(ServerMetrics, RendersEveryRequiredFamilyInPrometheusText) {
    ServerMetrics metrics;
    metrics.count_request("/v1/chat/completions", 200);
    metrics.count_request("/v1/chat/completions", 200);
    metrics.count_error("invalid_request_error", "invalid_request");
    metrics.count_status_change();
    GenerationResult r;
    r.completion_tokens = 11;
    r.prompt_tokens = 5;
    r.time_to_first_token_ms = 30;
    r.total_ms = 130;
    metrics.record_generation(r);

    MetricsSnapshotInputs in;
    in.engine.queued = 3;
    in.loads.last_load_ms_by_tier = {{"fine-tuned", 1500.0}};
    in.loads.attempts_by_tier = {{"fine-tuned", 1}};
    in.loads.fallback_activations = 2;
    in.state = ButtonState::Warning;
    in.resident_memory_bytes = 12345;
    const std::string text = metrics.render(in);

    for (const char* expected : {
             "mimir_http_requests_total{route=\"/v1/chat/completions\",status=\"200\"} 2\n",
             "mimir_errors_total{type=\"invalid_request_error\",code=\"invalid_request\"} 1\n",
             "mimir_tokens_generated_total 11\n",
             "mimir_tokens_per_second 100\n",
             "mimir_time_to_first_token_seconds_bucket{le=\"0.05\"} 1\n",
             "mimir_time_to_first_token_seconds_bucket{le=\"0.025\"} 0\n",
             "mimir_time_to_first_token_seconds_count 1\n",
             "mimir_queue_length 3\n",
             "mimir_model_load_seconds{strategy=\"fine-tuned\"} 1.5\n",
             "mimir_model_load_attempts_total{strategy=\"fine-tuned\"} 1\n",
             "mimir_fallback_activations_total 2\n",
             "mimir_status_changes_total 1\n",
             "mimir_model_state{state=\"warning\"} 1\n",
             "mimir_model_state{state=\"success\"} 0\n",
             "mimir_resident_memory_bytes 12345\n",
             "# TYPE mimir_tokens_generated_total counter\n",
         })
        EXPECT_NE(text.find(expected), std::string::npos) << expected << "\nin:\n" << text;
    EXPECT_EQ(metrics.errors_of_type("invalid_request_error"), 1u);
}

TEST(ServerMetrics, EscapesLabelValues) {
    ServerMetrics metrics;
    metrics.count_error("t", "a\"b\\c\nd");
    EXPECT_NE(metrics.render({}).find("code=\"a\\\"b\\\\c\\nd\""), std::string::npos);
}

}  // namespace
}  // namespace mimir::serve
