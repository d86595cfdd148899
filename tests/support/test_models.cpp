#include "support/test_models.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <utility>

namespace fs = std::filesystem;

namespace mimir::test {

namespace {
std::string spec_key(const TinyModelSpec& s) {
    return s.arch + "-l" + std::to_string(s.n_layer) + "-e" + std::to_string(s.n_embd) + "-h" +
           std::to_string(s.n_head) + "-kv" + std::to_string(s.n_head_kv) + "-ff" + std::to_string(s.n_ff) +
           "-c" + std::to_string(s.n_ctx) + "-s" + std::to_string(s.seed) + "-" + s.type +
           (s.altered_token >= 0 ? "-alt" + std::to_string(s.altered_token) : "");
}
}  // namespace

std::string tiny_model_path(const TinyModelSpec& requested) {
    static std::mutex mutex;
    std::lock_guard<std::mutex> lock(mutex);
    TinyModelSpec spec = requested;
    if (spec.vocab_path.empty()) spec.vocab_path = default_phi3_vocab_path();
    const fs::path dir = fs::path(MIMIR_TEST_BINARY_DIR) / "test-models";
    fs::create_directories(dir);
    const fs::path path = dir / ("tiny-" + spec_key(spec) + ".gguf");
    if (!fs::exists(path)) {
        Status written = write_tiny_model(spec, path.string());
        EXPECT_TRUE(written.ok()) << (written.ok() ? "" : written.error().message);
    }
    return path.string();
}

std::string scratch_dir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "unnamed";
    const fs::path dir = fs::path(MIMIR_TEST_BINARY_DIR) / "test-tmp" / name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir.string();
}

std::string write_tutoring_rows_csv(const std::string& dir) {
    static const std::pair<const char*, const char*> rows[] = {
        {"Hello!", "Hello! I am Mimir, a tutoring assistant. What would you like to study today?"},
        {"Can you solve 3x + 5 = 20 for me?", "Start by subtracting 5 from both sides. What do you get?"},
        {"Thanks, that helped!", "I am glad it helped. Good luck with your studies."},
    };
    const std::string path = dir + "/rows.csv";
    std::ofstream out(path, std::ios::binary);
    out << "Prompt,Model Response,Issues,Ideal Response\n";
    for (const auto& [prompt, ideal] : rows)
        out << "\"" << prompt << "\",\"so fun!!! :)\",Tone: emoticon,\"" << ideal << "\"\n";
    return path;
}

std::string llama_tool(const std::string& name) {
    const fs::path path = fs::path(MIMIR_TEST_LLAMA_TOOLS_DIR) / name;
    return fs::exists(path) ? path.string() : std::string();
}

TinyModelSpec small_spec(const std::string& arch, const std::string& type, int n_embd) {
    TinyModelSpec spec;
    spec.arch = arch;
    spec.n_layer = 2;
    spec.n_embd = n_embd;
    spec.n_head = 4;
    spec.n_head_kv = arch == "llama" ? 2 : 4;
    spec.n_ff = 256;
    spec.n_ctx = 512;
    spec.type = type;
    return spec;
}

}  // namespace mimir::test
