// A bounded load test on loopback: 16 clients streaming at once for a few seconds. No request may fail
// other than with 429, memory must stay steady, and the status endpoint must keep answering quickly.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "model/model_manager.h"
#include "serve_test_support.h"
#include "support/test_models.h"

namespace mimir::serve::test {
namespace {

using namespace std::chrono_literals;

struct RoundCounts {
    std::atomic<int> ok{0}, busy{0}, failed{0};
    std::mutex mutex;
    std::string first_failure;
};

// Each client streams completions back to back until `duration` has passed.
void run_round(const TestServer& server, std::chrono::milliseconds duration, RoundCounts& counts) {
    std::vector<std::thread> clients;
    const auto end = std::chrono::steady_clock::now() + duration;
    for (int c = 0; c < 16; ++c) {
        clients.emplace_back([&, c] {
            auto client = server.client(60);
            while (std::chrono::steady_clock::now() < end) {
                httplib::Request req;
                req.method = "POST";
                req.path = "/v1/chat/completions";
                req.body = chat_body("Question " + std::to_string(c), 16, true, 0.8);
                req.set_header("Content-Type", "application/json");
                std::string body;
                req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
                    body.append(d, n);
                    return true;
                };
                auto res = client->send(req);
                if (res && res->status == 200 && body.ends_with("data: [DONE]\n\n") &&
                    body.find("\"error\"") == std::string::npos)
                    ++counts.ok;
                else if (res && res->status == 429)
                    ++counts.busy;
                else {
                    ++counts.failed;
                    std::lock_guard lock(counts.mutex);
                    counts.first_failure = res ? "status " + std::to_string(res->status) + ": " +
                                                     body.substr(0, 300) + " ... " +
                                                     body.substr(body.size() > 300 ? body.size() - 300 : 0)
                                               : "no response: " + httplib::to_string(res.error());
                }
            }
        });
    }
    for (std::thread& t : clients) t.join();
}

TEST(ServerLoad, SixteenStreamingClientsNoFailuresSteadyMemoryStatusAnswers) {
    ModelFiles files = ModelFiles::create(mimir::test::scratch_dir());
    TestServer server(ModelPaths{files.fine_tuned, "", files.base});

    std::atomic<bool> running{true};
    std::atomic<long long> slowest_status_ms{0};
    std::atomic<int> status_failures{0}, status_answers{0};
    std::thread status_poller([&] {
        auto client = server.client(10);
        while (running) {
            const auto start = std::chrono::steady_clock::now();
            auto res = client->Get("/api/status");
            const long long ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now() - start)
                                     .count();
            if (!res || res->status != 200)
                ++status_failures;
            else
                ++status_answers;
            slowest_status_ms = std::max(slowest_status_ms.load(), ms);
            std::this_thread::sleep_for(100ms);
        }
    });

    RoundCounts warmup, measured;
    run_round(server, 1s, warmup);
    const uint64_t rss_after_warmup = resident_memory_bytes();
    run_round(server, 3s, measured);
    const uint64_t rss_after_load = resident_memory_bytes();
    running = false;
    status_poller.join();

    EXPECT_EQ(warmup.failed + measured.failed, 0) << warmup.first_failure << "\n" << measured.first_failure;
    // Throughput is the benchmarks' business; here every client must have been answered.
    EXPECT_GE(measured.ok + measured.busy, 16);
    EXPECT_GT(measured.ok, 0);
    EXPECT_EQ(status_failures, 0);
    EXPECT_GT(status_answers, 10);
    EXPECT_LT(slowest_status_ms, 2000) << "the status endpoint answers under load";
    // Steady: the second, longer round adds no more than a small margin over the first.
    EXPECT_LT(static_cast<double>(rss_after_load), rss_after_warmup * 1.10 + 16e6)
        << "rss after warmup " << rss_after_warmup << ", after load " << rss_after_load;
    auto metrics = server.client()->Get("/metrics")->body;
    EXPECT_EQ(metric_value(metrics, "mimir_in_flight_requests"), 0);
    RecordProperty("completions", measured.ok.load());
    RecordProperty("busy_429", measured.busy.load());
    RecordProperty("rss_after_warmup", std::to_string(rss_after_warmup));
    RecordProperty("rss_after_load", std::to_string(rss_after_load));
    std::printf("load: %d completions, %d busy (429), status slowest %lld ms, rss %.1f -> %.1f MB\n",
                measured.ok.load(), measured.busy.load(), slowest_status_ms.load(), rss_after_warmup / 1e6,
                rss_after_load / 1e6);
}

}  // namespace
}  // namespace mimir::serve::test
