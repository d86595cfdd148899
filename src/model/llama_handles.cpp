#include "model/llama_handles.h"

#include <mutex>
#include <string>

#include <spdlog/spdlog.h>

namespace mimir {

namespace {
void forward_llama_log(ggml_log_level level, const char* text, void*) {
    // llama.cpp logs in fragments ending with '\n'; each fragment becomes one debug/warn line.
    std::string line(text ? text : "");
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (line.empty()) return;
    if (level == GGML_LOG_LEVEL_ERROR) {
        spdlog::warn("event=llama_log level=error text=\"{}\"", line);
    } else {
        spdlog::debug("event=llama_log text=\"{}\"", line);
    }
}
}  // namespace

void ensure_llama_backend() {
    static std::once_flag once;
    std::call_once(once, [] {
        llama_log_set(forward_llama_log, nullptr);
        llama_backend_init();
    });
}

}  // namespace mimir
