#include "train_test_support.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace mimir::test {

TinyModelSpec small_training_spec(const std::string& arch, const std::string& type) {
    TinyModelSpec spec;
    spec.arch = arch;
    spec.type = type;
    spec.n_layer = 2;
    spec.n_embd = 64;
    spec.n_head = 4;
    spec.n_head_kv = arch == "llama" ? 2 : 4;  // llama also covers grouped-query attention
    spec.n_ff = 128;
    spec.n_ctx = 512;
    spec.seed = 7;
    return spec;
}

namespace {

struct LlamaRun {
    ModelHandle model;
    AdapterHandle adapter;
    ContextHandle ctx;
};

LlamaRun open_llama(const std::string& model_path, const std::string& adapter_path, int n_ctx) {
    ensure_llama_backend();
    LlamaRun run;
    llama_model_params mp = llama_model_default_params();
    mp.use_extra_bufts = false;
    run.model.reset(llama_model_load_from_file(model_path.c_str(), mp));
    EXPECT_TRUE(run.model) << model_path;
    if (!run.model) return run;
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = n_ctx;
    cp.n_batch = n_ctx;
    cp.n_ubatch = n_ctx;
    cp.n_threads = 2;
    cp.n_threads_batch = 2;
    // An F32 KV cache, so the comparison measures the graphs, not F16 rounding of K and V.
    cp.type_k = GGML_TYPE_F32;
    cp.type_v = GGML_TYPE_F32;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    run.ctx.reset(llama_init_from_model(run.model.get(), cp));
    if (!adapter_path.empty()) {
        run.adapter.reset(llama_adapter_lora_init(run.model.get(), adapter_path.c_str()));
        EXPECT_TRUE(run.adapter) << adapter_path;
        llama_adapter_lora* adapters[] = {run.adapter.get()};
        float scales[] = {1.0f};
        EXPECT_EQ(llama_set_adapters_lora(run.ctx.get(), adapters, 1, scales), 0);
    }
    return run;
}

}  // namespace

std::vector<float> llama_logits(const std::string& model_path, const std::vector<int32_t>& tokens,
                                const std::string& adapter_path) {
    LlamaRun run = open_llama(model_path, adapter_path, 256);
    if (!run.ctx) return {};
    const int n = static_cast<int>(tokens.size());
    BatchOwner batch(n, 1);
    llama_batch& b = batch.get();
    for (int i = 0; i < n; ++i) {
        b.token[i] = tokens[i];
        b.pos[i] = i;
        b.n_seq_id[i] = 1;
        b.seq_id[i][0] = 0;
        b.logits[i] = true;
    }
    b.n_tokens = n;
    EXPECT_EQ(llama_decode(run.ctx.get(), b), 0);
    const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(run.model.get()));
    std::vector<float> out(static_cast<size_t>(n) * n_vocab);
    for (int i = 0; i < n; ++i)
        std::memcpy(&out[static_cast<size_t>(i) * n_vocab], llama_get_logits_ith(run.ctx.get(), i),
                    n_vocab * sizeof(float));
    return out;
}

std::vector<int32_t> llama_greedy(const std::string& model_path, const std::vector<int32_t>& prompt,
                                  int max_tokens, const std::string& adapter_path) {
    LlamaRun run = open_llama(model_path, adapter_path, 512);
    if (!run.ctx) return {};
    const llama_vocab* vocab = llama_model_get_vocab(run.model.get());
    const int n_vocab = llama_vocab_n_tokens(vocab);
    std::vector<int32_t> input = prompt;
    std::vector<int32_t> generated;
    for (int step = 0; step < max_tokens; ++step) {
        llama_batch b = llama_batch_get_one(input.data(), static_cast<int32_t>(input.size()));
        if (llama_decode(run.ctx.get(), b) != 0) break;
        const float* logits = llama_get_logits_ith(run.ctx.get(), -1);
        const int32_t next = static_cast<int32_t>(std::max_element(logits, logits + n_vocab) - logits);
        generated.push_back(next);
        if (llama_vocab_is_eog(vocab, next)) break;
        input = {next};
    }
    return generated;
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size()) return INFINITY;
    float worst = 0.0f;
    for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
    return worst;
}

int run_command(const std::string& command, std::string& output) {
    output.clear();
    std::FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    if (!pipe) return -1;
    std::array<char, 4096> chunk;
    size_t n;
    while ((n = std::fread(chunk.data(), 1, chunk.size(), pipe)) > 0) output.append(chunk.data(), n);
    const int status = ::pclose(pipe);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace mimir::test
