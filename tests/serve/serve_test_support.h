// Helpers for the server tests: tiny model files in each of the fallback states, a server started
// in-process on an ephemeral port, and raw HTTP for what a well-behaved client library cannot send.
#pragma once

#include <httplib.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/model_manager.h"
#include "serve/server.h"

namespace mimir::serve::test {

// Model files written under `dir`: the tiny model as fine-tuned and as base, a LoRA adapter for it, and
// a corrupt file that looks like a model by name only.
struct ModelFiles {
    std::string fine_tuned, base, adapter, corrupt;
    static ModelFiles create(const std::string& dir);
};

ServeOptions test_options();

// A started server with its models loaded (reload_models() has run once).
class TestServer {
  public:
    TestServer(ModelPaths paths, ServeOptions options = test_options());
    ~TestServer();
    int port() const { return server_->port(); }
    Server& server() { return *server_; }
    std::unique_ptr<httplib::Client> client(int read_timeout_seconds = 30) const;

  private:
    std::unique_ptr<Server> server_;
};

// The "data: ..." payloads of a server-sent event stream, in order; a line outside that framing
// (other than ": comment" lines) is reported as "<bad framing: ...>".
std::vector<std::string> sse_payloads(const std::string& stream);

std::string chat_body(const std::string& user_text, int max_tokens, bool stream, double temperature = 0.0);

// Sends `bytes` on a fresh TCP connection and returns everything the server sends back before it closes
// the connection or `timeout_ms` passes.
std::string raw_exchange(int port, const std::string& bytes, int timeout_ms = 5000);

// The value of a metric line "name value" (first match) in Prometheus text; -1 when absent.
double metric_value(const std::string& metrics_text, const std::string& name_with_labels);

}  // namespace mimir::serve::test
