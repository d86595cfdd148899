// The generated models load in llama.cpp and generate; storage types, determinism and the adapter writer.
#include "model/tiny_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "model/llama_handles.h"
#include "support/test_models.h"

namespace fs = std::filesystem;

namespace mimir {
namespace {

ModelHandle load_model(const std::string& path) {
    ensure_llama_backend();
    llama_model_params params = llama_model_default_params();
    params.load_mode = LLAMA_LOAD_MODE_NONE;
    // The AMX repacked buffers of this llama.cpp crash on Q8_0/Q4_K weights on AMX CPUs (llama-completion
    // too); plain CPU buffers are what Mimir loads with.
    params.use_extra_bufts = false;
    return ModelHandle(llama_model_load_from_file(path.c_str(), params));
}

// Greedy continuation of a chat prompt; checks every logit is finite on the way.
std::vector<llama_token> generate(llama_model* model, int n_tokens, llama_adapter_lora* adapter = nullptr) {
    llama_context_params params = llama_context_default_params();
    params.n_ctx = 256;
    params.n_batch = 256;
    params.n_threads = 2;
    params.n_threads_batch = 2;
    ContextHandle ctx(llama_init_from_model(model, params));
    EXPECT_TRUE(ctx);
    if (!ctx) return {};
    if (adapter) {
        float scale = 1.0f;
        EXPECT_EQ(llama_set_adapters_lora(ctx.get(), &adapter, 1, &scale), 0);
    }
    const llama_vocab* vocab = llama_model_get_vocab(model);
    const std::string prompt = "<|user|>\nWhat is a prime number?<|end|>\n<|assistant|>\n";
    std::vector<llama_token> tokens(prompt.size() + 8);
    const int n_prompt = llama_tokenize(vocab, prompt.c_str(), static_cast<int32_t>(prompt.size()),
                                        tokens.data(), static_cast<int32_t>(tokens.size()), true, true);
    EXPECT_GT(n_prompt, 4);
    tokens.resize(std::max(0, n_prompt));
    std::vector<llama_token> output;
    llama_batch batch = llama_batch_get_one(tokens.data(), static_cast<int32_t>(tokens.size()));
    llama_token next = 0;
    for (int i = 0; i < n_tokens; ++i) {
        EXPECT_EQ(llama_decode(ctx.get(), batch), 0);
        const float* logits = llama_get_logits_ith(ctx.get(), -1);
        const int n_vocab = llama_vocab_n_tokens(vocab);
        int best = 0;
        for (int t = 0; t < n_vocab; ++t) {
            EXPECT_TRUE(std::isfinite(logits[t])) << "token " << t;
            if (!std::isfinite(logits[t])) return output;
            if (logits[t] > logits[best]) best = t;
        }
        next = best;
        output.push_back(next);
        batch = llama_batch_get_one(&next, 1);
    }
    return output;
}

std::string file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::map<std::string, ggml_type> tensor_types(const std::string& path) {
    GgufHandle gguf(gguf_init_from_file(path.c_str(), {true, nullptr}));
    std::map<std::string, ggml_type> types;
    if (!gguf) return types;
    for (int64_t i = 0; i < gguf_get_n_tensors(gguf.get()); ++i) {
        types[gguf_get_tensor_name(gguf.get(), i)] = gguf_get_tensor_type(gguf.get(), i);
    }
    return types;
}

TEST(TinyModel, VocabFileIsFound) {
    const std::string vocab = default_phi3_vocab_path();
    ASSERT_FALSE(vocab.empty());
    EXPECT_TRUE(fs::is_regular_file(vocab));
}

TEST(TinyModel, DefaultPhi3LoadsWithPhi3TokenizerAndGenerates) {
    ModelHandle model = load_model(test::tiny_model_path());
    ASSERT_TRUE(model);
    const llama_vocab* vocab = llama_model_get_vocab(model.get());
    EXPECT_EQ(llama_vocab_n_tokens(vocab), 32064);
    EXPECT_EQ(llama_model_n_embd(model.get()), 128);
    EXPECT_EQ(llama_model_n_layer(model.get()), 4);
    EXPECT_EQ(llama_vocab_eot(vocab), 32007);  // <|end|>
    EXPECT_NEAR(static_cast<double>(llama_model_n_params(model.get())), 9.3e6, 0.1e6);
    char arch[32] = {};
    llama_model_meta_val_str(model.get(), "general.architecture", arch, sizeof(arch));
    EXPECT_STREQ(arch, "phi3");
    EXPECT_NE(llama_model_chat_template(model.get(), nullptr), nullptr);
    EXPECT_EQ(generate(model.get(), 6).size(), 6u);
}

TEST(TinyModel, LlamaCppsOwnToolGeneratesFromIt) {
    const std::string tool = test::llama_tool("llama-completion");
    if (tool.empty()) GTEST_SKIP() << "llama-completion not built";
    const std::string log = test::scratch_dir() + "/completion.log";
    const std::string command = tool + " -m " +
                                test::tiny_model_path(test::small_spec("phi3", "q4_k_m", 256)) +
                                " -p 'Hello' -n 8 -no-cnv -t 2 --no-repack --temp 0 > " + log + " 2>&1";
    EXPECT_EQ(std::system(command.c_str()), 0);
    std::ifstream in(log);
    const std::string output{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    EXPECT_NE(output.find("eval time"), std::string::npos) << output.substr(0, 2000);
}

class EveryStorage : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(EveryStorage, LoadsAndGenerates) {
    const auto& [arch, type] = GetParam();
    ModelHandle model = load_model(test::tiny_model_path(test::small_spec(arch, type, 256)));
    ASSERT_TRUE(model) << arch << " " << type;
    EXPECT_EQ(llama_model_n_embd(model.get()), 256);
    EXPECT_EQ(generate(model.get(), 4).size(), 4u);
}

INSTANTIATE_TEST_SUITE_P(TinyModel, EveryStorage,
                         ::testing::Combine(::testing::Values("phi3", "llama"),
                                            ::testing::Values("f32", "f16", "q8_0", "q4_k_m")));

TEST(TinyModel, Q4KMUsesLlamaQuantizeMix) {
    const auto types = tensor_types(test::tiny_model_path(test::small_spec("llama", "q4_k_m", 256)));
    ASSERT_FALSE(types.empty());
    EXPECT_EQ(types.at("token_embd.weight"), GGML_TYPE_Q4_K);
    EXPECT_EQ(types.at("output.weight"), GGML_TYPE_Q6_K);
    EXPECT_EQ(types.at("blk.0.attn_q.weight"), GGML_TYPE_Q4_K);
    EXPECT_EQ(types.at("blk.0.attn_v.weight"), GGML_TYPE_Q4_K);
    EXPECT_EQ(types.at("blk.1.attn_v.weight"), GGML_TYPE_Q6_K);  // the last eighth gets more bits
    EXPECT_EQ(types.at("blk.0.ffn_down.weight"), GGML_TYPE_Q4_K);
    EXPECT_EQ(types.at("blk.1.ffn_down.weight"), GGML_TYPE_Q6_K);
    EXPECT_EQ(types.at("blk.0.attn_norm.weight"), GGML_TYPE_F32);
}

TEST(TinyModel, Q4KMFallsBackWhenRowsAreNotMultiplesOf256) {
    const auto types = tensor_types(test::tiny_model_path(test::small_spec("phi3", "q4_k_m", 64)));
    ASSERT_FALSE(types.empty());
    EXPECT_EQ(types.at("token_embd.weight"), GGML_TYPE_Q5_0);
    EXPECT_EQ(types.at("output.weight"), GGML_TYPE_Q8_0);
    EXPECT_EQ(types.at("blk.1.ffn_down.weight"), GGML_TYPE_Q6_K);  // its rows are n_ff = 256 long
}

TEST(TinyModel, SameSeedSameBytesOtherSeedOtherBytes) {
    const std::string dir = test::scratch_dir();
    TinyModelSpec spec = test::small_spec("phi3", "f16");
    spec.vocab_path = default_phi3_vocab_path();
    ASSERT_TRUE(write_tiny_model(spec, dir + "/a.gguf").ok());
    ASSERT_TRUE(write_tiny_model(spec, dir + "/b.gguf").ok());
    spec.seed = 7;
    ASSERT_TRUE(write_tiny_model(spec, dir + "/c.gguf").ok());
    EXPECT_EQ(file_bytes(dir + "/a.gguf"), file_bytes(dir + "/b.gguf"));
    EXPECT_NE(file_bytes(dir + "/a.gguf"), file_bytes(dir + "/c.gguf"));
    EXPECT_EQ(fs::file_size(dir + "/a.gguf"), fs::file_size(dir + "/c.gguf"));
}

TEST(TinyModel, InvalidSpecsAreRefusedWithoutLeavingFiles) {
    const std::string dir = test::scratch_dir();
    TinyModelSpec good = test::small_spec("phi3", "f32");
    good.vocab_path = default_phi3_vocab_path();
    std::vector<TinyModelSpec> bad(6, good);
    bad[0].arch = "gpt2";
    bad[1].type = "q3_k";
    bad[2].n_embd = 66;  // not a multiple of 4 heads
    bad[3].n_head_kv = 3;
    bad[4].vocab_path = dir + "/missing-vocab.gguf";
    bad[5].n_layer = 0;
    for (const TinyModelSpec& spec : bad) {
        Status written = write_tiny_model(spec, dir + "/model.gguf");
        ASSERT_FALSE(written.ok());
        EXPECT_FALSE(written.error().message.empty());
    }
    EXPECT_TRUE(fs::is_empty(dir));
}

TEST(TinyModel, AlteredTokenChangesOnlyThatToken) {
    const std::string dir = test::scratch_dir();
    TinyModelSpec spec = test::small_spec("phi3", "f32");
    spec.vocab_path = default_phi3_vocab_path();
    spec.altered_token = 1000;
    ASSERT_TRUE(write_tiny_model(spec, dir + "/altered.gguf").ok());
    ModelHandle altered = load_model(dir + "/altered.gguf");
    ModelHandle plain = load_model(test::tiny_model_path(test::small_spec("phi3", "f32")));
    ASSERT_TRUE(altered && plain);
    const llama_vocab* a = llama_model_get_vocab(altered.get());
    const llama_vocab* p = llama_model_get_vocab(plain.get());
    ASSERT_EQ(llama_vocab_n_tokens(a), llama_vocab_n_tokens(p));
    EXPECT_NE(std::string(llama_vocab_get_text(a, 1000)), llama_vocab_get_text(p, 1000));
    EXPECT_EQ(std::string(llama_vocab_get_text(a, 1001)), llama_vocab_get_text(p, 1001));
}

TEST(TinyModel, RandomAdapterLoadsAndChangesTheOutput) {
    const std::string base_path = test::tiny_model_path(test::small_spec("phi3", "f32"));
    const std::string adapter_path = test::scratch_dir() + "/adapter.gguf";
    ASSERT_TRUE(write_random_lora_adapter(base_path, 4, 8.0f, 1, adapter_path).ok());
    ModelHandle model = load_model(base_path);
    ASSERT_TRUE(model);
    AdapterHandle adapter(llama_adapter_lora_init(model.get(), adapter_path.c_str()));
    ASSERT_TRUE(adapter);
    const auto without = generate(model.get(), 8);
    const auto with = generate(model.get(), 8, adapter.get());
    ASSERT_EQ(with.size(), 8u);
    EXPECT_NE(with, without);
    const auto types = tensor_types(adapter_path);
    EXPECT_EQ(types.size(), 2u * 2 * 4);  // 2 layers x {qkv, output, up, down} x {a, b}
    EXPECT_TRUE(types.count("blk.1.attn_qkv.weight.lora_b"));
}

TEST(TinyModel, AdapterOfAMissingBaseIsAnError) {
    Status written = write_random_lora_adapter(test::scratch_dir() + "/none.gguf", 4, 8.0f, 1,
                                               test::scratch_dir() + "/adapter.gguf");
    EXPECT_FALSE(written.ok());
}

TEST(TinyModel, Phi3MiniShape) {
    const TinyModelSpec mini = TinyModelSpec::phi3_mini();
    EXPECT_EQ(mini.n_layer, 32);
    EXPECT_EQ(mini.n_embd, 3072);
    EXPECT_EQ(mini.n_ff, 8192);
    EXPECT_EQ(mini.n_head, 32);
    EXPECT_EQ(mini.arch, "phi3");
}

}  // namespace
}  // namespace mimir
