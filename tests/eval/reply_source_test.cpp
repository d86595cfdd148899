// OpenAiReplySource against a local fake server: a good completion, an HTTP error, garbage, no server.
#include "eval/reply_source.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <thread>

namespace mimir::eval {
namespace {

class FakeServer {
  public:
    explicit FakeServer(std::function<void(const httplib::Request&, httplib::Response&)> handler) {
        server_.Post("/v1/chat/completions", std::move(handler));
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
        while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ~FakeServer() {
        server_.stop();
        thread_.join();
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  private:
    httplib::Server server_;
    int port_ = 0;
    std::thread thread_;
};

std::unique_ptr<OpenAiReplySource> source_for(const std::string& url) {
    return std::move(
        OpenAiReplySource::create({.url = url, .connect_timeout_s = 2, .read_timeout_s = 5}).value());
}

TEST(OpenAiReplySource, SendsTheConversationAndReadsTheReply) {
    nlohmann::json seen;
    FakeServer server([&seen](const httplib::Request& request, httplib::Response& response) {
        seen = nlohmann::json::parse(request.body);
        response.set_content(
            R"({"choices":[{"message":{"role":"assistant","content":"Try subtracting 5."}}]})",
            "application/json");
    });
    auto source = source_for(server.url() + "/v1/");
    auto reply = source->reply({{"user", "Solve 3x+5=20"}},
                               SamplingParams{.temperature = 0, .seed = 42, .max_tokens = 64});
    ASSERT_TRUE(reply.ok()) << reply.error().message;
    EXPECT_EQ(*reply, "Try subtracting 5.");
    EXPECT_EQ(seen["messages"][0]["content"], "Solve 3x+5=20");
    EXPECT_EQ(seen["seed"], 42);
    EXPECT_EQ(seen["max_tokens"], 64);
    EXPECT_EQ(seen["stream"], false);
    EXPECT_EQ(source->name(), server.url() + "/v1/");
}

TEST(OpenAiReplySource, ServerErrorsAndGarbageAreClearErrors) {
    FakeServer failing([](const httplib::Request&, httplib::Response& response) {
        response.status = 503;
        response.set_content(R"({"error":{"message":"no model loaded"}})", "application/json");
    });
    auto error = source_for(failing.url())->reply({{"user", "hi"}}, {});
    ASSERT_FALSE(error.ok());
    EXPECT_EQ(error.error().code, "http_error");
    EXPECT_NE(error.error().message.find("no model loaded"), std::string::npos);

    FakeServer garbage([](const httplib::Request&, httplib::Response& response) {
        response.set_content("<html>hi</html>", "text/html");
    });
    auto bad = source_for(garbage.url())->reply({{"user", "hi"}}, {});
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code, "invalid_response");
}

TEST(OpenAiReplySource, NoServerAndBadUrls) {
    std::string url;
    {
        FakeServer gone([](const httplib::Request&, httplib::Response&) {});
        url = gone.url();
    }
    auto reply = source_for(url)->reply({{"user", "hi"}}, {});
    ASSERT_FALSE(reply.ok());
    EXPECT_EQ(reply.error().code, "unreachable");
    EXPECT_FALSE(OpenAiReplySource::create({.url = "localhost:8080"}).ok());
}

}  // namespace
}  // namespace mimir::eval
