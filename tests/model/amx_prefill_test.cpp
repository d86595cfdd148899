// llama.cpp's AMX prompt processing, where it is built (MIMIR_LLAMA_AMX=1 scripts/setup.sh on a CPU with
// AMX; the kernels carry scripts/llama-patches/): Q4_K_M and Q8_0 Phi-3-shaped models put their weights
// in llama.cpp's AMX buffer, and a 64-token prompt's next-token distribution matches the same model loaded
// without extra buffer types (the plain CPU path) within a KL divergence of 1e-3 (under a software AMX
// the patched kernels measured about 1e-5), with the same likeliest token. Skipped, saying why, where
// llama.cpp has no AMX buffer type: the default build, and every CPU without AMX.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "model/llama_handles.h"
#include "support/test_models.h"

namespace mimir {
namespace {

bool llama_has_amx_buffer() {
    ggml_backend_dev_t cpu = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
    if (!cpu) return false;
    auto get_extra = reinterpret_cast<ggml_backend_dev_get_extra_bufts_t>(ggml_backend_reg_get_proc_address(
        ggml_backend_dev_backend_reg(cpu), "ggml_backend_dev_get_extra_bufts"));
    if (!get_extra) return false;
    for (ggml_backend_buffer_type_t* type = get_extra(cpu); type && *type; ++type) {
        if (std::strcmp(ggml_backend_buft_name(*type), "AMX") == 0) return true;
    }
    return false;
}

// llama.cpp's log while loading a model: it names each weight buffer ("AMX model buffer size = ...").
void collect_log(ggml_log_level, const char* text, void* lines) {
    *static_cast<std::string*>(lines) += text;
}

ModelHandle load_logged(const std::string& path, bool extra_buffers, std::string* log) {
    llama_model_params model_params = llama_model_default_params();
    model_params.use_extra_bufts = extra_buffers;
    ggml_log_callback previous = nullptr;
    void* previous_data = nullptr;
    llama_log_get(&previous, &previous_data);
    llama_log_set(collect_log, log);
    ModelHandle model(llama_model_load_from_file(path.c_str(), model_params));
    llama_log_set(previous, previous_data);
    return model;
}

// The log-softmax of the logits after a 64-token prompt, decoded in one batch (the multi-token path).
std::vector<double> next_token_log_probabilities(const std::string& path, bool extra_buffers) {
    std::string log;
    ModelHandle model = load_logged(path, extra_buffers, &log);
    EXPECT_EQ(log.find("AMX model buffer") != std::string::npos, extra_buffers)
        << "weights " << (extra_buffers ? "not " : "") << "in the AMX buffer:\n"
        << log;
    EXPECT_TRUE(model) << path;
    if (!model) return {};
    llama_context_params params = llama_context_default_params();
    params.n_ctx = 256;
    params.n_batch = 256;
    params.n_threads = 2;
    params.n_threads_batch = 2;
    ContextHandle ctx(llama_init_from_model(model.get(), params));
    EXPECT_TRUE(ctx);
    if (!ctx) return {};
    const llama_vocab* vocab = llama_model_get_vocab(model.get());
    std::vector<llama_token> tokens(64);
    for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<llama_token>(100 + 37 * i);
    EXPECT_EQ(
        llama_decode(ctx.get(), llama_batch_get_one(tokens.data(), static_cast<int32_t>(tokens.size()))), 0);
    const float* logits = llama_get_logits_ith(ctx.get(), -1);
    const int n_vocab = llama_vocab_n_tokens(vocab);
    const double top = *std::max_element(logits, logits + n_vocab);
    double sum = 0;
    for (int t = 0; t < n_vocab; ++t) sum += std::exp(logits[t] - top);
    std::vector<double> log_probabilities(static_cast<size_t>(n_vocab));
    for (int t = 0; t < n_vocab; ++t) log_probabilities[t] = logits[t] - top - std::log(sum);
    return log_probabilities;
}

TEST(AmxPrefill, QuantizedModelsOnTheAmxBufferMatchThePlainCpuPath) {
    ensure_llama_backend();
    if (!llama_has_amx_buffer()) {
        GTEST_SKIP() << (ggml_cpu_has_amx_int8()
                             ? "llama.cpp has AMX kernels but no AMX buffer: this CPU or Linux "
                               "does not grant AMX"
                             : "llama.cpp built without AMX (the default; MIMIR_LLAMA_AMX=1 "
                               "scripts/setup.sh on an AMX CPU builds it)");
    }
    for (const std::string type : {"q4_k_m", "q8_0"}) {
        SCOPED_TRACE(type);
        const std::string path = test::tiny_model_path(test::small_spec("phi3", type, 256));
        const std::vector<double> amx = next_token_log_probabilities(path, true);
        const std::vector<double> plain = next_token_log_probabilities(path, false);
        ASSERT_EQ(amx.size(), plain.size());
        ASSERT_FALSE(amx.empty());
        double divergence = 0;
        for (size_t t = 0; t < amx.size(); ++t) divergence += std::exp(plain[t]) * (plain[t] - amx[t]);
        std::printf("[ measured ] %s: KL(plain || amx) = %.3g\n", type.c_str(), divergence);
        EXPECT_LT(divergence, 1e-3);
        EXPECT_EQ(std::max_element(amx.begin(), amx.end()) - amx.begin(),
                  std::max_element(plain.begin(), plain.end()) - plain.begin());
    }
}

}  // namespace
}  // namespace mimir
