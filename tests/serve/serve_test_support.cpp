#include "serve_test_support.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <sstream>

#include "model/tiny_model.h"
#include "support/test_models.h"

namespace mimir::serve::test {

ModelFiles ModelFiles::create(const std::string& dir) {
    ModelFiles files;
    const std::string tiny = mimir::test::tiny_model_path();
    files.fine_tuned = dir + "/fine-tuned.gguf";
    files.base = dir + "/base.gguf";
    files.adapter = dir + "/adapter.gguf";
    files.corrupt = dir + "/corrupt-fine-tuned.gguf";
    std::filesystem::copy_file(tiny, files.fine_tuned, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(tiny, files.base, std::filesystem::copy_options::overwrite_existing);
    Status adapter = write_random_lora_adapter(files.base, 4, 8.0f, 7, files.adapter);
    EXPECT_TRUE(adapter.ok()) << (adapter.ok() ? "" : adapter.error().message);
    std::ofstream(files.corrupt, std::ios::binary) << "GGUF" << std::string(4096, '\x7f');
    return files;
}

ServeOptions test_options() {
    ServeOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.engine.n_ctx = 2048;
    options.engine.n_parallel = 4;
    options.engine.n_threads = 2;
    options.engine.max_queue = 16;
    options.api_key = "test-key";
    options.rate_limit_per_minute = 0;
    options.read_timeout_seconds = 2;
    options.system_prompt = "You are a tutor.";
    return options;
}

TestServer::TestServer(ModelPaths paths, ServeOptions options)
    : server_(std::make_unique<Server>(std::move(paths), std::move(options))) {
    std::signal(SIGPIPE, SIG_IGN);  // as mimir's main does (see Server)
    Status started = server_->start();
    EXPECT_TRUE(started.ok()) << (started.ok() ? "" : started.error().message);
    server_->reload_models();
}

TestServer::~TestServer() {
    server_->stop();
    server_->wait();
}

std::unique_ptr<httplib::Client> TestServer::client(int read_timeout_seconds) const {
    auto client = std::make_unique<httplib::Client>("127.0.0.1", port());
    client->set_read_timeout(read_timeout_seconds, 0);
    client->set_connection_timeout(5, 0);
    return client;
}

std::vector<std::string> sse_payloads(const std::string& stream) {
    std::vector<std::string> payloads;
    size_t start = 0;
    while (start < stream.size()) {
        size_t end = stream.find("\n\n", start);
        if (end == std::string::npos) {
            payloads.push_back("<bad framing: unterminated event>");
            break;
        }
        std::string event = stream.substr(start, end - start);
        start = end + 2;
        if (event.starts_with(":")) continue;
        if (!event.starts_with("data: ") || event.find('\n') != std::string::npos)
            payloads.push_back("<bad framing: " + event + ">");
        else
            payloads.push_back(event.substr(6));
    }
    return payloads;
}

std::string chat_body(const std::string& user_text, int max_tokens, bool stream, double temperature) {
    nlohmann::json body = {{"messages", {{{"role", "user"}, {"content", user_text}}}},
                           {"max_tokens", max_tokens},
                           {"stream", stream},
                           {"temperature", temperature},
                           {"seed", 1234}};
    return body.dump();
}

std::string raw_exchange(int port, const std::string& bytes, int timeout_ms) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        ::close(fd);
        return "<connect failed>";
    }
    (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    std::string reply;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    char buffer[4096];
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) break;
        reply.append(buffer, static_cast<size_t>(n));
    }
    ::close(fd);
    return reply;
}

double metric_value(const std::string& text, const std::string& name) {
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line))
        if (line.starts_with(name + " ")) return std::stod(line.substr(name.size() + 1));
    return -1;
}

}  // namespace mimir::serve::test
