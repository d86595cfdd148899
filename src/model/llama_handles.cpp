#include "model/llama_handles.h"

#include <spdlog/spdlog.h>

#include <mutex>
#include <string>

namespace mimir {

namespace {
thread_local std::string llama_errors;

void remember_error(const std::string& line) {
    if (llama_errors.size() > 2000) return;
    if (!llama_errors.empty()) llama_errors += "; ";
    for (char c : line) llama_errors += (c >= 0x20 && c < 0x7f) ? c : '?';
}

void forward_llama_log(ggml_log_level level, const char* text, void*) {
    // llama.cpp logs in fragments ending with '\n'; each fragment becomes one debug/warn line.
    std::string line(text ? text : "");
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (line.empty()) return;
    if (level == GGML_LOG_LEVEL_ERROR) {
        spdlog::warn("event=llama_log level=error text=\"{}\"", line);
        remember_error(line);
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

std::string take_llama_errors() {
    std::string taken;
    taken.swap(llama_errors);
    return taken;
}

}  // namespace mimir
